//! Sessions through the service API in this process: a service opened on a
//! workspace, a session started on it, its phases validated.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use checkrail::engine::Hooks;
use checkrail::service::{Service, ValidateRequest, Validation};
use checkrail::session::StoreTarget;
use checkrail::trusted::StateDir;
use checkrail::{Checkrail, Options};
use serde_json::{Map, Value, json};

use super::{shared_cache, state_dir};

/// How to open session services on a workspace: with its
/// `.checkrail/workflows/`, the shared compile cache, and unless told
/// otherwise the shared state directory and the SQLite store in it. Every
/// service opened from one `Sessions` shares one engine.
pub struct Sessions {
    dir: PathBuf,
    installed_packs: bool,
    state_dir: Option<PathBuf>,
    store: StoreTarget,
    engine: OnceLock<Arc<Checkrail>>,
}

impl Sessions {
    /// Services on the workspace `dir`.
    pub fn on(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            installed_packs: false,
            state_dir: None,
            store: StoreTarget::default(),
            engine: OnceLock::new(),
        }
    }

    /// Reads the workspace as the CLI does: its installed packs and
    /// `checkrail.lock` too.
    pub fn installed_packs(mut self) -> Self {
        self.installed_packs = true;
        self
    }

    /// Keeps the state (and the key) in `dir` instead of the shared
    /// state directory.
    pub fn state_dir(mut self, dir: &Path) -> Self {
        self.state_dir = Some(dir.to_owned());
        // The owner who set this state directory up allowed the
        // workspace's policy in it, as `Workspace::build` does in the
        // shared one.
        let state = StateDir::at(dir).expect("state dir");
        let ws = checkrail::workspace::Workspace::open(&self.dir, &state).expect("workspace");
        checkrail::allow::record(&ws, &[]).expect("allow");
        self
    }

    /// Keeps the sessions in `store`.
    pub fn store(mut self, store: StoreTarget) -> Self {
        self.store = store;
        self
    }

    /// The workspace.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The engine every service opened here shares.
    pub fn engine(&self) -> Arc<Checkrail> {
        self.engine
            .get_or_init(|| {
                let options = Options {
                    workflow_dirs: vec![self.dir.join(".checkrail/workflows")],
                    cache_dir: Some(shared_cache()),
                    workspace: self.installed_packs.then(|| self.dir.clone()),
                    ..Options::default()
                };
                Arc::new(Checkrail::new(options).expect("engine starts"))
            })
            .clone()
    }

    /// A service of its own (its own store connection), as another
    /// process would open.
    pub fn open(&self) -> Service {
        self.try_open().expect("service opens")
    }

    /// [`Sessions::open`], for a test that expects a refusal.
    pub fn try_open(&self) -> checkrail::Result<Service> {
        let state = StateDir::at(self.state_dir.as_deref().unwrap_or(state_dir()))?;
        Service::open_in(self.engine(), &self.dir, &state, &self.store)
    }
}

/// A session service on `dir` as most tests want it (see [`Sessions`]).
pub fn service(dir: &Path) -> Service {
    Sessions::on(dir).open()
}

/// A session of a service: what a test validates.
pub struct Session<'a> {
    svc: &'a Service,
    /// The session id.
    pub id: String,
}

impl<'a> Session<'a> {
    /// Starts `workflow` without inputs.
    pub fn start(svc: &'a Service, workflow: &str) -> Self {
        Self::start_with(svc, workflow, &[])
    }

    /// Starts `workflow` with these inputs.
    pub fn start_with(svc: &'a Service, workflow: &str, inputs: &[(&str, &str)]) -> Self {
        let standing = svc
            .start(workflow, self::inputs(inputs))
            .unwrap_or_else(|e| panic!("start {workflow}: {e}"));
        Self::of(svc, &standing.session.id)
    }

    /// The session `id` of `svc`: one started before a restart, say.
    pub fn of(svc: &'a Service, id: &str) -> Self {
        Self {
            svc,
            id: id.to_owned(),
        }
    }

    /// Validates its current phase.
    pub fn validate(&self) -> Validation {
        self.try_validate().expect("validation runs")
    }

    /// Validates its current phase with `evidence`.
    pub fn validate_with(&self, evidence: Value) -> Validation {
        let request = ValidateRequest::new(&self.id).evidence(evidence);
        self.svc
            .validate(&request, &Hooks::default())
            .expect("validation runs")
    }

    /// Validates its current phase, for a test that expects a refusal.
    pub fn try_validate(&self) -> checkrail::Result<Validation> {
        self.svc
            .validate(&ValidateRequest::new(&self.id), &Hooks::default())
    }

    /// The kinds of its events, oldest first.
    pub fn event_kinds(&self) -> Vec<String> {
        self.svc
            .events(&self.id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind().to_owned())
            .collect()
    }
}

/// Workflow inputs from `(name, value)` pairs.
pub fn inputs(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

/// The codes of a validation's findings, in report order.
pub fn codes(v: &Validation) -> Vec<String> {
    v.report
        .iter()
        .flat_map(|r| r.rules.iter())
        .flat_map(|r| r.findings.iter())
        .filter_map(|f| f.code.clone())
        .collect()
}
