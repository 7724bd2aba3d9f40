//! Deleting sessions, by hand or by the retention policy. Only completed
//! or abandoned sessions whose whole record verifies can go (a tampered
//! record stays as evidence). The row and its events are removed; an
//! authenticated audit entry stays in their place, naming the workflow,
//! the final status, the log's length and head hash, who deleted it, why
//! and when. Asking for a deleted session answers with that entry, so a
//! deletion is never silent.

use schemars::JsonSchema;
use serde::Serialize;

use super::{Backend, Records, Status, Store, now};
use crate::{Error, Result};

pub(super) const AUDIT_DOMAIN: &str = "checkrail session deletion v1";

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
    /// The authenticated fields, in a fixed order.
    pub(super) fn parts(&self) -> Vec<Vec<u8>> {
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

impl<B: Backend> Store<B> {
    /// Deletes a completed or abandoned session whose record verifies,
    /// leaving an audit entry in the same transaction.
    pub(super) fn delete_session(&self, id: &str, by: &str, reason: &str) -> Result<Deletion> {
        self.backend.write(|records| {
            let (row, session, _, _) = self.checked_row(records, id)?;
            if !matches!(session.status, Status::Completed | Status::Abandoned) {
                return Err(Error::Refused(format!(
                    "session `{id}` is {}; only completed or abandoned sessions can be deleted (abandon it first)",
                    session.status
                )));
            }
            let verification = self.verify_in(records, id)?;
            if !verification.verified {
                return Err(Error::Refused(format!(
                    "session `{id}` is not deleted: its record does not verify ({}); it is kept as evidence, see `checkrail session verify {id}`",
                    verification.problems.join("; ")
                )));
            }
            let deletion = Deletion {
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
            let tag = self.seal.tag(AUDIT_DOMAIN, &refs);
            records.add_audit_entry(&deletion, &tag)?;
            records.remove(id)?;
            Ok(deletion)
        })
    }

    /// The audit entry of a deleted session, checked.
    pub(super) fn deleted_in(
        &self,
        records: &mut dyn Records,
        id: &str,
    ) -> Result<Option<Deletion>> {
        Ok(records
            .audit_entry(id)?
            .map(|(deletion, tag)| self.checked_entry(deletion, &tag)))
    }

    /// Every audit entry, newest first, checked.
    pub(super) fn audit_entries(&self, records: &mut dyn Records) -> Result<Vec<Deletion>> {
        Ok(records
            .audit_entries()?
            .into_iter()
            .map(|(deletion, tag)| self.checked_entry(deletion, &tag))
            .collect())
    }

    fn checked_entry(&self, mut deletion: Deletion, tag: &str) -> Deletion {
        let parts = deletion.parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        deletion.verified = self.seal.verify(AUDIT_DOMAIN, &refs, tag);
        deletion
    }
}
