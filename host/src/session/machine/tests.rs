//! The state machine without SQLite or wasm: every construct, transition
//! and refusal.

use serde_json::json;

use super::*;

fn workflow(phases: &str) -> Workflow {
    let text = format!(
        "id: w\nversion: 0.1.0\nname: W\ndescription: d\ninputs:\n  mode:\n    description: m\n    default: a\nphases:\n{phases}"
    );
    crate::workflow::parse(&text, "w.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn begin(workflow: &Workflow, inputs: Value) -> (Session, Vec<NewEvent>) {
    let mut session = Session {
        id: "s".to_owned(),
        workflow_id: workflow.id.clone(),
        workflow_version: workflow.version.to_string(),
        workflow_digest: String::new(),
        status: Status::Active,
        phase_index: 0,
        phase_id: workflow.phases[0].id.clone(),
        paused_from: None,
        attempts: 0,
        inputs: inputs.as_object().cloned().unwrap_or_default(),
        evidence: Map::new(),
        facts: Map::new(),
        snapshots: Map::new(),
        judging: Map::new(),
        provenance: Value::Null,
        created_at: String::new(),
        updated_at: String::new(),
        revision: 1,
        iteration: None,
        loops: Default::default(),
        path: Vec::new(),
        tasks_done: Default::default(),
        artifacts: Default::default(),
        running_check: None,
        last_check: None,
    };
    let events = session.apply(Command::Begin, workflow).unwrap();
    (session, events)
}

fn checked(session: &Session, passed: bool, evidence: Value) -> Command<'static> {
    Command::Validated {
        at: session.cursor(),
        checked: Box::new(Checked {
            phase: session.phase_id.clone(),
            passed,
            evidence,
            ..Checked::default()
        }),
    }
}

/// Validates the current phase and returns the kinds of the events.
fn pass(session: &mut Session, workflow: &Workflow, evidence: Value) -> Vec<String> {
    let command = checked(session, true, evidence);
    kinds(&session.apply(command, workflow).unwrap())
}

fn fail(session: &mut Session, workflow: &Workflow) -> Vec<String> {
    let command = checked(session, false, Value::Null);
    kinds(&session.apply(command, workflow).unwrap())
}

fn kinds(events: &[NewEvent]) -> Vec<String> {
    events.iter().map(|e| e.data.kind().to_owned()).collect()
}

fn human(by: &str) -> HumanDecision {
    HumanDecision {
        by: by.to_owned(),
        channel: crate::config::ApprovalChannel::Terminal,
        detail: None,
        note: None,
    }
}

/// An event's details as the store writes them.
fn stored(event: &NewEvent) -> Value {
    event.data.to_stored().1
}

fn control(action: Control, to: Option<&str>, iteration: Option<u32>) -> Command<'_> {
    Command::Control {
        action,
        to_phase: to,
        iteration,
    }
}

fn at(session: &Session) -> (String, Option<u32>, Status) {
    (session.phase_id.clone(), session.iteration, session.status)
}

/// Phases `a`, `b` and `c`, each with a name and guidance only.
fn three_phases() -> Workflow {
    workflow(&format!(
        "{}{}{}",
        phase("a", ""),
        phase("b", ""),
        phase("c", "")
    ))
}

fn phase(id: &str, extra: &str) -> String {
    format!("  - id: {id}\n    name: {id}\n    guidance: g\n{extra}")
}

const EVIDENCE: &str = "    checkpoint:\n      evidence_schema: {type: object, properties: {tasks: {type: array}, api: {type: boolean}, ok: {type: boolean}}}\n";

