//! Integration tests: the real engine, the real binary, real wasm components
//! built from `plugins/` and `tests/fixtures/plugins/` by the host's build
//! script.

#![expect(
    clippy::unwrap_used,
    reason = "helpers panic on setup failure, like the tests they serve"
)]
mod abi;
mod action;
mod anchor;
pub(crate) mod attest;
mod cache;
mod checks;
mod cli;
mod dashboard;
mod docs;
mod e2e;
mod exec;
mod flows;
mod fuzz;
mod hardening;
mod hooks;
mod http;
mod javascript;
mod lifecycle;
mod mcp;
mod operations;
pub(crate) mod packs;
pub(crate) mod pg;
mod processes;
mod python_rules;
pub(crate) mod registry;
mod replicas;
mod sandbox;
mod sarif;
mod scaffold;
mod security;
mod sessions;
mod stores;
mod supervisor;
mod support;
mod toolchains;
mod trust;
mod typescript_rules;
mod verdicts;
mod workflows;
