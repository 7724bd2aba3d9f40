//! SQLite persistence in the workspace's private state directory:
//! `sessions` (current state, one row each) and `events` (append-only).
//!
//! Every change runs in an IMMEDIATE transaction that re-reads the row, so
//! two processes never both apply a change made from the same state.
//!
//! Records show tampering: each event carries its position in the session,
//! the state the session reached with it, and the hash of the event before
//! it; its own hash is authenticated with the per-user key. The state row is
//! authenticated too, and binds the number of events and the last one's
//! hash, so an edited row, an edited, inserted, removed or reordered event
//! is reported by [`SessionStore::verify`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Command, Event, LoopRun, NewEvent, Session, Status, Step};

mod delete;
use crate::config::WorkspaceConfig;
use crate::state::{StateKey, restrict_file};
use crate::workflow::Workflow;
use crate::{Error, Result};
pub use delete::Deletion;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    workflow_digest TEXT NOT NULL,
    workflow_json TEXT NOT NULL,
    workflow_source TEXT NOT NULL,
    config_json TEXT NOT NULL,
    inputs TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    tag TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    phase TEXT,
    data TEXT NOT NULL,
    state TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    tag TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_session ON events(session_id, seq);
CREATE INDEX IF NOT EXISTS sessions_by_status ON sessions(status, updated_at);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
";

const EVENT_DOMAIN: &str = "checkrail session event v1";
const ROW_DOMAIN: &str = "checkrail session row v1";

/// Events to append with a state change, as the state machine decided
/// them.
#[derive(Debug, Default)]
pub struct Transition {
    /// Events to append, in order.
    pub events: Vec<NewEvent>,
}

impl From<Vec<NewEvent>> for Transition {
    fn from(events: Vec<NewEvent>) -> Self {
        Self { events }
    }
}

/// What a session pins at start besides its workflow.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The workspace config (grants, trust, approval policy) in force.
    pub config: WorkspaceConfig,
    /// Where the workflow came from, for humans and `session show`.
    pub provenance: Value,
    /// Globs of the files that change how the workflow's rules judge.
    pub judging_globs: Vec<String>,
}

/// The session database of one workspace.
pub struct SessionStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    key: StateKey,
    /// Commits since the database was opened, for the checkpointer.
    commits: Arc<AtomicU64>,
    _checkpointer: Option<Checkpointer>,
}

/// Copies the WAL back into the database off the request path: every
/// quarter second, when something was committed since the last time, a
/// passive checkpoint (it never blocks readers or the writer). When the
/// store closes, SQLite checkpoints what is left.
struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path, commits: Arc<AtomicU64>) -> Option<Self> {
        let conn = Connection::open(path).ok()?;
        conn.busy_timeout(Duration::from_millis(100)).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("checkrail-wal".to_owned())
            .spawn(move || {
                let mut seen = 0;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(Duration::from_millis(250));
                    let now = commits.load(Ordering::Relaxed);
                    if now != seen {
                        seen = now;
                        if let Err(e) =
                            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                        {
                            tracing::debug!("session database checkpoint: {e}");
                        }
                    }
                }
            })
            .ok()?;
        Some(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// The mutable part of a session: what each event records it reached.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct State {
    status: Status,
    phase_index: usize,
    #[serde(default)]
    paused_from: Option<Status>,
    attempts: u32,
    #[serde(default)]
    evidence: serde_json::Map<String, Value>,
    #[serde(default)]
    facts: serde_json::Map<String, Value>,
    #[serde(default)]
    snapshots: serde_json::Map<String, Value>,
    #[serde(default)]
    judging: serde_json::Map<String, Value>,
    revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iteration: Option<u32>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    loops: std::collections::BTreeMap<String, LoopRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    path: Vec<Step>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    tasks_done: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    artifacts: serde_json::Map<String, Value>,
}

