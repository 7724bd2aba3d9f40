//! The sandbox policy checkrail enforces for its rules, in one crate that
//! the host uses for every check and the SDK uses to run a rule natively in
//! its tests, so both apply the same rules:
//!
//! - [`normalize_path`]: what a workspace-relative path is (everywhere,
//!   `wasm32` included: the SDK applies it inside the guest too);
//! - [`Capability`]: what a rule declares it may ask for, parsed once;
//! - [`NativeWorkspace`]: a directory opened as a capability, which
//!   `stat_many`, `glob` and `read` never leave;
//! - [`exec`]: running a declared and granted program in the workspace,
//!   with screened arguments, a scrubbed environment, a deadline that ends
//!   everything it started, and capped output.
//!
//! It knows nothing of the SDK's or the WIT's types: each side converts
//! from the small types here.

#![warn(missing_docs)]

mod capability;
mod path;

#[cfg(not(target_arch = "wasm32"))]
pub mod exec;
#[cfg(not(target_arch = "wasm32"))]
mod workspace;

pub use capability::{Capability, CapabilityError, Program, is_program_name};
pub use path::{PathError, normalize_path};
#[cfg(not(target_arch = "wasm32"))]
pub use workspace::{Entry, EntryKind, GLOB_VISIT_BUDGET, MAX_DEPTH, NativeWorkspace, is_wild};
