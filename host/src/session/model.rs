//! Session state and events.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Working on the current phase.
    Active,
    /// The current phase's checks passed; a human must approve it.
    AwaitingApproval,
    /// Paused by the agent or a human; resume to continue.
    Paused,
    /// The agent asked a human to decide: it cannot finish without
    /// changing what judges it. A human rejects (back to work, with a
    /// note), accepts the change (`accept-changes`), or abandons.
    Escalated,
    /// Every phase is done.
    Completed,
    /// Given up; final.
    Abandoned,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 6] = [
        Status::Active,
        Status::AwaitingApproval,
        Status::Paused,
        Status::Escalated,
        Status::Completed,
        Status::Abandoned,
    ];

    /// Name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::AwaitingApproval => "awaiting_approval",
            Status::Paused => "paused",
            Status::Escalated => "escalated",
            Status::Completed => "completed",
            Status::Abandoned => "abandoned",
        }
    }

    /// Parses a stored or user-given name.
    pub fn parse(text: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the session waits for a human (a gate or an escalation).
    pub fn waits_for_human(self) -> bool {
        matches!(self, Status::AwaitingApproval | Status::Escalated)
    }

    /// Whether nothing more can happen to the session.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Abandoned)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Current state of a session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// Workflow id.
    pub workflow_id: String,
    /// Workflow version pinned at start.
    pub workflow_version: String,
    /// sha256 of the workflow source pinned at start.
    pub workflow_digest: String,
    /// Where it stands.
    pub status: Status,
    /// Index of the current phase.
    pub phase_index: usize,
    /// Id of the current phase.
    pub phase_id: String,
    /// Status to return to on resume, while paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_from: Option<Status>,
    /// Failed validations of the current phase since it began (or was retried).
    pub attempts: u32,
    /// Inputs given at start.
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// Evidence of each passed phase, by phase id; later phases use it as
    /// `{{evidence.<phase>.<field>}}`.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// Facts rules recorded at each passed phase: phase id → rule id →
    /// facts. Later checks of the same rule compare against them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// Files recorded when a phase passed, for later checkpoints that freeze
    /// them: phase id → path → sha256.
    #[serde(skip)]
    pub snapshots: serde_json::Map<String, serde_json::Value>,
    /// Judging files as accepted for this session (at start, or when a
    /// human last accepted a change): path → sha256.
    #[serde(skip)]
    pub judging: serde_json::Map<String, serde_json::Value>,
    /// Where the pinned workflow came from (bundled, workspace file, pack),
    /// its digest, and the bundled digest when a workspace file overrides a
    /// bundled workflow.
    pub provenance: serde_json::Value,
    /// When it started (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// Bumped by every change; guards concurrent writers.
    pub revision: i64,
    /// The iteration (1-based) of the loop group the current phase belongs
    /// to; absent outside loops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// Loop groups entered so far, by group id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub loops: BTreeMap<String, LoopRun>,
    /// The path taken: every phase passed or skipped, in order, with its
    /// iteration inside loops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<Step>,
    /// Tasks the session knows to be done, by phase occurrence (`phase`, or
    /// `phase#n` inside a loop).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks_done: BTreeMap<String, Vec<String>>,
    /// Files phases produced, by phase occurrence: path → `{size, sha256}`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub artifacts: serde_json::Map<String, serde_json::Value>,
    /// The check started with `workflow_validate` `wait: false` that has
    /// not reported yet (its result clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_check: Option<RunningCheck>,
    /// The result of the latest such check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<CheckResult>,
}

/// A check that runs apart from the request that started it, as recorded
/// when it began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunningCheck {
    /// Check id, stamped on its result event.
    pub id: String,
    /// The phase it checks.
    pub phase: String,
    /// The loop iteration it checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// The server instance running it.
    pub owner: String,
    /// When it began (RFC 3339, UTC).
    pub started_at: String,
    /// When it must have ended (RFC 3339, UTC): the checkpoint's rule
    /// deadlines added up, plus a margin. Past it, it counts as
    /// interrupted whatever its owner says.
    pub deadline: String,
}

/// How a check that ran apart from its request ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckResult {
    /// Check id.
    pub id: String,
    /// The phase it checked.
    pub phase: String,
    /// The loop iteration it checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// Whether the checkpoint passed.
    pub passed: bool,
    /// The report's summary, or why the check could not run.
    pub summary: String,
    /// Set when the check could not run at all (no report was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A loop group as the session runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoopRun {
    /// The current (or last) iteration, 1-based.
    pub iteration: u32,
    /// The list a `foreach` group loops over, fixed when it was entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<serde_json::Value>>,
}

/// How a phase ended on the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its checks passed (and its gate was approved).
    Passed,
    /// Its condition was false, a branch jumped over it, or its group was
    /// skipped.
    Skipped,
    /// The last checkpoint of a `repeat` group failed, so the group ran
    /// again.
    Repeated,
}

/// One step of the path a session took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// Phase id (a group id when a whole group was skipped).
    pub phase: String,
    /// Iteration of its loop group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it was skipped or repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What `workflow_control` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Stop working for now (active or awaiting approval → paused).
    Pause,
    /// Continue a paused session.
    Resume,
    /// Start the current phase over: clears its failed attempts.
    Retry,
    /// Go back to an earlier phase (needs `to_phase`).
    Rollback,
    /// Give the session up for good.
    Abandon,
    /// Ask a human to decide (needs `reason`): the phase cannot be done
    /// without changing what judges it. The session waits until a human
    /// rejects (back to work), accepts the change, or abandons.
    Escalate,
    /// Remove a completed or abandoned session; an audit entry stays.
    Delete,
}
