//! The rest of a session's life: deletion with an audit entry, retention
//! of sessions and cached outcomes, the errors view, tasks, hints and
//! artifacts.

use std::path::Path;
use std::sync::Arc;

use checkrail::engine::Hooks;
use checkrail::service::Service;
use checkrail::session::{Control, Status};
use checkrail::{Checkrail, Options};
use serde_json::{Map, Value, json};

use crate::support::{shared_cache, state, workspace};
use crate::trust::{checkrail, raw_db, text};

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

fn service(dir: &Path) -> Service {
    let engine = Checkrail::new(Options {
        workflow_dirs: vec![dir.join(".checkrail/workflows")],
        cache_dir: Some(shared_cache()),
        ..Options::default()
    })
    .unwrap();
    Service::open(Arc::new(engine), dir, &state()).unwrap()
}

fn validate(svc: &Service, id: &str, evidence: Option<Value>) -> checkrail::service::Validation {
    svc.validate(id, None, evidence.as_ref(), false, &Hooks::default())
        .unwrap()
}

#[test]
fn only_finished_sessions_are_deleted_and_an_audit_entry_remains() {
    let ws = workspace(&[(".checkrail/workflows/life.yaml", FLOW)]);
    let svc = service(ws.path());
    let id = svc.start("life", Map::new()).unwrap().session.id;
    validate(&svc, &id, None);
    let err = svc.delete(&id, "tester").unwrap_err().to_string();
    assert!(
        err.contains("only completed or abandoned sessions can be deleted"),
        "{err}"
    );
    svc.control(&id, Control::Abandon, None).unwrap();
    let deletion = svc.delete(&id, "tester").unwrap();
    assert_eq!(deletion.status, "abandoned");
    assert_eq!(deletion.events, 3, "started, validation_failed, abandoned");
    // Reads name the deletion instead of pretending the session never was.
    for err in [
        svc.next(&id).unwrap_err().to_string(),
        svc.verify(&id, false).unwrap_err().to_string(),
    ] {
        assert!(
            err.contains("was deleted at") && err.contains("by tester"),
            "{err}"
        );
    }
    assert!(svc.list(None).unwrap().iter().all(|s| s.id != id));
    let audit = svc.deletions().unwrap();
    assert_eq!(audit[0].id, id);
    assert!(audit[0].verified);

    // An audit entry edited behind checkrail's back says so.
    raw_db(ws.path())
        .execute(
            "UPDATE deleted_sessions SET status = 'completed' WHERE id = ?1",
            [&id],
        )
        .unwrap();
    assert!(!svc.deletions().unwrap()[0].verified);
    let err = svc.next(&id).unwrap_err().to_string();
    assert!(err.contains("that entry does not verify"), "{err}");
}

#[test]
fn a_tampered_session_is_kept_as_evidence() {
    let ws = workspace(&[(".checkrail/workflows/life.yaml", FLOW)]);
    let svc = service(ws.path());
    let id = svc.start("life", Map::new()).unwrap().session.id;
    svc.control(&id, Control::Abandon, None).unwrap();
    raw_db(ws.path())
        .execute(
            "UPDATE events SET data = '{\"forged\":true}' WHERE session_id = ?1 AND kind = 'started'",
            [&id],
        )
        .unwrap();
    let err = svc.delete(&id, "tester").unwrap_err().to_string();
    assert!(err.contains("kept as evidence"), "{err}");
    // Retention keeps it too.
    let pruned = svc.prune().unwrap();
    assert!(pruned.sessions.is_empty());
}

