//! `workflow_state`: one session with its timeline, or a list of sessions.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mcp::CheckrailMcp;
use crate::service::CheckView;
use crate::session::{ErrorsView, Event, Session, Status};

/// Sessions listed when the call does not say how many.
const DEFAULT_PAGE: u64 = 50;
/// Most sessions one call lists.
const MAX_PAGE: u64 = 500;

/// Arguments of `workflow_state`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct StateArgs {
    /// A session id: return that session and its event timeline. Without it, list sessions.
    #[serde(default)]
    pub session: Option<String>,
    /// When listing, only sessions with this status.
    #[serde(default)]
    pub status: Option<Status>,
    /// When listing, most sessions returned (default 50, at most 500); the answer's `next_offset` asks for
    /// the next page.
    #[serde(default)]
    pub limit: Option<u64>,
    /// When listing, sessions skipped before the page (newest first).
    #[serde(default)]
    pub offset: Option<u64>,
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
    /// When listing: how many sessions match in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// When listing and more match: the `offset` of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
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
                    total: None,
                    next_offset: None,
                    errors: args.errors.then(|| crate::session::errors(&events)),
                    events: Some(events),
                    check: standing.check,
                })
            }
            None => {
                let page = service.page(&crate::session::SessionQuery {
                    status: args.status,
                    workflow: None,
                    limit: Some(args.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)),
                    offset: args.offset.unwrap_or(0),
                })?;
                Ok(StateView {
                    sessions: page.sessions,
                    total: Some(page.total),
                    next_offset: page.next_offset,
                    events: None,
                    errors: None,
                    check: None,
                })
            }
        })
        .await
        .map(Json)
    }
}
