//! Checking a session's record: the row and every event against the
//! seal and the chain, and the row against the head of the log.

use super::backend::{Backend, Records};
use super::record::{Row, StoredEvent, genesis, row_problem};
use super::{Pinned, Session, Store};
use crate::workflow::Workflow;
use crate::{Error, Result};

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

impl<B: Backend> Store<B> {
    /// The head check every read and change makes: the row is authentic
    /// and agrees with the last event of the log. [`SessionStore::verify`]
    /// checks the whole log.
    pub(super) fn checked_row(
        &self,
        records: &mut dyn Records,
        id: &str,
    ) -> Result<(Row, Session, Workflow, Pinned)> {
        match records.head(id)? {
            Some((row, head)) => self.checked(id, row, head),
            None => Err(self.missing(records, id)?),
        }
    }

    /// [`Store::checked_row`] of a head read on its own snapshot (one
    /// statement where the backend allows), outside any transaction; a
    /// session that passes is remembered for the next change of it.
    pub(super) fn current(
        &self,
        id: &str,
        head: Option<(Row, Option<StoredEvent>)>,
    ) -> Result<(Row, Session, Workflow, Pinned)> {
        let current = match head {
            Some((row, head)) => self.checked(id, row, head)?,
            None => return Err(self.backend.read(|records| self.missing(records, id))?),
        };
        self.remember(&current.0, &current.1, &current.2);
        Ok(current)
    }

    /// The head check of a row and the last event of its log.
    fn checked(
        &self,
        id: &str,
        row: Row,
        head: Option<StoredEvent>,
    ) -> Result<(Row, Session, Workflow, Pinned)> {
        let mut problems = Vec::new();
        if !row.verifies(&self.seal) {
            problems.push(row_problem(&row, head.as_ref()));
        }
        match &head {
            Some(head) if head.hash == row.head_hash && head.n + 1 == row.event_count => {
                if !head.authentic(&self.seal) || head.content_hash(id) != head.hash {
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
        let (session, workflow, pinned) = row.decode().map_err(|reason| Error::Tampered {
            id: id.to_owned(),
            problems: vec![reason],
        })?;
        Ok((row, session, workflow, pinned))
    }

    pub(super) fn verify_in(&self, records: &mut dyn Records, id: &str) -> Result<Verification> {
        let row = self.row(records, id)?;
        let stored = records.events(id)?;
        let mut problems = Vec::new();
        let mut authentic: Vec<&StoredEvent> = Vec::new();
        for event in &stored {
            if event.authentic(&self.seal) {
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
        if let Some((a, b)) = positions
            .windows(2)
            .find(|w| w[0] > w[1])
            .map(|w| (w[0], w[1]))
        {
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
        if !row.verifies(&self.seal) {
            problems.push(row_problem(&row, head));
        } else if row.event_count != expected || head.is_none_or(|h| h.hash != row.head_hash) {
            problems.push(format!(
                "the state row records {} events but the log has {}",
                row.event_count,
                seen.len()
            ));
        } else if head.is_some_and(|h| h.state != row.state) {
            problems.push(
                "the state row does not match the last event of the log: its status, phase or facts were changed".to_owned(),
            );
        }
        problems.dedup();
        Ok(Verification {
            session: id.to_owned(),
            verified: problems.is_empty(),
            events: stored.len(),
            problems,
        })
    }
}
