//! The record format that makes sessions trustworthy: the authenticated
//! state row, the hash-chained events, the seal that tags both with the
//! per-user key (bound to the workspace in a shared database), and how a
//! row that does not verify is explained.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::super::event::EventData;
use super::{CheckResult, Event, LoopRun, Pinned, RunningCheck, Session, Status, Step};
use crate::trusted::StateKey;
use crate::workflow::Workflow;

pub(super) const EVENT_DOMAIN: &str = "checkrail session event v1";
const ROW_DOMAIN: &str = "checkrail session row v1";

/// The key that authenticates records, bound to the workspace when the
/// database is shared.
pub(super) struct Seal {
    pub(super) key: StateKey,
    pub(super) scope: Option<String>,
}

impl Seal {
    pub(super) fn parts<'a>(&'a self, parts: &[&'a [u8]]) -> Vec<&'a [u8]> {
        let mut all = parts.to_vec();
        if let Some(scope) = &self.scope {
            all.push(scope.as_bytes());
        }
        all
    }

    pub(super) fn tag(&self, domain: &str, parts: &[&[u8]]) -> String {
        self.key.tag(domain, &self.parts(parts))
    }

    pub(super) fn verify(&self, domain: &str, parts: &[&[u8]], tag: &str) -> bool {
        self.key.verify(domain, &self.parts(parts), tag)
    }
}

/// The mutable part of a session: what each event records it reached.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct State {
    pub(super) status: Status,
    pub(super) phase_index: usize,
    #[serde(default)]
    pub(super) paused_from: Option<Status>,
    pub(super) attempts: u32,
    #[serde(default)]
    pub(super) evidence: serde_json::Map<String, Value>,
    #[serde(default)]
    pub(super) facts: serde_json::Map<String, Value>,
    #[serde(default)]
    pub(super) snapshots: serde_json::Map<String, Value>,
    #[serde(default)]
    pub(super) judging: serde_json::Map<String, Value>,
    pub(super) revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) iteration: Option<u32>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(super) loops: std::collections::BTreeMap<String, LoopRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) path: Vec<Step>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(super) tasks_done: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub(super) artifacts: serde_json::Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) running_check: Option<RunningCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) last_check: Option<CheckResult>,
}

impl State {
    pub(super) fn of(session: &Session) -> Self {
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
            running_check: session.running_check.clone(),
            last_check: session.last_check.clone(),
        }
    }

    pub(super) fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A session row as stored, every column as text.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) id: String,
    pub(super) workflow_id: String,
    pub(super) workflow_version: String,
    pub(super) workflow_digest: String,
    pub(super) workflow_json: String,
    pub(super) workflow_source: String,
    pub(super) config_json: String,
    pub(super) inputs: String,
    pub(super) created_at: String,
    pub(super) updated_at: String,
    pub(super) status: String,
    pub(super) state: String,
    pub(super) event_count: i64,
    pub(super) head_hash: String,
    pub(super) tag: String,
    /// Which versions of the row and of the last event of its log were
    /// read, where the backend can tell (not part of what the tag covers).
    pub(super) version: Option<Version>,
}

/// The stored versions of a session's row and of the last event of its
/// log as they were read (PostgreSQL: each row's `xmin`, which every
/// write of that row changes, and the event's position). A backend that
/// can compare them with what is stored can write a change only when
/// neither changed since, in one round trip (see
/// [`super::backend::Backend::write_unchanged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Version {
    pub(super) row: i64,
    pub(super) head_seq: i64,
    pub(super) head: i64,
}

impl Row {
    pub(super) fn tagged_parts(&self) -> Vec<Vec<u8>> {
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

    pub(super) fn compute_tag(&self, seal: &Seal) -> String {
        let parts = self.tagged_parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        seal.tag(ROW_DOMAIN, &refs)
    }

    pub(super) fn verifies(&self, seal: &Seal) -> bool {
        let parts = self.tagged_parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        seal.verify(ROW_DOMAIN, &refs, &self.tag)
    }

    /// The session, workflow and pinned config this row describes.
    pub(super) fn decode(&self) -> std::result::Result<(Session, Workflow, Pinned), String> {
        let state: State =
            serde_json::from_str(&self.state).map_err(|e| format!("state column: {e}"))?;
        let mut workflow: Workflow = serde_json::from_str(&self.workflow_json)
            .map_err(|e| format!("pinned workflow: {e}"))?;
        workflow.digest = self.workflow_digest.clone();
        workflow.source = self.workflow_source.clone();
        let config: Value =
            serde_json::from_str(&self.config_json).map_err(|e| format!("pinned config: {e}"))?;
        let pinned = Pinned {
            config: serde_json::from_value(config["config"].clone())
                .map_err(|e| format!("pinned config: {e}"))?,
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
            running_check: state.running_check,
            last_check: state.last_check,
        };
        Ok((session, workflow, pinned))
    }
}

/// An event as stored.
#[derive(Debug, Clone)]
pub(super) struct StoredEvent {
    pub(super) seq: i64,
    pub(super) n: i64,
    pub(super) at: String,
    pub(super) kind: String,
    pub(super) phase: Option<String>,
    pub(super) data: String,
    pub(super) state: String,
    pub(super) prev_hash: String,
    pub(super) hash: String,
    pub(super) tag: String,
}

impl StoredEvent {
    pub(super) fn content_hash(&self, session: &str) -> String {
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

    pub(super) fn authentic(&self, seal: &Seal) -> bool {
        seal.verify(EVENT_DOMAIN, &[self.hash.as_bytes()], &self.tag)
    }

    pub(super) fn label(&self) -> String {
        format!("event #{} ({})", self.n + 1, self.kind)
    }

    pub(super) fn public(&self) -> Event {
        Event {
            seq: self.n + 1,
            at: self.at.clone(),
            phase: self.phase.clone(),
            data: EventData::decode(
                &self.kind,
                serde_json::from_str(&self.data).unwrap_or(Value::Null),
            ),
        }
    }
}

pub(super) fn genesis(session: &str) -> String {
    hex::encode(Sha256::digest(format!("checkrail session {session}")))
}

/// What is wrong with a row that does not verify, as precisely as the log
/// allows: the state fields that differ from the last event's, or else
/// "altered".
pub(super) fn row_problem(row: &Row, head: Option<&StoredEvent>) -> String {
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
