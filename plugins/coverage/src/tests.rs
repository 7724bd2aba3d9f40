//! The rule against generated projects, with the real coverage.py, Go and
//! Node.

use checkrail_sdk::serde_json::{Value, json};
use checkrail_sdk::testing::{TestWorkspace, run_with_context};
use checkrail_sdk::{Outcome, Severity};

use crate::Coverage;

const CALC: &str = "\
def add(a, b):
    return a + b


def sub(a, b):
    result = a - b
    return result
";

const TEST_ADD: &str = "\
from calc import add


def test_add():
    assert add(1, 2) == 3
";

const TEST_BOTH: &str = "\
from calc import add, sub


def test_add():
    assert add(1, 2) == 3


def test_sub():
    assert sub(3, 2) == 1
";

fn python_project(test: &str) -> TestWorkspace {
    let ws = TestWorkspace::new().unwrap();
    ws.write(
        "pyproject.toml",
        "[project]\nname = \"calc\"\nversion = \"0\"\n",
    )
    .unwrap();
    ws.write("calc.py", CALC).unwrap();
    ws.write("tests/test_calc.py", test).unwrap();
    ws.write(
        "tests/conftest.py",
        "import sys, os\nsys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\n",
    )
    .unwrap();
    ws
}

fn run(ws: &TestWorkspace, config: Value, grant: &[&str]) -> Outcome {
    ws.run_granting::<Coverage>(config, grant).unwrap()
}

fn run_after(ws: &TestWorkspace, config: Value, grant: &[&str], baseline: &Outcome) -> Outcome {
    let cx = ws
        .context_granting::<Coverage>(grant)
        .unwrap()
        .with_baseline(
            "before",
            baseline.facts_value().expect("the baseline recorded facts"),
        );
    run_with_context::<Coverage>(config, &cx).unwrap()
}

fn codes(outcome: &Outcome) -> Vec<&str> {
    outcome
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .filter_map(|f| f.code.as_deref())
        .collect()
}

#[test]
fn python_coverage_is_measured_and_the_floor_holds() {
    let ws = python_project(TEST_ADD);
    let low = run(
        &ws,
        json!({"tool": "python", "min_percent": 90}),
        &["python3"],
    );
    assert!(!low.passed, "{low:#?}");
    assert_eq!(codes(&low), ["coverage-below-minimum"], "{low:#?}");
    // calc.py: 5 statements (2 defs, 3 body lines), the sub body missed.
    let uncovered = low
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("uncovered-lines"))
        .expect("the least-covered file is named");
    assert_eq!(uncovered.path.as_deref(), Some("calc.py"));
    assert_eq!(uncovered.line, Some(6), "{uncovered:?}");
    assert!(uncovered.message.contains("6-7"), "{uncovered:?}");
    assert_eq!(low.facts_value().unwrap()["lines"], 5, "tests are omitted");

    let ok = run(
        &ws,
        json!({"tool": "python", "min_percent": 60}),
        &["python3"],
    );
    assert!(ok.passed, "{ok:#?}");
    assert!(ok.summary.contains("60.00%"), "{}", ok.summary);
}

#[test]
fn a_pragma_cannot_buy_coverage_but_a_test_can() {
    let ws = python_project(TEST_ADD);
    let config = json!({"tool": "python", "no_drop_since": "before", "min_gain": 10});
    let before = run(
        &ws,
        json!({"tool": "python", "min_percent": 0}),
        &["python3"],
    );
    assert!(before.passed, "{before:#?}");

    // The shortcut: exclude the untested function from measurement.
    ws.write(
        "calc.py",
        CALC.replace("def sub(a, b):", "def sub(a, b):  # pragma: no cover"),
    )
    .unwrap();
    let cheat = run_after(&ws, config.clone(), &["python3"], &before);
    assert!(!cheat.passed, "{cheat:#?}");
    assert!(codes(&cheat).contains(&"new-exclusions"), "{cheat:#?}");
    let excluded = cheat
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("new-exclusions"))
        .unwrap();
    // At the file, at the excluded function's first line.
    assert_eq!(
        (excluded.path.as_deref(), excluded.line),
        (Some("calc.py"), Some(5)),
        "{excluded:?}"
    );

    // The honest path: test it.
    ws.write("calc.py", CALC).unwrap();
    ws.write("tests/test_calc.py", TEST_BOTH).unwrap();
    let honest = run_after(&ws, config, &["python3"], &before);
    assert!(honest.passed, "{honest:#?}");
    assert!(honest.summary.contains("100.00%"), "{}", honest.summary);
}

