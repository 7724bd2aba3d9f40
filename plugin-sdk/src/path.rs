//! Workspace-relative path checks shared by the guest and the host: the
//! sandbox's own rules, in the SDK's error type.

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
    checkrail_sandbox::normalize_path(path).map_err(PathError::from_sandbox)
}
