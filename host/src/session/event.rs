//! The session log's schema: one [`EventData`] variant per kind of event,
//! with the details it records. The state machine (and the store, for
//! `started` and `imported`) emits them; the store writes each as its
//! kind's name and its details as JSON, chains and authenticates that
//! text, and decodes what it reads back once; every reader matches on the
//! variants.
//!
//! The stored text is what is verified, never a re-encoding of it, so a
//! log written by an earlier release verifies whatever this one makes of
//! it. Details this release cannot read decode as
//! [`EventData::Unreadable`], kept as stored, so nothing is lost and no
//! reader mistakes them for something else.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ApprovalChannel;
use crate::report::CheckpointReport;

/// What happened, with its details; the variant names the kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum EventData {
    /// The session began, pinning its workflow.
    Started(Started),
    /// A checkpoint passed.
    Validated(Verdict),
    /// A checkpoint failed.
    ValidationFailed(Verdict),
    /// The session moved to another phase.
    Advanced(Moved),
    /// Every phase is done.
    Completed,
    /// A passed checkpoint waits for a human.
    ApprovalRequested,
    /// A human approved.
    Approved(HumanDecision),
    /// A human rejected.
    Rejected(HumanDecision),
    /// Paused.
    Paused,
    /// Resumed.
    Resumed,
    /// The current phase started over.
    Retried(Retried),
    /// Back to an earlier phase.
    RolledBack(Moved),
    /// Given up.
    Abandoned,
    /// The agent (or the stop hook on its behalf) asked a human to decide.
    Escalated(Escalation),
    /// A result that arrived after the session moved on: recorded, not
    /// applied.
    StaleValidationIgnored,
    /// A human accepted changed judging files.
    JudgingChangesAccepted(Accepted),
    /// Copied from an old in-workspace database.
    Imported(Imported),
    /// A phase or group was skipped (condition, branch, empty list).
    Skipped(Skipped),
    /// An iteration of a loop group began.
    IterationStarted(IterationStarted),
    /// A task of the current phase is done.
    TaskDone(TaskDone),
    /// A check began apart from the request that asked for it.
    CheckStarted(CheckStarted),
    /// Such a check could not run (its result is an error, not a report).
    CheckErrored(CheckErrored),
    /// A record this release cannot read: an unknown kind, or details of
    /// another shape. Kept exactly as stored.
    #[serde(skip)]
    Unreadable {
        /// The kind as stored.
        kind: String,
        /// The details as stored.
        data: Value,
    },
}

/// How a session began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    /// Workflow id.
    pub workflow: String,
    /// Workflow version.
    pub version: String,
    /// sha256 of the workflow's source.
    pub digest: String,
    /// sha256 of the pinned, parsed workflow.
    pub pinned_workflow_sha256: String,
    /// Where the workflow came from.
    pub provenance: Value,
}

/// A checkpoint's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The id of the check that ran apart from its request (none when the
    /// request waited for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// The git id of the working tree the checkpoint passed on (tracked
    /// and untracked files, not ignored ones), when the workspace is a git
    /// repository: what `checkrail attest` binds to a commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// The report.
    #[serde(flatten)]
    pub report: CheckpointReport,
}

/// A move from one phase to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moved {
    /// The phase left.
    pub from: String,
    /// The phase entered.
    pub to: String,
    /// The loop iteration entered (none outside loops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
}

/// A human's decision, and how it reached checkrail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanDecision {
    /// Who decided.
    pub by: String,
    /// Through which human channel.
    pub channel: ApprovalChannel,
    /// Channel details (the terminal device, the client's name).
    #[serde(default)]
    pub detail: Option<String>,
    /// The human's note.
    #[serde(default)]
    pub note: Option<String>,
}

/// A retry of the current phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retried {
    /// The failed attempts it cleared.
    pub cleared_attempts: u32,
    /// The loop iteration it concerns.
    #[serde(default)]
    pub iteration: Option<u32>,
}

/// Judging files a human accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    /// What changed, one line per file.
    pub changes: Vec<String>,
    /// Who accepted, and how.
    #[serde(flatten)]
    pub decision: HumanDecision,
}

/// Why a session waits for a human, and who asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// The agent's reason.
    pub reason: String,
    /// Who escalated: `agent`, or `stop hook` when the block budget ran out.
    pub by: String,
}

/// Where imported sessions came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imported {
    /// The old database file.
    pub from: String,
}

/// A phase or group that did not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// Why.
    pub reason: String,
    /// The loop iteration it concerns.
    #[serde(default)]
    pub iteration: Option<u32>,
}

