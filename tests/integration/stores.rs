//! One session-store suite, run against both backends: SQLite in the state
//! directory and a real PostgreSQL server (started by [`crate::pg`]). Each
//! test is written once against [`Fixture`] and instantiated per backend by
//! `suite!`. Records are edited behind checkrail's back with plain SQL,
//! the same statements on both databases.

use std::sync::Arc;

use checkrail::engine::Hooks;
use checkrail::service::Service;
use checkrail::service::ValidateRequest;
use checkrail::session::event::Retried;
use checkrail::session::{Control, EventData, NewEvent, Status, StoreTarget};
use checkrail::trusted::StateDir;

use crate::support::{Session, Sessions, Workspace, raw_db, state};

mod round_trips;

/// Two checked phases, then a last one.
pub(crate) const FLOW: &str = "id: store-flow
version: 1.0.0
name: Store flow
description: d
phases:
  - id: readme
    name: Readme
    guidance: write README.md
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [README.md] }
  - id: changelog
    name: Changelog
    guidance: write CHANGELOG.md
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [CHANGELOG.md] }
  - id: done
    name: Done
    guidance: done
";

/// A workspace with [`FLOW`] and a session store of one backend.
pub(crate) struct Fixture {
    pub ws: tempfile::TempDir,
    pub target: StoreTarget,
    /// The PostgreSQL database's name (None: SQLite).
    pub database: Option<String>,
    sessions: Sessions,
}

impl Fixture {
    pub fn sqlite() -> Self {
        Self::with(StoreTarget::default(), None)
    }

    pub fn postgres() -> Self {
        let (name, url) = crate::pg::fresh_database();
        Self::with(StoreTarget::Postgres(url), Some(name))
    }

    fn with(target: StoreTarget, database: Option<String>) -> Self {
        let ws = Workspace::new().workflow(FLOW).build();
        Self {
            sessions: Sessions::on(ws.path()).store(target.clone()),
            ws,
            target,
            database,
        }
    }

    /// Another workspace on the same store (the same database for
    /// PostgreSQL).
    pub fn sibling(&self) -> Self {
        Self::with(self.target.clone(), self.database.clone())
    }

    /// A service of its own (its own connection), as another process
    /// would open.
    pub fn service(&self) -> Service {
        self.sessions.open()
    }

    fn try_service(&self) -> checkrail::Result<Service> {
        self.sessions.try_open()
    }

    /// Runs SQL on the database behind checkrail's back.
    pub fn sql(&self, sql: &str) {
        match &self.database {
            None => raw_db(self.ws.path()).execute_batch(sql).unwrap(),
            Some(db) => crate::pg::server().execute(db, sql),
        }
    }

    /// The first column of a query's rows, as text.
    fn column(&self, sql: &str) -> Vec<String> {
        match &self.database {
            None => {
                let db = raw_db(self.ws.path());
                let mut stmt = db.prepare(sql).unwrap();
                stmt.query_map([], |r| {
                    Ok(match r.get_ref(0)? {
                        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                        other => format!("{other:?}"),
                    })
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
            }
            Some(db) => crate::pg::server().column(db, sql),
        }
    }

    fn start(&self) -> String {
        Session::start(&self.service(), "store-flow").id
    }
}

fn problems(svc: &Service, id: &str) -> String {
    let report = svc.verify(id, false).unwrap();
    assert!(!report.ok, "tampering went unnoticed");
    report.record.problems.join("\n")
}

/// Instantiates each test of the suite once per backend.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::Fixture::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(&super::Fixture::postgres()); })*
        }
    };
}

suite!(
    create_get_list_events,
    concurrent_changes_lose_nothing,
    concurrent_validations_advance_once,
    tampering_shows,
    deletion_leaves_an_audit_entry,
    migrations,
    pages_of_sessions,
    a_slow_decision_holds_no_lock,
    a_change_is_decided_on_what_is_stored,
    tampering_between_a_read_and_a_change_stops_it,
);

