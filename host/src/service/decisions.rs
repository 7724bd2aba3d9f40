//! Human decisions on gates and judging changes, and the agent's own
//! session controls (pause, resume, retry, rollback, abandon).

use crate::config::ApprovalChannel;
use crate::frozen;
use crate::session::event::{Accepted, Escalation, HumanDecision};
use crate::session::{Command, Control, EventData, Session, Status, Transition};
use crate::{Error, Result};

use super::{Service, Standing, from_map, to_map};

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

impl Decision {
    /// A decision typed at an interactive terminal (`detail`: its device).
    pub fn at_terminal(by: Option<&str>, detail: Option<String>, note: Option<&str>) -> Self {
        Decision {
            approve: true,
            by: by
                .map(str::to_owned)
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "human".to_owned()),
            channel: ApprovalChannel::Terminal,
            detail,
            note: note.map(str::to_owned),
        }
    }

    /// A decision made on the dashboard (`agent`: the browser's name).
    pub fn on_dashboard(approve: bool, agent: Option<String>, note: &str) -> Self {
        Decision {
            approve,
            by: "dashboard user".to_owned(),
            channel: ApprovalChannel::Dashboard,
            detail: agent,
            note: (!note.trim().is_empty()).then(|| note.trim().to_owned()),
        }
    }

    /// A decision made by the user of an MCP client, through elicitation.
    pub fn through_client(client: &str, approve: bool, note: &str) -> Self {
        Decision {
            approve,
            by: format!("user of {client}"),
            channel: ApprovalChannel::Elicitation,
            detail: Some(client.to_owned()),
            note: (!note.is_empty()).then(|| note.to_owned()),
        }
    }

    /// Who decided and how, as the session's log records it.
    fn record(&self) -> HumanDecision {
        HumanDecision {
            by: self.by.clone(),
            channel: self.channel,
            detail: self.detail.clone(),
            note: self.note.clone(),
        }
    }
}

impl Service {
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
            let record = Accepted {
                changes: changes.clone(),
                decision: decision.record(),
            };
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

    /// The agent (`by`: `agent`, or `stop hook`) asks a human to decide:
    /// the current phase cannot be done without changing what judges it.
    /// The session waits until a human rejects it with a note, accepts the
    /// change, or abandons it.
    pub fn escalate(&self, id: &str, reason: &str, by: &str) -> Result<Standing> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::BadRequest(
                "escalate needs `reason`: say why the phase cannot be done without changing what judges it (\"the test contradicts the spec\")".to_owned(),
            ));
        }
        let escalation = Escalation {
            reason: reason.chars().take(2000).collect(),
            by: by.to_owned(),
        };
        let (session, ()) = self.store.update(id, |s, wf| {
            let events = s.apply(Command::Escalate(escalation.clone()), wf)?;
            Ok((Transition::from(events), ()))
        })?;
        let (session, workflow, _) = self.store.get(&session.id)?;
        Ok(self.standing(session, &workflow))
    }

    /// What a human is shown before deciding on a session that waits for
    /// one: at a gate, its prompt and the passed validation's summary; for
    /// an escalation, the agent's reason and the latest validation's
    /// summary.
    pub fn gate(&self, id: &str) -> Result<(Session, String, String)> {
        let (session, workflow, _) = self.store.get(id)?;
        let events = self.store.events(id)?;
        let latest = |pick: &dyn Fn(&EventData) -> Option<String>| {
            events
                .iter()
                .rev()
                .find_map(|e| pick(&e.data))
                .unwrap_or_default()
        };
        let question = match session.status {
            Status::AwaitingApproval => workflow.phases[session.phase_index]
                .checkpoint
                .as_ref()
                .and_then(|c| c.approval.as_ref())
                .map(|a| a.prompt.clone())
                .unwrap_or_default(),
            Status::Escalated => latest(&|data| match data {
                EventData::Escalated(e) => Some(format!("escalated by the {}: {}", e.by, e.reason)),
                _ => None,
            }),
            status => {
                return Err(Error::Refused(format!(
                    "session `{}` is {status}, not waiting for approval",
                    session.id
                )));
            }
        };
        let checks = latest(&|data| match data {
            EventData::Validated(v) if session.status == Status::AwaitingApproval => {
                Some(v.report.summary.clone())
            }
            EventData::Validated(v) | EventData::ValidationFailed(v)
                if session.status == Status::Escalated =>
            {
                Some(v.report.summary.clone())
            }
            _ => None,
        });
        Ok((session, question, checks))
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
            let events = s.apply(
                Command::Decide {
                    approve: decision.approve,
                    record: decision.record(),
                },
                wf,
            )?;
            Ok((Transition::from(events), ()))
        })?;
        self.next(&session.id)
    }
}
