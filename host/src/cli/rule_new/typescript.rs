//! `rule new --lang typescript`: a TypeScript rule project. The SDK this
//! checkrail carries (`sdks/typescript`, the WIT included as a real file) is
//! copied into the project as `checkrail-rule-sdk/` and depended on by that
//! path, so the project needs nothing else from checkrail: `npm test` runs
//! the rule natively, `npm run build` makes the component with
//! componentize-js (both pinned, from npm).

use super::template::fill;

const SDK: &[(&str, &str)] = &[
    (
        "checkrail-rule-sdk/src/component.ts",
        include_str!("../../../../sdks/typescript/src/component.ts"),
    ),
    (
        "checkrail-rule-sdk/src/exec.ts",
        include_str!("../../../../sdks/typescript/src/exec.ts"),
    ),
    (
        "checkrail-rule-sdk/src/finding.ts",
        include_str!("../../../../sdks/typescript/src/finding.ts"),
    ),
    (
        "checkrail-rule-sdk/src/host.ts",
        include_str!("../../../../sdks/typescript/src/host.ts"),
    ),
    (
        "checkrail-rule-sdk/src/index.ts",
        include_str!("../../../../sdks/typescript/src/index.ts"),
    ),
    (
        "checkrail-rule-sdk/src/json.ts",
        include_str!("../../../../sdks/typescript/src/json.ts"),
    ),
    (
        "checkrail-rule-sdk/src/rule-error.ts",
        include_str!("../../../../sdks/typescript/src/rule-error.ts"),
    ),
    (
        "checkrail-rule-sdk/src/rule.ts",
        include_str!("../../../../sdks/typescript/src/rule.ts"),
    ),
    (
        "checkrail-rule-sdk/src/schema.ts",
        include_str!("../../../../sdks/typescript/src/schema.ts"),
    ),
    (
        "checkrail-rule-sdk/src/testing.ts",
        include_str!("../../../../sdks/typescript/src/testing.ts"),
    ),
    (
        "checkrail-rule-sdk/src/tool.ts",
        include_str!("../../../../sdks/typescript/src/tool.ts"),
    ),
    (
        "checkrail-rule-sdk/src/wit.d.ts",
        include_str!("../../../../sdks/typescript/src/wit.d.ts"),
    ),
    (
        "checkrail-rule-sdk/src/workspace.ts",
        include_str!("../../../../sdks/typescript/src/workspace.ts"),
    ),
    (
        "checkrail-rule-sdk/bin/checkrail-rule.mjs",
        include_str!("../../../../sdks/typescript/bin/checkrail-rule.mjs"),
    ),
    (
        "checkrail-rule-sdk/package.json",
        include_str!("../../../../sdks/typescript/package.json"),
    ),
    (
        "checkrail-rule-sdk/README.md",
        include_str!("../../../../sdks/typescript/README.md"),
    ),
    (
        "checkrail-rule-sdk/wit/world.wit",
        include_str!("../../../../sdks/typescript/wit/world.wit"),
    ),
    (
        "checkrail-rule-sdk/wit/checkrail-rule/rule.wit",
        include_str!("../../../../plugin-sdk/wit/since_v0.2.0/rule.wit"),
    ),
];

const TEMPLATES: &[(&str, &str)] = &[
    (
        "src/rule.ts",
        include_str!("../../../templates/rule-typescript/rule.ts.tmpl"),
    ),
    (
        "test/rule.test.ts",
        include_str!("../../../templates/rule-typescript/rule.test.ts.tmpl"),
    ),
    (
        "package.json",
        include_str!("../../../templates/rule-typescript/package.json.tmpl"),
    ),
    (
        "tsconfig.json",
        include_str!("../../../templates/rule-typescript/tsconfig.json.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../../templates/rule-typescript/gitignore.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../../templates/rule-typescript/README.md.tmpl"),
    ),
];

/// Every file of the project: (path relative to it, contents).
pub(super) fn render(name: &str) -> Vec<(&'static str, String)> {
    let values = [
        ("name", name),
        ("version", env!("CARGO_PKG_VERSION")),
        ("api", checkrail_sdk::API_VERSION),
    ];
    TEMPLATES
        .iter()
        .map(|(path, template)| (*path, fill(template, &values)))
        .chain(SDK.iter().map(|(path, text)| (*path, (*text).to_owned())))
        .collect()
}

/// Where the carried SDK goes in the project.
pub(super) const SDK_DIR: &str = "checkrail-rule-sdk/";

/// The steps printed after the project is made.
pub(super) fn next_steps(name: &str, checkrail: &str) -> Vec<String> {
    vec![
        "npm install".to_owned(),
        "npm test".to_owned(),
        "npm run build".to_owned(),
        format!(
            "{checkrail} --rules-dir . rule run {name} --config '{{\"path\":\"README.md\"}}' --workspace ."
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sdk_speaks_the_api_the_host_stamps() {
        let package = super::SDK
            .iter()
            .find(|(p, _)| *p == "checkrail-rule-sdk/package.json")
            .unwrap()
            .1;
        assert!(
            package.contains(&format!(
                "\"apiVersion\": \"{}\"",
                checkrail_sdk::API_VERSION
            )),
            "sdks/typescript/package.json must speak API {}",
            checkrail_sdk::API_VERSION
        );
        let files = super::render("has-changelog");
        // Every placeholder of the templates is filled (the SDK's own files
        // are copied as they are).
        assert!(
            files
                .iter()
                .filter(|(path, _)| !path.starts_with("checkrail-rule-sdk/"))
                .all(|(_, text)| !text.contains("{{"))
        );
        let rule = &files.iter().find(|(p, _)| *p == "src/rule.ts").unwrap().1;
        assert!(rule.contains("id: \"has-changelog\""));
    }
}
