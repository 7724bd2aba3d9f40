//! Escalation: the session waits for a human, who rejects, accepts or abandons.

use super::*;

fn escalate(s: &mut Session, wf: &Workflow) -> Result<Vec<NewEvent>> {
    let escalation = Escalation {
        reason: "the test contradicts the spec".to_owned(),
        by: "agent".to_owned(),
    };
    s.apply(Command::Escalate(escalation), wf)
}

#[test]
fn an_escalation_waits_for_a_human_who_rejects_accepts_or_abandons() {
    let wf = workflow(&format!("{}{}", phase("a", ""), phase("b", "")));
    let (mut s, _) = begin(&wf, json!({}));
    let events = escalate(&mut s, &wf).unwrap();
    assert_eq!(kinds(&events), ["escalated"]);
    assert_eq!(
        stored(&events[0])["reason"],
        "the test contradicts the spec"
    );
    assert_eq!(s.status, Status::Escalated);
    assert!(s.status.waits_for_human());
    // The agent cannot leave it on its own: no second escalation, no
    // validation taking effect, no rollback, retry, pause or resume.
    assert!(escalate(&mut s, &wf).is_err());
    assert_eq!(
        fail(&mut s, &wf),
        ["validation_failed", "stale_validation_ignored"]
    );
    for action in [
        Control::Rollback,
        Control::Retry,
        Control::Pause,
        Control::Resume,
    ] {
        let err = s
            .apply(control(action, Some("a"), None), &wf)
            .unwrap_err()
            .to_string();
        assert!(err.contains("escalated"), "{action:?}: {err}");
    }
    // Nothing to approve.
    let approve = Command::Decide {
        approve: true,
        record: human("h"),
    };
    let err = s.apply(approve, &wf).unwrap_err().to_string();
    assert!(err.contains("nothing to approve"), "{err}");
    // Rejected with a note: back to work on the same phase.
    let reject = Command::Decide {
        approve: false,
        record: human("h"),
    };
    assert_eq!(kinds(&s.apply(reject, &wf).unwrap()), ["rejected"]);
    assert_eq!((s.status, s.phase_id.as_str()), (Status::Active, "a"));
    // Accepting the change it asked for also sends it back to work.
    escalate(&mut s, &wf).unwrap();
    let accept = Command::AcceptJudging {
        judging: Map::new(),
        record: Accepted {
            changes: vec!["tests/spec.py changed".to_owned()],
            decision: human("h"),
        },
    };
    s.apply(accept, &wf).unwrap();
    assert_eq!(s.status, Status::Active);
    // Or a human abandons it.
    escalate(&mut s, &wf).unwrap();
    s.apply(control(Control::Abandon, None, None), &wf).unwrap();
    assert_eq!(s.status, Status::Abandoned);
    assert!(escalate(&mut s, &wf).is_err());
}

#[test]
fn escalating_through_control_needs_a_reason() {
    let wf = workflow(&phase("a", ""));
    let (mut s, _) = begin(&wf, json!({}));
    let err = s
        .apply(control(Control::Escalate, None, None), &wf)
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs `reason`"), "{err}");
    assert_eq!(s.status, Status::Active);
}
