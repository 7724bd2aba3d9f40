//! Rules and workflows compiled into the binary, so an installed `checkrail`
//! finds them with no files beside it.

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The JSON Schema every workflow file is validated against.
pub const WORKFLOW_SCHEMA: &str = include_str!("../../workflows/workflow.schema.json");
