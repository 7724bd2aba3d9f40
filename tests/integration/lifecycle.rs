//! The rest of a session's life: deletion with an audit entry, retention
//! of sessions and cached outcomes, the errors view, tasks, hints and
//! artifacts.

use checkrail::engine::Hooks;
use checkrail::service::ValidateRequest;
use checkrail::session::{Control, Status};
use serde_json::{Map, Value, json};

use crate::support::{
    Cli, Harness, Session, Workspace, raw_db, service, session_store, state, text,
};

const FLOW: &str = "id: life
version: 1.0.0
name: Life
description: two phases
phases:
  - id: readme
    name: README
    guidance: write README.md
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [README.md] }
  - id: done
    name: Done
    guidance: done
";

#[test]
fn only_finished_sessions_are_deleted_and_an_audit_entry_remains() {
    let ws = Workspace::new().workflow(FLOW).build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "life");
    let id = &session.id;
    session.validate();
    let err = svc.delete(id, "tester").unwrap_err().to_string();
    assert!(
        err.contains("only completed or abandoned sessions can be deleted"),
        "{err}"
    );
    svc.control(id, Control::Abandon, None).unwrap();
    let deletion = svc.delete(id, "tester").unwrap();
    assert_eq!(deletion.status, "abandoned");
    assert_eq!(deletion.events, 3, "started, validation_failed, abandoned");
    // Reads name the deletion instead of pretending the session never was.
    for err in [
        svc.next(id).unwrap_err().to_string(),
        svc.verify(id, false).unwrap_err().to_string(),
    ] {
        assert!(
            err.contains("was deleted at") && err.contains("by tester"),
            "{err}"
        );
    }
    assert!(svc.list(None).unwrap().iter().all(|s| s.id != *id));
    let audit = svc.deletions().unwrap();
    assert_eq!(audit[0].id, *id);
    assert!(audit[0].verified);

    // An audit entry edited behind checkrail's back says so.
    raw_db(ws.path())
        .execute(
            "UPDATE deleted_sessions SET status = 'completed' WHERE id = ?1",
            [id],
        )
        .unwrap();
    assert!(!svc.deletions().unwrap()[0].verified);
    let err = svc.next(id).unwrap_err().to_string();
    assert!(err.contains("that entry does not verify"), "{err}");
}

#[test]
fn a_tampered_session_is_kept_as_evidence() {
    let ws = Workspace::new().workflow(FLOW).build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "life");
    let id = &session.id;
    svc.control(id, Control::Abandon, None).unwrap();
    raw_db(ws.path())
        .execute(
            "UPDATE events SET data = '{\"forged\":true}' WHERE session_id = ?1 AND kind = 'started'",
            [id],
        )
        .unwrap();
    let err = svc.delete(id, "tester").unwrap_err().to_string();
    assert!(err.contains("kept as evidence"), "{err}");
    // Retention keeps it too.
    let pruned = svc.prune().unwrap();
    assert!(pruned.sessions.is_empty());
}

