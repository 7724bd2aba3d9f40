//! Workflow sessions as operations: start, next, validate, control, approve.
//! The MCP tools and the `session` CLI commands are thin adapters over
//! [`Service`]; it combines the engine (rules, workflows) with the session
//! store of one workspace.

use std::path::Path;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::ApprovalChannel;
use crate::engine::{CheckpointRun, Guards, Hooks};
use crate::frozen::{self, Snapshot};
use crate::report::CheckpointReport;
use crate::session::{
    Checked, Command, Control, Deletion, ErrorsView, Event, Outcome, Pinned, Session, SessionStore,
    Status, Step, StoreTarget, Transition, Verification,
};
use crate::trusted::StateDir;
use crate::workflow::template::Scope;
use crate::workflow::{Checkpoint, DoneWhen, Hints, Task};
use crate::workflow::{Phase, Workflow};
use crate::workspace::Workspace;
use crate::{Checkrail, Error, Result};

mod checks;

pub use checks::{CheckStatus, CheckView};

/// One checkpoint to run for a session.
struct PhaseRun<'a> {
    phase: &'a Phase,
    evidence: Option<&'a Value>,
    hooks: &'a Hooks,
    use_cache: bool,
}

/// A human's decision on a gate.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Approve (advance) or reject (back to work on the phase).
    pub approve: bool,
    /// Who decided.
    pub by: String,
    /// Through which human channel.
    pub channel: ApprovalChannel,
    /// Channel details (the terminal device, the client's name).
    pub detail: Option<String>,
    /// A note from the human.
    pub note: Option<String>,
}

/// Largest evidence accepted by default, in bytes (serialized JSON).
pub const DEFAULT_MAX_EVIDENCE: usize = 1 << 20;

/// A phase as the agent sees it: what to do and what will be checked.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PhaseView {
    /// Phase id.
    pub id: String,
    /// Phase name.
    pub name: String,
    /// 1-based position.
    pub number: usize,
    /// Phases in the workflow.
    pub of: usize,
    /// What to do (markdown).
    pub guidance: String,
    /// Task list: sentences, or tasks with an id, steps and how they are
    /// known to be done.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
    /// In a session: the first task not yet done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_task: Option<Task>,
    /// In a session: ids of the tasks done.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks_done: Vec<String>,
    /// How long the phase usually takes, in minutes (guidance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_minutes: Option<u32>,
    /// Who should do it and how (guidance, never enforced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hints: Option<Hints>,
    /// What its checkpoint checks; absent when the phase has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointView>,
    /// The loop group it belongs to and, in a session, the iteration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<IterationView>,
    /// Condition (CEL) under which the phase runs; it is skipped otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Branches taken after it passes (CEL condition → phase or group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<BranchView>,
}

/// A branch of a phase.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BranchView {
    /// Condition; always when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Where it goes.
    pub goto: String,
}

/// A phase's loop group and where a session stands in it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IterationView {
    /// Group id.
    pub group: String,
    /// `foreach` or `repeat`.
    pub kind: String,
    /// 1-based iteration (absent outside a session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    /// Iterations in all (`foreach`: the items; `repeat`: at most).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of: Option<u32>,
    /// The item of this iteration (`foreach`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
}

/// What a checkpoint will check.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckpointView {
    /// For humans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema the evidence must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_schema: Option<Value>,
    /// Rules run against the workspace.
    pub rules: Vec<RuleView>,
    /// When set, a human must also approve: what they are asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Files recorded (path, size, sha256) when it passes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
    /// Every task with a `done_when` must be satisfied.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_tasks: bool,
}

/// One rule of a checkpoint.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RuleView {
    /// Rule reference.
    pub rule: String,
    /// What it checks here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `block` or `warn`.
    pub severity: crate::workflow::Severity,
    /// Its config.
    pub config: Value,
}

