//! Unit tests of the libtest parser.

use super::*;

/// Captured from `cargo test --no-fail-fast --color=never` (Rust 1.95)
/// on a crate with unit tests, an integration test and a doc-test.
const STDOUT: &str = r#"
running 5 tests
test tests::passes ... ok
test tests::returns_err ... FAILED
test tests::should_panic_but_does_not - should panic ... FAILED
test tests::slow ... ignored
test tests::adds_small_numbers ... FAILED

failures:

---- tests::returns_err stdout ----
Error: "bad thing"

---- tests::should_panic_but_does_not stdout ----
note: test did not panic as expected at src/lib.rs:36:8
---- tests::adds_small_numbers stdout ----
some output

thread 'tests::adds_small_numbers' (1944) panicked at src/lib.rs:17:9:
assertion `left == right` failed: 1 + 2 should be 3
  left: 4
 right: 3
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    tests::adds_small_numbers
    tests::returns_err
    tests::should_panic_but_does_not

test result: FAILED. 1 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.10s


running 2 tests
test integration_ok ... ok
test integration_panics ... FAILED

failures:

---- integration_panics stdout ----

thread 'integration_panics' (1950) panicked at tests/it.rs:4:27:
boom
second line
stack backtrace:
   0: __rustc::rust_begin_unwind
             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/panicking.rs:689:5
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.


failures:
    integration_panics

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.14s


running 1 test
test src/lib.rs - add (line 3) ... FAILED

failures:

---- src/lib.rs - add (line 3) stdout ----
Test executable failed (exit status: 101).

stderr:

thread 'main' (1970) panicked at src/lib.rs:5:1:
assertion `left == right` failed
  left: 4
 right: 3
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace



failures:
    src/lib.rs - add (line 3)

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.30s

"#;

fn find<'a>(parsed: &'a Parsed, name: &str) -> &'a TestCase {
    parsed
        .tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no test `{name}` in {parsed:#?}"))
}

#[test]
fn sums_result_lines_over_binaries_and_doc_tests() {
    let parsed = parse(STDOUT);
    assert_eq!(parsed.result_lines, 3);
    assert_eq!(
        parsed.counts,
        Counts {
            passed: 2,
            failed: 5,
            errored: 0,
            skipped: 1
        }
    );
    assert_eq!(parsed.tests.len(), 8);
    assert_eq!(parsed.unreported, 0);
    assert_eq!(find(&parsed, "tests::passes").status, Status::Passed);
    assert_eq!(find(&parsed, "tests::slow").status, Status::Skipped);
    assert_eq!(find(&parsed, "integration_ok").status, Status::Passed);
}

#[test]
fn a_panic_gives_message_and_location() {
    let parsed = parse(STDOUT);
    let test = find(&parsed, "tests::adds_small_numbers");
    assert_eq!(test.status, Status::Failed);
    assert_eq!(
        test.detail.as_deref(),
        Some("assertion `left == right` failed: 1 + 2 should be 3\n  left: 4\n right: 3")
    );
    assert_eq!(
        test.locations,
        [Location::new("src/lib.rs", Some(17), Some(9))]
    );

    let test = find(&parsed, "integration_panics");
    assert_eq!(test.detail.as_deref(), Some("boom\nsecond line"));
    assert_eq!(test.locations[0].path, "tests/it.rs");

    let doc = find(&parsed, "src/lib.rs - add (line 3)");
    assert_eq!(doc.status, Status::Failed);
    assert_eq!(
        doc.detail.as_deref(),
        Some("assertion `left == right` failed\n  left: 4\n right: 3")
    );
    assert_eq!(doc.locations[0].line, Some(5));
}

#[test]
fn failures_without_a_panic_keep_their_text() {
    let parsed = parse(STDOUT);
    let err = find(&parsed, "tests::returns_err");
    assert_eq!(err.detail.as_deref(), Some("Error: \"bad thing\""));
    assert!(err.locations.is_empty());
    let should = find(&parsed, "tests::should_panic_but_does_not");
    assert_eq!(should.status, Status::Failed);
    assert_eq!(
        should.detail.as_deref(),
        Some("note: test did not panic as expected at src/lib.rs:36:8")
    );
    assert_eq!(
        should.locations,
        [Location::new("src/lib.rs", Some(36), Some(8))]
    );
}

#[test]
fn old_style_panics_and_quiet_output() {
    let out = "running 2 tests\n..F\nfailures:\n\n---- parser::empty stdout ----\nthread 'parser::empty' panicked at 'called `Option::unwrap()` on a `None` value', src/parser.rs:10:5\n\nfailures:\n    parser::empty\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";
    let parsed = parse(out);
    assert_eq!(parsed.tests.len(), 1);
    let test = &parsed.tests[0];
    assert_eq!(test.name, "parser::empty");
    assert_eq!(test.status, Status::Failed);
    assert_eq!(
        test.detail.as_deref(),
        Some("called `Option::unwrap()` on a `None` value")
    );
    assert_eq!(
        test.locations,
        [Location::new("src/parser.rs", Some(10), Some(5))]
    );
    assert_eq!(parsed.counts.passed, 1);
}