/// A change decided on a session read earlier (as a validation decides on
/// the session it read before its rules ran) is not written over a record
/// altered since that read: the row, the last event, an event added after
/// it, the last event removed. Each is refused as tampering, and nothing
/// is appended.
fn tampering_between_a_read_and_a_change_stops_it(f: &Fixture) {
    let workspace = if f.database.is_some() {
        "workspace, "
    } else {
        ""
    };
    let tamperings = [
        "UPDATE sessions SET status = 'completed' WHERE id = '{id}'".to_owned(),
        "UPDATE events SET data = '{\"forged\":true}' WHERE session_id = '{id}' AND n = 1".to_owned(),
        format!(
            "INSERT INTO events ({workspace}session_id, n, at, kind, phase, data, state, prev_hash, hash, tag)
             SELECT {workspace}session_id, n + 1, at, 'approved', phase, '{{}}', state, hash, hash, tag FROM events WHERE session_id = '{{id}}' AND n = 1"
        ),
        "DELETE FROM events WHERE session_id = '{id}' AND n = 1".to_owned(),
    ];
    for tampering in tamperings {
        let svc = f.service();
        let id = f.start();
        svc.store().update(&id, control(Control::Pause)).unwrap();
        let (read, _, _) = svc.store().get(&id).unwrap();
        assert_eq!(read.status, Status::Paused);
        let count = |f: &Fixture| {
            f.column(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM events WHERE session_id = '{id}'"
            ))
        };
        f.sql(&tampering.replace("{id}", &id));
        let before = count(f);
        let changed = svc.store().update(&id, control(Control::Resume));
        assert!(
            matches!(changed, Err(checkrail::Error::Tampered { .. })),
            "after `{tampering}`: {changed:?}"
        );
        assert_eq!(
            count(f),
            before,
            "after `{tampering}`: an event was appended"
        );
    }
}

/// Control `action` as a change of its own.
fn control(
    action: Control,
) -> impl Copy
+ Send
+ Fn(
    &mut checkrail::session::Session,
    &checkrail::workflow::Workflow,
) -> checkrail::Result<(checkrail::session::Transition, ())> {
    use checkrail::session::{Command, Transition};
    move |s, wf| {
        let events = s.apply(
            Command::Control {
                action,
                to_phase: None,
                iteration: None,
            },
            wf,
        )?;
        Ok((Transition::from(events), ()))
    }
}

/// A store may decide a change on the session as it last read or wrote
/// it, but only while the stored row is still that one: after another
/// replica changed the session, the change is decided on what is stored.
fn a_change_is_decided_on_what_is_stored(f: &Fixture) {
    let (mine, other) = (f.service(), f.service());
    let id = f.start();
    let (seen, _, _) = mine.store().get(&id).unwrap();
    assert_eq!(seen.status, Status::Active);
    other.store().update(&id, control(Control::Pause)).unwrap();

    // Pausing is allowed on the session `mine` saw, refused on the stored one.
    let again = mine.store().update(&id, control(Control::Pause));
    assert!(
        matches!(again, Err(checkrail::Error::Refused(_))),
        "paused twice: {again:?}"
    );
    // Resuming is allowed only on the stored one.
    let (resumed, ()) = mine.store().update(&id, control(Control::Resume)).unwrap();
    assert_eq!(resumed.status, Status::Active);
    // And after its own write `mine` decides on what it wrote.
    let (paused, ()) = mine.store().update(&id, control(Control::Pause)).unwrap();
    assert_eq!(paused.status, Status::Paused);
    let kinds: Vec<String> = mine
        .store()
        .events(&id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind().to_owned())
        .collect();
    assert_eq!(kinds, ["started", "paused", "resumed", "paused"]);
    assert!(mine.store().verify(&id).unwrap().verified);
}

