//! Deleting sessions, by hand or by the retention policy. Only completed
//! or abandoned sessions whose whole record verifies can go (a tampered
//! record stays as evidence). The row and its events are removed; an
//! authenticated audit entry stays in their place, naming the workflow,
//! the final status, the log's length and head hash, who deleted it, why
//! and when. Asking for a deleted session answers with that entry, so a
//! deletion is never silent.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use schemars::JsonSchema;
use serde::Serialize;

use super::{SessionStore, Status, now};
use crate::{Error, Result};

/// The audit table, created with the rest of the schema.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deleted_sessions (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    deleted_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    tag TEXT NOT NULL
);
";

const AUDIT_DOMAIN: &str = "checkrail session deletion v1";

const AUDIT_COLUMNS: &str = "id, workflow_id, workflow_version, status, created_at, deleted_at, event_count, head_hash, deleted_by, reason, tag";

/// What stays of a deleted session.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Deletion {
    /// Session id.
    pub id: String,
    /// Workflow id.
    pub workflow_id: String,
    /// Workflow version.
    pub workflow_version: String,
    /// Its status when deleted (`completed` or `abandoned`).
    pub status: String,
    /// When the session started.
    pub created_at: String,
    /// When it was deleted.
    pub deleted_at: String,
    /// How many events its log held.
    pub events: i64,
    /// Hash of the last event of its log.
    pub head_hash: String,
    /// Who deleted it and through which channel (`cli:$USER`,
    /// `mcp:<client>`, `retention`).
    pub deleted_by: String,
    /// Why.
    pub reason: String,
    /// Whether this entry is as checkrail wrote it.
    pub verified: bool,
}

impl Deletion {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Self, String)> {
        Ok((
            Deletion {
                id: r.get(0)?,
                workflow_id: r.get(1)?,
                workflow_version: r.get(2)?,
                status: r.get(3)?,
                created_at: r.get(4)?,
                deleted_at: r.get(5)?,
                events: r.get(6)?,
                head_hash: r.get(7)?,
                deleted_by: r.get(8)?,
                reason: r.get(9)?,
                verified: false,
            },
            r.get(10)?,
        ))
    }

    /// The authenticated fields, in a fixed order.
    fn parts(&self) -> Vec<Vec<u8>> {
        [
            &self.id,
            &self.workflow_id,
            &self.workflow_version,
            &self.status,
            &self.created_at,
            &self.deleted_at,
            &self.events.to_string(),
            &self.head_hash,
            &self.deleted_by,
            &self.reason,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }

    /// The refusal a read of this session gets.
    pub(super) fn refusal(&self) -> Error {
        Error::Refused(format!(
            "session `{}` ({} {}, {}) was deleted at {} by {} ({}); only its audit entry remains{}",
            self.id,
            self.workflow_id,
            self.workflow_version,
            self.status,
            self.deleted_at,
            self.deleted_by,
            self.reason,
            if self.verified {
                ""
            } else {
                ", and that entry does not verify: it was changed outside checkrail"
            }
        ))
    }
}