#[test]
fn deleting_a_test_is_a_drop() {
    let ws = python_project(TEST_BOTH);
    let before = run(
        &ws,
        json!({"tool": "python", "min_percent": 0}),
        &["python3"],
    );
    ws.write("tests/test_calc.py", TEST_ADD).unwrap();
    let after = run_after(
        &ws,
        json!({"tool": "python", "no_drop_since": "before"}),
        &["python3"],
        &before,
    );
    assert_eq!(codes(&after), ["coverage-dropped"], "{after:#?}");
    let without_baseline = run(
        &ws,
        json!({"tool": "python", "no_drop_since": "before"}),
        &["python3"],
    );
    assert_eq!(
        codes(&without_baseline),
        ["no-baseline"],
        "{without_baseline:#?}"
    );
}

/// A module no test imports: measured (coverage.py's `source`), never run.
const UNUSED: &str = "def unused(a):\n    b = a * 2\n    return b\n";

#[test]
fn coverage_cannot_rise_by_measuring_less() {
    let ws = python_project(TEST_BOTH);
    ws.write("legacy.py", UNUSED).unwrap();
    ws.write("tests/test_legacy.py", "import legacy\n").unwrap();
    let before = run(
        &ws,
        json!({"tool": "python", "min_percent": 0}),
        &["python3"],
    );
    assert!(before.passed, "{before:#?}");
    let config = json!({"tool": "python", "no_drop_since": "before", "min_gain": 5});
    // The shortcuts: delete the untested module, or move it where the
    // default omit skips it. Either way its lines still count as not run.
    for (cheat, undo) in [("rm", "legacy.py"), ("mv", "tests/legacy.py")] {
        std::fs::remove_file(ws.path().join("legacy.py")).unwrap();
        ws.write("tests/test_legacy.py", "").unwrap();
        if cheat == "mv" {
            ws.write(undo, UNUSED).unwrap();
        }
        let after = run_after(&ws, config.clone(), &["python3"], &before);
        assert!(
            !after.passed && codes(&after).contains(&"coverage-not-increased"),
            "{cheat}: {after:#?}"
        );
        assert!(
            after
                .findings
                .iter()
                .any(|f| f.code.as_deref() == Some("no-longer-measured")
                    && f.path.as_deref() == Some("legacy.py")),
            "{cheat}: {after:#?}"
        );
        if cheat == "mv" {
            std::fs::remove_file(ws.path().join(undo)).unwrap();
        }
        ws.write("legacy.py", UNUSED).unwrap();
        ws.write("tests/test_legacy.py", "import legacy\n").unwrap();
    }
    // The honest path: test it.
    ws.write(
        "tests/test_legacy.py",
        "from legacy import unused\n\n\ndef test_unused():\n    assert unused(2) == 4\n",
    )
    .unwrap();
    let honest = run_after(&ws, config, &["python3"], &before);
    assert!(honest.passed, "{honest:#?}");
}

#[test]
fn failing_tests_measure_nothing_and_a_planted_report_is_ignored() {
    let ws = python_project(&TEST_ADD.replace("== 3", "== 4"));
    // A report claiming full coverage, where a careless rule would look.
    ws.write(
        "coverage.json",
        r#"{"files": {"calc.py": {"executed_lines": [1,2,3,4,5], "missing_lines": [], "excluded_lines": []}}}"#,
    )
    .unwrap();
    let outcome = run(
        &ws,
        json!({"tool": "python", "min_percent": 10}),
        &["python3"],
    );
    assert_eq!(codes(&outcome), ["tool-failed"], "{outcome:#?}");
    let not_granted = run(&ws, json!({"tool": "python", "min_percent": 10}), &[]);
    assert_eq!(
        codes(&not_granted),
        ["exec-not-granted"],
        "{not_granted:#?}"
    );
}

