//! Errors of the engine. Each names the thing at fault and, where it can,
//! the fix.

use std::path::PathBuf;

/// Why an engine operation failed. Everything here is a usage or
/// configuration problem (exit code 2 on the CLI); a rule that fails or
/// misbehaves is a result, not an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A workflow file could not be read, parsed or validated.
    #[error("workflow {source_name}: {}", problems.join("\n  "))]
    InvalidWorkflow {
        /// File name or bundled name of the workflow.
        source_name: String,
        /// Each problem, prefixed with the JSON pointer of the field.
        problems: Vec<String>,
    },
    /// No workflow with that id (or at that path).
    #[error("unknown workflow `{}`; known workflows: {}", clip(id), known.join(", "))]
    UnknownWorkflow {
        /// What was asked for.
        id: String,
        /// Ids that exist.
        known: Vec<String>,
    },
    /// The workflow has no phase with that id.
    #[error("workflow `{workflow}` has no phase `{}`; its phases are: {}", clip(phase), known.join(", "))]
    UnknownPhase {
        /// Workflow id.
        workflow: String,
        /// What was asked for.
        phase: String,
        /// Phase ids that exist.
        known: Vec<String>,
    },
    /// No rule with that id is installed.
    #[error("unknown rule `{}`; installed rules: {}", clip(reference), known.join(", "))]
    UnknownRule {
        /// The reference as written.
        reference: String,
        /// Installed rule ids with versions.
        known: Vec<String>,
    },
    /// A rule reference is malformed or no installed version satisfies it.
    #[error("rule reference `{}`: {reason}", clip(reference))]
    BadRuleReference {
        /// The reference as written.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A rule's config does not match the rule's config schema.
    #[error("config of rule `{rule}` is invalid:\n  {}", problems.join("\n  "))]
    InvalidRuleConfig {
        /// Rule id and version.
        rule: String,
        /// Each problem, prefixed with the JSON pointer of the field.
        problems: Vec<String>,
    },
    /// A rule component could not be loaded.
    #[error("rule component {origin}: {reason}")]
    RuleLoad {
        /// Where the component came from.
        origin: String,
        /// Why it could not be loaded.
        reason: String,
    },
    /// The workspace directory is unusable.
    #[error("workspace `{}`: {reason}", path.display())]
    Workspace {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No session with that id in this workspace.
    #[error(
        "unknown session `{}`; list sessions with `workflow_state` (MCP) or `checkrail session list`",
        clip(id)
    )]
    UnknownSession {
        /// What was asked for.
        id: String,
    },
    /// The session cannot do that in its current state.
    #[error("{0}")]
    Refused(String),
    /// Bad arguments from the caller (an agent or a user).
    #[error("{0}")]
    BadRequest(String),
    /// The caller cancelled the operation.
    #[error("cancelled before the checkpoint finished; nothing was recorded")]
    Cancelled,
    /// The per-user state directory cannot be used.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// A session's record does not verify: it was changed outside checkrail.
    #[error(
        "session `{id}` does not verify; its record was changed outside checkrail:\n  {}\nrun `checkrail session verify {id}` for the full report",
        problems.join("\n  ")
    )]
    Tampered {
        /// Session id.
        id: String,
        /// What was altered, added, removed or reordered.
        problems: Vec<String>,
    },
    /// Anything else that stops the engine, with context.
    #[error("{0}")]
    Other(String),
}

/// An error and its causes joined by ": " (as anyhow's `{:#}` prints them),
/// for where a cause must travel as text, such as a rule reference's
/// refusal reason.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// At most the first 200 characters of `text` (with an ellipsis when cut):
/// error messages never echo a whole argument back.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => {
            std::borrow::Cow::Owned(format!("{}… ({} bytes in all)", &text[..end], text.len()))
        }
    }
}

/// Result of engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
