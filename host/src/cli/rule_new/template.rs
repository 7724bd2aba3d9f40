//! The files of a scaffolded rule crate: the templates under
//! `host/templates/rule/`, with the rule's names and its SDK dependency
//! filled in.

use std::path::Path;

use super::sdk::{Sdk, sdk_dependency};

const CARGO_TOML: &str = include_str!("../../../templates/rule/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../../../templates/rule/lib.rs.tmpl");
const README_MD: &str = include_str!("../../../templates/rule/README.md.tmpl");
const GITIGNORE: &str = include_str!("../../../templates/rule/gitignore.tmpl");

/// `has-changelog` → `HasChangelog`.
pub(super) fn type_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `template` with each `{{key}}` replaced by its value.
pub(super) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        })
}

/// Every file of the crate: (path relative to the crate, contents).
pub(super) fn render_crate(name: &str, sdk: &Sdk, crate_dir: &Path) -> Vec<(&'static str, String)> {
    let crate_name = name.replace('-', "_");
    let type_name = type_name(name);
    let sdk_dependency = sdk_dependency(sdk, crate_dir);
    let sdk_version = match sdk {
        Sdk::Path(_) => format!("(a local checkout, API {})", checkrail_sdk::API_VERSION),
        Sdk::Version(version) => version.clone(),
        Sdk::Installed(_) => format!(
            "{} (this checkrail's copy, API {})",
            env!("CARGO_PKG_VERSION"),
            checkrail_sdk::API_VERSION
        ),
    };
    let values = [
        ("name", name),
        ("crate_name", &crate_name),
        ("type_name", &type_name),
        ("sdk_dependency", &sdk_dependency),
        ("sdk_version", &sdk_version),
    ];
    let render = |template: &str| fill(template, &values);
    vec![
        ("Cargo.toml", render(CARGO_TOML)),
        ("src/lib.rs", render(LIB_RS)),
        ("README.md", render(README_MD)),
        (".gitignore", render(GITIGNORE)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::rule_new::sdk::SDK_PACKAGE;

    #[test]
    fn type_names_are_camel_case() {
        assert_eq!(type_name("has-changelog"), "HasChangelog");
        assert_eq!(type_name("rule-2"), "Rule2");
        assert_eq!(type_name("x"), "X");
    }

    #[test]
    fn templates_render_every_placeholder() {
        let sdk = Sdk::Version("0.1".to_owned());
        let files = render_crate("has-changelog", &sdk, Path::new("/x/has-changelog"));
        for (file, text) in &files {
            assert!(!text.contains("{{"), "{file} keeps a placeholder:\n{text}");
        }
        let text = |name: &str| &files.iter().find(|(f, _)| *f == name).unwrap().1;
        let manifest: toml::Table = text("Cargo.toml").parse().unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some("has-changelog"));
        assert_eq!(manifest["package"]["edition"].as_str(), Some("2024"));
        assert_eq!(
            manifest["dependencies"][SDK_PACKAGE].as_str(),
            Some("0.1"),
            "{manifest}"
        );
        assert!(manifest["workspace"].as_table().unwrap().is_empty());
        assert_eq!(
            manifest["profile"]["release"]["panic"].as_str(),
            Some("abort")
        );
        assert!(text("src/lib.rs").contains("const ID: &'static str = \"has-changelog\";"));
        assert!(text("src/lib.rs").contains("export_rule!(HasChangelog);"));
        assert!(text("README.md").contains("has_changelog.wasm"));
    }
}
