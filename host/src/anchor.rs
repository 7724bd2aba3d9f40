//! The commit a session is judged against, when there is one the agent did
//! not choose:
//!
//! - **upstream**: `[anchor] upstream = "origin/main"` in `checkrail.toml`
//!   (itself allowed by a human) names a ref; the anchor is the merge-base
//!   of `HEAD` with it, the code the team reviewed. Judging files are
//!   compared with their content there.
//! - **allowed**: otherwise, the commit `checkrail allow` saw, when the
//!   tracked files matched it (see [`crate::allow`]).
//!
//! Tests that already failed at the anchor are *known failures*: a rule
//! whose config schema takes `known_failures` is run once more, on a copy
//! of the anchor commit's files, and handed what it reported there as the
//! baseline [`BASELINE`]. The facts are remembered, authenticated, in the
//! state directory under the anchor commit, the rule's digest and its
//! config, so the anchor is run once.
//!
//! Git runs with hooks, fsmonitor and pagers off and only reads objects:
//! nothing the workspace's `.git/config` names is run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::frozen::Snapshot;
use crate::workspace::Workspace;

/// The baseline name under which a rule gets its facts at the anchor.
pub const BASELINE: &str = "@anchor";
const FACTS_DIR: &str = "anchor";
const DOMAIN: &str = "checkrail anchor facts v1";

/// An anchor commit and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Anchor {
    /// The full commit id.
    pub commit: String,
    /// `upstream <ref>` or `allowed`.
    pub from: String,
}

/// Runs git in `root` with nothing from the repository's config that could
/// run a program; its stdout when it succeeds.
pub(crate) fn git(root: &Path, args: &[&str], input: Option<&[u8]>) -> Option<Vec<u8>> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(root)
        .args([
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.hooksPath=/dev/null",
            "--no-pager",
            "--no-optional-locks",
        ])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().ok()?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        let input = input.to_vec();
        std::thread::spawn(move || stdin.write_all(&input));
    }
    let out = child.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}

fn line(bytes: Vec<u8>) -> Option<String> {
    let text = String::from_utf8(bytes).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The commit `HEAD` names, when the tracked files are as it has them
/// (untracked files aside): the commit a human saw at `checkrail allow`.
pub fn clean_head(root: &Path) -> Option<String> {
    let head = line(git(
        root,
        &["rev-parse", "--verify", "HEAD^{commit}"],
        None,
    )?)?;
    let status = git(
        root,
        &["status", "--porcelain", "--untracked-files=no"],
        None,
    )?;
    status.is_empty().then_some(head)
}

/// The merge-base of `HEAD` and `upstream`, when both resolve.
fn merge_base(root: &Path, upstream: &str) -> Option<String> {
    if upstream.starts_with('-') {
        return None;
    }
    line(git(root, &["merge-base", "HEAD", upstream], None)?)
}

/// The workspace's anchor: the merge-base with the upstream ref its
/// allowed `checkrail.toml` names, else the commit the last allow saw.
pub fn of(ws: &Workspace) -> Option<Anchor> {
    if let Ok(config) = ws.config()
        && let Some(upstream) = config.anchor.upstream
    {
        return merge_base(ws.root(), &upstream).map(|commit| Anchor {
            commit,
            from: format!("upstream {upstream}"),
        });
    }
    crate::allow::commit(ws).map(|commit| Anchor {
        commit,
        from: "allowed".to_owned(),
    })
}

/// The upstream anchor alone (for judging files; the allowed commit's
/// files are already recorded by the allow itself).
pub fn upstream(ws: &Workspace) -> Option<Anchor> {
    of(ws).filter(|a| a.from.starts_with("upstream"))
}

/// Each file at `commit` matching `globs`, with the sha256 of its content
/// (or of its named TOML tables, as [`crate::frozen::snapshot`] records
/// it): the judging files as the anchor has them.
pub fn snapshot_at(root: &Path, commit: &str, globs: &[String]) -> Option<Snapshot> {
    let listing = git(root, &["ls-tree", "-r", "-z", "--full-tree", commit], None)?;
    let mut wanted: Vec<(String, String, Option<String>)> = Vec::new();
    let sets: Vec<(Option<String>, globset::GlobSet)> = globs
        .iter()
        .filter(|g| !g.starts_with('/'))
        .filter_map(|g| {
            let (pattern, tables) = crate::frozen::split_tables(g);
            let set = crate::cache::fingerprints::glob_set(&[pattern.to_owned()])?;
            Some((tables.map(str::to_owned), set))
        })
        .collect();
    for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let mut fields = meta.split(' ');
        let (_, kind, object) = (fields.next(), fields.next(), fields.next());
        if kind != Some("blob") {
            continue;
        }
        for (tables, set) in &sets {
            if set.is_match(path) {
                let object = object.unwrap_or_default().to_owned();
                wanted.push((path.to_owned(), object, tables.clone()));
            }
        }
    }
    let mut snapshot = Snapshot::new();
    if wanted.is_empty() {
        return Some(snapshot);
    }
    let request: String = wanted.iter().map(|(_, o, _)| format!("{o}\n")).collect();
    let out = git(root, &["cat-file", "--batch"], Some(request.as_bytes()))?;
    let mut rest = &out[..];
    for (path, _, tables) in wanted {
        let header_end = rest.iter().position(|b| *b == b'\n')?;
        let header = String::from_utf8_lossy(&rest[..header_end]).into_owned();
        let size: usize = header.rsplit(' ').next()?.parse().ok()?;
        let body = rest.get(header_end + 1..header_end + 1 + size)?;
        rest = rest.get(header_end + 2 + size..).unwrap_or_default();
        match tables {
            Some(tables) => {
                let digest = crate::frozen::tables_digest(body, &tables);
                snapshot.insert(format!("{path}#{tables}"), digest);
            }
            None => {
                snapshot.insert(path, hex::encode(Sha256::digest(body)));
            }
        }
    }
    Some(snapshot)
}

