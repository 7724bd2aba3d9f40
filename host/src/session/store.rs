//! SQLite persistence: `sessions` (current state, one row each) and
//! `events` (append-only). Every change runs in an IMMEDIATE transaction
//! that re-reads the row and checks the revision the caller saw, so two
//! processes never both apply a change made from the same state.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use super::{Event, Session, Status};
use crate::workflow::Workflow;
use crate::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    workflow_digest TEXT NOT NULL,
    workflow_json TEXT NOT NULL,
    workflow_source TEXT NOT NULL,
    status TEXT NOT NULL,
    phase_index INTEGER NOT NULL,
    paused_from TEXT,
    attempts INTEGER NOT NULL,
    inputs TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    phase TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_session ON events(session_id, seq);
CREATE INDEX IF NOT EXISTS sessions_by_status ON sessions(status, updated_at);
";

/// An event to append, and the state change that goes with it.
#[derive(Debug, Default)]
pub struct Transition {
    /// Events to append, in order: (kind, phase, data).
    pub events: Vec<(String, Option<String>, Value)>,
}

impl Transition {
    /// Adds an event.
    pub fn event(mut self, kind: &str, phase: Option<&str>, data: Value) -> Self {
        self.events
            .push((kind.to_owned(), phase.map(str::to_owned), data));
        self
    }
}

/// The session database of one workspace.
pub struct SessionStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SessionStore {
    /// Opens (creating on first use) `<workspace>/.checkrail/sessions.db`.
    pub fn open(workspace: &Path) -> Result<Self> {
        let dir = workspace.join(".checkrail");
        std::fs::create_dir_all(&dir).map_err(|e| Error::Workspace {
            path: workspace.to_owned(),
            reason: format!("cannot create `.checkrail/` for the session database: {e}"),
        })?;
        Self::open_file(&dir.join("sessions.db"))
    }

    /// Opens a database file directly.
    pub fn open_file(path: &Path) -> Result<Self> {
        let db_error = |e: rusqlite::Error| {
            Error::Other(format!("session database `{}`: {e}", path.display()))
        };
        let conn = Connection::open(path).map_err(db_error)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(db_error)?;
        // WAL: readers do not block the writer; NORMAL sync is durable
        // against a killed process (not against power loss).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db_error)?;
        conn.execute_batch(SCHEMA).map_err(db_error)?;
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
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

    fn db_error(&self, e: rusqlite::Error) -> Error {
        Error::Other(format!("session database `{}`: {e}", self.path.display()))
    }

    /// Creates a session at the workflow's first phase, pinning the workflow.
    pub fn create(
        &self,
        workflow: &Workflow,
        inputs: serde_json::Map<String, Value>,
    ) -> Result<Session> {
        let now = now();
        let session = Session {
            id: new_id(),
            workflow_id: workflow.id.clone(),
            workflow_version: workflow.version.to_string(),
            workflow_digest: workflow.digest.clone(),
            status: Status::Active,
            phase_index: 0,
            phase_id: workflow.phases[0].id.clone(),
            paused_from: None,
            attempts: 0,
            inputs,
            created_at: now.clone(),
            updated_at: now.clone(),
            revision: 1,
        };
        let workflow_json =
            serde_json::to_string(workflow).map_err(|e| Error::Other(e.to_string()))?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.db_error(e))?;
        tx.execute(
            "INSERT INTO sessions (id, workflow_id, workflow_version, workflow_digest, workflow_json, workflow_source,
                status, phase_index, paused_from, attempts, inputs, created_at, updated_at, revision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, NULL, 0, ?8, ?9, ?9, 1)",
            params![
                session.id,
                session.workflow_id,
                session.workflow_version,
                session.workflow_digest,
                workflow_json,
                workflow.source,
                session.status.as_str(),
                Value::Object(session.inputs.clone()).to_string(),
                now,
            ],
        )
        .map_err(|e| self.db_error(e))?;
        append(
            &tx,
            &session.id,
            &now,
            "started",
            Some(&session.phase_id),
            &serde_json::json!({
                "workflow": workflow.id, "version": workflow.version.to_string(), "digest": workflow.digest,
            }),
        )
        .map_err(|e| self.db_error(e))?;
        tx.commit().map_err(|e| self.db_error(e))?;
        Ok(session)
    }

    /// A session and the workflow it pinned.
    pub fn get(&self, id: &str) -> Result<(Session, Workflow)> {
        let conn = self.conn();
        load(&conn, id)
            .map_err(|e| self.db_error(e))?
            .ok_or_else(|| unknown(id))
    }

    /// Sessions, newest first, optionally only those with one status.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<Session>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM sessions WHERE (?1 IS NULL OR status = ?1) ORDER BY updated_at DESC, id"
            ))
            .map_err(|e| self.db_error(e))?;
        let rows = stmt
            .query_map(params![status.map(Status::as_str)], row_to_session)
            .map_err(|e| self.db_error(e))?;
        rows.map(|r| r.map(|(s, _)| s).map_err(|e| self.db_error(e)))
            .collect()
    }

    /// The session's log, oldest first.
    pub fn events(&self, id: &str) -> Result<Vec<Event>> {
        let conn = self.conn();
        let exists: Option<String> = conn
            .query_row("SELECT id FROM sessions WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.db_error(e))?;
        if exists.is_none() {
            return Err(unknown(id));
        }
        let mut stmt = conn
            .prepare(
                "SELECT seq, at, kind, phase, data FROM events WHERE session_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.db_error(e))?;
        let rows = stmt
            .query_map(params![id], |r| {
                let data: String = r.get(4)?;
                Ok(Event {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    phase: r.get(3)?,
                    data: serde_json::from_str(&data).unwrap_or(Value::Null),
                })
            })
            .map_err(|e| self.db_error(e))?;
        rows.map(|r| r.map_err(|e| self.db_error(e))).collect()
    }

    /// Applies a change atomically: re-reads the session under a write lock,
    /// lets `change` decide (it sees the current state and may refuse with
    /// an error), then writes the new state and appends its events. Nothing
    /// is written when `change` fails.
    pub fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Session, &Workflow) -> Result<(Transition, T)>,
    ) -> Result<(Session, T)> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.db_error(e))?;
        let (mut session, workflow) = load(&tx, id)
            .map_err(|e| self.db_error(e))?
            .ok_or_else(|| unknown(id))?;
        let (transition, value) = change(&mut session, &workflow)?;
        let now = now();
        session.updated_at = now.clone();
        session.revision += 1;
        session.phase_id = workflow
            .phases
            .get(session.phase_index)
            .map(|p| p.id.clone())
            .unwrap_or_else(|| session.phase_id.clone());
        tx.execute(
            "UPDATE sessions SET status = ?2, phase_index = ?3, paused_from = ?4, attempts = ?5,
                updated_at = ?6, revision = ?7 WHERE id = ?1",
            params![
                session.id,
                session.status.as_str(),
                session.phase_index as i64,
                session.paused_from.map(Status::as_str),
                session.attempts,
                now,
                session.revision,
            ],
        )
        .map_err(|e| self.db_error(e))?;
        for (kind, phase, data) in &transition.events {
            append(&tx, &session.id, &now, kind, phase.as_deref(), data)
                .map_err(|e| self.db_error(e))?;
        }
        tx.commit().map_err(|e| self.db_error(e))?;
        Ok((session, value))
    }
}

