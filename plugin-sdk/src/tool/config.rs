//! Config pieces a rule that runs a tool embeds as fields of its own config
//! (its doc comments on those fields stay the schema's descriptions).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::{Command, normalize_path, tool_paths};

/// A directory inside the workspace, relative to its root: a tool's working
/// directory (`cwd`). Normalized when the config is read (`./a//b/` is
/// `a/b`, the root is `.`); an absolute path or one whose `..` climbs out of
/// the workspace makes the config invalid, with an error that says what to
/// write instead. The default is the workspace root.
///
/// ```
/// use checkrail_sdk::tool::WorkspaceDir;
/// # use checkrail_sdk::serde_json;
///
/// let dir: WorkspaceDir = serde_json::from_str(r#""./crates//core/""#).unwrap();
/// assert_eq!(dir.as_str(), "crates/core");
/// assert_eq!(dir.join("src/lib.rs").as_deref(), Some("crates/core/src/lib.rs"));
/// assert_eq!(dir.path_from_here("db/advisories"), "../../db/advisories");
/// let err = serde_json::from_str::<WorkspaceDir>(r#""../elsewhere""#).unwrap_err();
/// assert!(err.to_string().contains("outside the workspace"), "{err}");
/// assert!(WorkspaceDir::default().is_root());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkspaceDir(String);

impl WorkspaceDir {
    /// The workspace root, `.`.
    pub fn root() -> Self {
        Self(".".to_owned())
    }

    /// `dir` normalized, or the error naming it and the fix.
    pub fn new(dir: &str) -> Result<Self, String> {
        normalize_path(dir).map(Self).map_err(|_| {
            format!(
                "`cwd` `{dir}` leads outside the workspace; give a directory relative to the workspace root, such as `crates/core`, without a leading `/` or a `..` that climbs above the root"
            )
        })
    }

    /// The normalized path, `.` for the root.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the workspace root.
    pub fn is_root(&self) -> bool {
        self.0 == "."
    }

    /// `path` (relative to this directory) as a workspace-relative path;
    /// `None` when it leaves the workspace.
    pub fn join(&self, path: &str) -> Option<String> {
        tool_paths::join(&self.0, path.strip_prefix("./").unwrap_or(path))
    }

    /// The workspace-relative `path` as seen from this directory (with `../`
    /// for each level), for a tool that runs here.
    pub fn path_from_here(&self, path: &str) -> String {
        if self.is_root() {
            return path.to_owned();
        }
        format!("{}{path}", "../".repeat(self.0.split('/').count()))
    }

    /// `command` set to run in this directory.
    pub fn apply(&self, command: Command) -> Command {
        if self.is_root() {
            command
        } else {
            command.cwd(&self.0)
        }
    }

    /// ` in `dir`` for messages, or nothing for the root.
    pub fn in_dir(&self) -> String {
        if self.is_root() {
            String::new()
        } else {
            format!(" in `{}`", self.0)
        }
    }
}

impl Default for WorkspaceDir {
    fn default() -> Self {
        Self::root()
    }
}

impl std::fmt::Display for WorkspaceDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for WorkspaceDir {
    type Error = String;

    fn try_from(dir: String) -> Result<Self, String> {
        Self::new(&dir)
    }
}

impl From<WorkspaceDir> for String {
    fn from(dir: WorkspaceDir) -> Self {
        dir.0
    }
}

impl JsonSchema for WorkspaceDir {
    fn schema_name() -> Cow<'static, str> {
        "WorkspaceDir".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string" })
    }
}

/// A user-configured program for a rule's `custom` mode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomCommand {
    /// Program name looked up on PATH (not a path), e.g. `make`; the
    /// workspace must grant it in checkrail.toml.
    pub program: String,
    /// Its arguments, e.g. `["check"]`.
    #[serde(default)]
    pub args: Vec<String>,
}

impl CustomCommand {
    /// The command: `program`, its `args`, then `extra` (the rule config's
    /// own `args`).
    pub fn command(&self, extra: &[String]) -> Command {
        Command::new(&self.program)
            .args(self.args.iter().cloned())
            .args(extra.iter().cloned())
    }
}