impl State {
    fn of(session: &Session) -> Self {
        Self {
            status: session.status,
            phase_index: session.phase_index,
            paused_from: session.paused_from,
            attempts: session.attempts,
            evidence: session.evidence.clone(),
            facts: session.facts.clone(),
            snapshots: session.snapshots.clone(),
            judging: session.judging.clone(),
            revision: session.revision,
            iteration: session.iteration,
            loops: session.loops.clone(),
            path: session.path.clone(),
            tasks_done: session.tasks_done.clone(),
            artifacts: session.artifacts.clone(),
        }
    }

    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A session row as stored, every column as text.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    workflow_id: String,
    workflow_version: String,
    workflow_digest: String,
    workflow_json: String,
    workflow_source: String,
    config_json: String,
    inputs: String,
    created_at: String,
    updated_at: String,
    status: String,
    state: String,
    event_count: i64,
    head_hash: String,
    tag: String,
}

const ROW_COLUMNS: &str =
    "id, workflow_id, workflow_version, workflow_digest, workflow_json, workflow_source,
    config_json, inputs, created_at, updated_at, status, state, event_count, head_hash, tag";

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            workflow_id: r.get(1)?,
            workflow_version: r.get(2)?,
            workflow_digest: r.get(3)?,
            workflow_json: r.get(4)?,
            workflow_source: r.get(5)?,
            config_json: r.get(6)?,
            inputs: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
            status: r.get(10)?,
            state: r.get(11)?,
            event_count: r.get(12)?,
            head_hash: r.get(13)?,
            tag: r.get(14)?,
        })
    }

    fn tagged_parts(&self) -> Vec<Vec<u8>> {
        [
            &self.id,
            &self.workflow_id,
            &self.workflow_version,
            &self.workflow_digest,
            &self.workflow_json,
            &self.workflow_source,
            &self.config_json,
            &self.inputs,
            &self.created_at,
            &self.updated_at,
            &self.status,
            &self.state,
            &self.event_count.to_string(),
            &self.head_hash,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }

    fn compute_tag(&self, key: &StateKey) -> String {
        let parts = self.tagged_parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        key.tag(ROW_DOMAIN, &refs)
    }

    fn verifies(&self, key: &StateKey) -> bool {
        let parts = self.tagged_parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        key.verify(ROW_DOMAIN, &refs, &self.tag)
    }

    fn write(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            &format!("INSERT OR REPLACE INTO sessions ({ROW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
            params![
                self.id, self.workflow_id, self.workflow_version, self.workflow_digest, self.workflow_json,
                self.workflow_source, self.config_json, self.inputs, self.created_at, self.updated_at,
                self.status, self.state, self.event_count, self.head_hash, self.tag,
            ],
        )?;
        Ok(())
    }

    /// The session, workflow and pinned config this row describes.
    fn decode(&self) -> Result<(Session, Workflow, Pinned)> {
        let json = |what: &'static str| move |source| Error::Json { what, source };
        let state: State =
            serde_json::from_str(&self.state).map_err(json("decode the state column"))?;
        let mut workflow: Workflow = serde_json::from_str(&self.workflow_json)
            .map_err(json("decode the pinned workflow"))?;
        workflow.digest = self.workflow_digest.clone();
        workflow.source = self.workflow_source.clone();
        let config: Value =
            serde_json::from_str(&self.config_json).map_err(json("decode the pinned config"))?;
        let pinned = Pinned {
            config: serde_json::from_value(config["config"].clone())
                .map_err(json("decode the pinned config"))?,
            provenance: config["provenance"].clone(),
            judging_globs: serde_json::from_value(config["judging_globs"].clone())
                .unwrap_or_default(),
        };
        let session = Session {
            id: self.id.clone(),
            workflow_id: self.workflow_id.clone(),
            workflow_version: self.workflow_version.clone(),
            workflow_digest: self.workflow_digest.clone(),
            status: state.status,
            phase_index: state.phase_index,
            phase_id: workflow
                .phases
                .get(state.phase_index)
                .map(|p| p.id.clone())
                .unwrap_or_default(),
            paused_from: state.paused_from,
            attempts: state.attempts,
            inputs: serde_json::from_str(&self.inputs).unwrap_or_default(),
            evidence: state.evidence,
            facts: state.facts,
            snapshots: state.snapshots,
            judging: state.judging,
            provenance: pinned.provenance.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            revision: state.revision,
            iteration: state.iteration,
            loops: state.loops,
            path: state.path,
            tasks_done: state.tasks_done,
            artifacts: state.artifacts,
        };
        Ok((session, workflow, pinned))
    }
}