/// A change is decided outside the write transaction: one that takes its
/// time (a costly condition, say) does not hold up another session's
/// write, nor a reader.
fn a_slow_decision_holds_no_lock(f: &Fixture) {
    let svc = Arc::new(f.service());
    let (slow, quick) = (f.start(), f.start());
    let pause = control(Control::Pause);
    let deciding = std::sync::Arc::new(std::sync::Barrier::new(2));
    let slow_change = {
        let (svc, slow, deciding) = (svc.clone(), slow.clone(), deciding.clone());
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let mut first = true;
            svc.store()
                .update(&slow, |s, wf| {
                    if first {
                        first = false;
                        deciding.wait();
                        std::thread::sleep(std::time::Duration::from_millis(1500));
                    }
                    pause(s, wf)
                })
                .unwrap();
            started.elapsed()
        })
    };
    deciding.wait();
    let started = std::time::Instant::now();
    svc.store().update(&quick, pause).unwrap();
    assert_eq!(svc.list(None).unwrap().len(), 2);
    let quick_took = started.elapsed();
    let slow_took = slow_change.join().unwrap();
    assert!(
        quick_took < std::time::Duration::from_millis(750),
        "another session's write waited {quick_took:?} for a decision"
    );
    assert!(slow_took >= std::time::Duration::from_millis(1500));
    // Both changes are on record, and the records verify.
    for id in [&slow, &quick] {
        assert_eq!(svc.next(id).unwrap().session.status, Status::Paused);
        assert!(svc.verify(id, false).unwrap().ok);
    }
}

