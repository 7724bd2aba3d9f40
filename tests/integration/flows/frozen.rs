//! Files frozen since a phase: one whose phase was skipped is not passed
//! unchecked, and one that changes while its phase is checked is not
//! recorded as the reference.

use serde_json::json;

use crate::support::{Session, Workspace, service};

#[test]
fn files_frozen_since_a_skipped_phase_do_not_pass_unchecked() {
    // `write-tests` can be skipped by the agent's own plan; a checkpoint
    // freezing files since it must not then pass without comparing.
    let flow = "id: skip-freeze
version: 1.0.0
name: Skip freeze
description: freezing since a phase that can be skipped
phases:
  - id: plan
    name: Plan
    guidance: plan
    checkpoint:
      evidence_schema: { type: object, required: [tests], properties: { tests: { type: boolean } } }
  - id: write-tests
    name: Write tests
    guidance: write tests
    when: evidence.plan.tests
  - id: fix
    name: Fix
    guidance: fix
    checkpoint:
      frozen: { since: write-tests, paths: [\"tests/**\"] }
";

    let ws = Workspace::new()
        .workflow(flow)
        .file("tests/a.txt", "a")
        .build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "skip-freeze");
    let v = session.validate_with(json!({"tests": false}));
    assert_eq!(v.standing.session.phase_id, "fix");
    std::fs::write(ws.path().join("tests/a.txt"), "weakened").unwrap();
    let v = session.validate();
    assert!(!v.passed, "{:?}", v.report);
    let report = v.report.unwrap();
    let finding = &report
        .rules
        .iter()
        .find(|r| r.rule == "checkrail/frozen-paths")
        .unwrap()
        .findings[0];
    assert_eq!(finding.code.as_deref(), Some("no-snapshot"));
    assert!(
        finding.message.contains("did not pass in this session"),
        "{}",
        finding.message
    );
}

#[test]
fn files_frozen_since_a_phase_that_change_while_it_is_checked_do_not_pass() {
    // The reference a later phase freezes is what the rules judged: a file
    // swapped while they run fails the check instead of being recorded.
    let flow = "id: swap
version: 1.0.0
name: Swap
description: a file changes during the check
phases:
  - id: write-tests
    name: Write tests
    guidance: write tests
    checkpoint:
      rules:
        - rule: test
          config: { runner: custom, report: '{scratch}/r.xml', command: { program: sh, args: [swap.sh, '{scratch}/r.xml'] } }
  - id: fix
    name: Fix
    guidance: fix
    checkpoint:
      frozen: { since: write-tests, paths: [\"tests/**\"] }
";

    let script = "echo swapped >> tests/a.txt\nprintf '<testsuite tests=\"1\"><testcase name=\"t\" classname=\"c\"/></testsuite>' > \"$1\"\n";
    let ws = Workspace::new()
        .workflow(flow)
        .file("tests/a.txt", "a\n")
        .file("swap.sh", script)
        .grant("sh")
        .build();
    let svc = service(ws.path());
    let v = Session::start(&svc, "swap").validate();
    assert!(!v.passed && !v.advanced, "{:?}", v.report);
    let report = v.report.unwrap();
    let stable = report
        .rules
        .iter()
        .find(|r| r.rule == "checkrail/stable-files")
        .unwrap();
    assert_eq!(stable.findings[0].path.as_deref(), Some("tests/a.txt"));
    assert_eq!(
        stable.findings[0].code.as_deref(),
        Some("changed-during-check")
    );
}
