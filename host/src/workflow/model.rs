//! The workflow model, deserialized after schema validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A workflow: ordered phases, each with guidance and an optional checkpoint.
///
/// In a file, `phases` may hold groups (`{ id, foreach | repeat, phases }`)
/// besides phases; in memory the phases are one flat list in file order and
/// each group names the range of it that it loops over.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "WorkflowFile", into = "WorkflowFile")]
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
    pub category: Option<String>,
    /// Tags for filtering.
    pub tags: Vec<String>,
    /// Values supplied when starting.
    pub inputs: BTreeMap<String, Input>,
    /// How long the whole workflow usually takes, in minutes (guidance).
    pub estimated_minutes: Option<u32>,
    /// Who should do it and how (guidance, never enforced).
    pub hints: Option<Hints>,
    /// Every phase, in file order, groups flattened.
    pub phases: Vec<Phase>,
    /// Loop groups, in file order.
    pub groups: Vec<Group>,
    /// sha256 of the source text; sessions pin it.
    pub digest: String,
    /// File path or `bundled:<file>`.
    pub source: String,
}

impl Workflow {
    /// The phase with this id.
    pub fn phase(&self, id: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.id == id)
    }

    /// Position of the phase with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.phases.iter().position(|p| p.id == id)
    }

    /// Ids of all phases, in order.
    pub fn phase_ids(&self) -> Vec<String> {
        self.phases.iter().map(|p| p.id.clone()).collect()
    }

    /// The group with this id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The group phase `index` belongs to.
    pub fn group_of(&self, index: usize) -> Option<&Group> {
        self.groups.iter().find(|g| g.range().contains(&index))
    }

    /// Whether the workflow is a straight line: no conditions, branches or
    /// loops.
    pub fn is_linear(&self) -> bool {
        self.groups.is_empty()
            && self
                .phases
                .iter()
                .all(|p| p.when.is_none() && p.next.is_empty())
    }

    /// JSON pointer of phase `index` in the workflow file.
    pub fn pointer(&self, index: usize) -> String {
        let mut top = 0;
        let mut i = 0;
        while i < index.min(self.phases.len()) {
            match self.groups.iter().find(|g| g.start == i) {
                Some(group) if index < group.end => {
                    return format!("/phases/{top}/phases/{}", index - group.start);
                }
                Some(group) => i = group.end,
                None => i += 1,
            }
            top += 1;
        }
        match self.groups.iter().find(|g| g.start == index) {
            Some(_) => format!("/phases/{top}/phases/0"),
            None => format!("/phases/{top}"),
        }
    }

    /// JSON pointer of a group in the workflow file.
    pub fn group_pointer(&self, group: &Group) -> String {
        let pointer = self.pointer(group.start);
        pointer
            .strip_suffix("/phases/0")
            .unwrap_or(&pointer)
            .to_owned()
    }
}

/// Phases that run again: once per item of a list (`foreach`), or until
/// the group's last checkpoint passes (`repeat`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// Id, unique among phase and group ids.
    pub id: String,
    /// Human name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Condition: when false, the whole group is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// CEL expression yielding the list to loop over, evaluated once when
    /// the group is entered; each iteration has its item as `item`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<String>,
    /// Run the group again while its last checkpoint fails.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeat: bool,
    /// Most iterations (a longer `foreach` list is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// First phase of the group (index into [`Workflow::phases`]).
    #[serde(skip)]
    pub start: usize,
    /// One past its last phase.
    #[serde(skip)]
    pub end: usize,
}

/// Iterations of a `foreach` group when it sets no `max_iterations`.
pub const DEFAULT_MAX_ITERATIONS: u32 = 100;

impl Group {
    /// The indices of its phases.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    /// Most iterations.
    pub fn max(&self) -> u32 {
        self.max_iterations.unwrap_or(DEFAULT_MAX_ITERATIONS)
    }

    /// `foreach` or `repeat`, for messages.
    pub fn kind(&self) -> &'static str {
        if self.foreach.is_some() {
            "foreach"
        } else {
            "repeat"
        }
    }
}

/// A workflow as written: groups nested in `phases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WorkflowFile {
    id: String,
    version: semver::Version,
    name: String,
    description: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    inputs: BTreeMap<String, Input>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    estimated_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hints: Option<Hints>,
    phases: Vec<Item>,
    #[serde(skip_deserializing)]
    digest: String,
    #[serde(skip_deserializing)]
    source: String,
}

