//! `cargo audit --json`: vulnerabilities under `vulnerabilities.list`, and
//! informational advisories (unmaintained, unsound) and yanked crates under
//! `warnings.<kind>`.

use checkrail_sdk::serde_json;
use std::collections::BTreeMap;

use checkrail_sdk::serde::Deserialize;

use super::{Advisory, Concern, Parsed};
use crate::Level;

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Report {
    vulnerabilities: Vulnerabilities,
    #[serde(default)]
    warnings: BTreeMap<String, Vec<Warning>>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Vulnerabilities {
    #[serde(default)]
    list: Vec<Vulnerability>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Vulnerability {
    advisory: Metadata,
    #[serde(default)]
    versions: Option<Versions>,
    package: Package,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Warning {
    kind: String,
    package: Package,
    #[serde(default)]
    advisory: Option<Metadata>,
    #[serde(default)]
    versions: Option<Versions>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Metadata {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Versions {
    #[serde(default)]
    patched: Vec<String>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Package {
    name: String,
    version: String,
}

/// Parses the report; `None` when stdout is not one.
pub fn parse(stdout: &str) -> Option<Parsed> {
    let report: Report = serde_json::from_str(stdout.trim()).ok()?;
    let mut advisories: Vec<Advisory> = report
        .vulnerabilities
        .list
        .into_iter()
        .map(|v| advisory(Concern::Vulnerable, v.package, Some(v.advisory), v.versions))
        .collect();
    for warning in report.warnings.into_values().flatten() {
        let concern = match warning.kind.as_str() {
            "unmaintained" => Concern::Unmaintained,
            "unsound" => Concern::Unsound,
            "yanked" => Concern::Yanked,
            // Informational advisories of other kinds: keep them visible.
            _ => Concern::Unsound,
        };
        advisories.push(advisory(
            concern,
            warning.package,
            warning.advisory,
            warning.versions,
        ));
    }
    Some(Parsed {
        advisories,
        error: None,
    })
}

fn advisory(
    concern: Concern,
    package: Package,
    metadata: Option<Metadata>,
    versions: Option<Versions>,
) -> Advisory {
    let (id, title, aliases) = metadata.map_or_else(
        || (String::new(), None, Vec::new()),
        |m| (m.id, m.title, m.aliases),
    );
    Advisory {
        concern,
        package: package.name,
        version: Some(package.version),
        id,
        aliases,
        title,
        fixes: versions.map(|v| v.patched).unwrap_or_default(),
        // RustSec does not grade vulnerabilities in the report.
        level: Level::High,
        node: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written after cargo-audit's documented `--json` shape; names and
    /// numbers are made up.
    const REPORT: &str = r#"{
      "database": {"advisory-count": 812, "last-commit": "0a1b2c3d", "last-updated": "2026-10-01T00:00:00Z"},
      "lockfile": {"dependency-count": 42},
      "settings": {"target_arch": [], "target_os": [], "severity": null, "ignore": [], "informational_warnings": ["unmaintained", "unsound", "notice"]},
      "vulnerabilities": {
        "found": true,
        "count": 1,
        "list": [{
          "advisory": {
            "id": "RUSTSEC-2099-0001",
            "package": "leftpad-rs",
            "title": "Out-of-bounds read in pad_left",
            "description": "A long description.",
            "date": "2099-01-02",
            "aliases": ["CVE-2099-1234"],
            "related": [],
            "collection": "crates",
            "categories": ["memory-corruption"],
            "keywords": [],
            "cvss": null,
            "informational": null,
            "references": [],
            "source": null,
            "url": null,
            "withdrawn": null,
            "license": "CC0-1.0"
          },
          "versions": {"patched": [">=1.2.1"], "unaffected": ["<1.0.0"]},
          "affected": null,
          "package": {"name": "leftpad-rs", "version": "1.1.0", "source": "registry+https://github.com/rust-lang/crates.io-index", "checksum": "00", "dependencies": [], "replace": null}
        }]
      },
      "warnings": {
        "unmaintained": [{
          "kind": "unmaintained",
          "package": {"name": "oldcrate", "version": "0.2.0", "source": "registry+https://github.com/rust-lang/crates.io-index"},
          "advisory": {"id": "RUSTSEC-2099-0002", "package": "oldcrate", "title": "oldcrate is unmaintained", "aliases": [], "informational": "unmaintained"},
          "affected": null,
          "versions": {"patched": [], "unaffected": []}
        }],
        "yanked": [{
          "kind": "yanked",
          "package": {"name": "gone", "version": "0.1.3", "source": "registry+https://github.com/rust-lang/crates.io-index"},
          "advisory": null,
          "affected": null,
          "versions": null
        }]
      }
    }"#;

    #[test]
    fn vulnerabilities_and_warnings() {
        let parsed = parse(REPORT).unwrap();
        assert_eq!(parsed.advisories.len(), 3);
        let v = &parsed.advisories[0];
        assert_eq!(
            (
                v.concern,
                v.package.as_str(),
                v.version.as_deref(),
                v.id.as_str()
            ),
            (
                Concern::Vulnerable,
                "leftpad-rs",
                Some("1.1.0"),
                "RUSTSEC-2099-0001"
            )
        );
        assert_eq!(v.aliases, ["CVE-2099-1234"]);
        assert_eq!(v.fixes, [">=1.2.1"]);
        assert_eq!(v.title.as_deref(), Some("Out-of-bounds read in pad_left"));
        let kinds: Vec<(Concern, &str)> = parsed
            .advisories
            .iter()
            .map(|a| (a.concern, a.package.as_str()))
            .collect();
        assert_eq!(
            kinds[1..],
            [
                (Concern::Unmaintained, "oldcrate"),
                (Concern::Yanked, "gone")
            ]
        );
        assert_eq!(parsed.advisories[2].id, "");
    }

    #[test]
    fn a_clean_report_and_garbage() {
        let clean =
            r#"{"vulnerabilities": {"found": false, "count": 0, "list": []}, "warnings": {}}"#;
        assert!(parse(clean).unwrap().advisories.is_empty());
        assert!(parse("error: couldn't open advisory database").is_none());
        assert!(parse("").is_none());
    }
}
