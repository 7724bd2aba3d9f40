//! The compile, test and lint rules against real projects generated here,
//! run through the engine with real toolchains: findings point at the right
//! file and line, fixing the file turns the rule green, an ungranted tool is
//! refused, outcomes are cached until an input changes, and programs report
//! progress.

use std::sync::{Arc, Mutex};

use checkrail::engine::Hooks;
use checkrail::engine::progress::Progress;
use checkrail::report::{CheckpointReport, RuleReport, RuleStatus};
use serde_json::Value;

use crate::support::{Workspace, check_phase, checkpoint, engine, grant, one_phase};

const CRATE_TOML: &str = "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\npath = \"src/lib.rs\"\n";

const BROKEN_LIB: &str = "pub fn add(a: u32, b: u32) -> u32 {\n    let unused = 1;\n    let total: u32 = \"oops\";\n    a + b\n}\n";

const FIXED_LIB: &str = "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() {\n        assert_eq!(super::add(2, 2), 4);\n    }\n\n    #[test]\n    fn adds_wrong() {\n        assert_eq!(super::add(2, 2), 5, \"two and two\");\n    }\n}\n";

fn run(ws: &std::path::Path, rules: &str) -> CheckpointReport {
    check_phase(ws, &one_phase(rules))
}

fn rule(report: &CheckpointReport, i: usize) -> &RuleReport {
    &report.rules[i]
}

fn finding_at<'a>(r: &'a RuleReport, path: &str, line: u32) -> Option<&'a checkrail_sdk::Finding> {
    r.findings
        .iter()
        .find(|f| f.path.as_deref() == Some(path) && f.line == Some(line))
}

#[test]
fn rust_crate_compile_test_and_clippy() {
    let ws = Workspace::new()
        .file("Cargo.toml", CRATE_TOML)
        .file("src/lib.rs", BROKEN_LIB)
        .build();
    let dir = ws.path();

    // Nothing granted: refused with the line to add.
    let compile = "        - rule: compile\n          config: { toolchain: cargo }\n";
    let refused = run(dir, compile);
    assert!(!refused.passed);
    let finding = &rule(&refused, 0).findings[0];
    assert_eq!(
        finding.code.as_deref(),
        Some("exec-not-granted"),
        "{finding:?}"
    );
    assert!(
        finding
            .fix_hint
            .as_deref()
            .unwrap_or("")
            .contains("checkrail.toml")
            || finding.message.contains("checkrail.toml")
    );

    grant(dir, &["cargo"]);
    let report = run(dir, compile);
    let r = rule(&report, 0);
    assert_eq!(r.status, RuleStatus::Failed, "{r:?}");
    let error = finding_at(r, "src/lib.rs", 3)
        .unwrap_or_else(|| panic!("no finding at src/lib.rs:3: {r:?}"));
    assert_eq!(error.code.as_deref(), Some("E0308"));

    // With the type error fixed, the unused variable is a warning that does not block.
    std::fs::write(
        dir.join("src/lib.rs"),
        BROKEN_LIB.replace("let total: u32 = \"oops\";\n", ""),
    )
    .unwrap();
    let report = run(dir, compile);
    let r = rule(&report, 0);
    assert!(report.passed, "{r:?}");
    let warning = finding_at(r, "src/lib.rs", 2)
        .unwrap_or_else(|| panic!("no warning at src/lib.rs:2: {r:?}"));
    assert_eq!(
        (warning.severity, warning.code.as_deref()),
        (checkrail_sdk::Severity::Warning, Some("unused_variables"))
    );

    std::fs::write(dir.join("src/lib.rs"), FIXED_LIB).unwrap();
    let report = run(dir, compile);
    assert!(report.passed, "{:?}", report.rules);

    // Tests: one failing test, named, at its line.
    let tests = "        - rule: test\n          config: { runner: cargo, min_passed: 1 }\n";
    let report = run(dir, tests);
    let r = rule(&report, 0);
    assert_eq!(r.status, RuleStatus::Failed, "{r:?}");
    let failing = r
        .findings
        .iter()
        .find(|f| f.message.contains("adds_wrong"))
        .unwrap_or_else(|| panic!("{r:?}"));
    assert_eq!(failing.path.as_deref(), Some("src/lib.rs"));
    assert_eq!(failing.line, Some(14));
    assert!(failing.message.contains("two and two"), "{failing:?}");

    let green = FIXED_LIB.replace("5, \"two and two\"", "4, \"two and two\"");
    std::fs::write(dir.join("src/lib.rs"), &green).unwrap();
    assert!(run(dir, tests).passed);

    // A required test marked `#[ignore]` did not run, so it proves nothing.
    std::fs::write(
        dir.join("src/lib.rs"),
        green.replace("    fn adds_wrong", "    #[ignore]\n    fn adds_wrong"),
    )
    .unwrap();
    assert!(
        run(dir, tests).passed,
        "an ignored test alone does not block"
    );
    let required =
        "        - rule: test\n          config: { runner: cargo, required: [adds_wrong] }\n";
    let report = run(dir, required);
    let r = rule(&report, 0);
    assert_eq!(r.status, RuleStatus::Failed, "{r:?}");
    let ignored = r
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("required-test-not-run"))
        .unwrap_or_else(|| panic!("{r:?}"));
    assert_eq!(
        ignored.message,
        "required test `tests::adds_wrong` is marked `#[ignore]`, so it did not run"
    );

    // Clippy: a needless return at its line, blocking when warnings block.
    let lint = "        - rule: lint\n          config: { linter: clippy, block_levels: [error, warning] }\n";
    std::fs::write(
        dir.join("src/lib.rs"),
        "pub fn add(a: u32, b: u32) -> u32 {\n    return a + b;\n}\n",
    )
    .unwrap();
    let report = run(dir, lint);
    let r = rule(&report, 0);
    assert_eq!(r.status, RuleStatus::Failed, "{r:?}");
    let lint_finding = finding_at(r, "src/lib.rs", 2).unwrap_or_else(|| panic!("{r:?}"));
    assert!(
        lint_finding
            .code
            .as_deref()
            .unwrap_or("")
            .contains("needless_return"),
        "{lint_finding:?}"
    );
    std::fs::write(
        dir.join("src/lib.rs"),
        "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n",
    )
    .unwrap();
    assert!(run(dir, lint).passed);
}

