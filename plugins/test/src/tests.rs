//! Native tests against real tools: small cargo crates and Python packages
//! in temporary workspaces.

use super::*;
use checkrail_sdk::serde_json::{Value, json};
use checkrail_sdk::testing::{
    TestWorkspace, codes, config_schema_of, finding as with_code, inputs_of, require_program,
};

mod since;

fn errors(outcome: &Outcome) -> Vec<&Finding> {
    outcome.findings_of(Severity::Error).collect()
}

fn run_cargo_rule(ws: &TestWorkspace, config: Value) -> Outcome {
    ws.run_granting::<TestRule>(config, &["cargo"]).unwrap()
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    let index = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in the text"));
    u32::try_from(index + 1).unwrap()
}

const MANIFEST: &str =
    "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";

/// A crate whose `add` is `body`, with a test that passes either way, one
/// that passes only when negatives are added right, one ignored test, and
/// one more test per name in `extra`.
fn crate_source(body: &str, extra: &[&str]) -> String {
    let mut source = format!(
        r#"pub fn add(a: i32, b: i32) -> i32 {{
    {body}
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn adds_small_numbers() {{
        assert_eq!(add(1, 2), 3);
    }}

    #[test]
    fn adds_negative_numbers() {{
        assert_eq!(add(-1, -2), -3, "negatives must add up");
    }}

    #[test]
    #[ignore]
    fn slow() {{}}
"#
    );
    for name in extra {
        source.push_str(&format!(
            "\n    #[test]\n    fn {name}() {{\n        assert_eq!(add(-2, -2), -4, \"{name}\");\n    }}\n"
        ));
    }
    source.push_str("}\n");
    source
}

const BUGGY: &str = "if a < 0 { a + b - 1 } else { a + b }";
const FIXED: &str = "a + b";

fn rust_workspace(body: &str, extra: &[&str]) -> (TestWorkspace, String) {
    let ws = TestWorkspace::new().unwrap();
    ws.write("Cargo.toml", MANIFEST).unwrap();
    let source = crate_source(body, extra);
    ws.write("src/lib.rs", &source).unwrap();
    (ws, source)
}

#[test]
fn cargo_failing_test_is_named_placed_and_counted_then_green_when_fixed() {
    let (ws, source) = rust_workspace(BUGGY, &[]);
    let out = run_cargo_rule(&ws, json!({"runner": "cargo"}));
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.summary, "1 passed, 1 failed, 1 ignored (cargo test)");
    let failed = errors(&out);
    assert_eq!(failed.len(), 1, "{out:#?}");
    let finding = failed[0];
    assert_eq!(finding.code.as_deref(), Some("test-failed"));
    assert!(
        finding
            .message
            .starts_with("test `tests::adds_negative_numbers` failed: assertion `left == right` failed: negatives must add up"),
        "{}",
        finding.message
    );
    assert!(finding.message.contains("left: -4"), "{}", finding.message);
    assert_eq!(finding.path.as_deref(), Some("src/lib.rs"));
    assert_eq!(
        finding.line,
        Some(line_of(&source, "negatives must add up"))
    );
    assert_eq!(finding.column, Some(9));
    let hint = finding.fix_hint.as_deref().unwrap();
    assert!(
        hint.starts_with("reproduce with `cargo test tests::adds_negative_numbers`"),
        "{hint}"
    );

    ws.write("src/lib.rs", crate_source(FIXED, &[])).unwrap();
    let out = run_cargo_rule(&ws, json!({"runner": "cargo"}));
    assert!(out.passed, "{out:#?}");
    assert!(out.findings.is_empty(), "{out:#?}");
    assert_eq!(out.summary, "2 passed, 0 failed, 1 ignored (cargo test)");
}

#[test]
fn cargo_required_min_passed_and_allowed_failures() {
    let (ws, _) = rust_workspace(FIXED, &[]);
    let out = run_cargo_rule(
        &ws,
        json!({"runner": "cargo", "required": ["tests::adds_small_numbers", "handles_empty", "slow"], "min_passed": 3}),
    );
    assert!(!out.passed);
    assert_eq!(
        codes(&out),
        [
            "required-test-missing",
            "required-test-not-run",
            "too-few-passed"
        ]
    );
    assert!(
        out.findings[0].message.starts_with(
            "required test `handles_empty` does not exist: none of the 3 tests that ran"
        )
    );
    let ignored = with_code(&out, "required-test-not-run");
    assert_eq!(
        ignored.message,
        "required test `tests::slow` is marked `#[ignore]`, so it did not run"
    );
    assert_eq!(
        ignored.fix_hint.as_deref(),
        Some("remove #[ignore] from the test so it runs and passes")
    );
    assert_eq!(
        with_code(&out, "too-few-passed").message,
        "2 tests of 3 passed; at least 3 must"
    );

    // A named failure may be allowed; it is still reported, as information.
    let (ws, _) = rust_workspace(BUGGY, &[]);
    let out = run_cargo_rule(
        &ws,
        json!({"runner": "cargo", "allowed_failures": ["adds_negative_numbers"]}),
    );
    assert!(out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["allowed-failure"]);
    assert_eq!(out.findings[0].severity, Severity::Info);
    // ...unless it is also required.
    let (ws, source) = rust_workspace(BUGGY, &[]);
    let out = run_cargo_rule(
        &ws,
        json!({"runner": "cargo", "allowed_failures": ["adds_negative_numbers"], "required": ["adds_negative_numbers"]}),
    );
    assert!(!out.passed);
    assert_eq!(codes(&out), ["required-test-failed"]);
    let failed = &out.findings[0];
    assert!(
        failed.message.starts_with(
            "required test `tests::adds_negative_numbers` failed: assertion `left == right` failed: negatives must add up"
        ),
        "{}",
        failed.message
    );
    assert_eq!(failed.path.as_deref(), Some("src/lib.rs"));
    assert_eq!(failed.line, Some(line_of(&source, "negatives must add up")));
}