/// Writes the files of `commit` into the empty directory `into`.
pub fn checkout(root: &Path, commit: &str, into: &Path) -> std::io::Result<()> {
    let archive = git(root, &["archive", "--format=tar", commit], None)
        .ok_or_else(|| std::io::Error::other(format!("git could not read commit {commit}")))?;
    tar::Archive::new(&archive[..]).unpack(into)
}

/// Where the facts of one rule use at one anchor are kept.
fn facts_path(ws: &Workspace, key: &str) -> std::path::PathBuf {
    ws.state_dir().join(FACTS_DIR).join(format!("{key}.json"))
}

/// The key of a rule use's facts at an anchor.
pub fn facts_key(commit: &str, rule_digest: &str, config: &serde_json::Value) -> String {
    let text = format!("{commit}\u{0}{rule_digest}\u{0}{config}");
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    /// What the rule reported at the anchor (none when it reported no
    /// facts, or did not complete: then there is nothing to compare with).
    facts: Option<serde_json::Value>,
    tag: String,
}

/// The facts remembered for `key`: `None` when never computed, `Some(None)`
/// when computed and empty. A record that does not verify is not believed.
pub fn remembered(ws: &Workspace, key: &str) -> Option<Option<serde_json::Value>> {
    let text = std::fs::read(facts_path(ws, key)).ok()?;
    let kept: Kept = serde_json::from_slice(&text).ok()?;
    let body = format!(
        "{key}\u{0}{}",
        kept.facts.as_ref().map_or(String::new(), |f| f.to_string())
    );
    ws.key()
        .verify(DOMAIN, &[body.as_bytes()], &kept.tag)
        .then_some(kept.facts)
}

/// Remembers the facts of `key`.
pub fn remember(ws: &Workspace, key: &str, facts: Option<serde_json::Value>) {
    let body = format!(
        "{key}\u{0}{}",
        facts.as_ref().map_or(String::new(), |f| f.to_string())
    );
    let tag = ws.key().tag(DOMAIN, &[body.as_bytes()]);
    let kept = Kept { facts, tag };
    let path = facts_path(ws, key);
    let written = serde_json::to_vec(&kept)
        .map_err(|e| e.to_string())
        .and_then(|text| {
            std::fs::create_dir_all(path.parent().unwrap_or(ws.state_dir()))
                .map_err(|e| e.to_string())?;
            crate::trusted::write_private(&path, &text).map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        tracing::warn!("could not remember the facts at the anchor: {e}");
    }
}

/// `now` with each file the globs cover as the anchor commit has it:
/// one changed since shows as changed, one added as added, one gone as
/// deleted. Files outside git (an interpreter's site files) stay as `now`.
pub fn judged_at(root: &Path, commit: &str, globs: &[String], now: Snapshot) -> Snapshot {
    let Some(then) = snapshot_at(root, commit, globs) else {
        return now;
    };
    let mut baseline: BTreeMap<String, String> = now
        .into_iter()
        .filter(|(path, _)| path.starts_with('/'))
        .collect();
    baseline.extend(then);
    baseline
}