fn pages_of_sessions(f: &Fixture) {
    let svc = f.service();
    let ids: Vec<String> = (0..7).map(|_| f.start()).collect();
    let first = ids[0].clone();
    svc.control(&first, Control::Abandon, None).unwrap();
    let page = |status: Option<Status>, limit: Option<u64>, offset: u64| {
        svc.page(&checkrail::session::SessionQuery {
            status,
            workflow: None,
            limit,
            offset,
        })
        .unwrap()
    };
    // Pages of three, in order, make up the whole list, newest first.
    let all: Vec<String> = svc.list(None).unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(all.len(), 7);
    let mut paged = Vec::new();
    let mut offset = Some(0);
    while let Some(at) = offset {
        let one = page(None, Some(3), at);
        assert_eq!(one.total, 7);
        assert!(one.sessions.len() <= 3);
        paged.extend(one.sessions.into_iter().map(|s| s.id));
        offset = one.next_offset;
    }
    assert_eq!(paged, all);
    let last = page(None, Some(3), 6);
    assert_eq!((last.sessions.len(), last.next_offset), (1, None));
    let active = page(Some(Status::Active), Some(10), 0);
    assert_eq!(active.total, 6);
    assert!(active.sessions.iter().all(|s| s.id != first));
    let by_workflow = svc
        .page(&checkrail::session::SessionQuery {
            workflow: Some("store-fl".to_owned()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_workflow.total, 7);
    let none = svc
        .page(&checkrail::session::SessionQuery {
            workflow: Some("nothing".to_owned()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((none.total, none.sessions.len()), (0, 0));
    // Another workspace on the same database sees none of them.
    let sibling = f.sibling();
    assert_eq!(
        sibling.service().page(&Default::default()).unwrap().total,
        0
    );
}

fn create_get_list_events(f: &Fixture) {
    let svc = f.service();
    let id = f.start();
    let standing = svc.next(&id).unwrap();
    assert_eq!(standing.session.phase_id, "readme");
    assert_eq!(standing.session.status, Status::Active);
    let session = Session::of(&svc, &id);
    assert_eq!(session.event_kinds(), ["started"]);

    // A failed check, then a pass that advances.
    assert!(!session.validate().passed);
    std::fs::write(f.ws.path().join("README.md"), "# x\n").unwrap();
    let passed = session.validate();
    assert!(passed.passed && passed.advanced);
    assert_eq!(
        session.event_kinds(),
        ["started", "validation_failed", "validated", "advanced"]
    );
    let (stored, workflow, _) = svc.store().get(&id).unwrap();
    assert_eq!(stored.phase_id, "changelog");
    assert_eq!(workflow.id, "store-flow");
    assert!(svc.store().verify(&id).unwrap().verified);

    // Listing: by status, newest first; another workspace sees none of it.
    let other = f.start();
    svc.control(&other, Control::Abandon, None).unwrap();
    let listed = svc.list(None).unwrap();
    let mut ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = [id.as_str(), other.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert!(listed[0].updated_at >= listed[1].updated_at, "newest first");
    let active: Vec<String> = svc
        .list(Some(Status::Active))
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(active, std::slice::from_ref(&id));
    let sibling = f.sibling();
    let theirs = sibling.service();
    assert!(theirs.list(None).unwrap().is_empty());
    let err = theirs.next(&id).unwrap_err().to_string();
    assert!(err.contains("unknown session"), "{err}");

    // A fresh open (another process) reads the same record.
    let again = f.service();
    assert_eq!(again.next(&id).unwrap().session.revision, stored.revision);
    assert!(again.verify(&id, false).unwrap().ok);
}

/// Many threads, each with its own store, change one session at once:
/// every change is applied, each from the state the one before it left.
fn concurrent_changes_lose_nothing(f: &Fixture) {
    const THREADS: usize = 8;
    const EACH: usize = 12;
    let id = f.start();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let svc = f.service();
            let id = id.clone();
            std::thread::spawn(move || {
                for _ in 0..EACH {
                    svc.store()
                        .update(&id, |session, _| {
                            let read = session.attempts;
                            session.attempts += 1;
                            let retried = Retried {
                                cleared_attempts: read,
                                iteration: None,
                            };
                            let event = NewEvent::new(None, EventData::Retried(retried));
                            Ok((vec![event].into(), ()))
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let svc = f.service();
    let (session, _, _) = svc.store().get(&id).unwrap();
    assert_eq!(
        session.attempts as usize,
        THREADS * EACH,
        "an update was lost"
    );
    let mut read: Vec<u64> = svc
        .events(&id)
        .unwrap()
        .iter()
        .filter(|e| e.kind() == "retried")
        .map(|e| e.details()["cleared_attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(read.len(), THREADS * EACH);
    read.sort_unstable();
    let expected: Vec<u64> = (0..(THREADS * EACH) as u64).collect();
    assert_eq!(read, expected, "two changes were made from the same state");
    assert!(svc.verify(&id, false).unwrap().ok);

    // Through the service: failing validations at once, each counted.
    let failing = f.start();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let svc = f.service();
            let id = failing.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    assert!(!Session::of(&svc, &id).validate().passed);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let failures = svc
        .events(&failing)
        .unwrap()
        .iter()
        .filter(|e| e.kind() == "validation_failed")
        .count();
    assert_eq!(failures, 20);
    assert_eq!(svc.next(&failing).unwrap().session.attempts, 20);
}

/// Validates session `id` from four services at once; how many answers
/// said they advanced it.
fn race(f: &Fixture, id: &str) -> usize {
    let services: Vec<Service> = (0..4).map(|_| f.service()).collect();
    let barrier = Arc::new(std::sync::Barrier::new(services.len()));
    let handles: Vec<_> = services
        .into_iter()
        .map(|svc| {
            let id = id.to_owned();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                match svc.validate(&ValidateRequest::new(&id), &Hooks::default()) {
                    Ok(answer) => answer.advanced,
                    // It read the session after another completed it.
                    Err(e) if e.to_string().contains("is completed") => false,
                    Err(e) => panic!("{e}"),
                }
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|a| *a)
        .count()
}

/// Validations of the same phase at once: exactly one advances, and
/// exactly one completes the session at the last phase.
fn concurrent_validations_advance_once(f: &Fixture) {
    std::fs::write(f.ws.path().join("README.md"), "# x\n").unwrap();
    let changelog = f.ws.path().join("CHANGELOG.md");
    for _ in 0..3 {
        // Validations that read the session after the advance check the
        // next phase, which must then fail.
        let _ = std::fs::remove_file(&changelog);
        let id = f.start();
        let svc = f.service();
        assert_eq!(race(f, &id), 1, "exactly one validation advances");
        assert_eq!(svc.next(&id).unwrap().session.phase_id, "changelog");
        let events = svc.events(&id).unwrap();
        assert_eq!(events.iter().filter(|e| e.kind() == "advanced").count(), 1);
        // Every validation is logged.
        let logged = events
            .iter()
            .filter(|e| e.kind() == "validated" || e.kind() == "validation_failed")
            .count();
        assert_eq!(logged, 4);

        // The last phase: one completes it, none of the others says so.
        std::fs::write(&changelog, "# y\n").unwrap();
        assert!(Session::of(&svc, &id).validate().advanced);
        assert_eq!(svc.next(&id).unwrap().session.phase_id, "done");
        let completing = race(f, &id);
        let events = svc.events(&id).unwrap();
        assert_eq!(events.iter().filter(|e| e.kind() == "completed").count(), 1);
        assert_eq!(completing, 1, "exactly one validation completes");
        assert_eq!(svc.next(&id).unwrap().session.status, Status::Completed);
    }
}

fn tampering_shows(f: &Fixture) {
    let svc = f.service();
    let id = f.start();
    let session = Session::of(&svc, &id);
    for _ in 0..3 {
        assert!(!session.validate().passed);
    }
    assert!(svc.verify(&id, false).unwrap().ok);

    // The state row: attempts reset behind checkrail's back.
    f.sql(&format!(
        "UPDATE sessions SET state = replace(state, '\"attempts\":3', '\"attempts\":0') WHERE id = '{id}'"
    ));
    let found = problems(&svc, &id);
    assert!(
        found.contains("state row was altered: attempts are 0 but the log says 3"),
        "{found}"
    );
    assert!(
        svc.next(&id)
            .unwrap_err()
            .to_string()
            .contains("does not verify")
    );
    f.sql(&format!(
        "UPDATE sessions SET state = replace(state, '\"attempts\":0', '\"attempts\":3') WHERE id = '{id}'"
    ));
    assert!(svc.verify(&id, false).unwrap().ok);

    // An event: the second failed validation now claims to have passed.
    let original = f.column(&format!(
        "SELECT data FROM events WHERE session_id = '{id}' AND n = 2"
    ));
    assert!(original[0].contains("\"passed\":false"), "{original:?}");
    f.sql(&format!(
        "UPDATE events SET data = replace(data, '\"passed\":false', '\"passed\":true') WHERE session_id = '{id}' AND n = 2"
    ));
    let found = problems(&svc, &id);
    assert!(
        found.contains("#3 (validation_failed) was altered"),
        "{found}"
    );
    f.sql(&format!(
        "UPDATE events SET data = replace(data, '\"passed\":true', '\"passed\":false') WHERE session_id = '{id}' AND n = 2"
    ));
    assert!(svc.verify(&id, false).unwrap().ok);

    // A forged event, then a removed one.
    let workspace = if f.database.is_some() {
        "workspace, "
    } else {
        ""
    };
    f.sql(&format!(
        "INSERT INTO events ({workspace}session_id, n, at, kind, phase, data, state, prev_hash, hash, tag)
         SELECT {workspace}session_id, n, at, 'approved', phase, '{{}}', state, prev_hash, hash, 'ab' FROM events WHERE session_id = '{id}' AND n = 1"
    ));
    let found = problems(&svc, &id);
    assert!(found.contains("was not written by checkrail"), "{found}");
    f.sql(&format!(
        "DELETE FROM events WHERE session_id = '{id}' AND kind = 'approved'"
    ));
    assert!(svc.verify(&id, false).unwrap().ok);
    f.sql(&format!(
        "DELETE FROM events WHERE session_id = '{id}' AND n = 2"
    ));
    let found = problems(&svc, &id);
    assert!(found.contains("events #3 were removed"), "{found}");
    let err = svc.events(&id).unwrap_err().to_string();
    assert!(err.contains("does not verify"), "{err}");
    assert_eq!(f.service().verify(&id, false).unwrap().record.events, 3);
}

fn deletion_leaves_an_audit_entry(f: &Fixture) {
    let svc = f.service();
    let active = f.start();
    let err = svc.delete(&active, "cli:tester").unwrap_err().to_string();
    assert!(err.contains("only completed or abandoned"), "{err}");

    let id = f.start();
    svc.control(&id, Control::Abandon, None).unwrap();
    let logged = svc.events(&id).unwrap().len() as i64;
    let deletion = svc.delete(&id, "cli:tester").unwrap();
    assert_eq!(deletion.id, id);
    assert_eq!(deletion.status, "abandoned");
    assert_eq!(deletion.events, logged);
    assert!(deletion.verified);
    assert!(
        f.column(&format!("SELECT n FROM events WHERE session_id = '{id}'"))
            .is_empty(),
        "the log went with the session"
    );
    let err = svc.next(&id).unwrap_err().to_string();
    assert!(
        err.contains("was deleted") && err.contains("cli:tester"),
        "{err}"
    );
    let listed = svc.deletions().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].verified);
    assert_eq!(svc.list(None).unwrap().len(), 1);

    // An edited audit entry shows.
    f.sql(&format!(
        "UPDATE deleted_sessions SET deleted_by = 'someone else' WHERE id = '{id}'"
    ));
    assert!(!f.service().deletions().unwrap()[0].verified);
    let err = svc.next(&id).unwrap_err().to_string();
    assert!(err.contains("that entry does not verify"), "{err}");
}

fn migrations(f: &Fixture) {
    let id = f.start();
    let versions = |f: &Fixture| f.column("SELECT version FROM schema_version ORDER BY version");
    assert_eq!(versions(f), ["1"]);
    // Opening again applies nothing twice.
    f.service();
    assert_eq!(versions(f), ["1"]);

    // A database written before schemas were versioned (no version table)
    // is taken as version 1, and its sessions stay.
    f.sql("DROP TABLE schema_version");
    let svc = f.service();
    assert_eq!(versions(f), ["1"]);
    assert!(svc.verify(&id, false).unwrap().ok);

    // A database a newer checkrail migrated is refused, by name.
    let newer = match f.database {
        None => "INSERT INTO schema_version (version, applied_at) VALUES (7, 'later')",
        Some(_) => "INSERT INTO schema_version (version) VALUES (7)",
    };
    f.sql(newer);
    let err = match f.try_service() {
        Ok(_) => panic!("a newer database was opened"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("schema is version 7, newer than this checkrail knows (version 1)"),
        "{err}"
    );
    f.sql("DELETE FROM schema_version WHERE version = 7");
    assert!(f.service().verify(&id, false).unwrap().ok);
}

/// PostgreSQL only: replicas must share the state key, and a record moved
/// to another workspace of the same database does not verify there.
#[test]
fn postgres_binds_records_to_their_key_and_workspace() {
    let f = Fixture::postgres();
    let id = f.start();

    let other_state = tempfile::tempdir().unwrap();
    let other = StateDir::at(&other_state.path().join("state")).unwrap();
    let err = match Service::open_in(f.sessions.engine(), f.ws.path(), &other, &f.target) {
        Ok(_) => panic!("a replica with another key opened the database"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("another state key"), "{err}");

    let sibling = f.sibling();
    let theirs = sibling.service();
    let ws = |f: &Fixture| {
        checkrail::workspace::Workspace::open(f.ws.path(), &state())
            .unwrap()
            .root()
            .to_string_lossy()
            .into_owned()
    };
    f.sql(&format!(
        "UPDATE sessions SET workspace = '{to}' WHERE id = '{id}'; UPDATE events SET workspace = '{to}' WHERE session_id = '{id}'",
        to = ws(&sibling)
    ));
    let err = theirs.next(&id).unwrap_err().to_string();
    assert!(err.contains("does not verify"), "{err}");
    let report = theirs.verify(&id, false).unwrap();
    assert!(
        report
            .record
            .problems
            .iter()
            .any(|p| p.contains("was not written by checkrail")),
        "{:?}",
        report.record.problems
    );
}

/// PostgreSQL only: a pooled connection the server closed while it sat
/// idle (a restart, an idle timeout) is noticed and replaced, not handed
/// to the next call.
#[test]
fn postgres_replaces_connections_the_server_closed() {
    let f = Fixture::postgres();
    let svc = f.service();
    let id = f.start();
    svc.next(&id).unwrap();
    let db = f.database.as_deref().unwrap();
    let closed = crate::pg::server().column(
        "postgres",
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ),
    );
    assert!(!closed.is_empty(), "the service held no connection");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(svc.next(&id).unwrap().session.id, id);
    svc.control(&id, Control::Pause, None).unwrap();
    assert!(svc.verify(&id, false).unwrap().ok);
}