impl PhaseView {
    /// The view of phase `index` of `workflow`.
    pub fn of(workflow: &Workflow, index: usize) -> Option<Self> {
        let phase: &Phase = workflow.phases.get(index)?;
        Some(Self {
            id: phase.id.clone(),
            name: phase.name.clone(),
            number: index + 1,
            of: workflow.phases.len(),
            guidance: phase.guidance.clone(),
            tasks: phase.tasks.clone(),
            current_task: None,
            tasks_done: Vec::new(),
            estimated_minutes: phase.estimated_minutes,
            hints: phase.hints.clone(),
            checkpoint: phase.checkpoint.as_ref().map(|c| CheckpointView {
                description: c.description.clone(),
                evidence_schema: c.evidence_schema.clone(),
                rules: c
                    .rules
                    .iter()
                    .map(|r| RuleView {
                        rule: r.rule.clone(),
                        name: r.name.clone(),
                        severity: r.severity,
                        config: r.config.clone(),
                    })
                    .collect(),
                approval: c.approval.as_ref().map(|a| a.prompt.clone()),
                artifacts: c.artifacts.clone(),
                require_tasks: c.require_tasks,
            }),
            iteration: workflow.group_of(index).map(|g| IterationView {
                group: g.id.clone(),
                kind: g.kind().to_owned(),
                number: None,
                of: g.repeat.then(|| g.max()),
                item: None,
            }),
            when: phase.when.clone(),
            next: phase
                .next
                .iter()
                .map(|b| BranchView {
                    when: b.when.clone(),
                    goto: b.goto.clone(),
                })
                .collect(),
        })
    }

    /// The view of the phase a session stands at, with its iteration.
    fn in_session(workflow: &Workflow, session: &Session) -> Option<Self> {
        let mut view = Self::of(workflow, session.phase_index)?;
        view.tasks_done = session
            .tasks_done
            .get(&session.current_key())
            .cloned()
            .unwrap_or_default();
        view.current_task = view
            .tasks
            .iter()
            .find(|t| {
                t.id()
                    .is_some_and(|id| !view.tasks_done.iter().any(|d| d == id))
            })
            .cloned();
        if let Some(iteration) = &mut view.iteration {
            let run = session.loops.get(&iteration.group);
            iteration.number = session.iteration;
            iteration.item = session.item(workflow, session.phase_index).cloned();
            if let Some(items) = run.and_then(|r| r.items.as_ref()) {
                iteration.of = Some(items.len() as u32);
            }
        }
        Some(view)
    }
}

/// Where a session stands and what to do next.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Standing {
    /// The session.
    pub session: Session,
    /// The current phase (absent once the session is completed or abandoned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<PhaseView>,
    /// Phases (or whole groups) skipped on the way to the current phase,
    /// each with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Step>,
    /// What to do now, in one or two sentences.
    pub next_step: String,
    /// The latest check started with `workflow_validate` `wait: false`:
    /// running, interrupted, or its result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckView>,
}

/// The answer to a validation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Validation {
    /// Whether the checkpoint passed.
    pub passed: bool,
    /// Whether this call moved the session to the next phase (or completed it).
    pub advanced: bool,
    /// The full report: per-rule results and findings, evidence violations.
    /// Absent when nothing ran (the phase had already passed), and with
    /// `wait: false` (the check runs on; see `check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<CheckpointReport>,
    /// With `wait: false`: the check that was started (or was already
    /// running), to follow with workflow_next. `passed` and `advanced` are
    /// then false until its result comes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckView>,
    /// Where the session stands now, and what to do next.
    pub standing: Standing,
}

/// Sessions of one workspace.
pub struct Service {
    engine: Arc<Checkrail>,
    store: Arc<dyn SessionStore>,
    workspace: Workspace,
    max_evidence: usize,
    /// Checks this server instance runs apart from their requests.
    checks: checks::Checks,
}

/// One passed checkpoint run again by [`Service::verify`] with `recheck`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Recheck {
    /// Phase id.
    pub phase: String,
    /// Whether it still passes.
    pub passed: bool,
    /// The checkpoint's summary.
    pub summary: String,
    /// The full report.
    pub report: CheckpointReport,
}

/// Frozen-file snapshot and artifacts a phase records when it passes.
type RecordedFiles = (Option<Map<String, Value>>, Option<Map<String, Value>>);

/// What [`Service::prune`] removed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Pruned {
    /// Sessions deleted, with their audit entries.
    pub sessions: Vec<Deletion>,
    /// Cached outcomes dropped.
    pub outcomes: usize,
}

