//! `runner: cargo`: failing tests named and placed, required tests,
//! `min_passed`, allowed failures, filters, `expect: fail`, compile errors
//! and crashing test binaries.

use super::*;

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
