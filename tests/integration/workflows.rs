//! Bundled workflows walked end to end through sessions against generated
//! projects, with the real rules and toolchains.

use std::sync::Arc;

use checkrail::engine::Hooks;
use checkrail::service::Service;
use checkrail::session::Status;
use checkrail::{Checkrail, Options};
use serde_json::{Map, Value, json};

use crate::support::{shared_cache, workspace};

const CRATE_TOML: &str = "[package]\nname = \"clamp\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
/// The bug: values above the maximum are not clamped.
const BUGGY: &str = "pub fn clamp(v: i32, lo: i32, hi: i32) -> i32 {\n    if v < lo { lo } else { v }\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn keeps_values_inside() {\n        assert_eq!(super::clamp(5, 0, 10), 5);\n    }\n}\n";
const REGRESSION: &str = "\n#[cfg(test)]\nmod regression {\n    #[test]\n    fn clamps_values_above_the_maximum() {\n        assert_eq!(super::clamp(42, 0, 10), 10);\n    }\n}\n";

fn service(dir: &std::path::Path) -> Service {
    let engine = Checkrail::new(Options {
        cache_dir: Some(shared_cache()),
        workspace: Some(dir.to_owned()),
        ..Options::default()
    })
    .unwrap();
    Service::open(Arc::new(engine), dir, &crate::support::state()).unwrap()
}

fn validate(svc: &Service, id: &str, evidence: Option<Value>) -> checkrail::service::Validation {
    svc.validate(id, None, evidence.as_ref(), false, &Hooks::default())
        .unwrap()
}

fn codes(v: &checkrail::service::Validation) -> Vec<String> {
    v.report
        .iter()
        .flat_map(|r| r.rules.iter())
        .flat_map(|r| r.findings.iter())
        .filter_map(|f| f.code.clone())
        .collect()
}

#[test]
fn bugfix_with_regression_test_needs_a_failing_test_before_the_fix() {
    let ws = workspace(&[
        ("Cargo.toml", CRATE_TOML),
        ("src/lib.rs", BUGGY),
        ("checkrail.toml", "[exec]\nallow = [\"cargo\"]\n"),
    ]);
    let dir = ws.path();
    let svc = service(dir);
    let inputs: Map<String, Value> = [("bug".to_owned(), json!("clamp(42, 0, 10) returns 42"))]
        .into_iter()
        .collect();
    let id = svc
        .start("bugfix-with-regression-test", inputs)
        .unwrap()
        .session
        .id;

    let step = validate(
        &svc,
        &id,
        Some(
            json!({"root_cause": "the upper bound is never compared", "test_name": "clamps_values_above_the_maximum"}),
        ),
    );
    assert!(step.advanced, "{:?}", step.report);
    assert_eq!(step.standing.session.phase_id, "failing-test");

    // All tests pass: the regression test named in the evidence does not
    // exist yet, so no progress.
    let early = validate(&svc, &id, None);
    assert!(!early.passed, "{:?}", early.report);
    assert!(
        codes(&early).iter().any(|c| c == "required-test-missing"),
        "{:?}",
        codes(&early)
    );

    // The regression test exists and fails: the phase passes.
    std::fs::write(dir.join("src/lib.rs"), format!("{BUGGY}{REGRESSION}")).unwrap();
    let failing = validate(&svc, &id, None);
    assert!(failing.passed && failing.advanced, "{:?}", failing.report);
    assert_eq!(failing.standing.session.phase_id, "fix");

    // Before the fix the fix phase fails, naming the test at its line.
    let unfixed = validate(&svc, &id, None);
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
    let fixed = validate(&svc, &id, None);
    assert!(fixed.passed && fixed.advanced, "{:?}", fixed.report);
    let done = validate(&svc, &id, None);
    assert_eq!(done.standing.session.status, Status::Completed);
}

const GO_MOD: &str = "module demo\n\ngo 1.19\n";
const GO_BUGGY: &str = "package clamp\n\n// Clamp keeps v within lo..hi.\nfunc Clamp(v, lo, hi int) int {\n\tif v < lo {\n\t\treturn lo\n\t}\n\treturn v\n}\n";
const GO_TESTS: &str = "package clamp\n\nimport \"testing\"\n\nfunc TestInside(t *testing.T) {\n\tif Clamp(5, 0, 10) != 5 {\n\t\tt.Fatal(\"inside\")\n\t}\n}\n";
const GO_REGRESSION: &str = "\nfunc TestAboveMax(t *testing.T) {\n\tif got := Clamp(42, 0, 10); got != 10 {\n\t\tt.Fatalf(\"Clamp(42, 0, 10) = %d, want 10\", got)\n\t}\n}\n";

#[test]
fn go_bugfix_walks_end_to_end_with_real_go() {
    let ws = workspace(&[
        ("go.mod", GO_MOD),
        ("clamp.go", GO_BUGGY),
        ("clamp_test.go", GO_TESTS),
        ("checkrail.toml", "[exec]\nallow = [\"go\"]\n"),
    ]);
    let dir = ws.path();
    let svc = service(dir);
    let inputs: Map<String, Value> = [(
        "bug".to_owned(),
        json!("Clamp lets values above hi through"),
    )]
    .into_iter()
    .collect();
    let id = svc.start("go-bugfix", inputs).unwrap().session.id;
    let v = validate(
        &svc,
        &id,
        Some(
            json!({"root_cause": "Clamp never compares v with hi at all", "test_name": "TestAboveMax"}),
        ),
    );
    assert!(v.advanced, "{:?}", v.report);
    // No regression test yet: the failing-test phase does not pass.
    let v = validate(&svc, &id, None);
    assert!(
        !v.passed && codes(&v).contains(&"required-test-missing".to_owned()),
        "{:?}",
        codes(&v)
    );
    let tests = format!("{GO_TESTS}{GO_REGRESSION}");
    std::fs::write(dir.join("clamp_test.go"), &tests).unwrap();
    let v = validate(&svc, &id, None);
    assert!(
        v.advanced,
        "the regression test fails before the fix: {:?}",
        v.report
    );
    // The fix phase names the failing test at its line until it is fixed.
    let v = validate(&svc, &id, None);
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
    let v = validate(&svc, &id, None);
    assert!(v.advanced, "{:?}", v.report);
    assert_eq!(
        validate(&svc, &id, None).standing.session.status,
        Status::Completed
    );
}