#[test]
fn cargo_required_tests_left_out_by_a_filter_did_not_run() {
    let (ws, _) = rust_workspace(FIXED, &[]);
    let out = run_cargo_rule(
        &ws,
        json!({"runner": "cargo", "args": ["adds_small"], "required": ["adds_negative_numbers", "adds_small_numbers"]}),
    );
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["required-test-not-run"]);
    let finding = &out.findings[0];
    assert_eq!(
        finding.message,
        "required test `adds_negative_numbers` did not run: no test of that name ran, and 2 tests were filtered out by the arguments"
    );
    assert!(
        finding
            .fix_hint
            .as_deref()
            .unwrap()
            .starts_with("the test was not run: check `args` filters"),
        "{finding:?}"
    );

    // An ignored test that reports a reason names it.
    ws.write(
        "src/lib.rs",
        "#[test]\nfn runs() {}\n#[test]\n#[ignore = \"needs the network\"]\nfn fetches() {}\n",
    )
    .unwrap();
    let out = run_cargo_rule(&ws, json!({"runner": "cargo", "required": ["fetches"]}));
    assert!(!out.passed);
    assert_eq!(
        with_code(&out, "required-test-not-run").message,
        "required test `fetches` is marked `#[ignore]` (needs the network), so it did not run"
    );
}

#[test]
fn cargo_expect_fail_wants_the_regression_test_to_fail() {
    let config =
        json!({"runner": "cargo", "expect": "fail", "required": ["regression_negative_sum"]});

    // Not written yet.
    let (ws, _) = rust_workspace(BUGGY, &[]);
    let out = run_cargo_rule(&ws, config.clone());
    assert!(!out.passed);
    // The other failing test is not the regression test: it still blocks.
    assert_eq!(codes(&out), ["test-failed", "required-test-missing"]);
    assert!(
        out.findings[1]
            .message
            .starts_with("required test `regression_negative_sum` does not exist"),
        "{}",
        out.findings[1].message
    );

    // Written, and it reproduces the bug: the phase is done.
    let (ws, source) = rust_workspace(BUGGY, &["regression_negative_sum"]);
    let out = run_cargo_rule(
        &ws,
        json!({"runner": "cargo", "expect": "fail", "required": ["regression_negative_sum"], "allowed_failures": ["adds_negative_numbers"]}),
    );
    assert!(out.passed, "{out:#?}");
    let expected = with_code(&out, "expected-failure");
    assert_eq!(expected.severity, Severity::Info);
    assert_eq!(expected.path.as_deref(), Some("src/lib.rs"));
    assert_eq!(
        expected.line,
        Some(line_of(&source, "\"regression_negative_sum\""))
    );
    assert!(
        out.summary
            .ends_with("; `tests::regression_negative_sum` fails as expected"),
        "{}",
        out.summary
    );

    // With the bug fixed the test passes, which is not what this phase wants.
    let (ws, _) = rust_workspace(FIXED, &["regression_negative_sum"]);
    let out = run_cargo_rule(&ws, config);
    assert!(!out.passed);
    assert_eq!(codes(&out), ["required-test-passed"]);
    assert_eq!(
        out.findings[0].message,
        "required test `tests::regression_negative_sum` passes, but this checkpoint expects it to fail: it does not reproduce the bug"
    );
}

#[test]
fn cargo_expect_fail_needs_every_required_test_to_fail_at_run_time() {
    // One required test fails, another passes, a third is ignored: one
    // failing is not enough.
    let (ws, _) = rust_workspace(BUGGY, &["regression_negative_sum"]);
    let out = run_cargo_rule(
        &ws,
        json!({"runner": "cargo", "expect": "fail", "allowed_failures": ["adds_negative_numbers"],
               "required": ["regression_negative_sum", "adds_small_numbers", "slow"]}),
    );
    assert!(!out.passed, "{out:#?}");
    let mut found = codes(&out);
    found.sort_unstable();
    assert_eq!(
        found,
        [
            "allowed-failure",
            "expected-failure",
            "required-test-not-run",
            "required-test-passed"
        ]
    );
    assert!(
        with_code(&out, "required-test-passed")
            .message
            .starts_with("required test `tests::adds_small_numbers` passes")
    );
    let ignored = with_code(&out, "required-test-not-run");
    assert_eq!(
        ignored.message,
        "required test `tests::slow` is marked `#[ignore]`, so it did not run"
    );
    assert_eq!(
        ignored.fix_hint.as_deref(),
        Some("remove #[ignore] from the test so it runs and fails on the current code")
    );

    // A suite that does not compile fails nothing legitimately.
    let source = format!(
        "{}\npub fn broken() -> i32 {{ missing }}\n",
        crate_source(BUGGY, &["regression_negative_sum"])
    );
    ws.write("src/lib.rs", &source).unwrap();
    let out = run_cargo_rule(
        &ws,
        json!({"runner": "cargo", "expect": "fail", "required": ["regression_negative_sum"]}),
    );
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["E0425"]);
    let out = run_cargo_rule(&ws, json!({"runner": "cargo", "expect": "fail"}));
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["E0425"]);
}