#[test]
fn retention_deletes_old_finished_sessions_and_trims_the_cache() {
    let ws = workspace(&[(".checkrail/workflows/life.yaml", FLOW)]);
    let svc = service(ws.path());
    let old = svc.start("life", Map::new()).unwrap().session.id;
    std::fs::write(ws.path().join("README.md"), "# hi").unwrap();
    validate(&svc, &old, None);
    assert_eq!(
        validate(&svc, &old, None).standing.session.status,
        Status::Completed
    );
    let active = svc.start("life", Map::new()).unwrap().session.id;

    // A policy of a day keeps today's sessions.
    std::fs::write(
        ws.path().join("checkrail.toml"),
        "[retention]\nsessions_days = 1\ncache_days = 1\n",
    )
    .unwrap();
    let pruned = svc.prune().unwrap();
    assert!(pruned.sessions.is_empty() && pruned.outcomes == 0);

    // Everything finished before now goes; the active session stays.
    let store_cutoff = checkrail::session::now();
    let ws_handle = checkrail::workspace::Workspace::open(ws.path(), &state()).unwrap();
    let store = checkrail::session::SessionStore::open(
        &ws_handle.state_dir().join("sessions.db"),
        ws_handle.key().clone(),
    )
    .unwrap();
    let deleted = store.prune(&store_cutoff, "test").unwrap();
    assert_eq!(
        deleted.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [old.as_str()]
    );
    assert_eq!(deleted[0].deleted_by, "retention");
    assert!(svc.next(&active).is_ok());

    // The outcome cache: by size, oldest out first.
    let cache = ws_handle.outcomes().unwrap();
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
    for key in ["a", "b", "c"] {
        cache.put(key, &report(10_000));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(cache.prune(None, Some(u64::MAX)), 0);
    // Over 25 KB: the oldest goes first.
    assert_eq!(cache.prune(None, Some(25_000)), 1);
    assert!(matches!(cache.get("a"), checkrail::outcomes::Lookup::Miss));
    assert!(matches!(
        cache.get("c"),
        checkrail::outcomes::Lookup::Hit(_)
    ));
    // By age: everything stored before now.
    assert_eq!(cache.prune(Some(&checkrail::session::now()), None), 2);

    // A zero-day policy is refused with the fix.
    std::fs::write(
        ws.path().join("checkrail.toml"),
        "[retention]\nsessions_days = 0\n",
    )
    .unwrap();
    let err = svc.prune().unwrap_err().to_string();
    assert!(err.contains("give at least 1 day"), "{err}");
}

#[test]
fn the_cli_deletes_and_lists_deletions() {
    let ws = workspace(&[
        (".checkrail/workflows/life.yaml", FLOW),
        ("README.md", "# x"),
    ]);
    let svc = service(ws.path());
    let id = svc.start("life", Map::new()).unwrap().session.id;
    validate(&svc, &id, None);
    validate(&svc, &id, None);
    let out = checkrail(ws.path(), &["session", "delete", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("its audit entry remains"),
        "{}",
        text(&out)
    );
    let out = checkrail(ws.path(), &["session", "prune", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["deleted_sessions"][0]["id"], json!(id));
    assert!(
        listed["deleted_sessions"][0]["deleted_by"]
            .as_str()
            .unwrap()
            .starts_with("cli:")
    );
    let out = checkrail(ws.path(), &["session", "show", &id]);
    assert!(!out.status.success());
    assert!(text(&out).contains("was deleted at"), "{}", text(&out));
}

#[test]
fn the_errors_view_counts_what_came_back_and_the_first_try_rate() {
    let ws = workspace(&[(".checkrail/workflows/life.yaml", FLOW)]);
    let svc = service(ws.path());
    let id = svc.start("life", Map::new()).unwrap().session.id;
    assert!(!validate(&svc, &id, None).passed);
    assert!(!validate(&svc, &id, None).passed);
    std::fs::write(ws.path().join("README.md"), "# x").unwrap();
    assert!(validate(&svc, &id, None).advanced);
    assert!(validate(&svc, &id, None).advanced);

    let view = svc.errors(&id).unwrap();
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

    let out = checkrail(ws.path(), &["session", "errors", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("readme") && shown.contains("attempt 2"),
        "{shown}"
    );
    assert!(shown.contains("2× [readme"), "{shown}");
    assert!(shown.contains("0/1 runs passed at once"), "{shown}");
}
