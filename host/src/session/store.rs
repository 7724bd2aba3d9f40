//! Session persistence: the [`SessionStore`] trait and the one
//! implementation of what makes records trustworthy, over two backends
//! that only persist rows: embedded SQLite in the workspace's private state
//! directory (the default, [`sqlite`]) and PostgreSQL for replicas sharing
//! one database ([`postgres`]).
//!
//! A session is one authenticated row (current state) plus an append-only
//! log of events. Every change runs in a write transaction that re-reads
//! the row under a lock (SQLite: an IMMEDIATE transaction; PostgreSQL:
//! `SELECT … FOR UPDATE`), so two processes never both apply a change made
//! from the same state.
//!
//! Records show tampering: each event carries its position in the session,
//! the state the session reached with it, and the hash of the event before
//! it; its own hash is authenticated with the per-user key. The state row is
//! authenticated too, and binds the number of events and the last one's
//! hash, so an edited row, an edited, inserted, removed or reordered event
//! is reported by [`SessionStore::verify`]. In a shared database the tags
//! also bind the workspace, so a record moved from one workspace to another
//! shows too.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{CheckResult, Command, Event, LoopRun, NewEvent, RunningCheck, Session, Status, Step};

mod backend;
mod delete;
mod postgres;
mod sqlite;
use crate::config::WorkspaceConfig;
use crate::trusted::StateKey;
use crate::workflow::Workflow;
use crate::{Error, Result};
use backend::{Backend, Records};
pub use delete::Deletion;

const EVENT_DOMAIN: &str = "checkrail session event v1";
const ROW_DOMAIN: &str = "checkrail session row v1";
const KEY_CHECK_DOMAIN: &str = "checkrail session store key v1";
/// Names of notes, kept apart from the names the store uses itself.
const NOTE_PREFIX: &str = "note:";

/// Where sessions are kept: `--store` / `$CHECKRAIL_STORE`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StoreTarget {
    /// `sessions.db` in the workspace's private state directory.
    #[default]
    StateDir,
    /// An SQLite database file elsewhere (`sqlite:PATH`).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`, or a
    /// `key=value` connection string after `postgres:`), shared by every
    /// replica given the same URL.
    Postgres(String),
}

impl std::str::FromStr for StoreTarget {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text == "sqlite" {
            Ok(Self::StateDir)
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(Self::Postgres(text.to_owned()))
        } else if let Some(conninfo) = text.strip_prefix("postgres:") {
            Ok(Self::Postgres(conninfo.to_owned()))
        } else if let Some(path) = text.strip_prefix("sqlite:") {
            Ok(Self::Sqlite(path.into()))
        } else {
            Err(format!(
                "`{}` is not a session store; use `sqlite` (the state directory, the default), `sqlite:PATH` or `postgres://USER@HOST/DB`",
                crate::error::clip(text)
            ))
        }
    }
}

impl std::fmt::Display for StoreTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::StateDir => f.write_str("sqlite"),
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => f.write_str(&postgres::redact(url)),
        }
    }
}

/// Opens the session store of one workspace. `state_db` is its
/// `sessions.db` in the state directory (used for [`StoreTarget::StateDir`]),
/// `workspace` its canonical path (the key of its rows in a shared
/// database), `key` the per-user key that authenticates the records.
pub fn open(
    target: &StoreTarget,
    state_db: &Path,
    workspace: &Path,
    key: StateKey,
) -> Result<Arc<dyn SessionStore>> {
    Ok(match target {
        StoreTarget::StateDir => Arc::new(Store::new(sqlite::Sqlite::open(state_db)?, key)?),
        StoreTarget::Sqlite(path) => Arc::new(Store::new(sqlite::Sqlite::open(path)?, key)?),
        StoreTarget::Postgres(url) => Arc::new(Store::new(
            postgres::Postgres::open(url, &workspace.to_string_lossy())?,
            key,
        )?),
    })
}

/// Sessions of one workspace, wherever they are stored. Object safe, so a
/// service holds an `Arc<dyn SessionStore>` whatever the backend; changes
/// go through [`SessionStore::apply`], or the typed
/// [`update`](trait.SessionStore.html#method.update) on `dyn SessionStore`.
pub trait SessionStore: Send + Sync {
    /// Where the records live, for messages (a file, or a database URL
    /// without its password).
    fn location(&self) -> String;

