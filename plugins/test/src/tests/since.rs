//! `no_regressions_since`: the facts a run records, and each way of
//! getting a later phase to pass by changing the tests instead of the code.

use checkrail_sdk::serde_json;
use checkrail_sdk::testing::run_with_context;

use super::*;

/// Runs the rule at phase `green` of a session whose earlier phases
/// recorded `baselines`, granting `program`.
fn run_at_green(
    ws: &TestWorkspace,
    config: Value,
    program: &str,
    baselines: &[(&str, &Value)],
) -> Outcome {
    let mut cx = ws
        .context_granting::<TestRule>(&[program])
        .unwrap()
        .with_checkpoint("bugfix", "green");
    for (phase, facts) in baselines {
        cx = cx.with_baseline(*phase, (*facts).clone());
    }
    run_with_context::<TestRule>(config, &cx).unwrap()
}

fn error_codes(outcome: &Outcome) -> Vec<&str> {
    let mut codes: Vec<&str> = errors(outcome)
        .iter()
        .filter_map(|f| f.code.as_deref())
        .collect();
    codes.sort_unstable();
    codes
}

/// The `red` phase: the regression test fails on the buggy code, and the
/// facts record it with its source's fingerprint.
fn cargo_red(ws: &TestWorkspace) -> Value {
    let out = run_cargo_rule(
        ws,
        json!({"runner": "cargo", "required": ["regression"], "expect": "fail",
               "allowed_failures": ["adds_negative_numbers"]}),
    );
    assert!(out.passed, "{out:#?}");
    let facts = out.facts_value().expect("every finished run records facts");
    assert_eq!(
        facts["tests"],
        json!({
            "tests::adds_small_numbers": "passed",
            "tests::adds_negative_numbers": "failed",
            "tests::regression": "failed",
            "tests::slow": "ignored",
        })
    );
    let hash = facts["sources"]["tests::regression"].as_str().unwrap();
    assert_eq!(hash.len(), 64, "{facts}");
    assert_eq!(facts["sources"].as_object().unwrap().len(), 1, "{facts}");
    facts
}

const GREEN: &str =
    r#"{"runner": "cargo", "required": ["regression"], "no_regressions_since": "red"}"#;

fn green_config() -> Value {
    serde_json::from_str(GREEN).unwrap()
}