/// An event as stored.
#[derive(Debug, Clone)]
struct StoredEvent {
    seq: i64,
    n: i64,
    at: String,
    kind: String,
    phase: Option<String>,
    data: String,
    state: String,
    prev_hash: String,
    hash: String,
    tag: String,
}

const EVENT_COLUMNS: &str = "seq, n, at, kind, phase, data, state, prev_hash, hash, tag";

impl StoredEvent {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: r.get(0)?,
            n: r.get(1)?,
            at: r.get(2)?,
            kind: r.get(3)?,
            phase: r.get(4)?,
            data: r.get(5)?,
            state: r.get(6)?,
            prev_hash: r.get(7)?,
            hash: r.get(8)?,
            tag: r.get(9)?,
        })
    }

    fn content_hash(&self, session: &str) -> String {
        let mut h = Sha256::new();
        for part in [
            session,
            &self.n.to_string(),
            &self.at,
            &self.kind,
            self.phase.as_deref().unwrap_or("\u{0}"),
            &self.data,
            &self.state,
            &self.prev_hash,
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }

    fn authentic(&self, key: &StateKey) -> bool {
        key.verify(EVENT_DOMAIN, &[self.hash.as_bytes()], &self.tag)
    }

    fn label(&self) -> String {
        format!("event #{} ({})", self.n + 1, self.kind)
    }

    fn public(&self) -> Event {
        Event {
            seq: self.n + 1,
            at: self.at.clone(),
            kind: self.kind.clone(),
            phase: self.phase.clone(),
            data: serde_json::from_str(&self.data).unwrap_or(Value::Null),
        }
    }
}

/// The file that records when the database at `path` was created.
fn marker_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".created");
    PathBuf::from(name)
}

fn genesis(session: &str) -> String {
    hex::encode(Sha256::digest(format!("checkrail session {session}")))
}

/// The result of checking one session's record.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Verification {
    /// Session id.
    pub session: String,
    /// Whether the record is exactly as checkrail wrote it.
    pub verified: bool,
    /// Events checked.
    pub events: usize,
    /// Each thing found altered, added, removed or reordered.
    pub problems: Vec<String>,
}

