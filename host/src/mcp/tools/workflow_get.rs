//! `workflow_get`: a whole workflow, or one phase of it.

use std::collections::BTreeMap;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mcp::CheckrailMcp;
use crate::service::PhaseView;
use crate::workflow::{Hints, Input, Task};

/// Arguments of `workflow_get`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetArgs {
    /// Workflow id, as listed by workflow_list; a pack workflow (`pack/id`) may add a semver requirement (`team/release@^1`), the highest installed match wins.
    pub workflow: String,
    /// Only this phase (its id); all phases when absent.
    #[serde(default)]
    pub phase: Option<String>,
    /// With `phase`: only this task of it (its id), in full: title, steps and how it is known to be done.
    #[serde(default)]
    pub task: Option<String>,
}

/// A workflow with its phases.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowDetail {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// What it is for.
    pub description: String,
    /// Category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Inputs workflow_start takes.
    pub inputs: BTreeMap<String, Input>,
    /// sha256 of the workflow source.
    pub digest: String,
    /// How long it usually takes, in minutes (guidance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_minutes: Option<u32>,
    /// Who should do it and how (guidance, never enforced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hints: Option<Hints>,
    /// The phases asked for, with guidance and what each checkpoint checks.
    pub phases: Vec<PhaseView>,
    /// The task asked for, in full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
}

#[tool_router(router = get_router, vis = "pub(crate)")]
impl CheckrailMcp {
    /// Show a workflow, or one of its phases: guidance for the agent and exactly what each checkpoint will check.
    #[tool(annotations(
        title = "Get a workflow",
        read_only_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn workflow_get(
        &self,
        Parameters(args): Parameters<GetArgs>,
    ) -> Result<Json<WorkflowDetail>, String> {
        let workflow = self
            .service
            .engine()
            .catalog()
            .resolve_in(&args.workflow, self.service.workspace())
            .map_err(|e| crate::error::chain(&e))?;
        let indices: Vec<usize> = match &args.phase {
            Some(phase) => match workflow.phases.iter().position(|p| &p.id == phase) {
                Some(i) => vec![i],
                None => {
                    return Err(crate::Error::UnknownPhase {
                        workflow: workflow.id.clone(),
                        phase: phase.clone(),
                        known: workflow.phase_ids(),
                    }
                    .to_string());
                }
            },
            None => (0..workflow.phases.len()).collect(),
        };
        let task = match (&args.task, &args.phase) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(
                    "`task` needs `phase`: the id of the phase the task belongs to".to_owned(),
                );
            }
            (Some(task), Some(_)) => {
                let phase = &workflow.phases[indices[0]];
                match phase.tasks.iter().find(|t| t.id() == Some(task.as_str())) {
                    Some(found) => Some(found.clone()),
                    None => {
                        let known: Vec<&str> = phase.tasks.iter().filter_map(|t| t.id()).collect();
                        return Err(format!(
                            "phase `{}` has no task `{}`; its tasks with ids: {}",
                            phase.id,
                            crate::error::clip(task),
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ));
                    }
                }
            }
        };
        Ok(Json(WorkflowDetail {
            task,
            estimated_minutes: workflow.estimated_minutes,
            hints: workflow.hints.clone(),
            phases: indices
                .into_iter()
                .filter_map(|i| PhaseView::of(&workflow, i))
                .collect(),
            id: workflow.id,
            name: workflow.name,
            version: workflow.version.to_string(),
            description: workflow.description,
            category: workflow.category,
            tags: workflow.tags,
            inputs: workflow.inputs,
            digest: workflow.digest,
        }))
    }
}
