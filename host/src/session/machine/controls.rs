//! What the agent or a human asks of a session besides validating it:
//! pause, resume, retry, rollback and abandon.

use super::super::event::{EventData, Moved, NewEvent, Retried};
use super::super::model::{Control, Outcome, Session, Status};
use super::occurrence;
use crate::workflow::Workflow;
use crate::{Error, Result};

impl Session {
    pub(super) fn control(
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
                    events.push(NewEvent::new(phase.as_deref(), EventData::Paused));
                }
                status => return refuse(status, "pause"),
            },
            Control::Resume => match self.status {
                Status::Paused => {
                    self.status = self.paused_from.take().unwrap_or(Status::Active);
                    events.push(NewEvent::new(phase.as_deref(), EventData::Resumed));
                }
                status => return refuse(status, "resume"),
            },
            Control::Retry => match self.status {
                Status::Active | Status::AwaitingApproval => {
                    let retried = Retried {
                        cleared_attempts: self.attempts,
                        iteration: self.iteration,
                    };
                    self.attempts = 0;
                    self.status = Status::Active;
                    events.push(NewEvent::new(phase.as_deref(), EventData::Retried(retried)));
                }
                status => return refuse(status, "retry the phase of"),
            },
            Control::Rollback => {
                if matches!(self.status, Status::Abandoned | Status::Escalated) {
                    return refuse(self.status, "roll back");
                }
                let Some(target) = to_phase else {
                    return Err(Error::BadRequest(
                        "rollback needs `to_phase`: the id of an earlier phase".to_owned(),
                    ));
                };
                self.rollback(workflow, target, iteration, events)?;
            }
            Control::Escalate => {
                return Err(Error::BadRequest(
                    "escalate needs `reason`: say why the phase cannot be done without changing what judges it".to_owned(),
                ));
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
                events.push(NewEvent::new(phase.as_deref(), EventData::Abandoned));
            }
        }
        Ok(())
    }

    pub(super) fn rollback(
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
        let moved = Moved {
            from: from.to_owned(),
            to: target.to_owned(),
            iteration,
        };
        events.push(NewEvent::new(Some(target), EventData::RolledBack(moved)));
        Ok(())
    }
}
