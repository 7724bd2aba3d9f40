//! Verdicts an agent cannot fake, with real toolchains: a cache that sees
//! every file a test reads and the toolchain itself, named regression tests
//! that flow from evidence, judging files frozen for the session, frozen
//! paths. Each cheat fails with a finding an agent can act on; the honest
//! path still passes.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{
    Cli, Harness, Session, Workspace, at_terminal, check_phase, codes, one_phase, service,
};

const CRATE_TOML: &str = "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
const BUILD_RS: &str = "fn main() {}\n";
const LIB_RS: &str = r#"pub fn answer() -> u32 { 42 }

#[cfg(test)]
mod tests {
    #[test]
    fn answer_matches_the_data_file() {
        let expected: u32 = include_str!("../data/expected.txt").trim().parse().unwrap();
        assert_eq!(super::answer(), expected);
    }

    #[test]
    fn fixture_is_read_at_run_time() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixture.txt");
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text.trim(), "ok");
    }
}
"#;

/// A crate whose tests read a data file through `include_str!` and a
/// fixture at run time, with a build script; cargo granted.
fn rust_crate() -> Workspace {
    Workspace::new()
        .file("Cargo.toml", CRATE_TOML)
        .file("build.rs", BUILD_RS)
        .file("src/lib.rs", LIB_RS)
        .file("data/expected.txt", "42\n")
        .file("tests/fixture.txt", "ok\n")
        .file(".gitignore", "/target\n")
        .grant("cargo")
}

#[test]
fn the_cache_reruns_when_any_file_a_test_reads_changes() {
    let ws = rust_crate().build();
    let dir = ws.path();
    let flow = one_phase("        - rule: test\n          config: { runner: cargo }\n");
    let first = check_phase(dir, &flow);
    assert!(first.passed, "{first:?}");
    assert!(check_phase(dir, &flow).rules[0].cached, "unchanged: reused");

    // A file pulled in with include_str!, not a .rs file.
    std::fs::write(dir.join("data/expected.txt"), "43\n").unwrap();
    let changed = check_phase(dir, &flow);
    assert!(!changed.rules[0].cached && !changed.passed, "{changed:?}");
    std::fs::write(dir.join("data/expected.txt"), "42\n").unwrap();
    assert!(check_phase(dir, &flow).passed);

    // A file the test opens at run time.
    std::fs::write(dir.join("tests/fixture.txt"), "broken\n").unwrap();
    let changed = check_phase(dir, &flow);
    assert!(!changed.rules[0].cached && !changed.passed, "{changed:?}");
    std::fs::write(dir.join("tests/fixture.txt"), "ok\n").unwrap();

    // The build script.
    assert!(check_phase(dir, &flow).passed);
    std::fs::write(
        dir.join("build.rs"),
        "fn main() { println!(\"cargo:rerun-if-changed=build.rs\"); }\n",
    )
    .unwrap();
    let rebuilt = check_phase(dir, &flow);
    assert!(!rebuilt.rules[0].cached && rebuilt.passed, "{rebuilt:?}");

    // Ignored files do not count: build output and .gitignore'd paths.
    std::fs::write(dir.join("notes.log"), "x").unwrap();
    std::fs::write(dir.join(".gitignore"), "/target\n*.log\n").unwrap();
    assert!(
        !check_phase(dir, &flow).rules[0].cached,
        ".gitignore itself is an input"
    );
    std::fs::write(dir.join("notes.log"), "y").unwrap();
    assert!(
        check_phase(dir, &flow).rules[0].cached,
        "an ignored file changed nothing"
    );
}

#[test]
fn the_cache_reruns_when_a_pytest_data_file_changes() {
    let ws = Workspace::new()
        .file(
            "tests/test_data.py",
            "from pathlib import Path\n\ndef test_data():\n    assert (Path(__file__).parent / 'data.txt').read_text().strip() == 'ok'\n",
        )
        .file("tests/data.txt", "ok\n")
        .grant("python3")
        .build();
    let dir = ws.path();
    let flow = one_phase("        - rule: test\n          config: { runner: pytest }\n");
    assert!(check_phase(dir, &flow).passed);
    assert!(check_phase(dir, &flow).rules[0].cached);
    std::fs::write(dir.join("tests/data.txt"), "no\n").unwrap();
    let changed = check_phase(dir, &flow);
    assert!(!changed.rules[0].cached && !changed.passed, "{changed:?}");
}

