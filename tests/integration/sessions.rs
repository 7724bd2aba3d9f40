//! Sessions through the service API: transitions, refusals, pinning,
//! approval gates, concurrent validation.

use checkrail::config::ApprovalChannel;
use checkrail::engine::Hooks;
use checkrail::service::{Decision, ValidateRequest};
use checkrail::session::{Control, Status};
use checkrail::{Checkrail, Error, Options};
use serde_json::{Map, json};

use crate::support::{Session, Sessions, Workspace, inputs, service};

const GATED: &str = "id: gated
version: 1.0.0
name: Gated
description: d
inputs:
  ticket: { description: ticket id, required: true }
phases:
  - id: write
    name: Write
    guidance: write notes.md
    checkpoint:
      evidence_schema:
        type: object
        required: [files]
        properties:
          files: { type: array, items: { type: string, format: workspace-path } }
      rules:
        - rule: file-exists
          config: { paths: [notes.md] }
      approval: { prompt: Are the notes right? }
  - id: ship
    name: Ship
    guidance: done
";

fn decision(approve: bool, channel: ApprovalChannel) -> Decision {
    Decision {
        approve,
        by: "tester".to_owned(),
        channel,
        detail: None,
        note: Some("looks right".to_owned()),
    }
}

#[test]
fn a_session_runs_through_a_workflow() {
    let ws = Workspace::new().build();
    let svc = service(ws.path());
    let start = svc.start("project-basics", Map::new()).unwrap();
    let id = start.session.id.clone();
    assert_eq!(start.phase.as_ref().unwrap().id, "readme");
    assert!(
        start.phase.unwrap().checkpoint.unwrap().rules[0]
            .rule
            .starts_with("file-exists")
    );

    let failed = svc
        .validate(&ValidateRequest::new(&id), &Hooks::default())
        .unwrap();
    assert!(!failed.passed && !failed.advanced);
    let report = failed.report.unwrap();
    assert_eq!(
        report.rules[0].findings[0].path.as_deref(),
        Some("README.md")
    );
    assert_eq!(failed.standing.session.attempts, 1);

    std::fs::write(ws.path().join("README.md"), "# Demo\n\n## Usage\nrun it\n").unwrap();
    let dry = svc
        .validate(&ValidateRequest::new(&id).dry_run(), &Hooks::default())
        .unwrap();
    assert!(dry.passed && !dry.advanced);
    assert_eq!(
        svc.next(&id).unwrap().session.phase_id,
        "readme",
        "dry run must not move"
    );

    let passed = svc
        .validate(
            &ValidateRequest::new(&id).phase("readme"),
            &Hooks::default(),
        )
        .unwrap();
    assert!(passed.passed && passed.advanced);
    assert_eq!(passed.standing.session.phase_id, "legal-and-history");
    assert_eq!(passed.standing.session.attempts, 0);

    // The same call again does not advance a second time.
    let again = svc
        .validate(
            &ValidateRequest::new(&id).phase("readme"),
            &Hooks::default(),
        )
        .unwrap();
    assert!(!again.advanced && again.report.is_none());
    assert!(again.standing.next_step.contains("already passed"));
    assert_eq!(svc.next(&id).unwrap().session.phase_id, "legal-and-history");

    assert_eq!(
        Session::of(&svc, &id).event_kinds(),
        ["started", "validation_failed", "validated", "advanced"]
    );
}

