//! The session state machine: every change to a session is a [`Command`]
//! applied to its state and pinned workflow by [`Session::apply`], which
//! either refuses it or changes the state and says what happened as
//! events. It touches no database, file or rule; the store persists what
//! it decides, the service runs the rules and takes file snapshots before
//! asking it.
//!
//! Where a session is: `phase_index` plus, inside a loop group,
//! `iteration`. Everything recorded per phase (evidence, facts, frozen
//! snapshots) is kept under the phase's occurrence key: the phase id, or
//! `<phase>#<iteration>` inside a loop, so each iteration has its own
//! records and a rollback forgets exactly the occurrences it returns over.

use serde_json::{Map, Value};

use super::event::{
    Accepted, CheckErrored, CheckStarted, Escalation, EventData, HumanDecision, NewEvent, TaskDone,
    TaskProof, Verdict,
};
use super::model::{CheckResult, Control, Outcome, RunningCheck, Session, Status, Step};
use crate::report::CheckpointReport;
use crate::workflow::{Workflow, condition};
use crate::{Error, Result};

/// A position in a workflow: a phase and, inside a loop, its iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Index of the phase.
    pub phase_index: usize,
    /// 1-based iteration of its loop group.
    pub iteration: Option<u32>,
}

/// The result of a checkpoint run, as the machine needs it.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Id of the phase that was checked.
    pub phase: String,
    /// Whether it passed.
    pub passed: bool,
    /// The report, recorded with the event.
    pub report: CheckpointReport,
    /// The evidence submitted.
    pub evidence: Value,
    /// Facts rules returned: rule id → facts.
    pub facts: Map<String, Value>,
    /// Files frozen since this phase, as they are now: path → sha256
    /// (`None` when no later checkpoint freezes files since it).
    pub snapshot: Option<Map<String, Value>>,
    /// Whether its checkpoint has a human gate.
    pub approval: bool,
    /// The files its checkpoint's `artifacts` matched: path →
    /// `{size, sha256}` (`None` when it declares none).
    pub artifacts: Option<Map<String, Value>>,
    /// The id of the check that ran apart from its request (`None` for a
    /// validation answered in the request).
    pub check: Option<String>,
    /// The git id of the working tree it passed on, when the workspace is
    /// a git repository (recorded with the `validated` event).
    pub tree: Option<String>,
}

/// What can happen to a session.
#[derive(Debug, Clone)]
pub enum Command<'a> {
    /// Just started: move past phases whose conditions are false, enter a
    /// loop at the start.
    Begin,
    /// A checkpoint ran while the session stood at `at`.
    Validated {
        /// Where the session stood when the rules started.
        at: Cursor,
        /// The result.
        checked: Box<Checked>,
    },
    /// A human decided on the gate the session waits on.
    Decide {
        /// Approve (advance) or reject (back to work on the phase).
        approve: bool,
        /// Who, through which channel, and their note.
        record: HumanDecision,
    },
    /// Pause, resume, retry, rollback or abandon.
    Control {
        /// What to do.
        action: Control,
        /// For rollback: the phase to go back to.
        to_phase: Option<&'a str>,
        /// For rollback into a loop: its iteration (default: the current
        /// one when in that loop, else the last).
        iteration: Option<u32>,
    },
    /// A task of the phase the session stood at (`at`) is done.
    TaskDone {
        /// Where the session stood when the task was checked.
        at: Cursor,
        /// The task's id.
        task: String,
        /// How it was known: the rule's summary, the evidence field, or the
        /// agent's word.
        how: TaskProof,
    },
    /// A check of the phase the session stands at (`at`) begins apart from
    /// the request that asked for it.
    StartCheck {
        /// Where the session stood when it was asked for.
        at: Cursor,
        /// The check as recorded.
        check: RunningCheck,
    },
    /// A check that began with [`Command::StartCheck`] could not run: no
    /// report, only why.
    CheckErrored {
        /// The check's id.
        check: String,
        /// What went wrong.
        error: String,
    },
    /// The agent asks a human to decide: the session waits until a human
    /// rejects, accepts a change of what judges it, or abandons.
    Escalate(Escalation),
    /// A human accepted changed judging files.
    AcceptJudging {
        /// The new reference snapshot.
        judging: Map<String, Value>,
        /// The change list, who and through which channel.
        record: Accepted,
    },
}

