//! Workspace policy a human has allowed. `checkrail.toml` (grants, approval
//! channels, enforcement, retention, trust) and the workspace's own
//! workflows (`.checkrail/workflows/`) decide how an agent is judged, and an
//! agent can write them before it ever starts a session. So they take
//! effect only as a human last allowed them, with `checkrail allow` at a
//! terminal (as direnv and mise do with their files): the record keeps each
//! file's text and sha256, authenticated with the per-user key, in the
//! workspace's state directory. A file that is new, changed or gone since
//! is not used; the error names it and the command to run. Bundled
//! workflows and installed pack workflows need no allow (packs are pinned
//! and signed).

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::frozen::Snapshot;
use crate::workspace::Workspace;
use crate::{Error, Result};

const RECORD: &str = "allowed.json";
const DOMAIN: &str = "checkrail allowed policy v1";
/// Where a workspace keeps its own workflows.
pub const WORKFLOWS_DIR: &str = ".checkrail/workflows";
/// Largest policy file kept with its text (a workflow file's own limit is
/// 1 MiB; larger ones are kept by digest alone).
const TEXT_MAX: usize = 1 << 20;

/// One policy file as allowed: its sha256 and text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Allowed {
    /// sha256 of its bytes.
    pub sha256: String,
    /// Its text, for the difference shown at the next allow.
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Record {
    allowed_at: String,
    files: BTreeMap<String, Allowed>,
    /// The judging files as the human allowed them: the globs of every
    /// installed rule's judging files, and each file they matched with its
    /// sha256.
    #[serde(default)]
    judging: Option<Judging>,
    /// The commit `HEAD` named when the tracked files matched it: the
    /// anchor of known failures (see [`crate::anchor`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
    tag: String,
}

/// The judging files a human allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Judging {
    /// The globs that found them.
    pub globs: Vec<String>,
    /// Each file found → sha256.
    pub files: BTreeMap<String, String>,
}

/// How a policy file differs from what a human allowed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyChange {
    /// Workspace-relative path.
    pub file: String,
    /// `is new`, `changed` or `was removed`.
    pub what: &'static str,
    /// The text a human allowed, if any.
    #[serde(skip)]
    pub before: Option<String>,
    /// The text now, if the file exists.
    #[serde(skip)]
    pub after: Option<String>,
}

/// The policy files of the workspace at `root` as they are now.
pub fn policy_files(root: &Path) -> BTreeMap<String, Allowed> {
    let mut files = BTreeMap::new();
    let mut add = |relative: String| {
        if let Ok(bytes) = std::fs::read(root.join(&relative)) {
            let text =
                (bytes.len() <= TEXT_MAX).then(|| String::from_utf8_lossy(&bytes).into_owned());
            let sha256 = hex::encode(Sha256::digest(&bytes));
            files.insert(relative, Allowed { sha256, text });
        }
    };
    add(crate::config::FILE.to_owned());
    if let Ok(entries) = std::fs::read_dir(root.join(WORKFLOWS_DIR)) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            if yaml && entry.file_type().is_ok_and(|t| t.is_file()) {
                add(format!("{WORKFLOWS_DIR}/{name}"));
            }
        }
    }
    files
}

/// What a human last allowed in this workspace, if the record verifies.
fn verified(ws: &Workspace) -> Option<Record> {
    let text = std::fs::read(ws.state_dir().join(RECORD)).ok()?;
    let record = serde_json::from_slice::<Record>(&text).ok()?;
    let body = tagged(ws, &record);
    if ws.key().verify(DOMAIN, &[body.as_bytes()], &record.tag) {
        Some(record)
    } else {
        tracing::warn!(
            "the record of allowed policy files does not verify; nothing counts as allowed"
        );
        None
    }
}

/// The policy files a human last allowed (nothing when never, or when the
/// record does not verify: then every policy file reads as new).
fn allowed(ws: &Workspace) -> BTreeMap<String, Allowed> {
    verified(ws).map(|r| r.files).unwrap_or_default()
}

/// The judging files as a human last allowed them, when the allow recorded
/// them (`checkrail allow` does; see [`anchored`]).
pub fn judging(ws: &Workspace) -> Option<Judging> {
    verified(ws)?.judging
}

fn tagged(ws: &Workspace, record: &Record) -> String {
    let digests: Vec<String> = record
        .files
        .iter()
        .map(|(path, file)| format!("{path}\u{0}{}", file.sha256))
        .collect();
    let judging = record.judging.as_ref().map_or(String::new(), |j| {
        let files: Vec<String> = j
            .files
            .iter()
            .map(|(p, h)| format!("{p}\u{1}{h}"))
            .collect();
        format!("{}\u{2}{}", j.globs.join("\u{1}"), files.join("\u{1}"))
    });
    // Records from before the commit was kept verify as they were.
    let commit = record
        .commit
        .as_ref()
        .map_or(String::new(), |c| format!("\u{4}{c}"));
    format!(
        "{}\u{0}{}\u{0}{}\u{3}{judging}{commit}",
        ws.root().display(),
        record.allowed_at,
        digests.join("\u{0}")
    )
}

/// The commit the last allow saw, when the tracked files matched it.
pub fn commit(ws: &Workspace) -> Option<String> {
    verified(ws)?.commit
}