#[test]
fn cargo_an_honest_fix_passes_and_every_cheat_is_named() {
    let (ws, _) = rust_workspace(BUGGY, &["regression"]);
    let red = cargo_red(&ws);
    let at_green = |ws: &TestWorkspace| run_at_green(ws, green_config(), "cargo", &[("red", &red)]);

    // The honest path: fix the code, leave the tests alone. Re-indenting
    // and trailing whitespace do not count as changing the test.
    let fixed = crate_source(FIXED, &["regression"]);
    let reformatted: String = fixed.lines().map(|l| format!("    {l}  \n")).collect();
    ws.write("src/lib.rs", &reformatted).unwrap();
    let out = at_green(&ws);
    assert!(out.passed, "{out:#?}");
    assert!(out.findings.is_empty(), "{out:#?}");
    assert_eq!(
        out.facts_value().unwrap()["sources"],
        red["sources"],
        "the same test keeps its fingerprint"
    );

    // Weakening the required test's assertion.
    let weakened = fixed.replace(
        "assert_eq!(add(-2, -2), -4, \"regression\");",
        "assert!(true);",
    );
    assert_ne!(weakened, fixed);
    ws.write("src/lib.rs", &weakened).unwrap();
    let out = at_green(&ws);
    assert_eq!(error_codes(&out), ["required-test-changed"], "{out:#?}");
    let changed = with_code(&out, "required-test-changed");
    assert!(
        changed.message.contains("`tests::regression`") && changed.message.contains("phase `red`"),
        "{changed:?}"
    );
    assert_eq!(changed.path.as_deref(), Some("src/lib.rs"));
    assert_eq!(
        changed.line,
        Some(line_of(&weakened, "fn regression") - 1),
        "placed at the test's first attribute"
    );
    assert!(
        changed
            .fix_hint
            .as_deref()
            .unwrap()
            .contains("frozen since that phase"),
        "{changed:?}"
    );

    // Ignoring the required test: its source changed and it no longer runs.
    ws.write(
        "src/lib.rs",
        fixed.replace(
            "#[test]\n    fn regression",
            "#[test]\n    #[ignore]\n    fn regression",
        ),
    )
    .unwrap();
    let out = at_green(&ws);
    assert_eq!(
        error_codes(&out),
        [
            "required-test-changed",
            "required-test-not-run",
            "test-now-skipped"
        ],
        "{out:#?}"
    );

    // Ignoring another test that ran at red.
    ws.write(
        "src/lib.rs",
        fixed.replace(
            "#[test]\n    fn adds_small",
            "#[test]\n    #[ignore]\n    fn adds_small",
        ),
    )
    .unwrap();
    let out = at_green(&ws);
    assert_eq!(error_codes(&out), ["test-now-skipped"], "{out:#?}");
    assert!(
        with_code(&out, "test-now-skipped")
            .message
            .contains("`tests::adds_small_numbers`")
    );

    // Deleting a test.
    let start = fixed
        .find("    #[test]\n    fn adds_small_numbers")
        .unwrap();
    let end = fixed
        .find("    #[test]\n    fn adds_negative_numbers")
        .unwrap();
    ws.write(
        "src/lib.rs",
        format!("{}{}", &fixed[..start], &fixed[end..]),
    )
    .unwrap();
    let out = at_green(&ws);
    assert_eq!(error_codes(&out), ["test-removed"], "{out:#?}");
    assert!(
        with_code(&out, "test-removed")
            .message
            .contains("`tests::adds_small_numbers`")
    );

    // Deleting the required test.
    let start = fixed.find("\n    #[test]\n    fn regression").unwrap();
    let end = start + fixed[start..].find("    }\n").unwrap() + "    }\n".len();
    ws.write(
        "src/lib.rs",
        format!("{}{}", &fixed[..start], &fixed[end..]),
    )
    .unwrap();
    let out = at_green(&ws);
    assert_eq!(
        error_codes(&out),
        [
            "required-test-missing",
            "required-test-removed",
            "test-removed"
        ],
        "{out:#?}"
    );

    // A test that passed at red fails now.
    ws.write(
        "src/lib.rs",
        crate_source("if a > 0 { a + b + 1 } else { a + b }", &["regression"]),
    )
    .unwrap();
    let out = at_green(&ws);
    assert_eq!(
        error_codes(&out),
        ["test-failed", "test-regressed"],
        "{out:#?}"
    );
    let regressed = with_code(&out, "test-regressed");
    assert!(
        regressed
            .message
            .contains("`tests::adds_small_numbers` passed at phase `red` but failed now"),
        "{regressed:?}"
    );
}

#[test]
fn cargo_without_the_phase_facts_there_is_no_baseline() {
    let (ws, _) = rust_workspace(FIXED, &["regression"]);
    let out = run_cargo_rule(&ws, green_config());
    assert_eq!(error_codes(&out), ["no-baseline"], "{out:#?}");
    let finding = with_code(&out, "no-baseline");
    assert!(finding.message.contains("`red`"), "{finding:?}");
    assert!(
        finding
            .fix_hint
            .as_deref()
            .unwrap()
            .contains("needs a session that passed phase `red`"),
        "{finding:?}"
    );
    // Facts from another phase do not stand in for it; unreadable ones
    // are no baseline either.
    let other = json!({"tests": {}, "sources": {}});
    let out = run_at_green(&ws, green_config(), "cargo", &[("plan", &other)]);
    assert_eq!(error_codes(&out), ["no-baseline"], "{out:#?}");
    let junk = json!(["not", "facts"]);
    let out = run_at_green(&ws, green_config(), "cargo", &[("red", &junk)]);
    assert_eq!(error_codes(&out), ["no-baseline"], "{out:#?}");
    assert!(
        with_code(&out, "no-baseline")
            .message
            .contains("not in a form")
    );
}

