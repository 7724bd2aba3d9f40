//! Workflows, rules and sessions as MCP resources:
//! `checkrail://workflows/{id}`, `checkrail://rules/{id}` and
//! `checkrail://sessions/{id}`.

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceContents, ResourceTemplate,
};
use serde_json::json;

use crate::service::{PhaseView, Service};

const WORKFLOWS: &str = "checkrail://workflows/";
const SESSIONS: &str = "checkrail://sessions/";
const RULES: &str = "checkrail://rules/";
const JSON: &str = "application/json";
/// Most sessions listed as resources (newest first); all stay readable by id.
const LISTED_SESSIONS: usize = 100;

pub fn list(service: &Service) -> Result<ListResourcesResult, McpError> {
    let mut resources: Vec<Resource> = service
        .engine()
        .catalog()
        .workflows()
        .iter()
        .map(|w| {
            Resource::new(format!("{WORKFLOWS}{}", w.id), format!("workflow {}", w.id))
                .with_title(w.name.clone())
                .with_description(w.description.trim().to_owned())
                .with_mime_type(JSON)
        })
        .collect();
    // Rules are listed by name only: describing them would compile every
    // component on a cold cache; reading one loads it.
    resources.extend(service.engine().rule_names().into_iter().map(|name| {
        Resource::new(format!("{RULES}{name}"), format!("rule {name}"))
            .with_description(format!(
                "The bundled rule `{name}`: version, description, config schema, capabilities"
            ))
            .with_mime_type(JSON)
    }));
    let sessions = service.list(None).map_err(|e| engine_error(&e, None))?;
    resources.extend(sessions.into_iter().take(LISTED_SESSIONS).map(|s| {
        Resource::new(format!("{SESSIONS}{}", s.id), format!("session {}", s.id))
            .with_description(format!(
                "{} at phase {} ({})",
                s.workflow_id, s.phase_id, s.status
            ))
            .with_mime_type(JSON)
    }));
    Ok(ListResourcesResult::with_all_items(resources))
}

pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(format!("{WORKFLOWS}{{id}}"), "workflow")
            .with_description("A workflow with every phase's guidance and checkpoint")
            .with_mime_type(JSON),
        ResourceTemplate::new(format!("{RULES}{{id}}"), "rule")
            .with_description(
                "A rule: version, description, config JSON Schema, capabilities, component sha256",
            )
            .with_mime_type(JSON),
        ResourceTemplate::new(format!("{SESSIONS}{{id}}"), "session")
            .with_description("A session's state and its event timeline")
            .with_mime_type(JSON),
    ])
}

use crate::error::{chain, clip};
use crate::exit::Kind;

/// An engine error as a JSON-RPC error: checkrail's own failures (its
/// database, its state, the wasm runtime) are internal errors; anything
/// else means the resource asked for cannot be served.
fn engine_error(error: &crate::Error, uri: Option<&str>) -> McpError {
    let data = uri.map(|uri| json!({ "uri": clip(uri) }));
    match error.kind() {
        Kind::Internal | Kind::Io => McpError::internal_error(chain(error), data),
        Kind::Usage | Kind::Tampered => McpError::resource_not_found(chain(error), data),
    }
}

pub fn read(service: &Service, uri: &str) -> Result<ReadResourceResponse, McpError> {
    let not_found =
        |why: String| McpError::resource_not_found(why, Some(json!({ "uri": clip(uri) })));
    let engine_error = |error: crate::Error| engine_error(&error, Some(uri));
    let body = if let Some(id) = uri.strip_prefix(WORKFLOWS) {
        let workflow = service
            .engine()
            .catalog()
            .workflows()
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| {
                not_found(format!(
                    "no workflow `{}`; list them with workflow_list",
                    clip(id)
                ))
            })?;
        let phases: Vec<PhaseView> = (0..workflow.phases.len())
            .filter_map(|i| PhaseView::of(workflow, i))
            .collect();
        json!({
            "id": workflow.id, "version": workflow.version.to_string(), "name": workflow.name,
            "description": workflow.description, "category": workflow.category, "tags": workflow.tags,
            "inputs": workflow.inputs, "digest": workflow.digest, "phases": phases,
        })
    } else if let Some(id) = uri.strip_prefix(RULES) {
        let rule = service.engine().rule(id).map_err(engine_error)?;
        let c = &rule.component;
        json!({
            "id": c.info.id, "version": c.info.version.to_string(), "description": c.info.description,
            "config_schema": c.info.config_schema, "capabilities": c.info.capabilities,
            "api_version": c.api_version.to_string(), "sha256": c.digest, "origin": c.origin,
        })
    } else if let Some(id) = uri.strip_prefix(SESSIONS) {
        let standing = service.next(id).map_err(engine_error)?;
        let events = service.events(id).map_err(engine_error)?;
        json!({ "session": standing.session, "next_step": standing.next_step, "events": events })
    } else {
        return Err(not_found(format!(
            "unknown resource `{}`; checkrail serves {WORKFLOWS}{{id}}, {RULES}{{id}} and {SESSIONS}{{id}}",
            clip(uri)
        )));
    };
    let text = serde_json::to_string_pretty(&body)
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    Ok(
        ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type(JSON)])
            .into(),
    )
}