impl SessionStore {
    /// Opens (creating) the database at `path`, authenticated with `key`.
    pub fn open(path: &Path, key: StateKey) -> Result<Self> {
        let marker = marker_of(path);
        if let Ok(created) = std::fs::read_to_string(&marker) {
            let size = std::fs::metadata(path).map(|m| m.len()).ok();
            if size.is_none_or(|s| s == 0) {
                return Err(Error::DatabaseLost {
                    path: path.to_owned(),
                    missing: size.is_none(),
                    since: created.trim().to_owned(),
                    marker,
                });
            }
        }
        let db_error = |source: rusqlite::Error| Error::Database {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(db_error)?;
        restrict_file(path);
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(db_error)?;
        // WAL: readers do not block the writer; NORMAL sync is durable
        // against a killed process (not against power loss).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_error)?;
        // The WAL is copied back into the database by a background thread
        // (see `Checkpointer`), not by whichever request happens to cross
        // the threshold: that took validate's p99 from 1.25 ms to 4 ms.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db_error)?;
        conn.execute_batch(SCHEMA).map_err(db_error)?;
        conn.execute_batch(delete::SCHEMA).map_err(db_error)?;
        restrict_file(path);
        if !marker.exists() {
            // Remembers that this database exists, so that losing it later
            // is reported rather than silently replaced by an empty one.
            crate::state::write_private(&marker, now().as_bytes())?;
        }
        let commits = Arc::new(AtomicU64::new(0));
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            key,
            _checkpointer: Checkpointer::start(path, commits.clone()),
            commits,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent:
        // an open transaction is rolled back when it is dropped.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn db_error(&self, source: rusqlite::Error) -> Error {
        Error::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Creates a session at the workflow's first phase, pinning the
    /// workflow, the config in force and where the workflow came from.
    pub fn create(
        &self,
        workflow: &Workflow,
        inputs: serde_json::Map<String, Value>,
        pinned: &Pinned,
        judging: &serde_json::Map<String, Value>,
    ) -> Result<Session> {
        let now = now();
        let workflow_json = serde_json::to_string(workflow).map_err(|source| Error::Json {
            what: "encode the workflow to pin",
            source,
        })?;
        let config_json = serde_json::json!({
            "config": pinned.config,
            "provenance": pinned.provenance,
            "judging_globs": pinned.judging_globs,
        })
        .to_string();
        let state = State {
            status: Status::Active,
            phase_index: 0,
            paused_from: None,
            attempts: 0,
            evidence: serde_json::Map::new(),
            facts: serde_json::Map::new(),
            snapshots: serde_json::Map::new(),
            judging: judging.clone(),
            revision: 1,
            iteration: None,
            loops: Default::default(),
            path: Vec::new(),
            tasks_done: Default::default(),
            artifacts: Default::default(),
        };
        let mut row = Row {
            id: new_id(),
            workflow_id: workflow.id.clone(),
            workflow_version: workflow.version.to_string(),
            workflow_digest: workflow.digest.clone(),
            workflow_json: workflow_json.clone(),
            workflow_source: workflow.source.clone(),
            config_json,
            inputs: Value::Object(inputs).to_string(),
            created_at: now.clone(),
            updated_at: now.clone(),
            status: state.status.as_str().to_owned(),
            state: state.text(),
            event_count: 0,
            head_hash: String::new(),
            tag: String::new(),
        };
        row.head_hash = genesis(&row.id);
        // The machine settles the start: phases whose conditions are false
        // are skipped, a loop at the start is entered.
        let (mut session, _, _) = row.decode()?;
        let begun = session.apply(Command::Begin, workflow)?;
        row.status = session.status.as_str().to_owned();
        row.state = State::of(&session).text();
        let started = serde_json::json!({
            "workflow": workflow.id,
            "version": workflow.version.to_string(),
            "digest": workflow.digest,
            "pinned_workflow_sha256": hex::encode(Sha256::digest(&workflow_json)),
            "provenance": pinned.provenance,
        });
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.db_error(e))?;
        self.append(
            &tx,
            &mut row,
            &now,
            "started",
            workflow.phases.first().map(|p| p.id.as_str()),
            &started,
        )
        .map_err(|e| self.db_error(e))?;
        self.seal(tx, &mut row, &now, &begun)?;
        let (session, _, _) = row.decode()?;
        Ok(session)
    }

    /// Appends one event to `row`'s chain (row fields updated, not written).
    /// Appends the state machine's events to the row's log, authenticates
    /// the row and commits.
    fn seal(
        &self,
        tx: rusqlite::Transaction<'_>,
        row: &mut Row,
        now: &str,
        events: &[NewEvent],
    ) -> Result<()> {
        for event in events {
            self.append(
                &tx,
                row,
                now,
                event.kind.as_str(),
                event.phase.as_deref(),
                &event.data,
            )
            .map_err(|e| self.db_error(e))?;
        }
        row.tag = row.compute_tag(&self.key);
        row.write(&tx).map_err(|e| self.db_error(e))?;
        tx.commit().map_err(|e| self.db_error(e))?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn append(
        &self,
        conn: &Connection,
        row: &mut Row,
        at: &str,
        kind: &str,
        phase: Option<&str>,
        data: &Value,
    ) -> rusqlite::Result<()> {
        let mut event = StoredEvent {
            seq: 0,
            n: row.event_count,
            at: at.to_owned(),
            kind: kind.to_owned(),
            phase: phase.map(str::to_owned),
            data: data.to_string(),
            state: row.state.clone(),
            prev_hash: row.head_hash.clone(),
            hash: String::new(),
            tag: String::new(),
        };
        event.hash = event.content_hash(&row.id);
        event.tag = self.key.tag(EVENT_DOMAIN, &[event.hash.as_bytes()]);
        conn.execute(
            "INSERT INTO events (session_id, n, at, kind, phase, data, state, prev_hash, hash, tag)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                row.id,
                event.n,
                event.at,
                event.kind,
                event.phase,
                event.data,
                event.state,
                event.prev_hash,
                event.hash,
                event.tag,
            ],
        )?;
        row.event_count += 1;
        row.head_hash = event.hash;
        Ok(())
    }

    /// A session's row; for a deleted session, the refusal its audit entry
    /// gives.
    fn row(&self, conn: &Connection, id: &str) -> Result<Row> {
        let row = conn
            .query_row(
                &format!("SELECT {ROW_COLUMNS} FROM sessions WHERE id = ?1"),
                params![id],
                Row::read,
            )
            .optional()
            .map_err(|e| self.db_error(e))?;
        match row {
            Some(row) => Ok(row),
            None => Err(match self.deleted_in(conn, id)? {
                Some(deletion) => deletion.refusal(),
                None => unknown(id),
            }),
        }
    }

    fn stored_events(&self, conn: &Connection, id: &str) -> Result<Vec<StoredEvent>> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ?1 ORDER BY seq"
            ))
            .map_err(|e| self.db_error(e))?;
        let rows = stmt
            .query_map(params![id], StoredEvent::read)
            .map_err(|e| self.db_error(e))?;
        rows.map(|r| r.map_err(|e| self.db_error(e))).collect()
    }

    /// The head check every read and change makes: the row is authentic
    /// and agrees with the last event of the log. [`SessionStore::verify`]
    /// checks the whole log.
    fn checked_row(&self, conn: &Connection, id: &str) -> Result<(Row, Session, Workflow, Pinned)> {
        let row = self.row(conn, id)?;
        let head: Option<StoredEvent> = self.stored_events_tail(conn, id)?;
        let mut problems = Vec::new();
        if !row.verifies(&self.key) {
            problems.push(row_problem(&row, head.as_ref()));
        }
        match &head {
            Some(head) if head.hash == row.head_hash && head.n + 1 == row.event_count => {
                if !head.authentic(&self.key) || head.content_hash(id) != head.hash {
                    problems.push(format!("{} was altered", head.label()));
                } else if head.state != row.state {
                    problems.push("the state row does not match the last event of the log".to_owned());
                }
            }
            _ => problems.push(format!(
                "the log does not end where the state row says (it records {} events); events were added or removed",
                row.event_count
            )),
        }
        if !problems.is_empty() {
            return Err(Error::Tampered {
                id: id.to_owned(),
                problems,
            });
        }
        let (session, workflow, pinned) = row.decode().map_err(|e| Error::Tampered {
            id: id.to_owned(),
            problems: vec![crate::error::chain(&e)],
        })?;
        Ok((row, session, workflow, pinned))
    }

    fn stored_events_tail(&self, conn: &Connection, id: &str) -> Result<Option<StoredEvent>> {
        conn.query_row(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ?1 ORDER BY seq DESC LIMIT 1"
            ),
            params![id],
            StoredEvent::read,
        )
        .optional()
        .map_err(|e| self.db_error(e))
    }

    /// A session, the workflow and config it pinned. Refused when the row
    /// or the head of its log does not verify.
    pub fn get(&self, id: &str) -> Result<(Session, Workflow, Pinned)> {
        let conn = self.conn();
        let (_, session, workflow, pinned) = self.checked_row(&conn, id)?;
        Ok((session, workflow, pinned))
    }

    /// Sessions, newest first, optionally only those with one status. A
    /// session whose row does not verify is listed with status as stored
    /// and a `tampered` provenance note; `get` refuses it.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<Session>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {ROW_COLUMNS} FROM sessions WHERE (?1 IS NULL OR status = ?1) ORDER BY updated_at DESC, id"
            ))
            .map_err(|e| self.db_error(e))?;
        let rows = stmt
            .query_map(params![status.map(Status::as_str)], Row::read)
            .map_err(|e| self.db_error(e))?;
        let mut sessions = Vec::new();
        for row in rows {
            let row = row.map_err(|e| self.db_error(e))?;
            let Ok((mut session, _, _)) = row.decode() else {
                continue;
            };
            if !row.verifies(&self.key) {
                session.provenance = serde_json::json!({
                    "tampered": format!("this record does not verify; run `checkrail session verify {}`", row.id)
                });
            }
            sessions.push(session);
        }
        Ok(sessions)
    }

    /// The session's log, oldest first; refused unless the whole record
    /// verifies.
    pub fn events(&self, id: &str) -> Result<Vec<Event>> {
        let verification = self.verify(id)?;
        if !verification.verified {
            return Err(Error::Tampered {
                id: id.to_owned(),
                problems: verification.problems,
            });
        }
        let conn = self.conn();
        Ok(self
            .stored_events(&conn, id)?
            .iter()
            .map(StoredEvent::public)
            .collect())
    }

    /// Checks a session's whole record: the row's authentication, every
    /// event's authentication and content, the chain's order and
    /// completeness, and that the row's state is the one the log reached.
    pub fn verify(&self, id: &str) -> Result<Verification> {
        let conn = self.conn();
        self.verify_in(&conn, id)
    }

    fn verify_in(&self, conn: &Connection, id: &str) -> Result<Verification> {
        let row = self.row(conn, id)?;
        let stored = self.stored_events(conn, id)?;
        let mut problems = Vec::new();
        let mut authentic: Vec<&StoredEvent> = Vec::new();
        for event in &stored {
            if event.authentic(&self.key) {
                authentic.push(event);
            } else {
                problems.push(format!(
                    "an event at position {} ({}) was not written by checkrail: it was inserted or its record forged",
                    event.seq, event.kind
                ));
            }
        }
        for event in &authentic {
            if event.content_hash(id) != event.hash {
                problems.push(format!(
                    "{} was altered: its content no longer matches what was recorded",
                    event.label()
                ));
            }
        }
        // Order and completeness, by each event's authenticated position.
        let mut seen = std::collections::BTreeMap::new();
        for event in &authentic {
            if seen.insert(event.n, *event).is_some() {
                problems.push(format!("{} appears twice (copied)", event.label()));
            }
        }
        let positions: Vec<i64> = authentic.iter().map(|e| e.n).collect();
        if positions.windows(2).any(|w| w[0] > w[1]) {
            let (a, b) = positions
                .windows(2)
                .find(|w| w[0] > w[1])
                .map(|w| (w[0], w[1]))
                .unwrap_or_default();
            problems.push(format!(
                "events were reordered: #{} is stored before #{}",
                a + 1,
                b + 1
            ));
        }
        let expected = row.event_count.max(seen.keys().last().map_or(0, |n| n + 1));
        let missing: Vec<String> = (0..expected)
            .filter(|n| !seen.contains_key(n))
            .map(|n| format!("#{}", n + 1))
            .collect();
        if !missing.is_empty() {
            problems.push(format!("events {} were removed", missing.join(", ")));
        }
        let mut prev = genesis(id);
        for (n, event) in &seen {
            if event.prev_hash != prev && !missing.iter().any(|m| *m == format!("#{n}")) {
                problems.push(format!(
                    "{} does not follow the event before it in the chain",
                    event.label()
                ));
            }
            prev = event.hash.clone();
        }
        let head = seen.values().last().copied();
        if !row.verifies(&self.key) {
            problems.push(row_problem(&row, head));
        } else if row.event_count != expected || head.is_none_or(|h| h.hash != row.head_hash) {
            problems.push(format!(
                "the state row records {} events but the log has {}",
                row.event_count,
                seen.len()
            ));
        }
        problems.dedup();
        Ok(Verification {
            session: id.to_owned(),
            verified: problems.is_empty(),
            events: stored.len(),
            problems,
        })
    }

    /// Applies a change atomically: re-reads the session under a write lock
    /// (refusing a record that does not verify), lets `change` decide (it
    /// sees the current state and may refuse with an error), then writes the
    /// new state and appends its events. Nothing is written when `change`
    /// fails.
    pub fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Session, &Workflow) -> Result<(Transition, T)>,
    ) -> Result<(Session, T)> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.db_error(e))?;
        let (mut row, mut session, workflow, _) = self.checked_row(&tx, id)?;
        let (transition, value) = change(&mut session, &workflow)?;
        let now = now();
        session.updated_at = now.clone();
        session.revision += 1;
        session.phase_id = workflow
            .phases
            .get(session.phase_index)
            .map(|p| p.id.clone())
            .unwrap_or_else(|| session.phase_id.clone());
        row.updated_at = now.clone();
        row.status = session.status.as_str().to_owned();
        row.state = State::of(&session).text();
        self.seal(tx, &mut row, &now, &transition.events)?;
        Ok((session, value))
    }

    /// Imports the sessions of an old in-workspace database once: rows and
    /// events are copied and chained, each session gains an `imported`
    /// event naming the file. Returns how many sessions were imported
    /// (`None` when this store already imported one).
    pub fn import_legacy(&self, legacy: &Path, config: &WorkspaceConfig) -> Result<Option<usize>> {
        let old = Connection::open_with_flags(legacy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| Error::Import {
            path: legacy.to_owned(),
            source,
        })?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.db_error(e))?;
        let done: Option<String> = tx
            .query_row(
                "SELECT value FROM meta WHERE name = 'legacy_import'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db_error(e))?;
        if done.is_some() {
            return Ok(None);
        }
        let legacy_error = |source: rusqlite::Error| Error::Import {
            path: legacy.to_owned(),
            source,
        };
        let sessions = legacy_sessions(&old).map_err(legacy_error)?;
        let count = sessions.len();
        let now = now();
        for (mut row, state, events) in sessions {
            row.config_json = serde_json::json!({
                "config": config,
                "provenance": { "kind": "imported", "source": row.workflow_source, "from": legacy.display().to_string() },
            })
            .to_string();
            row.state = state.text();
            row.head_hash = genesis(&row.id);
            for (at, kind, phase, data) in events {
                self.append(&tx, &mut row, &at, &kind, phase.as_deref(), &data)
                    .map_err(|e| self.db_error(e))?;
            }
            let note = serde_json::json!({ "from": legacy.display().to_string() });
            self.append(&tx, &mut row, &now, "imported", None, &note)
                .map_err(|e| self.db_error(e))?;
            row.tag = row.compute_tag(&self.key);
            row.write(&tx).map_err(|e| self.db_error(e))?;
        }
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ('legacy_import', ?1)",
            params![format!("{} at {now}", legacy.display())],
        )
        .map_err(|e| self.db_error(e))?;
        tx.commit().map_err(|e| self.db_error(e))?;
        Ok(Some(count))
    }
}