#[test]
fn python_package_compile_pytest_and_ruff() {
    let ws = Workspace::new()
        .file("pkg/__init__.py", "")
        .file(
            "pkg/calc.py",
            "import os\n\ndef double(x):\n    return x * 2\n",
        )
        .file("pkg/broken.py", "def f(:\n    pass\n")
        .file(
            "tests/test_calc.py",
            "from pkg.calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n\n\ndef test_double_wrong():\n    assert double(3) == 7\n",
        )
        .grant("python3")
        .grant("ruff")
        .build();
    let dir = ws.path();

    let compile = "        - rule: compile\n          config: { toolchain: python }\n";
    let r = run(dir, compile);
    let syntax =
        finding_at(rule(&r, 0), "pkg/broken.py", 1).unwrap_or_else(|| panic!("{:?}", r.rules));
    assert_eq!(syntax.severity, checkrail_sdk::Severity::Error);
    std::fs::remove_file(dir.join("pkg/broken.py")).unwrap();
    assert!(run(dir, compile).passed);

    let tests = "        - rule: test\n          config: { runner: pytest }\n";
    let r = run(dir, tests);
    let t = rule(&r, 0);
    assert_eq!(t.status, RuleStatus::Failed, "{t:?}");
    let failing = t
        .findings
        .iter()
        .find(|f| f.message.contains("test_double_wrong"))
        .unwrap_or_else(|| panic!("{t:?}"));
    assert_eq!(failing.path.as_deref(), Some("tests/test_calc.py"));
    assert_eq!(failing.line, Some(9), "{failing:?}");

    // Skipping a required test does not make it pass.
    std::fs::write(
        dir.join("tests/test_calc.py"),
        "import pytest\n\nfrom pkg.calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n\n\n@pytest.mark.skip(reason=\"later\")\ndef test_double_wrong():\n    assert double(3) == 7\n",
    )
    .unwrap();
    assert!(
        run(dir, tests).passed,
        "a skipped test alone does not block"
    );
    let required = "        - rule: test\n          config: { runner: pytest, required: [test_double_wrong] }\n";
    let r = run(dir, required);
    let t = rule(&r, 0);
    assert_eq!(t.status, RuleStatus::Failed, "{t:?}");
    let skipped = finding_at(t, "tests/test_calc.py", 10).unwrap_or_else(|| panic!("{t:?}"));
    assert_eq!(skipped.code.as_deref(), Some("required-test-not-run"));
    assert_eq!(
        skipped.message,
        "required test `tests/test_calc.py::test_double_wrong` was skipped (later), so it did not run"
    );

    let lint = "        - rule: lint\n          config: { linter: ruff, max_warnings: 0 }\n";
    let r = run(dir, lint);
    let l = rule(&r, 0);
    let unused = l
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("F401"))
        .unwrap_or_else(|| panic!("{l:?}"));
    assert_eq!(
        (unused.path.as_deref(), unused.line),
        (Some("pkg/calc.py"), Some(1))
    );
    assert!(!r.passed);
    std::fs::write(
        dir.join("pkg/calc.py"),
        "def double(x):\n    return x * 2\n",
    )
    .unwrap();
    assert!(run(dir, lint).passed, "ruff still complains");
}

