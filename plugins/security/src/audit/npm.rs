//! `npm audit --json` (report version 2, npm 7 and later): one entry per
//! vulnerable package under `vulnerabilities`, whose `via` lists the
//! advisories that hit the package itself (objects) and the vulnerable
//! packages it depends on (names); `fixAvailable` is `true`, `false` or the
//! package upgrade that fixes it. Errors come as `{"error": {"summary"}}`.

use checkrail_sdk::serde_json;
use std::collections::BTreeMap;

use checkrail_sdk::serde::Deserialize;

use super::{Advisory, Concern, Parsed};
use crate::Level;

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Report {
    #[serde(default)]
    vulnerabilities: Option<BTreeMap<String, Vulnerability>>,
    #[serde(default)]
    error: Option<NpmError>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct NpmError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    summary: Option<String>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
#[serde(rename_all = "camelCase")]
struct Vulnerability {
    name: String,
    #[serde(default)]
    via: Vec<Via>,
    #[serde(default)]
    nodes: Vec<String>,
    #[serde(default)]
    fix_available: Option<Fix>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
#[serde(untagged)]
enum Via {
    Advisory(Source),
    Package(
        #[expect(dead_code, reason = "names a dependency; only advisories are reported")] String,
    ),
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Source {
    #[serde(default)]
    source: Option<serde_json::Value>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    range: Option<String>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
#[serde(untagged)]
enum Fix {
    Known(bool),
    Upgrade {
        name: String,
        version: String,
        #[serde(default, rename = "isSemVerMajor")]
        major: bool,
    },
}

/// Parses the report; `None` when stdout is not one. Versions are read
/// from `lock` (package-lock.json's `packages` map), since the report does
/// not carry them.
pub fn parse(stdout: &str) -> Option<Parsed> {
    let report: Report = serde_json::from_str(stdout.trim()).ok()?;
    if let Some(error) = report.error {
        let what = [error.code, error.summary]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        return Some(Parsed {
            advisories: Vec::new(),
            error: Some(checkrail_sdk::tool::clip(&what, 400)),
        });
    }
    let mut advisories = Vec::new();
    for vuln in report.vulnerabilities?.into_values() {
        let fixes = match &vuln.fix_available {
            Some(Fix::Upgrade {
                name,
                version,
                major,
            }) => vec![format!(
                "{name}@{version}{}",
                if *major {
                    ", a semver-major upgrade"
                } else {
                    ""
                }
            )],
            Some(Fix::Known(true)) => vec!["`npm audit fix` finds one".to_owned()],
            _ => Vec::new(),
        };
        for via in &vuln.via {
            let Via::Advisory(source) = via else { continue };
            let ghsa = source
                .url
                .as_deref()
                .and_then(|u| u.rsplit('/').next())
                .filter(|last| last.starts_with("GHSA-"));
            let id = match (ghsa, &source.source) {
                (Some(ghsa), _) => ghsa.to_owned(),
                (None, Some(source)) => format!("npm advisory {source}"),
                (None, None) => "an npm advisory".to_owned(),
            };
            let range = source.range.as_deref().map(|r| format!(" (affects {r})"));
            advisories.push(Advisory {
                concern: Concern::Vulnerable,
                package: vuln.name.clone(),
                version: None,
                id,
                aliases: Vec::new(),
                title: source
                    .title
                    .as_deref()
                    .map(|t| checkrail_sdk::tool::clip(t, 200) + range.as_deref().unwrap_or("")),
                fixes: fixes.clone(),
                level: level(source.severity.as_deref()),
                node: vuln.nodes.first().cloned(),
            });
        }
    }
    Some(Parsed {
        advisories,
        error: None,
    })
}

/// npm's `critical`/`high`, `moderate`, `low`/`info`.
fn level(severity: Option<&str>) -> Level {
    match severity {
        Some("critical" | "high") | None => Level::High,
        Some("moderate") => Level::Medium,
        Some(_) => Level::Low,
    }
}

/// The installed version of each package-lock.json key (`node_modules/a`).
pub fn versions(lock: &str) -> BTreeMap<String, String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(lock) else {
        return BTreeMap::new();
    };
    value["packages"]
        .as_object()
        .map(|packages| {
            packages
                .iter()
                .filter_map(|(key, p)| Some((key.clone(), p["version"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written after npm's documented audit report (version 2); the
    /// advisories are made up.
    const REPORT: &str = r#"{
      "auditReportVersion": 2,
      "vulnerabilities": {
        "tiny-args": {
          "name": "tiny-args", "severity": "critical", "isDirect": false,
          "via": [{"source": 1099001, "name": "tiny-args", "dependency": "tiny-args",
                   "title": "Prototype pollution in tiny-args", "url": "https://github.com/advisories/GHSA-abcd-efgh-ijkl",
                   "severity": "critical", "cwe": ["CWE-1321"], "cvss": {"score": 9.8, "vectorString": null}, "range": "<1.2.6"}],
          "effects": ["mk-dir"], "range": "<1.2.6", "nodes": ["node_modules/tiny-args"],
          "fixAvailable": {"name": "mk-dir", "version": "0.5.6", "isSemVerMajor": false}
        },
        "mk-dir": {
          "name": "mk-dir", "severity": "critical", "isDirect": true, "via": ["tiny-args"],
          "effects": [], "range": "0.4.0 - 0.5.1", "nodes": ["node_modules/mk-dir"], "fixAvailable": true
        },
        "slow-re": {
          "name": "slow-re", "severity": "moderate", "isDirect": true,
          "via": [{"source": 1099002, "name": "slow-re", "dependency": "slow-re", "title": "ReDoS in slow-re",
                   "url": "https://example.invalid/advisory/1099002", "severity": "moderate", "range": "<3.0.0"}],
          "effects": [], "range": "<3.0.0", "nodes": ["node_modules/slow-re"], "fixAvailable": false
        }
      },
      "metadata": {"vulnerabilities": {"info": 0, "low": 0, "moderate": 1, "high": 0, "critical": 2, "total": 3},
                   "dependencies": {"prod": 4, "dev": 0, "optional": 0, "peer": 0, "peerOptional": 0, "total": 3}}
    }"#;

    #[test]
    fn advisories_of_the_packages_themselves() {
        let parsed = parse(REPORT).unwrap();
        let got: Vec<(&str, &str, Level, &[String])> = parsed
            .advisories
            .iter()
            .map(|a| {
                (
                    a.package.as_str(),
                    a.id.as_str(),
                    a.level,
                    a.fixes.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("slow-re", "npm advisory 1099002", Level::Medium, &[][..]),
                (
                    "tiny-args",
                    "GHSA-abcd-efgh-ijkl",
                    Level::High,
                    &["mk-dir@0.5.6".to_owned()][..]
                ),
            ]
        );
        assert_eq!(
            parsed.advisories[1].title.as_deref(),
            Some("Prototype pollution in tiny-args (affects <1.2.6)")
        );
        assert_eq!(
            parsed.advisories[1].node.as_deref(),
            Some("node_modules/tiny-args")
        );
    }

    #[test]
    fn errors_and_other_output() {
        let error = r#"{"error": {"code": "ENOLOCK", "summary": "This command requires an existing lockfile.", "detail": "Try creating one first with: npm i --package-lock-only"}}"#;
        assert_eq!(
            parse(error).unwrap().error.as_deref(),
            Some("ENOLOCK: This command requires an existing lockfile.")
        );
        assert!(parse("npm ERR! something").is_none());
        assert!(parse("{}").is_none());
    }

    #[test]
    fn versions_from_the_lock() {
        let lock = r#"{"lockfileVersion": 3, "packages": {"": {"name": "app"}, "node_modules/tiny-args": {"version": "1.2.5"}}}"#;
        let v = versions(lock);
        assert_eq!(
            v.get("node_modules/tiny-args").map(String::as_str),
            Some("1.2.5")
        );
        assert_eq!(v.len(), 1);
    }
}
