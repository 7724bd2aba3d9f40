//! `workflow_start`: a new session.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::mcp::CheckrailMcp;
use crate::service::Standing;

/// Arguments of `workflow_start`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StartArgs {
    /// Workflow id, as listed by workflow_list; a pack workflow (`pack/id`) may add a semver requirement (`team/release@^1`), the highest installed match wins.
    pub workflow: String,
    /// Values for the workflow's inputs (see workflow_get), by name.
    #[serde(default)]
    pub inputs: Map<String, Value>,
}

#[tool_router(router = start_router, vis = "pub(crate)")]
impl CheckrailMcp {
    /// Start a workflow: returns the new session id, the first phase's guidance and what its checkpoint will check.
    #[tool(annotations(
        title = "Start a workflow",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn workflow_start(
        &self,
        Parameters(args): Parameters<StartArgs>,
    ) -> Result<Json<Standing>, String> {
        self.blocking(move |service| service.start(&args.workflow, args.inputs))
            .await
            .map(Json)
    }
}
