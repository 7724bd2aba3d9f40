//! The secrets allow-list: a file of fingerprints, `path:line` places and
//! path globs whose hits are not reported, plus the inline
//! `checkrail:allow-secret` marker.
//!
//! ```text
//! # a test fixture's fake key, by the fingerprint the finding printed
//! sha256:3f1c0d9e8b7a6f54
//! # one place
//! config/dev.env:4
//! # every file under a directory
//! tests/fixtures/**
//! ```

use std::collections::HashSet;

use checkrail_sdk::{Finding, PathError, Workspace, normalize_path};

/// The comment marker that allows the secrets on its line and the next one.
pub const INLINE_MARKER: &str = "checkrail:allow-secret";

/// Most paths one allow-list glob may expand to.
const GLOB_LIMIT: u32 = 100_000;

/// What the allow-list file says.
#[derive(Debug, Default)]
pub struct AllowList {
    fingerprints: HashSet<String>,
    places: HashSet<(String, u32)>,
    paths: HashSet<String>,
}

impl AllowList {
    /// Reads `file` (workspace-relative); a missing file allows nothing.
    /// Lines it cannot read come back as warnings at their line.
    pub fn load(ws: &Workspace, file: &str) -> (Self, Vec<Finding>) {
        let mut list = Self::default();
        let mut problems = Vec::new();
        let text = match ws.read(file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(PathError::NotFound) => return (list, problems),
            Err(e) => {
                problems.push(
                    Finding::error(format!("cannot read the secrets allow-list `{file}`: {e}"))
                        .path(file)
                        .fix_hint("make it a readable text file inside the workspace, or point `allow_file` elsewhere")
                        .code("unreadable"),
                );
                return (list, problems);
            }
        };
        for (i, raw) in text.lines().enumerate() {
            let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let entry = raw.split(" #").next().unwrap_or("").trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            if let Err(why) = list.add(ws, entry) {
                problems.push(
                    Finding::warning(format!("allow-list entry `{entry}` is ignored: {why}"))
                        .path(file)
                        .line(line)
                        .fix_hint("write `sha256:<16 hex digits>` as a finding printed it, `path:line`, or a workspace-relative path glob")
                        .code("allow-entry-invalid"),
                );
            }
        }
        (list, problems)
    }

    fn add(&mut self, ws: &Workspace, entry: &str) -> Result<(), String> {
        if let Some(hex) = entry.strip_prefix("sha256:") {
            if hex.len() < 16 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err("a fingerprint is `sha256:` and at least 16 hex digits".into());
            }
            self.fingerprints
                .insert(format!("sha256:{}", hex[..16].to_ascii_lowercase()));
            return Ok(());
        }
        if let Some((path, line)) = entry.rsplit_once(':')
            && let Ok(line) = line.parse::<u32>()
        {
            let path = normalize_path(path).map_err(|_| "the path leads outside the workspace")?;
            self.places.insert((path, line));
            return Ok(());
        }
        let pattern = normalize_path(entry).map_err(|_| "the path leads outside the workspace")?;
        if pattern.contains(['*', '?', '[', '{']) {
            self.paths
                .extend(ws.glob(&pattern, GLOB_LIMIT).map_err(|e| e.to_string())?);
        } else {
            // A directory allows everything under it.
            self.paths.insert(pattern);
        }
        Ok(())
    }

    /// Whether a hit in `path` at `line` with `fingerprint` is allowed by
    /// the file (the inline marker is checked by the caller).
    pub fn allows(&self, path: &str, line: u32, fingerprint: &str) -> bool {
        self.fingerprints.contains(fingerprint)
            || self.places.contains(&(path.to_owned(), line))
            || self.allows_path(path)
    }

    /// Whether every hit in `path` is allowed.
    pub fn allows_path(&self, path: &str) -> bool {
        self.paths.contains(path)
            || path
                .match_indices('/')
                .any(|(i, _)| self.paths.contains(&path[..i]))
    }
}

/// Whether the inline marker allows line `line` (1-based) of `lines`: it
/// sits on that line or the one above.
pub fn inline_allowed(lines: &[&str], line: u32) -> bool {
    let i = line as usize;
    [i.checked_sub(1), i.checked_sub(2)]
        .into_iter()
        .flatten()
        .filter_map(|j| lines.get(j))
        .any(|l| l.contains(INLINE_MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_covers_its_line_and_the_next() {
        let lines = ["a", "x = 1 # checkrail:allow-secret", "b", "c"];
        assert!(!inline_allowed(&lines, 1));
        assert!(inline_allowed(&lines, 2));
        assert!(inline_allowed(&lines, 3));
        assert!(!inline_allowed(&lines, 4));
    }
}
