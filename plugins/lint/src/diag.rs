//! What every parser produces: a linter-neutral diagnostic whose path is
//! still the one the tool printed (resolved to the workspace later).

use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;

/// Level of a diagnostic, as the linter reported it (see `block_levels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// clippy/rustc `error` (compile errors and `deny`/`forbid` lints); ruff
    /// syntax errors and codes listed in `error_codes`; custom lines that say
    /// `error`.
    Error,
    /// Everything else: clippy/rustc `warning` (and top-level notes), every
    /// other ruff violation, every other custom line.
    Warning,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// A place the tool pointed at, as printed (relative or absolute).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Loc {
    pub path: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl Loc {
    pub fn new(path: impl Into<String>, line: Option<u32>, column: Option<u32>) -> Self {
        Self {
            path: path.into(),
            line,
            column,
        }
    }

    /// `path:line:col` for messages when the path is not in the workspace.
    pub fn display(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.path),
            (Some(l), None) => format!("{}:{l}", self.path),
            _ => self.path.clone(),
        }
    }
}

/// One diagnostic from a linter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    pub level: Level,
    /// Lint name or rule code (`clippy::needless_return`, `F401`).
    pub code: Option<String>,
    /// Candidate locations, best first: the first one inside the workspace
    /// is reported (for clippy, the primary span and then the call sites of
    /// the macros it came from).
    pub locs: Vec<Loc>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diag {
    /// Identity for de-duplication (clippy reports a lint once per target).
    pub fn key(&self) -> (Level, Option<String>, Option<Loc>, String) {
        (
            self.level,
            self.code.clone(),
            self.locs.first().cloned(),
            self.message.clone(),
        )
    }
}

/// Shortens `text` to at most `max` characters, marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}
