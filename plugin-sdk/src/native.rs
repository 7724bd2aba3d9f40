//! The workspace as seen from native code: the implementation behind the
//! host's `stat-many` and `glob` imports, and behind native unit tests of a
//! rule, so both see exactly the same confinement rules.

pub mod exec;

use std::collections::HashMap;
use std::io;
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, Metadata};
use globset::{Glob, GlobMatcher};

use crate::normalize_path;
use crate::workspace::{Entry, EntryKind, PathError};

/// Largest number of directory entries one glob may visit.
pub const GLOB_VISIT_BUDGET: usize = 500_000;

/// A directory opened as a capability: every lookup stays beneath it, and
/// symlinks are followed only while they stay beneath it.
#[derive(Debug)]
pub struct NativeWorkspace {
    root: Dir,
}

impl NativeWorkspace {
    /// Opens `root` as the workspace.
    pub fn open(root: &Path) -> io::Result<Self> {
        Ok(Self {
            root: Dir::open_ambient_dir(root, ambient_authority())?,
        })
    }

    /// Looks at many workspace-relative paths, answering in order.
    ///
    /// Each parent directory is opened (confined) once per batch and every
    /// name in it is looked at relative to that handle: one `statx` per path
    /// instead of a full confined walk from the root for each.
    pub fn stat_many<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Result<Entry, PathError>> {
        let mut parents: HashMap<String, Result<Dir, PathError>> = HashMap::new();
        paths
            .into_iter()
            .map(|path| {
                let path = normalize_path(path)?;
                let Some((parent, name)) = path.rsplit_once('/') else {
                    return stat_in(&self.root, &path);
                };
                let dir = parents
                    .entry(parent.to_owned())
                    .or_insert_with(|| self.root.open_dir(parent).map_err(path_error));
                match dir {
                    Ok(dir) => stat_in(dir, name),
                    Err(PathError::Io(reason)) if is_not_dir(reason) => Err(PathError::NotFound),
                    Err(e) => Err(e.clone()),
                }
            })
            .collect()
    }

    /// Looks at one workspace-relative path.
    pub fn stat(&self, path: &str) -> Result<Entry, PathError> {
        stat_in(&self.root, &normalize_path(path)?)
    }
}

/// Looks at `path` (normalized) beneath `dir`.
fn stat_in(dir: &Dir, path: &str) -> Result<Entry, PathError> {
    let meta = dir.symlink_metadata(path).map_err(path_error)?;
    if !meta.is_symlink() {
        return Ok(entry(&meta, false));
    }
    match dir.metadata(path) {
        Ok(target) => Ok(entry(&target, true)),
        Err(e) => match path_error(e) {
            // A dangling link exists as a link.
            PathError::NotFound => Ok(Entry {
                kind: EntryKind::Symlink,
                size: 0,
                is_symlink: true,
            }),
            other => Err(other),
        },
    }
}