/// A crate whose `dies` test aborts the test binary.
const CRASHING: &str = "#[test]\nfn fine() {}\n#[test]\nfn dies() {\n    std::thread::sleep(std::time::Duration::from_millis(300));\n    std::process::abort();\n}\n";

#[test]
fn cargo_expect_fail_is_not_met_by_a_crash() {
    let ws = TestWorkspace::new().unwrap();
    ws.write("Cargo.toml", MANIFEST).unwrap();
    ws.write("src/lib.rs", CRASHING).unwrap();
    let out = run_cargo_rule(
        &ws,
        json!({"runner": "cargo", "expect": "fail", "required": ["dies"]}),
    );
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        ["test-binary-crashed", "required-test-not-run"]
    );
    assert_eq!(
        out.findings[1].message,
        "required test `dies` reported no result: a test binary crashed before reporting all its results"
    );

    let out = run_cargo_rule(&ws, json!({"runner": "cargo", "expect": "fail"}));
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["test-binary-crashed", "no-failing-test"]);
}

#[test]
fn cargo_compile_errors_are_quoted_with_their_place() {
    let ws = TestWorkspace::new().unwrap();
    ws.write("Cargo.toml", MANIFEST).unwrap();
    let source = "pub fn add(a: i32, b: i32) -> i32 {\n    a + b + missing\n}\n";
    ws.write("src/lib.rs", source).unwrap();
    let out = run_cargo_rule(&ws, json!({"runner": "cargo"}));
    assert!(!out.passed);
    assert_eq!(out.summary, "1 compile error (cargo test); no test ran");
    let finding = &out.findings[0];
    assert_eq!(finding.code.as_deref(), Some("E0425"));
    assert_eq!(
        finding.message,
        "error[E0425]: cannot find value `missing` in this scope"
    );
    assert_eq!(finding.path.as_deref(), Some("src/lib.rs"));
    assert_eq!((finding.line, finding.column), (Some(2), Some(13)));
}

#[test]
fn cargo_in_a_subdirectory_maps_paths_to_the_workspace() {
    let ws = TestWorkspace::new().unwrap();
    ws.write("rust/Cargo.toml", MANIFEST).unwrap();
    ws.write("rust/src/lib.rs", crate_source(BUGGY, &[]))
        .unwrap();
    let out = run_cargo_rule(&ws, json!({"runner": "cargo", "cwd": "rust"}));
    assert!(!out.passed);
    let finding = with_code(&out, "test-failed");
    assert_eq!(finding.path.as_deref(), Some("rust/src/lib.rs"));
    assert!(
        finding.fix_hint.as_deref().unwrap().contains("in `rust`"),
        "{finding:?}"
    );
}

#[test]
fn cargo_a_crashing_test_binary_fails_the_check() {
    let ws = TestWorkspace::new().unwrap();
    ws.write("Cargo.toml", MANIFEST).unwrap();
    ws.write("src/lib.rs", CRASHING).unwrap();
    let out = run_cargo_rule(&ws, json!({"runner": "cargo"}));
    assert!(!out.passed, "{out:#?}");
    let crash = with_code(&out, "test-binary-crashed");
    assert!(crash.message.contains("SIGABRT"), "{}", crash.message);
    assert!(
        crash.message.contains("1 test never reported"),
        "{}",
        crash.message
    );
    assert!(
        crash
            .fix_hint
            .as_deref()
            .unwrap()
            .contains("cargo test --lib")
    );
}

#[test]
fn no_grant_is_a_finding_naming_the_fix() {
    let (ws, _) = rust_workspace(FIXED, &[]);
    let out = ws.run::<TestRule>(json!({"runner": "cargo"})).unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["exec-not-granted"]);
    assert_eq!(
        out.summary,
        "`cargo` did not run: it is not granted in checkrail.toml"
    );
    assert!(
        out.findings[0]
            .fix_hint
            .as_deref()
            .unwrap()
            .contains("allow = [\"cargo\"]")
    );
    let out = ws.run::<TestRule>(json!({"runner": "pytest"})).unwrap();
    assert_eq!(codes(&out), ["exec-not-granted"]);
}

/// pytest must be importable by the `python3` on PATH; the CI script puts a
/// venv with it first on PATH.
fn require_pytest() {
    let ok = std::process::Command::new("python3")
        .args(["-m", "pytest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "these tests need pytest importable by the `python3` on PATH: install it (`python3 -m pip install pytest`) or run scripts/test.sh, which puts a venv with pytest and ruff first on PATH"
    );
}

const PY_CALC: &str = "def add(a, b):\n    if a < 0:\n        return a + b - 1\n    return a + b\n";
const PY_TESTS: &str = "import pytest\n\nfrom calc import add\n\n\ndef test_small():\n    assert add(1, 2) == 3\n\n\ndef test_negative():\n    total = add(-1, -2)\n    assert total == -3\n\n\n@pytest.mark.skip(reason=\"later\")\ndef test_later():\n    pass\n";

#[test]
fn pytest_failure_points_at_the_assertion() {
    require_pytest();
    let ws = TestWorkspace::new().unwrap();
    ws.write("calc/__init__.py", PY_CALC).unwrap();
    ws.write("tests/test_calc.py", PY_TESTS).unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "pytest"}), &["python3"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.summary, "1 passed, 1 failed, 1 skipped (pytest)");
    let failed = errors(&out);
    assert_eq!(failed.len(), 1, "{out:#?}");
    let finding = failed[0];
    assert_eq!(finding.code.as_deref(), Some("test-failed"));
    assert_eq!(
        finding.message,
        "test `tests/test_calc.py::test_negative` failed at `assert total == -3`: assert -4 == -3"
    );
    assert_eq!(finding.path.as_deref(), Some("tests/test_calc.py"));
    assert_eq!(finding.line, Some(line_of(PY_TESTS, "assert total == -3")));
    assert!(
        finding
            .fix_hint
            .as_deref()
            .unwrap()
            .starts_with("reproduce with `python3 -m pytest tests/test_calc.py::test_negative`")
    );

    // Required by the short name; then fixed.
    let config =
        json!({"runner": "pytest", "required": ["test_calc.py::test_negative", "test_missing"]});
    ws.write("calc/__init__.py", "def add(a, b):\n    return a + b\n")
        .unwrap();
    let out = ws.run_granting::<TestRule>(config, &["python3"]).unwrap();
    assert_eq!(codes(&out), ["required-test-missing"]);
    assert!(out.findings[0].message.contains("`test_missing`"));
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "pytest"}), &["python3"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(out.summary, "2 passed, 0 failed, 1 skipped (pytest)");

    // A run that writes no report is never judged by an earlier report.
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "pytest", "args": ["--no-such-flag"]}),
            &["python3"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["report-missing"]);
    assert!(
        out.findings[0].message.contains("--no-such-flag"),
        "{}",
        out.findings[0].message
    );
}