#[test]
fn a_straight_line_advances_fails_and_completes() {
    let wf = workflow(&format!("{}{}", phase("a", EVIDENCE), phase("b", "")));
    let (mut s, events) = begin(&wf, json!({}));
    assert!(events.is_empty());
    assert_eq!(fail(&mut s, &wf), ["validation_failed"]);
    assert_eq!(s.attempts, 1);
    assert_eq!(
        pass(&mut s, &wf, json!({"ok": true})),
        ["validated", "advanced"]
    );
    assert_eq!(at(&s), ("b".to_owned(), None, Status::Active));
    assert_eq!(s.attempts, 0);
    assert_eq!(s.evidence["a"], json!({"ok": true}));
    assert_eq!(pass(&mut s, &wf, Value::Null), ["validated", "completed"]);
    assert_eq!(s.status, Status::Completed);
    assert_eq!(s.path.len(), 2);
    assert!(s.path.iter().all(|p| p.outcome == Outcome::Passed));
}

#[test]
fn false_conditions_skip_phases_with_the_reason() {
    let wf = workflow(&format!(
        "{}{}{}{}",
        phase("first", "    when: inputs.mode == 'b'\n"),
        phase("plan", EVIDENCE),
        phase("migrate", "    when: evidence.plan.ok\n"),
        phase("last", "    when: inputs.mode == 'a'\n"),
    ));
    let (mut s, events) = begin(&wf, json!({"mode": "a"}));
    assert_eq!(kinds(&events), ["skipped"]);
    assert_eq!(s.phase_id, "plan");
    assert_eq!(s.path[0].outcome, Outcome::Skipped);
    assert_eq!(
        s.path[0].reason.as_deref(),
        Some("condition `inputs.mode == 'b'` is false")
    );
    assert_eq!(
        pass(&mut s, &wf, json!({"ok": false})),
        ["validated", "skipped", "advanced"]
    );
    assert_eq!(s.phase_id, "last");
    // A true condition runs the phase.
    let (mut s, _) = begin(&wf, json!({"mode": "a"}));
    pass(&mut s, &wf, json!({"ok": true}));
    assert_eq!(s.phase_id, "migrate");
    // Skipping the last phase completes the session.
    let wf = workflow(&format!(
        "{}{}",
        phase("a", ""),
        phase("z", "    when: inputs.mode == 'b'\n")
    ));
    let (mut s, _) = begin(&wf, json!({"mode": "a"}));
    assert_eq!(
        pass(&mut s, &wf, Value::Null),
        ["validated", "skipped", "completed"]
    );
    assert_eq!(s.status, Status::Completed);
}

#[test]
fn a_condition_that_cannot_be_decided_refuses_and_changes_nothing() {
    let wf = workflow(&format!(
        "{}{}",
        phase("plan", EVIDENCE),
        phase("b", "    when: evidence.plan.ok\n")
    ));
    let (s, _) = begin(&wf, json!({}));
    let mut copy = s.clone();
    // Evidence without `ok`: the condition has nothing to read.
    let err = copy
        .apply(checked(&s, true, json!({"api": true})), &wf)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the condition of phase `b` cannot be decided"),
        "{err}"
    );
    assert!(err.contains("nothing was recorded"), "{err}");
}

#[test]
fn branches_jump_forward_and_record_what_they_skip() {
    let wf = workflow(&format!(
        "{}{}{}{}",
        phase(
            "design",
            &format!(
                "{EVIDENCE}    next:\n      - when: '!evidence.design.api'\n        goto: release\n"
            )
        ),
        phase("docs", ""),
        phase("changelog", ""),
        phase("release", ""),
    ));
    let (mut s, _) = begin(&wf, json!({}));
    assert_eq!(
        pass(&mut s, &wf, json!({"api": false})),
        ["validated", "skipped", "skipped", "advanced"]
    );
    assert_eq!(s.phase_id, "release");
    let skipped: Vec<&str> = s
        .path
        .iter()
        .filter(|p| p.outcome == Outcome::Skipped)
        .map(|p| p.phase.as_str())
        .collect();
    assert_eq!(skipped, ["docs", "changelog"]);
    assert_eq!(
        s.path[1].reason.as_deref(),
        Some("phase `design` branched to `release`")
    );
    // No branch applies: the next phase follows.
    let (mut s, _) = begin(&wf, json!({}));
    pass(&mut s, &wf, json!({"api": true}));
    assert_eq!(s.phase_id, "docs");
}