const COLUMNS: &str = "id, workflow_id, workflow_version, workflow_digest, status, phase_index, paused_from, attempts,
    inputs, created_at, updated_at, revision, workflow_json, workflow_source";

fn load(conn: &Connection, id: &str) -> rusqlite::Result<Option<(Session, Workflow)>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1"),
        params![id],
        |row| {
            let (session, workflow_json) = row_to_session(row)?;
            let mut workflow: Workflow = serde_json::from_str(&workflow_json).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    12,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?;
            workflow.digest = session.workflow_digest.clone();
            workflow.source = row.get(13)?;
            Ok((session, workflow))
        },
    )
    .optional()
}

fn row_to_session(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Session, String)> {
    let status: String = row.get(4)?;
    let paused_from: Option<String> = row.get(6)?;
    let inputs: String = row.get(8)?;
    let workflow_json: String = row.get(12)?;
    let phase_index: i64 = row.get(5)?;
    let phase_index = phase_index as usize;
    let phase_id = serde_json::from_str::<Value>(&workflow_json)
        .ok()
        .and_then(|w| w["phases"][phase_index]["id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((
        Session {
            id: row.get(0)?,
            workflow_id: row.get(1)?,
            workflow_version: row.get(2)?,
            workflow_digest: row.get(3)?,
            status: Status::parse(&status).unwrap_or(Status::Abandoned),
            phase_index,
            phase_id,
            paused_from: paused_from.as_deref().and_then(Status::parse),
            attempts: row.get(7)?,
            inputs: serde_json::from_str(&inputs).unwrap_or_default(),
            created_at: row.get(9)?,
            updated_at: row.get(10)?,
            revision: row.get(11)?,
        },
        workflow_json,
    ))
}

fn append(
    conn: &Connection,
    id: &str,
    at: &str,
    kind: &str,
    phase: Option<&str>,
    data: &Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO events (session_id, at, kind, phase, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, at, kind, phase, data.to_string()],
    )?;
    Ok(())
}

fn unknown(id: &str) -> Error {
    Error::UnknownSession { id: id.to_owned() }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// Current UTC time as RFC 3339 with milliseconds.
pub fn now() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
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