impl SessionStore {
    /// Deletes a completed or abandoned session whose record verifies,
    /// leaving an audit entry. `by` names who and through which channel.
    pub fn delete(&self, id: &str, by: &str, reason: &str) -> Result<Deletion> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.db_error(e))?;
        let (row, session, _, _) = self.checked_row(&tx, id)?;
        if !matches!(session.status, Status::Completed | Status::Abandoned) {
            return Err(Error::Refused(format!(
                "session `{id}` is {}; only completed or abandoned sessions can be deleted (abandon it first)",
                session.status
            )));
        }
        let verification = self.verify_in(&tx, id)?;
        if !verification.verified {
            return Err(Error::Refused(format!(
                "session `{id}` is not deleted: its record does not verify ({}); it is kept as evidence, see `checkrail session verify {id}`",
                verification.problems.join("; ")
            )));
        }
        let mut deletion = Deletion {
            id: id.to_owned(),
            workflow_id: row.workflow_id.clone(),
            workflow_version: row.workflow_version.clone(),
            status: session.status.as_str().to_owned(),
            created_at: row.created_at.clone(),
            deleted_at: now(),
            events: row.event_count,
            head_hash: row.head_hash.clone(),
            deleted_by: by.to_owned(),
            reason: reason.to_owned(),
            verified: true,
        };
        let parts = deletion.parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let tag = self.key.tag(AUDIT_DOMAIN, &refs);
        tx.execute(
            &format!(
                "INSERT INTO deleted_sessions ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ),
            params![
                deletion.id,
                deletion.workflow_id,
                deletion.workflow_version,
                deletion.status,
                deletion.created_at,
                deletion.deleted_at,
                deletion.events,
                deletion.head_hash,
                deletion.deleted_by,
                deletion.reason,
                tag,
            ],
        )
        .map_err(|e| self.db_error(e))?;
        tx.execute("DELETE FROM events WHERE session_id = ?1", params![id])
            .map_err(|e| self.db_error(e))?;
        tx.execute("DELETE FROM sessions WHERE id = ?1", params![id])
            .map_err(|e| self.db_error(e))?;
        tx.commit().map_err(|e| self.db_error(e))?;
        deletion.verified = true;
        Ok(deletion)
    }

    /// The audit entry of a deleted session, checked.
    pub fn deleted(&self, id: &str) -> Result<Option<Deletion>> {
        let conn = self.conn();
        self.deleted_in(&conn, id)
    }

    pub(super) fn deleted_in(&self, conn: &Connection, id: &str) -> Result<Option<Deletion>> {
        let found = conn
            .query_row(
                &format!("SELECT {AUDIT_COLUMNS} FROM deleted_sessions WHERE id = ?1"),
                params![id],
                Deletion::read,
            )
            .optional()
            .map_err(|e| self.db_error(e))?;
        Ok(found.map(|(mut deletion, tag)| {
            let parts = deletion.parts();
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            deletion.verified = self.key.verify(AUDIT_DOMAIN, &refs, &tag);
            deletion
        }))
    }

    /// Every audit entry, newest first.
    pub fn deletions(&self) -> Result<Vec<Deletion>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {AUDIT_COLUMNS} FROM deleted_sessions ORDER BY deleted_at DESC, id"
            ))
            .map_err(|e| self.db_error(e))?;
        let rows = stmt
            .query_map([], Deletion::read)
            .map_err(|e| self.db_error(e))?;
        let mut found = Vec::new();
        for row in rows {
            let (mut deletion, tag) = row.map_err(|e| self.db_error(e))?;
            let parts = deletion.parts();
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            deletion.verified = self.key.verify(AUDIT_DOMAIN, &refs, &tag);
            found.push(deletion);
        }
        Ok(found)
    }

    /// Deletes every completed or abandoned session last changed before
    /// `cutoff` (a timestamp as [`now`] writes them), as the retention
    /// policy asks. Sessions that cannot be deleted (a record that does not
    /// verify) are kept and named in the log.
    pub fn prune(&self, cutoff: &str, reason: &str) -> Result<Vec<Deletion>> {
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare(
                    "SELECT id FROM sessions WHERE status IN ('completed', 'abandoned') AND updated_at < ?1 ORDER BY updated_at",
                )
                .map_err(|e| self.db_error(e))?;
            let rows = stmt
                .query_map(params![cutoff], |r| r.get(0))
                .map_err(|e| self.db_error(e))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(|e| self.db_error(e))?
        };
        let mut deleted = Vec::new();
        for id in ids {
            match self.delete(&id, "retention", reason) {
                Ok(deletion) => deleted.push(deletion),
                Err(e) => {
                    tracing::warn!("retention kept session `{id}`: {}", crate::error::chain(&e))
                }
            }
        }
        Ok(deleted)
    }
}