fn foreach_workflow() -> Workflow {
    workflow(&format!(
        "{}  - id: tasks\n    foreach: evidence.plan.tasks\n    max_iterations: 3\n    phases:\n      - id: implement\n        name: I\n        guidance: g\n        checkpoint:\n          evidence_schema: {{type: object}}\n      - id: test\n        name: T\n        guidance: g\n        when: item.tested\n{}",
        phase("plan", EVIDENCE),
        phase("finish", ""),
    ))
}

#[test]
fn foreach_runs_the_group_once_per_item_with_its_own_records() {
    let wf = foreach_workflow();
    let (mut s, _) = begin(&wf, json!({}));
    let tasks = json!({"tasks": [{"name": "a", "tested": true}, {"name": "b", "tested": false}]});
    assert_eq!(
        pass(&mut s, &wf, tasks),
        ["validated", "iteration_started", "advanced"]
    );
    assert_eq!(at(&s), ("implement".to_owned(), Some(1), Status::Active));
    assert_eq!(
        s.item(&wf, s.phase_index),
        Some(&json!({"name": "a", "tested": true}))
    );
    fail(&mut s, &wf);
    assert_eq!(s.attempts, 1);
    pass(&mut s, &wf, json!({"ok": true}));
    assert_eq!(at(&s), ("test".to_owned(), Some(1), Status::Active));
    assert_eq!(
        s.evidence_view(&wf, s.phase_index)["implement"],
        json!({"ok": true})
    );
    // The last phase of the group passed: the next item begins, with fresh
    // attempts and evidence; `test` is skipped for an untested item.
    assert_eq!(
        pass(&mut s, &wf, Value::Null),
        ["validated", "iteration_started", "advanced"]
    );
    assert_eq!(at(&s), ("implement".to_owned(), Some(2), Status::Active));
    assert!(
        !s.evidence_view(&wf, s.phase_index)
            .contains_key("implement")
    );
    assert_eq!(
        pass(&mut s, &wf, json!({"ok": false})),
        ["validated", "skipped", "advanced"]
    );
    assert_eq!(at(&s), ("finish".to_owned(), None, Status::Active));
    assert!(s.evidence.contains_key("implement#1") && s.evidence.contains_key("implement#2"));
    // After the loop, its evidence is a list, one entry per iteration.
    let view = s.evidence_view(&wf, s.phase_index);
    assert_eq!(view["tasks"][1]["implement"], json!({"ok": false}));
    let steps: Vec<(String, Option<u32>, Outcome)> = s
        .path
        .iter()
        .map(|p| (p.phase.clone(), p.iteration, p.outcome))
        .collect();
    assert_eq!(
        steps,
        [
            ("plan".to_owned(), None, Outcome::Passed),
            ("implement".to_owned(), Some(1), Outcome::Passed),
            ("test".to_owned(), Some(1), Outcome::Passed),
            ("implement".to_owned(), Some(2), Outcome::Passed),
            ("test".to_owned(), Some(2), Outcome::Skipped),
        ]
    );
}

#[test]
fn foreach_skips_an_empty_list_and_refuses_bad_ones() {
    let wf = foreach_workflow();
    let (mut s, _) = begin(&wf, json!({}));
    assert_eq!(
        pass(&mut s, &wf, json!({"tasks": []})),
        ["validated", "skipped", "advanced"]
    );
    assert_eq!(s.phase_id, "finish");
    assert_eq!(s.path[1].phase, "tasks");
    assert!(
        s.path[1]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("yields no items")
    );

    let (s, _) = begin(&wf, json!({}));
    let too_many = json!({"tasks": [1, 2, 3, 4]});
    let err = s
        .clone()
        .apply(checked(&s, true, too_many), &wf)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("more than its max_iterations (3); submit at most 3"),
        "{err}"
    );
    let err = s
        .clone()
        .apply(checked(&s, true, json!({"tasks": "x"})), &wf)
        .unwrap_err()
        .to_string();
    assert!(err.contains("must yield a list"), "{err}");
}

