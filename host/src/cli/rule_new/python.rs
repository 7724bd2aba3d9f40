//! `rule new --lang python`: a Python rule project. The SDK this checkrail
//! carries (`sdks/python/checkrail_rule`, the WIT included) is copied into
//! the project, so it needs nothing else from checkrail: pytest runs the rule
//! natively, componentize-py (from PyPI) builds the component.

use super::template::{fill, type_name};

const SDK: &[(&str, &str)] = &[
    (
        "checkrail_rule/__init__.py",
        include_str!("../../../../sdks/python/checkrail_rule/__init__.py"),
    ),
    (
        "checkrail_rule/_component.py",
        include_str!("../../../../sdks/python/checkrail_rule/_component.py"),
    ),
    (
        "checkrail_rule/testing.py",
        include_str!("../../../../sdks/python/checkrail_rule/testing.py"),
    ),
    (
        "checkrail_rule/build.py",
        include_str!("../../../../sdks/python/checkrail_rule/build.py"),
    ),
    ("checkrail_rule/py.typed", ""),
    (
        "checkrail_rule/wit/rule.wit",
        include_str!("../../../../plugin-sdk/wit/since_v0.2.0/rule.wit"),
    ),
];

const TEMPLATES: &[(&str, &str)] = &[
    (
        "rule.py",
        include_str!("../../../templates/rule-python/rule.py.tmpl"),
    ),
    (
        "app.py",
        include_str!("../../../templates/rule-python/app.py.tmpl"),
    ),
    (
        "tests/test_rule.py",
        include_str!("../../../templates/rule-python/test_rule.py.tmpl"),
    ),
    (
        "pyproject.toml",
        include_str!("../../../templates/rule-python/pyproject.toml.tmpl"),
    ),
    (
        "requirements.txt",
        include_str!("../../../templates/rule-python/requirements.txt.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../../templates/rule-python/gitignore.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../../templates/rule-python/README.md.tmpl"),
    ),
];

/// Every file of the project: (path relative to it, contents).
pub(super) fn render(name: &str) -> Vec<(&'static str, String)> {
    let type_name = type_name(name);
    let values = [
        ("name", name),
        ("type_name", type_name.as_str()),
        ("version", env!("CARGO_PKG_VERSION")),
        ("api", checkrail_sdk::API_VERSION),
    ];
    TEMPLATES
        .iter()
        .map(|(path, template)| (*path, fill(template, &values)))
        .chain(SDK.iter().map(|(path, text)| (*path, (*text).to_owned())))
        .collect()
}

/// The steps printed after the project is made.
pub(super) fn next_steps(name: &str, checkrail: &str) -> Vec<String> {
    vec![
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt".to_owned(),
        ".venv/bin/pytest".to_owned(),
        format!(".venv/bin/python -m checkrail_rule.build app -o {name}.wasm"),
        format!(
            "{checkrail} --rules-dir . rule run {name} --config '{{\"path\":\"README.md\"}}' --workspace ."
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sdk_speaks_the_api_the_host_stamps() {
        let init = super::SDK[0].1;
        assert!(
            init.contains(&format!("API_VERSION = \"{}\"", checkrail_sdk::API_VERSION)),
            "sdks/python/checkrail_rule/__init__.py must speak API {}",
            checkrail_sdk::API_VERSION
        );
        let files = super::render("has-changelog");
        // Every placeholder of the templates is filled (the SDK's own files
        // are copied as they are).
        assert!(
            files
                .iter()
                .filter(|(path, _)| !path.starts_with("checkrail_rule/"))
                .all(|(_, text)| !text.contains("{{"))
        );
        let rule = &files.iter().find(|(p, _)| *p == "rule.py").unwrap().1;
        assert!(
            rule.contains("class HasChangelog(Rule):") && rule.contains("id = \"has-changelog\"")
        );
    }
}
