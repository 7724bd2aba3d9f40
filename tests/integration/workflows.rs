//! Bundled workflows walked end to end through sessions against generated
//! projects, with the real rules and toolchains.

use checkrail::service::{Service, Validation};
use checkrail::session::Status;
use serde_json::json;

use crate::support::{Cli, Session, Sessions, Workspace, codes, repo_root};

const CRATE_TOML: &str = "[package]\nname = \"clamp\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
/// The bug: values above the maximum are not clamped.
const BUGGY: &str = "pub fn clamp(v: i32, lo: i32, hi: i32) -> i32 {\n    if v < lo { lo } else { v }\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn keeps_values_inside() {\n        assert_eq!(super::clamp(5, 0, 10), 5);\n    }\n}\n";
const REGRESSION: &str = "\n#[cfg(test)]\nmod regression {\n    #[test]\n    fn clamps_values_above_the_maximum() {\n        assert_eq!(super::clamp(42, 0, 10), 10);\n    }\n}\n";

/// A session service on `dir` that reads it as the CLI does.
fn service(dir: &std::path::Path) -> Service {
    Sessions::on(dir).installed_packs().open()
}

#[test]
fn bugfix_with_regression_test_needs_a_failing_test_before_the_fix() {
    let ws = Workspace::new()
        .file("Cargo.toml", CRATE_TOML)
        .file("src/lib.rs", BUGGY)
        .grant("cargo")
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start_with(
        &svc,
        "bugfix-with-regression-test",
        &[("bug", "clamp(42, 0, 10) returns 42")],
    );

    let step = session.validate_with(json!({"root_cause": "the upper bound is never compared", "test_name": "clamps_values_above_the_maximum"}));
    assert!(step.advanced, "{:?}", step.report);
    assert_eq!(step.standing.session.phase_id, "failing-test");

    // All tests pass: the regression test named in the evidence does not
    // exist yet, so no progress.
    let early = session.validate();
    assert!(!early.passed, "{:?}", early.report);
    assert!(
        codes(&early).iter().any(|c| c == "required-test-missing"),
        "{:?}",
        codes(&early)
    );

    // The regression test exists and fails: the phase passes.
    std::fs::write(dir.join("src/lib.rs"), format!("{BUGGY}{REGRESSION}")).unwrap();
    let failing = session.validate();
    assert!(failing.passed && failing.advanced, "{:?}", failing.report);
    assert_eq!(failing.standing.session.phase_id, "fix");

    // Before the fix the fix phase fails, naming the test at its line.
    let unfixed = session.validate();
    assert!(!unfixed.passed);
    let report = unfixed.report.unwrap();
    let finding = report.rules[0]
        .findings
        .iter()
        .find(|f| f.message.contains("clamps_values_above_the_maximum"))
        .unwrap_or_else(|| panic!("{:?}", report.rules[0]));
    assert_eq!(
        (finding.path.as_deref(), finding.line),
        (Some("src/lib.rs"), Some(17))
    );

    // The fix turns it green and the workflow moves on.
    let fixed_lib =
        format!("{BUGGY}{REGRESSION}").replace("if v < lo { lo } else { v }", "v.max(lo).min(hi)");
    std::fs::write(dir.join("src/lib.rs"), fixed_lib).unwrap();
    let fixed = session.validate();
    assert!(fixed.passed && fixed.advanced, "{:?}", fixed.report);
    let done = session.validate();
    assert_eq!(done.standing.session.status, Status::Completed);
}

const GO_MOD: &str = "module demo\n\ngo 1.19\n";
const GO_BUGGY: &str = "package clamp\n\n// Clamp keeps v within lo..hi.\nfunc Clamp(v, lo, hi int) int {\n\tif v < lo {\n\t\treturn lo\n\t}\n\treturn v\n}\n";
const GO_TESTS: &str = "package clamp\n\nimport \"testing\"\n\nfunc TestInside(t *testing.T) {\n\tif Clamp(5, 0, 10) != 5 {\n\t\tt.Fatal(\"inside\")\n\t}\n}\n";
const GO_REGRESSION: &str = "\nfunc TestAboveMax(t *testing.T) {\n\tif got := Clamp(42, 0, 10); got != 10 {\n\t\tt.Fatalf(\"Clamp(42, 0, 10) = %d, want 10\", got)\n\t}\n}\n";

