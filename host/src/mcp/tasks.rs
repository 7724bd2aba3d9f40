//! The MCP Tasks extension (`io.modelcontextprotocol/tasks`) for checks
//! that outlive a request: a client that declares it gets a task handle for
//! `workflow_validate` at once, and `tasks/get` reports the check as
//! working, then the validation's result. The task is the same recorded
//! check `wait: false` starts, so its result survives a restart, and a
//! task id names its session and its check (`<session>~<check>`).

use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, CreateTaskResult,
    DetailedTask, GetTaskResult, Task, TaskPayload, TaskStatus,
};
use serde_json::{Value, json};

use super::CheckrailMcp;
use super::tools::workflow_validate::ValidateArgs;
use crate::service::{CheckStatus, CheckView, Validation};

/// How often a client should ask about a running check.
const POLL_MS: u64 = 2000;

/// The arguments of a `workflow_validate` call a task should run: a
/// checkpoint validation (not a task check, not a dry run) whose caller did
/// not ask to wait.
pub(super) fn as_task(request: &CallToolRequestParams) -> Option<ValidateArgs> {
    if request.name != "workflow_validate" {
        return None;
    }
    let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
    let explicit_wait = arguments.get("wait").and_then(Value::as_bool);
    let args: ValidateArgs = serde_json::from_value(arguments).ok()?;
    (args.task.is_none() && !args.dry_run && explicit_wait != Some(true)).then_some(args)
}

fn task_id(session: &str, check: &str) -> String {
    format!("{session}~{check}")
}

impl CheckrailMcp {
    /// Starts the check and answers with its task; a refusal is an
    /// `isError` result, as the tool would give.
    pub(super) async fn validate_as_task(&self, mut args: ValidateArgs) -> CallToolResponse {
        args.wait = false;
        let session = args.session.clone();
        match self.validate_detached(args).await {
            Ok(Validation {
                check: Some(check), ..
            }) => {
                let now = crate::session::now();
                let created = check.started_at.clone().unwrap_or_else(|| now.clone());
                let task = Task::new(
                    task_id(&session, &check.id),
                    TaskStatus::Working,
                    created,
                    now,
                )
                .with_poll_interval_ms(POLL_MS)
                .with_status_message(format!(
                    "checking phase `{}`; tasks/get reports the result",
                    check.phase
                ));
                CallToolResponse::Task(CreateTaskResult::new(task))
            }
            Ok(_) => CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(
                "the check did not start (this is a defect in checkrail; nothing was recorded)",
            )])),
            Err(message) => {
                CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(message)]))
            }
        }
    }

    /// `tasks/get`: the check's state, and once it is done the result the
    /// call would have answered.
    pub(super) async fn task_state(&self, id: &str) -> Result<GetTaskResult, McpError> {
        let Some((session, check)) = id.split_once('~') else {
            return Err(McpError::invalid_params(
                format!("unknown task `{}`", crate::error::clip(id)),
                None,
            ));
        };
        let (session, check) = (session.to_owned(), check.to_owned());
        let found = self
            .blocking(move |service| {
                let standing = service.next(&session)?;
                let report = service.events(&session)?.into_iter().rev().find_map(|e| {
                    let (_, verdict) = e.data.verdict()?;
                    (verdict.check.as_deref() == Some(check.as_str()))
                        .then(|| verdict.report.clone())
                });
                Ok((standing, report, check))
            })
            .await
            .map_err(|e| McpError::invalid_params(e, None))?;
        let (standing, report, check) = found;
        let view = standing.check.clone().filter(|v| v.id == check);
        let now = crate::session::now();
        let started = view
            .as_ref()
            .and_then(|v| v.started_at.clone())
            .unwrap_or_else(|| standing.session.created_at.clone());
        let task = Task::new(id, TaskStatus::Working, started, now).with_poll_interval_ms(POLL_MS);
        let payload = match (view.as_ref().map(|v| v.status), report) {
            (_, Some(report)) => {
                let passed = report.passed;
                let phase = report.phase.clone();
                let validation = Validation {
                    passed,
                    advanced: passed && standing.session.phase_id != phase,
                    report: Some(report),
                    check: view.clone(),
                    standing,
                };
                TaskPayload::Completed {
                    result: completed(&validation),
                }
            }
            (Some(CheckStatus::Running), None) => TaskPayload::Working,
            (Some(CheckStatus::Interrupted), None) => TaskPayload::Failed {
                error: error_object(
                    view.as_ref(),
                    "the check was interrupted before it reported; validate again",
                ),
            },
            (Some(CheckStatus::Errored), None) => TaskPayload::Failed {
                error: error_object(view.as_ref(), "the check could not run"),
            },
            _ => {
                return Err(McpError::invalid_params(
                    format!(
                        "unknown task `{}`: the session has no such check",
                        crate::error::clip(id)
                    ),
                    None,
                ));
            }
        };
        let mut task = task;
        if let Some(progress) = view.as_ref().and_then(|v| v.progress.clone()) {
            task = task.with_status_message(progress);
        }
        Ok(GetTaskResult::new(DetailedTask::new(task, payload)))
    }
}

/// The `CallToolResult` of a finished check, as a JSON object.
fn completed(validation: &Validation) -> serde_json::Map<String, Value> {
    let structured = serde_json::to_value(validation).unwrap_or(Value::Null);
    let result = CallToolResult::structured(structured);
    match serde_json::to_value(result) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// A JSON-RPC error object for a task that failed.
fn error_object(view: Option<&CheckView>, what: &str) -> serde_json::Map<String, Value> {
    let detail = view.and_then(|v| v.summary.clone()).unwrap_or_default();
    match json!({"code": -32603, "message": format!("{what}. {detail}").trim().to_owned()}) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}
