//! The server handler: identity, capabilities, and how blocking engine work
//! is run off the async runtime.

use std::sync::{Arc, OnceLock};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    Implementation, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ServerCapabilities, ServerConfig, ServerResult, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool_handler};

use crate::service::Service;

/// What the server tells every client about how to use it.
pub const INSTRUCTIONS: &str = "checkrail walks you through a workflow phase by phase and checks each \
checkpoint itself by running sandboxed rules against the workspace; it does not take your word for it. \
Use workflow_list to find a workflow and workflow_start to begin; follow the phase guidance; call \
workflow_validate when the phase's work is done; fix every finding it returns (each names a file, a line \
when known, and a fix hint) and validate again. A passing validate moves you to the next phase and returns \
its guidance. workflow_next tells you where a session stands. Some checkpoints also need a human's \
approval, which you cannot give.";

/// Formats JSON Schema defines; anything else (schemars' `uint`, `uint32`,
/// `int64`, `double`…) makes strict clients warn on every call.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Drops non-standard `format`s from a schema, everywhere in it; an
/// unsigned one becomes `minimum: 0`.
fn standard_formats(schema: &mut serde_json::Map<String, serde_json::Value>) {
    if let Some(format) = schema.get("format").and_then(|f| f.as_str())
        && !STANDARD_FORMATS.contains(&format)
    {
        if format.starts_with("uint") && !schema.contains_key("minimum") {
            schema.insert("minimum".to_owned(), 0.into());
        }
        schema.remove("format");
    }
    for value in schema.values_mut() {
        match value {
            serde_json::Value::Object(map) => standard_formats(map),
            serde_json::Value::Array(items) => {
                for item in items {
                    if let serde_json::Value::Object(map) = item {
                        standard_formats(map);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Keywords whose values are data, not schemas: never searched for
/// descriptions.
const DATA_KEYWORDS: [&str; 4] = ["const", "enum", "default", "examples"];

/// Drops the `description` of a schema and of every schema in it (a
/// property that happens to be named `description` stays). Output schemas
/// go without them: clients check answers against the types and required
/// fields, and the prose was more than half of every `tools/list`, which
/// each client reads at each start. Input schemas keep theirs: agents read
/// them to call the tools.
fn without_descriptions(schema: &mut serde_json::Map<String, serde_json::Value>) {
    schema.remove("description");
    for (keyword, value) in schema.iter_mut() {
        if DATA_KEYWORDS.contains(&keyword.as_str()) {
            continue;
        }
        let named_schemas = matches!(
            keyword.as_str(),
            "properties" | "$defs" | "definitions" | "patternProperties"
        );
        match value {
            serde_json::Value::Object(map) if named_schemas => {
                for child in map.values_mut() {
                    if let serde_json::Value::Object(child) = child {
                        without_descriptions(child);
                    }
                }
            }
            serde_json::Value::Object(map) => without_descriptions(map),
            serde_json::Value::Array(items) => {
                for item in items {
                    if let serde_json::Value::Object(map) = item {
                        without_descriptions(map);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The tools as `tools/list` answers them, written out by the test
/// `the_listed_tools_are_the_routers` (run it with `CHECKRAIL_BLESS=1` after
/// changing a tool's parameters or answer): generating them is most of a
/// server's start, and `tools/list` is all most starts are for.
const LISTED_TOOLS: &str = include_str!("tools.json");

/// The answer to a bare `tools/list` (no cursor, no metadata) from a client
/// that asked for protocol `version` in its `initialize`: the result
/// [`listed_answer`] makes, as JSON text on one line, with
/// [`LISTED_TOOLS`] spliced in as written instead of read into tools and
/// written out again (the stdio relay answers with it; see
/// `mcp/stdio.rs`). Reading them was a third of a server's start.
pub fn listed_tools_answer(version: Option<&ProtocolVersion>) -> String {
    let empty = serde_json::to_string(&listed_answer(version, Vec::new()))
        .unwrap_or_else(|_| r#"{"tools":[]}"#.to_owned());
    empty.replacen(
        r#""tools":[]"#,
        &format!(r#""tools":{}"#, without_whitespace(LISTED_TOOLS)),
        1,
    )
}

/// What goes on the wire for [`listed_result`]: rmcp's server handler
/// fills a new protocol's cache hints and strips `resultType` for an
/// older one before answering (`handler/server.rs`, same version test).
fn listed_answer(version: Option<&ProtocolVersion>, tools: Vec<Tool>) -> ServerResult {
    let mut answer = ServerResult::ListToolsResult(listed_result(version, tools));
    if version.is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str()) {
        answer.fill_missing_cache_hints();
    } else {
        answer.strip_result_type_for_legacy_peer();
    }
    answer
}

/// `json` without the whitespace between its tokens (what serde_json
/// writes when not asked to indent); strings are kept as they are.
fn without_whitespace(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// What `tools/list` answers a client of protocol `version` with `tools`,
/// as rmcp's `tool_handler` would.
fn listed_result(version: Option<&ProtocolVersion>, tools: Vec<Tool>) -> ListToolsResult {
    let cache_hints = version.is_some_and(|version| *version >= ProtocolVersion::V_2026_07_28);
    ListToolsResult {
        result_type: Some(rmcp::model::ResultType::COMPLETE),
        tools,
        meta: None,
        next_cursor: None,
        ttl_ms: cache_hints.then_some(0),
        cache_scope: cache_hints.then_some(rmcp::model::CacheScope::Public),
    }
}

/// [`LISTED_TOOLS`], read once.
fn listed_tools() -> &'static [Tool] {
    static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        // The file is checked against the router by a test; a binary whose
        // file does not read lists the router's tools instead.
        serde_json::from_str(LISTED_TOOLS).unwrap_or_else(|e| {
            tracing::error!("mcp/tools.json does not read ({e}); listing from the router");
            CheckrailMcp::router_now().list_all()
        })
    })
}

/// The checkrail MCP server.
#[derive(Clone)]
pub struct CheckrailMcp {
    pub(super) service: Arc<Service>,
    /// The tools with their handlers, made on the first call of a tool.
    tool_router: Arc<OnceLock<ToolRouter<Self>>>,
    /// Longest a running `workflow_validate` stays silent: a progress
    /// heartbeat goes out after this much quiet.
    pub(super) heartbeat: std::time::Duration,
}

/// Default for [`CheckrailMcp`]'s heartbeat; `CHECKRAIL_PROGRESS_INTERVAL_MS`
/// overrides it.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);

fn heartbeat() -> std::time::Duration {
    std::env::var("CHECKRAIL_PROGRESS_INTERVAL_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(HEARTBEAT, std::time::Duration::from_millis)
}

impl CheckrailMcp {
    /// A server over a session service.
    pub fn new(service: Arc<Service>) -> Self {
        Self {
            service,
            tool_router: Arc::new(OnceLock::new()),
            heartbeat: heartbeat(),
        }
    }

    /// The tools and their handlers (made on first use).
    fn router(&self) -> &ToolRouter<Self> {
        self.tool_router.get_or_init(Self::router_now)
    }

    /// Every tool with its handler, its schemas keeping standard formats
    /// only.
    fn router_now() -> ToolRouter<Self> {
        let mut tool_router = Self::list_router()
            + Self::get_router()
            + Self::start_router()
            + Self::next_router()
            + Self::validate_router()
            + Self::state_router()
            + Self::control_router();
        for route in tool_router.map.values_mut() {
            let tool = &mut route.attr;
            let mut input = (*tool.input_schema).clone();
            standard_formats(&mut input);
            tool.input_schema = Arc::new(input);
            if let Some(output) = &tool.output_schema {
                let mut output = (**output).clone();
                standard_formats(&mut output);
                without_descriptions(&mut output);
                tool.output_schema = Some(Arc::new(output));
            }
        }
        tool_router
    }

    /// Runs blocking engine work on the blocking pool; an engine error
    /// becomes the message the agent sees.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Service) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let service = self.service.clone();
        match tokio::task::spawn_blocking(move || work(&service)).await {
            Ok(result) => result.map_err(|e| crate::error::chain(&e)),
            Err(e) => Err(format!("internal error, nothing was changed: {e}")),
        }
    }
}

#[tool_handler(router = self.router())]
impl ServerHandler for CheckrailMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new("checkrail", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, McpError> {
        use opentelemetry::context::FutureExt as _;
        let tool = request.name.to_string();
        let known = self.router().has_route(&tool);
        let span = known
            .then(|| crate::telemetry::tool_call(&tool, &context.id.to_string()))
            .flatten();
        // A client that speaks the Tasks extension gets a long check as a
        // task at once (see `mcp/tasks.rs`).
        let tasked = context
            .client_capabilities()
            .is_some_and(|caps| caps.supports_tasks())
            .then(|| super::tasks::as_task(&request))
            .flatten();
        let answer = match tasked {
            Some(args) => Ok(self.validate_as_task(args).await),
            None => {
                let call =
                    rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
                match &span {
                    Some(cx) => self.router().call(call).with_context(cx.clone()).await,
                    None => self.router().call(call).await,
                }
            }
        };
        if known {
            let error = match &answer {
                Ok(rmcp::model::CallToolResponse::Complete(result))
                    if result.is_error == Some(true) =>
                {
                    Some("tool_error")
                }
                Ok(_) => None,
                Err(_) => Some("protocol_error"),
            };
            crate::metrics::global().tool_call(&tool, error.is_none());
            if let Some(cx) = &span {
                crate::telemetry::end_tool_call(cx, error);
            }
        }
        answer
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(listed_result(
            context.protocol_version().as_ref(),
            listed_tools().to_vec(),
        ))
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, McpError> {
        self.task_state(&request.task_id).await
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Err(McpError::invalid_request(
            format!(
                "task `{}` cannot be cancelled: a check runs to its end and records its result, so a verdict is never half made; ask tasks/get for it",
                crate::error::clip(&request.task_id)
            ),
            None,
        ))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let service = self.service.clone();
        tokio::task::spawn_blocking(move || super::resources::list(&service))
            .await
            .map_err(|e| McpError::internal_error(e.to_string(), None))?
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(super::resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let service = self.service.clone();
        tokio::task::spawn_blocking(move || super::resources::read(&service, &request.uri))
            .await
            .map_err(|e| McpError::internal_error(e.to_string(), None))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Descriptions go, everything else stays: a property named
    /// `description`, and data that holds one.
    #[test]
    fn only_the_prose_leaves_an_output_schema() {
        let mut schema = serde_json::json!({
            "description": "an answer",
            "type": "object",
            "properties": {
                "description": {"type": "string", "description": "a field"},
                "items": {"type": "array", "items": {"description": "x", "type": "integer"}},
                "kind": {"oneOf": [{"const": "a", "description": "the a"}], "default": {"description": "kept"}}
            },
            "$defs": {"Inner": {"description": "inner", "type": "null"}}
        });
        let serde_json::Value::Object(map) = &mut schema else {
            unreachable!()
        };
        without_descriptions(map);
        assert_eq!(
            schema,
            serde_json::json!({
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "items": {"type": "array", "items": {"type": "integer"}},
                    "kind": {"oneOf": [{"const": "a"}], "default": {"description": "kept"}}
                },
                "$defs": {"Inner": {"type": "null"}}
            })
        );
    }

    /// The relay's answer to a bare `tools/list` is, to the byte's
    /// meaning, what `list_tools` answers, for old and new protocols.
    #[test]
    fn the_spliced_answer_is_the_handlers() {
        for version in [
            None,
            Some(ProtocolVersion::V_2025_06_18),
            Some(ProtocolVersion::V_2026_07_28),
        ] {
            let spliced = listed_tools_answer(version.as_ref());
            let made = listed_answer(version.as_ref(), listed_tools().to_vec());
            assert_eq!(
                spliced.len(),
                serde_json::to_string(&made).expect("serialize").len(),
                "written as serde_json writes it"
            );
            let spliced: serde_json::Value = serde_json::from_str(&spliced).expect("JSON");
            assert_eq!(
                spliced,
                serde_json::to_value(made).expect("serialize"),
                "{version:?}"
            );
        }
    }

    /// `mcp/tools.json` is what the router lists; with `CHECKRAIL_BLESS=1`
    /// the test writes it.
    #[test]
    fn the_listed_tools_are_the_routers() {
        let made = CheckrailMcp::router_now().list_all();
        let made_text = serde_json::to_string_pretty(&made).expect("tools serialize") + "\n";
        if std::env::var_os("CHECKRAIL_BLESS").is_some() {
            let file = concat!(env!("CARGO_MANIFEST_DIR"), "/src/mcp/tools.json");
            std::fs::write(file, &made_text).expect("write tools.json");
            return;
        }
        let listed: serde_json::Value =
            serde_json::from_str(LISTED_TOOLS).expect("tools.json reads");
        let made: serde_json::Value = serde_json::to_value(&made).expect("tools serialize");
        assert!(
            listed == made,
            "host/src/mcp/tools.json is not what the tools declare; write it again with \
             `CHECKRAIL_BLESS=1 cargo test -p checkrail --lib the_listed_tools_are_the_routers`"
        );
        assert_eq!(
            serde_json::to_value(listed_tools()).expect("serialize"),
            made,
            "the listed tools read back as written"
        );
    }
}