const PY_RED_TESTS: &str = "from calc import add\n\n\ndef test_small():\n    assert add(1, 2) == 3\n\n\nclass TestNegative:\n    def test_regression(self):\n        assert add(-1, -1) == -2\n";

#[test]
fn pytest_skipping_or_rewriting_the_frozen_test_fails() {
    require_pytest();
    let ws = TestWorkspace::new().unwrap();
    ws.write("calc/__init__.py", PY_CALC).unwrap();
    ws.write("tests/test_calc.py", PY_RED_TESTS).unwrap();
    let out = run_pytest_rule(
        &ws,
        json!({"runner": "pytest", "required": ["test_regression"], "expect": "fail"}),
    );
    assert!(out.passed, "{out:#?}");
    let red = out.facts_value().unwrap();
    let name = "tests/test_calc.py::TestNegative::test_regression";
    assert_eq!(red["tests"][name], "failed", "{red}");
    assert_eq!(red["tests"]["tests/test_calc.py::test_small"], "passed");
    assert!(red["sources"][name].is_string(), "{red}");

    let config =
        json!({"runner": "pytest", "required": ["test_regression"], "no_regressions_since": "red"});
    let at_green =
        |ws: &TestWorkspace| run_at_green(ws, config.clone(), "python3", &[("red", &red)]);

    // Honest: fix the code.
    ws.write("calc/__init__.py", "def add(a, b):\n    return a + b\n")
        .unwrap();
    let out = at_green(&ws);
    assert!(out.passed, "{out:#?}");
    assert!(out.findings.is_empty(), "{out:#?}");

    // Skipping the required test.
    let skipped = format!(
        "import pytest\n{}",
        PY_RED_TESTS.replace(
            "    def test_regression",
            "    @pytest.mark.skip(reason=\"flaky\")\n    def test_regression"
        )
    );
    ws.write("tests/test_calc.py", &skipped).unwrap();
    let out = at_green(&ws);
    assert_eq!(
        error_codes(&out),
        [
            "required-test-changed",
            "required-test-file-changed",
            "required-test-not-run",
            "test-now-skipped"
        ],
        "{out:#?}"
    );
    assert_eq!(
        with_code(&out, "required-test-changed").line,
        Some(line_of(&skipped, "@pytest.mark.skip"))
    );

    // Rewriting its body.
    ws.write(
        "tests/test_calc.py",
        PY_RED_TESTS.replace("assert add(-1, -1) == -2", "assert True"),
    )
    .unwrap();
    let out = at_green(&ws);
    assert_eq!(
        error_codes(&out),
        ["required-test-changed", "required-test-file-changed"],
        "{out:#?}"
    );

    // The test function untouched, the file around it not: a local `add`
    // that shadows the one under test.
    ws.write("calc/__init__.py", PY_CALC).unwrap();
    ws.write(
        "tests/test_calc.py",
        PY_RED_TESTS.replace(
            "from calc import add\n",
            "from calc import add\n\n\ndef add(a, b):\n    return a + b\n",
        ),
    )
    .unwrap();
    let out = at_green(&ws);
    assert_eq!(
        error_codes(&out),
        ["required-test-file-changed"],
        "{out:#?}"
    );

    // A module planted beside the test, which pytest imports instead of the
    // product's (it puts the test's folder first on `sys.path`).
    ws.write("tests/test_calc.py", PY_RED_TESTS).unwrap();
    ws.write("tests/calc.py", "def add(a, b):\n    return a + b\n")
        .unwrap();
    let out = at_green(&ws);
    let planted = with_code(&out, "required-test-file-changed");
    assert!(
        planted.message.contains("`tests/calc.py` is new"),
        "{out:#?}"
    );
}