#[test]
fn c_file_with_an_error() {
    let ws = Workspace::new()
        .file(
            "src/main.c",
            "int main(void) {\n    int x = ;\n    return 0;\n}\n",
        )
        .grant("gcc")
        .build();
    let dir = ws.path();
    let compile = "        - rule: compile\n          config: { toolchain: gcc }\n";
    let r = run(dir, compile);
    let error = finding_at(rule(&r, 0), "src/main.c", 2).unwrap_or_else(|| panic!("{:?}", r.rules));
    assert!(error.column.is_some());
    std::fs::write(
        dir.join("src/main.c"),
        "int main(void) {\n    int x = 1;\n    return x - 1;\n}\n",
    )
    .unwrap();
    assert!(run(dir, compile).passed);
}

#[test]
fn outcomes_are_cached_until_an_input_changes_and_programs_report_progress() {
    let ws = Workspace::new()
        .file("Cargo.toml", CRATE_TOML)
        .file("src/lib.rs", "pub fn one() -> u32 { 1 }\n")
        .grant("cargo")
        .build();
    let dir = ws.path();
    let engine = engine();
    let wf = one_phase("        - rule: compile\n          config: { toolchain: cargo }\n");
    let events: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let hooks = Hooks {
        progress: Some({
            let events = events.clone();
            Arc::new(move |p| events.lock().unwrap().push(p))
        }),
        cancel: None,
    };
    let first = checkpoint(&engine, &wf, "p", dir, None, hooks).unwrap();
    assert!(first.passed && !first.rules[0].cached);
    let seen = events.lock().unwrap().clone();
    assert!(
        seen.iter().any(|p| matches!(p, Progress::CommandStarted { command, .. } if command.starts_with("cargo build"))),
        "{seen:?}"
    );
    let steps: Vec<f64> = seen.iter().map(Progress::step).collect();
    assert!(
        steps.windows(2).all(|w| w[1] > w[0]),
        "progress must grow: {steps:?}"
    );

    let second = checkpoint(&engine, &wf, "p", dir, None, Hooks::default()).unwrap();
    assert!(
        second.rules[0].cached,
        "unchanged inputs must reuse the outcome"
    );

    std::fs::write(dir.join("src/lib.rs"), "pub fn one() -> u32 { \"no\" }\n").unwrap();
    let third = checkpoint(&engine, &wf, "p", dir, None, Hooks::default()).unwrap();
    assert!(
        !third.rules[0].cached && !third.passed,
        "a changed input must run the rule again"
    );
    let json: Value = serde_json::to_value(&third).unwrap();
    assert_eq!(json["rules"][0]["cached"], false);
}