#[test]
fn pytest_collection_errors_and_empty_runs() {
    require_pytest();
    let ws = TestWorkspace::new().unwrap();
    ws.write(
        "py/tests/test_imports.py",
        "import not_a_module_anywhere\n\n\ndef test_x():\n    pass\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "pytest", "cwd": "py"}), &["python3"])
        .unwrap();
    assert!(!out.passed);
    let finding = with_code(&out, "test-error");
    assert_eq!(finding.path.as_deref(), Some("py/tests/test_imports.py"));
    assert_eq!(finding.line, Some(1));
    assert!(
        finding
            .message
            .contains("No module named 'not_a_module_anywhere'"),
        "{}",
        finding.message
    );

    // No tests at all: zero passing tests fail the check by default...
    let ws = TestWorkspace::new().unwrap();
    ws.write("src/app.py", "X = 1\n").unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "pytest"}), &["python3"])
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["too-few-passed"]);
    assert_eq!(
        out.findings[0].message,
        "no test ran; at least 1 test must pass"
    );
    // ...unless the config says none need to.
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "pytest", "min_passed": 0}), &["python3"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
}

#[test]
fn pytest_expect_fail_any_new_failure() {
    require_pytest();
    let ws = TestWorkspace::new().unwrap();
    ws.write("calc/__init__.py", PY_CALC).unwrap();
    ws.write("tests/test_calc.py", PY_TESTS).unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "pytest", "expect": "fail"}), &["python3"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["expected-failure"]);
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "pytest", "expect": "fail", "allowed_failures": ["test_negative"]}),
            &["python3"],
        )
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["allowed-failure", "no-failing-test"]);
}

/// Tests that ran and passed or failed, and tests whose outcome shows
/// nothing: skipped, xfail that fails, xfail that passes, a broken fixture.
const PY_MARKED: &str = r#"import pytest

from calc import add


def test_small():
    assert add(1, 2) == 3


def test_negative():
    total = add(-1, -2)
    assert total == -3


@pytest.mark.skip(reason="later")
def test_later():
    assert add(-1, -2) == -3


@pytest.mark.xfail(reason="known bug")
def test_marked_failing():
    assert add(-1, -2) == -3


@pytest.mark.xfail(reason="known bug")
def test_marked_passing():
    assert add(1, 2) == 3


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


def test_uses_broken(broken):
    assert add(-1, -2) == -3
"#;

fn run_pytest_rule(ws: &TestWorkspace, config: Value) -> Outcome {
    ws.run_granting::<TestRule>(config, &["python3"]).unwrap()
}

#[test]
fn pytest_required_tests_must_run_unmarked_and_pass() {
    require_pytest();
    let ws = TestWorkspace::new().unwrap();
    ws.write("calc/__init__.py", PY_CALC).unwrap();
    ws.write("tests/test_marked.py", PY_MARKED).unwrap();
    let out = run_pytest_rule(
        &ws,
        json!({"runner": "pytest", "allowed_failures": ["test_negative"],
               "required": ["test_small", "test_later", "test_marked_failing", "test_marked_passing", "test_uses_broken"]}),
    );
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        [
            "allowed-failure",
            "required-test-failed",
            "required-test-not-run",
            "required-test-not-run",
            "required-test-not-run"
        ]
    );
    // An xfail that passed counts as neither a pass nor a failure.
    assert_eq!(
        out.summary,
        "1 passed, 1 failed, 1 error, 3 skipped (pytest)"
    );
    let at = |name: &str| -> &Finding {
        out.findings
            .iter()
            .find(|f| f.message.contains(&format!("::{name}`")))
            .unwrap_or_else(|| panic!("no finding about `{name}` in {out:#?}"))
    };
    // pytest places a decorated test at its (single) decorator.
    let decorator_line = |name: &str| Some(line_of(PY_MARKED, &format!("def {name}(")) - 1);

    let broken = at("test_uses_broken");
    assert_eq!(broken.code.as_deref(), Some("required-test-failed"));
    assert!(
        broken.message.starts_with(
            "required test `tests/test_marked.py::test_uses_broken` errored at `raise RuntimeError(\"fixture broke\")`: failed on setup"
        ),
        "{}",
        broken.message
    );
    let later = at("test_later");
    assert_eq!(
        later.message,
        "required test `tests/test_marked.py::test_later` was skipped (later), so it did not run"
    );
    assert_eq!(later.path.as_deref(), Some("tests/test_marked.py"));
    assert_eq!(later.line, decorator_line("test_later"));
    assert_eq!(
        later.fix_hint.as_deref(),
        Some("remove its skip marker (or the condition that skips it) so it runs and passes")
    );
    let marked = at("test_marked_failing");
    assert_eq!(
        marked.message,
        "required test `tests/test_marked.py::test_marked_failing` is marked xfail (known bug), so its result counts as neither a pass nor a failure"
    );
    assert_eq!(marked.line, decorator_line("test_marked_failing"));
    let xpass = at("test_marked_passing");
    assert_eq!(xpass.code.as_deref(), Some("required-test-not-run"));
    assert!(
        xpass
            .message
            .contains("(it passed although marked xfail (XPASS): known bug)"),
        "{}",
        xpass.message
    );
    assert_eq!(
        xpass.fix_hint.as_deref(),
        Some("remove its `xfail` marker so it runs and passes")
    );
}