#[test]
fn control_transitions_and_refusals() {
    let ws = Workspace::new()
        .file("README.md", "# x\n\n## Usage\n")
        .build();
    let svc = service(ws.path());
    let id = Session::start(&svc, "project-basics").id;

    let paused = svc.control(&id, Control::Pause, None).unwrap();
    assert_eq!(paused.session.status, Status::Paused);
    let refused = svc
        .validate(&ValidateRequest::new(&id), &Hooks::default())
        .unwrap_err();
    assert!(
        refused.to_string().contains("is paused; resume it first"),
        "{refused}"
    );
    assert!(
        svc.control(&id, Control::Pause, None)
            .unwrap_err()
            .to_string()
            .contains("cannot pause a session that is paused")
    );
    assert_eq!(
        svc.control(&id, Control::Resume, None)
            .unwrap()
            .session
            .status,
        Status::Active
    );

    svc.validate(&ValidateRequest::new(&id), &Hooks::default())
        .unwrap();
    let err = svc.control(&id, Control::Rollback, None).unwrap_err();
    assert!(
        err.to_string().contains("rollback needs `to_phase`"),
        "{err}"
    );
    let err = svc
        .control(&id, Control::Rollback, Some("done"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("can only roll back to an earlier phase"),
        "{err}"
    );
    let back = svc.control(&id, Control::Rollback, Some("readme")).unwrap();
    assert_eq!(back.session.phase_id, "readme");

    let retried = svc.control(&id, Control::Retry, None).unwrap();
    assert_eq!(retried.session.attempts, 0);

    assert_eq!(
        svc.control(&id, Control::Abandon, None)
            .unwrap()
            .session
            .status,
        Status::Abandoned
    );
    let err = svc
        .validate(&ValidateRequest::new(&id), &Hooks::default())
        .unwrap_err();
    assert!(err.to_string().contains("was abandoned"), "{err}");
    assert!(matches!(
        svc.next("nope"),
        Err(Error::UnknownSession { .. })
    ));
}

#[test]
fn human_gate_evidence_checks_and_pinning() {
    let ws = Workspace::new().workflow(GATED).build();
    let svc = service(ws.path());
    let err = svc.start("gated", Map::new()).unwrap_err();
    assert!(
        err.to_string().contains("missing required input `ticket`"),
        "{err}"
    );
    let err = svc
        .start("gated", inputs(&[("ticket", "1"), ("tciket", "2")]))
        .unwrap_err();
    assert!(err.to_string().contains("unknown input `tciket`"), "{err}");
    let id = Session::start_with(&svc, "gated", &[("ticket", "T-1")]).id;

    // Editing the workflow now must not change this session's checkpoint.
    std::fs::write(
        ws.path().join(".checkrail/workflows/gated.yaml"),
        GATED.replace("notes.md]", "other.md]"),
    )
    .unwrap();

    std::fs::write(ws.path().join("notes.md"), "n").unwrap();
    let bad = svc
        .validate(
            &ValidateRequest::new(&id).evidence(json!({"files": ["../../etc/passwd"]})),
            &Hooks::default(),
        )
        .unwrap();
    assert!(!bad.passed);
    let violation = &bad.report.unwrap().evidence_violations[0];
    assert_eq!(violation.pointer, "/files/0");
    assert!(
        violation.message.contains("leads outside the workspace"),
        "{}",
        violation.message
    );

    let huge = json!({"files": ["x".repeat(2 << 20)]});
    let err = svc
        .validate(
            &ValidateRequest::new(&id).evidence(huge.clone()),
            &Hooks::default(),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("over the limit of 1048576 bytes"),
        "{err}"
    );

    let ok = svc
        .validate(
            &ValidateRequest::new(&id).evidence(json!({"files": ["notes.md"]})),
            &Hooks::default(),
        )
        .unwrap();
    assert!(
        ok.passed && !ok.advanced,
        "pinned checkpoint checks notes.md"
    );
    assert_eq!(ok.standing.session.status, Status::AwaitingApproval);
    assert!(ok.standing.next_step.contains("checkrail session approve"));
    let err = svc
        .validate(
            &ValidateRequest::new(&id).evidence(json!({"files": []})),
            &Hooks::default(),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("an agent cannot approve it"),
        "{err}"
    );

    // Only the channels the pinned config allows: terminal by default.
    let elicited = svc
        .decide(&id, &decision(true, ApprovalChannel::Elicitation))
        .unwrap_err()
        .to_string();
    assert!(
        elicited.contains("does not accept approvals through `elicitation`"),
        "{elicited}"
    );
    let approved = svc
        .decide(&id, &decision(true, ApprovalChannel::Terminal))
        .unwrap();
    assert_eq!(approved.session.phase_id, "ship");
    let approval = svc
        .events(&id)
        .unwrap()
        .into_iter()
        .find(|e| e.kind() == "approved")
        .unwrap();
    assert_eq!(approval.details()["channel"], "terminal");
    assert_eq!(approval.details()["by"], "tester");
    assert!(
        svc.decide(&id, &decision(true, ApprovalChannel::Terminal))
            .unwrap_err()
            .to_string()
            .contains("not waiting for approval")
    );
    let done = svc
        .validate(&ValidateRequest::new(&id), &Hooks::default())
        .unwrap();
    assert_eq!(done.standing.session.status, Status::Completed);
}

#[test]
fn concurrent_validations_never_advance_twice() {
    let ws = Workspace::new()
        .file("README.md", "# x\n\n## Usage\n")
        .build();
    let sessions = Sessions::on(ws.path());
    for _ in 0..5 {
        let id = Session::start(&sessions.open(), "project-basics").id;
        let handles: Vec<_> = (0..4)
            .map(|_| {
                // One store (one SQLite connection) per thread, as separate
                // server processes would have.
                let svc = sessions.open();
                let id = id.clone();
                std::thread::spawn(move || {
                    svc.validate(&ValidateRequest::new(&id), &Hooks::default())
                        .unwrap()
                        .advanced
                })
            })
            .collect();
        let advanced = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|a| *a)
            .count();
        let svc = sessions.open();
        let phase = svc.next(&id).unwrap().session.phase_id;
        assert_eq!(advanced, 1, "exactly one validation advances");
        assert_eq!(phase, "legal-and-history", "advanced exactly one phase");
        let advances = svc
            .events(&id)
            .unwrap()
            .iter()
            .filter(|e| e.kind() == "advanced")
            .count();
        assert_eq!(advances, 1);
    }
}

#[test]
fn inputs_fill_guidance_and_rule_configs() {
    const TEMPLATED: &str = "id: templated
version: 1.0.0
name: T
description: d
inputs:
  file: { description: the file to write, required: true }
phases:
  - id: write
    name: Write
    guidance: Write {{inputs.file}}.
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [\"{{inputs.file}}\"] }
";
    let ws = Workspace::new().workflow(TEMPLATED).build();
    let svc = service(ws.path());
    let start = svc
        .start("templated", inputs(&[("file", "NOTES.md")]))
        .unwrap();
    assert_eq!(start.phase.as_ref().unwrap().guidance, "Write NOTES.md.");
    let failed = svc
        .validate(&ValidateRequest::new(&start.session.id), &Hooks::default())
        .unwrap();
    let report = failed.report.unwrap();
    assert_eq!(
        report.rules[0].findings[0].path.as_deref(),
        Some("NOTES.md")
    );

    let bad = Workspace::new()
        .workflow(&TEMPLATED.replace("{{inputs.file}}.", "{{inputs.flie}}."))
        .build();
    let err = Checkrail::new(Options {
        workflow_dirs: vec![bad.path().join(".checkrail/workflows")],
        ..Options::default()
    })
    .unwrap()
    .catalog()
    .problems()
    .iter()
    .map(ToString::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    assert!(
        err.contains("/phases/0/guidance: refers to `{{inputs.flie}}`"),
        "{err}"
    );
}
