//! Sessions of an old in-workspace database, read for a one-time import.

use std::path::Path;

use serde_json::Value;

use super::backend::Backend;
use super::record::{Row, State, genesis};
use super::{EventData, Imported, NewEvent, Status, Store, now};

/// What became of an old in-workspace database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyImport {
    /// Its sessions were imported, this many.
    Imported(usize),
    /// This store imported one before: never again.
    AlreadyDone,
    /// This store already held sessions when the file was found: it is
    /// not imported (and never will be).
    Refused,
}
use crate::config::WorkspaceConfig;
use crate::{Error, Result};

pub(super) type LegacyEvent = (String, String, Option<String>, Value);

/// Sessions of an old database, with their state and events.
pub(super) fn legacy_sessions(
    old: &rusqlite::Connection,
) -> rusqlite::Result<Vec<(Row, State, Vec<LegacyEvent>)>> {
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
            running_check: None,
            last_check: None,
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
            version: None,
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
            .query_map(rusqlite::params![row.id], |r| {
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

impl<B: Backend> Store<B> {
    /// Imports the sessions of an old in-workspace database once.
    pub(super) fn import(&self, legacy: &Path, config: &WorkspaceConfig) -> Result<LegacyImport> {
        let old = rusqlite::Connection::open_with_flags(
            legacy,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(|source| Error::Import {
            path: legacy.to_owned(),
            source,
        })?;
        let legacy_error = |source: rusqlite::Error| Error::Import {
            path: legacy.to_owned(),
            source,
        };
        let now = now();
        self.backend.write(|records| {
            let trusted = records.count(&super::backend::RowQuery::default())? > 0 || !records.audit_entries()?.is_empty();
            let mark = match trusted {
                true => format!("refused {} at {now}: sessions were already recorded", legacy.display()),
                false => format!("{} at {now}", legacy.display()),
            };
            if records.claim("legacy_import", &mark)?.is_some() {
                return Ok(LegacyImport::AlreadyDone);
            }
            if trusted {
                return Ok(LegacyImport::Refused);
            }
            let sessions = legacy_sessions(&old).map_err(legacy_error)?;
            let count = sessions.len();
            for (mut row, state, events) in sessions {
                row.config_json = serde_json::json!({
                    "config": config,
                    "provenance": { "kind": "imported", "source": row.workflow_source, "from": legacy.display().to_string() },
                })
                .to_string();
                row.state = state.text();
                row.head_hash = genesis(&row.id);
                for (at, kind, phase, data) in events {
                    self.append(records, &mut row, &at, &kind, phase.as_deref(), &data)?;
                }
                let imported = EventData::Imported(Imported {
                    from: legacy.display().to_string(),
                });
                self.seal(records, &mut row, &now, &[NewEvent::new(None, imported)])?;
                records.put(&row)?;
            }
            Ok(LegacyImport::Imported(count))
        })
    }
}