/// An iteration of a loop group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationStarted {
    /// The group.
    pub group: String,
    /// Its number, from 1.
    pub iteration: u32,
    /// How many there are at most (`foreach`: the list's length).
    pub of: u32,
    /// The list item of a `foreach` group.
    #[serde(default)]
    pub item: Option<Value>,
    /// Why it began.
    pub reason: String,
}

/// A task known to be done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDone {
    /// The task's id.
    pub task: String,
    /// The loop iteration it belongs to.
    #[serde(default)]
    pub iteration: Option<u32>,
    /// How it was known.
    pub how: TaskProof,
}

/// How a task was known to be done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TaskProof {
    /// Its `done_when` rule passed, with this summary.
    Rule {
        /// The rule's summary.
        rule: String,
    },
    /// Its `done_when` evidence field was set.
    Evidence {
        /// The field.
        evidence: String,
    },
    /// The agent said so (the task has no `done_when`).
    Word(String),
}

impl TaskProof {
    /// What is recorded when the agent's word is all there is.
    pub fn agents_word() -> Self {
        TaskProof::Word("the agent's word".to_owned())
    }
}

/// A check that began apart from its request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckStarted {
    /// Check id, stamped on its result.
    pub check: String,
    /// The loop iteration it checks.
    #[serde(default)]
    pub iteration: Option<u32>,
    /// The server instance running it.
    pub owner: String,
    /// When it began.
    pub started_at: String,
    /// When it must have ended.
    pub deadline: String,
    /// The check it replaced, if one was still recorded as running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// A check that could not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckErrored {
    /// Check id.
    pub check: String,
    /// The loop iteration it checked.
    #[serde(default)]
    pub iteration: Option<u32>,
    /// What went wrong.
    pub error: String,
}

impl EventData {
    /// The kind's name, as stored.
    pub fn kind(&self) -> &str {
        match self {
            EventData::Started(_) => "started",
            EventData::Validated(_) => "validated",
            EventData::ValidationFailed(_) => "validation_failed",
            EventData::Advanced(_) => "advanced",
            EventData::Completed => "completed",
            EventData::ApprovalRequested => "approval_requested",
            EventData::Approved(_) => "approved",
            EventData::Rejected(_) => "rejected",
            EventData::Paused => "paused",
            EventData::Resumed => "resumed",
            EventData::Retried(_) => "retried",
            EventData::RolledBack(_) => "rolled_back",
            EventData::Abandoned => "abandoned",
            EventData::Escalated(_) => "escalated",
            EventData::StaleValidationIgnored => "stale_validation_ignored",
            EventData::JudgingChangesAccepted(_) => "judging_changes_accepted",
            EventData::Imported(_) => "imported",
            EventData::Skipped(_) => "skipped",
            EventData::IterationStarted(_) => "iteration_started",
            EventData::TaskDone(_) => "task_done",
            EventData::CheckStarted(_) => "check_started",
            EventData::CheckErrored(_) => "check_errored",
            EventData::Unreadable { kind, .. } => kind,
        }
    }

    /// The kind's name and the details as they are stored (`null` for a
    /// kind without details).
    pub fn to_stored(&self) -> (String, Value) {
        if let EventData::Unreadable { kind, data } = self {
            return (kind.clone(), data.clone());
        }
        let kind = self.kind().to_owned();
        let data = match serde_json::to_value(self) {
            Ok(Value::Object(mut tagged)) => tagged.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        };
        (kind, data)
    }

    /// Reads a stored event; what this release cannot read is kept as
    /// [`EventData::Unreadable`].
    pub fn decode(kind: &str, data: Value) -> Self {
        let tagged = serde_json::json!({ "kind": kind, "data": data });
        serde_json::from_value(tagged).unwrap_or_else(|_| EventData::Unreadable {
            kind: kind.to_owned(),
            data,
        })
    }

    /// A checkpoint's result, whether it passed, and its report.
    pub fn verdict(&self) -> Option<(bool, &Verdict)> {
        match self {
            EventData::Validated(verdict) => Some((true, verdict)),
            EventData::ValidationFailed(verdict) => Some((false, verdict)),
            _ => None,
        }
    }

    /// The loop iteration the session stands in after this event, for the
    /// events that move it.
    fn moves_to(&self) -> Option<Option<u32>> {
        match self {
            EventData::IterationStarted(started) => Some(Some(started.iteration)),
            EventData::Advanced(moved) | EventData::RolledBack(moved) => Some(moved.iteration),
            _ => None,
        }
    }
}

/// An event the state machine decided on, before the store numbers,
/// chains and authenticates it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Phase it concerns.
    pub phase: Option<String>,
    /// What happened.
    pub data: EventData,
}

impl NewEvent {
    /// An event about `phase`.
    pub fn new(phase: Option<&str>, data: EventData) -> Self {
        Self {
            phase: phase.map(str::to_owned),
            data,
        }
    }
}

