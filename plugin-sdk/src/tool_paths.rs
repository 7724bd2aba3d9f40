//! Mapping the paths an external tool printed back to workspace-relative
//! paths.
//!
//! A tool prints paths relative to the directory it ran in (the rule's
//! working directory, `cwd`), except that some print them relative to an
//! ancestor of it (cargo prints them relative to the *cargo* workspace root),
//! and absolute host paths appear too (crates outside the cargo workspace,
//! system headers, a linter given absolute arguments). A rule cannot see the
//! workspace's absolute location (inside the sandbox there is none), so the
//! resolvers here list the candidate workspace paths for every printed path
//! and ask the workspace which exist, all in one [`Workspace::stat_many`]
//! call.
//!
//! Two strategies are offered for absolute paths:
//!
//! - [`resolve_each`] maps every path on its own: an absolute path becomes
//!   its longest suffix that is a file in the workspace, and toolchain and
//!   system paths are never mapped.
//! - [`resolve_with_root`] infers the workspace root's host path from all the
//!   absolute paths at once (plus optional anchors known to be inside the
//!   workspace) and maps only the paths under it.
//!
//! ```
//! use checkrail_sdk::tool_paths::{ancestors, join, relative_candidates};
//!
//! assert_eq!(join("crates/core", "src/lib.rs").as_deref(), Some("crates/core/src/lib.rs"));
//! assert_eq!(ancestors("crates/core"), ["crates/core", "crates", "."]);
//! assert_eq!(
//!     relative_candidates("crates/core", "crates/core/src/lib.rs"),
//!     [
//!         "crates/core/crates/core/src/lib.rs",
//!         "crates/crates/core/src/lib.rs",
//!         "crates/core/src/lib.rs",
//!     ]
//! );
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::{Workspace, normalize_path};

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

/// Joins a workspace-relative directory `cwd` (`.` or the empty string for
/// the root) and a `path` relative to it, normalized; `None` when the result
/// leaves the workspace or `path` is absolute.
pub fn join(cwd: &str, path: &str) -> Option<String> {
    let joined = if cwd == "." || cwd.is_empty() {
        path.to_owned()
    } else {
        format!("{cwd}/{path}")
    };
    normalize_path(&joined).ok()
}

/// Whether `path` is absolute on some host: starts with `/` or `\`, or with
/// a Windows drive such as `C:`.
pub fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || path.starts_with('\\')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
}

/// Whether an absolute path is a system or toolchain location (`/usr/…`,
/// `/rustc/…`, `~/.cargo/…`, `site-packages`, …) that is never inside a
/// project workspace.
pub fn is_toolchain_path(path: &str) -> bool {
    let unified = path.replace('\\', "/");
    SYSTEM_PREFIXES.iter().any(|p| unified.starts_with(p))
        || CACHE_MARKERS.iter().any(|m| unified.contains(m))
}

/// `cwd` (normalized) and each of its ancestors, deepest first, ending with
/// `.` for the workspace root: where a tool that ran in `cwd` may have
/// rooted the relative paths it printed. A `cwd` that is not a valid
/// workspace path counts as the root.
pub fn ancestors(cwd: &str) -> Vec<String> {
    let base = normalize_path(cwd).unwrap_or_else(|_| ".".to_owned());
    let mut out = vec![base.clone()];
    let mut dir = base;
    while dir != "." {
        dir = match dir.rsplit_once('/') {
            Some((parent, _)) => parent.to_owned(),
            None => ".".to_owned(),
        };
        out.push(dir.clone());
    }
    out
}

/// The workspace paths a relative `printed` path may name when the tool ran
/// in `cwd`: joined to `cwd` first, then to each of its [`ancestors`]. Joins
/// that leave the workspace are left out.
pub fn relative_candidates(cwd: &str, printed: &str) -> Vec<String> {
    ancestors(cwd)
        .iter()
        .filter_map(|dir| join(dir, printed))
        .collect()
}

/// Which of `candidates` exist in the workspace (only regular files when
/// `files_only`), asked in one `stat_many` call.
fn existing<'a>(
    ws: &Workspace,
    candidates: impl IntoIterator<Item = &'a str>,
    files_only: bool,
) -> HashSet<String> {
    let unique: BTreeSet<&str> = candidates.into_iter().collect();
    let unique: Vec<&str> = unique.into_iter().collect();
    unique
        .iter()
        .zip(ws.stat_many(&unique))
        .filter(|(_, answer)| match answer {
            Ok(entry) => !files_only || entry.is_file(),
            Err(_) => false,
        })
        .map(|(path, _)| (*path).to_owned())
        .collect()
}

