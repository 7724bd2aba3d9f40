//! Workflow sessions as operations: start, next, validate, control, approve.
//! The MCP tools and the `session` CLI commands are thin adapters over
//! [`Service`]; it combines the engine (rules, workflows) with the session
//! store of one workspace. One file per kind of operation:
//! [`validate`] (one [`ValidateRequest`], one preamble, one way to answer),
//! [`checks`] (checks run apart from their request), [`decisions`] (human
//! gates, control), [`verify`] (the record and rechecks), [`history`]
//! (listing, logs, retention) and [`views`] (what the agent is shown).

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::WorkspaceConfig;
use crate::engine::{CheckpointRun, Guards, Hooks};
use crate::frozen::{self, Snapshot};
use crate::report::CheckpointReport;
use crate::session::{AfterOpen, LegacyImport, Pinned, Session, SessionStore, StoreTarget};
use crate::trusted::StateDir;
use crate::workflow::template::Scope;
use crate::workflow::{Phase, Workflow};
use crate::workspace::Workspace;
use crate::{Checkrail, Error, Result};

mod checks;
mod decisions;
mod history;
mod pool;
mod validate;
mod verify;
mod views;

pub use checks::{CheckStatus, CheckView};
pub use decisions::Decision;
pub use history::{Pruned, SessionPage};
pub use pool::PoolStats;
pub use validate::{ValidateRequest, Validation};
pub use verify::{Recheck, VerifyReport};
pub use views::{BranchView, CheckpointView, IterationView, PhaseView, RuleView, Standing};

/// One checkpoint to run for a session.
struct PhaseRun<'a> {
    phase: &'a Phase,
    evidence: Option<&'a Value>,
    hooks: &'a Hooks,
    use_cache: bool,
    /// The setup notes when they were read with the session; read when
    /// the phase runs otherwise.
    setup: Option<&'a SetupNotes>,
}

/// The digests `init` recorded of the agents' files.
pub(super) struct SetupNotes {
    files: Vec<&'static str>,
    digests: Vec<Option<String>>,
}

impl SetupNotes {
    /// The session `id` and the setup notes, read together (one round
    /// trip on PostgreSQL).
    pub(super) fn with_session(
        store: &dyn SessionStore,
        id: &str,
    ) -> Result<((Session, Workflow, Pinned), Self)> {
        let (files, read) = Self::asking(|names| store.get_with_notes(id, names));
        let (read, digests) = read?;
        Ok((read, Self { files, digests }))
    }

    /// The notes on their own; one that cannot be read counts as not
    /// recorded.
    fn read(store: &dyn SessionStore) -> Self {
        let (files, digests) = Self::asking(|names| store.notes(names).unwrap_or_default());
        Self { files, digests }
    }

