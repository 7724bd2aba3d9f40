//! Validating a checkpoint or a task for a session.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::Hooks;
use crate::frozen;
use crate::report::CheckpointReport;
use crate::session::{Checked, Command, Outcome, Pinned, Session, Status, Transition};
use crate::workflow::Workflow;
use crate::workflow::{Checkpoint, DoneWhen};
use crate::{Error, Result};

use super::{CheckView, PhaseRun, Service, Standing, to_map};

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

/// Frozen-file snapshot and artifacts a phase records when it passes.
type RecordedFiles = (Option<Map<String, Value>>, Option<Map<String, Value>>);

impl Service {
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
    pub(super) fn check_and_record(
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
        Status::Completed => "is completed; there is nothing left to validate".to_owned(),
        Status::Abandoned => "was abandoned; start a new session".to_owned(),
    };
    Err(Error::Refused(format!("session `{}` {why}", session.id)))
}