/// The judging snapshot a session starts from: each file the allowed
/// globs cover as a human allowed it (a file changed since shows as
/// changed at the first check, one added since as added, one deleted
/// since as deleted), and the rest as found at the start (`now`).
/// Without a recorded allow, `now` as it is. Where the workspace names an
/// upstream ref, the files as its merge-base has them instead (see
/// [`crate::anchor`]).
pub fn anchored(ws: &Workspace, globs: &[String], now: Snapshot) -> Snapshot {
    if let Some(upstream) = crate::anchor::upstream(ws) {
        return crate::anchor::judged_at(ws.root(), &upstream.commit, globs, now);
    }
    let Some(anchor) = judging(ws) else {
        return now;
    };
    let (Some(covered), Some(session)) = (
        crate::cache::fingerprints::glob_set(&anchor.globs),
        crate::cache::fingerprints::glob_set(globs),
    ) else {
        return now;
    };
    // Judging files found by reading the workspace (a Go `TestMain`, a
    // module a conftest loads) are judged against the allow even when the
    // allow's globs did not name them: one it did not record is new.
    let mut discovered = crate::frozen::go_test_main_files(ws.root());
    discovered.extend(crate::frozen::pytest_plugin_files(ws.root(), globs));
    let discovered =
        crate::cache::fingerprints::glob_set(&discovered).unwrap_or_else(globset::GlobSet::empty);
    let mut baseline: Snapshot = now
        .into_iter()
        .filter_map(|(path, hash)| {
            if covered.is_match(&path) || discovered.is_match(&path) {
                anchor.files.get(&path).map(|h| (path, h.clone()))
            } else {
                Some((path, hash))
            }
        })
        .collect();
    for (path, hash) in &anchor.files {
        if session.is_match(path) && !baseline.contains_key(path) {
            baseline.insert(path.clone(), hash.clone());
        }
    }
    baseline
}

/// Every policy file that is new, changed or gone since a human last
/// allowed the workspace's policy, in path order.
pub fn changes(ws: &Workspace) -> Vec<PolicyChange> {
    let before = allowed(ws);
    let now = policy_files(ws.root());
    let mut changes = Vec::new();
    for path in before.keys().chain(now.keys()) {
        if changes.iter().any(|c: &PolicyChange| &c.file == path) {
            continue;
        }
        let (then, is) = (before.get(path), now.get(path));
        let what = match (then, is) {
            (None, Some(_)) => "is new",
            (Some(a), Some(b)) if a.sha256 != b.sha256 => "changed",
            (Some(_), None) => "was removed",
            _ => continue,
        };
        changes.push(PolicyChange {
            file: path.clone(),
            what,
            before: then.and_then(|f| f.text.clone()),
            after: is.and_then(|f| f.text.clone()),
        });
    }
    changes.sort_by(|a, b| a.file.cmp(&b.file));
    changes
}

/// The judging files `globs` find that are new, changed or gone since a
/// human last allowed them; every one found when the last allow recorded
/// none.
pub fn judging_changes(ws: &Workspace, globs: &[String]) -> Vec<PolicyChange> {
    let before = judging(ws).map(|j| j.files).unwrap_or_default();
    let now = crate::frozen::snapshot(ws.root(), globs);
    let mut changes: Vec<PolicyChange> = crate::frozen::compare(&before, &now, true)
        .into_iter()
        .map(|change| {
            let (file, what) = match change {
                crate::frozen::Change::Changed(f) => (f, "changed"),
                crate::frozen::Change::Deleted(f) => (f, "was removed"),
                crate::frozen::Change::Added(f) => (f, "is new"),
            };
            PolicyChange {
                file,
                what,
                before: None,
                after: None,
            }
        })
        .collect();
    changes.sort_by(|a, b| a.file.cmp(&b.file));
    changes
}

/// Refuses `file` (workspace-relative) when it is not as a human last
/// allowed it.
/// Only that file is read: this runs on every read of `checkrail.toml`.
pub fn check(ws: &Workspace, file: &str) -> Result<()> {
    let before = allowed(ws);
    let now = std::fs::read(ws.root().join(file))
        .ok()
        .map(|bytes| hex::encode(Sha256::digest(&bytes)));
    let what = match (before.get(file), now) {
        (None, None) => return Ok(()),
        (Some(a), Some(b)) if a.sha256 == b => return Ok(()),
        (None, Some(_)) => "is new",
        (Some(_), Some(_)) => "changed",
        (Some(_), None) => "was removed",
    };
    Err(Error::NotAllowed {
        file: file.to_owned(),
        what,
    })
}

/// Refuses a workflow read from the workspace's own workflow folder
/// (`source`, the path it was read from) unless a human allowed it as it
/// is; a workflow from anywhere else (bundled, a pack, a folder given on
/// the command line) needs no allow.
pub fn check_workflow(ws: &Workspace, source: &str) -> Result<()> {
    let own = ws.root().join(WORKFLOWS_DIR);
    match Path::new(source).strip_prefix(&own) {
        Ok(name) => check(ws, &format!("{WORKFLOWS_DIR}/{}", name.display())),
        Err(_) => Ok(()),
    }
}

/// Records the policy files as they are now as allowed, and with them the
/// judging files `judging_globs` find (the globs of every installed rule;
/// none: the judging files are not anchored, and sessions judge them
/// against their start).
pub fn record(ws: &Workspace, judging_globs: &[String]) -> Result<()> {
    let mut record = Record {
        allowed_at: crate::session::now(),
        files: policy_files(ws.root()),
        judging: (!judging_globs.is_empty()).then(|| Judging {
            globs: judging_globs.to_vec(),
            files: crate::frozen::snapshot(ws.root(), judging_globs),
        }),
        commit: crate::anchor::clean_head(ws.root()),
        tag: String::new(),
    };
    record.tag = ws.key().tag(DOMAIN, &[tagged(ws, &record).as_bytes()]);
    let text = serde_json::to_vec_pretty(&record).map_err(|e| Error::Internal(e.to_string()))?;
    crate::trusted::write_private(&ws.state_dir().join(RECORD), &text).map_err(Error::State)
}