#[test]
fn a_crashed_binary_leaves_unreported_tests() {
    let out = "\nrunning 2 tests\ntest ok1 ... ok\n\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
    let parsed = parse(out);
    assert_eq!(parsed.result_lines, 1);
    assert_eq!(parsed.unreported, 1);
    assert_eq!(parsed.counts.passed, 1);
    let stderr = "     Running unittests src/lib.rs (target/debug/deps/crash-13c7)\nerror: test failed, to rerun pass `--lib`\n\nCaused by:\n  process didn't exit successfully: `/w/target/debug/deps/crash-13c7` (signal: 6, SIGABRT: process abort signal)\n   Doc-tests crash\nerror: 1 target failed:\n    `--lib`\n";
    assert_eq!(
        crashes(stderr),
        [Crash {
            target: Some("--lib".into()),
            reason: "`/w/target/debug/deps/crash-13c7` (signal: 6, SIGABRT: process abort signal)"
                .into()
        }]
    );
    assert!(compile_errors(stderr).is_empty());
}

/// Captured from `cargo test --no-fail-fast --color=never fails` (Rust
/// 1.95): an ignored test with a reason, a name filter, and a doc-test
/// that did not compile.
const FILTERED: &str = r#"
running 2 tests
test slow ... ignored, needs the network
test fails ... FAILED

failures:

---- fails stdout ----

thread 'fails' (12716) panicked at src/lib.rs:2:14:
assertion `left == right` failed
  left: 1
 right: 2

failures:
    fails

test result: FAILED. 0 passed; 1 failed; 1 ignored; 0 measured; 3 filtered out; finished in 0.07s


running 1 test
test src/lib.rs - f (line 1) ... FAILED

failures:

---- src/lib.rs - f (line 1) stdout ----
error[E0308]: mismatched types
 --> src/lib.rs:2:14
  |
2 | let x: u32 = "a";
  |        ---   ^^^ expected `u32`, found `&str`
  |        |
  |        expected due to this

error: aborting due to 1 previous error

For more information about this error, try `rustc --explain E0308`.
Couldn't compile the test.

failures:
    src/lib.rs - f (line 1)

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 2 filtered out; finished in 0.03s
"#;

#[test]
fn filters_ignore_reasons_and_uncompiled_doc_tests() {
    let parsed = parse(FILTERED);
    assert_eq!(parsed.filtered_out, 5);
    let slow = find(&parsed, "slow");
    assert_eq!(slow.status, Status::Skipped);
    assert_eq!(slow.detail.as_deref(), Some("needs the network"));
    let fails = find(&parsed, "fails");
    assert!(fails.failed_at_run_time());

    // A doc-test that did not compile never ran: an error, not a failure.
    let doc = find(&parsed, "src/lib.rs - f (line 1)");
    assert_eq!(doc.status, Status::Errored);
    assert!(!doc.failed_at_run_time());
    assert_eq!(
        doc.detail.as_deref(),
        Some("it did not compile: error[E0308]: mismatched types")
    );
    assert_eq!(
        doc.locations,
        [Location::new("src/lib.rs", Some(2), Some(14))]
    );
    assert_eq!(
        parsed.counts,
        Counts {
            passed: 0,
            failed: 1,
            errored: 1,
            skipped: 1
        }
    );
    assert_eq!(parse(STDOUT).filtered_out, 0);
    assert_eq!(find(&parse(STDOUT), "tests::slow").detail, None);
}

#[test]
fn a_failed_build_is_recognized() {
    assert!(build_failed(
        "error[E0308]: mismatched types\nerror: could not compile `cx` (test \"it\") due to 1 previous error\n"
    ));
    assert!(!build_failed("error: test failed, to rerun pass `--lib`\n"));
}

#[test]
fn compile_errors_with_locations_once_each() {
    let stderr = r#"   Compiling calc v0.1.0 (/tmp/samples/rs)
error[E0425]: cannot find value `undefined_thing` in this scope
  --> src/lib.rs:38:26
   |
38 | pub fn broken() -> i32 { undefined_thing + 1 }
   |                          ^^^^^^^^^^^^^^^ not found in this scope

error[E0308]: mismatched types
  --> src/lib.rs:39:30
   |
39 | pub fn broken2() -> String { 5 }
   |                     ------   ^ expected `String`, found integer

error: expected one of `!` or `::`, found `x`
 --> tests/it.rs:1:5
  |
error[E0425]: cannot find value `undefined_thing` in this scope
  --> src/lib.rs:38:26
Some errors have detailed explanations: E0308, E0425.
For more information about an error, try `rustc --explain E0308`.
error: could not compile `calc` (lib test) due to 2 previous errors
warning: build failed, waiting for other jobs to finish...
error: could not compile `calc` (lib) due to 2 previous errors
error: 2 targets failed:
"#;
    let errors = compile_errors(stderr);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_eq!(errors[0].code.as_deref(), Some("E0425"));
    assert_eq!(
        errors[0].message,
        "cannot find value `undefined_thing` in this scope"
    );
    assert_eq!(
        errors[0].location,
        Some(Location::new("src/lib.rs", Some(38), Some(26)))
    );
    assert_eq!(errors[1].code.as_deref(), Some("E0308"));
    assert_eq!(errors[2].code, None);
    assert_eq!(
        errors[2].location,
        Some(Location::new("tests/it.rs", Some(1), Some(5)))
    );
}
