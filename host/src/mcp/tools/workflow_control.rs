//! `workflow_control`: pause, resume, retry, rollback, abandon.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::mcp::CheckrailMcp;
use crate::service::Standing;
use crate::session::Control;

/// Arguments of `workflow_control`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ControlArgs {
    /// Session id from workflow_start.
    pub session: String,
    /// What to do: `pause`, `resume`, `retry` (start the current phase over), `rollback` (to an earlier phase), `abandon` (final).
    pub action: Control,
    /// For `rollback`: the id of the earlier phase to go back to.
    #[serde(default)]
    pub to_phase: Option<String>,
    /// For `rollback` to a phase inside a loop group: which iteration (1-based; default: the current one when the
    /// session is in that loop, else its last).
    #[serde(default)]
    pub iteration: Option<u32>,
}

#[tool_router(router = control_router, vis = "pub(crate)")]
impl CheckrailMcp {
    /// Pause or resume a session, retry its current phase, roll back to an earlier phase (inside a loop: an
    /// iteration of it), or abandon it. Approving a human gate is not possible here.
    #[tool(annotations(
        title = "Control a session",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn workflow_control(
        &self,
        Parameters(args): Parameters<ControlArgs>,
    ) -> Result<Json<Standing>, String> {
        self.blocking(move |service| {
            service.control_at(
                &args.session,
                args.action,
                args.to_phase.as_deref(),
                args.iteration,
            )
        })
        .await
        .map(Json)
    }
}
