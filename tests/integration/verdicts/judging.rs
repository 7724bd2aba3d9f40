//! Files that change how a tool judges (a cargo runner, a conftest hook,
//! a pytest.ini) and frozen paths: changed mid-session, they block the
//! session until a human accepts the change or the agent undoes it.

use serde_json::Value;

use super::rust_crate;
use crate::support::{Cli, Session, Workspace, at_terminal, codes, service};

const TESTS_FLOW: &str = "id: tests-flow
version: 1.0.0
name: Tests
description: d
phases:
  - id: green
    name: Green
    guidance: make the tests pass
    checkpoint:
      rules:
        - rule: test
          config: { runner: RUNNER }
  - id: again
    name: Again
    guidance: keep them passing
    checkpoint:
      rules:
        - rule: test
          config: { runner: RUNNER }
";

const PASSING_PY: &str = "def test_add():\n    assert 1 + 1 == 2\n";

/// A pytest project whose one test passes, with [`TESTS_FLOW`]; python3
/// granted.
fn pytest_project() -> tempfile::TempDir {
    Workspace::new()
        .file("test_calc.py", PASSING_PY)
        .workflow(&TESTS_FLOW.replace("RUNNER", "pytest"))
        .grant("python3")
        .build()
}

#[test]
fn a_cargo_runner_added_mid_session_is_a_blocking_finding() {
    let ws = rust_crate()
        .workflow(&TESTS_FLOW.replace("RUNNER", "cargo"))
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start(&svc, "tests-flow");
    assert!(session.validate().advanced);
    // The bug comes back, and a runner prints a green report instead of
    // running the tests.
    std::fs::write(dir.join("data/expected.txt"), "7\n").unwrap();
    std::fs::write(
        dir.join("fake.sh"),
        "echo 'running 2 tests'\necho 'test tests::answer_matches_the_data_file ... ok'\necho 'test tests::fixture_is_read_at_run_time ... ok'\necho 'test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out'\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        "[target.'cfg(all())']\nrunner = \"sh fake.sh\"\n",
    )
    .unwrap();
    let cheated = session.validate();
    assert!(!cheated.passed, "{:?}", cheated.report);
    let report = cheated.report.as_ref().unwrap();
    let finding = report
        .rules
        .iter()
        .flat_map(|r| &r.findings)
        .find(|f| f.code.as_deref() == Some("judging-file-changed"))
        .unwrap_or_else(|| panic!("{report:?}"));
    assert_eq!(finding.path.as_deref(), Some(".cargo/config.toml"));
    assert!(
        finding
            .fix_hint
            .as_deref()
            .unwrap()
            .contains("accept-changes")
    );

    // Outside a session, the same override is a warning.
    let out = Cli::new(&[
        "check",
        "--workflow",
        "tests-flow",
        "--phase",
        "green",
        "--json",
    ])
    .workspace(dir)
    .output();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.to_string().contains("cargo-override"), "{report}");

    // The honest path: remove the runner, fix the data.
    std::fs::remove_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(dir.join("data/expected.txt"), "42\n").unwrap();
    assert!(session.validate().passed);
}

#[test]
fn a_conftest_hook_added_mid_session_is_a_blocking_finding() {
    let ws = pytest_project();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start(&svc, "tests-flow");
    assert!(session.validate().advanced);
    std::fs::write(
        dir.join("test_calc.py"),
        "def test_add():\n    assert 1 + 1 == 3\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("conftest.py"),
        "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n    outcome = yield\n    report = outcome.get_result()\n    report.outcome = 'passed'\n",
    )
    .unwrap();
    let cheated = session.validate();
    assert!(!cheated.passed);
    assert!(
        codes(&cheated).contains(&"judging-file-changed".to_owned()),
        "{:?}",
        cheated.report
    );
    // The agent cannot accept the change from its shell…
    let out = Cli::new(&["session", "accept-changes", &session.id])
        .workspace(dir)
        .output();
    assert_eq!(out.status.code(), Some(2));
    // …the honest path removes the hook and fixes the code.
    std::fs::remove_file(dir.join("conftest.py")).unwrap();
    std::fs::write(dir.join("test_calc.py"), PASSING_PY).unwrap();
    assert!(session.validate().passed);
}

#[test]
fn a_human_accepts_a_judging_change_at_a_terminal() {
    let ws = pytest_project();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start(&svc, "tests-flow");
    assert!(session.validate().advanced);
    std::fs::write(
        dir.join("pytest.ini"),
        "[pytest]\naddopts = -p no:cacheprovider\n",
    )
    .unwrap();
    assert!(!session.validate().passed);
    let transcript = at_terminal(
        dir,
        &["session", "accept-changes", &session.id, "--by", "ana"],
        "accept",
    );
    assert!(
        transcript.contains("accepted: Added(\"pytest.ini\")"),
        "{transcript}"
    );
    assert!(session.validate().passed);
    let accepted = svc
        .events(&session.id)
        .unwrap()
        .into_iter()
        .find(|e| e.kind() == "judging_changes_accepted")
        .unwrap();
    assert_eq!(accepted.details()["channel"], "terminal");
    assert_eq!(accepted.details()["by"], "ana");
}

#[test]
fn frozen_paths_stay_as_they_were_when_their_phase_passed() {
    let flow = "id: frozen-flow
version: 1.0.0
name: Frozen
description: d
phases:
  - id: spec
    name: Spec
    guidance: write the spec tests
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [spec/a.txt] }
  - id: build
    name: Build
    guidance: build it without touching the spec
    checkpoint:
      frozen: { since: spec, paths: ['spec/**'], allow_new: false }
      rules:
        - rule: file-exists
          config: { paths: [src.txt] }
";
    let ws = Workspace::new()
        .workflow(flow)
        .file("spec/a.txt", "expect 1")
        .file("src.txt", "impl")
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start(&svc, "frozen-flow");
    assert!(session.validate().advanced);
    std::fs::write(dir.join("spec/a.txt"), "expect anything").unwrap();
    std::fs::write(dir.join("spec/b.txt"), "new").unwrap();
    let v = session.validate();
    assert!(!v.passed);
    let report = v.report.unwrap();
    let messages: Vec<String> = report
        .rules
        .iter()
        .flat_map(|r| &r.findings)
        .map(|f| f.message.clone())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`spec/a.txt` was changed")
                && m.contains("frozen since phase `spec`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`spec/b.txt` was added")),
        "{messages:?}"
    );
    std::fs::write(dir.join("spec/a.txt"), "expect 1").unwrap();
    std::fs::remove_file(dir.join("spec/b.txt")).unwrap();
    assert!(session.validate().passed);
}