#[test]
fn a_javascript_required_test_weakened_or_deleted_after_red_is_caught() {
    require_program("node", "install Node.js to run this test");
    let ws = TestWorkspace::new().unwrap();
    ws.write("package.json", "{\"name\":\"clamp\"}").unwrap();
    ws.write(
        "lib/clamp.js",
        "function clamp(v, lo, hi) {\n  if (v < lo) return lo;\n  return v;\n}\nmodule.exports = { clamp };\n",
    )
    .unwrap();
    let tests = "const test = require(\"node:test\");\nconst assert = require(\"node:assert/strict\");\nconst { clamp } = require(\"../lib/clamp\");\n\ntest(\"keeps values inside\", () => {\n  assert.equal(clamp(5, 0, 10), 5);\n});\n\ntest(\"clamps values above the maximum\", () => {\n  assert.equal(clamp(42, 0, 10), 10);\n});\n";
    ws.write("test/clamp.test.js", tests).unwrap();
    let red = ws
        .run_granting::<TestRule>(
            json!({"runner": "node", "expect": "fail", "required": ["clamps values above the maximum"]}),
            &["node"],
        )
        .unwrap();
    assert!(red.passed, "{red:#?}");
    let red = red.facts_value().unwrap();
    assert!(
        red["sources"]["clamps values above the maximum"].is_string(),
        "{red}"
    );
    let config = json!({"runner": "node", "required": ["clamps values above the maximum"],
                        "no_regressions_since": "red"});

    // Weakened instead of fixed: the test passes, but its source changed.
    ws.write(
        "test/clamp.test.js",
        tests.replace(
            "assert.equal(clamp(42, 0, 10), 10);",
            "assert.ok(clamp(42, 0, 10));",
        ),
    )
    .unwrap();
    let out = run_at_green(&ws, config.clone(), "node", &[("red", &red)]);
    assert_eq!(
        error_codes(&out),
        ["required-test-changed", "required-test-file-changed"],
        "{out:#?}"
    );

    // Skipped: the required test did not run, and its source changed.
    ws.write(
        "test/clamp.test.js",
        tests.replace(
            "test(\"clamps values above",
            "test.skip(\"clamps values above",
        ),
    )
    .unwrap();
    let out = run_at_green(&ws, config.clone(), "node", &[("red", &red)]);
    let codes = error_codes(&out);
    assert!(
        codes.contains(&"required-test-changed") && codes.contains(&"required-test-not-run"),
        "{out:#?}"
    );

    // Deleted, with the other test: both named.
    ws.write(
        "test/clamp.test.js",
        "const test = require(\"node:test\");\ntest(\"other\", () => {});\n",
    )
    .unwrap();
    let out = run_at_green(&ws, config.clone(), "node", &[("red", &red)]);
    let codes = error_codes(&out);
    for code in [
        "required-test-missing",
        "required-test-removed",
        "test-removed",
    ] {
        assert!(codes.contains(&code), "{code}: {out:#?}");
    }

    // Fixed honestly: the unchanged test passes.
    ws.write("test/clamp.test.js", tests).unwrap();
    ws.write(
        "lib/clamp.js",
        "function clamp(v, lo, hi) {\n  if (v < lo) return lo;\n  if (v > hi) return hi;\n  return v;\n}\nmodule.exports = { clamp };\n",
    )
    .unwrap();
    let out = run_at_green(&ws, config, "node", &[("red", &red)]);
    assert!(out.passed, "{out:#?}");
}

