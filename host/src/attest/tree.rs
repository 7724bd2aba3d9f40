//! Git object ids for what a checkpoint saw and what a commit holds.
//!
//! A passed checkpoint records the id of the working tree as git would
//! write it (`git add -A && git write-tree`), computed here from the files
//! themselves: the list comes from `git ls-files` (tracked plus untracked,
//! not ignored), the bytes are hashed as they are on disk. Nothing from the
//! repository's config runs (no clean filters, no fsmonitor), so a
//! repository whose config rewrites content on the way in (line-ending
//! conversion, Git LFS) gives ids that differ from its commits; an
//! attestation then refuses, it never binds the wrong content.
//!
//! Object format: <https://git-scm.com/book/en/v2/Git-Internals-Git-Objects>
//! (`blob <len>\0<bytes>`; tree entries `<mode> <name>\0<20-byte id>`,
//! ordered by name with directories compared as `name/`).

use std::collections::BTreeMap;
use std::path::Path;

use sha1::{Digest, Sha1};

use crate::anchor::git;

/// One entry of a tree being built: a file's mode and blob id, or a
/// directory's entries.
enum Node {
    File { mode: &'static str, id: [u8; 20] },
    Dir(BTreeMap<String, Node>),
}

/// The id git would give the working tree of `root` if every file were
/// added as it is: `None` outside a git repository, or when the tree holds
/// something this does not hash (a submodule).
pub fn working_tree(root: &Path) -> Option<String> {
    let listed = git(
        root,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        None,
    )?;
    let mut top = BTreeMap::new();
    let mut paths: Vec<&[u8]> = listed
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let path = std::str::from_utf8(path).ok()?;
        let Some((mode, id)) = blob_of(&root.join(path))? else {
            // Listed by the index but gone from disk: not in the tree.
            continue;
        };
        insert(&mut top, path, mode, id);
    }
    Some(hex::encode(tree_id(&top)))
}

/// The commit `rev` names and its tree, as full ids.
pub fn commit_and_tree(root: &Path, rev: &str) -> Option<(String, String)> {
    if rev.starts_with('-') {
        return None;
    }
    let commit = line(git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
        None,
    )?)?;
    let tree = line(git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{commit}^{{tree}}"),
        ],
        None,
    )?)?;
    Some((commit, tree))
}

fn line(bytes: Vec<u8>) -> Option<String> {
    let text = String::from_utf8(bytes).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The mode and blob id of the file at `path`: `Some(None)` when it is
/// gone, `None` when it is something a tree cannot hold as a blob.
#[allow(
    clippy::option_option,
    reason = "gone and unhashable are different answers"
)]
fn blob_of(path: &Path) -> Option<Option<(&'static str, [u8; 20])>> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Some(None);
    };
    let (mode, bytes) = if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).ok()?;
        ("120000", target.into_os_string().into_encoded_bytes())
    } else if meta.is_file() {
        ("100644", std::fs::read(path).ok()?)
    } else {
        return None;
    };
    #[cfg(unix)]
    let mode = if mode == "100644"
        && std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o100 != 0
    {
        "100755"
    } else {
        mode
    };
    Some(Some((mode, object_id("blob", &bytes))))
}

fn object_id(kind: &str, body: &[u8]) -> [u8; 20] {
    let mut hasher = Sha1::new();
    hasher.update(format!("{kind} {}\0", body.len()).as_bytes());
    hasher.update(body);
    hasher.finalize().into()
}

fn insert(dir: &mut BTreeMap<String, Node>, path: &str, mode: &'static str, id: [u8; 20]) {
    match path.split_once('/') {
        None => {
            dir.insert(path.to_owned(), Node::File { mode, id });
        }
        Some((first, rest)) => {
            let child = dir
                .entry(first.to_owned())
                .or_insert_with(|| Node::Dir(BTreeMap::new()));
            if let Node::Dir(entries) = child {
                insert(entries, rest, mode, id);
            }
        }
    }
}

fn tree_id(entries: &BTreeMap<String, Node>) -> [u8; 20] {
    // Git orders a directory as if its name ended in '/'.
    let mut ordered: Vec<(Vec<u8>, &str, [u8; 20])> = entries
        .iter()
        .map(|(name, node)| match node {
            Node::File { mode, id } => (name.as_bytes().to_vec(), *mode, *id),
            Node::Dir(children) => {
                let mut key = name.as_bytes().to_vec();
                key.push(b'/');
                (key, "40000", tree_id(children))
            }
        })
        .collect();
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    let mut body = Vec::new();
    for (key, mode, id) in ordered {
        let name = key.strip_suffix(b"/").unwrap_or(&key);
        body.extend_from_slice(mode.as_bytes());
        body.push(b' ');
        body.extend_from_slice(name);
        body.push(0);
        body.extend_from_slice(&id);
    }
    object_id("tree", &body)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn git_in(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn the_working_tree_id_is_the_one_git_writes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git_in(root, &["init", "-q"]);
        std::fs::create_dir_all(root.join("src/a-b")).unwrap();
        std::fs::write(root.join("src/a-b/x.rs"), "x").unwrap();
        // `src.rs` sorts before `src/` bytewise but after it as git orders.
        std::fs::write(root.join("src.rs"), "top").unwrap();
        std::fs::write(root.join("src/a.rs"), "a").unwrap();
        std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
            std::os::unix::fs::symlink("src/a.rs", root.join("link")).unwrap();
        }
        std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
        std::fs::create_dir(root.join("target")).unwrap();
        std::fs::write(root.join("target/out"), "ignored").unwrap();
        git_in(root, &["add", "-A"]);
        git_in(root, &["commit", "-qm", "one"]);
        let (_, committed) = commit_and_tree(root, "HEAD").unwrap();
        assert_eq!(working_tree(root).unwrap(), committed);

        // An untracked file and a deleted tracked one count as they are.
        std::fs::write(root.join("new.txt"), "new").unwrap();
        std::fs::remove_file(root.join("src/a-b/x.rs")).unwrap();
        let now = working_tree(root).unwrap();
        assert_ne!(now, committed);
        git_in(root, &["add", "-A"]);
        assert_eq!(now, git_in(root, &["write-tree"]));
    }

    #[test]
    fn outside_a_repository_there_is_no_tree() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(working_tree(dir.path()), None);
        assert_eq!(commit_and_tree(dir.path(), "HEAD"), None);
        assert_eq!(commit_and_tree(dir.path(), "--help"), None);
    }
}
