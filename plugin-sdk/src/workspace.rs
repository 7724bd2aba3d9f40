//! Read access to the workspace a rule checks.
//!
//! Inside the sandbox the workspace is the only directory a rule can see, and
//! it is read-only. [`Workspace::stat_many`] and [`Workspace::glob`] are
//! answered by the host in one call each, which is much faster than one
//! filesystem call per path; [`Workspace::read_to_string`] reads through the
//! sandboxed filesystem.

use serde::{Deserialize, Serialize};

/// Kind of a filesystem entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symlink whose target could not be looked at.
    Symlink,
    /// A socket, device, fifo or anything else.
    Other,
}

/// What the workspace knows about one existing path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What the path is (after following a symlink that stays inside).
    pub kind: EntryKind,
    /// Size in bytes.
    pub size: u64,
    /// Whether the path itself is a symlink.
    pub is_symlink: bool,
}

impl Entry {
    /// Whether this is a regular file (possibly through a symlink).
    pub fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }

    /// Whether this is a directory (possibly through a symlink).
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Directory
    }
}

/// Why a workspace path could not be looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PathError {
    /// Nothing exists at the path.
    #[error("no such file or directory")]
    NotFound,
    /// The path is absolute, climbs out with `..`, or resolves through a
    /// symlink to somewhere outside the workspace.
    #[error("path leads outside the workspace")]
    OutsideWorkspace,
    /// Any other I/O failure.
    #[error("{0}")]
    Io(String),
}

impl PathError {
    /// The sandbox's answer, in the SDK's type.
    pub(crate) fn from_sandbox(error: checkrail_sandbox::PathError) -> Self {
        match error {
            checkrail_sandbox::PathError::NotFound => PathError::NotFound,
            checkrail_sandbox::PathError::OutsideWorkspace => PathError::OutsideWorkspace,
            checkrail_sandbox::PathError::Io(reason) => PathError::Io(reason),
        }
    }
}

/// The workspace under check. Paths are workspace-relative, `/`-separated.
pub struct Workspace {
    #[cfg(not(target_arch = "wasm32"))]
    native: checkrail_sandbox::NativeWorkspace,
    #[cfg(not(target_arch = "wasm32"))]
    root: std::path::PathBuf,
}

impl Workspace {
    /// Looks at one path. See [`Workspace::stat_many`].
    pub fn stat(&self, path: &str) -> Result<Entry, PathError> {
        self.stat_many(&[path])
            .pop()
            .unwrap_or(Err(PathError::Io("host returned no answer".to_owned())))
    }

    /// Whether something exists at `path` inside the workspace.
    pub fn exists(&self, path: &str) -> bool {
        self.stat(path).is_ok()
    }

    /// Reads a file as UTF-8 text.
    pub fn read_to_string(&self, path: &str) -> Result<String, PathError> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|_| PathError::Io(format!("`{path}` is not UTF-8 text")))
    }

    /// Files under `dir` whose name matches one of `patterns` (`*.rs`,
    /// `test_*.py`), sorted, never descending into a directory named in
    /// `skip`: the top level is looked at first, so the largest skipped
    /// directories (`target`, `.venv`, `node_modules`) are not walked at
    /// all. Each glob stops at `limit` paths; a glob that fails finds
    /// nothing.
    pub fn files_named(
        &self,
        dir: &str,
        patterns: &[&str],
        skip: &[&str],
        limit: u32,
    ) -> Vec<String> {
        let join = |pattern: &str| {
            if dir == "." {
                pattern.to_owned()
            } else {
                format!("{dir}/{pattern}")
            }
        };
        let skipped = |path: &str| path.split('/').any(|part| skip.contains(&part));
        let mut files = Vec::new();
        let top = self.glob(&join("*"), limit).unwrap_or_default();
        let refs: Vec<&str> = top.iter().map(String::as_str).collect();
        let stats = self.stat_many(&refs);
        for pattern in patterns {
            files.extend(self.glob(&join(pattern), limit).unwrap_or_default());
        }
        for (path, stat) in top.iter().zip(stats) {
            let name = path.rsplit('/').next().unwrap_or(path);
            if stat.is_ok_and(|e| e.is_dir() && !e.is_symlink) && !skip.contains(&name) {
                for pattern in patterns {
                    let found = self
                        .glob(&format!("{path}/**/{pattern}"), limit)
                        .unwrap_or_default();
                    files.extend(found.into_iter().filter(|f| !skipped(f)));
                }
            }
        }
        files.sort();
        files.dedup();
        files
    }
}

