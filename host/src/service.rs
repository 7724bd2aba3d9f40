//! Workflow sessions as operations: start, next, validate, control, approve.
//! The MCP tools and the `session` CLI commands are thin adapters over
//! [`Service`]; it combines the engine (rules, workflows) with the session
//! store of one workspace.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::Hooks;
use crate::report::CheckpointReport;
use crate::session::{Control, Event, Session, SessionStore, Status, Transition};
use crate::workflow::{Phase, Workflow};
use crate::{Checkrail, Error, Result};

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
    /// Task list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
    /// What its checkpoint checks; absent when the phase has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointView>,
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
            }),
        })
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
    /// What to do now, in one or two sentences.
    pub next_step: String,
}

/// The answer to a validation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Validation {
    /// Whether the checkpoint passed.
    pub passed: bool,
    /// Whether this call moved the session to the next phase (or completed it).
    pub advanced: bool,
    /// The full report: per-rule results and findings, evidence violations.
    /// Absent when nothing ran (the phase had already passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<CheckpointReport>,
    /// Where the session stands now, and what to do next.
    pub standing: Standing,
}

/// Sessions of one workspace.
pub struct Service {
    engine: Arc<Checkrail>,
    store: SessionStore,
    workspace: PathBuf,
    max_evidence: usize,
}

impl Service {
    /// Opens the session store of `workspace`.
    pub fn open(engine: Arc<Checkrail>, workspace: &Path) -> Result<Self> {
        let workspace = workspace.canonicalize().map_err(|e| Error::Workspace {
            path: workspace.to_owned(),
            reason: format!("cannot be opened: {e}"),
        })?;
        Ok(Self {
            store: SessionStore::open(&workspace)?,
            engine,
            workspace,
            max_evidence: DEFAULT_MAX_EVIDENCE,
        })
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
        &self.workspace
    }

    /// The session store.
    pub fn store(&self) -> &SessionStore {
        &self.store
    }

    /// Starts a session of a workflow, checking inputs and that every rule
    /// of every checkpoint resolves with a valid config.
    pub fn start(&self, workflow_id: &str, inputs: Map<String, Value>) -> Result<Standing> {
        let workflow = self.engine.catalog().resolve(workflow_id)?;
        let mut inputs = inputs;
        let mut problems = Vec::new();
        for key in inputs.keys() {
            if !workflow.inputs.contains_key(key) {
                let known: Vec<&str> = workflow.inputs.keys().map(String::as_str).collect();
                problems.push(format!(
                    "unknown input `{key}`; workflow `{}` takes: {}",
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
        let session = self.store.create(&workflow, inputs)?;
        Ok(self.standing(session, &workflow))
    }

    /// Where a session stands.
    pub fn next(&self, id: &str) -> Result<Standing> {
        let (session, workflow) = self.store.get(id)?;
        Ok(self.standing(session, &workflow))
    }

    /// Sessions, newest first.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<Session>> {
        self.store.list(status)
    }

    /// A session's event log.
    pub fn events(&self, id: &str) -> Result<Vec<Event>> {
        self.store.events(id)
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
        if let Some(evidence) = evidence {
            let size = evidence.to_string().len();
            if size > self.max_evidence {
                return Err(Error::BadRequest(format!(
                    "evidence is {size} bytes, over the limit of {} bytes; send a summary and let the rules read the files",
                    self.max_evidence
                )));
            }
        }
        let (session, workflow) = self.store.get(id)?;
        refuse_unless_active(&session)?;
        if let Some(asked) = phase
            && asked != session.phase_id
        {
            return match workflow.phases.iter().position(|p| p.id == asked) {
                Some(index) if index < session.phase_index => Ok(Validation {
                    passed: true,
                    advanced: false,
                    report: None,
                    standing: self.standing_with(
                        session,
                        &workflow,
                        Some(format!(
                            "phase `{asked}` already passed; nothing was run again."
                        )),
                    ),
                }),
                Some(_) => Err(Error::Refused(format!(
                    "phase `{asked}` is not the current phase; the session is at `{}`",
                    session.phase_id
                ))),
                None => Err(Error::UnknownPhase {
                    workflow: workflow.id.clone(),
                    phase: asked.to_owned(),
                    known: workflow.phase_ids(),
                }),
            };
        }
        let report = self.engine.run_checkpoint_with(
            &workflow,
            &session.phase_id,
            &self.workspace,
            evidence,
            hooks,
        )?;
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
                standing: self.standing_with(session, &workflow, Some(note)),
            });
        }
        let seen_phase = session.phase_index;
        let summary = serde_json::to_value(&report).unwrap_or(Value::Null);
        let (session, advanced) = self.store.update(id, |s, wf| {
            let transition = Transition::default().event(
                if report.passed {
                    "validated"
                } else {
                    "validation_failed"
                },
                Some(&report.phase),
                summary,
            );
            // Someone else moved the session while the rules ran: record
            // the result, apply nothing.
            if s.phase_index != seen_phase || s.status != Status::Active {
                return Ok((
                    transition.event("stale_validation_ignored", Some(&report.phase), Value::Null),
                    false,
                ));
            }
            if !report.passed {
                s.attempts += 1;
                return Ok((transition, false));
            }
            if report.approval_required.is_some() {
                s.status = Status::AwaitingApproval;
                return Ok((
                    transition.event("approval_requested", Some(&report.phase), Value::Null),
                    false,
                ));
            }
            Ok((advance(s, wf, transition), true))
        })?;
        let note = (!advanced && report.passed && session.status == Status::Active && session.phase_index != seen_phase)
            .then(|| "another validation advanced this session at the same time; nothing was applied twice.".to_owned());
        Ok(Validation {
            passed: report.passed,
            advanced,
            standing: self.standing_with(session, &workflow, note),
            report: Some(report),
        })
    }

