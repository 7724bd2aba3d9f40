//! The rules of one checkpoint run at once, reported in the workflow's
//! order, unless they would run the same program in the same directory;
//! `parallel = 1` runs them one after another, and a cancellation stops
//! every running rule.

use std::sync::{Arc, Mutex};

use checkrail::engine::Hooks;
use checkrail::engine::progress::Progress;

use crate::support::{Workspace, checkpoint, engine, one_phase, sh_wait_for, within_patience};

/// Progress events of one checkpoint run, in delivery order.
fn recorded() -> (Hooks, Arc<Mutex<Vec<Progress>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let hooks = Hooks {
        progress: Some(Arc::new(move |p| sink.lock().unwrap().push(p))),
        cancel: None,
    };
    (hooks, events)
}

/// Index of the event where rule `rule` starts or finishes.
fn at(events: &[Progress], rule: usize, finished: bool) -> usize {
    events
        .iter()
        .position(|e| match e {
            Progress::RuleStarted { index, .. } => !finished && *index == rule,
            Progress::RuleFinished { index, .. } => finished && *index == rule,
            _ => false,
        })
        .unwrap()
}

/// A script for the `test` rule's custom runner: it touches `signal` when
/// given, waits until `wait_for` exists when given (giving up after about a
/// minute, with no report), then reports one passing test into its first
/// argument. The files sit outside the workspace.
fn script(signal: Option<&std::path::Path>, wait_for: Option<&std::path::Path>) -> String {
    let mut script = String::new();
    if let Some(signal) = signal {
        script += &format!(": > '{}'\n", signal.display());
    }
    if let Some(file) = wait_for {
        script += &sh_wait_for(file);
    }
    script
        + "printf '<testsuite tests=\"1\"><testcase name=\"t\" classname=\"c\"/></testsuite>' > \"$1\"\n"
}

/// A use of the `test` rule, named `name`, running `script` with `sh` in
/// the workspace directory `cwd`.
fn scripted(name: &str, cwd: &str, script: &str) -> String {
    let script = if cwd == "." {
        script.to_owned()
    } else {
        format!("../{script}")
    };
    format!(
        "        - rule: test\n          name: {name}\n          config: {{ runner: custom, cwd: {cwd}, report: '{{scratch}}/r.xml', command: {{ program: sh, args: [{script}, '{{scratch}}/r.xml'] }} }}\n"
    )
}