    /// The setup files, and what `ask` answers for the names of their
    /// notes.
    fn asking<T>(ask: impl FnOnce(&[&str]) -> T) -> (Vec<&'static str>, T) {
        let files = crate::setup::setup_files();
        let names: Vec<String> = files.iter().map(|f| crate::setup::setup_note(f)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        (files, ask(&names))
    }

    /// The digest recorded for `file`.
    fn of(&self, file: &str) -> Option<String> {
        let at = self.files.iter().position(|f| *f == file)?;
        self.digests.get(at).cloned().flatten()
    }
}

/// Largest evidence accepted by default, in bytes (serialized JSON).
pub const DEFAULT_MAX_EVIDENCE: usize = 1 << 20;

/// Sessions of one workspace.
pub struct Service {
    engine: Arc<Checkrail>,
    store: Arc<dyn SessionStore>,
    workspace: Workspace,
    max_evidence: usize,
    /// Checks this server instance runs apart from their requests.
    checks: checks::Checks,
    /// The slots checkpoints run in (see [`pool`]).
    pool: Arc<pool::Pool>,
    /// How the agent this server answers is confined (`checkrail run`);
    /// `None`: it is not. Recorded with every session started here.
    confinement: Option<crate::confine::Confinement>,
}

/// When a service opens its session store.
enum Opening {
    Now,
    OnFirstUse,
}

/// What a session store does once it opens: imports an old
/// `<workspace>/.checkrail/sessions.db` once, then applies the sessions'
/// retention (a failure there is logged, not fatal).
fn after_open(root: &Path, config: Option<WorkspaceConfig>) -> AfterOpen {
    let legacy = root.join(".checkrail").join("sessions.db");
    Box::new(move |store| {
        if legacy.is_file() {
            import_legacy(store, &legacy, &config.clone().unwrap_or_default())?;
        }
        if let Some(config) = &config {
            match history::prune_sessions(store, &config.retention) {
                Ok(deleted) if !deleted.is_empty() => {
                    tracing::info!("retention: deleted {} session(s)", deleted.len())
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("retention not applied: {}", crate::error::chain(&e)),
            }
        }
        Ok(())
    })
}

/// Imports the sessions of an old in-workspace database into `store`,
/// saying on stderr what happened.
fn import_legacy(store: &dyn SessionStore, legacy: &Path, config: &WorkspaceConfig) -> Result<()> {
    match store.import_legacy(legacy, config)? {
        LegacyImport::Imported(count) => eprintln!(
            "checkrail: imported {count} session(s) from `{}` into `{}`; sessions now live there, out of the workspace (the old file is left as it was)",
            legacy.display(),
            store.location()
        ),
        LegacyImport::Refused => eprintln!(
            "checkrail: not importing `{}`: `{}` already holds this workspace's sessions, and a database in the workspace could have been written by anyone who can write there; remove the file",
            legacy.display(),
            store.location()
        ),
        LegacyImport::AlreadyDone => {}
    }
    Ok(())
}

impl Service {
    /// Opens the sessions of `workspace`, kept under `state`. An old
    /// `<workspace>/.checkrail/sessions.db` is imported once.
    pub fn open(engine: Arc<Checkrail>, workspace: &Path, state: &StateDir) -> Result<Self> {
        Self::open_in(engine, workspace, state, &StoreTarget::default())
    }

    /// [`Service::open`] with the sessions in `store` (`--store`); the key
    /// that authenticates them still comes from `state`.
    pub fn open_in(
        engine: Arc<Checkrail>,
        workspace: &Path,
        state: &StateDir,
        store: &StoreTarget,
    ) -> Result<Self> {
        Self::opening(engine, workspace, state, store, Opening::Now)
    }

    /// [`Service::open_in`] for a server: a store in a local SQLite file
    /// opens on the first call that needs it, with the legacy import and
    /// the sessions' retention then, so a server whose client only lists
    /// tools never opens it (see [`crate::session::open_on_first_use`]).
    pub fn open_for_serving(
        engine: Arc<Checkrail>,
        workspace: &Path,
        state: &StateDir,
        store: &StoreTarget,
    ) -> Result<Self> {
        Self::opening(engine, workspace, state, store, Opening::OnFirstUse)
    }

    fn opening(
        engine: Arc<Checkrail>,
        workspace: &Path,
        state: &StateDir,
        target: &StoreTarget,
        when: Opening,
    ) -> Result<Self> {
        let workspace = Workspace::open(workspace, state)?;
        // The allowed config; one that does not read (a retention of 0
        // days included) stops every command with what to write. Not
        // allowed yet: the defaults, and sessions refuse to start and say
        // why.
        let config = match workspace.config() {
            Err(e @ Error::Config { .. }) => return Err(e),
            config => config.ok(),
        };
        let after_open = after_open(workspace.root(), config.clone());
        let state_db = workspace.state_dir().join("sessions.db");
        let (root, key) = (workspace.root(), workspace.key().clone());
        let store = match when {
            Opening::Now => {
                let store = crate::session::open_store(target, &state_db, root, key)?;
                after_open(store.as_ref())?;
                store
            }
            Opening::OnFirstUse => {
                crate::session::open_on_first_use(target, &state_db, root, key, after_open)?
            }
        };
        if let Some(retention) = config.as_ref().map(|c| &c.retention) {
            let outcomes = history::prune_outcomes(&workspace, retention);
            if outcomes > 0 {
                tracing::info!("retention: deleted {outcomes} cached outcome(s)");
            }
        }
        let max_running = config.as_ref().map_or_else(
            || crate::config::Checks::default().max_running(),
            |c| c.checks.max_running(),
        );
        Ok(Self {
            store,
            engine,
            workspace,
            max_evidence: DEFAULT_MAX_EVIDENCE,
            checks: checks::Checks::new(),
            pool: Arc::new(pool::Pool::new(max_running)),
            confinement: None,
        })
    }

    /// Changes the evidence size limit.
    pub fn with_max_evidence(mut self, bytes: usize) -> Self {
        self.max_evidence = bytes;
        self
    }

    /// How the server's check slots stand.
    pub fn pool(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Records `confinement` with every session started through this
    /// service: the agent it answers runs under `checkrail run`.
    pub fn with_confinement(mut self, confinement: crate::confine::Confinement) -> Self {
        self.confinement = Some(confinement);
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Checkrail {
        &self.engine
    }

    /// The workspace directory.
    pub fn workspace(&self) -> &Path {
        self.workspace.root()
    }

    /// The opened workspace (its state directory and key).
    pub fn opened(&self) -> &Workspace {
        &self.workspace
    }

    /// The workspace's current `checkrail.toml` (sessions use the copy
    /// pinned at their start).
    pub fn workspace_config(&self) -> Result<crate::config::WorkspaceConfig> {
        self.workspace.config()
    }

    /// The session store.
    pub fn store(&self) -> &dyn SessionStore {
        self.store.as_ref()
    }

    /// Starts a session of a workflow, checking inputs and that every rule
    /// of every checkpoint resolves with a valid config.
    pub fn start(&self, workflow_id: &str, inputs: Map<String, Value>) -> Result<Standing> {
        let workflow = self
            .engine
            .catalog()
            .resolve_in(workflow_id, self.workspace.root())?;
        crate::allow::check_workflow(&self.workspace, &workflow.source)?;
        let mut inputs = inputs;
        let mut problems = Vec::new();
        for key in inputs.keys() {
            if !workflow.inputs.contains_key(key) {
                let known: Vec<&str> = workflow.inputs.keys().map(String::as_str).collect();
                problems.push(format!(
                    "unknown input `{}`; workflow `{}` takes: {}",
                    crate::error::clip(key),
                    workflow.id,
                    if known.is_empty() {
                        "no inputs".to_owned()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
        for (key, spec) in &workflow.inputs {
            if !inputs.contains_key(key) {
                match &spec.default {
                    Some(default) => {
                        inputs.insert(key.clone(), Value::String(default.clone()));
                    }
                    None if spec.required => problems.push(format!(
                        "missing required input `{key}`: {}",
                        spec.description
                    )),
                    None => {}
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::BadRequest(problems.join("; ")));
        }
        // The session pins the workflow with its inputs filled in.
        let workflow = workflow.instantiate(&inputs).map_err(Error::BadRequest)?;
        let lint = self.engine.lint(&workflow);
        if !lint.is_empty() {
            return Err(Error::InvalidWorkflow {
                source_name: workflow.source.clone(),
                problems: lint,
            });
        }
        let mut provenance = self.engine.catalog().provenance(&workflow);
        // Whether the agent ran confined, on the session's own record.
        if let Some(fields) = provenance.as_object_mut() {
            fields.insert(
                "confinement".to_owned(),
                match &self.confinement {
                    Some(c) => serde_json::json!({ "confined": true, "landlock_abi": c.abi, "writable": c.writable, "hidden": c.hidden }),
                    None => serde_json::json!({ "confined": false }),
                },
            );
        }
        let judging_globs = self.judging_globs(&workflow)?;
        // Judged against what a human last allowed where `checkrail allow`
        // recorded it: a judging file the agent changed before it started
        // the session is reported at the first check.
        let judging = to_map(&crate::allow::anchored(
            &self.workspace,
            &judging_globs,
            frozen::snapshot(self.workspace.root(), &judging_globs),
        ));
        let pinned = Pinned {
            config: self.workspace.config()?,
            provenance: provenance.clone(),
            judging_globs,
        };
        let session = self.store.create(&workflow, inputs, &pinned, &judging)?;
        let note = provenance.get("overrides_bundled").map(|bundled| {
            format!(
                "Note: this workflow comes from `{}` (sha256 {}), which overrides the bundled workflow `{}` (sha256 {}).",
                workflow.source, workflow.digest, workflow.id, bundled["digest"].as_str().unwrap_or("?")
            )
        });
        Ok(self.standing_with(session, &workflow, note))
    }

    /// Where a session stands.
    pub fn next(&self, id: &str) -> Result<Standing> {
        let (session, workflow, _) = self.store.get(id)?;
        Ok(self.standing(session, &workflow))
    }

    /// Runs a checkpoint outside any session, with the workspace's current
    /// `checkrail.toml` and the outcome cache, as `checkrail check` does.
    /// `baselines` are facts by phase and rule, as a session keeps them.
    pub fn check(
        &self,
        workflow: &Workflow,
        phase: &str,
        baselines: &Map<String, Value>,
    ) -> Result<CheckpointReport> {
        let config = self.workspace.config()?;
        self.engine.run_checkpoint(&CheckpointRun {
            workflow,
            phase,
            workspace: &self.workspace,
            evidence: None,
            config: &config,
            hooks: Hooks::default(),
            use_cache: true,
            baselines,
            guards: Guards {
                cargo_overrides: true,
                ..Guards::default()
            },
        })
    }

    /// Runs the checkpoint of `phase` for a session: its pinned workflow
    /// and config, evidence references filled, facts of earlier phases, and
    /// the judging and frozen files compared with their snapshots.
    fn run_phase(
        &self,
        (session, workflow, pinned): (&Session, &Workflow, &Pinned),
        run: PhaseRun<'_>,
    ) -> Result<CheckpointReport> {
        let PhaseRun {
            phase,
            evidence,
            hooks,
            use_cache,
            setup,
        } = run;
        let filled = self.phase_for(workflow, phase, session)?;
        let judging = from_map(&session.judging);
        let index = workflow.index_of(&phase.id).unwrap_or(session.phase_index);
        let (filled, frozen) = with_frozen_artifacts(filled, session, workflow, index);
        let baselines = session.baselines_view(workflow, index);
        let read;
        let notes = match setup {
            Some(notes) => notes,
            None => {
                read = SetupNotes::read(self.store.as_ref());
                &read
            }
        };
        let setup = crate::setup::changed_since_init(self.workspace.root(), &|f| notes.of(f));
        // Rules run only in one of the server's slots.
        let _slot = self.pool.acquire();
        self.engine.run_checkpoint(&CheckpointRun {
            workflow: &workflow.with_phase(filled),
            phase: &phase.id,
            workspace: &self.workspace,
            evidence,
            config: &pinned.config,
            hooks: hooks.clone(),
            use_cache,
            baselines: &baselines,
            guards: Guards {
                judging: Some((&judging, &pinned.judging_globs, &session.id)),
                frozen: frozen.as_ref(),
                cargo_overrides: false,
                setup: setup.as_deref(),
            },
        })
    }

    /// `phase` with the evidence references of `session` filled.
    fn phase_for(&self, workflow: &Workflow, phase: &Phase, session: &Session) -> Result<Phase> {
        let index = workflow.index_of(&phase.id).unwrap_or(session.phase_index);
        let evidence = session.evidence_view(workflow, index);
        phase
            .filled(&Scope {
                inputs: None,
                evidence: Some(&evidence),
                item: session.item(workflow, index),
            })
            .map_err(|e| {
                Error::Refused(format!(
                    "phase `{}` of workflow `{}` cannot be checked: {e}",
                    phase.id, workflow.id
                ))
            })
    }
}

/// The snapshot a checkpoint's `frozen` compares with: the files recorded
/// when phase `since` passed and, with `artifacts: true`, the artifacts it
/// recorded, whose paths join the frozen globs.
fn with_frozen_artifacts(
    mut phase: Phase,
    session: &Session,
    workflow: &Workflow,
    index: usize,
) -> (Phase, Option<Snapshot>) {
    let Some(frozen) = phase.checkpoint.as_mut().and_then(|c| c.frozen.as_mut()) else {
        return (phase, None);
    };
    let mut before = session
        .snapshot_view(workflow, index, &frozen.since)
        .and_then(|v| v.as_object())
        .map(from_map);
    if frozen.artifacts
        && let Some(recorded) = session.artifacts_view(workflow, index, &frozen.since)
    {
        let artifacts = frozen::artifact_snapshot(recorded);
        frozen
            .paths
            .extend(artifacts.keys().map(|path| frozen::literal_glob(path)));
        before.get_or_insert_with(Snapshot::new).extend(artifacts);
    }
    (phase, before)
}

fn to_map(snapshot: &Snapshot) -> Map<String, Value> {
    snapshot
        .iter()
        .map(|(path, hash)| (path.clone(), Value::String(hash.clone())))
        .collect()
}

fn from_map(map: &Map<String, Value>) -> Snapshot {
    map.iter()
        .filter_map(|(path, hash)| Some((path.clone(), hash.as_str()?.to_owned())))
        .collect()
}