impl NativeWorkspace {
    /// Reads a whole file, following symlinks only inside the workspace.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, PathError> {
        let path = normalize_path(path)?;
        self.root.read(&path).map_err(path_error)
    }

    /// Expands `pattern` to at most `limit` sorted workspace-relative paths.
    /// `should_stop` is polled while walking; when it returns true the walk
    /// ends with an error (the host uses it to enforce the rule's deadline).
    pub fn glob(
        &self,
        pattern: &str,
        limit: usize,
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<String>, String> {
        self.glob_skipping(pattern, limit, &[], should_stop)
    }

    /// [`NativeWorkspace::glob`] that never descends into directories with
    /// one of the names in `skip` (e.g. `target`, `.git`).
    pub fn glob_skipping(
        &self,
        pattern: &str,
        limit: usize,
        skip: &[&str],
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<String>, String> {
        let normalized = normalize_path(pattern).map_err(|_| {
            format!(
                "glob `{pattern}` leads outside the workspace; use a workspace-relative pattern"
            )
        })?;
        let matcher = Glob::new(&normalized)
            .map_err(|e| format!("invalid glob `{pattern}`: {e}"))?
            .compile_matcher();
        let parts: Vec<&str> = normalized.split('/').collect();
        let literal = parts.iter().take_while(|p| !is_wild(p)).count();
        let max_depth = if parts.iter().any(|p| p.contains("**")) {
            usize::MAX
        } else {
            parts.len()
        };
        let mut walk = Walk {
            matcher,
            limit,
            max_depth,
            visited: 0,
            found: Vec::new(),
            skip,
            should_stop,
        };
        if literal == parts.len() {
            // No wildcard at all: the glob is a plain path.
            if self.stat(&normalized).is_ok() && limit > 0 {
                walk.found.push(normalized);
            }
            return Ok(walk.found);
        }
        let base = parts[..literal].join("/");
        let dir = if base.is_empty() {
            self.root.try_clone().map_err(|e| e.to_string())?
        } else {
            match self.root.open_dir(&base) {
                Ok(dir) => dir,
                Err(e) => {
                    return match path_error(e) {
                        PathError::NotFound => Ok(Vec::new()),
                        PathError::OutsideWorkspace => Err(format!(
                            "glob `{pattern}` starts at `{base}`, which leads outside the workspace"
                        )),
                        PathError::Io(reason) if is_not_dir(&reason) => Ok(Vec::new()),
                        PathError::Io(reason) => Err(format!("reading `{base}`: {reason}")),
                    };
                }
            }
        };
        walk.dir(&dir, &base, literal)?;
        Ok(walk.found)
    }
}

struct Walk<'a> {
    matcher: GlobMatcher,
    limit: usize,
    max_depth: usize,
    visited: usize,
    found: Vec<String>,
    skip: &'a [&'a str],
    should_stop: &'a mut dyn FnMut() -> bool,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Dir, prefix: &str, depth: usize) -> Result<(), String> {
        if depth >= self.max_depth || self.found.len() >= self.limit {
            return Ok(());
        }
        let mut children = Vec::new();
        for item in dir
            .entries()
            .map_err(|e| format!("reading `{prefix}`: {e}"))?
        {
            let item = item.map_err(|e| format!("reading `{prefix}`: {e}"))?;
            self.visited += 1;
            if self.visited > GLOB_VISIT_BUDGET {
                return Err(format!(
                    "glob visited more than {GLOB_VISIT_BUDGET} entries; narrow the pattern"
                ));
            }
            if self.visited.is_multiple_of(256) && (self.should_stop)() {
                return Err("glob stopped: the rule ran out of time".to_owned());
            }
            let name = item.file_name().to_string_lossy().into_owned();
            let is_dir = item.file_type().map(|t| t.is_dir()).unwrap_or(false);
            children.push((name, is_dir));
        }
        children.sort();
        for (name, is_dir) in children {
            if self.found.len() >= self.limit {
                break;
            }
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if self.matcher.is_match(&rel) {
                self.found.push(rel.clone());
            }
            if is_dir && !self.skip.contains(&name.as_str()) {
                // `file_type` of a directory entry does not follow symlinks, so
                // a symlinked directory is never descended into.
                if let Ok(child) = dir.open_dir(&name) {
                    self.dir(&child, &rel, depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

fn is_wild(part: &str) -> bool {
    part.contains(['*', '?', '[', '{'])
}

fn is_not_dir(reason: &str) -> bool {
    reason.contains("Not a directory")
}

fn entry(meta: &Metadata, is_symlink: bool) -> Entry {
    let file_type = meta.file_type();
    let kind = if file_type.is_file() {
        EntryKind::File
    } else if file_type.is_dir() {
        EntryKind::Directory
    } else if file_type.is_symlink() {
        EntryKind::Symlink
    } else {
        EntryKind::Other
    };
    Entry {
        kind,
        size: meta.len(),
        is_symlink,
    }
}

/// Maps an I/O error from a confined lookup to a [`PathError`].
pub fn path_error(error: io::Error) -> PathError {
    match error.kind() {
        io::ErrorKind::NotFound => PathError::NotFound,
        // cap-std reports an escape (through `..` or a symlink) this way.
        io::ErrorKind::PermissionDenied
            if error.to_string().contains("outside of the filesystem") =>
        {
            PathError::OutsideWorkspace
        }
        _ => PathError::Io(error.to_string()),
    }
}
