//! Running a granted tool and judging what it printed: what every rule that
//! drives a compiler, test runner, linter or scanner shares, so that a
//! toolchain is only two things, how to build its command line and how to
//! read its output.
//!
//! - Config pieces a rule embeds as fields, keeping its own field docs:
//!   [`WorkspaceDir`] for `cwd` (checked while the config is read: relative,
//!   never climbing out of the workspace) and [`CustomCommand`] for
//!   `command: { program, args }`.
//! - [`Tool`] runs a [`Command`](crate::Command) in that directory through
//!   [`Context::exec`](crate::Context::exec). A refusal (not declared, not
//!   granted, not installed) comes back as the failing [`Outcome`] to
//!   return; otherwise a [`Ran`] whose [`Ran::problems`] reports a timeout,
//!   a kill, a failure nothing read from the output explains, output that
//!   stopped early and output the host cut, under the [`codes`] every rule
//!   uses.
//! - [`Diag`] is a diagnostic as a tool printed it; [`Diag::to_finding`]
//!   places it at the workspace path its printed path maps to (see
//!   [`tool_paths`](crate::tool_paths)). [`rustc`] reads rustc's JSON
//!   diagnostics into them, with one rendering of rustc's suggestions.
//! - [`Toolchain`] is that pair as a trait: a rule writes one module per
//!   toolchain implementing it and dispatches once; what it read comes
//!   back as a [`Reading`].
//! - [`plural`], [`clip`] and [`quoted`] for messages.
//!
//! ```
//! use checkrail_sdk::tool::{Diag, Level, Location};
//! use checkrail_sdk::Severity;
//! use std::collections::HashMap;
//!
//! // What a toolchain module parses from the output:
//! let diag = Diag::new(Level::Error, "expected `;`")
//!     .at(Location::new("src/main.c", Some(3), Some(9)))
//!     .code("syntax");
//! // What the tool paths mapped its printed path to:
//! let paths = HashMap::from([("src/main.c".to_owned(), "app/src/main.c".to_owned())]);
//! let finding = diag.to_finding(Severity::Error, &paths);
//! assert_eq!(finding.path.as_deref(), Some("app/src/main.c"));
//! assert_eq!((finding.line, finding.column), (Some(3), Some(9)));
//! ```

mod config;
mod diag;
mod run;
pub mod rustc;
mod text;
mod toolchain;

pub use config::{CustomCommand, WorkspaceDir};
pub use diag::{Diag, Level, Location, dedup};
pub use run::{Judged, Ran, Tool};
pub use text::{clip, plural, quoted};
pub use toolchain::{Reading, Toolchain};

/// The finding codes of a tool run, the same in every rule. A rule's own
/// codes (a failing test, a lint, a vulnerable dependency) are the rule's.
pub mod codes {
    /// The rule does not list `exec:<program>` among its capabilities.
    pub const EXEC_NOT_DECLARED: &str = "exec-not-declared";
    /// The workspace's `checkrail.toml` does not grant the program to the
    /// rule (or refuses one of its arguments).
    pub const EXEC_NOT_GRANTED: &str = "exec-not-granted";
    /// The program is granted but not installed (not on the host's PATH).
    pub const TOOL_NOT_FOUND: &str = "tool-not-found";
    /// The program could not be started for another reason.
    pub const EXEC_FAILED: &str = "exec-failed";
    /// The program ran past its deadline and was stopped.
    pub const TIMEOUT: &str = "timeout";
    /// The program was killed by a signal before it finished.
    pub const TOOL_KILLED: &str = "tool-killed";
    /// The program failed and nothing the rule read from its output says
    /// why; the finding quotes the end of the output.
    pub const TOOL_FAILED: &str = "tool-failed";
    /// The program stopped before reporting on everything it was given.
    pub const INCOMPLETE_OUTPUT: &str = "incomplete-output";
    /// The program printed more than the host keeps; the rest was cut.
    pub const OUTPUT_TRUNCATED: &str = "output-truncated";
    /// The program printed output the rule cannot read (a changed output
    /// format, say).
    pub const OUTPUT_UNREADABLE: &str = "output-unreadable";
}
