//! The outcome cache: a rule's result is reused while the rule's component,
//! its config, the evidence and the content of the files it depends on are
//! all unchanged. Stored in `<workspace>/.checkrail/outcomes.db`.

use std::path::Path;
use std::time::Duration;

use checkrail_sdk::native::NativeWorkspace;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::report::RuleReport;

/// Directories never hashed as inputs: build output, VCS data, checkrail's own.
pub const SKIPPED_DIRS: &[&str] = &[
    "target",
    ".git",
    ".checkrail",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
];
/// Most files hashed for one rule; beyond it the rule is not cached.
const MAX_INPUT_FILES: usize = 20_000;

/// The cache of one workspace.
pub struct OutcomeCache {
    conn: Connection,
}

impl OutcomeCache {
    /// Opens (creating) the cache of `workspace`. `None` when it cannot be
    /// used; the caller then simply runs the rule.
    pub fn open(workspace: &Path) -> Option<Self> {
        let dir = workspace.join(".checkrail");
        std::fs::create_dir_all(&dir).ok()?;
        let conn = Connection::open(dir.join("outcomes.db")).ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        conn.pragma_update(None, "journal_mode", "WAL").ok()?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS outcomes (key TEXT PRIMARY KEY, rule TEXT NOT NULL, report TEXT NOT NULL, stored_at TEXT NOT NULL)",
        )
        .ok()?;
        Some(Self { conn })
    }

    /// A stored report for `key`.
    pub fn get(&self, key: &str) -> Option<RuleReport> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT report FROM outcomes WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten();
        text.and_then(|t| serde_json::from_str(&t).ok())
    }

    /// Stores a report under `key`.
    pub fn put(&self, key: &str, report: &RuleReport) {
        if let Ok(text) = serde_json::to_string(report) {
            let result = self.conn.execute(
                "INSERT OR REPLACE INTO outcomes (key, rule, report, stored_at) VALUES (?1, ?2, ?3, ?4)",
                params![key, report.rule, text, crate::session::now()],
            );
            if let Err(e) = result {
                tracing::debug!("outcome cache write failed: {e}");
            }
        }
    }
}

/// The cache key: rule component digest, config, evidence, the workspace's
/// grants (a newly granted program changes the answer), and every input
/// file's path and content. `None` when the inputs cannot be hashed (too
/// many files, an unreadable file, a bad glob): such a check is not cached.
pub fn key(
    workspace: &Path,
    rule_digest: &str,
    config: &serde_json::Value,
    evidence: Option<&str>,
    grants: &str,
    inputs: &[String],
) -> Option<String> {
    let ws = NativeWorkspace::open(workspace).ok()?;
    let mut files = Vec::new();
    for pattern in inputs {
        files.extend(
            ws.glob_skipping(pattern, MAX_INPUT_FILES + 1, SKIPPED_DIRS, &mut || false)
                .ok()?,
        );
    }
    files.sort();
    files.dedup();
    if files.len() > MAX_INPUT_FILES {
        return None;
    }
    let mut hasher = Sha256::new();
    hasher.update(rule_digest.as_bytes());
    hasher.update([0]);
    hasher.update(config.to_string().as_bytes());
    hasher.update([0]);
    hasher.update(evidence.unwrap_or("").as_bytes());
    hasher.update([0]);
    hasher.update(grants.as_bytes());
    for file in files {
        let Ok(entry) = ws.stat(&file) else { continue };
        if !entry.is_file() {
            continue;
        }
        let content = ws.read(&file).ok()?;
        hasher.update([0]);
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(Sha256::digest(&content));
    }
    Some(hex::encode(hasher.finalize()))
}