fn repeat_workflow() -> Workflow {
    workflow(&format!(
        "  - id: polish\n    repeat: true\n    max_iterations: 2\n    phases:\n      - id: draft\n        name: D\n        guidance: g\n      - id: review\n        name: R\n        guidance: g\n        checkpoint: {{}}\n{}",
        phase("ship", ""),
    ))
}

#[test]
fn repeat_runs_the_group_again_until_its_last_checkpoint_passes() {
    let wf = repeat_workflow();
    let (mut s, events) = begin(&wf, json!({}));
    assert_eq!(kinds(&events), ["iteration_started"]);
    assert_eq!(at(&s), ("draft".to_owned(), Some(1), Status::Active));
    pass(&mut s, &wf, Value::Null);
    assert_eq!(
        fail(&mut s, &wf),
        ["validation_failed", "iteration_started", "advanced"]
    );
    assert_eq!(at(&s), ("draft".to_owned(), Some(2), Status::Active));
    assert_eq!(s.path.last().map(|p| p.outcome), Some(Outcome::Repeated));
    pass(&mut s, &wf, Value::Null);
    // The last iteration: a failure is one more attempt at the phase.
    assert_eq!(fail(&mut s, &wf), ["validation_failed"]);
    assert_eq!(at(&s), ("review".to_owned(), Some(2), Status::Active));
    assert_eq!(s.attempts, 1);
    assert_eq!(
        pass(&mut s, &wf, json!({"ok": true})),
        ["validated", "advanced"]
    );
    assert_eq!(at(&s), ("ship".to_owned(), None, Status::Active));
    assert_eq!(s.loops["polish"].iteration, 2);
}

#[test]
fn gates_wait_for_a_human_decision() {
    let wf = workflow(&format!(
        "{}{}",
        phase("a", "    checkpoint:\n      approval: {prompt: ok?}\n"),
        phase("b", "")
    ));
    let (mut s, _) = begin(&wf, json!({}));
    let mut command = checked(&s, true, Value::Null);
    if let Command::Validated { checked, .. } = &mut command {
        checked.approval = true;
    }
    assert_eq!(
        kinds(&s.apply(command, &wf).unwrap()),
        ["validated", "approval_requested"]
    );
    assert_eq!(s.status, Status::AwaitingApproval);
    // Validation is refused by the service; a stale result is ignored here.
    assert_eq!(
        fail(&mut s, &wf),
        ["validation_failed", "stale_validation_ignored"]
    );
    let reject = Command::Decide {
        approve: false,
        record: human("h"),
    };
    assert_eq!(kinds(&s.apply(reject, &wf).unwrap()), ["rejected"]);
    assert_eq!(at(&s), ("a".to_owned(), None, Status::Active));
    let approve = Command::Decide {
        approve: true,
        record: human("h"),
    };
    let err = s
        .clone()
        .apply(approve.clone(), &wf)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not waiting for approval"), "{err}");
    s.status = Status::AwaitingApproval;
    assert_eq!(
        kinds(&s.apply(approve, &wf).unwrap()),
        ["approved", "advanced"]
    );
    assert_eq!(s.phase_id, "b");
}

#[test]
fn a_result_for_a_phase_the_session_left_is_ignored() {
    let wf = workflow(&format!("{}{}", phase("a", ""), phase("b", "")));
    let (mut s, _) = begin(&wf, json!({}));
    let late = checked(&s, true, Value::Null);
    pass(&mut s, &wf, Value::Null);
    assert_eq!(
        kinds(&s.apply(late, &wf).unwrap()),
        ["validated", "stale_validation_ignored"]
    );
    assert_eq!(s.phase_id, "b");
}

