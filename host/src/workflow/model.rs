//! The workflow model, deserialized after schema validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A workflow: ordered phases, each with guidance and an optional checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workflow {
    /// Stable id.
    pub id: String,
    /// Semver version.
    pub version: semver::Version,
    /// Human name.
    pub name: String,
    /// What the workflow is for.
    pub description: String,
    /// Category, e.g. `docs`.
    #[serde(default)]
    pub category: Option<String>,
    /// Tags for filtering.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Values supplied when starting.
    #[serde(default)]
    pub inputs: BTreeMap<String, Input>,
    /// The phases, in order.
    pub phases: Vec<Phase>,
    /// sha256 of the source text; sessions pin it.
    #[serde(skip_deserializing)]
    pub digest: String,
    /// File path or `bundled:<file>`.
    #[serde(skip_deserializing)]
    pub source: String,
}

impl Workflow {
    /// The phase with this id.
    pub fn phase(&self, id: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.id == id)
    }

    /// Ids of all phases, in order.
    pub fn phase_ids(&self) -> Vec<String> {
        self.phases.iter().map(|p| p.id.clone()).collect()
    }
}

/// A value the agent supplies when starting a workflow.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Input {
    /// What it is.
    pub description: String,
    /// Whether it must be given.
    #[serde(default)]
    pub required: bool,
    /// Value when not given.
    #[serde(default)]
    pub default: Option<String>,
}

/// One phase of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    /// Id, unique in the workflow.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Markdown for the agent.
    pub guidance: String,
    /// Optional task list.
    #[serde(default)]
    pub tasks: Vec<String>,
    /// What is checked before the phase is done.
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
}

/// What must hold before a phase is done.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// For humans.
    #[serde(default)]
    pub description: Option<String>,
    /// JSON Schema the evidence must match.
    #[serde(default)]
    pub evidence_schema: Option<serde_json::Value>,
    /// Rules to run.
    #[serde(default)]
    pub rules: Vec<RuleUse>,
    /// Human approval gate.
    #[serde(default)]
    pub approval: Option<Approval>,
    /// Files frozen since an earlier phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen: Option<Frozen>,
}

/// Files that must be unchanged since an earlier phase passed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frozen {
    /// Id of the earlier phase.
    pub since: String,
    /// Workspace-relative globs.
    pub paths: Vec<String>,
    /// Whether new matching files are allowed.
    #[serde(default = "yes")]
    pub allow_new: bool,
}

fn yes() -> bool {
    true
}

/// A human approval gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approval {
    /// What the human is asked to confirm.
    pub prompt: String,
}

/// One rule run by a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleUse {
    /// Rule reference, e.g. `file-exists@^0.1`.
    pub rule: String,
    /// What this use checks, for humans.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether a failure blocks the checkpoint.
    #[serde(default)]
    pub severity: Severity,
    /// The rule's config.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Deadline override.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Memory cap override.
    #[serde(default)]
    pub memory_mb: Option<u32>,
    /// Globs of the files the result depends on, overriding the rule's own
    /// (`[]` turns caching off for this use).
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Whether a failing rule blocks its checkpoint.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Failure fails the checkpoint.
    #[default]
    Block,
    /// Failure is reported only.
    Warn,
}
