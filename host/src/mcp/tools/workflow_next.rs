//! `workflow_next`: where a session stands and what to do now.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::mcp::CheckrailMcp;
use crate::service::Standing;

/// Arguments of `workflow_next`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NextArgs {
    /// Session id from workflow_start.
    pub session: String,
}

#[tool_router(router = next_router, vis = "pub(crate)")]
impl CheckrailMcp {
    /// Where a session stands: its status, the current phase's guidance and checkpoint (with its loop iteration
    /// and item), the phases skipped on the way there and why, and what to do now.
    #[tool(annotations(
        title = "What next",
        read_only_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn workflow_next(
        &self,
        Parameters(args): Parameters<NextArgs>,
    ) -> Result<Json<Standing>, String> {
        self.blocking(move |service| service.next(&args.session))
            .await
            .map(Json)
    }
}
