//! The real `checkrail` binary: exit codes, human and JSON output, errors
//! that name the problem.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::{BIN, Cli, Workspace, fixture_rules, repo_root};

/// `checkrail args…` in the repository.
fn checkrail(args: &[&str]) -> Output {
    Cli::new(args).current_dir(&repo_root()).output()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn bundled_example_passes_then_fails_with_findings() {
    let out = checkrail(&[
        "check",
        "--workflow",
        "project-basics",
        "--phase",
        "readme",
        "--workspace",
        "examples/hello",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("PASSED"), "{}", stdout(&out));

    let out = checkrail(&[
        "check",
        "--workflow",
        "project-basics",
        "--phase",
        "legal-and-history",
        "--workspace",
        "examples/hello",
        "--evidence",
        r#"{"license": "MIT"}"#,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["passed"], false);
    assert_eq!(report["evidence_violations"].as_array().unwrap().len(), 0);
    let findings = report["rules"][0]["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["path"] == "CHANGELOG.md" && f["fix_hint"].is_string()),
        "{findings:?}"
    );
    assert_eq!(report["rules"][1]["status"], "passed");
}

#[test]
fn fixing_the_workspace_turns_the_checkpoint_green() {
    let ws = Workspace::new()
        .file("LICENSE-MIT", "MIT")
        .file("CHANGELOG.md", "# Changes\n\n## 0.1.0\n- first\n")
        .build();
    let dir = ws.path().to_str().unwrap();
    let args = [
        "check",
        "--workflow",
        "project-basics",
        "--phase",
        "legal-and-history",
        "--workspace",
        dir,
    ];
    let out = checkrail(&[&args[..], &["--evidence", r#"{"license":"MIT"}"#]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    std::fs::write(ws.path().join("debug.log"), "noise").unwrap();
    let out = checkrail(&[&args[..], &["--evidence", r#"{"license":"MIT"}"#, "--json"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["rules"][1]["findings"][0]["path"], "debug.log");

    let out = checkrail(
        &[
            &args[..],
            &["--evidence", r#"{"license":"MIT License"}"#, "--json"],
        ]
        .concat(),
    );
    let report = json(&out);
    assert_eq!(report["evidence_violations"][0]["pointer"], "/license");
}

#[test]
fn usage_and_configuration_errors_exit_2_and_name_the_problem() {
    let out = checkrail(&["check", "--workflow", "no-such-flow", "--phase", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown workflow `no-such-flow`; known workflows: api-change, bugfix-with-regression-test, ") && stderr(&out).contains(", rust-feature, safe-refactor, schema-migration, security-review"),
        "{}",
        stderr(&out)
    );

    let out = checkrail(&["check", "--workflow", "project-basics", "--phase", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("has no phase `nope`; its phases are: readme, legal-and-history, done"),
        "{}",
        stderr(&out)
    );

    let out = checkrail(&[
        "check",
        "--workflow",
        "project-basics",
        "--phase",
        "readme",
        "--evidence",
        "{oops",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("parse evidence (argument) as JSON"),
        "{}",
        stderr(&out)
    );

    let out = checkrail(&["rule", "run", "file-exists", "--config", r#"{"pathz": []}"#]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("config of rule `file-exists@0.1.0` is invalid")
            && stderr(&out).contains("pathz"),
        "{}",
        stderr(&out)
    );

    let out = checkrail(&["rule", "run", "no-such-rule"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "unknown rule `no-such-rule`; installed rules: benchmark, compile, coverage, file-exists, lint, security, test"
        ),
        "{}",
        stderr(&out)
    );

    let out = checkrail(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_bad_rule_config_in_a_workflow_names_rule_and_field() {
    let ws = Workspace::new()
        .file(
            "flow.yaml",
            "id: bad\nversion: 0.1.0\nname: Bad\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: file-exists\n          config:\n            paths: [1]\n        - rule: nonexistent\n        - rule: file-exists@^2\n",
        )
        .build();
    let file = ws.path().join("flow.yaml");
    let out = checkrail(&["workflow", "lint", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("/phases/0/checkpoint/rules/0/config/paths/0:")
            && text.contains("(config of file-exists@0.1.0)"),
        "{text}"
    );
    assert!(
        text.contains("/phases/0/checkpoint/rules/1/rule: unknown rule `nonexistent`"),
        "{text}"
    );
    assert!(text.contains("/phases/0/checkpoint/rules/2/rule: rule reference `file-exists@^2`: installed `file-exists` is version 0.1.0"), "{text}");

    let out = checkrail(&[
        "check",
        "--workflow",
        file.to_str().unwrap(),
        "--phase",
        "p",
        "--workspace",
        ws.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/phases/0/checkpoint/rules/0/config/paths/0"),
        "{}",
        stderr(&out)
    );

    // Every bundled workflow resolves its rules and passes their config schemas.
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    let args: Vec<&str> = ["workflow", "lint"]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect();
    let out = checkrail(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn lists_workflows_and_rules() {
    let out = checkrail(&["workflow", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let list = json(&out);
    let basics = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "project-basics")
        .unwrap();
    assert_eq!(basics["phase_count"], 3);
    let bundled = std::fs::read_dir(repo_root().join("workflows"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yaml")
        })
        .count();
    assert_eq!(list["workflows"].as_array().unwrap().len(), bundled);

    let out = checkrail(&[
        "--rules-dir",
        fixture_rules().to_str().unwrap(),
        "rule",
        "list",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = json(&out);
    let ids: Vec<&str> = list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"file-exists") && ids.contains(&"fixture-looper"),
        "{ids:?}"
    );
    assert!(
        list["unusable"][0].as_str().unwrap().contains("API 9.0.0"),
        "{list}"
    );

    // A component named like a bundled rule is skipped, and said so.
    let shadow = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture_rules().join("fixture_looper.wasm"),
        shadow.path().join("file_exists.wasm"),
    )
    .unwrap();
    let out = checkrail(&[
        "--rules-dir",
        shadow.path().to_str().unwrap(),
        "rule",
        "list",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = json(&out);
    let skipped = list["skipped"][0].as_str().unwrap_or_default();
    assert!(
        skipped.contains("rule `file-exists` is already provided by bundled:"),
        "{list}"
    );
    assert!(
        stderr(&out).contains("already provided"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn workspace_workflows_are_found_by_id() {
    let ws = Workspace::new()
        .workflow("id: local-flow\nversion: 1.0.0\nname: Local\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: file-exists\n          config: {paths: [src/main.rs]}\n")
        .build();
    let dir = ws.path().to_str().unwrap();
    let out = checkrail(&[
        "check",
        "--workflow",
        "local-flow",
        "--phase",
        "p",
        "--workspace",
        dir,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json(&out)["rules"][0]["findings"][0]["path"], "src/main.rs");
}

#[test]
fn an_installed_binary_needs_no_files_beside_it() {
    let install = tempfile::tempdir().unwrap();
    let bin = install.path().join("checkrail");
    std::fs::copy(BIN, &bin).unwrap();
    let elsewhere = Workspace::new()
        .file("README.md", "# x\n\n## Usage\nrun it\n")
        .build();
    let out = Cli::binary(
        &bin,
        &["check", "--workflow", "project-basics", "--phase", "readme"],
    )
    .current_dir(elsewhere.path())
    .output();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// `checkrail session list` for `ws` with its own state directory, given
/// by the flag alone.
fn session_list(ws: &Path, state: &Path) -> Output {
    Cli::new(&["session", "list"])
        .workspace(ws)
        .arg("--state-dir")
        .arg(state)
        .env_remove("CHECKRAIL_STATE_DIR")
        .output()
}

/// The one workspace directory inside a state directory.
fn workspace_state(state: &Path) -> std::path::PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir(state.join("workspaces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

#[test]
fn failures_of_checkrail_itself_do_not_share_the_usage_code() {
    let ws = Workspace::new().file("README.md", "# hi").build();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("state");
    let out = session_list(ws.path(), &state);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A session database that is not SQLite at all: an internal failure,
    // exit 70, naming the database and SQLite's reason.
    let db = workspace_state(&state).join("sessions.db");
    for suffix in ["-wal", "-shm"] {
        let companion = db.with_file_name(format!("sessions.db{suffix}"));
        if companion.exists() {
            std::fs::remove_file(companion).unwrap();
        }
    }
    std::fs::write(&db, "this is not a database, just text ".repeat(200)).unwrap();
    let out = session_list(ws.path(), &state);
    assert_eq!(out.status.code(), Some(70), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains(&format!("session database `{}`", db.display()))
            && text.contains("not a database"),
        "{text}"
    );

    // Emptied after sessions were stored there: the state was lost, an I/O
    // failure (74) that says how to recover.
    std::fs::write(&db, "").unwrap();
    let out = session_list(ws.path(), &state);
    assert_eq!(out.status.code(), Some(74), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is empty (0 bytes)"),
        "{}",
        stderr(&out)
    );

    // A file where the state directory expects a directory (this stops
    // root as well as anyone): I/O failure, 74.
    std::fs::remove_dir_all(state.join("workspaces")).unwrap();
    std::fs::write(state.join("workspaces"), "").unwrap();
    let out = session_list(ws.path(), &state);
    assert_eq!(out.status.code(), Some(74), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "use state `{}`: it is not a directory, but checkrail keeps one there; move it away",
            state.join("workspaces").display()
        )),
        "{}",
        stderr(&out)
    );

    // While a usage error is still 2: a state directory that is a file is
    // the user's to fix, not a broken state.
    let out = session_list(ws.path(), &state.join("key"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it is not a directory"),
        "{}",
        stderr(&out)
    );
}
