//! `workflow_state`: one session with its timeline, or a list of sessions.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mcp::CheckrailMcp;
use crate::service::CheckView;
use crate::session::{ErrorsView, Event, Session, Status};

/// Arguments of `workflow_state`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct StateArgs {
    /// A session id: return that session and its event timeline. Without it, list sessions.
    #[serde(default)]
    pub session: Option<String>,
    /// When listing, only sessions with this status.
    #[serde(default)]
    pub status: Option<Status>,
    /// With `session`: also what went wrong, each failed validation (phase, iteration, attempt, rules, when), the
    /// findings deduplicated with counts across attempts, and each phase's first-try pass rate.
    #[serde(default)]
    pub errors: bool,
}

/// Session state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StateView {
    /// The sessions asked for, newest first.
    pub sessions: Vec<Session>,
    /// The timeline of the one session asked for, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
    /// What went wrong in that session, when asked with `errors`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorsView>,
    /// That session's latest check started with `wait: false`: running,
    /// interrupted, or its result (its report is with the `validated` or
    /// `validation_failed` event whose data has its id as `check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckView>,
}

#[tool_router(router = state_router, vis = "pub(crate)")]
impl CheckrailMcp {
    /// Show one session with its event timeline and the path it took (phases passed, skipped with the reason,
    /// loop iterations), with `errors: true` also what failed and how often; or list the workspace's sessions
    /// (optionally by status).
    #[tool(annotations(
        title = "Session state",
        read_only_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn workflow_state(
        &self,
        Parameters(args): Parameters<StateArgs>,
    ) -> Result<Json<StateView>, String> {
        self.blocking(move |service| match &args.session {
            Some(id) => {
                let events = service.events(id)?;
                let standing = service.next(id)?;
                Ok(StateView {
                    sessions: vec![standing.session],
                    errors: args.errors.then(|| crate::session::errors(&events)),
                    events: Some(events),
                    check: standing.check,
                })
            }
            None => Ok(StateView {
                sessions: service.list(args.status)?,
                events: None,
                errors: None,
                check: None,
            }),
        })
        .await
        .map(Json)
    }
}
