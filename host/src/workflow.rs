//! Workflows: the model, loading from YAML or JSON, and validation against
//! `workflows/workflow.schema.json` with errors that name the file and field.

mod catalog;
pub mod condition;
mod graph;
mod load;
mod model;
pub mod read;
mod rule_ref;
pub mod template;

pub use catalog::{Catalog, WorkflowSummary};
pub use load::{parse, parse_file, parse_file_in, parse_file_remembered, parse_remembered};
pub use model::{
    Approval, Branch, Checkpoint, DEFAULT_MAX_ITERATIONS, DoneWhen, Frozen, Group, Hints, Input,
    Phase, RuleUse, Severity, Task, TaskSpec, Workflow,
};
pub use rule_ref::RuleRef;