    /// Creates a session at the workflow's first phase, pinning the
    /// workflow, the config in force and where the workflow came from.
    fn create(
        &self,
        workflow: &Workflow,
        inputs: serde_json::Map<String, Value>,
        pinned: &Pinned,
        judging: &serde_json::Map<String, Value>,
    ) -> Result<Session>;

    /// A session, the workflow and config it pinned. Refused when the row
    /// or the head of its log does not verify.
    fn get(&self, id: &str) -> Result<(Session, Workflow, Pinned)>;

    /// Sessions, newest first, optionally only those with one status. A
    /// session whose row does not verify is listed with status as stored
    /// and a `tampered` provenance note; `get` refuses it.
    fn list(&self, status: Option<Status>) -> Result<Vec<Session>>;

    /// The session's log, oldest first; refused unless the whole record
    /// verifies.
    fn events(&self, id: &str) -> Result<Vec<Event>>;

    /// Checks a session's whole record: the row's authentication, every
    /// event's authentication and content, the chain's order and
    /// completeness, and that the row's state is the one the log reached.
    fn verify(&self, id: &str) -> Result<Verification>;

    /// Applies a change atomically: re-reads the session under a write lock
    /// (refusing a record that does not verify), calls `change` once to
    /// decide (it sees the current state and may refuse with an error),
    /// then writes the new state and appends its events. Nothing is
    /// written when `change` fails.
    fn apply(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Session, &Workflow) -> Result<Transition>,
    ) -> Result<Session>;

    /// Deletes a completed or abandoned session whose record verifies,
    /// leaving an audit entry. `by` names who and through which channel.
    fn delete(&self, id: &str, by: &str, reason: &str) -> Result<Deletion>;

    /// The audit entry of a deleted session, checked.
    fn deleted(&self, id: &str) -> Result<Option<Deletion>>;

    /// Every audit entry, newest first.
    fn deletions(&self) -> Result<Vec<Deletion>>;

    /// Deletes every completed or abandoned session last changed before
    /// `cutoff` (a timestamp as [`now`] writes them), as the retention
    /// policy asks. Sessions that cannot be deleted (a record that does not
    /// verify) are kept and named in the log.
    fn prune(&self, cutoff: &str, reason: &str) -> Result<Vec<Deletion>>;

    /// Imports the sessions of an old in-workspace database once: rows and
    /// events are copied and chained, each session gains an `imported`
    /// event naming the file. Returns how many sessions were imported
    /// (`None` when this store already imported one).
    fn import_legacy(&self, legacy: &Path, config: &WorkspaceConfig) -> Result<Option<usize>>;

    /// A note kept beside the sessions, outside every log: the lease of a
    /// server instance that runs checks apart from their requests.
    fn note(&self, name: &str) -> Result<Option<String>>;

    /// Writes a note, or removes it with `None`.
    fn set_note(&self, name: &str, value: Option<&str>) -> Result<()>;
}

impl dyn SessionStore + '_ {
    /// [`SessionStore::apply`] with a closure that also returns a value of
    /// its own: `change` decides the transition and what to hand back.
    pub fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Session, &Workflow) -> Result<(Transition, T)>,
    ) -> Result<(Session, T)> {
        let mut change = Some(change);
        let mut value = None;
        let session = self.apply(id, &mut |session, workflow| {
            let change = change.take().ok_or_else(|| {
                Error::Internal("a session change was decided twice in one transaction".to_owned())
            })?;
            let (transition, decided) = change(session, workflow)?;
            value = Some(decided);
            Ok(transition)
        })?;
        let value = value.ok_or_else(|| {
            Error::Internal("a session change was written without being decided".to_owned())
        })?;
        Ok((session, value))
    }
}

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

/// The key that authenticates records, bound to the workspace when the
/// database is shared.
struct Seal {
    key: StateKey,
    scope: Option<String>,
}

impl Seal {
    fn parts<'a>(&'a self, parts: &[&'a [u8]]) -> Vec<&'a [u8]> {
        let mut all = parts.to_vec();
        if let Some(scope) = &self.scope {
            all.push(scope.as_bytes());
        }
        all
    }

    fn tag(&self, domain: &str, parts: &[&[u8]]) -> String {
        self.key.tag(domain, &self.parts(parts))
    }

    fn verify(&self, domain: &str, parts: &[&[u8]], tag: &str) -> bool {
        self.key.verify(domain, &self.parts(parts), tag)
    }
}

/// The trust logic, once, over a backend that persists rows.
struct Store<B> {
    backend: B,
    seal: Seal,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    running_check: Option<RunningCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_check: Option<CheckResult>,
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
            running_check: session.running_check.clone(),
            last_check: session.last_check.clone(),
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

impl Row {
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