#[test]
fn go_bugfix_walks_end_to_end_with_real_go() {
    let ws = Workspace::new()
        .file("go.mod", GO_MOD)
        .file("clamp.go", GO_BUGGY)
        .file("clamp_test.go", GO_TESTS)
        .grant("go")
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start_with(
        &svc,
        "go-bugfix",
        &[("bug", "Clamp lets values above hi through")],
    );
    let v = session.validate_with(
        json!({"root_cause": "Clamp never compares v with hi at all", "test_name": "TestAboveMax"}),
    );
    assert!(v.advanced, "{:?}", v.report);
    // No regression test yet: the failing-test phase does not pass.
    let v = session.validate();
    assert!(
        !v.passed && codes(&v).contains(&"required-test-missing".to_owned()),
        "{:?}",
        codes(&v)
    );
    let tests = format!("{GO_TESTS}{GO_REGRESSION}");
    std::fs::write(dir.join("clamp_test.go"), &tests).unwrap();
    let v = session.validate();
    assert!(
        v.advanced,
        "the regression test fails before the fix: {:?}",
        v.report
    );
    // The fix phase names the failing test at its line until it is fixed.
    let v = session.validate();
    assert!(!v.passed);
    let report = v.report.unwrap();
    let failing = report.rules[0]
        .findings
        .iter()
        .find(|f| f.message.contains("TestAboveMax"))
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert_eq!(failing.path.as_deref(), Some("clamp_test.go"));
    std::fs::write(
        dir.join("clamp.go"),
        GO_BUGGY.replace(
            "\treturn v\n}",
            "\tif v > hi {\n\t\treturn hi\n\t}\n\treturn v\n}",
        ),
    )
    .unwrap();
    let v = session.validate();
    assert!(v.advanced, "{:?}", v.report);
    assert_eq!(
        session.validate().standing.session.status,
        Status::Completed
    );
}

/// Error codes of a validation's findings.
fn error_codes(v: &Validation) -> Vec<String> {
    v.report
        .iter()
        .flat_map(|r| r.rules.iter())
        .flat_map(|r| r.findings.iter())
        .filter(|f| f.severity == checkrail_sdk::Severity::Error)
        .filter_map(|f| f.code.clone())
        .collect()
}

const PY_PROJECT: &str = "[project]\nname = \"calc\"\nversion = \"0.1.0\"\n\n[tool.pytest.ini_options]\npythonpath = [\".\"]\n";
const PY_CALC: &str = "def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    if b == 0:\n        raise ZeroDivisionError(\"b is zero\")\n    return a / b\n";
const PY_TEST_ADD: &str = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n";
const PY_TEST_DIV: &str = "\n\ndef test_div_by_zero():\n    import pytest\n    from calc import div\n    with pytest.raises(ZeroDivisionError):\n        div(1, 0)\n    assert div(4, 2) == 2\n";

#[test]
fn increase_test_coverage_measures_python_coverage_and_refuses_a_pragma() {
    let ws = Workspace::new()
        .file("pyproject.toml", PY_PROJECT)
        .file("calc.py", PY_CALC)
        .file("tests/test_calc.py", PY_TEST_ADD)
        .grant("python3")
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start_with(&svc, "increase-test-coverage", &[("module", "calc.py")]);
    let v = session.validate();
    assert!(v.advanced, "baseline: {:?}", v.report);
    let summary = &v.report.as_ref().unwrap().rules[1].summary;
    assert!(summary.contains("50.00%"), "{summary}");
    let v = session.validate_with(json!({"untested": ["div by zero raises ZeroDivisionError"]}));
    assert!(v.advanced, "survey: {:?}", v.report);

    // The shortcut: mark the untested lines as excluded from measurement.
    std::fs::write(
        dir.join("calc.py"),
        PY_CALC.replace("def div(a, b):", "def div(a, b):  # pragma: no cover"),
    )
    .unwrap();
    let v = session.validate();
    assert!(
        !v.passed && error_codes(&v) == ["new-exclusions"],
        "a pragma is not a test: {:?}",
        v.report
    );

    // The honest path: a test for the behaviour.
    std::fs::write(dir.join("calc.py"), PY_CALC).unwrap();
    std::fs::write(
        dir.join("tests/test_calc.py"),
        format!("{PY_TEST_ADD}{PY_TEST_DIV}"),
    )
    .unwrap();
    let v = session.validate();
    assert!(v.passed && v.advanced, "the loop's test: {:?}", v.report);
    let v = session.validate();
    assert!(v.passed && v.advanced, "{:?}", v.report);
    let summary = &v.report.as_ref().unwrap().rules[1].summary;
    assert!(summary.contains("100.00%"), "{summary}");
    assert_eq!(v.standing.session.status, Status::Completed);
}

