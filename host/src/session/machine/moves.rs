//! How a session moves through its workflow: past phases whose conditions
//! are false, into and around loop groups, along branches, and what each
//! move records.

use super::super::event::{EventData, IterationStarted, Moved, NewEvent, Skipped};
use super::super::model::{LoopRun, Outcome, Session, Status, Step};
use super::Next;
use crate::workflow::{Group, Workflow, condition};
use crate::{Error, Result};

impl Session {
    /// Where to go after phase `index` ends without a branch: the next
    /// phase, or at the end of a loop group its next iteration or the
    /// phase after it.
    pub(super) fn after(
        &mut self,
        workflow: &Workflow,
        index: usize,
        events: &mut Vec<NewEvent>,
    ) -> Next {
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

    pub(super) fn next_iteration(
        &mut self,
        group: &Group,
        reason: &str,
        events: &mut Vec<NewEvent>,
    ) {
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
        let started = IterationStarted {
            group: group.id.clone(),
            iteration,
            of: run.items.as_ref().map_or(group.max(), |i| i.len() as u32),
            item,
            reason: reason.to_owned(),
        };
        events.push(NewEvent::new(
            Some(&group.id),
            EventData::IterationStarted(started),
        ));
    }

    /// Records the phases from `start` up to (not including) `end` as
    /// skipped, a whole group as one step.
    pub(super) fn skip_range(
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

    pub(super) fn skip(
        &mut self,
        id: &str,
        iteration: Option<u32>,
        reason: &str,
        events: &mut Vec<NewEvent>,
    ) {
        self.path.push(Step {
            phase: id.to_owned(),
            iteration,
            outcome: Outcome::Skipped,
            reason: Some(reason.to_owned()),
        });
        let skipped = Skipped {
            reason: reason.to_owned(),
            iteration,
        };
        events.push(NewEvent::new(Some(id), EventData::Skipped(skipped)));
    }

    /// Moves to `next`, skipping phases and groups whose conditions are
    /// false and entering loop groups, until it stands at a phase to work
    /// on or the workflow is complete.
    pub(super) fn go(
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
    pub(super) fn enter(
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
    pub(super) fn moved(&self, workflow: &Workflow, from: &str, events: &mut Vec<NewEvent>) {
        if self.status == Status::Completed {
            events.push(NewEvent::new(Some(from), EventData::Completed));
            return;
        }
        let to = workflow.phases[self.phase_index].id.clone();
        let moved = Moved {
            from: from.to_owned(),
            to: to.clone(),
            iteration: self.iteration,
        };
        events.push(NewEvent::new(Some(&to), EventData::Advanced(moved)));
    }
}