/// Where [`resolve_each`] looks for `printed`, most likely first.
fn each_candidates(cwd: &str, printed: &str) -> Vec<String> {
    let printed = printed.trim();
    if printed.is_empty() || printed.starts_with('<') {
        return Vec::new();
    }
    if is_absolute(printed) {
        if is_toolchain_path(printed) {
            return Vec::new();
        }
        let unified = printed.replace('\\', "/");
        let parts: Vec<&str> = unified
            .split('/')
            .filter(|p| !p.is_empty() && !p.ends_with(':'))
            .collect();
        // Longest suffix first: the shortest guess at the workspace root.
        return (1..parts.len())
            .filter_map(|start| normalize_path(&parts[start..].join("/")).ok())
            .collect();
    }
    relative_candidates(cwd, printed)
}

/// Maps each path as printed by a tool that ran in `cwd` to a
/// workspace-relative path, each on its own, with one `stat_many` call.
///
/// - A relative path maps to the first of its [`relative_candidates`] that is
///   a file; when none is, to the path joined to `cwd` (a file the tool
///   named that does not exist, or no longer does, is still reported where
///   the tool said).
/// - An absolute path maps to its longest suffix that is a file in the
///   workspace, or to `None`; [toolchain paths](is_toolchain_path) always
///   map to `None`.
/// - Placeholders such as `<command-line>` never match a file.
///
/// Every printed path is a key of the result; `None` means outside the
/// workspace.
pub fn resolve_each<'a>(
    ws: &Workspace,
    cwd: &str,
    printed: impl IntoIterator<Item = &'a str>,
) -> HashMap<String, Option<String>> {
    let printed: BTreeSet<&str> = printed.into_iter().collect();
    let per_path: Vec<(&str, Vec<String>)> = printed
        .iter()
        .map(|p| (*p, each_candidates(cwd, p)))
        .collect();
    let existing = existing(
        ws,
        per_path
            .iter()
            .flat_map(|(_, c)| c.iter().map(String::as_str)),
        true,
    );
    per_path
        .iter()
        .map(|(raw, candidates)| {
            let raw = *raw;
            let found = candidates
                .iter()
                .find(|c| existing.contains(*c))
                .cloned()
                .or_else(|| {
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

/// The non-empty, non-`.` parts of a path split at `/` and `\`.
fn components(path: &str) -> Vec<&str> {
    path.split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect()
}

/// Maps the paths printed by a tool that ran in `cwd` (`None` for the
/// workspace root) to workspace paths that exist, with one `stat_many` call.
/// Paths that cannot be mapped are absent from the result.
///
/// - A relative path maps to the first of its [`relative_candidates`] that
///   exists.
/// - For absolute paths, the workspace root's host path is inferred as the
///   prefix that most of them share once their longest suffix that exists in
///   the workspace is cut off (each vote weighted by the number of matched
///   components). `anchors` are absolute paths known to be inside the
///   workspace (cargo's manifest paths of local packages, say): they vote
///   but are not mapped. Only absolute paths under the inferred root are
///   mapped.
pub fn resolve_with_root(
    ws: &Workspace,
    cwd: Option<&str>,
    printed: &[&str],
    anchors: &[&str],
) -> HashMap<String, String> {
    let cwd = cwd.unwrap_or(".");
    let mut candidates: Vec<String> = Vec::new();

    // Candidates per printed path, best first.
    let mut relative: Vec<(&str, Vec<String>)> = Vec::new();
    let mut absolute: Vec<(&str, Vec<String>, bool)> = Vec::new();
    for (path, is_anchor) in printed
        .iter()
        .map(|p| (*p, false))
        .chain(anchors.iter().map(|p| (*p, true)))
    {
        if is_absolute(path) {
            let parts = components(path);
            let list: Vec<String> = (0..parts.len())
                .filter_map(|i| normalize_path(&parts[i..].join("/")).ok())
                .collect();
            candidates.extend(list.iter().cloned());
            absolute.push((path, list, is_anchor));
        } else if !is_anchor {
            let list = relative_candidates(cwd, path);
            candidates.extend(list.iter().cloned());
            relative.push((path, list));
        }
    }

    let exists = existing(ws, candidates.iter().map(String::as_str), false);
    let found = |c: &String| exists.contains(c);

    let mut map = HashMap::new();
    for (path, list) in relative {
        if let Some(hit) = list.iter().find(|c| found(c)) {
            map.insert(path.to_owned(), hit.clone());
        }
    }

    // Vote for the root prefix, weighting each vote by how many components
    // of the path matched inside the workspace.
    let mut votes: BTreeMap<String, usize> = BTreeMap::new();
    for (path, list, _) in &absolute {
        if let Some(hit) = list.iter().find(|c| found(c)) {
            let parts = components(path);
            let matched = hit.split('/').count();
            let prefix = parts[..parts.len().saturating_sub(matched)].join("/");
            *votes.entry(prefix).or_default() += matched;
        }
    }
    let root = votes
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.len().cmp(&a.0.len())))
        .map(|(prefix, _)| prefix.clone());
    if let Some(root) = root {
        let root_parts: Vec<&str> = if root.is_empty() {
            Vec::new()
        } else {
            root.split('/').collect()
        };
        for (path, _, is_anchor) in absolute {
            if is_anchor {
                continue;
            }
            let parts = components(path);
            if parts.len() > root_parts.len()
                && parts[..root_parts.len()] == root_parts[..]
                && let Ok(rel) = normalize_path(&parts[root_parts.len()..].join("/"))
                && found(&rel)
            {
                map.insert(path.to_owned(), rel);
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestWorkspace;

    #[test]
    fn candidates_cover_cwd_ancestors_and_absolute_suffixes() {
        assert_eq!(each_candidates(".", "./src/a.c"), ["src/a.c"]);
        assert_eq!(
            each_candidates("crates/core", "crates/core/src/lib.rs"),
            [
                "crates/core/crates/core/src/lib.rs",
                "crates/crates/core/src/lib.rs",
                "crates/core/src/lib.rs"
            ]
        );
        assert_eq!(
            each_candidates(".", "/home/u/proj/vendor/x/src/lib.rs"),
            [
                "u/proj/vendor/x/src/lib.rs",
                "proj/vendor/x/src/lib.rs",
                "vendor/x/src/lib.rs",
                "x/src/lib.rs",
                "src/lib.rs",
                "lib.rs"
            ]
        );
        assert!(each_candidates(".", "/usr/include/stdio.h").is_empty());
        assert!(each_candidates(".", "/root/.cargo/registry/src/x/lib.rs").is_empty());
        assert!(each_candidates(".", "<command-line>").is_empty());
        assert!(each_candidates(".", "../outside.c").is_empty());
    }

    #[test]
    fn resolve_each_maps_against_what_exists() {
        let ws = TestWorkspace::new().unwrap();
        ws.write("sub/src/lib.rs", "").unwrap();
        ws.write("member/x.rs", "").unwrap();
        ws.write("vendor/dep/src/lib.rs", "").unwrap();
        let workspace = Workspace::open(ws.path()).unwrap();
        let map = resolve_each(
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

    #[test]
    fn resolve_with_root_maps_relative_and_absolute_paths() {
        let tw = TestWorkspace::new().unwrap();
        tw.write("sub/src/lib.rs", "").unwrap();
        tw.write("src/lib.rs", "").unwrap();
        tw.write("pkg/a.py", "").unwrap();
        tw.write("b.py", "").unwrap();
        let ws = Workspace::open(tw.path()).unwrap();
        let map = resolve_with_root(
            &ws,
            Some("sub"),
            &[
                "src/lib.rs",
                "../b.py",
                "pkg/a.py",
                "nope.rs",
                "/host/ws/pkg/a.py",
                "/host/ws/b.py",
                "/home/u/.cargo/registry/src/x/src/lib.rs",
            ],
            &[],
        );
        assert_eq!(map["src/lib.rs"], "sub/src/lib.rs", "cwd first");
        assert_eq!(map["../b.py"], "b.py");
        assert_eq!(map["pkg/a.py"], "pkg/a.py", "then the ancestors");
        assert!(!map.contains_key("nope.rs"));
        assert_eq!(map["/host/ws/pkg/a.py"], "pkg/a.py");
        assert_eq!(map["/host/ws/b.py"], "b.py");
        assert!(
            !map.contains_key("/home/u/.cargo/registry/src/x/src/lib.rs"),
            "outside the inferred root: {map:?}"
        );
        assert_eq!(ancestors("./a/b/"), ["a/b", "a", "."]);
        assert_eq!(ancestors("."), ["."]);
    }

    #[test]
    fn anchors_vote_for_the_root() {
        let tw = TestWorkspace::new().unwrap();
        tw.write("Cargo.toml", "").unwrap();
        tw.write("crates/a/Cargo.toml", "").unwrap();
        tw.write("src/lib.rs", "").unwrap();
        let ws = Workspace::open(tw.path()).unwrap();
        let outside = "/home/u/.cargo/registry/src/x/src/lib.rs";
        let map = resolve_with_root(
            &ws,
            None,
            &[outside],
            &["/w/Cargo.toml", "/w/crates/a/Cargo.toml"],
        );
        assert!(map.is_empty(), "{map:?}");
        let map = resolve_with_root(&ws, None, &["/w/src/lib.rs"], &["/w/crates/a/Cargo.toml"]);
        assert_eq!(map["/w/src/lib.rs"], "src/lib.rs");
    }
}
