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

use super::event::{EventData, Imported, Started};
use super::{CheckResult, Command, Event, LoopRun, NewEvent, RunningCheck, Session, Status, Step};

mod backend;
mod bind;
mod clock;
mod deferred;
mod delete;
mod legacy;
mod postgres;
mod record;
mod sqlite;
mod verify;

#[cfg(test)]
mod tests;
use crate::config::WorkspaceConfig;
use crate::trusted::StateKey;
use crate::workflow::Workflow;
use crate::{Error, Result};
use backend::{Backend, Records};
pub use clock::{after, days_ago, now};
pub use deferred::AfterOpen;
pub use delete::Deletion;
pub use legacy::LegacyImport;
use record::{EVENT_DOMAIN, Row, Seal, State, StoredEvent, genesis};
pub use verify::Verification;

const KEY_CHECK_DOMAIN: &str = "checkrail session store key v1";
/// Names of notes, kept apart from the names the store uses itself.
const NOTE_PREFIX: &str = "note:";
/// What a note's tag covers: its key and value (and the workspace, by the
/// seal).
const NOTE_DOMAIN: &str = "checkrail note v1";

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
    let workspace = workspace.to_string_lossy();
    Ok(match target {
        StoreTarget::StateDir => Arc::new(Store::new(
            sqlite::Sqlite::open(state_db)?,
            key,
            &workspace,
        )?),
        StoreTarget::Sqlite(path) => {
            Arc::new(Store::new(sqlite::Sqlite::open(path)?, key, &workspace)?)
        }
        StoreTarget::Postgres(url) => Arc::new(Store::new(
            postgres::Postgres::open(url, &workspace)?,
            key,
            &workspace,
        )?),
    })
}

/// [`open`] for a server, deferred where that is safe: a store in a local
/// SQLite file opens on the first call that needs it, and runs
/// `after_open` then; a shared PostgreSQL database opens now, with
/// `after_open`, so a replica that cannot reach it or holds another key
/// stops at start, where its operator sees why.
pub fn open_on_first_use(
    target: &StoreTarget,
    state_db: &Path,
    workspace: &Path,
    key: StateKey,
    after_open: AfterOpen,
) -> Result<Arc<dyn SessionStore>> {
    let path = match target {
        StoreTarget::StateDir => state_db.to_owned(),
        StoreTarget::Sqlite(path) => path.clone(),
        StoreTarget::Postgres(_) => {
            let store = open(target, state_db, workspace, key)?;
            after_open(store.as_ref())?;
            return Ok(store);
        }
    };
    let (target, state_db, workspace) = (target.clone(), state_db.to_owned(), workspace.to_owned());
    let open = move || open(&target, &state_db, &workspace, key.clone());
    Ok(Arc::new(deferred::Deferred::new(
        &path,
        Box::new(open),
        after_open,
    )))
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

    /// [`SessionStore::get`] and [`SessionStore::notes`] at once, each as
    /// it reads on its own (on PostgreSQL one round trip): what a
    /// validation reads before its rules run.
    fn get_with_notes(&self, id: &str, names: &[&str]) -> Result<WithNotes> {
        Ok((self.get(id)?, self.notes(names)?))
    }

    /// Sessions, newest first, optionally only those with one status. A
    /// session whose row does not verify is listed with status as stored
    /// and a `tampered` provenance note; `get` refuses it.
    fn list(&self, status: Option<Status>) -> Result<Vec<Session>>;

    /// One page of the sessions `query` asks for, newest first (listed as
    /// [`SessionStore::list`] does), and how many match in all. Only the
    /// page's rows are read and checked: its cost does not grow with the
    /// number of sessions.
    fn page(&self, query: &SessionQuery) -> Result<(Vec<Session>, u64)>;

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
    /// event naming the file. Never into a store that already holds
    /// sessions (or deleted ones): a file in the workspace is the agent's to
    /// write, and sealing it next to trusted records would make them look
    /// recorded here.
    fn import_legacy(&self, legacy: &Path, config: &WorkspaceConfig) -> Result<LegacyImport>;

    /// A note kept beside the sessions, outside every log: the lease of a
    /// server instance that runs checks apart from their requests, a
    /// conversation's binding, the digests `init` recorded. Authenticated
    /// like the records: one written or edited outside checkrail reads as
    /// absent.
    fn note(&self, name: &str) -> Result<Option<String>>;

    /// Writes a note, or removes it with `None`.
    fn set_note(&self, name: &str, value: Option<&str>) -> Result<()>;

    /// Several notes at once, each as [`SessionStore::note`] reads it, in
    /// one read (on PostgreSQL one round trip, where a note each is one
    /// round trip each).
    fn notes(&self, names: &[&str]) -> Result<Vec<Option<String>>> {
        names.iter().map(|name| self.note(name)).collect()
    }

    /// How many sessions there are of each status, by the status column
    /// (counted by the database, not verified one by one: for metrics and
    /// probes, whose cost must not grow with every session's record).
    fn counts(&self) -> Result<std::collections::BTreeMap<String, u64>>;
}