type LegacyEvent = (String, String, Option<String>, Value);

/// Sessions of an old database, with their state and events.
fn legacy_sessions(old: &Connection) -> rusqlite::Result<Vec<(Row, State, Vec<LegacyEvent>)>> {
    let mut stmt = old.prepare(
        "SELECT id, workflow_id, workflow_version, workflow_digest, workflow_json, workflow_source,
            status, phase_index, paused_from, attempts, inputs, created_at, updated_at, revision FROM sessions",
    )?;
    let rows = stmt.query_map([], |r| {
        let status: String = r.get(6)?;
        let paused: Option<String> = r.get(8)?;
        let state = State {
            status: Status::parse(&status).unwrap_or(Status::Abandoned),
            phase_index: r.get::<_, i64>(7)? as usize,
            paused_from: paused.as_deref().and_then(Status::parse),
            attempts: r.get(9)?,
            evidence: serde_json::Map::new(),
            facts: serde_json::Map::new(),
            snapshots: serde_json::Map::new(),
            judging: serde_json::Map::new(),
            revision: r.get(13)?,
            iteration: None,
            loops: Default::default(),
            path: Vec::new(),
            tasks_done: Default::default(),
            artifacts: Default::default(),
        };
        let row = Row {
            id: r.get(0)?,
            workflow_id: r.get(1)?,
            workflow_version: r.get(2)?,
            workflow_digest: r.get(3)?,
            workflow_json: r.get(4)?,
            workflow_source: r.get(5)?,
            config_json: String::new(),
            inputs: r.get(10)?,
            created_at: r.get(11)?,
            updated_at: r.get(12)?,
            status: state.status.as_str().to_owned(),
            state: String::new(),
            event_count: 0,
            head_hash: String::new(),
            tag: String::new(),
        };
        Ok((row, state))
    })?;
    let mut out = Vec::new();
    for item in rows {
        let (row, state) = item?;
        let mut events = old.prepare(
            "SELECT at, kind, phase, data FROM events WHERE session_id = ?1 ORDER BY seq",
        )?;
        let events = events
            .query_map(params![row.id], |r| {
                let data: String = r.get(3)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    serde_json::from_str(&data).unwrap_or(Value::Null),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push((row, state, events));
    }
    Ok(out)
}

/// What is wrong with a row that does not verify, as precisely as the log
/// allows: the state fields that differ from the last event's, or else
/// "altered".
fn row_problem(row: &Row, head: Option<&StoredEvent>) -> String {
    let logged: Option<State> = head.and_then(|h| serde_json::from_str(&h.state).ok());
    let stored: Option<State> = serde_json::from_str(&row.state).ok();
    if let (Some(logged), Some(stored)) = (&logged, &stored) {
        let mut diffs = Vec::new();
        if logged.status != stored.status || row.status != logged.status.as_str() {
            diffs.push(format!(
                "status is `{}` but the log says `{}`",
                row.status, logged.status
            ));
        }
        if logged.phase_index != stored.phase_index {
            diffs.push(format!(
                "phase is #{} but the log says #{}",
                stored.phase_index + 1,
                logged.phase_index + 1
            ));
        }
        if logged.attempts != stored.attempts {
            diffs.push(format!(
                "attempts are {} but the log says {}",
                stored.attempts, logged.attempts
            ));
        }
        if logged.evidence != stored.evidence {
            diffs.push("recorded evidence differs from the log".to_owned());
        }
        if !diffs.is_empty() {
            return format!("the state row was altered: {}", diffs.join("; "));
        }
    }
    "the state row was altered (its pinned workflow, config, inputs or counters no longer match their authentication)".to_owned()
}

fn unknown(id: &str) -> Error {
    Error::UnknownSession { id: id.to_owned() }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// Current UTC time as RFC 3339 with milliseconds.
pub fn now() -> String {
    timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// The UTC time `days` days ago, written as [`now`] writes times, so that
/// stored times compare with it as text.
pub fn days_ago(days: u32) -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    timestamp(since.saturating_sub(std::time::Duration::from_secs(u64::from(days) * 86_400)))
}

fn timestamp(since: std::time::Duration) -> String {
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_512), (2026, 2, 28));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
