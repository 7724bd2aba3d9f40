//! A workspace's sessions as records: listing, event logs, the latest
//! reports, what went wrong, and deletion under the retention policy.

use schemars::JsonSchema;
use serde::Serialize;

use crate::Result;
use crate::report::CheckpointReport;
use crate::session::event::placed;
use crate::session::{Deletion, ErrorsView, Event, Session, Status};

use super::Service;

/// What [`Service::prune`] removed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Pruned {
    /// Sessions deleted, with their audit entries.
    pub sessions: Vec<Deletion>,
    /// Cached outcomes dropped.
    pub outcomes: usize,
}

/// One page of sessions.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SessionPage {
    /// The sessions on the page, newest first.
    pub sessions: Vec<Session>,
    /// How many sessions match in all.
    pub total: u64,
    /// Sessions skipped before this page.
    pub offset: u64,
    /// The `offset` of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

impl Service {
    /// Sessions, newest first.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<Session>> {
        self.store.list(status)
    }

    /// One page of the sessions `query` asks for, newest first, with how
    /// many match in all.
    pub fn page(&self, query: &crate::session::SessionQuery) -> Result<SessionPage> {
        let (sessions, total) = self.store.page(query)?;
        let end = query.offset + sessions.len() as u64;
        Ok(SessionPage {
            sessions,
            total,
            offset: query.offset,
            next_offset: (end < total).then_some(end),
        })
    }

    /// How many sessions there are of each status, counted by the store
    /// (for metrics and probes).
    pub fn counts(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        self.store.counts()
    }

    /// A session's event log.
    pub fn events(&self, id: &str) -> Result<Vec<Event>> {
        self.store.events(id)
    }

    /// The latest checkpoint report of each phase the session validated,
    /// in the order they were last run, labelled `workflow/phase` (with
    /// `#n` for a loop iteration). Refused unless the record verifies.
    pub fn latest_reports(&self, id: &str) -> Result<Vec<(String, CheckpointReport)>> {
        let (session, _, _) = self.store.get(id)?;
        let mut latest: Vec<(String, CheckpointReport)> = Vec::new();
        let events = self.store.events(id)?;
        for (iteration, event) in placed(&events) {
            let Some((_, verdict)) = event.data.verdict() else {
                continue;
            };
            let report = &verdict.report;
            let label = match iteration {
                Some(n) => format!("{}/{}#{n}", session.workflow_id, report.phase),
                None => format!("{}/{}", session.workflow_id, report.phase),
            };
            latest.retain(|(l, _)| *l != label);
            latest.push((label, report.clone()));
        }
        Ok(latest)
    }

    /// What went wrong in a session: each failed validation, the findings
    /// deduplicated with counts across attempts, and each phase's
    /// first-try pass rate. Refused unless the record verifies.
    pub fn errors(&self, id: &str) -> Result<ErrorsView> {
        Ok(crate::session::errors(&self.store.events(id)?))
    }

    /// Applies the workspace's `[retention]` policy (its current
    /// `checkrail.toml`): old completed or abandoned sessions are deleted,
    /// each leaving an audit entry, and the outcome cache is trimmed by age
    /// and size. Nothing happens without a policy.
    pub fn prune(&self) -> Result<Pruned> {
        self.prune_by(&self.workspace.config()?.retention)
    }

    /// [`Service::prune`] by a retention already read.
    pub(super) fn prune_by(&self, retention: &crate::config::Retention) -> Result<Pruned> {
        Ok(Pruned {
            sessions: prune_sessions(self.store.as_ref(), retention)?,
            outcomes: prune_outcomes(&self.workspace, retention),
        })
    }

    /// Deletes a completed or abandoned session, leaving an audit entry
    /// that names `by` (who, through which channel).
    pub fn delete(&self, id: &str, by: &str) -> Result<Deletion> {
        self.store.delete(id, by, "deleted on request")
    }

    /// The audit entries of deleted sessions, newest first.
    pub fn deletions(&self) -> Result<Vec<Deletion>> {
        self.store.deletions()
    }
}

/// Deletes the sessions `retention` no longer keeps, each leaving an audit
/// entry; nothing without `sessions_days`.
pub(super) fn prune_sessions(
    store: &dyn crate::session::SessionStore,
    retention: &crate::config::Retention,
) -> Result<Vec<Deletion>> {
    match retention.sessions_days {
        Some(days) => store.prune(
            &crate::session::days_ago(days),
            &format!("unchanged for over {days} day(s) ([retention] sessions_days)"),
        ),
        None => Ok(Vec::new()),
    }
}

/// Trims the outcome cache by age and size as `retention` asks; the cache
/// is opened only when there is something to prune (a server's start does
/// not need it otherwise). How many outcomes went.
pub(super) fn prune_outcomes(
    workspace: &crate::workspace::Workspace,
    retention: &crate::config::Retention,
) -> usize {
    let cutoff = retention.cache_days.map(crate::session::days_ago);
    let max_bytes = retention.cache_max_mb.map(|mb| mb << 20);
    if cutoff.is_none() && max_bytes.is_none() {
        return 0;
    }
    workspace
        .outcomes()
        .map_or(0, |cache| cache.prune(cutoff.as_deref(), max_bytes))
}
