//! Validating a checkpoint or a task for a session.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::Hooks;
use crate::frozen;
use crate::report::CheckpointReport;
use crate::session::event::TaskProof;
use crate::session::{Checked, Command, Outcome, Pinned, Session, Status, Transition};
use crate::workflow::Workflow;
use crate::workflow::{Checkpoint, DoneWhen};
use crate::{Error, Result};

use super::{CheckView, PhaseRun, Service, SetupNotes, Standing, to_map};

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

/// One call to validate, from any adapter (the MCP tool, a task, the
/// tests): the session, which checkpoint or task, and what to send it.
#[derive(Debug, Clone, Default)]
pub struct ValidateRequest {
    /// Session id.
    pub session: String,
    /// The phase the caller means; another phase than the current one is
    /// answered without running anything (already passed) or refused.
    pub phase: Option<String>,
    /// The loop iteration the caller means, with `phase`.
    pub iteration: Option<u32>,
    /// A task of the current phase to check instead of its checkpoint.
    pub task: Option<String>,
    /// Evidence for the checkpoint's schema (or the task's field).
    pub evidence: Option<Value>,
    /// Check without recording anything.
    pub dry_run: bool,
}

impl ValidateRequest {
    /// The current checkpoint of `session`, no evidence.
    pub fn new(session: impl Into<String>) -> Self {
        Self {
            session: session.into(),
            ..Self::default()
        }
    }

    /// Meaning `phase` (and, with [`Self::iteration`], one iteration of it).
    pub fn phase(mut self, phase: impl Into<String>) -> Self {
        self.phase = Some(phase.into());
        self
    }

    /// Meaning loop iteration `n` of the phase.
    pub fn iteration(mut self, n: u32) -> Self {
        self.iteration = Some(n);
        self
    }

    /// Checking task `task` of the current phase.
    pub fn task(mut self, task: impl Into<String>) -> Self {
        self.task = Some(task.into());
        self
    }

    /// With `evidence`.
    pub fn evidence(mut self, evidence: Value) -> Self {
        self.evidence = Some(evidence);
        self
    }

    /// Recording nothing.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }
}

/// What a validation found, before where the session stands is added.
#[derive(Default)]
pub(super) struct Found {
    pub(super) passed: bool,
    pub(super) advanced: bool,
    pub(super) report: Option<CheckpointReport>,
    pub(super) check: Option<CheckView>,
}

/// The session a request may go on with: active, standing at the phase
/// (and iteration) the request means.
pub(super) struct Current {
    pub(super) session: Session,
    pub(super) workflow: Workflow,
    pub(super) pinned: Pinned,
    /// The setup notes, when they were read with the session.
    pub(super) setup: Option<SetupNotes>,
}

/// What the preamble made of a request.
pub(super) enum Admitted {
    /// Go on and check.
    Go(Box<Current>),
    /// Answered already: the phase the request means passed before.
    Answered(Box<Validation>),
}

/// Frozen-file snapshot and artifacts a phase records when it passes.
type RecordedFiles = (Option<Map<String, Value>>, Option<Map<String, Value>>);

impl Service {
    /// Validates what `request` names: the current phase's checkpoint, or
    /// one of its tasks. A request naming a phase the session already
    /// passed is answered without running anything, so a repeated call
    /// never advances twice. With `dry_run`, nothing is recorded and the
    /// session does not move.
    pub fn validate(&self, request: &ValidateRequest, hooks: &Hooks) -> Result<Validation> {
        let current = match self.admit(request)? {
            Admitted::Go(current) => *current,
            Admitted::Answered(validation) => return Ok(*validation),
        };
        match &request.task {
            Some(task) => self.check_task(current, task, request, hooks),
            None => self.check_and_record(
                current,
                request.evidence.as_ref(),
                request.dry_run,
                hooks,
                None,
            ),
        }
    }

    /// The one preamble of every validation: the evidence's size, the
    /// session, that it is active, and that it stands where the request
    /// means.
    pub(super) fn admit(&self, request: &ValidateRequest) -> Result<Admitted> {
        self.check_evidence_size(request.evidence.as_ref())?;
        let ((session, workflow, pinned), setup) =
            SetupNotes::with_session(self.store.as_ref(), &request.session)?;
        refuse_unless_active(&session)?;
        let current = Current {
            session,
            workflow,
            pinned,
            setup: Some(setup),
        };
        let Some(asked) = request.phase.as_deref() else {
            return Ok(Admitted::Go(Box::new(current)));
        };
        let session = &current.session;
        if let Some(task) = &request.task {
            // A task belongs to its phase; iterations do not name tasks.
            if asked != session.phase_id {
                return Err(Error::Refused(format!(
                    "task `{}` of phase `{}`: the session is at phase `{}`; check the tasks of the current phase",
                    crate::error::clip(task),
                    crate::error::clip(asked),
                    session.phase_id
                )));
            }
            return Ok(Admitted::Go(Box::new(current)));
        }
        let iteration = request.iteration;
        if asked == session.phase_id && iteration.is_none_or(|n| Some(n) == session.iteration) {
            return Ok(Admitted::Go(Box::new(current)));
        }
        self.not_current(current.session, &current.workflow, asked, iteration)
            .map(|answered| Admitted::Answered(Box::new(answered)))
    }

    /// The answer to a validation: what it found, and where the session
    /// stands now, with `note` before the next step.
    pub(super) fn answer(
        &self,
        session: Session,
        workflow: &Workflow,
        found: Found,
        note: Option<String>,
    ) -> Validation {
        Validation {
            passed: found.passed,
            advanced: found.advanced,
            report: found.report,
            check: found.check,
            standing: self.standing_with(session, workflow, note),
        }
    }

