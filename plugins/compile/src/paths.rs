//! Turning the paths tools print into workspace-relative paths.
//!
//! A tool prints paths relative to the directory it ran in (the rule's
//! `cwd`), except that cargo prints them relative to the *cargo* workspace
//! root (which may be an ancestor of `cwd`) and prints absolute paths for
//! crates outside its workspace; compilers print absolute paths for system
//! headers. The rule cannot see the workspace's absolute location (inside
//! the sandbox there is none), so it asks the workspace which candidate
//! exists, all in one `stat_many` call.

use std::collections::{BTreeSet, HashMap};

use checkrail_sdk::{Workspace, normalize_path};

/// Absolute path prefixes that are never inside a project workspace.
const SYSTEM_PREFIXES: &[&str] = &[
    "/usr/",
    "/opt/",
    "/nix/",
    "/rustc/",
    "/Library/",
    "/System/",
    "/etc/",
    "/lib/",
];

/// Markers of toolchain and dependency caches inside a home directory.
const CACHE_MARKERS: &[&str] = &["/.cargo/", "/.rustup/", "/site-packages/", "/.pyenv/"];

/// Joins `cwd` (normalized, `.` for the root) and a relative `path`.
pub fn join(cwd: &str, path: &str) -> Option<String> {
    let joined = if cwd == "." {
        path.to_owned()
    } else {
        format!("{cwd}/{path}")
    };
    normalize_path(&joined).ok()
}

fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || path.starts_with('\\')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
}

/// Where to look for `raw`, most likely first.
fn candidates(cwd: &str, raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.starts_with('<') {
        return Vec::new();
    }
    if is_absolute(raw) {
        let unified = raw.replace('\\', "/");
        if SYSTEM_PREFIXES.iter().any(|p| unified.starts_with(p))
            || CACHE_MARKERS.iter().any(|m| unified.contains(m))
        {
            return Vec::new();
        }
        let parts: Vec<&str> = unified
            .split('/')
            .filter(|p| !p.is_empty() && !p.ends_with(':'))
            .collect();
        // Longest suffix first: the shortest guess at the workspace root.
        return (1..parts.len())
            .filter_map(|start| normalize_path(&parts[start..].join("/")).ok())
            .collect();
    }
    let mut dirs = vec![cwd.to_owned()];
    let mut dir = cwd.to_owned();
    while dir != "." {
        dir = match dir.rsplit_once('/') {
            Some((parent, _)) => parent.to_owned(),
            None => ".".to_owned(),
        };
        dirs.push(dir.clone());
    }
    dirs.iter().filter_map(|d| join(d, raw)).collect()
}

/// Maps each path as printed by a tool that ran in `cwd` to a
/// workspace-relative path, or `None` when it is outside the workspace.
pub fn resolve<'a>(
    ws: &Workspace,
    cwd: &str,
    raw: impl IntoIterator<Item = &'a str>,
) -> HashMap<String, Option<String>> {
    let raw: BTreeSet<&str> = raw.into_iter().collect();
    let per_raw: Vec<(&str, Vec<String>)> = raw.iter().map(|r| (*r, candidates(cwd, r))).collect();
    let unique: BTreeSet<&str> = per_raw
        .iter()
        .flat_map(|(_, c)| c.iter().map(String::as_str))
        .collect();
    let unique: Vec<&str> = unique.into_iter().collect();
    let existing: BTreeSet<String> = unique
        .iter()
        .zip(ws.stat_many(&unique))
        .filter(|(_, answer)| answer.as_ref().is_ok_and(|e| e.is_file()))
        .map(|(path, _)| (*path).to_owned())
        .collect();
    per_raw
        .iter()
        .map(|(raw, candidates)| {
            let raw = *raw;
            let found = candidates
                .iter()
                .find(|c| existing.contains(*c))
                .cloned()
                .or_else(|| {
                    // A file the tool named that does not exist (any more):
                    // still report it where the tool said, if relative.
                    if is_absolute(raw) {
                        None
                    } else {
                        join(cwd, raw.trim())
                    }
                });
            (raw.to_owned(), found)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_cwd_ancestors_and_absolute_suffixes() {
        assert_eq!(candidates(".", "./src/a.c"), ["src/a.c"]);
        assert_eq!(
            candidates("crates/core", "crates/core/src/lib.rs"),
            [
                "crates/core/crates/core/src/lib.rs",
                "crates/crates/core/src/lib.rs",
                "crates/core/src/lib.rs"
            ]
        );
        assert_eq!(
            candidates(".", "/home/u/proj/vendor/x/src/lib.rs"),
            [
                "u/proj/vendor/x/src/lib.rs",
                "proj/vendor/x/src/lib.rs",
                "vendor/x/src/lib.rs",
                "x/src/lib.rs",
                "src/lib.rs",
                "lib.rs"
            ]
        );
        assert!(candidates(".", "/usr/include/stdio.h").is_empty());
        assert!(candidates(".", "/root/.cargo/registry/src/x/lib.rs").is_empty());
        assert!(candidates(".", "<command-line>").is_empty());
        assert!(candidates(".", "../outside.c").is_empty());
    }

    #[test]
    fn resolves_against_what_exists() {
        let ws = checkrail_sdk::testing::TestWorkspace::new().unwrap();
        ws.write("sub/src/lib.rs", "").unwrap();
        ws.write("member/x.rs", "").unwrap();
        ws.write("vendor/dep/src/lib.rs", "").unwrap();
        let workspace = Workspace::open(ws.path()).unwrap();
        let map = resolve(
            &workspace,
            "member",
            [
                "x.rs",
                "sub/src/lib.rs",
                "/somewhere/else/vendor/dep/src/lib.rs",
                "gone.rs",
                "/usr/include/stdio.h",
            ],
        );
        assert_eq!(map["x.rs"].as_deref(), Some("member/x.rs"));
        assert_eq!(map["sub/src/lib.rs"].as_deref(), Some("sub/src/lib.rs"));
        assert_eq!(
            map["/somewhere/else/vendor/dep/src/lib.rs"].as_deref(),
            Some("vendor/dep/src/lib.rs")
        );
        assert_eq!(map["gone.rs"].as_deref(), Some("member/gone.rs"));
        assert_eq!(map["/usr/include/stdio.h"], None);
    }
}
