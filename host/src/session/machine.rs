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

use serde_json::{Map, Value, json};

use super::model::{
    CheckResult, Control, EventKind, LoopRun, NewEvent, Outcome, RunningCheck, Session, Status,
    Step,
};
use crate::workflow::{Group, Workflow, condition};
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
    pub report: Value,
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
        checked: Checked,
    },
    /// A human decided on the gate the session waits on.
    Decide {
        /// Approve (advance) or reject (back to work on the phase).
        approve: bool,
        /// Who, through which channel, and their note.
        record: Value,
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
        how: Value,
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
    /// A human accepted changed judging files.
    AcceptJudging {
        /// The new reference snapshot.
        judging: Map<String, Value>,
        /// The change list, who and through which channel.
        record: Value,
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
                self.validated(workflow, at, checked, &mut events)?
            }
            Command::Decide { approve, record } => {
                if self.status != Status::AwaitingApproval {
                    return Err(Error::Refused(format!(
                        "session `{}` is {}, not waiting for approval",
                        self.id, self.status
                    )));
                }
                self.status = Status::Active;
                let phase = Some(self.phase_id.clone());
                if approve {
                    events.push(NewEvent::new(EventKind::Approved, phase.as_deref(), record));
                    self.advance(workflow, &mut events)?;
                } else {
                    events.push(NewEvent::new(EventKind::Rejected, phase.as_deref(), record));
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
                    EventKind::TaskDone,
                    Some(&phase),
                    json!({ "task": task, "iteration": self.iteration, "how": how }),
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
                    EventKind::CheckErrored,
                    Some(&running.phase),
                    json!({ "check": check, "iteration": running.iteration, "error": error }),
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
            Command::AcceptJudging { judging, record } => {
                self.judging = judging;
                let phase = self.phase_id.clone();
                events.push(NewEvent::new(
                    EventKind::JudgingChangesAccepted,
                    Some(&phase),
                    record,
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
        let mut data = json!({
            "check": check.id,
            "iteration": check.iteration,
            "owner": check.owner,
            "started_at": check.started_at,
            "deadline": check.deadline,
        });
        if let Some(before) = &self.running_check {
            data["replaces"] = json!(before.id);
        }
        events.push(NewEvent::new(
            EventKind::CheckStarted,
            Some(&check.phase),
            data,
        ));
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
        let kind = if checked.passed {
            EventKind::Validated
        } else {
            EventKind::ValidationFailed
        };
        let mut report = checked.report;
        if let Some(id) = &checked.check {
            match &mut report {
                Value::Object(map) => {
                    map.insert("check".to_owned(), json!(id));
                }
                other => *other = json!({ "check": id }),
            }
            if self.running_check.as_ref().is_some_and(|r| &r.id == id) {
                self.running_check = None;
            }
            self.last_check = Some(CheckResult {
                id: id.clone(),
                phase: checked.phase.clone(),
                iteration: at.iteration,
                passed: checked.passed,
                summary: report["summary"].as_str().unwrap_or_default().to_owned(),
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
        events.push(NewEvent::new(kind, Some(&checked.phase), report));
        // Someone else moved the session while the rules ran: record the
        // result, apply nothing.
        if at != self.cursor() || self.status != Status::Active {
            events.push(NewEvent::new(
                EventKind::StaleValidationIgnored,
                Some(&checked.phase),
                Value::Null,
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
                EventKind::ApprovalRequested,
                Some(&checked.phase),
                Value::Null,
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

    /// Where to go after phase `index` ends without a branch: the next
    /// phase, or at the end of a loop group its next iteration or the
    /// phase after it.
    fn after(&mut self, workflow: &Workflow, index: usize, events: &mut Vec<NewEvent>) -> Next {
        let Some(group) = workflow
            .group_of(index)
            .filter(|g| index + 1 == g.end)
            .cloned()
        else {
            return Next::At(index + 1);
        };
        let iteration = self.iteration.unwrap_or(1);
        let count = self
            .loops
            .get(&group.id)
            .and_then(|l| l.items.as_ref())
            .map(|items| items.len() as u32);
        match count {
            Some(count) if iteration < count => {
                self.next_iteration(
                    &group,
                    &format!("item {} of {count}", iteration + 1),
                    events,
                );
                Next::Again(group.start)
            }
            _ => {
                self.iteration = None;
                Next::At(group.end)
            }
        }
    }

    fn next_iteration(&mut self, group: &Group, reason: &str, events: &mut Vec<NewEvent>) {
        let run = self.loops.entry(group.id.clone()).or_insert(LoopRun {
            iteration: 0,
            items: None,
        });
        run.iteration += 1;
        let iteration = run.iteration;
        let item = run
            .items
            .as_ref()
            .and_then(|items| items.get(iteration as usize - 1).cloned());
        self.iteration = Some(iteration);
        events.push(NewEvent::new(
            EventKind::IterationStarted,
            Some(&group.id),
            json!({
                "group": group.id,
                "iteration": iteration,
                "of": run.items.as_ref().map_or(group.max(), |i| i.len() as u32),
                "item": item,
                "reason": reason,
            }),
        ));
    }

    /// Records the phases from `start` up to (not including) `end` as
    /// skipped, a whole group as one step.
    fn skip_range(
        &mut self,
        workflow: &Workflow,
        start: usize,
        end: usize,
        reason: &str,
        events: &mut Vec<NewEvent>,
    ) {
        let mut i = start;
        while i < end {
            // Branches never cross into a group, so a group starting here
            // is skipped whole.
            let (id, iteration, next) = match workflow.groups.iter().find(|g| g.start == i) {
                Some(g) => (g.id.clone(), None, g.end),
                None => (workflow.phases[i].id.clone(), self.iteration, i + 1),
            };
            self.skip(&id, iteration, reason, events);
            i = next;
        }
    }

    fn skip(&mut self, id: &str, iteration: Option<u32>, reason: &str, events: &mut Vec<NewEvent>) {
        self.path.push(Step {
            phase: id.to_owned(),
            iteration,
            outcome: Outcome::Skipped,
            reason: Some(reason.to_owned()),
        });
        events.push(NewEvent::new(
            EventKind::Skipped,
            Some(id),
            json!({ "reason": reason, "iteration": iteration }),
        ));
    }

    /// Moves to `next`, skipping phases and groups whose conditions are
    /// false and entering loop groups, until it stands at a phase to work
    /// on or the workflow is complete.
    fn go(
        &mut self,
        workflow: &Workflow,
        mut next: Next,
        events: &mut Vec<NewEvent>,
    ) -> Result<()> {
        loop {
            let (index, entering) = match next {
                Next::At(i) => (i, true),
                Next::Again(i) => (i, false),
            };
            if index >= workflow.phases.len() {
                self.phase_index = workflow.phases.len().saturating_sub(1);
                self.iteration = None;
                self.status = Status::Completed;
                return Ok(());
            }
            if entering
                && let Some(group) = workflow.groups.iter().find(|g| g.start == index).cloned()
            {
                match self.enter(workflow, &group, events)? {
                    true => {}
                    false => {
                        next = Next::At(group.end);
                        continue;
                    }
                }
            }
            let group = workflow.group_of(index).cloned();
            if group.is_none() {
                self.iteration = None;
            }
            self.phase_index = index;
            let phase = &workflow.phases[index];
            if let Some(when) = &phase.when {
                let scope = self.scope(workflow, index, false);
                let holds = condition::holds(when, &scope).map_err(|e| {
                    Error::Refused(format!(
                        "the condition of phase `{}` cannot be decided: {e}; nothing was recorded; if it reads evidence that can be absent, guard it with `has(...)` in the workflow, or roll back to the phase whose evidence it reads and submit that field (while a gate waits: `workflow_control retry`, then validate again)",
                        phase.id
                    ))
                })?;
                if !holds {
                    let reason = format!("condition `{when}` is false");
                    self.skip(&phase.id, self.iteration, &reason, events);
                    next = self.after(workflow, index, events);
                    continue;
                }
            }
            self.status = Status::Active;
            self.attempts = 0;
            return Ok(());
        }
    }

    /// Enters a loop group: false when it is skipped (condition false, or
    /// an empty list).
    fn enter(
        &mut self,
        workflow: &Workflow,
        group: &Group,
        events: &mut Vec<NewEvent>,
    ) -> Result<bool> {
        let scope = self.scope(workflow, group.start, false);
        let refuse = |what: &str, e: String| {
            Error::Refused(format!(
                "the {what} of group `{}` cannot be evaluated: {e}; nothing was recorded",
                group.id
            ))
        };
        if let Some(when) = &group.when
            && !condition::holds(when, &scope).map_err(|e| refuse("condition", e))?
        {
            self.skip(
                &group.id,
                None,
                &format!("condition `{when}` is false"),
                events,
            );
            return Ok(false);
        }
        let items = match &group.foreach {
            Some(foreach) => {
                let items = condition::items(foreach, &scope).map_err(|e| refuse("list", e))?;
                if items.len() as u32 > group.max() {
                    return Err(Error::Refused(format!(
                        "group `{}` loops over `{foreach}`, which has {} items, more than its max_iterations ({}); submit at most {} (split the work differently), or raise `max_iterations` in the workflow; nothing was recorded",
                        group.id,
                        items.len(),
                        group.max(),
                        group.max()
                    )));
                }
                if items.is_empty() {
                    self.skip(
                        &group.id,
                        None,
                        &format!("`{foreach}` yields no items"),
                        events,
                    );
                    return Ok(false);
                }
                Some(items)
            }
            None => None,
        };
        let count = items.as_ref().map_or(0, Vec::len);
        self.loops.insert(
            group.id.clone(),
            LoopRun {
                iteration: 0,
                items,
            },
        );
        let reason = if count > 0 {
            format!("item 1 of {count}")
        } else {
            "first run".to_owned()
        };
        self.next_iteration(group, &reason, events);
        Ok(true)
    }

    /// `advanced` (or `completed`) after a move from phase `from`.
    fn moved(&self, workflow: &Workflow, from: &str, events: &mut Vec<NewEvent>) {
        if self.status == Status::Completed {
            events.push(NewEvent::new(EventKind::Completed, Some(from), Value::Null));
            return;
        }
        let to = workflow.phases[self.phase_index].id.clone();
        let mut data = json!({ "from": from, "to": to });
        if let Some(n) = self.iteration {
            data["iteration"] = json!(n);
        }
        events.push(NewEvent::new(EventKind::Advanced, Some(&to), data));
    }

    fn control(
        &mut self,
        workflow: &Workflow,
        action: Control,
        to_phase: Option<&str>,
        iteration: Option<u32>,
        events: &mut Vec<NewEvent>,
    ) -> Result<()> {
        let phase = Some(self.phase_id.clone());
        let refuse = |status: Status, what: &str| {
            Err(Error::Refused(format!(
                "cannot {what} a session that is {status}"
            )))
        };
        match action {
            Control::Pause => match self.status {
                Status::Active | Status::AwaitingApproval => {
                    self.paused_from = Some(self.status);
                    self.status = Status::Paused;
                    events.push(NewEvent::new(
                        EventKind::Paused,
                        phase.as_deref(),
                        Value::Null,
                    ));
                }
                status => return refuse(status, "pause"),
            },
            Control::Resume => match self.status {
                Status::Paused => {
                    self.status = self.paused_from.take().unwrap_or(Status::Active);
                    events.push(NewEvent::new(
                        EventKind::Resumed,
                        phase.as_deref(),
                        Value::Null,
                    ));
                }
                status => return refuse(status, "resume"),
            },
            Control::Retry => match self.status {
                Status::Active | Status::AwaitingApproval => {
                    let data =
                        json!({ "cleared_attempts": self.attempts, "iteration": self.iteration });
                    self.attempts = 0;
                    self.status = Status::Active;
                    events.push(NewEvent::new(EventKind::Retried, phase.as_deref(), data));
                }
                status => return refuse(status, "retry the phase of"),
            },
            Control::Rollback => {
                if self.status == Status::Abandoned {
                    return refuse(self.status, "roll back");
                }
                let Some(target) = to_phase else {
                    return Err(Error::BadRequest(
                        "rollback needs `to_phase`: the id of an earlier phase".to_owned(),
                    ));
                };
                self.rollback(workflow, target, iteration, events)?;
            }
            Control::Delete => {
                return Err(Error::BadRequest(
                    "delete removes a session rather than changing it; use the store's delete"
                        .to_owned(),
                ));
            }
            Control::Abandon => {
                if self.status.is_final() {
                    return refuse(self.status, "abandon");
                }
                self.status = Status::Abandoned;
                events.push(NewEvent::new(
                    EventKind::Abandoned,
                    phase.as_deref(),
                    Value::Null,
                ));
            }
        }
        Ok(())
    }

    fn rollback(
        &mut self,
        workflow: &Workflow,
        target: &str,
        iteration: Option<u32>,
        events: &mut Vec<NewEvent>,
    ) -> Result<()> {
        let Some(index) = workflow.index_of(target) else {
            return Err(Error::UnknownPhase {
                workflow: workflow.id.clone(),
                phase: target.to_owned(),
                known: workflow.phase_ids(),
            });
        };
        let group = workflow.group_of(index);
        let iteration = match (group, iteration) {
            (None, Some(_)) => {
                return Err(Error::BadRequest(format!(
                    "phase `{target}` is not in a loop group; roll back to it without `iteration`"
                )));
            }
            (None, None) => None,
            (Some(_), Some(n)) => Some(n),
            (Some(g), None) => {
                let here = workflow
                    .group_of(self.phase_index)
                    .filter(|_| self.status != Status::Completed);
                match here {
                    Some(h) if h.id == g.id => self.iteration,
                    _ => self.loops.get(&g.id).map(|l| l.iteration),
                }
            }
        };
        let Some(position) = self.path.iter().position(|s| {
            s.phase == target && s.iteration == iteration && s.outcome == Outcome::Passed
        }) else {
            let at = match iteration {
                Some(n) => format!("`{target}` (iteration {n})"),
                None => format!("`{target}`"),
            };
            let skipped = self.path.iter().find(|s| {
                s.phase == target && s.iteration == iteration && s.outcome == Outcome::Skipped
            });
            return Err(Error::Refused(match skipped {
                Some(step) => format!(
                    "cannot roll back to {at}: it was skipped ({}); roll back to a phase that passed",
                    step.reason.as_deref().unwrap_or("skipped")
                ),
                None => format!(
                    "can only roll back to an earlier phase that passed; {at} is not before `{}` on the session's path",
                    self.phase_id
                ),
            }));
        };
        let from = self.current_key();
        self.path.truncate(position);
        // Forget the records of every occurrence no longer on the path.
        let kept: std::collections::BTreeSet<String> = self
            .path
            .iter()
            .filter(|s| s.outcome == Outcome::Passed)
            .map(|s| occurrence(&s.phase, s.iteration))
            .collect();
        self.evidence.retain(|k, _| kept.contains(k));
        self.facts.retain(|k, _| kept.contains(k));
        self.snapshots.retain(|k, _| kept.contains(k));
        self.artifacts.retain(|k, _| kept.contains(k));
        self.tasks_done
            .retain(|k, _| kept.contains(k) || *k == occurrence(target, iteration));
        // Loops entered after the target are forgotten; the target's loop
        // stands at its iteration.
        let entered: std::collections::BTreeSet<String> = self
            .path
            .iter()
            .filter_map(|s| {
                workflow
                    .index_of(&s.phase)
                    .and_then(|i| workflow.group_of(i))
            })
            .map(|g| g.id.clone())
            .collect();
        self.loops
            .retain(|id, _| entered.contains(id) || group.is_some_and(|g| &g.id == id));
        if let (Some(g), Some(n)) = (group, iteration)
            && let Some(run) = self.loops.get_mut(&g.id)
        {
            run.iteration = n;
        }
        self.phase_index = index;
        self.iteration = iteration;
        self.status = Status::Active;
        self.paused_from = None;
        self.attempts = 0;
        events.push(NewEvent::new(
            EventKind::RolledBack,
            Some(target),
            json!({ "from": from, "to": target, "iteration": iteration }),
        ));
        Ok(())
    }

    /// The item of the current iteration of the loop group phase `index`
    /// belongs to.
    pub fn item(&self, workflow: &Workflow, index: usize) -> Option<&Value> {
        let group = workflow.group_of(index)?;
        let run = self.loops.get(&group.id)?;
        run.items.as_ref()?.get(self.iteration? as usize - 1)
    }

    /// Evidence as phase `index` sees it: by phase id for phases outside
    /// loops and for the phases of its own loop in the current iteration;
    /// a loop group's id holds one object per iteration (phase id →
    /// evidence).
    pub fn evidence_view(&self, workflow: &Workflow, index: usize) -> Map<String, Value> {
        let own = workflow.group_of(index).map(|g| g.id.clone());
        let mut view = Map::new();
        for (key, value) in &self.evidence {
            let (phase, n) = parse_occurrence(key);
            let group = workflow.index_of(phase).and_then(|j| workflow.group_of(j));
            match (group, n) {
                (None, _) => {
                    view.insert(key.clone(), value.clone());
                }
                (Some(g), Some(n)) => {
                    if own.as_deref() == Some(g.id.as_str()) && Some(n) == self.iteration {
                        view.insert(phase.to_owned(), value.clone());
                    }
                }
                (Some(_), None) => {}
            }
        }
        for (id, run) in &self.loops {
            let Some(group) = workflow.group(id) else {
                continue;
            };
            let iterations: Vec<Value> = (1..=run.iteration)
                .map(|n| {
                    Value::Object(
                        workflow.phases[group.range()]
                            .iter()
                            .filter_map(|p| {
                                let value = self.evidence.get(&occurrence(&p.id, Some(n)))?;
                                Some((p.id.clone(), value.clone()))
                            })
                            .collect(),
                    )
                })
                .collect();
            view.insert(id.clone(), Value::Array(iterations));
        }
        view
    }

    /// What expressions at phase `index` read; `own` includes the phase's
    /// own evidence (for its `next` branches).
    pub fn scope(&self, workflow: &Workflow, index: usize, own: bool) -> Map<String, Value> {
        let mut evidence = self.evidence_view(workflow, index);
        if !own && let Some(phase) = workflow.phases.get(index) {
            evidence.remove(&phase.id);
        }
        let mut scope = Map::new();
        scope.insert("inputs".to_owned(), Value::Object(self.inputs.clone()));
        scope.insert("evidence".to_owned(), Value::Object(evidence));
        if workflow.group_of(index).is_some() {
            if let Some(item) = self.item(workflow, index) {
                scope.insert("item".to_owned(), item.clone());
            }
            scope.insert("iteration".to_owned(), json!(self.iteration.unwrap_or(1)));
        }
        scope
    }

    /// Facts the rules of phase `index` compare against: those recorded at
    /// phases before it in the workflow, by phase id (inside its loop, the
    /// current iteration's; of other loops, their last iteration's).
    pub fn baselines_view(&self, workflow: &Workflow, index: usize) -> Map<String, Value> {
        self.records_view(&self.facts, workflow, index)
            .into_iter()
            .filter(|(phase, _)| workflow.index_of(phase).is_some_and(|j| j < index))
            .collect()
    }

    /// The artifacts recorded when phase `since` passed, as phase `index`
    /// sees them.
    pub fn artifacts_view(&self, workflow: &Workflow, index: usize, since: &str) -> Option<&Value> {
        self.artifacts
            .get(&self.occurrence_seen(workflow, index, since)?)
    }

    /// The frozen-file snapshot recorded when phase `since` passed, as
    /// phase `index` sees it.
    pub fn snapshot_view(&self, workflow: &Workflow, index: usize, since: &str) -> Option<&Value> {
        self.snapshots
            .get(&self.occurrence_seen(workflow, index, since)?)
    }

    /// The occurrence of phase `since` that phase `index` refers to: inside
    /// its own loop, the current iteration's; in another loop, that loop's
    /// last iteration's.
    fn occurrence_seen(&self, workflow: &Workflow, index: usize, since: &str) -> Option<String> {
        let j = workflow.index_of(since)?;
        Some(match workflow.group_of(j) {
            None => since.to_owned(),
            Some(g) if workflow.group_of(index).is_some_and(|h| h.id == g.id) => {
                occurrence(since, self.iteration)
            }
            Some(g) => occurrence(since, self.loops.get(&g.id).map(|l| l.iteration)),
        })
    }

    fn records_view(
        &self,
        records: &Map<String, Value>,
        workflow: &Workflow,
        index: usize,
    ) -> Map<String, Value> {
        let own = workflow.group_of(index).map(|g| g.id.clone());
        records
            .iter()
            .filter_map(|(key, value)| {
                let (phase, n) = parse_occurrence(key);
                let group = workflow.index_of(phase).and_then(|j| workflow.group_of(j));
                let wanted = match group {
                    None => true,
                    Some(g) if own.as_deref() == Some(g.id.as_str()) => n == self.iteration,
                    Some(g) => n == self.loops.get(&g.id).map(|l| l.iteration),
                };
                wanted.then(|| (phase.to_owned(), value.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
