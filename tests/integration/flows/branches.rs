//! A workflow that branches and loops, walked end to end: conditions
//! skip phases with the reason, a foreach loop judges each item with the
//! real rule, a restarted server resumes mid-loop, rollback returns into
//! the loop, a repeat group runs until its checkpoint passes; through the
//! service API and over MCP; and a broken flow is refused at load.

use checkrail::service::Service;
use checkrail::session::{Control, Outcome, Status};
use serde_json::{Value, json};

use crate::support::{Cli, Client, Server, Session, Workspace, call, kill_9, service, text};

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
