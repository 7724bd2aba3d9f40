//! Workspace-relative path checks shared by the guest and the host.

use crate::workspace::PathError;

/// Normalizes a workspace-relative path: `/`-separated, without `.` parts,
/// with `a/../b` folded to `b`.
///
/// Fails with [`PathError::OutsideWorkspace`] for an absolute path, a
/// Windows drive or UNC prefix, or `..` that climbs above the workspace root.
/// The empty path and `.` name the workspace root and normalize to `.`.
///
/// ```
/// use checkrail_sdk::{normalize_path, PathError};
///
/// assert_eq!(normalize_path("./src//lib.rs").unwrap(), "src/lib.rs");
/// assert_eq!(normalize_path("src/../README.md").unwrap(), "README.md");
/// assert_eq!(normalize_path("../etc/passwd"), Err(PathError::OutsideWorkspace));
/// assert_eq!(normalize_path("/etc/passwd"), Err(PathError::OutsideWorkspace));
/// ```
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