    fn compute_tag(&self, seal: &Seal) -> String {
        let parts = self.tagged_parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        seal.tag(ROW_DOMAIN, &refs)
    }

    fn verifies(&self, seal: &Seal) -> bool {
        let parts = self.tagged_parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        seal.verify(ROW_DOMAIN, &refs, &self.tag)
    }

    /// The session, workflow and pinned config this row describes.
    fn decode(&self) -> std::result::Result<(Session, Workflow, Pinned), String> {
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

impl StoredEvent {
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

    fn authentic(&self, seal: &Seal) -> bool {
        seal.verify(EVENT_DOMAIN, &[self.hash.as_bytes()], &self.tag)
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

impl<B: Backend> Store<B> {
    /// Wraps a backend; a shared database also checks that its records of
    /// this workspace are authenticated with this key.
    fn new(backend: B, key: StateKey) -> Result<Self> {
        let seal = Seal {
            scope: backend.scope().map(str::to_owned),
            key,
        };
        let store = Self { backend, seal };
        if store.seal.scope.is_some() {
            store.check_key()?;
        }
        Ok(store)
    }

    /// Replicas sharing a database must share the key: records written
    /// under another one would all read as forged. The first replica
    /// records a tag of a fixed text; the others must reproduce it.
    fn check_key(&self) -> Result<()> {
        let check = self.seal.tag(KEY_CHECK_DOMAIN, &[]);
        let recorded = self
            .backend
            .write(|records| records.claim("key_check", &check))?;
        match recorded {
            Some(recorded) if recorded != check => Err(Error::StoreRefused(format!(
                "open the sessions of workspace `{}` in `{}`: they are authenticated with another state key than this one; every replica sharing the database must use the same key (copy `key` from the state directory of the first replica into this one's, or give them all the same --state-dir)",
                self.seal.scope.as_deref().unwrap_or_default(),
                self.backend.location()
            ))),
            _ => Ok(()),
        }
    }

    /// Appends one event to `row`'s chain (row fields updated, not
    /// written).
    fn append(
        &self,
        records: &mut dyn Records,
        row: &mut Row,
        at: &str,
        kind: &str,
        phase: Option<&str>,
        data: &Value,
    ) -> Result<()> {
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
        event.tag = self.seal.tag(EVENT_DOMAIN, &[event.hash.as_bytes()]);
        records.append(&row.id, &event)?;
        row.event_count += 1;
        row.head_hash = event.hash;
        Ok(())
    }

    /// Appends the state machine's events to the row's log, authenticates
    /// the row and writes it.
    fn seal(
        &self,
        records: &mut dyn Records,
        row: &mut Row,
        now: &str,
        events: &[NewEvent],
    ) -> Result<()> {
        for event in events {
            self.append(
                records,
                row,
                now,
                event.kind.as_str(),
                event.phase.as_deref(),
                &event.data,
            )?;
        }
        row.tag = row.compute_tag(&self.seal);
        records.put(row)
    }

    /// A session's row (locked in a write transaction); for a deleted
    /// session, the refusal its audit entry gives.
    fn row(&self, records: &mut dyn Records, id: &str) -> Result<Row> {
        match records.row(id)? {
            Some(row) => Ok(row),
            None => Err(match self.deleted_in(records, id)? {
                Some(deletion) => deletion.refusal(),
                None => unknown(id),
            }),
        }
    }

    /// The head check every read and change makes: the row is authentic
    /// and agrees with the last event of the log. [`SessionStore::verify`]
    /// checks the whole log.
    fn checked_row(
        &self,
        records: &mut dyn Records,
        id: &str,
    ) -> Result<(Row, Session, Workflow, Pinned)> {
        let row = self.row(records, id)?;
        let head = records.last_event(id)?;
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

    fn verify_in(&self, records: &mut dyn Records, id: &str) -> Result<Verification> {
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

impl<B: Backend> SessionStore for Store<B> {
    fn location(&self) -> String {
        self.backend.location()
    }

    fn create(
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
            running_check: None,
            last_check: None,
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
        let (mut session, _, _) = row.decode().map_err(Error::Internal)?;
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
        self.backend.write(|records| {
            self.append(
                records,
                &mut row,
                &now,
                "started",
                workflow.phases.first().map(|p| p.id.as_str()),
                &started,
            )?;
            self.seal(records, &mut row, &now, &begun)
        })?;
        let (session, _, _) = row.decode().map_err(Error::Internal)?;
        Ok(session)
    }

    fn get(&self, id: &str) -> Result<(Session, Workflow, Pinned)> {
        let (_, session, workflow, pinned) =
            self.backend.read(|records| self.checked_row(records, id))?;
        Ok((session, workflow, pinned))
    }

    fn list(&self, status: Option<Status>) -> Result<Vec<Session>> {
        let rows = self
            .backend
            .read(|records| records.rows(status.map(Status::as_str)))?;
        let mut sessions = Vec::new();
        for row in rows {
            let Ok((mut session, _, _)) = row.decode() else {
                continue;
            };
            if !row.verifies(&self.seal) {
                session.provenance = serde_json::json!({
                    "tampered": format!("this record does not verify; run `checkrail session verify {}`", row.id)
                });
            }
            sessions.push(session);
        }
        Ok(sessions)
    }

    fn events(&self, id: &str) -> Result<Vec<Event>> {
        self.backend.read(|records| {
            let verification = self.verify_in(records, id)?;
            if !verification.verified {
                return Err(Error::Tampered {
                    id: id.to_owned(),
                    problems: verification.problems,
                });
            }
            Ok(records
                .events(id)?
                .iter()
                .map(StoredEvent::public)
                .collect())
        })
    }

    fn verify(&self, id: &str) -> Result<Verification> {
        self.backend.read(|records| self.verify_in(records, id))
    }

    fn apply(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Session, &Workflow) -> Result<Transition>,
    ) -> Result<Session> {
        self.backend.write(|records| {
            let (mut row, mut session, workflow, _) = self.checked_row(records, id)?;
            let transition = change(&mut session, &workflow)?;
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
            self.seal(records, &mut row, &now, &transition.events)?;
            Ok(session)
        })
    }

    fn delete(&self, id: &str, by: &str, reason: &str) -> Result<Deletion> {
        self.delete_session(id, by, reason)
    }

    fn deleted(&self, id: &str) -> Result<Option<Deletion>> {
        self.backend.read(|records| self.deleted_in(records, id))
    }

    fn deletions(&self) -> Result<Vec<Deletion>> {
        self.backend.read(|records| self.audit_entries(records))
    }

    fn prune(&self, cutoff: &str, reason: &str) -> Result<Vec<Deletion>> {
        let ids = self
            .backend
            .read(|records| records.finished_before(cutoff))?;
        let mut deleted = Vec::new();
        for id in ids {
            match self.delete_session(&id, "retention", reason) {
                Ok(deletion) => deleted.push(deletion),
                Err(e) => tracing::warn!("retention kept session `{id}`: {e}"),
            }
        }
        Ok(deleted)
    }

    fn note(&self, name: &str) -> Result<Option<String>> {
        self.backend
            .read(|records| records.meta(&format!("{NOTE_PREFIX}{name}")))
    }

    fn set_note(&self, name: &str, value: Option<&str>) -> Result<()> {
        self.backend
            .write(|records| records.set_meta(&format!("{NOTE_PREFIX}{name}"), value))
    }

    fn import_legacy(&self, legacy: &Path, config: &WorkspaceConfig) -> Result<Option<usize>> {
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
            let mark = format!("{} at {now}", legacy.display());
            if records.claim("legacy_import", &mark)?.is_some() {
                return Ok(None);
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
                let note = serde_json::json!({ "from": legacy.display().to_string() });
                self.append(records, &mut row, &now, "imported", None, &note)?;
                row.tag = row.compute_tag(&self.seal);
                records.put(&row)?;
            }
            Ok(Some(count))
        })
    }
}

type LegacyEvent = (String, String, Option<String>, Value);

/// Sessions of an old database, with their state and events.
fn legacy_sessions(
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

/// The UTC time `later` from now, written as [`now`] writes times.
pub fn after(later: std::time::Duration) -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    timestamp(since.saturating_add(later))
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