/// The key a phase's records are kept under: its id, or `<id>#<n>` for
/// iteration `n` of its loop group.
pub fn occurrence(phase: &str, iteration: Option<u32>) -> String {
    match iteration {
        Some(n) => format!("{phase}#{n}"),
        None => phase.to_owned(),
    }
}

/// The phase id and iteration of an occurrence key.
fn parse_occurrence(key: &str) -> (&str, Option<u32>) {
    match key.rsplit_once('#') {
        Some((phase, n)) => match n.parse() {
            Ok(n) => (phase, Some(n)),
            Err(_) => (key, None),
        },
        None => (key, None),
    }
}

/// Where [`Session::go`] is to continue after a phase ends.
enum Next {
    /// At this phase, entering its group when it starts one.
    At(usize),
    /// At the first phase of the group again, in a new iteration.
    Again(usize),
}

impl Session {
    /// Where the session stands.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            phase_index: self.phase_index,
            iteration: self.iteration,
        }
    }

    /// The occurrence key of the current phase.
    pub fn current_key(&self) -> String {
        occurrence(&self.phase_id, self.iteration)
    }

    /// Applies a command: on success the session is in its new state and
    /// the events say what happened, in order; on refusal the error says
    /// why (and the caller discards the session).
    pub fn apply(&mut self, command: Command<'_>, workflow: &Workflow) -> Result<Vec<NewEvent>> {
        self.fill_legacy_path(workflow);
        let mut events = Vec::new();
        match command {
            Command::Begin => {
                self.status = Status::Active;
                self.go(workflow, Next::At(0), &mut events)?;
            }
            Command::Validated { at, checked } => {
                self.validated(workflow, at, *checked, &mut events)?
            }
            Command::Decide { approve, record } => {
                match (self.status, approve) {
                    (Status::AwaitingApproval, _) | (Status::Escalated, false) => {}
                    (Status::Escalated, true) => {
                        return Err(Error::Refused(format!(
                            "session `{}` is escalated, not at a gate: there is nothing to approve. Reject it with a note to send the agent back to work, accept the change it needs (`checkrail session accept-changes {}`), or abandon it",
                            self.id, self.id
                        )));
                    }
                    (status, _) => {
                        return Err(Error::Refused(format!(
                            "session `{}` is {status}, not waiting for approval",
                            self.id
                        )));
                    }
                }
                self.status = Status::Active;
                let phase = Some(self.phase_id.clone());
                if approve {
                    events.push(NewEvent::new(phase.as_deref(), EventData::Approved(record)));
                    self.advance(workflow, &mut events)?;
                } else {
                    events.push(NewEvent::new(phase.as_deref(), EventData::Rejected(record)));
                }
            }
            Command::Control {
                action,
                to_phase,
                iteration,
            } => self.control(workflow, action, to_phase, iteration, &mut events)?,
            Command::TaskDone { at, task, how } => {
                if at != self.cursor() || self.status != Status::Active {
                    return Err(Error::Refused(format!(
                        "session `{}` moved on while task `{task}` was checked; nothing was recorded",
                        self.id
                    )));
                }
                let key = self.current_key();
                let done = self.tasks_done.entry(key).or_default();
                if !done.contains(&task) {
                    done.push(task.clone());
                }
                let phase = self.phase_id.clone();
                events.push(NewEvent::new(
                    Some(&phase),
                    EventData::TaskDone(TaskDone {
                        task,
                        iteration: self.iteration,
                        how,
                    }),
                ));
            }
            Command::StartCheck { at, check } => self.start_check(at, check, &mut events)?,
            Command::CheckErrored { check, error } => {
                let Some(running) = self.running_check.take_if(|r| r.id == check) else {
                    return Err(Error::Refused(format!(
                        "check `{check}` of session `{}` is not running; nothing was recorded",
                        self.id
                    )));
                };
                events.push(NewEvent::new(
                    Some(&running.phase),
                    EventData::CheckErrored(CheckErrored {
                        check,
                        iteration: running.iteration,
                        error: error.clone(),
                    }),
                ));
                self.last_check = Some(CheckResult {
                    id: running.id,
                    phase: running.phase,
                    iteration: running.iteration,
                    passed: false,
                    summary: error.clone(),
                    error: Some(error),
                });
            }
            Command::Escalate(escalation) => {
                if self.status != Status::Active {
                    return Err(Error::Refused(format!(
                        "cannot escalate session `{}`: it is {}",
                        self.id, self.status
                    )));
                }
                self.status = Status::Escalated;
                let phase = self.phase_id.clone();
                events.push(NewEvent::new(
                    Some(&phase),
                    EventData::Escalated(escalation),
                ));
            }
            Command::AcceptJudging { judging, record } => {
                self.judging = judging;
                // Accepting the change an escalation asked for sends the
                // agent back to work.
                if self.status == Status::Escalated {
                    self.status = Status::Active;
                }
                let phase = self.phase_id.clone();
                events.push(NewEvent::new(
                    Some(&phase),
                    EventData::JudgingChangesAccepted(record),
                ));
            }
        }
        self.phase_id = workflow
            .phases
            .get(self.phase_index)
            .map(|p| p.id.clone())
            .unwrap_or_else(|| self.phase_id.clone());
        Ok(events)
    }

    /// The path taken, including that of a session recorded before paths
    /// existed.
    pub fn path_taken(&self, workflow: &Workflow) -> Vec<Step> {
        let mut session = self.clone();
        session.fill_legacy_path(workflow);
        session.path
    }

    /// Sessions recorded before paths existed: their passed phases are the
    /// ones before the current one.
    fn fill_legacy_path(&mut self, workflow: &Workflow) {
        if !self.path.is_empty() || !workflow.groups.is_empty() {
            return;
        }
        let passed = if self.status == Status::Completed {
            workflow.phases.len()
        } else {
            self.phase_index
        };
        self.path = workflow.phases[..passed.min(workflow.phases.len())]
            .iter()
            .map(|p| Step {
                phase: p.id.clone(),
                iteration: None,
                outcome: Outcome::Passed,
                reason: None,
            })
            .collect();
    }

    /// Records a check that runs apart from its request. It replaces the
    /// one recorded before, if any: that one's result, should it still
    /// come, is recorded and applied as any other (the cursor guards
    /// against applying two passes).
    fn start_check(
        &mut self,
        at: Cursor,
        check: RunningCheck,
        events: &mut Vec<NewEvent>,
    ) -> Result<()> {
        if self.status != Status::Active {
            return Err(Error::Refused(format!(
                "cannot start a check of session `{}`: it is {}",
                self.id, self.status
            )));
        }
        if at != self.cursor() || check.phase != self.phase_id || check.iteration != self.iteration
        {
            return Err(Error::Refused(format!(
                "session `{}` moved on while check `{}` was being started; nothing was recorded",
                self.id, check.id
            )));
        }
        let data = EventData::CheckStarted(CheckStarted {
            check: check.id.clone(),
            iteration: check.iteration,
            owner: check.owner.clone(),
            started_at: check.started_at.clone(),
            deadline: check.deadline.clone(),
            replaces: self.running_check.as_ref().map(|before| before.id.clone()),
        });
        events.push(NewEvent::new(Some(&check.phase), data));
        self.running_check = Some(check);
        Ok(())
    }

    fn validated(
        &mut self,
        workflow: &Workflow,
        at: Cursor,
        checked: Checked,
        events: &mut Vec<NewEvent>,
    ) -> Result<()> {
        if let Some(id) = &checked.check {
            if self.running_check.as_ref().is_some_and(|r| &r.id == id) {
                self.running_check = None;
            }
            self.last_check = Some(CheckResult {
                id: id.clone(),
                phase: checked.phase.clone(),
                iteration: at.iteration,
                passed: checked.passed,
                summary: checked.report.summary.clone(),
                error: None,
            });
        } else if self
            .running_check
            .as_ref()
            .is_some_and(|r| r.phase == checked.phase && r.iteration == at.iteration)
        {
            // A result of the same phase answered in its request supersedes
            // the record of a check running apart (whose own result, should
            // it still come, is recorded as any other).
            self.running_check = None;
        }
        let verdict = Verdict {
            check: checked.check,
            tree: checked.tree,
            report: checked.report,
        };
        events.push(NewEvent::new(
            Some(&checked.phase),
            if checked.passed {
                EventData::Validated(verdict)
            } else {
                EventData::ValidationFailed(verdict)
            },
        ));
        // Someone else moved the session while the rules ran: record the
        // result, apply nothing.
        if at != self.cursor() || self.status != Status::Active {
            events.push(NewEvent::new(
                Some(&checked.phase),
                EventData::StaleValidationIgnored,
            ));
            return Ok(());
        }
        if !checked.passed {
            return self.failed(workflow, events);
        }
        let key = self.current_key();
        self.evidence.insert(key.clone(), checked.evidence);
        if !checked.facts.is_empty() {
            self.facts.insert(key.clone(), Value::Object(checked.facts));
        }
        if let Some(snapshot) = checked.snapshot {
            self.snapshots.insert(key.clone(), Value::Object(snapshot));
        }
        if let Some(artifacts) = checked.artifacts {
            self.artifacts.insert(key, Value::Object(artifacts));
        }
        if checked.approval {
            self.status = Status::AwaitingApproval;
            events.push(NewEvent::new(
                Some(&checked.phase),
                EventData::ApprovalRequested,
            ));
            return Ok(());
        }
        self.advance(workflow, events)
    }

    /// A failed validation: one more attempt, or, at the last phase of a
    /// `repeat` group with iterations left, the group again.
    fn failed(&mut self, workflow: &Workflow, events: &mut Vec<NewEvent>) -> Result<()> {
        let index = self.phase_index;
        let group = workflow
            .group_of(index)
            .filter(|g| g.repeat && index + 1 == g.end)
            .cloned();
        let iteration = self.iteration.unwrap_or(1);
        match group {
            Some(group) if iteration < group.max() => {
                let reason = format!(
                    "the last checkpoint of group `{}` failed in iteration {iteration}",
                    group.id
                );
                self.path.push(Step {
                    phase: self.phase_id.clone(),
                    iteration: self.iteration,
                    outcome: Outcome::Repeated,
                    reason: Some(reason.clone()),
                });
                let from = self.phase_id.clone();
                self.next_iteration(&group, &reason, events);
                self.go(workflow, Next::Again(group.start), events)?;
                self.moved(workflow, &from, events);
                Ok(())
            }
            _ => {
                self.attempts += 1;
                Ok(())
            }
        }
    }

    /// The current phase passed (and any gate was approved): record it on
    /// the path and move on, following the first branch whose condition
    /// holds.
    fn advance(&mut self, workflow: &Workflow, events: &mut Vec<NewEvent>) -> Result<()> {
        let index = self.phase_index;
        let from = self.phase_id.clone();
        let phase = &workflow.phases[index];
        let scope = self.scope(workflow, index, true);
        let mut target = None;
        for branch in &phase.next {
            let taken = match &branch.when {
                Some(when) => condition::holds(when, &scope).map_err(|e| {
                    Error::Refused(format!(
                        "phase `{from}` passed, but its branch to `{}` cannot be decided: {e}; nothing was recorded; if it reads evidence that can be absent, guard it with `has(...)` in the workflow, or roll back to the phase whose evidence it reads and submit that field (while a gate waits: `workflow_control retry`, then validate again)",
                        branch.goto
                    ))
                })?,
                None => true,
            };
            if taken {
                let to = workflow.target(index, &branch.goto).map_err(|e| {
                    Error::Refused(format!("the branch of phase `{from}` is broken: {e}"))
                })?;
                target = Some((to, branch.goto.clone()));
                break;
            }
        }
        self.path.push(Step {
            phase: from.clone(),
            iteration: self.iteration,
            outcome: Outcome::Passed,
            reason: None,
        });
        self.attempts = 0;
        let next = match target {
            Some((to, goto)) => {
                self.skip_range(
                    workflow,
                    index + 1,
                    to,
                    &format!("phase `{from}` branched to `{goto}`"),
                    events,
                );
                Next::At(to)
            }
            None => self.after(workflow, index, events),
        };
        self.go(workflow, next, events)?;
        self.moved(workflow, &from, events);
        Ok(())
    }
}

mod controls;
mod moves;
mod views;

#[cfg(test)]
mod tests;
