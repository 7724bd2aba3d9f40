//! Pause, resume, retry, rollback and abandon, and their refusals.

use super::*;

#[test]
fn controls_and_their_refusals() {
    let wf = workflow(&format!("{}{}", phase("a", ""), phase("b", "")));
    let (mut s, _) = begin(&wf, json!({}));
    let apply = |s: &mut Session, c: Command<'_>| s.apply(c, &wf).map(|e| kinds(&e));
    let refused = |r: Result<Vec<String>>| r.unwrap_err().to_string();
    assert!(
        refused(apply(&mut s, control(Control::Resume, None, None)))
            .contains("cannot resume a session that is active")
    );
    assert_eq!(
        apply(&mut s, control(Control::Pause, None, None)).unwrap(),
        ["paused"]
    );
    assert!(refused(apply(&mut s, control(Control::Pause, None, None))).contains("cannot pause"));
    assert!(refused(apply(&mut s, control(Control::Retry, None, None))).contains("cannot retry"));
    assert_eq!(
        apply(&mut s, control(Control::Resume, None, None)).unwrap(),
        ["resumed"]
    );
    s.attempts = 3;
    assert_eq!(
        apply(&mut s, control(Control::Retry, None, None)).unwrap(),
        ["retried"]
    );
    assert_eq!(s.attempts, 0);
    assert!(
        refused(apply(&mut s, control(Control::Rollback, None, None))).contains("needs `to_phase`")
    );
    assert!(
        refused(apply(
            &mut s,
            control(Control::Rollback, Some("nope"), None)
        ))
        .contains("nope")
    );
    assert!(
        refused(apply(&mut s, control(Control::Rollback, Some("b"), None)))
            .contains("can only roll back to an earlier phase that passed")
    );
    assert!(
        refused(apply(
            &mut s,
            control(Control::Rollback, Some("a"), Some(1))
        ))
        .contains("not in a loop group")
    );
    assert_eq!(
        apply(&mut s, control(Control::Abandon, None, None)).unwrap(),
        ["abandoned"]
    );
    assert!(
        refused(apply(&mut s, control(Control::Abandon, None, None))).contains("cannot abandon")
    );
    assert!(
        refused(apply(&mut s, control(Control::Rollback, Some("a"), None)))
            .contains("cannot roll back")
    );
    let judging = Command::AcceptJudging {
        judging: json!({"x": "1"}).as_object().cloned().unwrap_or_default(),
        record: Accepted {
            changes: vec!["x".to_owned()],
            decision: human("h"),
        },
    };
    assert_eq!(
        apply(&mut s, judging).unwrap(),
        ["judging_changes_accepted"]
    );
    assert_eq!(s.judging["x"], "1");
}

#[test]
fn rollback_into_a_loop_forgets_what_it_returns_over() {
    let wf = foreach_workflow();
    let (mut s, _) = begin(&wf, json!({}));
    let tasks = json!({"tasks": [{"tested": true}, {"tested": true}, {"tested": true}]});
    pass(&mut s, &wf, tasks);
    for n in 0..5 {
        pass(&mut s, &wf, json!({"ok": true, "n": n}));
    }
    assert_eq!(at(&s), ("test".to_owned(), Some(3), Status::Active));
    // Default: the current iteration.
    let mut back = s.clone();
    back.apply(control(Control::Rollback, Some("implement"), None), &wf)
        .unwrap();
    assert_eq!(at(&back), ("implement".to_owned(), Some(3), Status::Active));
    assert!(!back.evidence.contains_key("implement#3"));
    assert!(back.evidence.contains_key("test#2"));
    // An earlier iteration, named.
    let events = s
        .apply(control(Control::Rollback, Some("test"), Some(1)), &wf)
        .unwrap();
    assert_eq!(kinds(&events), ["rolled_back"]);
    assert_eq!(at(&s), ("test".to_owned(), Some(1), Status::Active));
    assert_eq!(s.loops["tasks"].iteration, 1);
    assert!(s.evidence.contains_key("implement#1"));
    assert!(!s.evidence.contains_key("test#1") && !s.evidence.contains_key("implement#2"));
    assert_eq!(s.item(&wf, s.phase_index), Some(&json!({"tested": true})));
    // It goes on from there: iteration 2 comes next again.
    pass(&mut s, &wf, Value::Null);
    assert_eq!(at(&s), ("implement".to_owned(), Some(2), Status::Active));
    // Rolling back before the loop forgets it; a skipped phase is no target.
    s.apply(control(Control::Rollback, Some("plan"), None), &wf)
        .unwrap();
    assert!(s.loops.is_empty() && s.evidence.is_empty() && s.path.is_empty());
    pass(&mut s, &wf, json!({"tasks": [{"tested": false}]}));
    pass(&mut s, &wf, Value::Null);
    assert_eq!(s.phase_id, "finish");
    let err = s
        .apply(control(Control::Rollback, Some("test"), None), &wf)
        .unwrap_err()
        .to_string();
    assert!(err.contains("it was skipped"), "{err}");
}

#[test]
fn rollback_from_a_completed_session_and_of_legacy_sessions() {
    let wf = workflow(&format!("{}{}", phase("a", EVIDENCE), phase("b", "")));
    let (mut s, _) = begin(&wf, json!({}));
    // A session recorded before paths existed, standing at `b`.
    s.phase_index = 1;
    s.phase_id = "b".to_owned();
    s.evidence.insert("a".to_owned(), json!({"ok": true}));
    assert_eq!(s.path_taken(&wf).len(), 1);
    pass(&mut s, &wf, Value::Null);
    assert_eq!(s.status, Status::Completed);
    s.apply(control(Control::Rollback, Some("a"), None), &wf)
        .unwrap();
    assert_eq!(at(&s), ("a".to_owned(), None, Status::Active));
    assert!(s.evidence.is_empty());
}