#[test]
fn pytest_expect_fail_counts_only_unmarked_failures_at_run_time() {
    require_pytest();
    let ws = TestWorkspace::new().unwrap();
    ws.write("calc/__init__.py", PY_CALC).unwrap();
    ws.write("tests/test_marked.py", PY_MARKED).unwrap();
    let out = run_pytest_rule(
        &ws,
        json!({"runner": "pytest", "expect": "fail",
               "required": ["test_negative", "test_later", "test_marked_failing", "test_marked_passing", "test_uses_broken"]}),
    );
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        [
            "expected-failure",
            "required-test-errored",
            "required-test-not-run",
            "required-test-not-run",
            "required-test-not-run"
        ]
    );
    let errored = with_code(&out, "required-test-errored");
    assert!(
        errored.message.starts_with(
            "required test `tests/test_marked.py::test_uses_broken` errored, which is not the test failing at run time"
        ),
        "{}",
        errored.message
    );
    assert_eq!(
        out.findings[2].fix_hint.as_deref(),
        Some(
            "remove its skip marker (or the condition that skips it) so it runs and fails on the current code"
        )
    );

    // The regression test alone, with the broken fixture allowed: done.
    let out = run_pytest_rule(
        &ws,
        json!({"runner": "pytest", "expect": "fail", "required": ["test_negative"], "allowed_failures": ["test_uses_broken"]}),
    );
    assert!(out.passed, "{out:#?}");
    assert!(
        out.summary
            .ends_with("; `tests/test_marked.py::test_negative` fails as expected"),
        "{}",
        out.summary
    );

    // Deselected by `-k`: it did not run, whatever else fails.
    let out = run_pytest_rule(
        &ws,
        json!({"runner": "pytest", "expect": "fail", "args": ["-k", "small or broken"],
               "required": ["test_negative"], "allowed_failures": ["test_uses_broken"]}),
    );
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["allowed-failure", "required-test-not-run"]);
    assert_eq!(
        out.findings[1].message,
        "required test `test_negative` did not run: no test of that name ran, and 4 tests were deselected by the arguments"
    );

    // Nothing but errors and xfail markers fail: no regression test yet.
    ws.write("calc/__init__.py", "def add(a, b):\n    return a + b\n")
        .unwrap();
    let out = run_pytest_rule(&ws, json!({"runner": "pytest", "expect": "fail"}));
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["test-error", "no-failing-test"]);
    assert!(
        out.findings[1]
            .message
            .starts_with("no test fails at run time (1 test errored, which does not count"),
        "{}",
        out.findings[1].message
    );
}

#[test]
fn pytest_a_collection_error_is_no_failure_of_the_required_test() {
    require_pytest();
    let ws = TestWorkspace::new().unwrap();
    ws.write("calc/__init__.py", PY_CALC).unwrap();
    ws.write("tests/test_calc.py", PY_TESTS).unwrap();
    ws.write(
        "tests/test_regression.py",
        "import not_a_module_anywhere\n\n\ndef test_regression():\n    assert False\n",
    )
    .unwrap();
    let out = run_pytest_rule(
        &ws,
        json!({"runner": "pytest", "expect": "fail", "required": ["test_regression"]}),
    );
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["test-error", "required-test-not-run"]);
    let finding = &out.findings[1];
    assert_eq!(
        finding.message,
        "required test `test_regression` did not run: no test of that name ran, and pytest could not collect `tests/test_regression.py` (an import or collection error), so the tests there did not run"
    );
    assert_eq!(
        (finding.path.as_deref(), finding.line),
        (Some("tests/test_regression.py"), Some(1))
    );
    let out = run_pytest_rule(&ws, json!({"runner": "pytest", "expect": "fail"}));
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["test-error", "no-failing-test"]);
}

