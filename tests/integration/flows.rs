//! Workflows that branch, loop and check in parallel, end to end: real
//! rules judge each iteration, a restarted server resumes mid-loop,
//! rollback returns into a loop, and a checkpoint's rules overlap unless
//! they would run the same program in the same directory.

use std::sync::{Arc, Mutex};

use checkrail::engine::Hooks;
use checkrail::engine::progress::Progress;
use checkrail::service::Service;
use checkrail::session::{Control, Outcome, Status};
use serde_json::{Value, json};

use crate::support::{
    Cli, Client, Server, Session, Workspace, call, checkpoint, engine, kill_9, one_phase, service,
    sh_wait_for, text, within_patience,
};

const FLOW: &str = r#"id: flow
version: 1.0.0
name: Flow
description: conditions, a foreach loop, a branch and a repeat loop
inputs:
  migrate: { description: yes when the schema changed, required: true }
phases:
  - id: plan
    name: Plan
    guidance: plan the work
    checkpoint:
      evidence_schema:
        type: object
        required: [tasks, docs]
        properties:
          docs: { type: boolean }
          tasks:
            type: array
            items:
              type: object
              required: [file]
              properties: { file: { type: string } }
  - id: migration
    name: Migration
    guidance: write the migration
    when: inputs.migrate == 'yes'
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [migration.sql] }
  - id: tasks
    foreach: evidence.plan.tasks
    max_iterations: 5
    phases:
      - id: implement
        name: Implement
        guidance: "create {{item.file}}"
        checkpoint:
          rules:
            - rule: file-exists
              config: { paths: ["{{item.file}}"] }
  - id: review
    name: Review
    guidance: review
    next:
      - when: "!evidence.plan.docs"
        goto: polishing
  - id: docs
    name: Docs
    guidance: write docs
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [docs.md] }
  - id: polishing
    repeat: true
    max_iterations: 2
    phases:
      - id: polish
        name: Polish
        guidance: polish until polished.txt exists
        checkpoint:
          rules:
            - rule: file-exists
              config: { paths: [polished.txt] }
  - id: ship
    name: Ship
    guidance: done
"#;

fn standing(svc: &Service, id: &str) -> (String, Option<u32>, Status) {
    let s = svc.next(id).unwrap().session;
    (s.phase_id, s.iteration, s.status)
}

