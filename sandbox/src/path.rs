//! Workspace-relative paths: the one set of rules the guest (through the
//! SDK), the host's confined workspace and the `exec` working directory
//! all apply.

/// Why a workspace path could not be looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Nothing exists at the path.
    NotFound,
    /// The path is absolute, climbs out with `..`, or resolves through a
    /// symlink to somewhere outside the workspace.
    OutsideWorkspace,
    /// Any other I/O failure, in words.
    Io(String),
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathError::NotFound => "no such file or directory",
            PathError::OutsideWorkspace => "path leads outside the workspace",
            PathError::Io(reason) => reason,
        })
    }
}

impl std::error::Error for PathError {}

/// Normalizes a workspace-relative path: `/`-separated, without `.` parts,
/// with `a/../b` folded to `b`.
///
/// Fails with [`PathError::OutsideWorkspace`] for an absolute path, a
/// Windows drive or UNC prefix, or `..` that climbs above the workspace root.
/// The empty path and `.` name the workspace root and normalize to `.`.
pub fn normalize_path(path: &str) -> Result<String, PathError> {
    if path.starts_with('/') || path.starts_with('\\') || has_drive_prefix(path) {
        return Err(PathError::OutsideWorkspace);
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathError::OutsideWorkspace);
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        Ok(".".to_owned())
    } else {
        Ok(parts.join("/"))
    }
}

fn has_drive_prefix(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_and_rejects() {
        assert_eq!(normalize_path("").unwrap(), ".");
        assert_eq!(normalize_path("a/./b/").unwrap(), "a/b");
        assert_eq!(normalize_path("a/b/../../c").unwrap(), "c");
        assert_eq!(normalize_path("a/../.."), Err(PathError::OutsideWorkspace));
        assert_eq!(normalize_path("C:/x"), Err(PathError::OutsideWorkspace));
        assert_eq!(
            normalize_path("\\\\server\\x"),
            Err(PathError::OutsideWorkspace)
        );
    }
}
