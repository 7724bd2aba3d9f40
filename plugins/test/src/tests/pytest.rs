//! `runner: pytest`: failures at the assertion, collection errors and empty
//! runs, `expect: fail`, and required tests that must run unmarked.

use super::*;

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
fn pytest_a_failure_already_there_at_the_anchor_does_not_block() {
    require_pytest();
    let ws = TestWorkspace::new().unwrap();
    ws.write("calc/__init__.py", PY_CALC).unwrap();
    ws.write("tests/test_calc.py", PY_TESTS).unwrap();
    let name = "tests/test_calc.py::test_negative";
    let anchor = json!({"tests": {name: "failed", "tests/test_calc.py::test_small": "passed"}});
    let run = |config: Value, baseline: Option<&Value>| {
        let mut cx = ws.context_granting::<TestRule>(&["python3"]).unwrap();
        if let Some(facts) = baseline {
            cx = cx.with_baseline("@anchor", facts.clone());
        }
        checkrail_sdk::testing::run_with_context::<TestRule>(config, &cx).unwrap()
    };
    // Failed at the anchor too: reported, not blocking.
    let out = run(json!({"runner": "pytest"}), Some(&anchor));
    assert!(out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["known-failure"]);
    // Without facts at the anchor, or with the setting off, it blocks.
    for (config, baseline) in [
        (json!({"runner": "pytest"}), None),
        (
            json!({"runner": "pytest", "known_failures": false}),
            Some(&anchor),
        ),
    ] {
        let out = run(config, baseline);
        assert!(!out.passed, "{out:#?}");
        assert_eq!(codes(&out), ["test-failed"]);
    }
    // Required, it must pass whatever the anchor says.
    let out = run(
        json!({"runner": "pytest", "required": [name]}),
        Some(&anchor),
    );
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["required-test-failed"]);
    // A red phase's failing test must be the agent's, not the known one.
    let out = run(json!({"runner": "pytest", "expect": "fail"}), Some(&anchor));
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["known-failure", "no-failing-test"]);
    // A test that passed at the anchor and fails now blocks.
    let passed = json!({"tests": {name: "passed"}});
    let out = run(json!({"runner": "pytest"}), Some(&passed));
    assert!(!out.passed, "{out:#?}");
}
