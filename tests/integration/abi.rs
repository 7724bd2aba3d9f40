//! Rule API versions side by side: a component built against the frozen
//! `checkrail:rule@0.1.0` still loads and runs next to 0.2 rules, and 0.2
//! rules get their baselines and hand back facts through the host.

use std::path::Path;

use checkrail::runtime::{CheckInput, ComponentCache, Limits, RuleComponent, RunResult, Runtime};
use checkrail_sdk::Outcome;
use serde_json::{Value, json};

use crate::support::{WASM_DIR, Workspace, engine, shared_cache};

fn runtime() -> Runtime {
    Runtime::new(ComponentCache::new(Some(shared_cache()))).unwrap()
}

/// Loads a component the build script built, by crate name.
fn load(runtime: &Runtime, crate_name: &str) -> RuleComponent {
    let file = Path::new(WASM_DIR).join(format!("{}.wasm", crate_name.replace('-', "_")));
    let bytes = std::fs::read(&file).unwrap();
    runtime
        .load(crate_name, &bytes)
        .unwrap_or_else(|e| panic!("{crate_name} {e}"))
}

fn completed(result: RunResult) -> Outcome {
    match result {
        RunResult::Completed(outcome) => outcome,
        other => panic!("expected an outcome, got {other:?}"),
    }
}

fn check(runtime: &Runtime, rule: &RuleComponent, config: Value, input: &CheckInput) -> RunResult {
    runtime.check(rule, &config.to_string(), input, &Limits::default())
}

#[test]
fn a_0_1_rule_runs_next_to_a_0_2_rule_in_one_runtime() {
    let runtime = runtime();
    let legacy = load(&runtime, "fixture-legacy-v0-1");
    let current = load(&runtime, "file-exists");
    assert_eq!(legacy.api_version, semver::Version::new(0, 1, 0));
    assert_eq!(current.api_version.to_string(), checkrail_sdk::API_VERSION);
    assert!(legacy.info.judging_files.is_empty());

    let ws = Workspace::new().file("present.txt", "x").build();
    let input = CheckInput {
        workspace: Some(ws.path()),
        phase: Some("green"),
        baselines: vec![("red".into(), r#"{"seen":true}"#.into())],
        ..CheckInput::default()
    };
    let config = json!({"paths": ["present.txt", "absent.txt"]});
    for rule in [&legacy, &current] {
        let outcome = completed(check(&runtime, rule, config.clone(), &input));
        assert!(!outcome.passed, "{}: {outcome:?}", rule.info.id);
        let paths: Vec<_> = outcome.findings.iter().map(|f| f.path.as_deref()).collect();
        assert_eq!(paths, [Some("absent.txt")], "{}", rule.info.id);
        assert_eq!(outcome.facts, None, "{}", rule.info.id);
    }
    let legacy_outcome = completed(check(&runtime, &legacy, config, &input));
    assert_eq!(legacy_outcome.summary, "1 of 2 paths missing (phase green)");

    let all_there = json!({"paths": ["present.txt"]});
    for rule in [&legacy, &current] {
        assert!(completed(check(&runtime, rule, all_there.clone(), &input)).passed);
    }
}

#[test]
fn a_0_1_rule_runs_through_the_engine() {
    let engine = engine();
    let ws = Workspace::new().file("present.txt", "x").build();
    let report = engine
        .run_rule(&checkrail::engine::RuleRun {
            rule: "fixture-legacy-v0-1",
            config: &json!({"paths": ["present.txt", "gone.txt"]}),
            workspace: ws.path(),
            timeout: None,
            memory: None,
        })
        .unwrap();
    assert_eq!(report.status, checkrail::report::RuleStatus::Failed);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].path.as_deref(), Some("gone.txt"));
}

