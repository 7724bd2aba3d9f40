//! Errors of the engine. Each names the thing at fault and, where it can,
//! the fix; the cause travels as [`std::error::Error::source`], so print
//! the whole chain ([`chain`], or anyhow's `{:#}`), not just the top.

use std::path::PathBuf;

use crate::exit::Kind;

/// Why an engine operation failed.
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
    #[error("rule component {origin}")]
    RuleLoad {
        /// Where the component came from.
        origin: String,
        /// Why it could not be loaded.
        #[source]
        source: crate::runtime::LoadError,
    },
    /// A `--rules-dir` cannot be listed.
    #[error("rule directory `{}` cannot be read", dir.display())]
    RuleDir {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The workspace directory cannot be opened.
    #[error("workspace `{}` cannot be opened", path.display())]
    Workspace {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the project's setup (`checkrail init`) cannot be read or
    /// written.
    #[error("{what} `{}`", path.display())]
    SetupFile {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The workspace is not a directory.
    #[error("workspace `{}` is not a directory", path.display())]
    NotADirectory {
        /// What was given.
        path: PathBuf,
    },
    /// The workspace's `checkrail.toml` cannot be used.
    #[error("{}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (boxed: a TOML error is large).
        #[source]
        source: Box<crate::config::ConfigError>,
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
    State(#[from] crate::trusted::StateError),
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
    /// The wasm runtime could not start.
    #[error("start the wasm runtime")]
    Runtime(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The session database failed.
    #[error("session database `{}`", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The session database vanished or was emptied after sessions were
    /// stored in it.
    #[error(
        "the session database `{}` is {}, but sessions have been stored there since {since}; restore it from a backup, or remove `{}` to start again with no sessions",
        path.display(),
        if *missing { "missing" } else { "empty (0 bytes)" },
        marker.display()
    )]
    DatabaseLost {
        /// The database file.
        path: PathBuf,
        /// Whether it is missing (rather than empty).
        missing: bool,
        /// When sessions were first stored there.
        since: String,
        /// The file that remembers it.
        marker: PathBuf,
    },
    /// An old in-workspace session database cannot be imported.
    #[error("import the old session database `{}`", path.display())]
    Import {
        /// The old database.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A value checkrail stores does not encode or decode as JSON.
    #[error("{what}")]
    Json {
        /// What was being encoded or decoded, e.g. `decode the pinned workflow`.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The session store (PostgreSQL) failed.
    #[error("session store `{location}`")]
    Store {
        /// Where the store is (its URL, without a password).
        location: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The session store cannot be reached.
    #[error(
        "reach the session store `{location}`; check --store (or $CHECKRAIL_STORE) and that the server accepts connections from this host and user"
    )]
    StoreUnreachable {
        /// Where the store is (its URL, without a password).
        location: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `--store` is not a store this checkrail can open.
    #[error(
        "parse the session store `{store}`: write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, `sqlite` or `sqlite:PATH`"
    )]
    StoreUrl {
        /// What was given (password redacted).
        store: String,
        /// Why it does not parse.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store was set up by a newer checkrail, or by another key.
    #[error("{0}")]
    StoreRefused(String),
    /// A policy file (`checkrail.toml`, a workspace workflow) is not as a
    /// human last allowed it, so it is not used.
    #[error(
        "`{file}` {what} since a human last allowed this workspace's policy, so it is not used: a human looks at the change and runs `checkrail allow` at a terminal (which shows what changed and records it)"
    )]
    NotAllowed {
        /// Workspace-relative path.
        file: String,
        /// `is new`, `changed` or `was removed`.
        what: &'static str,
    },
    /// An invariant of checkrail itself does not hold: a defect.
    #[error("{0} (this is a defect in checkrail; nothing was recorded)")]
    Internal(String),
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> Kind {
        // No wildcard: a new variant must choose its kind (and exit code).
        match self {
            Error::InvalidWorkflow { .. }
            | Error::UnknownWorkflow { .. }
            | Error::UnknownPhase { .. }
            | Error::UnknownRule { .. }
            | Error::BadRuleReference { .. }
            | Error::InvalidRuleConfig { .. }
            | Error::RuleLoad { .. }
            | Error::RuleDir { .. }
            | Error::Workspace { .. }
            | Error::SetupFile { .. }
            | Error::NotADirectory { .. }
            | Error::Config { .. }
            | Error::UnknownSession { .. }
            | Error::Refused(_)
            | Error::BadRequest(_)
            // The caller's own doing, and nothing was recorded.
            | Error::Cancelled
            | Error::StoreUrl { .. }
            | Error::StoreRefused(_)
            | Error::NotAllowed { .. } => Kind::Usage,
            Error::State(e) => e.kind(),
            Error::Tampered { .. } => Kind::Tampered,
            Error::Runtime(_)
            | Error::Database { .. }
            | Error::Store { .. }
            | Error::Import { .. }
            | Error::Json { .. }
            | Error::Internal(_) => Kind::Internal,
            Error::DatabaseLost { .. } | Error::StoreUnreachable { .. } => Kind::Io,
        }
    }

    /// The process exit code for this error (see [`Kind::exit_code`]).
    pub fn exit_code(&self) -> u8 {
        self.kind().exit_code()
    }
}

/// An error and its causes joined by ": " (as anyhow's `{:#}` prints them),
/// for where a cause must travel as text, such as a rule reference's
/// refusal reason, and for the CLI's one line of error. A cause that only
/// repeats the link before it (SQLite's "Error code 26: file is not a
/// database" under "file is not a database") is left out.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut last = text.clone();
    let mut cause = error.source();
    while let Some(e) = cause {
        let message = e.to_string();
        if !message.contains(&last) && !last.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        last = message;
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{Error, Kind, chain};
    use crate::trusted::StateError;

    /// The documented exit code of each variant, written out once more
    /// without a wildcard: adding a variant fails to compile here until its
    /// code is chosen, and a changed code fails the test below.
    fn documented(error: &Error) -> u8 {
        match error {
            Error::InvalidWorkflow { .. }
            | Error::UnknownWorkflow { .. }
            | Error::UnknownPhase { .. }
            | Error::UnknownRule { .. }
            | Error::BadRuleReference { .. }
            | Error::InvalidRuleConfig { .. }
            | Error::RuleLoad { .. }
            | Error::RuleDir { .. }
            | Error::Workspace { .. }
            | Error::SetupFile { .. }
            | Error::NotADirectory { .. }
            | Error::Config { .. }
            | Error::UnknownSession { .. }
            | Error::Refused(_)
            | Error::BadRequest(_)
            | Error::Cancelled => 2,
            Error::State(StateError::NoHome | StateError::NotPrivate { .. }) => 2,
            Error::State(
                StateError::Io { .. }
                | StateError::NotADirectory { .. }
                | StateError::BadKey { .. },
            ) => 74,
            Error::Tampered { .. } => 3,
            Error::Runtime(_)
            | Error::Database { .. }
            | Error::Store { .. }
            | Error::Import { .. }
            | Error::Json { .. }
            | Error::Internal(_) => 70,
            Error::DatabaseLost { .. } | Error::StoreUnreachable { .. } => 74,
            Error::StoreUrl { .. } | Error::StoreRefused(_) | Error::NotAllowed { .. } => 2,
        }
    }

    fn io() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied")
    }

    fn json() -> serde_json::Error {
        serde_json::from_str::<serde_json::Value>("{").unwrap_err()
    }

    fn one_of_each() -> Vec<Error> {
        let path = PathBuf::from("/x");
        vec![
            Error::InvalidWorkflow {
                source_name: "w.yaml".into(),
                problems: vec!["/id: missing".into()],
            },
            Error::UnknownWorkflow {
                id: "w".into(),
                known: vec![],
            },
            Error::UnknownPhase {
                workflow: "w".into(),
                phase: "p".into(),
                known: vec![],
            },
            Error::UnknownRule {
                reference: "r".into(),
                known: vec![],
            },
            Error::BadRuleReference {
                reference: "r@x".into(),
                reason: "bad".into(),
            },
            Error::InvalidRuleConfig {
                rule: "r".into(),
                problems: vec![],
            },
            Error::RuleLoad {
                origin: "o".into(),
                source: crate::runtime::LoadError::Read(io()),
            },
            Error::RuleDir {
                dir: path.clone(),
                source: io(),
            },
            Error::Workspace {
                path: path.clone(),
                source: io(),
            },
            Error::SetupFile {
                what: "write",
                path: path.clone(),
                source: io(),
            },
            Error::NotADirectory { path: path.clone() },
            Error::Config {
                path: path.clone(),
                source: Box::new(crate::config::ConfigError::Read(io())),
            },
            Error::UnknownSession { id: "s".into() },
            Error::Refused("no".into()),
            Error::BadRequest("no".into()),
            Error::Cancelled,
            Error::State(StateError::NoHome),
            Error::State(StateError::NotPrivate {
                path: path.clone(),
                reason: "mode 777".into(),
            }),
            Error::State(StateError::Io {
                what: "read",
                path: path.clone(),
                source: io(),
            }),
            Error::State(StateError::NotADirectory { path: path.clone() }),
            Error::State(StateError::BadKey {
                path: path.clone(),
                len: 3,
            }),
            Error::Tampered {
                id: "s".into(),
                problems: vec![],
            },
            Error::Runtime(Box::new(io())),
            Error::Database {
                path: path.clone(),
                source: rusqlite::Error::QueryReturnedNoRows,
            },
            Error::DatabaseLost {
                path: path.clone(),
                missing: true,
                since: "then".into(),
                marker: path.clone(),
            },
            Error::Import {
                path: path.clone(),
                source: rusqlite::Error::QueryReturnedNoRows,
            },
            Error::Json {
                what: "decode the pinned workflow",
                source: json(),
            },
            Error::Internal("broken".into()),
            Error::Store {
                location: "postgres://u@h/db".into(),
                source: Box::new(io()),
            },
            Error::StoreUnreachable {
                location: "postgres://u@h/db".into(),
                source: Box::new(io()),
            },
            Error::StoreUrl {
                store: "mysql://x".into(),
                source: Box::new(io()),
            },
            Error::StoreRefused("newer schema".into()),
            Error::NotAllowed {
                file: "checkrail.toml".into(),
                what: "changed",
            },
        ]
    }

    #[test]
    fn every_error_has_its_documented_exit_code() {
        let errors = one_of_each();
        let documented_codes = [2, 3, 70, 74];
        for error in &errors {
            assert_eq!(error.exit_code(), documented(error), "{error:?}");
            assert!(documented_codes.contains(&error.exit_code()), "{error:?}");
        }
        // Every kind is reached, so none of the codes is dead.
        for kind in [Kind::Usage, Kind::Tampered, Kind::Internal, Kind::Io] {
            assert!(errors.iter().any(|e| e.kind() == kind), "{kind:?}");
        }
    }

    #[test]
    fn causes_travel_as_sources_not_text() {
        let error = Error::Database {
            path: PathBuf::from("/state/sessions.db"),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(26),
                Some("file is not a database".into()),
            ),
        };
        assert_eq!(error.to_string(), "session database `/state/sessions.db`");
        let source = std::error::Error::source(&error).expect("the SQLite error is kept");
        assert!(source.downcast_ref::<rusqlite::Error>().is_some());
        assert_eq!(
            chain(&error),
            "session database `/state/sessions.db`: file is not a database"
        );
    }
}
