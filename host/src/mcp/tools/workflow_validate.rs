//! `workflow_validate`: run the current checkpoint, advance on pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::engine::Hooks;
use crate::engine::progress::Progress;
use crate::mcp::CheckrailMcp;
use crate::service::{ValidateRequest, Validation};
use crate::session::Status;

/// Arguments of `workflow_validate`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ValidateArgs {
    /// Session id from workflow_start.
    pub session: String,
    /// The phase you are validating (its id). Recommended: if that phase already passed, nothing runs
    /// again and the session does not advance twice.
    #[serde(default)]
    pub phase: Option<String>,
    /// With `phase` inside a loop group: the iteration you are validating (1-based, see workflow_next). If that
    /// iteration of the phase already passed, nothing runs again.
    #[serde(default)]
    pub iteration: Option<u32>,
    /// Evidence for the checkpoint, matching its evidence_schema (see workflow_next). At most 1 MiB.
    #[serde(default)]
    pub evidence: Option<Value>,
    /// Check without recording anything or advancing.
    #[serde(default)]
    pub dry_run: bool,
    /// Check one task of the current phase instead of its checkpoint (its id, see workflow_next's `current_task`):
    /// the task's `done_when` rule runs, or its evidence field is looked for in `evidence`. When it is done it is
    /// recorded and the next task becomes current; the session stays on the phase.
    #[serde(default)]
    pub task: Option<String>,
    /// Wait for the result (the default). With `false` the answer comes at once with `check` (its id): the check
    /// runs on in the server, whatever happens to this request, and workflow_next shows it running, then its result
    /// (the full report is in workflow_state). Use it when the checks may outlast your client's request timeout.
    #[serde(default = "waits")]
    pub wait: bool,
}

fn waits() -> bool {
    true
}

impl ValidateArgs {
    /// The service's request for these arguments (`wait` is how the tool
    /// runs it, not what it asks).
    pub(crate) fn request(&self) -> ValidateRequest {
        ValidateRequest {
            session: self.session.clone(),
            phase: self.phase.clone(),
            iteration: self.iteration,
            task: self.task.clone(),
            evidence: self.evidence.clone(),
            dry_run: self.dry_run,
        }
    }
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
        if !args.wait {
            return self.validate_detached(args).await.map(Json);
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (cancel, ct) = (cancel.clone(), ctx.ct.clone());
            tokio::spawn(async move {
                ct.cancelled().await;
                cancel.store(true, Ordering::Relaxed);
            })
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let forwarder = ctx.meta.get_progress_token().map(|token| {
            let peer = ctx.peer.clone();
            tokio::spawn(forward_progress(peer, token, rx, self.heartbeat))
        });
        let started = std::time::Instant::now();
        let hooks_cancel = cancel.clone();
        let request = args.request();
        let result = self
            .blocking(move |service| {
                let report = move |p: Progress| {
                    let _ = tx.send(p);
                };
                let hooks = Hooks {
                    progress: Some(Arc::new(report)),
                    cancel: Some(hooks_cancel),
                };
                service.validate(&request, &hooks)
            })
            .await;
        watcher.abort();
        if let Some(forwarder) = forwarder {
            // Deliver every progress notification before the response.
            let _ = forwarder.await;
        }
        let report = result.as_ref().ok().and_then(|v| v.report.as_ref());
        crate::metrics::global().validated(started.elapsed(), report);
        if let Ok(validation) = &result
            && let Some(report) = &validation.report
        {
            crate::telemetry::rules(report, &validation.standing.session.id);
        }
        let mut validation = result?;
        if validation.standing.session.status == Status::AwaitingApproval && !args.dry_run {
            self.ask_the_human(&ctx, &mut validation).await;
        }
        Ok(Json(validation))
    }
}

impl CheckrailMcp {
    /// `workflow_validate` with `wait: false`: records the check and
    /// answers; the check runs on a thread of the server's own, so neither
    /// the request's cancellation nor its end stops it.
    pub(crate) async fn validate_detached(&self, args: ValidateArgs) -> Result<Validation, String> {
        let service = self.service.clone();
        let started =
            tokio::task::spawn_blocking(move || service.validate_detached(args.request())).await;
        match started {
            Ok(result) => result.map_err(|e| crate::error::chain(&e)),
            Err(e) => Err(format!("internal error, nothing was changed: {e}")),
        }
    }
}

/// Sends each progress event to the client as it comes and, while a rule
/// runs quietly, a heartbeat every `heartbeat`, so clients that give up on
/// a silent request keep waiting. A heartbeat repeats the last message with
/// the time since it and a progress value between the last one and the
/// lowest the next event can have, so values still strictly increase.
async fn forward_progress(
    peer: rmcp::Peer<RoleServer>,
    token: rmcp::model::ProgressToken,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Progress>,
    heartbeat: Duration,
) {
    let mut last: Option<(Progress, std::time::Instant)> = None;
    let mut beats = 0;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    loop {
        let note = tokio::select! {
            progress = rx.recv() => {
                let Some(progress) = progress else { break };
                let note = ProgressNotificationParam::new(token.clone(), progress.step())
                    .with_total(progress.steps() as f64)
                    .with_message(progress.message());
                last = Some((progress, std::time::Instant::now()));
                beats = 0;
                ticker.reset();
                note
            }
            _ = ticker.tick() => {
                let Some((progress, since)) = &last else { continue };
                beats += 1;
                let step = progress.step();
                let room = (step.floor() + 1.0 - step) / 2.0;
                let value = step + room * (1.0 - 0.5f64.powi(beats.min(1000)));
                ProgressNotificationParam::new(token.clone(), value)
                    .with_total(progress.steps() as f64)
                    .with_message(format!(
                        "{} (still running, {}s)",
                        progress.message(),
                        since.elapsed().as_secs()
                    ))
            }
        };
        if peer.notify_progress(note).await.is_err() {
            break;
        }
    }
}
