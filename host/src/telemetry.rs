//! Optional OpenTelemetry traces, exported over OTLP/HTTP (JSON) when the
//! server is given an endpoint; off otherwise, with nothing recorded.
//!
//! One span per MCP tool call, named and attributed after the MCP semantic
//! conventions (`tools/call <tool>`, `mcp.method.name`, `gen_ai.tool.name`,
//! `gen_ai.operation.name`, `jsonrpc.request.id`, `error.type`), and one
//! child span per rule a checkpoint ran, with the rule's id, version,
//! status and whether its result came from the cache.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::report::CheckpointReport;

static TRACER: OnceLock<opentelemetry_sdk::trace::SdkTracer> = OnceLock::new();

/// Keeps the exporter running; dropping it flushes what is pending.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!("flushing traces to the OTLP endpoint failed: {e}");
        }
    }
}

/// Starts exporting traces to `endpoint` (the collector's base URL, e.g.
/// `http://localhost:4318`; `/v1/traces` is added). Call once, before the
/// server starts.
pub fn init(endpoint: &str) -> Result<Telemetry, String> {
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    // The HTTP client is built on rustls with ring, as for registries.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(url.clone())
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("set up the OTLP exporter for `{url}`: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name("checkrail")
                .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .build();
    let _ = TRACER.set(provider.tracer("checkrail"));
    Ok(Telemetry { provider })
}

/// Whether traces are being exported.
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

/// The context of a new span for a call of `tool`, as the parent of what
/// the call does; `None` when traces are off.
pub fn tool_call(tool: &str, request_id: &str) -> Option<Context> {
    let tracer = TRACER.get()?;
    let span = tracer
        .span_builder(format!("tools/call {tool}"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("mcp.method.name", "tools/call"),
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", tool.to_owned()),
            KeyValue::new("jsonrpc.request.id", request_id.to_owned()),
        ])
        .start(tracer);
    Some(Context::current_with_span(span))
}

/// Ends the span of a tool call; `error` marks a call answered with
/// `isError` or a protocol error.
pub fn end_tool_call(cx: &Context, error: Option<&str>) {
    let span = cx.span();
    if let Some(kind) = error {
        span.set_attribute(KeyValue::new("error.type", kind.to_owned()));
        span.set_status(Status::error(kind.to_owned()));
    }
    span.end();
}

/// Child spans of the current context for the rules a checkpoint ran,
/// timed from their durations, ending now.
pub fn rules(report: &CheckpointReport, session: &str) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    let parent = Context::current();
    let now = SystemTime::now();
    for rule in &report.rules {
        let took = Duration::from_secs_f64((rule.duration_ms / 1000.0).max(0.0));
        let mut span = tracer
            .span_builder(format!("rule {}", rule.rule))
            .with_kind(SpanKind::Internal)
            .with_start_time(now.checked_sub(took).unwrap_or(now))
            .with_attributes([
                KeyValue::new("checkrail.rule.id", rule.rule.clone()),
                KeyValue::new("checkrail.rule.version", rule.version.clone()),
                KeyValue::new(
                    "checkrail.rule.status",
                    format!("{:?}", rule.status).to_lowercase(),
                ),
                KeyValue::new("checkrail.rule.cached", rule.cached),
                KeyValue::new("checkrail.rule.findings", rule.findings.len() as i64),
                KeyValue::new("checkrail.phase", report.phase.clone()),
                KeyValue::new("checkrail.session.id", session.to_owned()),
            ])
            .start_with_context(tracer, &parent);
        span.end_with_timestamp(now);
    }
}
