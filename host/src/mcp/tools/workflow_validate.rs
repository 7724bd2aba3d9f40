//! `workflow_validate`: run the current checkpoint, advance on pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::engine::{Hooks, Progress};
use crate::mcp::CheckrailMcp;
use crate::service::Validation;

/// Arguments of `workflow_validate`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ValidateArgs {
    /// Session id from workflow_start.
    pub session: String,
    /// The phase you are validating (its id). Recommended: if that phase already passed, nothing runs
    /// again and the session does not advance twice.
    #[serde(default)]
    pub phase: Option<String>,
    /// Evidence for the checkpoint, matching its evidence_schema (see workflow_next). At most 1 MiB.
    #[serde(default)]
    pub evidence: Option<Value>,
    /// Check without recording anything or advancing.
    #[serde(default)]
    pub dry_run: bool,
}

#[tool_router(router = validate_router, vis = "pub(crate)")]
impl CheckrailMcp {
    /// Check the current phase's checkpoint: validates the evidence against its schema and runs its rules against
    /// the workspace. Returns each rule's result with findings (file, line, message, fix hint). On pass the session
    /// advances and the answer carries the next phase's guidance; on fail, fix the findings and call again.
    #[tool(annotations(
        title = "Validate a checkpoint",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn workflow_validate(
        &self,
        Parameters(args): Parameters<ValidateArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Validation>, String> {
        let cancel = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (cancel, ct) = (cancel.clone(), ctx.ct.clone());
            tokio::spawn(async move {
                ct.cancelled().await;
                cancel.store(true, Ordering::Relaxed);
            })
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let forwarder = ctx.meta.get_progress_token().map(|token| {
            let peer = ctx.peer.clone();
            tokio::spawn(async move {
                while let Some(progress) = rx.recv().await {
                    let note = ProgressNotificationParam::new(token.clone(), progress.step())
                        .with_total(progress.steps() as f64)
                        .with_message(progress.message());
                    if peer.notify_progress(note).await.is_err() {
                        break;
                    }
                }
            })
        });
        let hooks_cancel = cancel.clone();
        let result = self
            .blocking(move |service| {
                let report = move |p: Progress| {
                    let _ = tx.send(p);
                };
                let hooks = Hooks {
                    progress: Some(Arc::new(report)),
                    cancel: Some(hooks_cancel),
                };
                service.validate(
                    &args.session,
                    args.phase.as_deref(),
                    args.evidence.as_ref(),
                    args.dry_run,
                    &hooks,
                )
            })
            .await;
        watcher.abort();
        if let Some(forwarder) = forwarder {
            // Deliver every progress notification before the response.
            let _ = forwarder.await;
        }
        result.map(Json)
    }
}
