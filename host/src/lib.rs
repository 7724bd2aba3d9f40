//! checkrail: walks coding agents through workflows and checks every
//! checkpoint itself, by running sandboxed WebAssembly rules against the real
//! workspace.
//!
//! The [`engine::Checkrail`] type is the one API that the CLI (and the MCP
//! server) drive: load workflows, resolve rules, run a checkpoint.

pub mod allow;
pub mod anchor;
pub mod attest;
pub mod bundled;
pub mod cache;
pub mod config;
pub mod confine;
pub mod dashboard;
pub mod engine;
pub mod error;
pub mod exit;
pub mod frozen;
pub mod grants;
pub mod hook;
pub mod mcp;
pub mod metrics;
pub mod pack;
pub mod report;
pub mod rules;
pub mod runtime;
pub mod sarif;
pub mod schema;
pub mod service;
pub mod session;
pub mod setup;
pub mod stats;
pub mod telemetry;
pub mod trusted;
pub mod workflow;
pub mod workspace;

pub use engine::{Checkrail, Options};
pub use error::{Error, Result};
