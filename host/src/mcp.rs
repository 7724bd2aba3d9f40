//! The MCP server: one file per tool, all thin adapters over
//! [`crate::service::Service`]. Served over stdio by default, or streamable
//! HTTP (`checkrail serve --http`).

mod elicitation;
pub mod http;
mod resources;
mod server;
pub mod stdio;
mod tasks;
mod tools;

pub use server::{CheckrailMcp, listed_tools_answer};
