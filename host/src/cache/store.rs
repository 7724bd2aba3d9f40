//! The outcome store: a rule's result is reused while everything that could
//! change it is unchanged (see [`crate::cache`] for what that covers).
//! Stored in the workspace's state directory (`outcomes.db`), each entry
//! authenticated with the per-user key: an entry edited outside checkrail
//! does not verify and is ignored, and the rule runs again.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::report::RuleReport;
use crate::trusted::{StateKey, restrict_file};

const TAG_DOMAIN: &str = "checkrail outcome v1";
const VERSION_DOMAIN: &str = "checkrail toolchain version v1";

/// The cache of one workspace.
pub struct OutcomeCache {
    conn: Mutex<Connection>,
    key: StateKey,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A verified report.
    Hit(Box<RuleReport>),
    /// Nothing stored under the key.
    Miss,
    /// Something was stored but does not verify; it is not used.
    Forged,
}

impl OutcomeCache {
    /// Opens (creating) the cache at `path`. `None` when it cannot be used;
    /// the caller then simply runs the rule.
    pub fn open(path: &Path, key: StateKey) -> Option<Self> {
        let conn = Connection::open(path)
            .inspect_err(|e| tracing::warn!("outcome cache `{}`: {e}", path.display()))
            .ok()?;
        restrict_file(path);
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        conn.pragma_update(None, "journal_mode", "WAL").ok()?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS outcomes (key TEXT PRIMARY KEY, rule TEXT NOT NULL, report TEXT NOT NULL, stored_at TEXT NOT NULL, tag TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS versions (id TEXT PRIMARY KEY, version TEXT NOT NULL, stored_at TEXT NOT NULL, tag TEXT NOT NULL)",
        )
        .ok()?;
        restrict_file(path);
        Some(Self {
            conn: Mutex::new(conn),
            key,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The report stored under `key`, if it verifies.
    pub fn get(&self, key: &str) -> Lookup {
        let row: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT report, tag FROM outcomes WHERE key = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ok()
            .flatten();
        let Some((text, tag)) = row else {
            return Lookup::Miss;
        };
        if !self
            .key
            .verify(TAG_DOMAIN, &[key.as_bytes(), text.as_bytes()], &tag)
        {
            tracing::warn!(
                "a cached outcome failed authentication (edited outside checkrail); running the rule again"
            );
            return Lookup::Forged;
        }
        match serde_json::from_str(&text) {
            Ok(report) => Lookup::Hit(Box::new(report)),
            Err(_) => Lookup::Forged,
        }
    }

    /// Stores a report under `key`.
    pub fn put(&self, key: &str, report: &RuleReport) {
        let Ok(text) = serde_json::to_string(report) else {
            return;
        };
        let tag = self.key.tag(TAG_DOMAIN, &[key.as_bytes(), text.as_bytes()]);
        let result = self.conn().execute(
            "INSERT OR REPLACE INTO outcomes (key, rule, report, stored_at, tag) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, report.rule, text, crate::session::now(), tag],
        );
        if let Err(e) = result {
            tracing::debug!("outcome cache write failed: {e}");
        }
    }
}

impl OutcomeCache {
    /// The version answer stored for the toolchain identified by `id` (see
    /// [`super::toolchains`]), if it verifies.
    pub fn version(&self, id: &str) -> Option<String> {
        let (version, tag): (String, String) = self
            .conn()
            .query_row(
                "SELECT version, tag FROM versions WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ok()
            .flatten()?;
        let genuine = self
            .key
            .verify(VERSION_DOMAIN, &[id.as_bytes(), version.as_bytes()], &tag);
        if !genuine {
            tracing::warn!(
                "a stored toolchain version failed authentication (edited outside checkrail); asking the program again"
            );
        }
        genuine.then_some(version)
    }

    /// Stores the version answer of the toolchain identified by `id`.
    pub fn put_version(&self, id: &str, version: &str) {
        let tag = self
            .key
            .tag(VERSION_DOMAIN, &[id.as_bytes(), version.as_bytes()]);
        let result = self.conn().execute(
            "INSERT OR REPLACE INTO versions (id, version, stored_at, tag) VALUES (?1, ?2, ?3, ?4)",
            params![id, version, crate::session::now(), tag],
        );
        if let Err(e) = result {
            tracing::debug!("toolchain version write failed: {e}");
        }
    }
}

impl OutcomeCache {
    /// Drops entries stored before `cutoff` (a timestamp as
    /// [`crate::session::now`] writes them), then the oldest entries until
    /// the reports take at most `max_bytes`. Returns how many went.
    pub fn prune(&self, cutoff: Option<&str>, max_bytes: Option<u64>) -> usize {
        let conn = self.conn();
        let mut removed = 0;
        if let Some(cutoff) = cutoff {
            removed += conn
                .execute("DELETE FROM outcomes WHERE stored_at < ?1", params![cutoff])
                .unwrap_or(0);
            // Version answers are not counted: they are not outcomes.
            let _ = conn.execute("DELETE FROM versions WHERE stored_at < ?1", params![cutoff]);
        }
        if let Some(max) = max_bytes {
            let total: i64 = conn
                .query_row(
                    "SELECT COALESCE(SUM(LENGTH(report)), 0) FROM outcomes",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(0);
            let mut excess = total.saturating_sub(i64::try_from(max).unwrap_or(i64::MAX));
            if excess > 0 {
                let oldest: Vec<(String, i64)> = conn
                    .prepare("SELECT key, LENGTH(report) FROM outcomes ORDER BY stored_at, key")
                    .and_then(|mut stmt| {
                        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<rusqlite::Result<_>>()
                    })
                    .unwrap_or_default();
                for (key, size) in oldest {
                    if excess <= 0 {
                        break;
                    }
                    removed += conn
                        .execute("DELETE FROM outcomes WHERE key = ?1", params![key])
                        .unwrap_or(0);
                    excess -= size;
                }
            }
        }
        if removed > 0 {
            let _ = conn.execute_batch("VACUUM");
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RuleStatus;
    use crate::workflow::Severity;

    fn report() -> RuleReport {
        RuleReport {
            rule: "test".into(),
            version: "0.1.0".into(),
            digest: "d".into(),
            name: None,
            severity: Severity::Block,
            status: RuleStatus::Failed,
            summary: "1 test failed".into(),
            findings: Vec::new(),
            duration_ms: 1.0,
            cached: false,
            facts: None,
        }
    }

    #[test]
    fn a_rewritten_report_is_not_believed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outcomes.db");
        let cache = OutcomeCache::open(&path, StateKey::from_bytes([3; 32])).unwrap();
        cache.put("k", &report());
        assert!(matches!(cache.get("k"), Lookup::Hit(r) if r.status == RuleStatus::Failed));
        assert!(matches!(cache.get("other"), Lookup::Miss));
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE outcomes SET report = replace(report, '\"failed\"', '\"passed\"')",
            [],
        )
        .unwrap();
        assert!(matches!(cache.get("k"), Lookup::Forged));
        // Under another user's key nothing verifies either.
        cache.put("k", &report());
        let other = OutcomeCache::open(&path, StateKey::from_bytes([4; 32])).unwrap();
        assert!(matches!(other.get("k"), Lookup::Forged));
    }
}