#[test]
fn custom_junit_required_tests_per_outcome() {
    let ws = TestWorkspace::new().unwrap();
    let report = r#"<testsuite name="suite" errors="1">
  <testcase classname="Math" name="adds" file="spec/math.txt" line="2"><failure message="expected 3, got 4">stack</failure></testcase>
  <testcase classname="Math" name="subtracts" file="spec/math.txt" line="3"/>
  <testcase classname="Math" name="divides" file="spec/math.txt" line="4"><skipped message="pending"/></testcase>
  <testcase classname="Math" name="rounds" file="spec/math.txt" line="5"><error message="setup failed">boom</error></testcase>
</testsuite>"#;
    ws.write("spec/math.txt", "a\nb\nc\nd\ne\n").unwrap();
    ws.write("report.xml.in", report).unwrap();
    let config = |expect: &str| {
        json!({
            "runner": "custom",
            "command": {"program": "sh", "args": ["-c", "cp report.xml.in {scratch}/junit.xml; exit 1"]},
            "report": "{scratch}/junit.xml",
            "expect": expect,
            "required": ["adds", "subtracts", "divides", "rounds", "multiplies"]
        })
    };
    let out = ws
        .run_granting::<TestRule>(config("pass"), &["sh"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        [
            "required-test-failed",
            "required-test-failed",
            "required-test-not-run",
            "required-test-missing"
        ]
    );
    assert_eq!(
        out.findings[0].message,
        "required test `Math::adds` failed: expected 3, got 4"
    );
    assert_eq!(
        (out.findings[2].path.as_deref(), out.findings[2].line),
        (Some("spec/math.txt"), Some(4))
    );
    assert_eq!(
        out.findings[2].message,
        "required test `Math::divides` was skipped (pending), so it did not run"
    );

    let out = ws
        .run_granting::<TestRule>(config("fail"), &["sh"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        [
            "expected-failure",
            "required-test-errored",
            "required-test-passed",
            "required-test-not-run",
            "required-test-missing"
        ]
    );
    assert_eq!(
        (out.findings[2].path.as_deref(), out.findings[2].line),
        (Some("spec/math.txt"), Some(3))
    );

    // Errors the report counts but no test carries fail the check.
    ws.write(
        "report.xml.in",
        r#"<testsuite errors="2"><testcase classname="Math" name="adds"><failure message="no"/></testcase><testcase classname="Math" name="rounds"><error message="setup failed"/></testcase></testsuite>"#,
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(
            json!({
                "runner": "custom",
                "command": {"program": "sh", "args": ["-c", "cp report.xml.in {scratch}/junit.xml; exit 1"]},
                "report": "{scratch}/junit.xml",
                "expect": "fail",
                "required": ["adds"],
                "allowed_failures": ["rounds"]
            }),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        ["unlisted-errors", "expected-failure", "allowed-failure"]
    );
    let unlisted = &out.findings[0].message;
    assert!(
        unlisted.starts_with("`sh -c 'cp report.xml.in ")
            && unlisted.ends_with(
                "`'s report counts 1 error that no test in it carries: something failed outside the tests it names"
            ),
        "{unlisted}"
    );
}

#[test]
fn custom_command_with_a_junit_report() {
    let ws = TestWorkspace::new().unwrap();
    let report = r#"<?xml version="1.0"?>
<testsuite name="suite">
  <testcase classname="Math" name="adds" file="spec/math.txt" line="2"><failure message="expected 3, got 4">stack</failure></testcase>
  <testcase classname="Math" name="subtracts"/>
</testsuite>"#;
    ws.write("spec/math.txt", "a\nb\nc\n").unwrap();
    ws.write("report.xml.in", report).unwrap();
    let config = json!({
        "runner": "custom",
        "command": {"program": "sh", "args": ["-c", "cp report.xml.in {scratch}/junit.xml; exit 1"]},
        "report": "{scratch}/junit.xml"
    });
    let out = ws
        .run_granting::<TestRule>(config.clone(), &["sh"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["test-failed"]);
    let finding = &out.findings[0];
    assert_eq!(
        finding.message,
        "test `Math::adds` failed: expected 3, got 4"
    );
    assert_eq!(finding.path.as_deref(), Some("spec/math.txt"));
    assert_eq!(finding.line, Some(2));
    assert_eq!(out.summary, "1 passed, 1 failed (sh)");

    // A command that fails without writing a report is not a pass.
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "custom", "command": {"program": "sh", "args": ["-c", "echo boom >&2; exit 3"]}, "report": "nowhere.xml"}),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["report-missing"]);
    assert!(out.findings[0].message.contains("exit code 3"));
    assert!(out.findings[0].message.contains("boom"));

    // Nor is one that exits non-zero with an all-green report.
    ws.write(
        "green.xml",
        "<testsuite><testcase classname=\"a\" name=\"b\"/></testsuite>",
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "custom", "command": {"program": "sh", "args": ["-c", "exit 2"]}, "report": "green.xml"}),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["stale-report", "tool-failed"]);
    assert!(
        out.findings[1]
            .message
            .starts_with("`sh -c 'exit 2'` failed (exit code 2) without a failing test"),
        "{}",
        out.findings[1].message
    );
}

#[test]
fn config_is_checked() {
    let ws = TestWorkspace::new().unwrap();
    let err = ws.run::<TestRule>(json!({"runner": "custom"})).unwrap_err();
    assert!(err.to_string().contains("needs `command`"), "{err}");
    let err = ws
        .run::<TestRule>(json!({"runner": "cargo", "report": "x.xml"}))
        .unwrap_err();
    assert!(
        err.to_string().contains("only to `runner: custom`"),
        "{err}"
    );
    let err = ws
        .run::<TestRule>(json!({"runner": "cargo", "requird": ["x"]}))
        .unwrap_err();
    assert!(err.to_string().contains("unknown field `requird`"), "{err}");
    let err = ws
        .run::<TestRule>(json!({"runner": "cargo", "cwd": "../x"}))
        .unwrap_err();
    assert!(err.to_string().contains("outside the workspace"), "{err}");

    let schema = config_schema_of::<TestRule>();
    let properties = schema["properties"].as_object().unwrap();
    for (name, property) in properties {
        assert!(
            property.get("description").is_some(),
            "config field `{name}` has no description"
        );
    }
    assert_eq!(schema["additionalProperties"], json!(false));
    assert_eq!(schema["required"], json!(["runner"]));
}