impl dyn SessionStore + '_ {
    /// [`SessionStore::apply`] with a closure that also returns a value of
    /// its own: `change` decides the transition and what to hand back.
    pub fn update<T>(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Session, &Workflow) -> Result<(Transition, T)>,
    ) -> Result<(Session, T)> {
        let mut value = None;
        let session = self.apply(id, &mut |session, workflow| {
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

/// A session, the workflow and config it pinned, and the values of the
/// notes asked for with it.
pub type WithNotes = ((Session, Workflow, Pinned), Vec<Option<String>>);

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

/// Which sessions to list, and which page of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// Only sessions of this status.
    pub status: Option<Status>,
    /// Only sessions whose workflow id contains this text.
    pub workflow: Option<String>,
    /// Most sessions on the page; `None`: all from `offset`.
    pub limit: Option<u64>,
    /// Sessions skipped before the page (newest first).
    pub offset: u64,
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

/// The trust logic, once, over a backend that persists rows.
struct Store<B> {
    backend: B,
    seal: Seal,
    /// The heads this store last read or wrote (see [`Seen`]).
    seen: std::sync::Mutex<std::collections::VecDeque<Seen>>,
}

/// A session as this store last read or wrote it, with the tag its row
/// had. A change decides on it instead of reading the row again; the
/// write still locks the row, checks it, and writes only when the row's
/// tag is still this one (a tag authenticates the whole row, so the
/// decision is the one the stored row would give). Otherwise, and when
/// the change is refused, it is decided again on the stored session.
/// Where the backend read the versions of the row and of its log's head
/// (PostgreSQL), the write is instead conditional on both being those
/// versions still, in one round trip ([`Backend::write_unchanged`]).
#[derive(Clone)]
struct Seen {
    row: Row,
    session: Session,
    workflow: Workflow,
}

/// Heads remembered at once: about as many sessions as a server changes
/// concurrently, each a row and its decoded session and workflow.
const SEEN_HEADS: usize = 16;

/// Times a change is decided outside the write transaction before it is
/// decided inside it (the row kept changing in between).
const DECIDE_TRIES: usize = 3;

impl<B: Backend> Store<B> {
    /// Writes a decided change: the session's new revision and state on
    /// its row, sealed with its events.
    fn finish(
        &self,
        records: &mut dyn Records,
        (row, session): (&mut Row, &mut Session),
        workflow: &Workflow,
        transition: &Transition,
    ) -> Result<()> {
        for event in self.finished((row, session), workflow, transition) {
            records.append(&row.id, &event)?;
        }
        records.update(row)
    }

    /// A decided change made on the row and session (nothing written):
    /// the session's new revision and state on its row, sealed, and the
    /// events to append.
    fn finished(
        &self,
        (row, session): (&mut Row, &mut Session),
        workflow: &Workflow,
        transition: &Transition,
    ) -> Vec<StoredEvent> {
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
        row.state = State::of(session).text();
        self.sealed(row, &now, &transition.events)
    }

    /// Rows as listed sessions: one whose row does not verify keeps its
    /// stored status and says so in its provenance; one that does not
    /// decode is left out.
    fn listed(&self, rows: Vec<Row>) -> Vec<Session> {
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
        sessions
    }

    /// Wraps a backend whose records belong to `workspace`: every tag binds
    /// it. A shared database also checks that its records of this workspace
    /// are authenticated with this key; a workspace's own database is bound
    /// to it once (see [`bind`]).
    fn new(backend: B, key: StateKey, workspace: &str) -> Result<Self> {
        let shared = backend.scope().is_some();
        let seal = Seal {
            scope: Some(backend.scope().unwrap_or(workspace).to_owned()),
            key,
        };
        let store = Self {
            backend,
            seal,
            seen: std::sync::Mutex::default(),
        };
        if shared {
            store.check_key()?;
        } else {
            store.bind()?;
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
        let event = self.chained(row, at, kind, phase, data);
        records.append(&row.id, &event)
    }

    /// One event chained onto `row`'s log (row fields updated, nothing
    /// written).
    fn chained(
        &self,
        row: &mut Row,
        at: &str,
        kind: &str,
        phase: Option<&str>,
        data: &Value,
    ) -> StoredEvent {
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
        row.event_count += 1;
        row.head_hash = event.hash.clone();
        event
    }

    /// Appends the state machine's events to the row's log and
    /// authenticates the row (the caller writes it).
    fn seal(
        &self,
        records: &mut dyn Records,
        row: &mut Row,
        now: &str,
        events: &[NewEvent],
    ) -> Result<()> {
        for event in self.sealed(row, now, events) {
            records.append(&row.id, &event)?;
        }
        Ok(())
    }

    /// The state machine's events chained onto the row's log, and the row
    /// authenticated (nothing written).
    fn sealed(&self, row: &mut Row, now: &str, events: &[NewEvent]) -> Vec<StoredEvent> {
        let chained = events
            .iter()
            .map(|event| {
                let (kind, data) = event.data.to_stored();
                self.chained(row, now, &kind, event.phase.as_deref(), &data)
            })
            .collect();
        row.tag = row.compute_tag(&self.seal);
        chained
    }

    /// A session's row (locked in a write transaction); for a deleted
    /// session, the refusal its audit entry gives.
    fn row(&self, records: &mut dyn Records, id: &str) -> Result<Row> {
        match records.row(id)? {
            Some(row) => Ok(row),
            None => Err(self.missing(records, id)?),
        }
    }

    /// Why a session has no row: the refusal its audit entry gives when
    /// it was deleted.
    fn missing(&self, records: &mut dyn Records, id: &str) -> Result<Error> {
        Ok(match self.deleted_in(records, id)? {
            Some(deletion) => deletion.refusal(),
            None => unknown(id),
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
            version: None,
        };
        row.head_hash = genesis(&row.id);
        // The machine settles the start: phases whose conditions are false
        // are skipped, a loop at the start is entered.
        let (mut session, _, _) = row.decode().map_err(Error::Internal)?;
        let begun = session.apply(Command::Begin, workflow)?;
        row.status = session.status.as_str().to_owned();
        row.state = State::of(&session).text();
        let started = NewEvent::new(
            workflow.phases.first().map(|p| p.id.as_str()),
            EventData::Started(Started {
                workflow: workflow.id.clone(),
                version: workflow.version.to_string(),
                digest: workflow.digest.clone(),
                pinned_workflow_sha256: hex::encode(Sha256::digest(&workflow_json)),
                provenance: pinned.provenance.clone(),
            }),
        );
        let events: Vec<NewEvent> = std::iter::once(started).chain(begun).collect();
        self.backend.write(|records| {
            self.seal(records, &mut row, &now, &events)?;
            records.put(&row)
        })?;
        let (session, _, _) = row.decode().map_err(Error::Internal)?;
        Ok(session)
    }

    fn get(&self, id: &str) -> Result<(Session, Workflow, Pinned)> {
        let (_, session, workflow, pinned) = self.current(id, self.backend.head(id)?)?;
        Ok((session, workflow, pinned))
    }

    fn get_with_notes(&self, id: &str, names: &[&str]) -> Result<WithNotes> {
        let keys = note_keys(names);
        let (head, stored) = self.backend.head_and_metas(id, &keys)?;
        let (_, session, workflow, pinned) = self.current(id, head)?;
        Ok((
            (session, workflow, pinned),
            self.opened_notes(&keys, stored),
        ))
    }

    fn list(&self, status: Option<Status>) -> Result<Vec<Session>> {
        let query = SessionQuery {
            status,
            ..SessionQuery::default()
        };
        Ok(self.page(&query)?.0)
    }

    fn page(&self, query: &SessionQuery) -> Result<(Vec<Session>, u64)> {
        let rows_query = backend::RowQuery {
            status: query.status.map(Status::as_str),
            workflow: query.workflow.as_deref().filter(|w| !w.is_empty()),
            limit: query.limit,
            offset: query.offset,
        };
        let (rows, total) = self.backend.read(|records| {
            let rows = records.rows(&rows_query)?;
            let total = match query.limit {
                None => query.offset + rows.len() as u64,
                Some(_) => records.count(&rows_query)?,
            };
            Ok((rows, total))
        })?;
        Ok((self.listed(rows), total))
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
        // Decide first, on the row as it stands, outside the write
        // transaction: conditions and anything else the change evaluates
        // run without holding the database. The write then only checks
        // that the row is still the one decided on (its tag changes with
        // every write) and appends; when another change came in between,
        // it decides again, and at last inside the transaction. The first
        // decision may be made on the session as this store last saw it.
        for attempt in 0..DECIDE_TRIES {
            let recalled = if attempt == 0 { self.recall(id) } else { None };
            let remembered = recalled.is_some();
            let Seen {
                row: seen,
                mut session,
                workflow,
            } = match recalled {
                Some(seen) => seen,
                None => {
                    let (row, session, workflow, _) = self.current(id, self.backend.head(id)?)?;
                    Seen {
                        row,
                        session,
                        workflow,
                    }
                }
            };
            let transition = match change(&mut session, &workflow) {
                Ok(transition) => transition,
                // A refusal stands only when decided on the stored session.
                Err(_) if remembered => continue,
                Err(e) => return Err(e),
            };
            if let Some(version) = seen.version {
                // Written in one go while the row and its log's head are
                // still the versions read (and checked) above; otherwise
                // decided again on a fresh read, which checks them again.
                let mut row = seen;
                let events = self.finished((&mut row, &mut session), &workflow, &transition);
                if let Some(written) = self.backend.write_unchanged(&version, &row, &events)? {
                    row.version = Some(written);
                    self.remember(&row, &session, &workflow);
                    return Ok(session);
                }
                continue;
            }
            let written = self.backend.write(|records| {
                let (mut row, _, _, _) = self.checked_row(records, id)?;
                if row.tag != seen.tag {
                    return Ok(None);
                }
                self.finish(records, (&mut row, &mut session), &workflow, &transition)?;
                Ok(Some(row))
            })?;
            if let Some(row) = written {
                self.remember(&row, &session, &workflow);
                return Ok(session);
            }
        }
        self.backend.write(|records| {
            let (mut row, mut session, workflow, _) = self.checked_row(records, id)?;
            let transition = change(&mut session, &workflow)?;
            self.finish(records, (&mut row, &mut session), &workflow, &transition)?;
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

    fn counts(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        let counted = self.backend.read(|records| records.count_by_status())?;
        Ok(counted.into_iter().collect())
    }

    fn note(&self, name: &str) -> Result<Option<String>> {
        let key = format!("{NOTE_PREFIX}{name}");
        let stored = self.backend.meta(&key)?;
        Ok(stored.and_then(|stored| self.opened_note(&key, &stored)))
    }

    fn notes(&self, names: &[&str]) -> Result<Vec<Option<String>>> {
        let keys = note_keys(names);
        let stored = self.backend.metas(&keys)?;
        Ok(self.opened_notes(&keys, stored))
    }

    fn set_note(&self, name: &str, value: Option<&str>) -> Result<()> {
        let key = format!("{NOTE_PREFIX}{name}");
        let sealed = value.map(|value| {
            let tag = self
                .seal
                .tag(NOTE_DOMAIN, &[key.as_bytes(), value.as_bytes()]);
            format!("{tag}:{value}")
        });
        self.backend
            .write(|records| records.set_meta(&key, sealed.as_deref()))
    }

    fn import_legacy(&self, legacy: &Path, config: &WorkspaceConfig) -> Result<LegacyImport> {
        self.import(legacy, config)
    }
}

impl<B: Backend> Store<B> {
    /// Remembers a session as read or written with `row` (see [`Seen`]).
    fn remember(&self, row: &Row, session: &Session, workflow: &Workflow) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|s| s.row.id != row.id);
        seen.push_front(Seen {
            row: row.clone(),
            session: session.clone(),
            workflow: workflow.clone(),
        });
        seen.truncate(SEEN_HEADS);
    }

    /// The session `id` as this store last saw it, if it still remembers.
    fn recall(&self, id: &str) -> Option<Seen> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter().find(|s| s.row.id == id).cloned()
    }

    /// The values of notes stored under `keys`, each as [`Store::opened_note`]
    /// opens it.
    fn opened_notes(&self, keys: &[String], stored: Vec<Option<String>>) -> Vec<Option<String>> {
        keys.iter()
            .zip(stored)
            .map(|(key, stored)| stored.and_then(|stored| self.opened_note(key, &stored)))
            .collect()
    }

    /// The value of a note stored as `<tag>:<value>`, if its tag verifies
    /// for this key and workspace. A note written or edited outside
    /// checkrail (a forged lease, a conversation bound by hand, a record of
    /// the agents' hook files made to match edited ones) reads as absent.
    fn opened_note(&self, key: &str, stored: &str) -> Option<String> {
        let (tag, value) = stored.split_once(':')?;
        let verified = self
            .seal
            .verify(NOTE_DOMAIN, &[key.as_bytes(), value.as_bytes()], tag);
        if !verified {
            tracing::warn!("ignoring `{key}`: it was not written by checkrail");
        }
        verified.then(|| value.to_owned())
    }
}

/// The meta names of notes.
fn note_keys(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|name| format!("{NOTE_PREFIX}{name}"))
        .collect()
}

fn unknown(id: &str) -> Error {
    Error::UnknownSession { id: id.to_owned() }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