const GO_BUGGY: &str = "package calc\n\nfunc Add(a, b int) int {\n\tif a < 0 {\n\t\treturn a + b - 1\n\t}\n\treturn a + b\n}\n";
const GO_TESTS: &str = "package calc\n\nimport \"testing\"\n\nfunc TestSmall(t *testing.T) {\n\tif Add(1, 2) != 3 {\n\t\tt.Fatal(\"Add(1, 2) != 3\")\n\t}\n}\n\nfunc TestNegative(t *testing.T) {\n\tif got := Add(-1, -1); got != -2 {\n\t\tt.Errorf(\"Add(-1, -1) = %d, want -2\", got)\n\t}\n}\n";

#[test]
fn a_go_required_test_is_frozen_with_every_test_file_of_its_package() {
    require_program("go", "install Go (Debian: golang-go) to run this test");
    let ws = TestWorkspace::new().unwrap();
    ws.write("go.mod", "module demo\n\ngo 1.19\n").unwrap();
    ws.write("calc/calc.go", GO_BUGGY).unwrap();
    ws.write("calc/calc_test.go", GO_TESTS).unwrap();
    let helpers = "package calc\n\nfunc pair() (int, int) { return -1, -1 }\n";
    ws.write("calc/helpers_test.go", helpers).unwrap();
    let red = ws
        .run_granting::<TestRule>(
            json!({"runner": "go", "required": ["TestNegative"], "expect": "fail"}),
            &["go"],
        )
        .unwrap();
    assert!(red.passed, "{red:#?}");
    let red = red.facts_value().unwrap();
    let name = "demo/calc::TestNegative";
    assert_eq!(red["tests"][name], "failed", "{red}");
    assert_eq!(red["tests"]["demo/calc::TestSmall"], "passed", "{red}");
    assert!(red["sources"][name].is_string(), "{red}");
    let frozen: Vec<&str> = red["files"]
        .as_object()
        .unwrap_or_else(|| panic!("{red}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(frozen, ["calc/calc_test.go", "calc/helpers_test.go"]);

    let config =
        json!({"runner": "go", "required": ["TestNegative"], "no_regressions_since": "red"});
    let at_green = |ws: &TestWorkspace| run_at_green(ws, config.clone(), "go", &[("red", &red)]);

    // Honest: fix the code, leave the tests alone.
    ws.write(
        "calc/calc.go",
        "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
    )
    .unwrap();
    let out = at_green(&ws);
    assert!(out.passed, "{out:#?}");
    assert!(out.findings.is_empty(), "{out:#?}");
    assert_eq!(out.facts_value().unwrap()["sources"], red["sources"]);

    // Weakened instead of fixed: the test passes on the buggy code, but its
    // source changed.
    ws.write("calc/calc.go", GO_BUGGY).unwrap();
    let weakened = GO_TESTS.replace("got != -2", "got > 0");
    ws.write("calc/calc_test.go", &weakened).unwrap();
    let out = at_green(&ws);
    assert_eq!(
        error_codes(&out),
        ["required-test-changed", "required-test-file-changed"],
        "{out:#?}"
    );
    let changed = with_code(&out, "required-test-changed");
    assert_eq!(changed.path.as_deref(), Some("calc/calc_test.go"));
    assert_eq!(changed.line, Some(line_of(&weakened, "func TestNegative")));

    // The test untouched, a `TestMain` planted in a new file of its
    // package: it runs before every test and ends the binary with exit 0.
    ws.write("calc/calc_test.go", GO_TESTS).unwrap();
    ws.write(
        "calc/main_test.go",
        "package calc\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestMain(m *testing.M) { os.Exit(0) }\n",
    )
    .unwrap();
    let out = at_green(&ws);
    assert_eq!(
        error_codes(&out),
        [
            "required-test-file-changed",
            "required-test-missing",
            "test-removed",
            "test-removed",
            "too-few-passed"
        ],
        "{out:#?}"
    );
    let planted = with_code(&out, "required-test-file-changed");
    assert!(
        planted.message.contains("`calc/main_test.go` is new"),
        "{planted:?}"
    );
    assert_eq!(planted.path.as_deref(), Some("calc/main_test.go"));
}