#[test]
fn baselines_reach_a_0_2_rule_and_its_facts_come_back() {
    let runtime = runtime();
    let rule = load(&runtime, "fixture-facts");
    assert_eq!(rule.info.judging_files, ["facts.toml", "**/facts.toml"]);

    let ws = Workspace::new().build();
    let input = CheckInput {
        workspace: Some(ws.path()),
        workflow: Some("bugfix"),
        phase: Some("refactor"),
        baselines: vec![
            ("red".into(), r#"{"failing":["parses_dates"]}"#.into()),
            ("green".into(), "{}".into()),
        ],
        ..CheckInput::default()
    };
    let outcome = completed(check(&runtime, &rule, json!({}), &input));
    assert_eq!(outcome.summary, "2 baselines");
    assert_eq!(
        outcome.facts_value(),
        Some(json!({
            "count": 2,
            "phases": ["red", "green"],
            "red": {"failing": ["parses_dates"]},
            "phase": "refactor",
        }))
    );

    let none = CheckInput {
        workspace: Some(ws.path()),
        ..CheckInput::default()
    };
    let outcome = completed(check(&runtime, &rule, json!({}), &none));
    assert_eq!(outcome.facts_value().unwrap()["count"], 0);
}

#[test]
fn facts_that_are_not_json_are_a_rule_error() {
    let runtime = runtime();
    let rule = load(&runtime, "fixture-facts");
    let ws = Workspace::new().build();
    let input = CheckInput {
        workspace: Some(ws.path()),
        ..CheckInput::default()
    };
    match check(&runtime, &rule, json!({"raw_facts": "{tests: 3"}), &input) {
        RunResult::RuleError(message) => assert!(
            message.starts_with("returned facts that are not JSON (")
                && message.contains("Outcome::with_facts"),
            "{message}"
        ),
        other => panic!("expected a rule error, got {other:?}"),
    }
    // Facts that are JSON, even if not built with `with_facts`, pass through.
    let outcome = completed(check(
        &runtime,
        &rule,
        json!({"raw_facts": "[1, 2]"}),
        &input,
    ));
    assert_eq!(outcome.facts.as_deref(), Some("[1, 2]"));
}

#[test]
fn baselines_that_are_not_json_are_a_rule_error() {
    let runtime = runtime();
    let rule = load(&runtime, "fixture-facts");
    let ws = Workspace::new().build();
    let input = CheckInput {
        workspace: Some(ws.path()),
        baselines: vec![("red".into(), "{".into())],
        ..CheckInput::default()
    };
    match check(&runtime, &rule, json!({}), &input) {
        RunResult::RuleError(message) => assert!(
            message.contains("facts recorded at phase `red` are not JSON"),
            "{message}"
        ),
        other => panic!("expected a rule error, got {other:?}"),
    }
}

#[test]
fn bundled_rules_declare_their_judging_files() {
    let engine = engine();
    let judging = |id: &str| {
        engine
            .rule(id)
            .unwrap()
            .component
            .info
            .judging_files
            .clone()
    };
    let (compile, test, lint) = (judging("compile"), judging("test"), judging("lint"));
    for cargo in [
        ".cargo/config",
        ".cargo/config.toml",
        "rust-toolchain",
        "rust-toolchain.toml",
    ] {
        for (id, files) in [("compile", &compile), ("test", &test), ("lint", &lint)] {
            assert!(
                files.iter().any(|f| f == cargo),
                "{id} lacks {cargo}: {files:?}"
            );
        }
    }
    for pytest in [
        "conftest.py",
        "**/conftest.py",
        "pytest.ini",
        "setup.cfg",
        "tox.ini",
    ] {
        assert!(
            test.iter().any(|f| f == pytest),
            "test lacks {pytest}: {test:?}"
        );
    }
    for linter in [
        "clippy.toml",
        ".clippy.toml",
        "ruff.toml",
        ".ruff.toml",
        "pyproject.toml",
    ] {
        assert!(
            lint.iter().any(|f| f == linter),
            "lint lacks {linter}: {lint:?}"
        );
    }
    assert!(judging("file-exists").is_empty());
}