/// One entry of a session's append-only log, decoded. It reads (and
/// serializes) as `{seq, at, kind, phase, data}`, the details as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Position in the whole log.
    pub seq: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Phase it concerns.
    pub phase: Option<String>,
    /// What happened.
    pub data: EventData,
}

impl Event {
    /// The kind's name.
    pub fn kind(&self) -> &str {
        self.data.kind()
    }

    /// The details as stored.
    pub fn details(&self) -> Value {
        self.data.to_stored().1
    }
}

/// An event as clients read it.
#[derive(Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Event")]
struct Shown {
    /// Position in the whole log.
    seq: i64,
    /// When (RFC 3339, UTC).
    at: String,
    /// What happened: `started`, `validated`, `advanced`, `approved`, `paused`, ...
    kind: String,
    /// Phase it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<String>,
    /// Details.
    data: Value,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, data) = self.data.to_stored();
        Shown {
            seq: self.seq,
            at: self.at.clone(),
            kind,
            phase: self.phase.clone(),
            data,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let shown = Shown::deserialize(deserializer)?;
        Ok(Event {
            seq: shown.seq,
            at: shown.at,
            phase: shown.phase,
            data: EventData::decode(&shown.kind, shown.data),
        })
    }
}

impl JsonSchema for Event {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        Shown::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        Shown::json_schema(generator)
    }
}

/// Each event with the loop iteration the session stood in once it was
/// recorded (`None` outside loops): what a reader of a validation needs to
/// file it under its occurrence.
pub fn placed(events: &[Event]) -> impl Iterator<Item = (Option<u32>, &Event)> {
    events.iter().scan(None, |iteration, event| {
        if let Some(now) = event.data.moves_to() {
            *iteration = now;
        }
        Some((*iteration, event))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_without_details_are_stored_as_null_and_read_back() {
        for data in [
            EventData::Completed,
            EventData::Paused,
            EventData::StaleValidationIgnored,
        ] {
            let (kind, stored) = data.to_stored();
            assert_eq!(stored, Value::Null);
            assert_eq!(EventData::decode(&kind, stored), data);
        }
    }

    #[test]
    fn details_round_trip_through_their_stored_form() {
        let data = EventData::CheckStarted(CheckStarted {
            check: "chk-1".to_owned(),
            iteration: Some(2),
            owner: "host/1".to_owned(),
            started_at: "t0".to_owned(),
            deadline: "t1".to_owned(),
            replaces: None,
        });
        let (kind, stored) = data.to_stored();
        assert_eq!(kind, "check_started");
        assert_eq!(stored["check"], "chk-1");
        assert!(stored.get("replaces").is_none());
        assert_eq!(EventData::decode(&kind, stored), data);
        let how = [
            (json!({"rule": "1 of 1 rules passed"}), "rule"),
            (json!({"evidence": "ticket"}), "evidence"),
            (json!("the agent's word"), "word"),
        ];
        for (proof, expected) in how {
            let read = EventData::decode(
                "task_done",
                json!({"task": "t", "iteration": null, "how": proof}),
            );
            let EventData::TaskDone(done) = read else {
                panic!("{read:?}")
            };
            let seen = match done.how {
                TaskProof::Rule { .. } => "rule",
                TaskProof::Evidence { .. } => "evidence",
                TaskProof::Word(_) => "word",
            };
            assert_eq!(seen, expected);
        }
    }

    #[test]
    fn what_cannot_be_read_is_kept_as_stored() {
        let odd = json!({"something": ["else"]});
        for kind in ["validated", "a_kind_from_the_future"] {
            let read = EventData::decode(kind, odd.clone());
            assert_eq!(read.kind(), kind);
            assert_eq!(read.to_stored(), (kind.to_owned(), odd.clone()));
        }
    }

    #[test]
    fn events_are_placed_in_the_iteration_they_belong_to() {
        let at = |data| Event {
            seq: 0,
            at: String::new(),
            phase: None,
            data,
        };
        let moved = |iteration| {
            EventData::Advanced(Moved {
                from: "a".to_owned(),
                to: "b".to_owned(),
                iteration,
            })
        };
        let log = [
            at(EventData::Paused),
            at(EventData::IterationStarted(IterationStarted {
                group: "g".to_owned(),
                iteration: 2,
                of: 3,
                item: None,
                reason: "r".to_owned(),
            })),
            at(EventData::Resumed),
            at(moved(None)),
            at(EventData::Completed),
        ];
        let placed: Vec<_> = placed(&log).map(|(n, _)| n).collect();
        assert_eq!(placed, [None, Some(2), Some(2), None, None]);
    }
}