/// What [`Service::verify`] found.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VerifyReport {
    /// The record check.
    pub record: Verification,
    /// Each passed checkpoint run again, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recheck: Option<Vec<Recheck>>,
    /// The record verifies and (when rechecked) every checkpoint still passes.
    pub ok: bool,
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
        let workspace = Workspace::open(workspace, state)?;
        let store = crate::session::open_store(
            store,
            &workspace.state_dir().join("sessions.db"),
            workspace.root(),
            workspace.key().clone(),
        )?;
        let legacy = workspace.root().join(".checkrail").join("sessions.db");
        if legacy.is_file() {
            let config = workspace.config().unwrap_or_default();
            if let Some(count) = store.import_legacy(&legacy, &config)? {
                eprintln!(
                    "checkrail: imported {count} session(s) from `{}` into `{}`; sessions now live there, out of the workspace (the old file is left as it was)",
                    legacy.display(),
                    store.location()
                );
            }
        }
        let service = Self {
            store,
            engine,
            workspace,
            max_evidence: DEFAULT_MAX_EVIDENCE,
            checks: checks::Checks::new(),
        };
        match service.prune() {
            Ok(pruned) if !pruned.sessions.is_empty() || pruned.outcomes > 0 => tracing::info!(
                "retention: deleted {} session(s) and {} cached outcome(s)",
                pruned.sessions.len(),
                pruned.outcomes
            ),
            Ok(_) => {}
            // A config that does not load is reported where it is used.
            Err(e) => tracing::warn!("retention not applied: {}", crate::error::chain(&e)),
        }
        Ok(service)
    }

    /// Applies the workspace's `[retention]` policy (its current
    /// `checkrail.toml`): old completed or abandoned sessions are deleted,
    /// each leaving an audit entry, and the outcome cache is trimmed by age
    /// and size. Nothing happens without a policy.
    pub fn prune(&self) -> Result<Pruned> {
        let retention = self.workspace.config()?.retention;
        let sessions = match retention.sessions_days {
            Some(days) => self.store.prune(
                &crate::session::days_ago(days),
                &format!("unchanged for over {days} day(s) ([retention] sessions_days)"),
            )?,
            None => Vec::new(),
        };
        let cutoff = retention.cache_days.map(crate::session::days_ago);
        let max_bytes = retention.cache_max_mb.map(|mb| mb << 20);
        let outcomes = match (
            self.workspace.outcomes(),
            cutoff.is_some() || max_bytes.is_some(),
        ) {
            (Some(cache), true) => cache.prune(cutoff.as_deref(), max_bytes),
            _ => 0,
        };
        Ok(Pruned { sessions, outcomes })
    }

    /// Deletes a completed or abandoned session, leaving an audit entry
    /// that names `by` (who, through which channel).
    pub fn delete(&self, id: &str, by: &str) -> Result<Deletion> {
        self.store.delete(id, by, "deleted on request")
    }

    /// The audit entries of deleted sessions, newest first.
    pub fn deletions(&self) -> Result<Vec<Deletion>> {
        self.store.deletions()
    }

    /// Changes the evidence size limit.
    pub fn with_max_evidence(mut self, bytes: usize) -> Self {
        self.max_evidence = bytes;
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
        let provenance = self.engine.catalog().provenance(&workflow);
        let judging_globs = self.judging_globs(&workflow)?;
        let judging = to_map(&frozen::snapshot(self.workspace.root(), &judging_globs));
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

    /// Checks a session's whole record; with `recheck`, also runs every
    /// checkpoint it passed again, without the outcome cache, against the
    /// workspace as it is now (with the recorded evidence and the pinned
    /// config).
    pub fn verify(&self, id: &str, recheck: bool) -> Result<VerifyReport> {
        let record = self.store.verify(id)?;
        if !record.verified || !recheck {
            return Ok(VerifyReport {
                ok: record.verified,
                record,
                recheck: None,
            });
        }
        let (session, workflow, pinned) = self.store.get(id)?;
        let mut results = Vec::new();
        let path = session.path_taken(&workflow);
        for step in path.iter().filter(|s| s.outcome == Outcome::Passed) {
            let Some(index) = workflow.index_of(&step.phase) else {
                continue;
            };
            let phase = &workflow.phases[index];
            if phase.checkpoint.is_none() {
                continue;
            }
            // The session as it stood at that step: its iteration's item,
            // evidence and baselines.
            let mut then = session.clone();
            then.phase_index = index;
            then.iteration = step.iteration;
            if let (Some(group), Some(n)) = (workflow.group_of(index), step.iteration)
                && let Some(run) = then.loops.get_mut(&group.id)
            {
                run.iteration = n;
            }
            let key = crate::session::occurrence(&phase.id, step.iteration);
            let report = self.run_phase(
                (&then, &workflow, &pinned),
                PhaseRun {
                    phase,
                    evidence: session.evidence.get(&key),
                    hooks: &Hooks::default(),
                    use_cache: false,
                },
            )?;
            results.push(Recheck {
                phase: key,
                passed: report.passed,
                summary: report.summary.clone(),
                report,
            });
        }
        Ok(VerifyReport {
            ok: results.iter().all(|r| r.passed),
            record,
            recheck: Some(results),
        })
    }

    /// Globs of the files that change how the workflow's rules judge: what
    /// each rule declares, plus the workspace's `checkrail.toml`.
    fn judging_globs(&self, workflow: &Workflow) -> Result<Vec<String>> {
        let mut globs = vec![crate::config::FILE.to_owned()];
        for phase in &workflow.phases {
            for rule_use in phase.checkpoint.iter().flat_map(|c| &c.rules) {
                let rule = self.engine.rule(&rule_use.rule)?;
                globs.extend(rule.component.info.judging_files.iter().cloned());
            }
        }
        globs.sort();
        globs.dedup();
        Ok(globs)
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
        } = run;
        let filled = self.phase_for(workflow, phase, session)?;
        let judging = from_map(&session.judging);
        let index = workflow.index_of(&phase.id).unwrap_or(session.phase_index);
        let (filled, frozen) = with_frozen_artifacts(filled, session, workflow, index);
        let baselines = session.baselines_view(workflow, index);
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
            },
        })
    }

    /// A human accepts the changes to judging files made during a session:
    /// they become the session's new reference. Recorded with the channel.
    pub fn accept_changes(&self, id: &str, decision: &Decision) -> Result<Vec<String>> {
        let (_, _, pinned) = self.store.get(id)?;
        let (_, changes) = self.store.update(id, |s, wf| {
            let before = from_map(&s.judging);
            let now = frozen::snapshot(self.workspace.root(), &pinned.judging_globs);
            let changes: Vec<String> = frozen::compare(&before, &now, true)
                .into_iter()
                .map(|c| format!("{c:?}"))
                .collect();
            if changes.is_empty() {
                return Err(Error::Refused(format!(
                    "no judging file of session `{}` changed; there is nothing to accept",
                    s.id
                )));
            }
            let record = serde_json::json!({
                "changes": changes,
                "by": decision.by,
                "channel": decision.channel.as_str(),
                "detail": decision.detail,
                "note": decision.note,
            });
            let events = s.apply(
                Command::AcceptJudging {
                    judging: to_map(&now),
                    record,
                },
                wf,
            )?;
            Ok((Transition::from(events), changes))
        })?;
        Ok(changes)
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

    /// Sessions, newest first.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<Session>> {
        self.store.list(status)
    }

    /// A session's event log.
    pub fn events(&self, id: &str) -> Result<Vec<Event>> {
        self.store.events(id)
    }

    /// The latest checkpoint report of each phase the session validated,
    /// in the order they were last run, labelled `workflow/phase` (with
    /// `#n` for a loop iteration). Refused unless the record verifies.
    pub fn latest_reports(&self, id: &str) -> Result<Vec<(String, CheckpointReport)>> {
        let (session, _, _) = self.store.get(id)?;
        let mut latest: Vec<(String, CheckpointReport)> = Vec::new();
        let mut iteration: Option<u64> = None;
        for event in self.store.events(id)? {
            match event.kind.as_str() {
                "iteration_started" | "advanced" | "rolled_back" => {
                    iteration = event.data["iteration"].as_u64();
                }
                "validated" | "validation_failed" => {
                    let Ok(report) = serde_json::from_value::<CheckpointReport>(event.data) else {
                        continue;
                    };
                    let label = match iteration {
                        Some(n) => format!("{}/{}#{n}", session.workflow_id, report.phase),
                        None => format!("{}/{}", session.workflow_id, report.phase),
                    };
                    latest.retain(|(l, _)| *l != label);
                    latest.push((label, report));
                }
                _ => {}
            }
        }
        Ok(latest)
    }

    /// What went wrong in a session: each failed validation, the findings
    /// deduplicated with counts across attempts, and each phase's
    /// first-try pass rate. Refused unless the record verifies.
    pub fn errors(&self, id: &str) -> Result<ErrorsView> {
        Ok(crate::session::errors(&self.store.events(id)?))
    }

    /// Validates the current phase's checkpoint. When `phase` names a phase
    /// the session already passed, answers without running anything, so a
    /// repeated call never advances twice. With `dry_run`, nothing is
    /// recorded and the session does not move.
    pub fn validate(
        &self,
        id: &str,
        phase: Option<&str>,
        evidence: Option<&Value>,
        dry_run: bool,
        hooks: &Hooks,
    ) -> Result<Validation> {
        self.validate_at(id, phase, None, evidence, dry_run, hooks)
    }

    /// Checks one task of the current phase: its `done_when` rule runs (or
    /// its evidence field is looked for in `evidence`); a task without one
    /// is taken at the agent's word. When done, it is recorded and
    /// `workflow_next` moves to the next task; the session stays on the
    /// phase. `passed` says whether the task is done.
    pub fn validate_task(
        &self,
        id: &str,
        task_id: &str,
        evidence: Option<&Value>,
        hooks: &Hooks,
    ) -> Result<Validation> {
        self.validate_task_at(id, None, task_id, evidence, false, hooks)
    }

    /// [`Service::validate_task`] naming the phase the task belongs to
    /// (refused when the session stands elsewhere), and with `dry_run`
    /// recording nothing.
    pub fn validate_task_at(
        &self,
        id: &str,
        phase: Option<&str>,
        task_id: &str,
        evidence: Option<&Value>,
        dry_run: bool,
        hooks: &Hooks,
    ) -> Result<Validation> {
        self.check_evidence_size(evidence)?;
        let (session, workflow, pinned) = self.store.get(id)?;
        refuse_unless_active(&session)?;
        if let Some(asked) = phase
            && asked != session.phase_id
        {
            return Err(Error::Refused(format!(
                "task `{}` of phase `{}`: the session is at phase `{}`; check the tasks of the current phase",
                crate::error::clip(task_id),
                crate::error::clip(asked),
                session.phase_id
            )));
        }
        let phase = workflow
            .phases
            .get(session.phase_index)
            .ok_or_else(|| Error::Refused(format!("session `{id}` has no current phase")))?;
        let filled = self.phase_for(&workflow, phase, &session)?;
        let Some(task) = filled
            .tasks
            .iter()
            .find(|t| t.id() == Some(task_id))
            .cloned()
        else {
            let known: Vec<&str> = filled.tasks.iter().filter_map(|t| t.id()).collect();
            return Err(Error::BadRequest(format!(
                "phase `{}` has no task `{}`; its tasks with ids: {}",
                phase.id,
                crate::error::clip(task_id),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        };
        let at = session.cursor();
        let (done, how, report) = match task.done_when() {
            Some(DoneWhen::Rule { .. }) => {
                let mut only = filled.clone();
                let pointer = filled
                    .tasks
                    .iter()
                    .position(|t| t.id() == Some(task_id))
                    .map(|t| format!("tasks/{t}/done_when"));
                let rules = crate::engine::checkpoint::task_rules(&filled)
                    .into_iter()
                    .filter(|(at, _)| Some(at) == pointer.as_ref())
                    .map(|(_, rule_use)| rule_use)
                    .collect();
                only.checkpoint = Some(Checkpoint {
                    rules,
                    ..Checkpoint::default()
                });
                let report = self.run_phase(
                    (&session, &workflow.with_phase(only.clone()), &pinned),
                    PhaseRun {
                        phase: &only,
                        evidence,
                        hooks,
                        use_cache: true,
                    },
                )?;
                let how = serde_json::json!({ "rule": report.summary });
                (report.passed, how, Some(report))
            }
            Some(DoneWhen::Evidence { evidence: field }) => (
                DoneWhen::set_in(field, evidence),
                serde_json::json!({ "evidence": field }),
                None,
            ),
            None => (true, serde_json::json!("the agent's word"), None),
        };
        let session = if done && !dry_run {
            self.store
                .update(id, |s, wf| {
                    let events = s.apply(
                        Command::TaskDone {
                            at,
                            task: task_id.to_owned(),
                            how,
                        },
                        wf,
                    )?;
                    Ok((Transition::from(events), ()))
                })?
                .0
        } else {
            session
        };
        let note = match (done, task.done_when()) {
            (true, _) => format!("task `{task_id}` is done."),
            (false, Some(DoneWhen::Evidence { evidence: field })) => {
                format!("task `{task_id}` is not done: the evidence does not set `{field}`.")
            }
            (false, _) => format!("task `{task_id}` is not done: see the report's findings."),
        };
        Ok(Validation {
            passed: done,
            advanced: false,
            report,
            check: None,
            standing: self.standing_with(session, &workflow, Some(note)),
        })
    }

    /// What passing `phase` records for later phases: the files frozen
    /// since it (when a later checkpoint freezes any) and its artifacts.
    fn recorded_files(&self, workflow: &Workflow, phase: &str) -> RecordedFiles {
        let root = self.workspace.root();
        let frozen_globs: Vec<String> = workflow
            .phases
            .iter()
            .filter_map(|p| p.checkpoint.as_ref()?.frozen.as_ref())
            .filter(|f| f.since == phase)
            .flat_map(|f| f.paths.iter().cloned())
            .collect();
        let snapshot =
            (!frozen_globs.is_empty()).then(|| to_map(&frozen::snapshot(root, &frozen_globs)));
        let artifacts = workflow
            .phase(phase)
            .and_then(|p| p.checkpoint.as_ref())
            .filter(|c| !c.artifacts.is_empty())
            .map(|c| frozen::artifacts(root, &c.artifacts));
        (snapshot, artifacts)
    }

    /// Refuses evidence over the size limit.
    fn check_evidence_size(&self, evidence: Option<&Value>) -> Result<()> {
        let size = evidence.map_or(0, |e| e.to_string().len());
        if size > self.max_evidence {
            return Err(Error::BadRequest(format!(
                "evidence is {size} bytes, over the limit of {} bytes; send a summary and let the rules read the files",
                self.max_evidence
            )));
        }
        Ok(())
    }

    /// [`Service::validate`] naming the loop iteration too: a phase plus
    /// iteration that already passed answers without running anything
    /// (without `iteration`, the phase's latest pass counts).
    pub fn validate_at(
        &self,
        id: &str,
        phase: Option<&str>,
        iteration: Option<u32>,
        evidence: Option<&Value>,
        dry_run: bool,
        hooks: &Hooks,
    ) -> Result<Validation> {
        self.check_evidence_size(evidence)?;
        let (session, workflow, pinned) = self.store.get(id)?;
        refuse_unless_active(&session)?;
        if let Some(asked) = phase {
            let current =
                asked == session.phase_id && iteration.is_none_or(|n| Some(n) == session.iteration);
            if !current {
                return self.not_current(session, &workflow, asked, iteration);
            }
        }
        self.check_and_record(
            (session, &workflow, &pinned),
            evidence,
            dry_run,
            hooks,
            None,
        )
    }

    /// Runs the checkpoint of the phase `session` stands at and records the
    /// result (unless `dry_run`), with the id of the check that ran apart
    /// from its request when there is one.
    fn check_and_record(
        &self,
        (session, workflow, pinned): (Session, &Workflow, &Pinned),
        evidence: Option<&Value>,
        dry_run: bool,
        hooks: &Hooks,
        check: Option<&str>,
    ) -> Result<Validation> {
        let id = session.id.clone();
        let id = id.as_str();
        let at = session.cursor();
        let phase_id = workflow.phases[session.phase_index].id.clone();
        // The files later phases freeze since this one are taken before
        // the rules run and again after: a file swapped while they ran
        // would otherwise become the reference. (Artifacts are taken after:
        // the checkpoint's own tools may be what produces them.)
        let recorded_before = self.recorded_files(workflow, &phase_id);
        let mut report = self.run_phase(
            (&session, workflow, pinned),
            PhaseRun {
                phase: &workflow.phases[session.phase_index],
                evidence,
                hooks,
                use_cache: true,
            },
        )?;
        let recorded = self.recorded_files(workflow, &phase_id);
        if report.passed && recorded.0 != recorded_before.0 {
            report.fail_with(crate::engine::guards::changed_during_check(
                recorded_before.0.as_ref(),
                recorded.0.as_ref(),
            ));
        }
        if dry_run {
            let note = format!(
                "dry run: the checkpoint {}; nothing was recorded.",
                if report.passed {
                    "would pass"
                } else {
                    "would fail"
                }
            );
            return Ok(Validation {
                passed: report.passed,
                advanced: false,
                report: Some(report),
                check: None,
                standing: self.standing_with(session, workflow, Some(note)),
            });
        }
        let summary = serde_json::to_value(&report).unwrap_or(Value::Null);
        let facts: Map<String, Value> = report
            .rules
            .iter()
            .filter_map(|r| Some((r.rule.clone(), r.facts.clone()?)))
            .collect();
        let (snapshot, artifacts) = if report.passed {
            recorded
        } else {
            (None, None)
        };
        let (session, advanced) = self.store.update(id, |s, wf| {
            let before = s.cursor();
            // A validation that read the last phase while another completed
            // the session finds it completed: that is not its advance.
            let was_completed = s.status == Status::Completed;
            let events = s.apply(
                Command::Validated {
                    at,
                    checked: Checked {
                        phase: report.phase.clone(),
                        passed: report.passed,
                        report: summary,
                        evidence: evidence.cloned().unwrap_or(Value::Null),
                        facts,
                        snapshot,
                        approval: report.approval_required.is_some(),
                        artifacts,
                        check: check.map(str::to_owned),
                    },
                },
                wf,
            )?;
            let moved = before != s.cursor() || (!was_completed && s.status == Status::Completed);
            let advanced = report.passed && moved && before == at;
            Ok((Transition::from(events), advanced))
        })?;
        let note = (!advanced
            && report.passed
            && session.status == Status::Active
            && session.cursor() != at)
            .then(|| {
                "another validation advanced this session at the same time; nothing was applied twice."
                    .to_owned()
            });
        Ok(Validation {
            passed: report.passed,
            advanced,
            standing: self.standing_with(session, workflow, note),
            report: Some(report),
            check: None,
        })
    }

    /// The answer to a validation that names a phase (and iteration) other
    /// than the current one: already passed, or refused.
    fn not_current(
        &self,
        session: Session,
        workflow: &Workflow,
        asked: &str,
        iteration: Option<u32>,
    ) -> Result<Validation> {
        if workflow.index_of(asked).is_none() {
            return Err(Error::UnknownPhase {
                workflow: workflow.id.clone(),
                phase: asked.to_owned(),
                known: workflow.phase_ids(),
            });
        }
        let path = session.path_taken(workflow);
        let step = path
            .iter()
            .rev()
            .find(|s| s.phase == asked && iteration.is_none_or(|n| s.iteration == Some(n)));
        let at = match iteration {
            Some(n) => format!("phase `{asked}` (iteration {n})"),
            None => format!("phase `{asked}`"),
        };
        let current = match session.iteration {
            Some(n) => format!("`{}` (iteration {n})", session.phase_id),
            None => format!("`{}`", session.phase_id),
        };
        match step.map(|s| (s.outcome, s.reason.clone())) {
            Some((Outcome::Passed, _)) => Ok(Validation {
                passed: true,
                advanced: false,
                report: None,
                check: None,
                standing: self.standing_with(
                    session,
                    workflow,
                    Some(format!("{at} already passed; nothing was run again.")),
                ),
            }),
            Some((outcome, reason)) => Err(Error::Refused(format!(
                "{at} was {}: {}; the session is at {current}",
                if outcome == Outcome::Skipped {
                    "skipped"
                } else {
                    "run again"
                },
                reason.unwrap_or_default()
            ))),
            None => Err(Error::Refused(format!(
                "{at} is not the current phase; the session is at {current}"
            ))),
        }
    }

    /// Pause, resume, retry, rollback or abandon.
    pub fn control(&self, id: &str, action: Control, to_phase: Option<&str>) -> Result<Standing> {
        self.control_at(id, action, to_phase, None)
    }

    /// [`Service::control`]; a rollback into a loop group may name the
    /// iteration (default: the current one when the session is in that
    /// loop, else its last).
    pub fn control_at(
        &self,
        id: &str,
        action: Control,
        to_phase: Option<&str>,
        iteration: Option<u32>,
    ) -> Result<Standing> {
        let (session, ()) = self.store.update(id, |s, wf| {
            let events = s.apply(
                Command::Control {
                    action,
                    to_phase,
                    iteration,
                },
                wf,
            )?;
            Ok((Transition::from(events), ()))
        })?;
        let (session, workflow, _) = self.store.get(&session.id)?;
        Ok(self.standing(session, &workflow))
    }

    /// What a human is shown before deciding on a gate: the prompt and the
    /// passed validation's summary.
    pub fn gate(&self, id: &str) -> Result<(Session, String, String)> {
        let (session, workflow, _) = self.store.get(id)?;
        if session.status != Status::AwaitingApproval {
            return Err(Error::Refused(format!(
                "session `{}` is {}, not waiting for approval",
                session.id, session.status
            )));
        }
        let prompt = workflow.phases[session.phase_index]
            .checkpoint
            .as_ref()
            .and_then(|c| c.approval.as_ref())
            .map(|a| a.prompt.clone())
            .unwrap_or_default();
        let passed = self
            .store
            .events(id)?
            .into_iter()
            .rev()
            .find(|e| e.kind == "validated")
            .and_then(|e| {
                e.data
                    .get("summary")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        Ok((session, prompt, passed))
    }

    /// The human channels through which this session's gates may be
    /// decided (pinned with the session's config).
    pub fn approval_channels(&self, id: &str) -> Result<Vec<ApprovalChannel>> {
        let (_, _, pinned) = self.store.get(id)?;
        Ok(pinned.config.approval.via)
    }

    /// A human decides on the checkpoint a session waits on, through a
    /// human channel (never an MCP tool). Approving advances the session;
    /// rejecting returns it to the phase, which must be validated again.
    /// The channel must be one the session's pinned config allows.
    pub fn decide(&self, id: &str, decision: &Decision) -> Result<Standing> {
        let (_, _, pinned) = self.store.get(id)?;
        if !pinned.config.approval.via.contains(&decision.channel) {
            return Err(Error::Refused(format!(
                "this session does not accept approvals through `{}`; its checkrail.toml (pinned at start) allows: {}",
                decision.channel.as_str(),
                pinned
                    .config
                    .approval
                    .via
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let (session, _) = self.store.update(id, |s, wf| {
            let record = serde_json::json!({
                "by": decision.by,
                "channel": decision.channel.as_str(),
                "detail": decision.detail,
                "note": decision.note,
            });
            let events = s.apply(
                Command::Decide {
                    approve: decision.approve,
                    record,
                },
                wf,
            )?;
            Ok((Transition::from(events), ()))
        })?;
        self.next(&session.id)
    }

    fn standing(&self, session: Session, workflow: &Workflow) -> Standing {
        self.standing_with(session, workflow, None)
    }

    fn standing_with(
        &self,
        session: Session,
        workflow: &Workflow,
        note: Option<String>,
    ) -> Standing {
        let (session, check) = self.settle(session);
        let phase = (!session.status.is_final())
            .then(|| {
                let phase = workflow.phases.get(session.phase_index)?;
                // Evidence references of the phase, filled where they can be.
                let filled = self
                    .phase_for(workflow, phase, &session)
                    .unwrap_or_else(|_| phase.clone());
                PhaseView::in_session(&workflow.with_phase(filled), &session)
            })
            .flatten();
        // Phases skipped on the way here (since the last one that ran).
        let skipped: Vec<Step> = session
            .path
            .iter()
            .rev()
            .take_while(|s| s.outcome == Outcome::Skipped)
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let mut next_step = match session.status {
            Status::Active => match phase.as_ref().and_then(|p| p.checkpoint.as_ref()) {
                Some(_) => format!(
                    "Work on phase `{}` as its guidance says, then call workflow_validate with session `{}` (and evidence if the checkpoint asks for it).",
                    session.phase_id, session.id
                ),
                None => format!(
                    "Do what phase `{}` says; it has no checks, so call workflow_validate with session `{}` to move on.",
                    session.phase_id, session.id
                ),
            },
            Status::AwaitingApproval => format!(
                "The checks of phase `{}` passed; it now waits for a human to approve it with `checkrail session approve {}`. Tell the user; you cannot approve it yourself.",
                session.phase_id, session.id
            ),
            Status::Paused => format!(
                "The session is paused; call workflow_control with action `resume` to continue at phase `{}`.",
                session.phase_id
            ),
            Status::Completed => "Every phase is done; the workflow is complete.".to_owned(),
            Status::Abandoned => {
                "The session was abandoned; start a new one to try again.".to_owned()
            }
        };
        if let Some(task) = phase.as_ref().and_then(|p| p.current_task.as_ref())
            && session.status == Status::Active
        {
            next_step = format!(
                "Current task: `{}` — {} (workflow_validate with `task` checks it). {next_step}",
                task.id().unwrap_or_default(),
                crate::error::clip(task.title())
            );
        }
        if let Some(iteration) = phase.as_ref().and_then(|p| p.iteration.as_ref())
            && session.status == Status::Active
        {
            let of = iteration.of.map(|n| format!(" of {n}")).unwrap_or_default();
            let item = iteration
                .item
                .as_ref()
                .map(|i| format!(", item {}", crate::error::clip(&i.to_string())))
                .unwrap_or_default();
            next_step = format!(
                "This is iteration {}{of} of group `{}` ({}{item}). {next_step}",
                iteration.number.unwrap_or(1),
                iteration.group,
                iteration.kind
            );
        }
        if !skipped.is_empty() {
            let list: Vec<String> = skipped
                .iter()
                .map(|s| {
                    format!(
                        "`{}` ({})",
                        s.phase,
                        s.reason.as_deref().unwrap_or("skipped")
                    )
                })
                .collect();
            next_step = format!("Skipped: {}. {next_step}", list.join(", "));
        }
        if let Some(about) = check
            .as_ref()
            .and_then(|view| Self::check_note(&session, view))
        {
            next_step = format!("{about} {next_step}");
        }
        if let Some(note) = note {
            next_step = format!("{note} {next_step}");
        }
        Standing {
            session,
            phase,
            skipped,
            next_step,
            check,
        }
    }
}

fn refuse_unless_active(session: &Session) -> Result<()> {
    let why = match session.status {
        Status::Active => return Ok(()),
        Status::Paused => {
            "is paused; resume it first with workflow_control action `resume`".to_owned()
        }
        Status::AwaitingApproval => format!(
            "waits for a human to approve phase `{}` (`checkrail session approve {}`); an agent cannot approve it",
            session.phase_id, session.id
        ),
        Status::Completed => "is completed; there is nothing left to validate".to_owned(),
        Status::Abandoned => "was abandoned; start a new session".to_owned(),
    };
    Err(Error::Refused(format!("session `{}` {why}", session.id)))
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