#[test]
fn a_new_toolchain_runs_the_check_again() {
    let ws = rust_crate()
        .workflow("id: build-it\nversion: 0.1.0\nname: T\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: compile\n          config: { toolchain: cargo }\n")
        .build();
    let dir = ws.path();
    // A cargo of its own on PATH: "upgrading" it replaces the file.
    let real = Command::new("sh")
        .args(["-c", "command -v cargo"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_owned();
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("cargo");
    let install = |version: &str| {
        std::fs::write(
            &fake,
            format!("#!/bin/sh\n# toolchain {version}\nexec {real} \"$@\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    install("1.0");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let check = || {
        let out = Cli::new(&["check", "--workflow", "build-it", "--phase", "p", "--json"])
            .workspace(dir)
            .env("PATH", &path)
            .output();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(report["passed"], true, "{report}");
        report["rules"][0]["cached"].as_bool().unwrap()
    };
    assert!(!check());
    assert!(check(), "same toolchain, same files: reused");
    install("2.0");
    assert!(!check(), "a changed toolchain must run the rule again");
}

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
        .find(|e| e.kind == "judging_changes_accepted")
        .unwrap();
    assert_eq!(accepted.data["channel"], "terminal");
    assert_eq!(accepted.data["by"], "ana");
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

const BUGGY: &str = "pub fn clamp(v: i32, lo: i32, hi: i32) -> i32 {\n    if v < lo { lo } else { v }\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn keeps_values_inside() {\n        assert_eq!(super::clamp(5, 0, 10), 5);\n    }\n}\n";
const REGRESSION: &str = "\n#[cfg(test)]\nmod regression {\n    #[test]\n    fn clamps_values_above_the_maximum() {\n        assert_eq!(super::clamp(42, 0, 10), 10);\n    }\n}\n";
const UNRELATED: &str = "\n#[cfg(test)]\nmod unrelated {\n    #[test]\n    fn something_else() {\n        assert_eq!(1, 2);\n    }\n}\n";
const FIXED: &str = "pub fn clamp(v: i32, lo: i32, hi: i32) -> i32 {\n    v.max(lo).min(hi)\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn keeps_values_inside() {\n        assert_eq!(super::clamp(5, 0, 10), 5);\n    }\n}\n";

/// The bundled bugfix workflow through a real MCP client: the test named in
/// the evidence is the one that must fail, and then pass.
#[tokio::test(flavor = "multi_thread")]
async fn the_named_regression_test_must_fail_then_pass_over_mcp() {
    let ws = Workspace::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"clamp\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .file("src/lib.rs", BUGGY)
        .grant("cargo")
        .build();
    let h = Harness::start(ws).await;
    let dir = h.dir.clone();
    let id = h
        .start_session(json!({"workflow": "bugfix-with-regression-test", "inputs": {"bug": "clamp(42, 0, 10) returns 42"}}))
        .await;
    let evidence = json!({"root_cause": "the upper bound is never compared", "test_name": "clamps_values_above_the_maximum"});
    let v = h
        .ok(
            "workflow_validate",
            json!({"session": id, "evidence": evidence}),
        )
        .await;
    assert_eq!(v["advanced"], true, "{v}");
    // The next phase's guidance names the test from the evidence.
    assert!(
        v["standing"]["phase"]["guidance"]
            .as_str()
            .unwrap()
            .contains("clamps_values_above_the_maximum"),
        "{v}"
    );
    let state = h.ok("workflow_state", json!({"session": id})).await;
    assert_eq!(
        state["sessions"][0]["evidence"]["reproduce"]["test_name"],
        "clamps_values_above_the_maximum"
    );

    let validate = || h.ok("workflow_validate", json!({"session": id}));
    let codes_of = |v: &Value| -> Vec<String> {
        v["report"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["findings"].as_array().unwrap().clone())
            .filter_map(|f| f["code"].as_str().map(str::to_owned))
            .collect()
    };
    // An unrelated failing test is not the regression test.
    std::fs::write(dir.join("src/lib.rs"), format!("{BUGGY}{UNRELATED}")).unwrap();
    let v = validate().await;
    assert_eq!(v["passed"], false, "{v}");
    assert!(
        codes_of(&v).contains(&"required-test-missing".to_owned()),
        "{v}"
    );
    // A compile error is not a failing test.
    std::fs::write(
        dir.join("src/lib.rs"),
        format!("{BUGGY}{}", REGRESSION.replace("10);", "10) + ;")),
    )
    .unwrap();
    let v = validate().await;
    assert_eq!(v["passed"], false, "{v}");
    // The honest regression test fails for the bug's reason.
    std::fs::write(dir.join("src/lib.rs"), format!("{BUGGY}{REGRESSION}")).unwrap();
    let v = validate().await;
    assert_eq!(v["advanced"], true, "{v}");

    // Fix phase: deleting the regression test does not make it pass.
    std::fs::write(dir.join("src/lib.rs"), BUGGY).unwrap();
    let v = validate().await;
    assert_eq!(v["passed"], false, "{v}");
    assert!(
        codes_of(&v).contains(&"required-test-missing".to_owned()),
        "{v}"
    );
    // Marking it ignored does not either.
    std::fs::write(
        dir.join("src/lib.rs"),
        format!(
            "{BUGGY}{}",
            REGRESSION.replace("#[test]", "#[test]\n    #[ignore]")
        ),
    )
    .unwrap();
    let v = validate().await;
    assert_eq!(v["passed"], false, "{v}");
    assert!(
        codes_of(&v).contains(&"required-test-not-run".to_owned()),
        "{v}"
    );
    // Weakening it into a tautology does not either.
    std::fs::write(
        dir.join("src/lib.rs"),
        format!(
            "{BUGGY}{}",
            REGRESSION.replace("assert_eq!(super::clamp(42, 0, 10), 10);", "assert!(true);")
        ),
    )
    .unwrap();
    let v = validate().await;
    assert_eq!(v["passed"], false, "{v}");
    assert!(
        codes_of(&v).contains(&"required-test-changed".to_owned()),
        "{v}"
    );
    // The honest fix passes.
    std::fs::write(dir.join("src/lib.rs"), format!("{FIXED}{REGRESSION}")).unwrap();
    let v = validate().await;
    assert_eq!(v["advanced"], true, "{v}");
}

const PY_FLOW: &str = "id: py-bugfix
version: 1.0.0
name: Python bug fix
description: d
phases:
  - id: reproduce
    name: Name the test
    guidance: name the regression test
    checkpoint:
      evidence_schema:
        type: object
        required: [test_name]
        properties: { test_name: { type: string } }
  - id: failing-test
    name: Failing test
    guidance: write {{evidence.reproduce.test_name}}
    checkpoint:
      rules:
        - rule: test
          config: { runner: pytest, expect: fail, required: ['{{evidence.reproduce.test_name}}'] }
  - id: fix
    name: Fix
    guidance: fix it
    checkpoint:
      rules:
        - rule: test
          config: { runner: pytest, required: ['{{evidence.reproduce.test_name}}'], no_regressions_since: failing-test }
";

const PY_BUGGY: &str = "def clamp(v, lo, hi):\n    return lo if v < lo else v\n";
const PY_FIXED: &str = "def clamp(v, lo, hi):\n    return max(lo, min(v, hi))\n";
const PY_TESTS: &str = "from calc import clamp\n\n\ndef test_inside():\n    assert clamp(5, 0, 10) == 5\n\n\ndef test_clamps_above():\n    assert clamp(42, 0, 10) == 10\n";

#[test]
fn python_regression_tests_cannot_be_deleted_weakened_or_skipped() {
    let ws = Workspace::new()
        .file("calc.py", PY_BUGGY)
        .file("test_calc.py", PY_TESTS)
        .workflow(PY_FLOW)
        .grant("python3")
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start(&svc, "py-bugfix");
    assert!(
        session
            .validate_with(json!({"test_name": "test_clamps_above"}))
            .advanced
    );
    let red = session.validate();
    assert!(red.advanced, "{:?}", red.report);

    let cheat = |tests: &str, code: &str| {
        std::fs::write(dir.join("test_calc.py"), tests).unwrap();
        let v = session.validate();
        assert!(!v.passed, "{code}: {:?}", v.report);
        assert!(
            codes(&v).contains(&code.to_owned()),
            "{code}: {:?}",
            codes(&v)
        );
    };
    // Deleted.
    cheat(
        &PY_TESTS[..PY_TESTS.find("\n\ndef test_clamps_above").unwrap()],
        "required-test-missing",
    );
    // Weakened.
    cheat(
        &PY_TESTS.replace("== 10", "is not None"),
        "required-test-changed",
    );
    // Skipped.
    cheat(
        &PY_TESTS.replace(
            "def test_clamps_above",
            "import pytest\n\n@pytest.mark.skip\ndef test_clamps_above",
        ),
        "required-test-not-run",
    );
    // Honest.
    std::fs::write(dir.join("test_calc.py"), PY_TESTS).unwrap();
    std::fs::write(dir.join("calc.py"), PY_FIXED).unwrap();
    let v = session.validate();
    assert!(v.advanced, "{:?}", v.report);
}

#[test]
fn a_refactor_cannot_silence_lints_or_drop_tests() {
    let lib = "pub fn double(x: u32) -> u32 {\n    x * 2\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn doubles() {\n        assert_eq!(super::double(2), 4);\n    }\n\n    #[test]\n    fn doubles_zero() {\n        assert_eq!(super::double(0), 0);\n    }\n}\n";
    let ws = Workspace::new()
        .file("Cargo.toml", CRATE_TOML)
        .file("src/lib.rs", lib)
        .file(".gitignore", "/target\n")
        .grant("cargo")
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start(&svc, "safe-refactor");
    let before = session.validate();
    assert!(before.advanced, "{:?}", before.report);
    assert!(
        session
            .validate_with(json!({"summary": "inline the multiplication helper"}))
            .advanced
    );
    // A new suppression and a skipped test.
    let cheated = lib
        .replace("pub fn double", "#[allow(clippy::all)]\npub fn double")
        .replace(
            "    #[test]\n    fn doubles_zero",
            "    #[test]\n    #[ignore]\n    fn doubles_zero",
        );
    std::fs::write(dir.join("src/lib.rs"), &cheated).unwrap();
    let v = session.validate();
    assert!(!v.passed);
    let codes = codes(&v);
    assert!(codes.contains(&"new-suppression".to_owned()), "{codes:?}");
    assert!(codes.contains(&"test-now-skipped".to_owned()), "{codes:?}");
    let suppression = v
        .report
        .as_ref()
        .unwrap()
        .rules
        .iter()
        .flat_map(|r| &r.findings)
        .find(|f| f.code.as_deref() == Some("new-suppression"))
        .unwrap();
    assert_eq!(
        (suppression.path.as_deref(), suppression.line),
        (Some("src/lib.rs"), Some(1))
    );
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    let v = session.validate();
    assert!(v.passed, "{:?}", v.report);
}

#[test]
fn an_ignored_judging_file_still_changes_the_cached_answer() {
    // `.checkrail/` is ignored by the project, yet the allow-list in it
    // changes how the security rule judges: editing it must not let a
    // cached answer stand.
    let ws = Workspace::new()
        .file(".gitignore", ".checkrail/\n")
        .file(
            "config.py",
            format!(
                "TOKEN = \"{}{}\"\n",
                "ghp_", "x7Rk2Lq9Zt4Wm8Nc3Vb6Hs1Jd5Fg0Py2Ea7Q"
            ),
        )
        .file(".checkrail/secrets-allow", "config.py\n")
        .build();
    let workflow = one_phase("        - rule: security\n          config: {}\n");
    let first = check_phase(ws.path(), &workflow);
    assert!(first.passed, "allowed: {first:#?}");
    assert!(
        check_phase(ws.path(), &workflow).rules[0].cached,
        "unchanged: cached"
    );
    std::fs::write(
        ws.path().join(".checkrail/secrets-allow"),
        "# nothing allowed\n",
    )
    .unwrap();
    let second = check_phase(ws.path(), &workflow);
    assert!(
        !second.rules[0].cached,
        "the allow-list changed: {second:#?}"
    );
    assert!(!second.passed, "{second:#?}");
}
