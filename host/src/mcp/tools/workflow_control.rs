//! `workflow_control`: pause, resume, retry, rollback, abandon, delete.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mcp::CheckrailMcp;
use crate::service::Standing;
use crate::session::{Control, Deletion};

/// Arguments of `workflow_control`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ControlArgs {
    /// Session id from workflow_start.
    pub session: String,
    /// What to do: `pause`, `resume`, `retry` (start the current phase over), `rollback` (to an earlier phase), `abandon` (final),
    /// `escalate` (ask a human to decide, with `reason`), `delete` (a completed or abandoned session; an audit entry stays).
    pub action: Control,
    /// For `escalate`: why the phase cannot be done without changing what judges it ("the test contradicts the
    /// spec", "needs a schema change the plan forbids"). A human then rejects (back to work), accepts the change, or
    /// abandons; escalating honestly is always better than weakening a test or a check.
    #[serde(default)]
    pub reason: Option<String>,
    /// For `rollback`: the id of the earlier phase to go back to.
    #[serde(default)]
    pub to_phase: Option<String>,
    /// For `rollback` to a phase inside a loop group: which iteration (1-based; default: the current one when the
    /// session is in that loop, else its last).
    #[serde(default)]
    pub iteration: Option<u32>,
}

/// What `workflow_control` did: where the session stands now, or, after
/// `delete`, the audit entry that remains.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ControlResult {
    /// Where the session stands (absent after `delete`).
    #[serde(flatten)]
    pub standing: Option<Standing>,
    /// What remains of a deleted session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Deletion>,
}

#[tool_router(router = control_router, vis = "pub(crate)")]
impl CheckrailMcp {
    /// Pause or resume a session, retry its current phase, roll back to an earlier phase (inside a loop: an
    /// iteration of it), escalate it to a human when the phase cannot be done without changing what judges it,
    /// abandon it, or delete a completed or abandoned one. Approving a human gate is not possible here.
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
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ControlResult>, String> {
        let client = ctx
            .peer
            .peer_info()
            .map(|info| format!("mcp:{} {}", info.client_info.name, info.client_info.version))
            .unwrap_or_else(|| "mcp".to_owned());
        self.blocking(move |service| match args.action {
            Control::Delete => {
                service
                    .delete(&args.session, &client)
                    .map(|deleted| ControlResult {
                        standing: None,
                        deleted: Some(deleted),
                    })
            }
            Control::Escalate => service
                .escalate(
                    &args.session,
                    args.reason.as_deref().unwrap_or_default(),
                    "agent",
                )
                .map(|standing| ControlResult {
                    standing: Some(standing),
                    deleted: None,
                }),
            action => service
                .control_at(
                    &args.session,
                    action,
                    args.to_phase.as_deref(),
                    args.iteration,
                )
                .map(|standing| ControlResult {
                    standing: Some(standing),
                    deleted: None,
                }),
        })
        .await
        .map(Json)
    }
}
