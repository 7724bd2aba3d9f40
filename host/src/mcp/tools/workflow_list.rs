//! `workflow_list`: the workflows an agent can start.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mcp::CheckrailMcp;
use crate::workflow::WorkflowSummary;

/// Filters for `workflow_list`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// Only workflows of this category (e.g. `docs`).
    #[serde(default)]
    pub category: Option<String>,
    /// Only workflows carrying this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Each workflow's whole description, its hints and time estimate; by default a list carries the first
    /// sentence of each description only (`workflow_get` has everything about one workflow).
    #[serde(default)]
    pub detail: bool,
}

/// The workflows found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkflowList {
    /// Matching workflows, sorted by id.
    pub workflows: Vec<WorkflowSummary>,
    /// Workflow files that could not be loaded, each named with the reason.
    pub problems: Vec<String>,
}

#[tool_router(router = list_router, vis = "pub(crate)")]
impl CheckrailMcp {
    /// List the workflows you can start: id, name, version, the first sentence of the description, category, tags, number of phases and source (installed pack workflows are `pack/id`); `detail: true` adds whole descriptions, hints and time estimates.
    #[tool(annotations(
        title = "List workflows",
        read_only_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn workflow_list(
        &self,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<Json<WorkflowList>, String> {
        let catalog = self.service.engine().catalog();
        let mut workflows = catalog.list(args.category.as_deref(), args.tag.as_deref());
        if !args.detail {
            workflows = workflows
                .into_iter()
                .map(WorkflowSummary::compact)
                .collect();
        }
        let problems = catalog
            .problems()
            .iter()
            .map(|e| crate::error::chain(e))
            .collect();
        Ok(Json(WorkflowList {
            workflows,
            problems,
        }))
    }
}
