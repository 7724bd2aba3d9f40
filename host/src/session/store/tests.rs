//! A log written by release 0.1.0 (before events were typed): it still
//! verifies, and every event decodes into the kind it was written as.

use std::path::Path;

use super::*;
use crate::session::EventData;

const COMPLETED: &str = "f544419be834";
const ABANDONED: &str = "491f3663aab3";

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/session-log-0.1.0")
}

fn fixture_key() -> StateKey {
    let key: [u8; 32] = std::fs::read(fixture_dir().join("key"))
        .ok()
        .and_then(|k| k.try_into().ok())
        .unwrap_or_else(|| panic!("the fixture's key is 32 bytes"));
    StateKey::from_bytes(key)
}

/// The fixture's database opened as the store of the workspace `dir`
/// (written before tags covered the workspace: opening binds it).
fn fixture() -> (tempfile::TempDir, Arc<dyn SessionStore>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let db = dir.path().join("sessions.db");
    std::fs::copy(fixture_dir().join("sessions.db"), &db).unwrap_or_else(|e| panic!("copy: {e}"));
    let store = open_as(&db, dir.path()).unwrap_or_else(|e| panic!("open: {e}"));
    (dir, store)
}

/// The database `db` opened as the store of the workspace `workspace`.
fn open_as(db: &Path, workspace: &Path) -> Result<Arc<dyn SessionStore>> {
    open(
        &StoreTarget::Sqlite(db.to_owned()),
        db,
        workspace,
        fixture_key(),
    )
}

#[test]
fn a_database_bound_to_its_workspace_is_refused_for_another() {
    let (dir, store) = fixture();
    drop(store);
    let db = dir.path().join("sessions.db");
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let refused = open_as(&db, other.path())
        .err()
        .unwrap_or_else(|| panic!("opened for another workspace"))
        .to_string();
    assert!(
        refused.contains("sessions of another workspace"),
        "{refused}"
    );
    // Its own workspace still opens it, and its records still verify.
    let store = open_as(&db, dir.path()).unwrap_or_else(|e| panic!("open: {e}"));
    assert!(store.verify(COMPLETED).is_ok_and(|v| v.verified));
}

#[test]
fn a_log_from_release_0_1_0_verifies_and_decodes() {
    let (_dir, store) = fixture();
    for (id, count) in [(COMPLETED, 36), (ABANDONED, 3)] {
        let verification = store.verify(id).unwrap_or_else(|e| panic!("{e}"));
        assert!(verification.verified, "{:?}", verification.problems);
        assert_eq!(verification.events, count);
    }
    let events = store.events(COMPLETED).unwrap_or_else(|e| panic!("{e}"));
    let unreadable: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.data, EventData::Unreadable { .. }))
        .map(|e| (e.kind().to_owned(), e.details()))
        .collect();
    assert!(unreadable.is_empty(), "{unreadable:?}");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
    for kind in [
        "started",
        "judging_changes_accepted",
        "task_done",
        "validation_failed",
        "paused",
        "resumed",
        "retried",
        "validated",
        "skipped",
        "iteration_started",
        "advanced",
        "rolled_back",
        "check_started",
        "approval_requested",
        "rejected",
        "approved",
        "completed",
    ] {
        assert!(kinds.contains(&kind), "no `{kind}` in {kinds:?}");
    }
    // The details are read, not only the kinds.
    let check = events.iter().find_map(|e| match &e.data {
        EventData::CheckStarted(started) => Some(started.check.clone()),
        _ => None,
    });
    let answered = events.iter().find_map(|e| {
        let (passed, verdict) = e.data.verdict()?;
        verdict.check.clone().filter(|_| passed)
    });
    assert!(
        check.is_some() && check == answered,
        "{check:?} {answered:?}"
    );
    let approval = events.iter().find_map(|e| match &e.data {
        EventData::Approved(decision) => Some(decision.clone()),
        _ => None,
    });
    let approval = approval.unwrap_or_else(|| panic!("no approval"));
    assert_eq!(
        (approval.by.as_str(), approval.channel.as_str()),
        ("tester", "terminal")
    );
    let failures: Vec<_> = crate::session::errors(&events)
        .failures
        .into_iter()
        .map(|f| (f.phase, f.iteration, f.attempt))
        .collect();
    assert_eq!(
        failures,
        [
            ("plan".to_owned(), None, 1),
            ("implement".to_owned(), Some(1), 1),
            ("polish".to_owned(), Some(1), 1),
        ]
    );
    let abandoned = store.events(ABANDONED).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        abandoned.last().map(|e| &e.data),
        Some(&EventData::Abandoned)
    );
}

#[test]
fn a_log_from_release_0_1_0_reads_back_as_it_was_written() {
    let (dir, store) = fixture();
    let events = store.events(COMPLETED).unwrap_or_else(|e| panic!("{e}"));
    // What clients are shown is the stored text, whatever this release
    // makes of it.
    let conn = rusqlite::Connection::open(dir.path().join("sessions.db"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rows = conn
        .prepare("SELECT kind, data FROM events WHERE session_id = ?1 ORDER BY seq")
        .unwrap_or_else(|e| panic!("{e}"));
    let stored: Vec<(String, String)> = rows
        .query_map([COMPLETED], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(Iterator::collect)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(events.len(), stored.len());
    for (event, (kind, data)) in events.iter().zip(&stored) {
        let data: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((event.kind(), &event.details()), (kind.as_str(), &data));
    }
}
