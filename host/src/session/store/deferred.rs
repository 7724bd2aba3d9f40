//! A local store opened on its first use: a server whose client only lists
//! tools (most starts of an MCP server) never opens its database, runs no
//! migration check and starts no checkpoint thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{
    Deletion, LegacyImport, Pinned, SessionQuery, SessionStore, Transition, Verification, WithNotes,
};
use crate::Result;
use crate::config::WorkspaceConfig;
use crate::session::{Event, Session, Status};
use crate::workflow::Workflow;

/// What runs once, right after the store opens, before any call uses it
/// (the legacy import, the retention policy); an error fails that call,
/// and the next call opens the store again.
pub type AfterOpen = Box<dyn Fn(&dyn SessionStore) -> Result<()> + Send + Sync>;

type Open = Box<dyn Fn() -> Result<Arc<dyn SessionStore>> + Send + Sync>;

/// A store opened by the first call that needs it.
pub(super) struct Deferred {
    path: PathBuf,
    open: Open,
    after_open: AfterOpen,
    opened: Mutex<Option<Arc<dyn SessionStore>>>,
}

impl Deferred {
    pub(super) fn new(path: &Path, open: Open, after_open: AfterOpen) -> Self {
        Self {
            path: path.to_owned(),
            open,
            after_open,
            opened: Mutex::new(None),
        }
    }

    /// The open store, opening it (and running the after-open work) on the
    /// first call; two first calls at once open it once.
    fn store(&self) -> Result<Arc<dyn SessionStore>> {
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = opened.as_ref() {
            return Ok(store.clone());
        }
        let store = (self.open)()?;
        (self.after_open)(store.as_ref())?;
        *opened = Some(store.clone());
        Ok(store)
    }
}

impl SessionStore for Deferred {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn create(
        &self,
        workflow: &Workflow,
        inputs: serde_json::Map<String, Value>,
        pinned: &Pinned,
        judging: &serde_json::Map<String, Value>,
    ) -> Result<Session> {
        self.store()?.create(workflow, inputs, pinned, judging)
    }

    fn get(&self, id: &str) -> Result<(Session, Workflow, Pinned)> {
        self.store()?.get(id)
    }

    fn get_with_notes(&self, id: &str, names: &[&str]) -> Result<WithNotes> {
        self.store()?.get_with_notes(id, names)
    }

    fn list(&self, status: Option<Status>) -> Result<Vec<Session>> {
        self.store()?.list(status)
    }

    fn page(&self, query: &SessionQuery) -> Result<(Vec<Session>, u64)> {
        self.store()?.page(query)
    }

    fn events(&self, id: &str) -> Result<Vec<Event>> {
        self.store()?.events(id)
    }

    fn verify(&self, id: &str) -> Result<Verification> {
        self.store()?.verify(id)
    }

    fn apply(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Session, &Workflow) -> Result<Transition>,
    ) -> Result<Session> {
        self.store()?.apply(id, change)
    }

    fn delete(&self, id: &str, by: &str, reason: &str) -> Result<Deletion> {
        self.store()?.delete(id, by, reason)
    }

    fn deleted(&self, id: &str) -> Result<Option<Deletion>> {
        self.store()?.deleted(id)
    }

    fn deletions(&self) -> Result<Vec<Deletion>> {
        self.store()?.deletions()
    }

    fn prune(&self, cutoff: &str, reason: &str) -> Result<Vec<Deletion>> {
        self.store()?.prune(cutoff, reason)
    }

    fn import_legacy(&self, legacy: &Path, config: &WorkspaceConfig) -> Result<LegacyImport> {
        self.store()?.import_legacy(legacy, config)
    }

    fn note(&self, name: &str) -> Result<Option<String>> {
        self.store()?.note(name)
    }

    fn set_note(&self, name: &str, value: Option<&str>) -> Result<()> {
        self.store()?.set_note(name, value)
    }

    fn notes(&self, names: &[&str]) -> Result<Vec<Option<String>>> {
        self.store()?.notes(names)
    }

    fn counts(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        self.store()?.counts()
    }
}