#[test]
fn baselines_and_snapshots_follow_the_iteration() {
    let wf = foreach_workflow();
    let (mut s, _) = begin(&wf, json!({}));
    let mut facts = Map::new();
    facts.insert("test".to_owned(), json!({"n": 0}));
    let command = Command::Validated {
        at: s.cursor(),
        checked: Box::new(Checked {
            phase: "plan".to_owned(),
            passed: true,
            evidence: json!({"tasks": [{"tested": true}, {"tested": true}]}),
            facts: facts.clone(),
            snapshot: Some(Map::new()),
            ..Checked::default()
        }),
    };
    s.apply(command, &wf).unwrap();
    for n in 1..=2 {
        facts.insert("test".to_owned(), json!({"n": n}));
        let command = Command::Validated {
            at: s.cursor(),
            checked: Box::new(Checked {
                phase: s.phase_id.clone(),
                passed: true,
                facts: facts.clone(),
                ..Checked::default()
            }),
        };
        s.apply(command, &wf).unwrap();
    }
    // At `implement` of iteration 2: `plan`'s facts, not iteration 1's.
    assert_eq!(at(&s), ("implement".to_owned(), Some(2), Status::Active));
    let index = s.phase_index;
    let baselines = s.baselines_view(&wf, index);
    assert_eq!(baselines.keys().collect::<Vec<_>>(), ["plan"]);
    let test = wf.index_of("test").unwrap_or_default();
    assert!(s.baselines_view(&wf, test).contains_key("plan"));
    assert!(s.snapshot_view(&wf, index, "plan").is_some());
    assert!(s.snapshot_view(&wf, index, "implement").is_none());
    // The scope of expressions in the loop.
    let scope = s.scope(&wf, index, false);
    assert_eq!(scope["iteration"], json!(2));
    assert_eq!(scope["item"], json!({"tested": true}));
}

#[test]
fn tasks_and_artifacts_are_kept_per_occurrence_and_forgotten_on_rollback() {
    let wf = three_phases();
    let (mut s, _) = begin(&wf, json!({}));
    let done = |s: &Session, task: &str| Command::TaskDone {
        at: s.cursor(),
        task: task.to_owned(),
        how: TaskProof::Word("word".to_owned()),
    };
    let events = s.apply(done(&s, "t1"), &wf).unwrap();
    assert_eq!(kinds(&events), ["task_done"]);
    s.apply(done(&s, "t1"), &wf).unwrap();
    assert_eq!(s.tasks_done["a"], ["t1"], "recorded once");
    // A task result for a place the session left is refused.
    let stale = Command::TaskDone {
        at: Cursor {
            phase_index: 2,
            iteration: None,
        },
        task: "t2".to_owned(),
        how: TaskProof::agents_word(),
    };
    assert!(s.apply(stale, &wf).is_err());

    let mut with_artifacts = checked(&s, true, Value::Null);
    if let Command::Validated { checked, .. } = &mut with_artifacts {
        checked.artifacts = Some(
            json!({"out.bin": {"size": 1, "sha256": "x"}})
                .as_object()
                .cloned()
                .unwrap(),
        );
    }
    s.apply(with_artifacts, &wf).unwrap();
    assert_eq!(s.artifacts["a"]["out.bin"]["size"], 1);
    s.apply(done(&s, "t9"), &wf).unwrap();
    assert_eq!(s.tasks_done["b"], ["t9"]);
    pass(&mut s, &wf, Value::Null);
    assert_eq!(s.phase_id, "c");
    // Back to `a`: what `a` and `b` recorded is forgotten; the tasks done
    // at `a` are kept, since the agent returns to work on it.
    s.apply(control(Control::Rollback, Some("a"), None), &wf)
        .unwrap();
    assert!(s.artifacts.is_empty());
    assert!(!s.tasks_done.contains_key("b"));
    assert_eq!(s.tasks_done["a"], ["t1"]);
}

mod checks;
mod controls;
mod escalation;
