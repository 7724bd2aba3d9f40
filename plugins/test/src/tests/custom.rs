//! `runner: custom`: any command that writes a JUnit report, judged per
//! outcome like the built-in runners.

use super::*;

#[test]
fn custom_junit_required_tests_per_outcome() {
    let ws = TestWorkspace::new().unwrap();
    let report = r#"<testsuite name="suite" errors="1">
  <testcase classname="Math" name="adds" file="spec/math.txt" line="2"><failure message="expected 3, got 4">stack</failure></testcase>
  <testcase classname="Math" name="subtracts" file="spec/math.txt" line="3"/>
  <testcase classname="Math" name="divides" file="spec/math.txt" line="4"><skipped message="pending"/></testcase>
  <testcase classname="Math" name="rounds" file="spec/math.txt" line="5"><error message="setup failed">boom</error></testcase>
</testsuite>"#;
    ws.write("spec/math.txt", "a\nb\nc\nd\ne\n").unwrap();
    ws.write("report.xml.in", report).unwrap();
    let config = |expect: &str| {
        json!({
            "runner": "custom",
            "command": {"program": "sh", "args": ["-c", "cp report.xml.in {scratch}/junit.xml; exit 1"]},
            "report": "{scratch}/junit.xml",
            "expect": expect,
            "required": ["adds", "subtracts", "divides", "rounds", "multiplies"]
        })
    };
    let out = ws
        .run_granting::<TestRule>(config("pass"), &["sh"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        [
            "required-test-failed",
            "required-test-failed",
            "required-test-not-run",
            "required-test-missing"
        ]
    );
    assert_eq!(
        out.findings[0].message,
        "required test `Math::adds` failed: expected 3, got 4"
    );
    assert_eq!(
        (out.findings[2].path.as_deref(), out.findings[2].line),
        (Some("spec/math.txt"), Some(4))
    );
    assert_eq!(
        out.findings[2].message,
        "required test `Math::divides` was skipped (pending), so it did not run"
    );

    let out = ws
        .run_granting::<TestRule>(config("fail"), &["sh"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        [
            "expected-failure",
            "required-test-errored",
            "required-test-passed",
            "required-test-not-run",
            "required-test-missing"
        ]
    );
    assert_eq!(
        (out.findings[2].path.as_deref(), out.findings[2].line),
        (Some("spec/math.txt"), Some(3))
    );

    // Errors the report counts but no test carries fail the check.
    ws.write(
        "report.xml.in",
        r#"<testsuite errors="2"><testcase classname="Math" name="adds"><failure message="no"/></testcase><testcase classname="Math" name="rounds"><error message="setup failed"/></testcase></testsuite>"#,
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(
            json!({
                "runner": "custom",
                "command": {"program": "sh", "args": ["-c", "cp report.xml.in {scratch}/junit.xml; exit 1"]},
                "report": "{scratch}/junit.xml",
                "expect": "fail",
                "required": ["adds"],
                "allowed_failures": ["rounds"]
            }),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        ["unlisted-errors", "expected-failure", "allowed-failure"]
    );
    let unlisted = &out.findings[0].message;
    assert!(
        unlisted.starts_with("`sh -c 'cp report.xml.in ")
            && unlisted.ends_with(
                "`'s report counts 1 error that no test in it carries: something failed outside the tests it names"
            ),
        "{unlisted}"
    );
}

#[test]
fn custom_command_with_a_junit_report() {
    let ws = TestWorkspace::new().unwrap();
    let report = r#"<?xml version="1.0"?>
<testsuite name="suite">
  <testcase classname="Math" name="adds" file="spec/math.txt" line="2"><failure message="expected 3, got 4">stack</failure></testcase>
  <testcase classname="Math" name="subtracts"/>
</testsuite>"#;
    ws.write("spec/math.txt", "a\nb\nc\n").unwrap();
    ws.write("report.xml.in", report).unwrap();
    let config = json!({
        "runner": "custom",
        "command": {"program": "sh", "args": ["-c", "cp report.xml.in {scratch}/junit.xml; exit 1"]},
        "report": "{scratch}/junit.xml"
    });
    let out = ws
        .run_granting::<TestRule>(config.clone(), &["sh"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["test-failed"]);
    let finding = &out.findings[0];
    assert_eq!(
        finding.message,
        "test `Math::adds` failed: expected 3, got 4"
    );
    assert_eq!(finding.path.as_deref(), Some("spec/math.txt"));
    assert_eq!(finding.line, Some(2));
    assert_eq!(out.summary, "1 passed, 1 failed (sh)");

    // A command that fails without writing a report is not a pass.
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "custom", "command": {"program": "sh", "args": ["-c", "echo boom >&2; exit 3"]}, "report": "nowhere.xml"}),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["report-missing"]);
    assert!(out.findings[0].message.contains("exit code 3"));
    assert!(out.findings[0].message.contains("boom"));

    // Nor is one that exits non-zero with an all-green report.
    ws.write(
        "green.xml",
        "<testsuite><testcase classname=\"a\" name=\"b\"/></testsuite>",
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "custom", "command": {"program": "sh", "args": ["-c", "exit 2"]}, "report": "green.xml"}),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["stale-report", "tool-failed"]);
    assert!(
        out.findings[1]
            .message
            .starts_with("`sh -c 'exit 2'` failed (exit code 2) without a failing test"),
        "{}",
        out.findings[1].message
    );
}