#[cfg(target_arch = "wasm32")]
impl Workspace {
    pub(crate) fn sandboxed() -> Self {
        Self {}
    }

    /// Looks at many paths in one host call, answering in the same order.
    /// Symlinks are followed only while they stay inside the workspace.
    pub fn stat_many(&self, paths: &[&str]) -> Vec<Result<Entry, PathError>> {
        use crate::__private::bindings::checkrail::rule::host;
        let owned: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
        host::stat_many(&owned)
            .into_iter()
            .map(|answer| match answer {
                Ok(entry) => Ok(Entry {
                    kind: match entry.kind {
                        host::EntryKind::File => EntryKind::File,
                        host::EntryKind::Directory => EntryKind::Directory,
                        host::EntryKind::Symlink => EntryKind::Symlink,
                        host::EntryKind::Other => EntryKind::Other,
                    },
                    size: entry.size,
                    is_symlink: entry.is_symlink,
                }),
                Err(host::PathError::NotFound) => Err(PathError::NotFound),
                Err(host::PathError::OutsideWorkspace) => Err(PathError::OutsideWorkspace),
                Err(host::PathError::Io(reason)) => Err(PathError::Io(reason)),
            })
            .collect()
    }

    /// Expands a glob such as `src/**/*.rs` to at most `limit` sorted,
    /// workspace-relative paths. Symlinked directories are not descended into.
    pub fn glob(&self, pattern: &str, limit: u32) -> crate::Result<Vec<String>> {
        crate::__private::bindings::checkrail::rule::host::glob(pattern, limit)
            .map_err(crate::Error::new)
    }

    /// Reads a whole file.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, PathError> {
        let path = crate::normalize_path(path)?;
        std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PathError::NotFound,
            std::io::ErrorKind::PermissionDenied => PathError::OutsideWorkspace,
            // The host refuses to open anything but regular files and
            // directories, so that a FIFO cannot block the rule.
            std::io::ErrorKind::Unsupported => PathError::Io(format!(
                "`{path}` is not a regular file (a FIFO, socket or device); checkrail does not read it"
            )),
            _ => PathError::Io(e.to_string()),
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Workspace {
    /// A workspace rooted at a directory of this machine, for native runs
    /// (unit tests); confined to that directory by the same sandbox code as
    /// the host's.
    pub fn open(root: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        Ok(Self {
            native: checkrail_sandbox::NativeWorkspace::open(root.as_ref())?,
            root: root.as_ref().to_owned(),
        })
    }

    /// The workspace's directory on this machine.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// Looks at many paths in one call, answering in the same order.
    /// Symlinks are followed only while they stay inside the workspace.
    pub fn stat_many(&self, paths: &[&str]) -> Vec<Result<Entry, PathError>> {
        self.native
            .stat_many(paths.iter().copied())
            .into_iter()
            .map(crate::native::entry)
            .collect()
    }

    /// Expands a glob such as `src/**/*.rs` to at most `limit` sorted,
    /// workspace-relative paths. Symlinked directories are not descended into.
    pub fn glob(&self, pattern: &str, limit: u32) -> crate::Result<Vec<String>> {
        self.native
            .glob(pattern, limit as usize, &mut || false)
            .map_err(crate::Error::new)
    }

    /// Reads a whole file.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, PathError> {
        self.native.read(path).map_err(PathError::from_sandbox)
    }
}
