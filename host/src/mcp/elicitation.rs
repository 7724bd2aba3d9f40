//! The elicitation approval channel: when a session's pinned config allows
//! it and the client can show a form, the human at the agent's client is
//! asked to approve or reject the gate the validation just reached. The
//! other human channels are the terminal (`checkrail session approve`) and
//! the dashboard; all three record a [`Decision`] through
//! [`crate::service::Service::decide`].

use std::time::Duration;

use rmcp::RoleServer;
use rmcp::service::{ElicitationMode, RequestContext};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::ApprovalChannel;
use crate::mcp::CheckrailMcp;
use crate::service::{Decision, Validation};

/// What the human answers when asked through the client. Elicitation
/// forms take flat primitive fields only.
#[derive(Debug, Deserialize, JsonSchema)]
struct GateAnswer {
    /// Yes to let the session go on; no to send the agent back to the phase.
    approve: bool,
    /// A note for the record (and, on reject, for the agent).
    #[serde(default)]
    note: String,
}

rmcp::elicit_safe!(GateAnswer);

/// Longest the server waits for the human's answer.
const ELICITATION_TIMEOUT: Duration = Duration::from_secs(600);

impl CheckrailMcp {
    /// When the workspace owner opted in (`[approval] via` includes
    /// `elicitation`, pinned at session start) and the client can elicit,
    /// asks the client's user to approve or reject the gate just reached.
    /// Anything but an answer leaves the gate waiting.
    pub(super) async fn ask_the_human(
        &self,
        ctx: &RequestContext<RoleServer>,
        validation: &mut Validation,
    ) {
        let session = validation.standing.session.clone();
        let allowed = self
            .blocking({
                let id = session.id.clone();
                move |service| service.approval_channels(&id)
            })
            .await
            .is_ok_and(|channels| channels.contains(&ApprovalChannel::Elicitation));
        if !allowed
            || !ctx
                .peer
                .supported_elicitation_modes()
                .contains(&ElicitationMode::Form)
        {
            return;
        }
        let prompt = validation
            .report
            .as_ref()
            .and_then(|r| r.approval_required.clone())
            .unwrap_or_default();
        let message = format!(
            "checkrail: the checks of phase `{}` in session `{}` ({}) passed. {prompt} Approve to continue, or reject to send the agent back to this phase.",
            session.phase_id, session.id, session.workflow_id
        );
        let answer = ctx
            .peer
            .elicit_with_timeout::<GateAnswer>(message, Some(ELICITATION_TIMEOUT))
            .await;
        let client = ctx
            .peer
            .peer_info()
            .map(|info| format!("{} {}", info.client_info.name, info.client_info.version))
            .unwrap_or_else(|| "an MCP client".to_owned());
        let answer = match answer {
            Ok(Some(answer)) => answer,
            other => {
                if let Err(e) = &other {
                    tracing::info!("no decision through elicitation: {e}");
                }
                validation.standing.next_step = format!(
                    "The human was asked through {client} but gave no decision; {}",
                    validation.standing.next_step
                );
                return;
            }
        };
        let decision = Decision::through_client(&client, answer.approve, &answer.note);
        let approved = decision.approve;
        let id = session.id.clone();
        match self
            .blocking(move |service| service.decide(&id, &decision))
            .await
        {
            Ok(standing) => {
                let verb = if approved { "approved" } else { "rejected" };
                let note = if answer.note.is_empty() {
                    String::new()
                } else {
                    format!(" (\"{}\")", answer.note)
                };
                validation.standing = standing;
                validation.advanced = approved;
                validation.standing.next_step = format!(
                    "The human {verb} the gate through {client}{note}. {}",
                    validation.standing.next_step
                );
            }
            Err(e) => tracing::warn!("recording the elicited decision failed: {e}"),
        }
    }
}
