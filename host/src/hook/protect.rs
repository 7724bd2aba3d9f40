//! What an agent may not edit, and why. Always: checkrail's own config
//! (`checkrail.toml`, `.checkrail/`), the state directory, and the agents'
//! hook and MCP configuration (an agent that deletes its stop hook has
//! left the gate). During a session also: its judging files (as pinned at
//! start and as a human last accepted them), the files frozen since a
//! passed phase, and the files of the tests a phase recorded as required.

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::Value;

use crate::session::{Pinned, Session};

/// The agents' hook and MCP configuration, relative to the workspace.
pub const AGENT_CONFIG: &[&str] = &[
    ".claude/settings.json",
    ".claude/settings.local.json",
    ".mcp.json",
    ".codex/**",
    ".gemini/settings.json",
    ".cursor/hooks.json",
    ".cursor/mcp.json",
    ".github/hooks/**",
    ".github/copilot/**",
    ".github/mcp.json",
    ".vscode/mcp.json",
];

/// The protected paths of one workspace, and of its session if it has one.
pub struct Protected {
    root: PathBuf,
    state: Option<PathBuf>,
    always: GlobSet,
    judging: GlobSet,
    /// Concrete files: frozen, recorded judging files, required tests; with
    /// what they are.
    files: Vec<(String, &'static str)>,
    session: Option<String>,
}

impl Protected {
    /// What is protected in `root` (with `state`, the state directory);
    /// with a session, what it protects too.
    pub fn new(root: &Path, state: Option<&Path>, session: Option<(&Session, &Pinned)>) -> Self {
        let always = globs(
            ["checkrail.toml", ".checkrail", ".checkrail/**"]
                .iter()
                .chain(AGENT_CONFIG)
                .copied(),
        );
        let mut files = Vec::new();
        let judging = match session {
            Some((session, pinned)) => {
                files.extend(
                    session
                        .judging
                        .keys()
                        .map(|p| (p.clone(), "a judging file")),
                );
                for snapshot in session.snapshots.values().filter_map(Value::as_object) {
                    files.extend(snapshot.keys().map(|p| (p.clone(), "a frozen file")));
                }
                files.extend(required_test_files(&session.facts).map(|p| (p, "a required test")));
                globs(pinned.judging_globs.iter().map(String::as_str))
            }
            None => GlobSet::empty(),
        };
        Protected {
            root: root.to_owned(),
            state: state.map(Path::to_owned),
            always,
            judging,
            files,
            session: session.map(|(s, _)| s.id.clone()),
        }
    }

    /// Why `path` (as a tool call names it, relative to `cwd`) may not be
    /// written, or `None` when it may.
    pub fn refusal(&self, cwd: &Path, path: &str) -> Option<String> {
        let absolute = normalize(&cwd.join(path));
        if let Some(state) = &self.state
            && absolute.starts_with(state)
        {
            return Some(format!(
                "`{path}` is in checkrail's state directory, which holds the record that judges you"
            ));
        }
        let relative = absolute.strip_prefix(&self.root).ok()?;
        let relative = relative.to_string_lossy().replace('\\', "/");
        if relative.is_empty() {
            return None;
        }
        if self.always.is_match(&relative) {
            let what = if AGENT_CONFIG.iter().any(|g| globs([*g]).is_match(&relative)) {
                "the agent's hook or MCP configuration, which a human set up"
            } else {
                "checkrail's configuration, which a human sets"
            };
            return Some(format!("`{relative}` is {what}"));
        }
        let session = self.session.as_deref().unwrap_or_default();
        if let Some((_, what)) = self.files.iter().find(|(p, _)| *p == relative) {
            return Some(format!(
                "`{relative}` is {what} of session `{session}`: it judges your work"
            ));
        }
        if self.judging.is_match(&relative) {
            return Some(format!(
                "`{relative}` changes how the tools of session `{session}` judge"
            ));
        }
        None
    }
}

fn globs<'a>(patterns: impl IntoIterator<Item = &'a str>) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        if let Ok(glob) = Glob::new(pattern) {
            builder.add(glob);
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
}

/// The files of the tests the test rule recorded as required (`sources`
/// of its facts): the part of a test's name before `::` when it is a
/// path (pytest `tests/test_a.py::test_x`).
fn required_test_files(facts: &serde_json::Map<String, Value>) -> impl Iterator<Item = String> {
    let mut files: Vec<String> = facts
        .values()
        .filter_map(|rules| rules.get("test")?.get("sources")?.as_object())
        .flat_map(|sources| sources.keys())
        .filter_map(|name| {
            let file = name.split("::").next()?;
            (file.contains('/') || file.contains('.')).then(|| file.to_owned())
        })
        .collect();
    files.sort();
    files.dedup();
    files.into_iter()
}

/// `path` with `.` and `..` resolved lexically (the file may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkrails_and_the_agents_configuration_are_always_protected() {
        let root = Path::new("/w");
        let p = Protected::new(
            root,
            Some(Path::new("/home/u/.local/state/checkrail")),
            None,
        );
        let refused = |path: &str| p.refusal(root, path);
        assert!(refused("checkrail.toml").is_some());
        assert!(refused("./.checkrail/workflows/x.yaml").is_some());
        assert!(
            refused("/w/.claude/settings.json")
                .unwrap_or_default()
                .contains("hook or MCP")
        );
        assert!(refused(".codex/config.toml").is_some());
        assert!(refused(".github/hooks/checkrail.json").is_some());
        assert!(
            refused("/home/u/.local/state/checkrail/key")
                .unwrap_or_default()
                .contains("state directory")
        );
        assert!(refused("src/../checkrail.toml").is_some());
        assert_eq!(refused("src/lib.rs"), None);
        assert_eq!(refused("/elsewhere/file"), None);
    }
}
