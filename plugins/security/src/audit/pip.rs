//! `pip-audit -f json`: `{"dependencies": [{"name", "version", "vulns":
//! [{"id", "fix_versions", "aliases", "description"}]}], "fixes": []}`,
//! with `skip_reason` instead of `version` for a package it could not
//! audit. (Releases before 2.0 printed the bare list.)

use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json;

use super::{Advisory, Concern, Parsed};
use crate::Level;

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
#[serde(untagged)]
enum Report {
    Current { dependencies: Vec<Dependency> },
    Bare(Vec<Dependency>),
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Dependency {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    vulns: Vec<Vuln>,
    #[serde(default)]
    skip_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Vuln {
    id: String,
    #[serde(default)]
    fix_versions: Vec<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

/// Parses the report; `None` when stdout is not one.
pub fn parse(stdout: &str) -> Option<Parsed> {
    let dependencies = match serde_json::from_str(stdout.trim()).ok()? {
        Report::Current { dependencies } | Report::Bare(dependencies) => dependencies,
    };
    let mut advisories = Vec::new();
    for dep in dependencies {
        if let Some(reason) = dep.skip_reason {
            advisories.push(Advisory {
                concern: Concern::NotAudited,
                package: dep.name,
                version: dep.version,
                id: String::new(),
                aliases: Vec::new(),
                title: Some(checkrail_sdk::tool::clip(&reason, 200)),
                fixes: Vec::new(),
                level: Level::Low,
                node: None,
            });
            continue;
        }
        for vuln in dep.vulns {
            advisories.push(Advisory {
                concern: Concern::Vulnerable,
                package: dep.name.clone(),
                version: dep.version.clone(),
                id: vuln.id,
                aliases: vuln.aliases,
                title: vuln
                    .description
                    .as_deref()
                    .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
                    .map(|first| checkrail_sdk::tool::clip(first, 200)),
                fixes: vuln.fix_versions,
                level: Level::High,
                node: None,
            });
        }
    }
    Some(Parsed {
        advisories,
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written after pip-audit's documented JSON format; the advisories are
    /// made up.
    const REPORT: &str = r#"{
      "dependencies": [
        {"name": "flask", "version": "0.5", "vulns": [
          {"id": "PYSEC-2099-11", "fix_versions": ["0.12.3", "1.0"], "aliases": ["CVE-2099-5555", "GHSA-aaaa-bbbb-cccc"],
           "description": "Session cookies can be forged.\nMore detail follows."}
        ]},
        {"name": "requests", "version": "2.32.0", "vulns": []},
        {"name": "private-pkg", "skip_reason": "Dependency not found on PyPI and could not be audited: private-pkg (1.0)"}
      ],
      "fixes": []
    }"#;

    #[test]
    fn vulnerabilities_and_skipped_packages() {
        let parsed = parse(REPORT).unwrap();
        assert_eq!(parsed.advisories.len(), 2);
        let v = &parsed.advisories[0];
        assert_eq!(
            (
                v.concern,
                v.package.as_str(),
                v.version.as_deref(),
                v.id.as_str()
            ),
            (Concern::Vulnerable, "flask", Some("0.5"), "PYSEC-2099-11")
        );
        assert_eq!(v.fixes, ["0.12.3", "1.0"]);
        assert_eq!(v.title.as_deref(), Some("Session cookies can be forged."));
        let skipped = &parsed.advisories[1];
        assert_eq!(
            (skipped.concern, skipped.package.as_str()),
            (Concern::NotAudited, "private-pkg")
        );
    }

    #[test]
    fn the_bare_list_of_older_releases() {
        let bare = r#"[{"name": "jinja2", "version": "2.4", "vulns": [{"id": "PYSEC-2099-3", "fix_versions": ["2.11.3"]}]}]"#;
        let parsed = parse(bare).unwrap();
        assert_eq!(parsed.advisories[0].package, "jinja2");
        assert_eq!(parsed.advisories[0].aliases, Vec::<String>::new());
        assert!(parse("ERROR:pip_audit._cli:requirement file not found").is_none());
    }
}