    /// Checks one task of the current phase: its `done_when` rule runs (or
    /// its evidence field is looked for in the evidence); a task without
    /// one is taken at the agent's word. When done, it is recorded and
    /// `workflow_next` moves to the next task; the session stays on the
    /// phase. `passed` says whether the task is done.
    fn check_task(
        &self,
        Current {
            session,
            workflow,
            pinned,
            setup,
        }: Current,
        task_id: &str,
        request: &ValidateRequest,
        hooks: &Hooks,
    ) -> Result<Validation> {
        let (id, evidence, dry_run) = (
            request.session.as_str(),
            request.evidence.as_ref(),
            request.dry_run,
        );
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
                        setup: setup.as_ref(),
                    },
                )?;
                let how = TaskProof::Rule {
                    rule: report.summary.clone(),
                };
                (report.passed, how, Some(report))
            }
            Some(DoneWhen::Evidence { evidence: field }) => (
                DoneWhen::set_in(field, evidence),
                TaskProof::Evidence {
                    evidence: field.clone(),
                },
                None,
            ),
            None => (true, TaskProof::agents_word(), None),
        };
        let session = if done && !dry_run {
            self.store
                .update(id, |s, wf| {
                    let events = s.apply(
                        Command::TaskDone {
                            at,
                            task: task_id.to_owned(),
                            how: how.clone(),
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
        let found = Found {
            passed: done,
            report,
            ..Found::default()
        };
        Ok(self.answer(session, &workflow, found, Some(note)))
    }

    /// What passing `phase` records for later phases: the files frozen
    /// since it (when a later checkpoint freezes any) and its artifacts.
    pub(super) fn recorded_files(&self, workflow: &Workflow, phase: &str) -> RecordedFiles {
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
    pub(super) fn check_evidence_size(&self, evidence: Option<&Value>) -> Result<()> {
        let size = evidence.map_or(0, |e| e.to_string().len());
        if size > self.max_evidence {
            return Err(Error::BadRequest(format!(
                "evidence is {size} bytes, over the limit of {} bytes; send a summary and let the rules read the files",
                self.max_evidence
            )));
        }
        Ok(())
    }

    /// Runs the checkpoint of the phase `session` stands at and records the
    /// result (unless `dry_run`), with the id of the check that ran apart
    /// from its request when there is one.
    pub(super) fn check_and_record(
        &self,
        Current {
            session,
            workflow,
            pinned,
            setup,
        }: Current,
        evidence: Option<&Value>,
        dry_run: bool,
        hooks: &Hooks,
        check: Option<&str>,
    ) -> Result<Validation> {
        let (workflow, pinned) = (&workflow, &pinned);
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
                setup: setup.as_ref(),
            },
        )?;
        let recorded = self.recorded_files(workflow, &phase_id);
        if report.passed && recorded.0 != recorded_before.0 {
            let as_tree =
                |map: Option<&Map<String, Value>>| -> std::collections::BTreeMap<String, Value> {
                    map.cloned().unwrap_or_default().into_iter().collect()
                };
            let changed = frozen::changed_paths(
                &as_tree(recorded_before.0.as_ref()),
                &as_tree(recorded.0.as_ref()),
            );
            report.fail_with(crate::engine::guards::changed_during_check(&changed));
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
            let found = Found {
                passed: report.passed,
                report: Some(report),
                ..Found::default()
            };
            return Ok(self.answer(session, workflow, found, Some(note)));
        }
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
        // What a passed checkpoint saw, for an attestation to bind to a
        // commit (taken after the rules ran, as the files they left).
        let tree = report
            .passed
            .then(|| crate::attest::tree::working_tree(self.workspace.root()))
            .flatten();
        let (session, advanced) = self.store.update(id, |s, wf| {
            let before = s.cursor();
            // A validation that read the last phase while another completed
            // the session finds it completed: that is not its advance.
            let was_completed = s.status == Status::Completed;
            let events = s.apply(
                Command::Validated {
                    at,
                    checked: Box::new(Checked {
                        phase: report.phase.clone(),
                        passed: report.passed,
                        report: report.clone(),
                        evidence: evidence.cloned().unwrap_or(Value::Null),
                        facts: facts.clone(),
                        snapshot: snapshot.clone(),
                        approval: report.approval_required.is_some(),
                        artifacts: artifacts.clone(),
                        check: check.map(str::to_owned),
                        tree: tree.clone(),
                    }),
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
        let found = Found {
            passed: report.passed,
            advanced,
            report: Some(report),
            check: None,
        };
        Ok(self.answer(session, workflow, found, note))
    }

    /// The answer to a validation that names a phase (and iteration) other
    /// than the current one: already passed, or refused.
    pub(super) fn not_current(
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
            Some((Outcome::Passed, _)) => {
                let found = Found {
                    passed: true,
                    ..Found::default()
                };
                let note = format!("{at} already passed; nothing was run again.");
                Ok(self.answer(session, workflow, found, Some(note)))
            }
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
}

pub(super) fn refuse_unless_active(session: &Session) -> Result<()> {
    let why = match session.status {
        Status::Active => return Ok(()),
        Status::Paused => {
            "is paused; resume it first with workflow_control action `resume`".to_owned()
        }
        Status::AwaitingApproval => format!(
            "waits for a human to approve phase `{}` (`checkrail session approve {}`); an agent cannot approve it",
            session.phase_id, session.id
        ),
        Status::Escalated => format!(
            "was escalated at phase `{}` and waits for a human (`checkrail session reject {}` sends it back to work)",
            session.phase_id, session.id
        ),
        Status::Completed => "is completed; there is nothing left to validate".to_owned(),
        Status::Abandoned => "was abandoned; start a new session".to_owned(),
    };
    Err(Error::Refused(format!("session `{}` {why}", session.id)))
}