#[test]
fn configs_that_cannot_mean_anything_are_refused() {
    let ws = python_project(TEST_ADD);
    for (config, words) in [
        (json!({"tool": "python"}), "nothing to require"),
        (
            json!({"tool": "custom", "min_percent": 5}),
            "both `command` and `report`",
        ),
        (
            json!({"tool": "custom", "min_percent": 5, "command": {"program": "sh"}, "report": "lcov.info"}),
            "inside the scratch directory",
        ),
        (
            json!({"tool": "python", "min_percent": 150}),
            "between 0 and 100",
        ),
        (
            json!({"tool": "python", "min_gain": 5}),
            "together with `no_drop_since`",
        ),
        (
            json!({"tool": "python", "min_percent": 5, "cwd": "../x"}),
            "outside the workspace",
        ),
    ] {
        let err = ws
            .run_granting::<Coverage>(config.clone(), &["python3"])
            .expect_err(&config.to_string());
        assert!(err.to_string().contains(words), "{config}: {err}");
    }
}

#[test]
fn go_coverage_by_statements() {
    if std::process::Command::new("go")
        .arg("version")
        .output()
        .is_err()
    {
        panic!("go is required (Debian package golang-go; scripts/test.sh installs it)");
    }
    let ws = TestWorkspace::new().unwrap();
    ws.write("go.mod", "module example.com/calc\n\ngo 1.19\n")
        .unwrap();
    ws.write(
        "calc.go",
        "package calc\n\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\nfunc Sub(a, b int) int {\n\treturn a - b\n}\n",
    )
    .unwrap();
    ws.write(
        "calc_test.go",
        "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(1, 2) != 3 {\n\t\tt.Fatal(\"add\")\n\t}\n}\n",
    )
    .unwrap();
    let outcome = run(&ws, json!({"tool": "auto", "min_percent": 80}), &["go"]);
    assert_eq!(codes(&outcome), ["coverage-below-minimum"], "{outcome:#?}");
    assert!(outcome.summary.contains("50.00%"), "{}", outcome.summary);
    let uncovered = outcome
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("uncovered-lines"))
        .unwrap();
    assert_eq!(uncovered.path.as_deref(), Some("calc.go"));
    assert_eq!(uncovered.line, Some(7));
    assert!(
        outcome.findings[0].message.contains("chose `go`"),
        "{outcome:#?}"
    );
}

#[test]
fn node_coverage_through_lcov() {
    let ws = TestWorkspace::new().unwrap();
    ws.write(
        "package.json",
        "{\"name\": \"calc\", \"version\": \"0.0.0\"}\n",
    )
    .unwrap();
    ws.write(
        "calc.js",
        "exports.add = (a, b) => a + b;\nexports.sub = (a, b) => {\n  return a - b;\n};\n",
    )
    .unwrap();
    ws.write(
        "calc.test.js",
        "const test = require('node:test');\nconst assert = require('node:assert');\nconst { add } = require('./calc.js');\ntest('add', () => assert.equal(add(1, 2), 3));\n",
    )
    .unwrap();
    let outcome = run(&ws, json!({"tool": "node", "min_percent": 90}), &["node"]);
    assert_eq!(codes(&outcome), ["coverage-below-minimum"], "{outcome:#?}");
    let uncovered = outcome
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("uncovered-lines"))
        .unwrap();
    assert_eq!(uncovered.path.as_deref(), Some("calc.js"));
    assert_eq!(uncovered.line, Some(3));
    assert_eq!(
        outcome.facts_value().unwrap()["files"],
        1,
        "the test file is omitted"
    );
}