#[test]
fn inputs_per_runner() {
    assert_eq!(
        inputs_of::<TestRule>(json!({"runner": "cargo"})),
        ["**/*.rs", "**/Cargo.toml", "Cargo.lock"]
    );
    assert_eq!(
        inputs_of::<TestRule>(json!({"runner": "pytest", "cwd": "py"})),
        [
            "**/*.py",
            "pytest.ini",
            "py/pytest.ini",
            "pyproject.toml",
            "py/pyproject.toml",
            "setup.cfg",
            "py/setup.cfg",
            "conftest.py",
            "py/conftest.py"
        ]
    );
    assert!(
        inputs_of::<TestRule>(
            json!({"runner": "custom", "command": {"program": "make"}, "report": "r.xml"})
        )
        .is_empty()
    );
    assert_eq!(
        inputs_of::<TestRule>(json!({"runner": "cargo", "inputs": ["src/**"]})),
        ["src/**"]
    );
}

#[test]
fn pytest_missing_is_recognized() {
    let out = Output {
        exit_code: Some(1),
        stderr: "/usr/bin/python3: No module named pytest\n".to_owned(),
        ..Output::default()
    };
    assert!(pytest_missing(&out));
    let out = Output {
        exit_code: Some(1),
        stdout: "E   ModuleNotFoundError: No module named 'pytest_asyncio'\n".to_owned(),
        ..Output::default()
    };
    assert!(!pytest_missing(&out));
}