const WORK_SLOW: &str =
    "import time\n\n\ndef run():\n    time.sleep(0.06)\n    return sum(range(1000))\n";
const BENCH: &str = "import time\nimport work\n\nstart = time.perf_counter()\nwork.run()\nprint(f\"work: {(time.perf_counter() - start) * 1000:.2f} ms\")\n";
const WORK_TEST: &str = "import work\n\n\ndef test_run():\n    assert work.run() == 499500\n";

/// A Python project whose `work.run` sleeps 60 ms, its test and its
/// benchmark `bench.py`.
fn perf_project() -> tempfile::TempDir {
    Workspace::new()
        .file("pyproject.toml", PY_PROJECT)
        .file("work.py", WORK_SLOW)
        .file("bench.py", BENCH)
        .file("tests/test_work.py", WORK_TEST)
        .grant("python3")
        .build()
}

/// A performance-change session that benchmarks `python3 bench.py` and
/// freezes `files` from its baseline on.
fn start_perf<'s>(svc: &'s Service, files: &str) -> Session<'s> {
    Session::start_with(
        svc,
        "performance-change",
        &[
            ("benchmark", "python3"),
            ("benchmark_args", "bench.py"),
            ("pattern", "work: ([0-9.]+) ms"),
            ("benchmark_files", files),
        ],
    )
}

/// Passes the baseline and the plan of a performance-change session.
fn through_the_plan(session: &Session<'_>) {
    let v = session.validate();
    assert!(v.advanced, "baseline: {:?}", v.report);
    let v = session.validate_with(json!({"hotspot": "work.run sleeps 60 ms", "plan": "drop the sleep from work.run entirely"}));
    assert!(v.advanced, "plan: {:?}", v.report);
}

/// The honest path: faster code under the same benchmark passes.
fn faster_code_passes(dir: &std::path::Path, session: &Session<'_>) {
    std::fs::write(dir.join("bench.py"), BENCH).unwrap();
    std::fs::write(
        dir.join("work.py"),
        WORK_SLOW.replace("    time.sleep(0.06)\n", ""),
    )
    .unwrap();
    let v = session.validate();
    assert!(v.passed && v.advanced, "{:?}", v.report);
}

#[test]
fn performance_change_needs_faster_code_not_a_faster_benchmark() {
    let ws = perf_project();
    let dir = ws.path();
    let svc = service(dir);
    let session = start_perf(&svc, "bench*.py");
    through_the_plan(&session);

    // Unchanged code: not faster.
    let v = session.validate();
    assert!(
        error_codes(&v).contains(&"not-improved".to_owned()),
        "{:?}",
        v.report
    );
    // The shortcut: a benchmark that prints a better number. Frozen.
    std::fs::write(dir.join("bench.py"), "print(\"work: 1.00 ms\")\n").unwrap();
    let v = session.validate();
    assert!(
        !v.passed && error_codes(&v).iter().any(|c| c.starts_with("frozen")),
        "{:?}",
        error_codes(&v)
    );
    faster_code_passes(dir, &session);
}