#[test]
fn retention_deletes_old_finished_sessions_and_trims_the_cache() {
    let ws = Workspace::new().workflow(FLOW).build();
    let svc = service(ws.path());
    let old = Session::start(&svc, "life");
    std::fs::write(ws.path().join("README.md"), "# hi").unwrap();
    old.validate();
    assert_eq!(old.validate().standing.session.status, Status::Completed);
    let active = Session::start(&svc, "life").id;

    // A policy of a day keeps today's sessions.
    std::fs::write(
        ws.path().join("checkrail.toml"),
        "[retention]\nsessions_days = 1\ncache_days = 1\n",
    )
    .unwrap();
    crate::support::allow(ws.path());
    let pruned = svc.prune().unwrap();
    assert!(pruned.sessions.is_empty() && pruned.outcomes == 0);

    // Everything finished before now goes; the active session stays.
    let store_cutoff = checkrail::session::now();
    let deleted = session_store(ws.path())
        .prune(&store_cutoff, "test")
        .unwrap();
    assert_eq!(
        deleted.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [old.id.as_str()]
    );
    assert_eq!(deleted[0].deleted_by, "retention");
    assert!(svc.next(&active).is_ok());

    // The outcome cache: by size, oldest out first.
    let opened = checkrail::workspace::Workspace::open(ws.path(), &state()).unwrap();
    let cache = opened.outcomes().unwrap();
    let report = |n: usize| checkrail::report::RuleReport {
        rule: "r".to_owned(),
        version: "1".to_owned(),
        digest: String::new(),
        name: None,
        severity: checkrail::workflow::Severity::Block,
        status: checkrail::report::RuleStatus::Passed,
        summary: "x".repeat(n),
        findings: Vec::new(),
        duration_ms: 0.0,
        cached: false,
        facts: None,
    };
    // From an empty cache: the checks above stored their own outcomes.
    cache.prune(Some(&checkrail::session::now()), None);
    for key in ["a", "b", "c"] {
        cache.put(key, &report(10_000));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(cache.prune(None, Some(u64::MAX)), 0);
    // Over 25 KB: the oldest goes first.
    assert_eq!(cache.prune(None, Some(25_000)), 1);
    assert!(matches!(
        cache.get("a"),
        checkrail::cache::store::Lookup::Miss
    ));
    assert!(matches!(
        cache.get("c"),
        checkrail::cache::store::Lookup::Hit(_)
    ));
    // By age: everything stored before now.
    assert_eq!(cache.prune(Some(&checkrail::session::now()), None), 2);

    // A zero-day policy is refused with the fix.
    std::fs::write(
        ws.path().join("checkrail.toml"),
        "[retention]\nsessions_days = 0\n",
    )
    .unwrap();
    crate::support::allow(ws.path());
    let err = checkrail::error::chain(&svc.prune().unwrap_err());
    assert!(
        err.contains("checkrail.toml: ") && err.contains("give at least 1 day"),
        "{err}"
    );
    // Every command stops on it with the configuration exit code, saying
    // what to write, rather than logging a warning and going on.
    for args in [&["session", "list"][..], &["session", "prune"]] {
        let out = Cli::new(args).workspace(ws.path()).output();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("give at least 1 day"), "{}", text(&out));
    }
}

#[test]
fn the_cli_deletes_and_lists_deletions() {
    let ws = Workspace::new()
        .workflow(FLOW)
        .file("README.md", "# x")
        .build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "life");
    let id = &session.id;
    session.validate();
    session.validate();
    let out = Cli::new(&["session", "delete", id])
        .workspace(ws.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("its audit entry remains"),
        "{}",
        text(&out)
    );
    let out = Cli::new(&["session", "prune", "--json"])
        .workspace(ws.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["deleted_sessions"][0]["id"], json!(id));
    assert!(
        listed["deleted_sessions"][0]["deleted_by"]
            .as_str()
            .unwrap()
            .starts_with("cli:")
    );
    let out = Cli::new(&["session", "show", id])
        .workspace(ws.path())
        .output();
    assert!(!out.status.success());
    assert!(text(&out).contains("was deleted at"), "{}", text(&out));
}

#[test]
fn the_errors_view_counts_what_came_back_and_the_first_try_rate() {
    let ws = Workspace::new().workflow(FLOW).build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "life");
    let id = &session.id;
    assert!(!session.validate().passed);
    assert!(!session.validate().passed);
    std::fs::write(ws.path().join("README.md"), "# x").unwrap();
    assert!(session.validate().advanced);
    assert!(session.validate().advanced);

    let view = svc.errors(id).unwrap();
    let attempts: Vec<u32> = view.failures.iter().map(|f| f.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    assert_eq!(view.failures[0].phase, "readme");
    assert!(view.failures[0].rules[0].rule.starts_with("file-exists"));
    let finding = &view.findings[0];
    assert_eq!(finding.count, 2);
    assert_eq!(finding.path.as_deref(), Some("README.md"));
    let readme = view.phases.iter().find(|p| p.phase == "readme").unwrap();
    assert_eq!((readme.runs, readme.passed_first_try), (1, 0));
    let done = view.phases.iter().find(|p| p.phase == "done").unwrap();
    assert_eq!(done.first_try_rate, 1.0);

    let out = Cli::new(&["session", "errors", id])
        .workspace(ws.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("readme") && shown.contains("attempt 2"),
        "{shown}"
    );
    assert!(shown.contains("2× [readme"), "{shown}");
    assert!(shown.contains("0/1 runs passed at once"), "{shown}");
}