#[test]
fn rules_of_a_checkpoint_run_at_once_in_order_of_the_workflow() {
    // No rule can end before all three have started, and `quick` is let
    // end first: `slow` and `slower` wait for a file the test writes once
    // the engine reports `quick` finished.
    let signals = tempfile::tempdir().unwrap();
    let (all_started, quick_done) = (
        signals.path().join("all-started"),
        signals.path().join("quick-done"),
    );
    let ws = Workspace::new()
        .grant("sh")
        .config("[checks]\nparallel = 3\n")
        .file("slow.sh", script(None, Some(&quick_done)))
        .file("quick.sh", script(None, Some(&all_started)))
        .file("a/keep", "")
        .file("b/keep", "")
        .file("c/keep", "")
        .build();
    // Three directories: rules running one program in one directory would
    // take turns.
    let workflow = one_phase(&format!(
        "{}{}{}",
        scripted("slow", "a", "slow.sh"),
        scripted("slower", "b", "slow.sh"),
        scripted("quick", "c", "quick.sh"),
    ));
    let engine = engine();
    let events = Arc::new(Mutex::new(Vec::new()));
    let hooks = Hooks {
        progress: Some(Arc::new({
            let events = events.clone();
            move |p| {
                let mut events = events.lock().unwrap();
                events.push(p);
                let started = events
                    .iter()
                    .filter(|e| matches!(e, Progress::RuleStarted { .. }))
                    .count();
                match events.last() {
                    Some(Progress::RuleStarted { .. }) if started == 3 => {
                        std::fs::write(&all_started, "").unwrap();
                    }
                    Some(Progress::RuleFinished { index: 2, .. }) => {
                        std::fs::write(&quick_done, "").unwrap();
                    }
                    _ => {}
                }
            }
        })),
        cancel: None,
    };
    let report = checkpoint(&engine, &workflow, "p", ws.path(), None, hooks).unwrap();
    assert!(
        report.passed,
        "a script gave up waiting: {}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    let events = events.lock().unwrap();
    // All three start before the first one finishes.
    let first_finish = (0..3).map(|i| at(&events, i, true)).min().unwrap();
    for i in 0..3 {
        assert!(at(&events, i, false) < first_finish, "{events:#?}");
    }
    // The quick rule finished first, yet the report keeps the workflow's
    // order; steps grow with every event.
    assert!(at(&events, 2, true) < at(&events, 0, true));
    let names: Vec<_> = report.rules.iter().map(|r| r.name.clone()).collect();
    assert_eq!(
        names,
        [
            Some("slow".into()),
            Some("slower".into()),
            Some("quick".into())
        ]
    );
    assert!(events.windows(2).all(|w| w[0].step() < w[1].step()));

    // parallel = 1 runs them one after another (nothing left to wait for).
    std::fs::write(
        ws.path().join("checkrail.toml"),
        "[exec]\nallow = [\"sh\"]\n[checks]\nparallel = 1\n",
    )
    .unwrap();
    crate::support::allow(ws.path());
    let (hooks, events) = recorded();
    let report = checkpoint(&engine, &workflow, "p", ws.path(), None, hooks).unwrap();
    assert!(report.passed, "{report:?}");
    let events = events.lock().unwrap();
    assert!(at(&events, 0, true) < at(&events, 1, false));
    assert!(at(&events, 1, true) < at(&events, 2, false));
}

#[test]
fn rules_running_the_same_program_in_one_directory_take_turns() {
    // Two test-rule uses run `sh` in the same directory (they would share
    // its files): one after the other. A third in another directory runs
    // alongside: the first two wait until it has started.
    let signals = tempfile::tempdir().unwrap();
    let elsewhere_started = signals.path().join("elsewhere-started");
    let ws = Workspace::new()
        .grant("sh")
        .config("[checks]\nparallel = 3\n")
        .file("sub/keep", "")
        .file("here.sh", script(None, Some(&elsewhere_started)))
        .file("there.sh", script(Some(&elsewhere_started), None))
        .build();
    let workflow = one_phase(&format!(
        "{}{}{}",
        scripted("first", ".", "here.sh"),
        scripted("second", ".", "here.sh"),
        scripted("elsewhere", "sub", "there.sh"),
    ));
    let engine = engine();
    let (hooks, events) = recorded();
    let report = checkpoint(&engine, &workflow, "p", ws.path(), None, hooks).unwrap();
    assert!(
        report.passed,
        "a script gave up waiting: {}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    let events = events.lock().unwrap();
    assert!(
        at(&events, 0, true) < at(&events, 1, false),
        "same program, same directory: {events:#?}"
    );
    assert!(
        at(&events, 2, false) < at(&events, 0, true),
        "another directory runs alongside: {events:#?}"
    );
}

#[test]
fn a_cancellation_stops_every_running_rule() {
    let ws = Workspace::new().config("[checks]\nparallel = 2\n").build();
    let engine = engine();
    let workflow = one_phase(
        "        - rule: fixture-sleeper\n          timeout_ms: 3600000\n          config: { sleep_ms: 3600000 }\n        - rule: fixture-sleeper\n          timeout_ms: 3600000\n          config: { sleep_ms: 3600001 }\n        - rule: file-exists\n          config: { paths: [x] }\n",
    );
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Arc::new(Mutex::new(Vec::new()));
    let hooks = Hooks {
        progress: Some(Arc::new({
            let (cancel, started) = (cancel.clone(), started.clone());
            move |p| {
                if let Progress::RuleStarted { index, .. } = p {
                    let mut started = started.lock().unwrap();
                    started.push(index);
                    // Both sleepers are running; then cancel.
                    if started.len() == 2 {
                        cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            }
        })),
        cancel: Some(cancel),
    };
    // Hour-long sleeps under hour-long deadlines: the checkpoint ends within
    // the patience only if the cancel interrupted both.
    let dir = ws.path().to_owned();
    let result = within_patience("a cancelled checkpoint of two sleepers", move || {
        checkpoint(&engine, &workflow, "p", &dir, None, hooks)
    });
    assert!(
        matches!(result, Err(checkrail::Error::Cancelled)),
        "{result:?}"
    );
    // The third rule never started.
    let mut started = started.lock().unwrap().clone();
    started.sort();
    assert_eq!(started, [0, 1]);
}
