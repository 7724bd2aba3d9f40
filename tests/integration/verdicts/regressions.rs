//! Regression tests named in the evidence: the named test must fail before
//! the fix and pass after it, and cannot be deleted, skipped, weakened or
//! replaced by an unrelated failure; a refactor cannot silence lints or
//! drop tests.

use serde_json::{Value, json};

use super::CRATE_TOML;
use crate::support::{Harness, Session, Workspace, codes, service};

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
