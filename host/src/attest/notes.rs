//! Attestations kept as git notes on the commit they speak of
//! (`refs/notes/checkrail` by default), so they travel with
//! `git push origin refs/notes/checkrail` and a CI job can fetch them.
//! Git runs as [`crate::anchor`] runs it: no hooks, no fsmonitor.

use std::path::Path;

use crate::anchor::git;

/// The largest attestation read (a statement carries the pinned workflow
/// and the session's evidence, both capped far below this).
pub const MAX_BYTES: usize = 16 << 20;

/// Attaches `text` to `commit` under `notes_ref`, replacing an earlier
/// note. Git needs a committer for the notes commit: when the repository
/// names none, checkrail signs the notes commit as itself.
pub fn write(root: &Path, commit: &str, notes_ref: &str, text: &[u8]) -> Result<(), String> {
    if notes_ref.starts_with('-') || commit.starts_with('-') {
        return Err("a notes ref or commit cannot start with `-`".to_owned());
    }
    let named = git(root, &["config", "user.email"], None).is_some_and(|out| !out.is_empty());
    let mut args: Vec<String> = Vec::new();
    if !named {
        for setting in ["user.name=checkrail", "user.email=checkrail@localhost"] {
            args.extend(["-c".to_owned(), setting.to_owned()]);
        }
    }
    args.extend(
        [
            "notes",
            &format!("--ref={notes_ref}"),
            "add",
            "-f",
            "-F",
            "-",
            commit,
        ]
        .map(str::to_owned),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    git(root, &args, Some(text))
        .map(|_| ())
        .ok_or_else(|| format!("git could not add a note to {commit} under {notes_ref}"))
}

/// The note on `commit` under `notes_ref`, if there is one.
pub fn read(root: &Path, commit: &str, notes_ref: &str) -> Option<Vec<u8>> {
    if notes_ref.starts_with('-') || commit.starts_with('-') {
        return None;
    }
    git(
        root,
        &["notes", &format!("--ref={notes_ref}"), "show", commit],
        None,
    )
}
