//! Turning the paths a tool printed into workspace-relative ones.
//!
//! A relative path is relative to the program's working directory, or (for
//! rustc inside a cargo workspace) to one of its ancestors: the deepest
//! ancestor where the file exists wins. An absolute path is a host path the
//! rule cannot see; the workspace root's host path is inferred as the prefix
//! that most absolute paths share once their longest suffix that exists in
//! the workspace is cut off, and only paths under that prefix are mapped.
//! Everything is looked up in one `stat_many` call.

use std::collections::{BTreeMap, HashMap};

use checkrail_sdk::{Workspace, normalize_path};

/// Maps printed paths to workspace paths; unresolvable ones are absent.
pub fn resolve(
    ws: &Workspace,
    cwd: Option<&str>,
    printed: &[&str],
    anchors: &[&str],
) -> HashMap<String, String> {
    let ancestors = ancestors(cwd);
    let mut candidates: Vec<String> = Vec::new();
    let mut add = |c: String, list: &mut Vec<String>| {
        if !candidates.contains(&c) {
            candidates.push(c.clone());
        }
        list.push(c);
    };

    // Candidates per printed path, best first.
    let mut relative: Vec<(&str, Vec<String>)> = Vec::new();
    let mut absolute: Vec<(&str, Vec<String>, bool)> = Vec::new();
    for (path, is_anchor) in printed
        .iter()
        .map(|p| (*p, false))
        .chain(anchors.iter().map(|p| (*p, true)))
    {
        let mut list = Vec::new();
        if is_absolute(path) {
            let parts = components(path);
            for i in 0..parts.len() {
                if let Ok(suffix) = normalize_path(&parts[i..].join("/")) {
                    add(suffix, &mut list);
                }
            }
            absolute.push((path, list, is_anchor));
        } else if !is_anchor {
            for base in &ancestors {
                let joined = if base.is_empty() {
                    path.to_owned()
                } else {
                    format!("{base}/{path}")
                };
                if let Ok(p) = normalize_path(&joined) {
                    add(p, &mut list);
                }
            }
            relative.push((path, list));
        }
    }

    let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
    let exists: HashMap<&str, bool> = refs
        .iter()
        .copied()
        .zip(ws.stat_many(&refs).into_iter().map(|r| r.is_ok()))
        .collect();
    let found = |c: &String| exists.get(c.as_str()).copied().unwrap_or(false);

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

fn is_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with('/')
        || path.starts_with('\\')
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

fn components(path: &str) -> Vec<&str> {
    path.split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect()
}

/// `a/b` -> `["a/b", "a", ""]`: where relative paths may be rooted.
fn ancestors(cwd: Option<&str>) -> Vec<String> {
    let base = cwd
        .and_then(|c| normalize_path(c).ok())
        .filter(|c| c != ".")
        .unwrap_or_default();
    let mut out = vec![base.clone()];
    let mut cur = base.as_str();
    while !cur.is_empty() {
        cur = cur.rsplit_once('/').map_or("", |(parent, _)| parent);
        out.push(cur.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkrail_sdk::testing::TestWorkspace;

    #[test]
    fn maps_relative_and_absolute_paths() {
        let tw = TestWorkspace::new().unwrap();
        tw.write("sub/src/lib.rs", "").unwrap();
        tw.write("src/lib.rs", "").unwrap();
        tw.write("pkg/a.py", "").unwrap();
        tw.write("b.py", "").unwrap();
        let ws = Workspace::open(tw.path()).unwrap();
        let map = resolve(
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
        assert_eq!(ancestors(Some("./a/b/")), ["a/b", "a", ""]);
        assert_eq!(ancestors(None), [""]);
    }

    #[test]
    fn anchors_vote_for_the_root() {
        let tw = TestWorkspace::new().unwrap();
        tw.write("Cargo.toml", "").unwrap();
        tw.write("crates/a/Cargo.toml", "").unwrap();
        tw.write("src/lib.rs", "").unwrap();
        let ws = Workspace::open(tw.path()).unwrap();
        let outside = "/home/u/.cargo/registry/src/x/src/lib.rs";
        let map = resolve(
            &ws,
            None,
            &[outside],
            &["/w/Cargo.toml", "/w/crates/a/Cargo.toml"],
        );
        assert!(map.is_empty(), "{map:?}");
        let map = resolve(&ws, None, &["/w/src/lib.rs"], &["/w/crates/a/Cargo.toml"]);
        assert_eq!(map["/w/src/lib.rs"], "src/lib.rs");
    }
}
