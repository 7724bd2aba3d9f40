//! Checks that run apart from their request: recorded, answered, superseded.

use super::*;

fn running(s: &Session, id: &str) -> RunningCheck {
    RunningCheck {
        id: id.to_owned(),
        phase: s.phase_id.clone(),
        iteration: s.iteration,
        owner: "host/1/abcd".to_owned(),
        started_at: "2026-01-01T00:00:00.000Z".to_owned(),
        deadline: "2026-01-01T00:10:00.000Z".to_owned(),
    }
}

fn start(s: &mut Session, wf: &Workflow, id: &str) -> Result<Vec<NewEvent>> {
    let command = Command::StartCheck {
        at: s.cursor(),
        check: running(s, id),
    };
    s.apply(command, wf)
}

fn result_of(s: &Session, at: Cursor, check: &str, passed: bool) -> Command<'static> {
    Command::Validated {
        at,
        checked: Box::new(Checked {
            phase: s.phase_id.clone(),
            passed,
            report: CheckpointReport {
                summary: if passed {
                    "1 rule passed"
                } else {
                    "1 rule failed"
                }
                .to_owned(),
                ..CheckpointReport::default()
            },
            check: Some(check.to_owned()),
            ..Checked::default()
        }),
    }
}

#[test]
fn a_check_apart_from_its_request_is_recorded_then_cleared_by_its_result() {
    let wf = workflow(&format!("{}{}", phase("a", ""), phase("b", "")));
    let (mut s, _) = begin(&wf, json!({}));
    let at = s.cursor();
    let events = start(&mut s, &wf, "chk-1").unwrap();
    assert_eq!(kinds(&events), ["check_started"]);
    assert_eq!(events[0].phase.as_deref(), Some("a"));
    assert_eq!(stored(&events[0])["check"], "chk-1");
    assert_eq!(stored(&events[0])["owner"], "host/1/abcd");
    assert_eq!(stored(&events[0])["deadline"], "2026-01-01T00:10:00.000Z");
    assert!(stored(&events[0]).get("replaces").is_none());
    assert_eq!(
        s.running_check.as_ref().map(|r| r.id.as_str()),
        Some("chk-1")
    );
    // Starting nothing changes where the session stands.
    assert_eq!(at, s.cursor());
    assert_eq!(s.status, Status::Active);

    // A failed result: stamped with its id, clears it, stays on the phase.
    let events = s.apply(result_of(&s, at, "chk-1", false), &wf).unwrap();
    assert_eq!(kinds(&events), ["validation_failed"]);
    assert_eq!(stored(&events[0])["check"], "chk-1");
    assert_eq!(stored(&events[0])["summary"], "1 rule failed");
    assert!(s.running_check.is_none());
    let last = s.last_check.clone().unwrap();
    assert_eq!(
        (last.id.as_str(), last.passed, last.summary.as_str()),
        ("chk-1", false, "1 rule failed")
    );
    assert_eq!(s.attempts, 1);

    // A second check replaces nothing now; its pass advances once.
    start(&mut s, &wf, "chk-2").unwrap();
    let events = s.apply(result_of(&s, at, "chk-2", true), &wf).unwrap();
    assert_eq!(kinds(&events), ["validated", "advanced"]);
    assert_eq!(stored(&events[0])["check"], "chk-2");
    assert!(s.running_check.is_none());
    assert_eq!(s.last_check.as_ref().map(|c| c.passed), Some(true));
    assert_eq!(s.phase_id, "b");
}