#[test]
fn auto_runs_cargo_for_a_crate_and_says_why() {
    let (ws, _) = rust_workspace(BUGGY, &[]);
    let out = run_cargo_rule(&ws, json!({"runner": "auto"}));
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.summary, "1 passed, 1 failed, 1 ignored (cargo test)");
    let note = with_code(&out, "detected");
    assert!(
        note.message
            .contains("runner: auto → cargo (found Cargo.toml, a Rust project)"),
        "{note:?}"
    );
    let empty = TestWorkspace::new().unwrap();
    let err = empty
        .run_granting::<TestRule>(json!({"runner": "auto"}), &["cargo"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`runner: auto` recognized no project"),
        "{err}"
    );
    // A JavaScript package gets node's runner, which must be granted too.
    let js = TestWorkspace::new().unwrap();
    js.write("package.json", "{}").unwrap();
    let out = js
        .run_granting::<TestRule>(json!({"runner": "auto"}), &["cargo"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert!(
        with_code(&out, "detected").message.contains(
            "runner: auto → node --test (`package.json` names neither jest nor vitest, a JavaScript project)"
        ),
        "{out:#?}"
    );
    with_code(&out, "exec-not-granted");
}

#[test]
fn go_failing_test_is_named_placed_and_required_then_green() {
    require_program("go", "install Go (Debian: golang-go) to run this test");
    let ws = TestWorkspace::new().unwrap();
    ws.write("go.mod", "module demo\n\ngo 1.19\n").unwrap();
    ws.write(
        "calc/calc.go",
        "package calc\n\nfunc Add(a, b int) int { return a + b + 1 }\n",
    )
    .unwrap();
    ws.write(
        "calc/calc_test.go",
        "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif got := Add(2, 2); got != 4 {\n\t\tt.Errorf(\"Add(2, 2) = %d, want 4\", got)\n\t}\n}\n\nfunc TestSkipped(t *testing.T) { t.Skip(\"later\") }\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "auto", "required": ["TestAdd"]}), &["go"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let failed = errors(&out)
        .into_iter()
        .find(|f| f.message.contains("demo/calc::TestAdd"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(failed.path.as_deref(), Some("calc/calc_test.go"));
    assert_eq!(failed.line, Some(7));
    assert!(
        failed.message.contains("Add(2, 2) = 5, want 4"),
        "{failed:?}"
    );
    assert!(
        with_code(&out, "detected")
            .message
            .contains("runner: auto → go test")
    );

    ws.write(
        "calc/calc.go",
        "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "go", "required": ["TestAdd"]}), &["go"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(out.summary, "1 passed, 0 failed, 1 skipped (go test)");

    // A test that does not compile: nothing ran, the error is placed.
    ws.write(
        "calc/calc.go",
        "package calc\n\nfunc Add(a, b int) int { return a + c }\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "go"}), &["go"])
        .unwrap();
    assert!(!out.passed);
    let error = errors(&out)
        .into_iter()
        .find(|f| f.message.contains("undefined: c"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(error.path.as_deref(), Some("calc/calc.go"));
}

fn require_node_tool(program: &str) {
    require_program(
        program,
        "install Node.js, and Jest 30 and Vitest 3 into ~/.cache/checkrail/node-tools (`npm install --prefix ~/.cache/checkrail/node-tools jest@30 vitest@3`, as scripts/test.sh does), with its node_modules/.bin on PATH",
    );
}

const CLAMP: &str = "function clamp(v, lo, hi) {\n  if (v < lo) return lo;\n  return v;\n}\n\nmodule.exports = { clamp };\n";

/// node's runner: a failing test in a block, a passing one, a skip and a
/// todo, and a file that does not load.
const NODE_TESTS: &str = "const test = require(\"node:test\");\nconst assert = require(\"node:assert/strict\");\nconst { clamp } = require(\"../lib/clamp\");\n\ntest(\"keeps values inside\", () => {\n  assert.equal(clamp(5, 0, 10), 5);\n});\n\ntest.describe(\"upper bound\", () => {\n  test(\"clamps values above the maximum\", () => {\n    assert.equal(clamp(42, 0, 10), 10);\n  });\n});\n\ntest.skip(\"clamps NaN\", () => {});\ntest.todo(\"clamps infinities\");\n";

fn js_workspace(package: &str, files: &[(&str, &str)]) -> TestWorkspace {
    let ws = TestWorkspace::new().unwrap();
    ws.write("package.json", package).unwrap();
    ws.write("lib/clamp.js", CLAMP).unwrap();
    for (path, text) in files {
        ws.write(path, text).unwrap();
    }
    ws
}

#[test]
fn node_runner_names_places_skips_and_expected_failures() {
    require_node_tool("node");
    let ws = js_workspace(
        "{\"name\":\"clamp\"}",
        &[("test/clamp.test.js", NODE_TESTS)],
    );
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "node"}), &["node"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.summary, "1 passed, 1 failed, 2 skipped (node --test)");
    let failed = with_code(&out, "test-failed");
    assert!(
        failed
            .message
            .starts_with("test `upper bound::clamps values above the maximum` failed: Expected values to be strictly equal:\n42 !== 10"),
        "{failed:?}"
    );
    assert_eq!(
        (failed.path.as_deref(), failed.line, failed.column),
        (Some("test/clamp.test.js"), Some(11), Some(12))
    );
    assert!(
        failed.fix_hint.as_deref().unwrap().starts_with(
            "reproduce with `node --test --test-name-pattern 'clamps values above the maximum'`"
        ),
        "{failed:?}"
    );

    // expect: fail, with the skipped test and a todo required too.
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "node", "expect": "fail",
                   "required": ["clamps values above the maximum", "clamps NaN", "clamps infinities"]}),
            &["node"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        [
            "expected-failure",
            "required-test-not-run",
            "required-test-not-run"
        ],
        "{out:#?}"
    );
    let todo = out
        .findings
        .iter()
        .find(|f| f.message.contains("clamps infinities"))
        .unwrap();
    assert!(todo.message.contains("was skipped (todo)"), "{todo:?}");

    // A test file that does not load: named by its file, and it is no
    // failure at run time.
    ws.write("test/broken.test.js", "require(\"../lib/missing\");\n")
        .unwrap();
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "node", "expect": "fail", "required": ["keeps values inside"]}),
            &["node"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert!(codes(&out).contains(&"required-test-passed"), "{out:#?}");
    let broken = out
        .findings
        .iter()
        .find(|f| f.message.contains("test/broken.test.js"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(broken.code.as_deref(), Some("test-error"), "{broken:?}");
}

const JEST_TESTS: &str = "const { clamp } = require(\"../lib/clamp\");\n\ndescribe(\"clamp\", () => {\n  test(\"keeps values inside\", () => {\n    expect(clamp(5, 0, 10)).toBe(5);\n  });\n  test(\"clamps values above the maximum\", () => {\n    expect(clamp(42, 0, 10)).toBe(10);\n  });\n  test.skip(\"clamps NaN\", () => {});\n});\n";

#[test]
fn jest_and_vitest_name_tests_by_file_block_and_title() {
    require_node_tool("jest");
    require_node_tool("vitest");
    for (runner, package) in [
        ("jest", "{\"devDependencies\":{\"jest\":\"^30\"}}"),
        ("vitest", "{\"devDependencies\":{\"vitest\":\"^3\"}}"),
    ] {
        let ws = js_workspace(package, &[("__tests__/clamp.test.js", JEST_TESTS)]);
        let out = ws
            .run_granting::<TestRule>(
                json!({"runner": "auto", "required": ["clamp::clamps values above the maximum"]}),
                &[runner],
            )
            .unwrap();
        assert!(!out.passed, "{runner}: {out:#?}");
        let note = with_code(&out, "detected");
        assert!(
            note.message.contains(&format!(
                "runner: auto → {runner} (`package.json` names {runner} in `devDependencies`"
            )),
            "{note:?}"
        );
        let failed = with_code(&out, "required-test-failed");
        assert!(
            failed.message.starts_with(
                "required test `__tests__/clamp.test.js::clamp::clamps values above the maximum` failed"
            ),
            "{runner}: {failed:?}"
        );
        assert_eq!(
            (failed.path.as_deref(), failed.line),
            (Some("__tests__/clamp.test.js"), Some(8)),
            "{runner}: {failed:?}"
        );
        assert!(
            out.summary.starts_with("1 passed, 1 failed, 1 skipped"),
            "{runner}: {}",
            out.summary
        );
        let facts = out.facts_value().unwrap();
        assert_eq!(
            facts["tests"]["__tests__/clamp.test.js::clamp::clamps NaN"],
            json!("skipped"),
            "{runner}: {facts}"
        );
        // The required test's whole call is fingerprinted.
        assert!(
            facts["sources"]["__tests__/clamp.test.js::clamp::clamps values above the maximum"]
                .is_string(),
            "{runner}: {facts}"
        );

        ws.write(
            "lib/clamp.js",
            CLAMP.replace("  return v;\n", "  if (v > hi) return hi;\n  return v;\n"),
        )
        .unwrap();
        let out = ws
            .run_granting::<TestRule>(json!({"runner": runner}), &[runner])
            .unwrap();
        assert!(out.passed, "{runner}: {out:#?}");
        // Nothing but the scratch directory was written.
        assert!(!ws.path().join("node_modules").exists(), "{runner}");
    }
}