#[test]
fn a_session_follows_conditions_loops_and_branches_with_real_checks() {
    let ws = Workspace::new().workflow(FLOW).build();
    let root = ws.path();
    let svc = service(root);
    let session = Session::start_with(&svc, "flow", &[("migrate", "no")]);
    let id = session.id.clone();

    let plan = json!({"tasks": [{"file": "a.txt"}, {"file": "b.txt"}], "docs": false});
    let passed = session.validate_with(plan);
    assert!(passed.passed && passed.advanced);
    // The migration's condition is false: skipped, with the reason, and
    // the next step says so.
    let next = passed.standing;
    assert_eq!(next.skipped[0].phase, "migration");
    assert!(
        next.skipped[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("inputs.migrate == 'yes'"),
        "{:?}",
        next.skipped
    );
    assert!(
        next.next_step.contains("Skipped: `migration`"),
        "{}",
        next.next_step
    );
    assert!(
        next.next_step.contains("iteration 1 of 2"),
        "{}",
        next.next_step
    );
    let phase = next.phase.unwrap();
    assert_eq!(phase.guidance, "create a.txt");
    assert_eq!(
        phase.iteration.as_ref().unwrap().item,
        Some(json!({"file": "a.txt"}))
    );

    // Each iteration is judged by the real rule on its own item.
    let failed = session.validate();
    assert!(!failed.passed);
    let finding = &failed.report.unwrap().rules[0].findings[0];
    assert_eq!(finding.path.as_deref(), Some("a.txt"));
    std::fs::write(root.join("a.txt"), "a").unwrap();
    assert!(session.validate().advanced);
    assert_eq!(
        standing(&svc, &id),
        ("implement".to_owned(), Some(2), Status::Active)
    );

    // A restarted server resumes mid-loop, on the second item.
    drop(session);
    drop(svc);
    let svc = service(root);
    let session = Session::of(&svc, &id);
    let next = svc.next(&id).unwrap();
    assert_eq!(next.phase.unwrap().guidance, "create b.txt");
    let failed = session.validate();
    assert_eq!(
        failed.report.unwrap().rules[0].findings[0].path.as_deref(),
        Some("b.txt")
    );
    assert_eq!(failed.standing.session.attempts, 1);
    std::fs::write(root.join("b.txt"), "b").unwrap();
    assert!(session.validate().advanced);
    assert_eq!(standing(&svc, &id).0, "review");

    // Rollback into the loop: back to the first iteration; the second's
    // record is forgotten and runs again.
    let back = svc
        .control_at(&id, Control::Rollback, Some("implement"), Some(1))
        .unwrap();
    assert_eq!(
        (back.session.phase_id.as_str(), back.session.iteration),
        ("implement", Some(1))
    );
    assert!(!back.session.evidence.contains_key("implement#2"));
    std::fs::remove_file(root.join("b.txt")).unwrap();
    assert!(session.validate().advanced);
    assert!(!session.validate().passed, "b.txt is gone again");
    std::fs::write(root.join("b.txt"), "b").unwrap();
    assert!(session.validate().advanced);

    // The review branches past the docs (the plan said none).
    let branched = session.validate();
    assert_eq!(
        (
            branched.standing.session.phase_id.as_str(),
            branched.standing.session.iteration
        ),
        ("polish", Some(1))
    );
    assert_eq!(branched.standing.skipped[0].phase, "docs");

    // The repeat group runs again while its last checkpoint fails, up to
    // max_iterations; then the failures count as attempts.
    assert!(!session.validate().passed);
    assert_eq!(
        standing(&svc, &id),
        ("polish".to_owned(), Some(2), Status::Active)
    );
    let failed = session.validate();
    assert_eq!(failed.standing.session.iteration, Some(2));
    assert_eq!(failed.standing.session.attempts, 1);
    std::fs::write(root.join("polished.txt"), "p").unwrap();
    assert!(session.validate().advanced);
    assert_eq!(standing(&svc, &id).0, "ship");
    let done = session.validate();
    assert_eq!(done.standing.session.status, Status::Completed);

    // The path tells the whole story, and the record verifies.
    let path: Vec<(String, Option<u32>, Outcome)> = done
        .standing
        .session
        .path
        .iter()
        .map(|s| (s.phase.clone(), s.iteration, s.outcome))
        .collect();
    let step = |p: &str, i: Option<u32>, o: Outcome| (p.to_owned(), i, o);
    assert_eq!(
        path,
        [
            step("plan", None, Outcome::Passed),
            step("migration", None, Outcome::Skipped),
            step("implement", Some(1), Outcome::Passed),
            step("implement", Some(2), Outcome::Passed),
            step("review", None, Outcome::Passed),
            step("docs", None, Outcome::Skipped),
            step("polish", Some(1), Outcome::Repeated),
            step("polish", Some(2), Outcome::Passed),
            step("ship", None, Outcome::Passed),
        ]
    );
    let kinds = session.event_kinds();
    assert_eq!(kinds.iter().filter(|k| *k == "skipped").count(), 2);
    assert_eq!(
        kinds.iter().filter(|k| *k == "iteration_started").count(),
        5
    );
    // The record verifies, and every iteration passes again when rechecked
    // against its own item.
    let verified = svc.verify(&id, true).unwrap();
    assert!(
        verified.ok,
        "{}",
        serde_json::to_string_pretty(&verified).unwrap()
    );
}

#[test]
fn bad_flows_are_refused_at_load_with_the_place_named() {
    let broken = FLOW
        .replace("goto: polishing", "goto: nowhere")
        .replace("inputs.migrate == 'yes'", "inputs.migrat == 'yes'");
    let ws = Workspace::new().workflow(&broken).build();
    let out = Cli::new(&["workflow", "lint", ".checkrail/workflows/flow.yaml"])
        .current_dir(ws.path())
        .output();
    let text = text(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("/phases/3/next/0/goto"), "{text}");
    assert!(text.contains("nowhere"), "{text}");
    assert!(text.contains("/phases/1/when"), "{text}");
    assert!(text.contains("migrat"), "{text}");
}

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

/// workflow_validate of session `id` with `args` (a phase, evidence…).
async fn validate_over(client: &Client, id: &str, mut args: Value) -> Value {
    args["session"] = json!(id);
    call(client, "workflow_validate", args).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_walks_branches_and_loops_over_mcp_across_a_server_restart() {
    let ws = Workspace::new().workflow(FLOW).build();
    let root = ws.path();
    let (client, pid) = Server::on(root).stdio().await;
    let started = call(
        &client,
        "workflow_start",
        json!({"workflow": "flow", "inputs": {"migrate": "yes"}}),
    )
    .await
    .unwrap();
    let id = started["session"]["id"].as_str().unwrap().to_owned();
    let validate = |args: Value| validate_over(&client, &id, args);
    let plan = json!({"tasks": [{"file": "a.txt"}, {"file": "b.txt"}], "docs": true});
    let v = validate(json!({"evidence": plan})).await;
    // The migration's condition holds this time: it is not skipped.
    assert_eq!(v["standing"]["session"]["phase_id"], "migration");
    std::fs::write(root.join("migration.sql"), "create table t (x int);").unwrap();
    let v = validate(json!({})).await;
    assert_eq!(v["standing"]["phase"]["iteration"]["number"], 1);
    assert_eq!(
        v["standing"]["phase"]["iteration"]["item"],
        json!({"file": "a.txt"})
    );
    std::fs::write(root.join("a.txt"), "a").unwrap();
    assert_eq!(validate(json!({})).await["advanced"], true);
    // Idempotent per iteration: iteration 1 already passed.
    let again = validate(json!({"phase": "implement", "iteration": 1})).await;
    assert_eq!(again["advanced"], false);
    assert!(
        again["standing"]["next_step"]
            .as_str()
            .unwrap()
            .contains("(iteration 1) already passed"),
        "{again}"
    );

    // kill -9 mid-loop; a new server resumes at iteration 2.
    kill_9(pid);
    drop(client);
    let (client, _) = Server::on(root).stdio().await;
    let next = call(&client, "workflow_next", json!({"session": id}))
        .await
        .unwrap();
    assert_eq!(next["phase"]["iteration"]["number"], 2, "{next}");
    assert_eq!(next["phase"]["guidance"], "create b.txt");
    let call_v = |args: Value| validate_over(&client, &id, args);
    std::fs::write(root.join("b.txt"), "b").unwrap();
    let v = call_v(json!({"phase": "implement", "iteration": 2})).await;
    assert_eq!(v["advanced"], true, "{v}");
    assert_eq!(v["standing"]["session"]["phase_id"], "review");

    // Roll back into the loop over MCP, then walk forward again.
    let back = call(
        &client,
        "workflow_control",
        json!({"session": id, "action": "rollback", "to_phase": "implement", "iteration": 2}),
    )
    .await
    .unwrap();
    assert_eq!(back["session"]["iteration"], 2);
    assert_eq!(
        call_v(json!({})).await["standing"]["session"]["phase_id"],
        "review"
    );
    // docs: true, so the review does not branch: docs come next.
    assert_eq!(
        call_v(json!({})).await["standing"]["session"]["phase_id"],
        "docs"
    );
    std::fs::write(root.join("docs.md"), "# docs").unwrap();
    std::fs::write(root.join("polished.txt"), "p").unwrap();
    assert_eq!(
        call_v(json!({})).await["standing"]["session"]["phase_id"],
        "polish"
    );
    assert_eq!(
        call_v(json!({})).await["standing"]["session"]["phase_id"],
        "ship"
    );
    assert_eq!(
        call_v(json!({})).await["standing"]["session"]["status"],
        "completed"
    );

    // workflow_state shows the path taken, iterations included.
    let state = call(
        &client,
        "workflow_state",
        json!({"session": id, "errors": true}),
    )
    .await
    .unwrap();
    let path: Vec<String> = state["sessions"][0]["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| match s["iteration"].as_u64() {
            Some(n) => format!(
                "{}#{n}:{}",
                s["phase"].as_str().unwrap(),
                s["outcome"].as_str().unwrap()
            ),
            None => format!(
                "{}:{}",
                s["phase"].as_str().unwrap(),
                s["outcome"].as_str().unwrap()
            ),
        })
        .collect();
    assert_eq!(
        path,
        [
            "plan:passed",
            "migration:passed",
            "implement#1:passed",
            "implement#2:passed",
            "review:passed",
            "docs:passed",
            "polish#1:passed",
            "ship:passed"
        ],
        "{state}"
    );

    // The errors view: nothing failed; each iteration of `implement` counts
    // as a run of it.
    assert_eq!(state["errors"]["failures"], json!([]), "{state}");
    let implement = state["errors"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "implement")
        .unwrap();
    assert_eq!(
        (
            implement["runs"].as_u64(),
            implement["first_try_rate"].as_f64()
        ),
        (Some(2), Some(1.0))
    );

    // A completed session can be deleted over MCP; its audit entry answers
    // for it afterwards.
    let deleted = call(
        &client,
        "workflow_control",
        json!({"session": id, "action": "delete"}),
    )
    .await
    .unwrap();
    assert_eq!(deleted["deleted"]["status"], "completed", "{deleted}");
    assert!(
        deleted["deleted"]["deleted_by"]
            .as_str()
            .unwrap()
            .starts_with("mcp:")
    );
    let gone = call(&client, "workflow_next", json!({"session": id}))
        .await
        .unwrap_err();
    assert!(gone.contains("was deleted at"), "{gone}");
    client.cancel().await.unwrap();
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