    /// Pause, resume, retry, rollback or abandon.
    pub fn control(&self, id: &str, action: Control, to_phase: Option<&str>) -> Result<Standing> {
        let (session, workflow) = self.store.update(id, |s, wf| {
            let phase = Some(s.phase_id.clone());
            let refuse = |what: &str| Err(Error::Refused(format!("cannot {what} a session that is {}", s.status)));
            let transition = Transition::default();
            match action {
                Control::Pause => match s.status {
                    Status::Active | Status::AwaitingApproval => {
                        s.paused_from = Some(s.status);
                        s.status = Status::Paused;
                        Ok((transition.event("paused", phase.as_deref(), Value::Null), ()))
                    }
                    _ => refuse("pause"),
                },
                Control::Resume => match s.status {
                    Status::Paused => {
                        s.status = s.paused_from.take().unwrap_or(Status::Active);
                        Ok((transition.event("resumed", phase.as_deref(), Value::Null), ()))
                    }
                    _ => refuse("resume"),
                },
                Control::Retry => match s.status {
                    Status::Active | Status::AwaitingApproval => {
                        let data = serde_json::json!({ "cleared_attempts": s.attempts });
                        s.attempts = 0;
                        s.status = Status::Active;
                        Ok((transition.event("retried", phase.as_deref(), data), ()))
                    }
                    _ => refuse("retry the phase of"),
                },
                Control::Rollback => {
                    if s.status == Status::Abandoned {
                        return refuse("roll back");
                    }
                    let Some(target) = to_phase else {
                        return Err(Error::BadRequest(
                            "rollback needs `to_phase`: the id of an earlier phase".to_owned(),
                        ));
                    };
                    let Some(index) = wf.phases.iter().position(|p| p.id == target) else {
                        return Err(Error::UnknownPhase {
                            workflow: wf.id.clone(),
                            phase: target.to_owned(),
                            known: wf.phase_ids(),
                        });
                    };
                    let current = if s.status == Status::Completed { wf.phases.len() } else { s.phase_index };
                    if index >= current {
                        return Err(Error::Refused(format!(
                            "can only roll back to an earlier phase; `{target}` is not before `{}`",
                            s.phase_id
                        )));
                    }
                    let data = serde_json::json!({ "from": s.phase_id, "to": target });
                    s.phase_index = index;
                    s.status = Status::Active;
                    s.paused_from = None;
                    s.attempts = 0;
                    Ok((transition.event("rolled_back", Some(target), data), ()))
                }
                Control::Abandon => {
                    if s.status.is_final() {
                        return refuse("abandon");
                    }
                    s.status = Status::Abandoned;
                    Ok((transition.event("abandoned", phase.as_deref(), Value::Null), ()))
                }
            }
        })
        .and_then(|(session, ())| self.store.get(&session.id))?;
        Ok(self.standing(session, &workflow))
    }

    /// A human approves the checkpoint a session waits on (CLI only).
    pub fn approve(&self, id: &str, approver: &str, note: Option<&str>) -> Result<Standing> {
        let (session, _) = self.store.update(id, |s, wf| {
            if s.status != Status::AwaitingApproval {
                return Err(Error::Refused(format!(
                    "session `{}` is {}, not waiting for approval",
                    s.id, s.status
                )));
            }
            let transition = Transition::default().event(
                "approved",
                Some(&s.phase_id),
                serde_json::json!({ "by": approver, "note": note }),
            );
            s.status = Status::Active;
            Ok((advance(s, wf, transition), ()))
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
        let phase = (!session.status.is_final())
            .then(|| PhaseView::of(workflow, session.phase_index))
            .flatten();
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
        if let Some(note) = note {
            next_step = format!("{note} {next_step}");
        }
        Standing {
            session,
            phase,
            next_step,
        }
    }
}

/// Moves to the next phase, or completes the session after the last one.
fn advance(session: &mut Session, workflow: &Workflow, transition: Transition) -> Transition {
    let from = session.phase_id.clone();
    session.attempts = 0;
    if session.phase_index + 1 >= workflow.phases.len() {
        session.status = Status::Completed;
        transition.event("completed", Some(&from), Value::Null)
    } else {
        session.phase_index += 1;
        let to = workflow.phases[session.phase_index].id.clone();
        transition.event(
            "advanced",
            Some(&to),
            serde_json::json!({ "from": from, "to": to }),
        )
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