#[test]
fn two_checks_of_one_phase_never_advance_twice() {
    let wf = three_phases();
    let (mut s, _) = begin(&wf, json!({}));
    let at = s.cursor();
    start(&mut s, &wf, "chk-1").unwrap();
    let events = start(&mut s, &wf, "chk-2").unwrap();
    assert_eq!(stored(&events[0])["replaces"], "chk-1");
    assert_eq!(
        s.running_check.as_ref().map(|r| r.id.as_str()),
        Some("chk-2")
    );
    // The first reports: it passes and advances, and leaves the second's
    // record alone.
    let first = s.apply(result_of(&s, at, "chk-1", true), &wf).unwrap();
    assert_eq!(kinds(&first), ["validated", "advanced"]);
    assert_eq!(
        s.running_check.as_ref().map(|r| r.id.as_str()),
        Some("chk-2")
    );
    // The second's pass arrives for a phase the session left: recorded,
    // not applied, and its record cleared.
    let mut late = result_of(&s, at, "chk-2", true);
    if let Command::Validated { checked, .. } = &mut late {
        checked.phase = "a".to_owned();
    }
    let second = s.apply(late, &wf).unwrap();
    assert_eq!(kinds(&second), ["validated", "stale_validation_ignored"]);
    assert_eq!(stored(&second[0])["check"], "chk-2");
    assert_eq!(s.phase_id, "b");
    assert!(s.running_check.is_none());
    assert_eq!(s.last_check.as_ref().map(|c| c.id.as_str()), Some("chk-2"));
}

#[test]
fn starting_a_check_is_refused_unless_the_session_stands_there_and_is_active() {
    let wf = workflow(&format!("{}{}", phase("a", ""), phase("b", "")));
    let (mut s, _) = begin(&wf, json!({}));
    let old = s.cursor();
    let mut stale = running(&s, "chk-1");
    pass(&mut s, &wf, Value::Null);
    let moved = s.apply(
        Command::StartCheck {
            at: old,
            check: stale.clone(),
        },
        &wf,
    );
    assert!(
        matches!(&moved, Err(Error::Refused(m)) if m.contains("moved on")),
        "{moved:?}"
    );
    assert!(s.running_check.is_none());
    stale.phase = "b".to_owned();
    s.apply(control(Control::Pause, None, None), &wf).unwrap();
    let paused = s.apply(
        Command::StartCheck {
            at: s.cursor(),
            check: stale,
        },
        &wf,
    );
    assert!(
        matches!(&paused, Err(Error::Refused(m)) if m.contains("paused")),
        "{paused:?}"
    );
    assert!(s.running_check.is_none());
}

#[test]
fn a_check_that_could_not_run_is_recorded_as_errored() {
    let wf = workflow(&phase("a", ""));
    let (mut s, _) = begin(&wf, json!({}));
    start(&mut s, &wf, "chk-1").unwrap();
    let unknown = s.apply(
        Command::CheckErrored {
            check: "chk-9".to_owned(),
            error: "boom".to_owned(),
        },
        &wf,
    );
    assert!(matches!(unknown, Err(Error::Refused(_))), "{unknown:?}");
    let events = s
        .apply(
            Command::CheckErrored {
                check: "chk-1".to_owned(),
                error: "the workspace is gone".to_owned(),
            },
            &wf,
        )
        .unwrap();
    assert_eq!(kinds(&events), ["check_errored"]);
    assert_eq!(stored(&events[0])["error"], "the workspace is gone");
    assert!(s.running_check.is_none());
    let last = s.last_check.clone().unwrap();
    assert_eq!(last.error.as_deref(), Some("the workspace is gone"));
    assert!(!last.passed);
    // Nothing else moved: no attempt counted.
    assert_eq!((s.attempts, s.status), (0, Status::Active));
}

#[test]
fn a_result_answered_in_its_request_supersedes_a_running_check_of_its_phase() {
    let wf = workflow(&format!("{}{}", phase("a", ""), phase("b", "")));
    let (mut s, _) = begin(&wf, json!({}));
    start(&mut s, &wf, "chk-1").unwrap();
    let events = s.apply(checked(&s, false, Value::Null), &wf).unwrap();
    assert_eq!(kinds(&events), ["validation_failed"]);
    assert!(stored(&events[0]).get("check").is_none());
    assert!(s.running_check.is_none());
    assert!(s.last_check.is_none());
}
