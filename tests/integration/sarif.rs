//! SARIF 2.1.0 output: valid against the schema the `serde-sarif` crate
//! ships (found through `cargo metadata`, so nothing is vendored here),
//! findings at their file and line, fingerprints that survive a line shift,
//! and a session's latest findings exported.

use std::process::Command;

use checkrail::schema::Schema;
use serde_json::{Value, json};

use crate::support::{Cli, Session, Workspace, service};

/// The SARIF 2.1.0 schema from the serde-sarif package cargo downloaded.
fn sarif_schema() -> Schema {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "serde-sarif")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("serde-sarif is a dependency")
        .to_owned();
    let path = std::path::Path::new(&manifest)
        .parent()
        .unwrap()
        .join("src/schema.json");
    // The published schema's `language` pattern has a stray `]`, which a
    // strict regex engine refuses; it is the only fix made to it.
    let text = std::fs::read_to_string(&path).unwrap().replace(
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#,
        r#""^[a-zA-Z]{2}$|^[a-zA-Z]{2}-[a-zA-Z]{2}$""#,
    );
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    );
    Schema::compile(&schema).expect("the SARIF schema compiles")
}

fn check_sarif(dir: &std::path::Path) -> Value {
    let out = Cli::new(&[
        "check",
        "--workflow",
        "project-basics",
        "--phase",
        "legal-and-history",
        "--format",
        "sarif",
        "--evidence",
        r#"{"license": "MIT"}"#,
    ])
    .workspace(dir)
    .output();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn check_writes_schema_valid_sarif_with_places_and_stable_fingerprints() {
    let schema = sarif_schema();
    let ws = Workspace::new()
        .file("LICENSE", "MIT")
        .file("CHANGELOG.md", "# Changes\n")
        .file("debug.log", "noise")
        .build();
    let log = check_sarif(ws.path());
    let violations = schema.violations(&log, "");
    assert!(violations.is_empty(), "{violations:#?}\n{log:#}");
    let mut broken = log.clone();
    broken["version"] = json!("3.0");
    assert!(
        !schema.violations(&broken, "").is_empty(),
        "the schema check can fail"
    );
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "checkrail");
    let results = run["results"].as_array().unwrap();
    let stray = results
        .iter()
        .find(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "debug.log")
        .unwrap_or_else(|| panic!("{log:#}"));
    assert_eq!(stray["level"], "error");
    let changelog = results
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "CHANGELOG.md"
        })
        .unwrap_or_else(|| panic!("{log:#}"));
    let fingerprint = changelog["partialFingerprints"]["checkrail/v1"].clone();
    assert!(fingerprint.as_str().is_some_and(|f| f.len() == 32));
    // Every result's rule is described.
    let described: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        results
            .iter()
            .all(|r| described.contains(&r["ruleId"].as_str().unwrap()))
    );

    // The same problem, the file's lines moved: the same fingerprint.
    std::fs::write(ws.path().join("CHANGELOG.md"), "\n\n# Changes\n").unwrap();
    let again = check_sarif(ws.path());
    let moved = again["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "CHANGELOG.md"
        })
        .unwrap()
        .clone();
    assert_eq!(moved["partialFingerprints"]["checkrail/v1"], fingerprint);
}

#[test]
fn a_session_exports_its_latest_findings() {
    let schema = sarif_schema();
    let ws = Workspace::new().build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "project-basics");
    assert!(!session.validate().passed);
    std::fs::write(ws.path().join("README.md"), "# Demo\n").unwrap();
    assert!(!session.validate().passed);
    let out = Cli::new(&["session", "sarif", &session.id])
        .workspace(ws.path())
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema.violations(&log, "").is_empty());
    let results = log["runs"][0]["results"].as_array().unwrap();
    // Only the latest validation of `readme` counts: the README exists
    // now, so what is left is its missing usage section.
    assert!(!results.is_empty());
    assert!(
        results
            .iter()
            .all(|r| r["properties"]["checkpoint"] == json!("project-basics/readme")),
        "{log:#}"
    );
    assert!(
        results.iter().all(|r| !r["message"]["text"]
            .as_str()
            .unwrap()
            .contains("does not exist")),
        "{log:#}"
    );
}
