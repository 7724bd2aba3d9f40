//! `workflow_get`: a whole workflow, or one phase of it.

use std::collections::BTreeMap;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mcp::CheckrailMcp;
use crate::service::PhaseView;
use crate::workflow::Input;

/// Arguments of `workflow_get`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetArgs {
    /// Workflow id, as listed by workflow_list; a pack workflow (`pack/id`) may add a semver requirement (`team/release@^1`), the highest installed match wins.
    pub workflow: String,
    /// Only this phase (its id); all phases when absent.
    #[serde(default)]
    pub phase: Option<String>,
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
    /// The phases asked for, with guidance and what each checkpoint checks.
    pub phases: Vec<PhaseView>,
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
            .map_err(|e| e.to_string())?;
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
        Ok(Json(WorkflowDetail {
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
