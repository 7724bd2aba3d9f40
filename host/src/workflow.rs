//! Workflows: the model, loading from YAML or JSON, and validation against
//! `workflows/workflow.schema.json` with errors that name the file and field.

mod catalog;
mod load;
mod model;
pub mod read;
mod rule_ref;
pub mod template;

pub use catalog::{Catalog, WorkflowSummary};
pub use load::{parse, parse_file, parse_file_in};
pub use model::{Approval, Checkpoint, Frozen, Input, Phase, RuleUse, Severity, Workflow};
pub use rule_ref::RuleRef;