#[test]
fn one_edit_reruns_only_the_rules_whose_inputs_it_touched() {
    let ws = Workspace::new()
        .file("app/main.py", "print('hello')\n")
        .file("README.md", "# demo\n")
        .file(".gitignore", "dist/\n")
        .grant("python3")
        .build();
    let dir = ws.path();
    let engine = engine();
    let wf = one_phase(
        "        - rule: compile\n          config: { toolchain: python, files: [app/main.py] }\n        - rule: file-exists\n          config: { paths: [README.md] }\n        - rule: file-exists\n          config: { paths: [dist/app.js] }\n",
    );
    let run = || checkpoint(&engine, &wf, "p", dir, None, Hooks::default()).unwrap();
    let cached = |r: &CheckpointReport| r.rules.iter().map(|r| r.cached).collect::<Vec<_>>();
    let first = run();
    assert!(!first.passed, "dist/app.js is missing: {first:#?}");
    assert_eq!(cached(&first), [false, false, false]);
    assert_eq!(cached(&run()), [true, true, true]);

    // The compiler runs again (a program may read any file); the checks
    // that only look at the paths they name come from the cache.
    std::fs::write(dir.join("app/main.py"), "print('edited')\n").unwrap();
    assert_eq!(cached(&run()), [false, true, true]);

    // An ignored file a rule names is still its input: it appears, that
    // rule runs again (and passes), the rest are unchanged.
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    std::fs::write(dir.join("dist/app.js"), "x\n").unwrap();
    let report = run();
    assert_eq!(cached(&report), [true, true, false]);
    assert!(report.passed, "{report:#?}");

    // A named file that goes: its rule runs again and fails.
    std::fs::remove_file(dir.join("README.md")).unwrap();
    let report = run();
    assert_eq!(cached(&report), [false, false, true]);
    assert!(!report.passed);
}

#[test]
fn auto_detects_a_python_project_for_all_three_rules_at_once() {
    let ws = Workspace::new()
        .file(
            "pyproject.toml",
            "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n",
        )
        .file(
            "pkg/calc.py",
            "import os\n\n\ndef add(a, b):\n    return a + b\n",
        )
        .file(
            "tests/test_calc.py",
            "from pkg.calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 5\n",
        )
        .file("pkg/__init__.py", "")
        .grant("python3")
        .grant("ruff")
        .build();
    let dir = ws.path();
    let report = run(
        dir,
        "        - rule: compile\n          config: { toolchain: auto }\n        - rule: test\n          config: { runner: auto }\n        - rule: lint\n          config: { linter: auto, block_levels: [error, warning] }\n",
    );
    let detected = |i: usize| {
        rule(&report, i)
            .findings
            .iter()
            .find(|f| f.code.as_deref() == Some("detected"))
            .map(|f| f.message.clone())
            .unwrap_or_else(|| panic!("rule {i}: {:#?}", rule(&report, i)))
    };
    assert!(detected(0).contains("toolchain: auto → python (found pyproject.toml"));
    assert!(detected(1).contains("runner: auto → pytest (found pyproject.toml"));
    assert!(detected(2).contains("linter: auto → ruff (found pyproject.toml"));
    assert_eq!(rule(&report, 0).status, RuleStatus::Passed);
    assert!(
        finding_at(rule(&report, 1), "tests/test_calc.py", 5).is_some(),
        "{:#?}",
        rule(&report, 1)
    );
    assert!(
        finding_at(rule(&report, 2), "pkg/calc.py", 1).is_some(),
        "{:#?}",
        rule(&report, 2)
    );
    assert!(!report.passed);
}

#[test]
fn go_module_build_and_vet_through_the_host() {
    let ws = Workspace::new()
        .file("go.mod", "module demo\n\ngo 1.19\n")
        .file(
            "main.go",
            "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tname := \"x\"\n\tfmt.Printf(\"%d\\n\", name)\n\tfmt.Println(missing)\n}\n",
        )
        .grant("go")
        .build();
    let dir = ws.path();
    let rules = "        - rule: compile\n          config: { toolchain: go }\n        - rule: lint\n          config: { linter: govet }\n";
    let report = run(dir, rules);
    assert!(!report.passed);
    assert!(
        finding_at(rule(&report, 0), "main.go", 8).is_some(),
        "{:#?}",
        rule(&report, 0)
    );
    std::fs::write(
        dir.join("main.go"),
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tname := \"x\"\n\tfmt.Printf(\"%d\\n\", name)\n}\n",
    )
    .unwrap();
    let report = run(dir, rules);
    assert_eq!(
        rule(&report, 0).status,
        RuleStatus::Passed,
        "{:#?}",
        rule(&report, 0)
    );
    assert!(
        finding_at(rule(&report, 1), "main.go", 7).is_some(),
        "{:#?}",
        rule(&report, 1)
    );
    assert!(!report.passed, "go vet's report blocks");
}
