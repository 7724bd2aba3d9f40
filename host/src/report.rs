//! What a checkpoint run returns: per-rule results with findings. The CLI
//! prints these; `--json` and the MCP server serialize them as they are.

use checkrail_sdk::Finding;
use serde::Serialize;

use crate::schema::Violation;
use crate::workflow::Severity;

/// How one rule ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    /// Ran and passed.
    Passed,
    /// Ran and found blocking problems.
    Failed,
    /// Could not run to completion: it reported an error, or the sandbox
    /// stopped it (deadline, memory cap, panic, trap).
    Error,
}

/// The result of one rule.
#[derive(Debug, Clone, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RuleReport {
    /// Rule id.
    pub rule: String,
    /// Rule version that ran.
    pub version: String,
    /// sha256 of the component that ran.
    pub digest: String,
    /// What this use checks, from the workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether a failure blocks.
    pub severity: Severity,
    /// How it ended.
    pub status: RuleStatus,
    /// One line for humans.
    pub summary: String,
    /// What it found.
    pub findings: Vec<Finding>,
    /// Wall time of the check, in milliseconds.
    pub duration_ms: f64,
    /// The result was reused from the outcome cache: the rule, its config
    /// and its input files are unchanged since it was computed.
    #[serde(default)]
    pub cached: bool,
    /// Facts the rule recorded for later phases of the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<serde_json::Value>,
}

impl RuleReport {
    /// Whether this result blocks its checkpoint.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Block && self.status != RuleStatus::Passed
    }
}

/// The result of one checkpoint.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CheckpointReport {
    /// Workflow id.
    pub workflow: String,
    /// Workflow version.
    pub workflow_version: String,
    /// Phase id.
    pub phase: String,
    /// Whether every blocking rule passed and the evidence is valid.
    pub passed: bool,
    /// One line for humans.
    pub summary: String,
    /// Where the evidence breaks the checkpoint's evidence schema.
    pub evidence_violations: Vec<Violation>,
    /// Each rule's result, in checkpoint order.
    pub rules: Vec<RuleReport>,
    /// When the checkpoint also needs a human's approval: what to approve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_required: Option<String>,
    /// Wall time of the whole checkpoint, in milliseconds.
    pub duration_ms: f64,
}
