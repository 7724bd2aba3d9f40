//! The MCP tools, one file each.

mod workflow_control;
mod workflow_get;
mod workflow_list;
mod workflow_next;
mod workflow_start;
mod workflow_state;
pub(super) mod workflow_validate;
