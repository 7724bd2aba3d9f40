//! What a running server counts, for `/metrics` in Prometheus' text format:
//! tool calls by tool and outcome, validate latency, rule durations by rule,
//! outcome-cache hits and misses, sessions by status and approvals waiting.
//!
//! One registry per process, like Prometheus' own clients: every MCP
//! session of a server (one per HTTP client) counts into it.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::report::CheckpointReport;
use crate::session::Status;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: String,
    /// `ok`, or `error` for a call answered with `isError` or a protocol
    /// error.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    tool_calls: Family<ToolLabels, Counter>,
    validate_seconds: Histogram,
    rule_seconds: Family<RuleLabels, Histogram>,
    cache: Family<CacheLabels, Counter>,
    sessions: Family<StatusLabels, Gauge>,
    approvals_waiting: Gauge,
}

/// Durations from 1 ms to about 20 minutes.
fn duration_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 21)
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("checkrail");
        let tool_calls = Family::<ToolLabels, Counter>::default();
        registry.register(
            "tool_calls",
            "MCP tool calls by tool and outcome (error: answered with isError or a protocol error)",
            tool_calls.clone(),
        );
        let validate_seconds = Histogram::new(duration_buckets());
        registry.register(
            "validate_duration_seconds",
            "Time to answer workflow_validate, checks included",
            validate_seconds.clone(),
        );
        let rule_seconds = Family::<RuleLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(duration_buckets())
        });
        registry.register(
            "rule_duration_seconds",
            "Time each rule took in a checkpoint (cached results count as their lookup)",
            rule_seconds.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "outcome_cache",
            "Rule results served from the outcome cache (hit) or run (miss)",
            cache.clone(),
        );
        let sessions = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "sessions",
            "Sessions of the served workspace by status",
            sessions.clone(),
        );
        let approvals_waiting = Gauge::default();
        registry.register(
            "approvals_waiting",
            "Sessions waiting for a human's approval",
            approvals_waiting.clone(),
        );
        Self {
            registry,
            tool_calls,
            validate_seconds,
            rule_seconds,
            cache,
            sessions,
            approvals_waiting,
        }
    }

    /// Counts one tool call.
    pub fn tool_call(&self, tool: &str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.tool_calls
            .get_or_create(&ToolLabels {
                tool: tool.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Records one `workflow_validate` answer and the rules it ran.
    pub fn validated(&self, took: Duration, report: Option<&CheckpointReport>) {
        self.validate_seconds.observe(took.as_secs_f64());
        for rule in report.iter().flat_map(|r| r.rules.iter()) {
            if rule.rule.starts_with("checkrail/") {
                continue;
            }
            self.rule_seconds
                .get_or_create(&RuleLabels {
                    rule: rule.rule.clone(),
                })
                .observe(rule.duration_ms / 1000.0);
            let result = if rule.cached { "hit" } else { "miss" };
            self.cache.get_or_create(&CacheLabels { result }).inc();
        }
    }

    /// The text exposition, with the session gauges set from `sessions`.
    pub fn render(&self, counts: &std::collections::BTreeMap<String, u64>) -> String {
        self.sessions.clear();
        // Every status, so each has a series even at zero.
        for status in Status::ALL {
            let count = counts.get(status.as_str()).copied().unwrap_or(0);
            self.sessions
                .get_or_create(&StatusLabels {
                    status: status.as_str(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let waiting = counts
            .get(Status::AwaitingApproval.as_str())
            .copied()
            .unwrap_or(0);
        self.approvals_waiting
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Metrics::new();
        metrics.tool_call("workflow_validate", true);
        metrics.tool_call("workflow_validate", false);
        metrics.validated(Duration::from_millis(3), None);
        let text = metrics.render(&std::collections::BTreeMap::new());
        assert!(
            text.contains(
                "checkrail_tool_calls_total{tool=\"workflow_validate\",outcome=\"error\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("checkrail_validate_duration_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("checkrail_sessions{status=\"active\"} 0"),
            "{text}"
        );
        assert!(text.contains("checkrail_approvals_waiting 0"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