#[test]
fn performance_change_judges_the_benchmark_it_runs_whatever_glob_the_agent_names() {
    let ws = perf_project();
    let dir = ws.path();
    let svc = service(dir);
    // A glob that matches nothing would freeze nothing: the baseline
    // cannot pass with it.
    let v = start_perf(&svc, "nothing*.py").validate();
    assert!(
        !v.passed && error_codes(&v) == ["frozen-matches-nothing"],
        "{:?}",
        v.report
    );
    // A glob that matches some other file: the script the benchmark runs
    // is judged all the same.
    let session = start_perf(&svc, "tests/test_work.py");
    through_the_plan(&session);
    std::fs::write(dir.join("bench.py"), "print(\"work: 1.00 ms\")\n").unwrap();
    let v = session.validate();
    assert!(
        !v.passed && error_codes(&v).contains(&"judging-file-changed".to_owned()),
        "{:?}",
        error_codes(&v)
    );
    faster_code_passes(dir, &session);
}

const C_MAKEFILE: &str = "CFLAGS = -Wall -Wextra -Werror -Iinclude\n\ntest: tests/test_calc\n\t./tests/test_calc\n\ntests/test_calc: src/calc.c tests/test_calc.c include/calc.h\n\t$(CC) $(CFLAGS) -o $@ src/calc.c tests/test_calc.c\n\n.PHONY: test\n";
const C_HEADER: &str = "int add(int a, int b);\n";
const C_SOURCE: &str = "#include \"calc.h\"\n\nint add(int a, int b) { return a + b; }\n";
const C_TEST: &str = "#include <assert.h>\n#include \"calc.h\"\n\nint main(void) {\n    assert(add(2, 3) == 5);\n    return 0;\n}\n";

#[test]
fn c_feature_walks_end_to_end_with_real_gcc_and_make() {
    let ws = Workspace::new()
        .file("Makefile", C_MAKEFILE)
        .file("include/calc.h", C_HEADER)
        .file("src/calc.c", C_SOURCE)
        .file("tests/test_calc.c", C_TEST)
        .grant("gcc")
        .grant("make")
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start_with(&svc, "c-feature", &[("feature", "a mul function")]);
    let v = session.validate();
    assert!(v.advanced, "baseline: {:?}", v.report);
    let v = session.validate_with(json!({"functions": ["mul"], "test_file": "tests/test_calc.c"}));
    assert!(v.advanced, "design: {:?}", v.report);

    // A warning is an error here, reported at its line.
    std::fs::write(
        dir.join("include/calc.h"),
        format!("{C_HEADER}int mul(int a, int b);\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/calc.c"),
        format!("{C_SOURCE}\nint mul(int a, int b) {{ int unused; return a * b; }}\n"),
    )
    .unwrap();
    let v = session.validate();
    assert!(!v.passed, "{:?}", v.report);
    let report = v.report.unwrap();
    let warning = report
        .rules
        .iter()
        .flat_map(|r| r.findings.iter())
        .find(|f| f.message.contains("unused"))
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert_eq!(
        (warning.path.as_deref(), warning.line),
        (Some("src/calc.c"), Some(5))
    );

    // A failing test fails `make test`.
    std::fs::write(
        dir.join("src/calc.c"),
        format!("{C_SOURCE}\nint mul(int a, int b) {{ return a + b; }}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("tests/test_calc.c"),
        C_TEST.replace(
            "    return 0;",
            "    assert(mul(2, 3) == 6);\n    return 0;",
        ),
    )
    .unwrap();
    let v = session.validate();
    assert!(!v.passed, "{:?}", v.report);
    // Fixed.
    std::fs::write(
        dir.join("src/calc.c"),
        format!("{C_SOURCE}\nint mul(int a, int b) {{ return a * b; }}\n"),
    )
    .unwrap();
    let v = session.validate();
    assert!(v.passed && v.advanced, "{:?}", v.report);
}

#[test]
fn every_bundled_workflow_lints_clean_against_the_installed_rules() {
    let dir = repo_root().join("workflows");
    let mut linted = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let out = Cli::new(&["workflow", "lint"]).arg(&path).output();
        assert!(
            out.status.success(),
            "{}: {}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        linted += 1;
    }
    assert!(linted >= 20, "the library holds {linted} workflows");
}