const TASKS: &str = "id: tasks
version: 1.0.0
name: Tasks
description: tasks, hints, estimates and artifacts
estimated_minutes: 30
hints: { role: implementer, model: { reasoning: medium } }
phases:
  - id: build
    name: Build
    guidance: do the tasks
    estimated_minutes: 20
    hints: { role: implementer, notes: small steps }
    tasks:
      - read the code first
      - id: notes
        title: Write the notes
        steps: [open notes.md, write two lines]
        done_when: { rule: file-exists, config: { paths: [notes.md] } }
      - id: ticket
        title: Name the ticket
        done_when: { evidence: ticket }
      - id: tidy
        title: Tidy up
    checkpoint:
      evidence_schema:
        type: object
        properties: { ticket: { type: string } }
      require_tasks: true
      artifacts: [notes.md, out/*.bin]
  - id: check
    name: Check
    guidance: the notes stay as built
    checkpoint:
      frozen: { since: build, artifacts: true }
";

#[test]
fn tasks_are_checked_one_by_one_and_required_at_the_checkpoint() {
    let ws = Workspace::new().workflow(TASKS).build();
    let svc = service(ws.path());
    let start = svc.start("tasks", Map::new()).unwrap();
    let session = Session::of(&svc, &start.session.id);
    let id = &session.id;
    let phase = start.phase.unwrap();
    assert_eq!(phase.estimated_minutes, Some(20));
    assert_eq!(phase.hints.unwrap().role.as_deref(), Some("implementer"));
    // The first task with an id is current; plain sentences stay sentences.
    assert_eq!(phase.current_task.unwrap().id(), Some("notes"));
    assert!(
        start.next_step.contains("Current task: `notes`"),
        "{}",
        start.next_step
    );

    // The checkpoint requires every task with a `done_when`.
    let failed = session.validate();
    assert!(!failed.passed);
    let report = failed.report.unwrap();
    let names: Vec<String> = report.rules.iter().filter_map(|r| r.name.clone()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("task `notes` is done")),
        "{names:?}"
    );
    let tasks = report
        .rules
        .iter()
        .find(|r| r.rule == "checkrail/tasks")
        .unwrap();
    assert!(
        tasks.findings[0].message.contains("task `ticket`"),
        "{tasks:?}"
    );

    // One task at a time: its rule runs; when it passes the next is current.
    let hooks = Hooks::default();
    let notyet = svc
        .validate(&ValidateRequest::new(id).task("notes"), &hooks)
        .unwrap();
    assert!(!notyet.passed && notyet.report.is_some());
    std::fs::write(ws.path().join("notes.md"), "two\nlines\n").unwrap();
    let done = svc
        .validate(&ValidateRequest::new(id).task("notes"), &hooks)
        .unwrap();
    assert!(done.passed && !done.advanced);
    let phase = done.standing.phase.unwrap();
    assert_eq!(phase.tasks_done, ["notes"]);
    assert_eq!(phase.current_task.unwrap().id(), Some("ticket"));
    let no = svc
        .validate(
            &ValidateRequest::new(id)
                .task("ticket")
                .evidence(json!({"ticket": ""})),
            &hooks,
        )
        .unwrap();
    assert!(!no.passed);
    assert!(no.standing.next_step.contains("does not set `ticket`"));
    let yes = svc
        .validate(
            &ValidateRequest::new(id)
                .task("ticket")
                .evidence(json!({"ticket": "T-1"})),
            &hooks,
        )
        .unwrap();
    assert!(yes.passed);
    // A task without done_when is taken at the agent's word.
    assert!(
        svc.validate(&ValidateRequest::new(id).task("tidy"), &hooks)
            .unwrap()
            .passed
    );
    let err = svc
        .validate(&ValidateRequest::new(id).task("nope"), &hooks)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has no task `nope`") && err.contains("notes, ticket, tidy"),
        "{err}"
    );

    // The checkpoint checks every task again, whatever was recorded.
    std::fs::create_dir_all(ws.path().join("out")).unwrap();
    std::fs::write(ws.path().join("out/a.bin"), "bytes").unwrap();
    let passed = session.validate_with(json!({"ticket": "T-1"}));
    assert!(passed.advanced, "{:?}", passed.report);

    // Artifacts are recorded with the phase, and a later phase freezes them.
    let recorded = &passed.standing.session.artifacts["build"];
    assert_eq!(recorded["notes.md"]["size"], 10);
    assert_eq!(recorded["out/a.bin"]["size"], 5);
    std::fs::write(ws.path().join("out/a.bin"), "changed").unwrap();
    let frozen = session.validate();
    assert!(!frozen.passed);
    let report = frozen.report.unwrap();
    let finding = &report
        .rules
        .iter()
        .find(|r| r.rule == "checkrail/frozen-paths")
        .unwrap()
        .findings[0];
    assert_eq!(finding.path.as_deref(), Some("out/a.bin"));
    std::fs::write(ws.path().join("out/a.bin"), "bytes").unwrap();
    assert_eq!(
        session.validate().standing.session.status,
        Status::Completed
    );

    // The task tool view: workflow metadata in the list.
    let list = svc.engine().catalog().list(None, None);
    let summary = list.iter().find(|w| w.id == "tasks").unwrap();
    assert_eq!(summary.estimated_minutes, Some(30));
}

#[test]
fn tasks_and_artifacts_are_linted() {
    let broken = TASKS
        .replace(
            "done_when: { evidence: ticket }",
            "done_when: { evidence: tickets }",
        )
        .replace("      - id: tidy\n", "      - id: notes\n")
        .replace("      artifacts: [notes.md, out/*.bin]\n", "");
    let ws = Workspace::new().workflow(&broken).build();
    let out = Cli::new(&["workflow", "lint", ".checkrail/workflows/tasks.yaml"])
        .current_dir(ws.path())
        .output();
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(
        shown.contains("/phases/0/tasks/2/done_when/evidence")
            && shown.contains("no property `tickets`"),
        "{shown}"
    );
    assert!(
        shown.contains("/phases/0/tasks/3/id: task id `notes` is used twice"),
        "{shown}"
    );
    assert!(
        shown.contains("/phases/1/checkpoint/frozen/artifacts")
            && shown.contains("records no artifacts"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_sees_tasks_hints_and_errors_over_mcp() {
    let h = Harness::start(Workspace::new().workflow(TASKS).build()).await;
    let tasks_entry = |list: Value| {
        list["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == "tasks")
            .unwrap()
            .clone()
    };
    // A list is compact unless asked: no hints, no estimate.
    let listed = tasks_entry(h.ok("workflow_list", json!({})).await);
    assert!(listed.get("hints").is_none(), "{listed}");
    let entry = tasks_entry(h.ok("workflow_list", json!({"detail": true})).await);
    assert_eq!(entry["estimated_minutes"], 30);
    assert_eq!(entry["hints"]["model"]["reasoning"], "medium");
    let task = h
        .ok(
            "workflow_get",
            json!({"workflow": "tasks", "phase": "build", "task": "notes"}),
        )
        .await;
    assert_eq!(task["task"]["steps"][1], "write two lines");
    assert_eq!(task["phases"][0]["hints"]["notes"], "small steps");
    let err = h
        .err(
            "workflow_get",
            json!({"workflow": "tasks", "task": "notes"}),
        )
        .await;
    assert!(err.contains("`task` needs `phase`"), "{err}");

    let started = h.ok("workflow_start", json!({"workflow": "tasks"})).await;
    let id = started["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started["phase"]["current_task"]["id"], "notes");
    let checked = h
        .ok("workflow_validate", json!({"session": id, "task": "notes"}))
        .await;
    assert_eq!(checked["passed"], false);
    assert_eq!(checked["advanced"], false);
    std::fs::write(h.dir.join("notes.md"), "two\nlines\n").unwrap();
    let checked = h
        .ok("workflow_validate", json!({"session": id, "task": "notes"}))
        .await;
    assert_eq!(checked["passed"], true);
    assert_eq!(checked["standing"]["phase"]["current_task"]["id"], "ticket");
    h.ok("workflow_validate", json!({"session": id})).await;
    let state = h
        .ok("workflow_state", json!({"session": id, "errors": true}))
        .await;
    assert_eq!(state["errors"]["failures"][0]["phase"], "build", "{state}");
    let events: Vec<&str> = state["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"task_done"), "{events:?}");
}