/// One entry of `phases` in a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Item {
    Group(GroupFile),
    Phase(Box<Phase>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GroupFile {
    #[serde(flatten)]
    group: Group,
    phases: Vec<Phase>,
}

impl From<WorkflowFile> for Workflow {
    fn from(file: WorkflowFile) -> Self {
        let mut phases = Vec::new();
        let mut groups = Vec::new();
        for item in file.phases {
            match item {
                Item::Phase(phase) => phases.push(*phase),
                Item::Group(GroupFile {
                    mut group,
                    phases: inner,
                }) => {
                    group.start = phases.len();
                    for mut phase in inner {
                        phase.group = Some(group.id.clone());
                        phases.push(phase);
                    }
                    group.end = phases.len();
                    groups.push(group);
                }
            }
        }
        Workflow {
            id: file.id,
            version: file.version,
            name: file.name,
            description: file.description,
            category: file.category,
            tags: file.tags,
            inputs: file.inputs,
            estimated_minutes: file.estimated_minutes,
            hints: file.hints,
            phases,
            groups,
            digest: file.digest,
            source: file.source,
        }
    }
}

impl From<Workflow> for WorkflowFile {
    fn from(workflow: Workflow) -> Self {
        let mut items = Vec::new();
        let mut i = 0;
        while i < workflow.phases.len() {
            match workflow.groups.iter().find(|g| g.start == i) {
                Some(group) => {
                    items.push(Item::Group(GroupFile {
                        group: group.clone(),
                        phases: workflow.phases[group.range()].to_vec(),
                    }));
                    i = group.end.max(i + 1);
                }
                None => {
                    items.push(Item::Phase(Box::new(workflow.phases[i].clone())));
                    i += 1;
                }
            }
        }
        WorkflowFile {
            id: workflow.id,
            version: workflow.version,
            name: workflow.name,
            description: workflow.description,
            category: workflow.category,
            tags: workflow.tags,
            inputs: workflow.inputs,
            estimated_minutes: workflow.estimated_minutes,
            hints: workflow.hints,
            phases: items,
            digest: workflow.digest,
            source: workflow.source,
        }
    }
}

/// Where to go after a phase passes, when its condition holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Branch {
    /// CEL condition; absent means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// A later phase, or a group, to go to; the phases between are skipped.
    pub goto: String,
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
    /// Optional task list: plain sentences, or tasks with an id, steps
    /// and a way to tell they are done.
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// How long the phase usually takes, in minutes (guidance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_minutes: Option<u32>,
    /// Who should do it and how (guidance, never enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Hints>,
    /// What is checked before the phase is done.
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
    /// CEL condition: when false, the phase is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Branches taken after the phase passes, first match wins; without a
    /// match the next phase follows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<Branch>,
    /// The loop group it belongs to.
    #[serde(skip)]
    pub group: Option<String>,
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
    /// Files this phase produces: on pass, each matching file's path, size
    /// and sha256 are recorded with the phase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
    /// Every task of the phase with a `done_when` must be satisfied: its
    /// rule runs with the checkpoint, its evidence field must be set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_tasks: bool,
}

/// Guidance on who should do a workflow or phase, and how. Never enforced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hints {
    /// The stance to take, e.g. `planner`, `reviewer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// What kind of model suits it, free-form, e.g. `{reasoning: high}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model: BTreeMap<String, String>,
    /// Anything else worth knowing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A task of a phase: a sentence, or a task with its own steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Task {
    /// A plain sentence.
    Text(String),
    /// A task with an id.
    Detailed(TaskSpec),
}

/// A task with an id, steps and, optionally, how to tell it is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Id, unique in the phase.
    pub id: String,
    /// One line.
    pub title: String,
    /// The steps, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// How checkrail tells it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_when: Option<DoneWhen>,
}

/// How a task is known to be done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum DoneWhen {
    /// A rule passes.
    Rule {
        /// Rule reference, e.g. `file-exists` or `test@^0.1`.
        rule: String,
        /// Its config.
        #[serde(default)]
        config: serde_json::Value,
    },
    /// The evidence submitted has this field set (a JSON pointer such as
    /// `/migration`, or a top-level field name): present, and not null,
    /// false, empty text or an empty list.
    Evidence {
        /// The field.
        evidence: String,
    },
}

impl Task {
    /// Its id (a plain sentence has none).
    pub fn id(&self) -> Option<&str> {
        match self {
            Task::Text(_) => None,
            Task::Detailed(spec) => Some(&spec.id),
        }
    }

    /// Its title (the sentence itself for a plain task).
    pub fn title(&self) -> &str {
        match self {
            Task::Text(text) => text,
            Task::Detailed(spec) => &spec.title,
        }
    }

    /// How it is known to be done, if it says.
    pub fn done_when(&self) -> Option<&DoneWhen> {
        match self {
            Task::Text(_) => None,
            Task::Detailed(spec) => spec.done_when.as_ref(),
        }
    }
}

impl DoneWhen {
    /// Whether `evidence` sets the field an evidence condition names.
    pub fn set_in(field: &str, evidence: Option<&serde_json::Value>) -> bool {
        let pointer = if field.starts_with('/') {
            field.to_owned()
        } else {
            format!("/{field}")
        };
        match evidence.and_then(|e| e.pointer(&pointer)) {
            None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => false,
            Some(serde_json::Value::String(s)) => !s.is_empty(),
            Some(serde_json::Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        }
    }
}

/// Files that must be unchanged since an earlier phase passed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frozen {
    /// Id of the earlier phase.
    pub since: String,
    /// Workspace-relative globs.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Also the artifacts phase `since` recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub artifacts: bool,
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
