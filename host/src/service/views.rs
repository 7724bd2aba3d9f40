//! What the agent is shown: the current phase, what its checkpoint will
//! check, where the session stands and the one next step.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::session::{Outcome, Session, Status, Step};
use crate::workflow::{Hints, Task};
use crate::workflow::{Phase, Workflow};

use super::{CheckView, Service};

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
    pub(super) fn in_session(workflow: &Workflow, session: &Session) -> Option<Self> {
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

impl Service {
    pub(super) fn standing(&self, session: Session, workflow: &Workflow) -> Standing {
        self.standing_with(session, workflow, None)
    }

    pub(super) fn standing_with(
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
            Status::Escalated => format!(
                "You escalated phase `{}`; the session waits for a human, who will reject it with a note (back to work), accept the change you asked for, or abandon it. Tell the user why; you cannot resume it yourself.",
                session.phase_id
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
