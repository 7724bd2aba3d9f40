//! Figures across a store's sessions, per workflow and phase: how many
//! sessions, how often a phase passes at its first validation, how many
//! attempts it takes and how long, which rules and findings fail most, and
//! how often rule results came from the outcome cache.
//!
//! Read from the verified event logs (a session whose record does not
//! verify is counted apart and left out), so the figures are what the
//! checks found, not what agents said.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::session::{Event, EventData, Session, errors};

/// Most rules and findings listed per workflow.
const TOP: usize = 10;

/// Every workflow's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Sessions read.
    pub sessions: usize,
    /// Sessions left out because their record does not verify.
    pub unverified: Vec<String>,
    /// By workflow id.
    pub workflows: Vec<WorkflowStats>,
}

/// One workflow's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkflowStats {
    /// Workflow id.
    pub workflow: String,
    /// Its sessions.
    pub sessions: usize,
    /// Its sessions by status.
    pub by_status: BTreeMap<String, usize>,
    /// Per phase, in the order first seen.
    pub phases: Vec<PhaseStats>,
    /// Rules by how many failed validations they failed in.
    pub top_failing_rules: Vec<Count>,
    /// Findings (rule, code, message) by how many failed validations
    /// reported them.
    pub top_findings: Vec<Count>,
    /// Rule results served from the outcome cache / all rule results.
    pub cache_hit_rate: Option<f64>,
    /// Rule results, cached or run.
    pub rule_results: usize,
}

/// One phase's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseStats {
    /// Phase id.
    pub phase: String,
    /// Runs of the phase that were validated (one per session and loop
    /// iteration).
    pub runs: u32,
    /// Runs whose first validation passed.
    pub passed_first_try: u32,
    /// `passed_first_try / runs`.
    pub first_try_rate: f64,
    /// Validations in all, passed and failed.
    pub attempts: u32,
    /// Median seconds from the phase becoming current to its checkpoint
    /// passing.
    pub median_seconds: Option<f64>,
}

/// Something counted.
#[derive(Debug, Clone, Serialize)]
pub struct Count {
    /// What.
    pub what: String,
    /// How many.
    pub count: u32,
}

/// Figures over `sessions`, with `events` giving a session's verified log
/// (an `Err` when it does not verify).
pub fn compute<E>(
    sessions: &[Session],
    mut events: impl FnMut(&str) -> Result<Vec<Event>, E>,
) -> Stats {
    let mut stats = Stats {
        sessions: sessions.len(),
        ..Stats::default()
    };
    let mut by_workflow: BTreeMap<String, Accumulator> = BTreeMap::new();
    for session in sessions {
        let Ok(log) = events(&session.id) else {
            stats.unverified.push(session.id.clone());
            continue;
        };
        by_workflow
            .entry(session.workflow_id.clone())
            .or_default()
            .add(session, &log);
    }
    stats.workflows = by_workflow
        .into_iter()
        .map(|(workflow, acc)| acc.finish(workflow))
        .collect();
    stats
}

#[derive(Default)]
struct Accumulator {
    sessions: usize,
    by_status: BTreeMap<String, usize>,
    order: Vec<String>,
    phases: BTreeMap<String, PhaseStats>,
    durations: BTreeMap<String, Vec<f64>>,
    rules: BTreeMap<String, u32>,
    findings: BTreeMap<String, u32>,
    cached: usize,
    results: usize,
}

impl Accumulator {
    fn add(&mut self, session: &Session, log: &[Event]) {
        self.sessions += 1;
        *self
            .by_status
            .entry(session.status.as_str().to_owned())
            .or_default() += 1;
        let view = errors(log);
        for failure in &view.failures {
            for rule in &failure.rules {
                *self.rules.entry(rule.rule.clone()).or_default() += 1;
            }
        }
        for finding in &view.findings {
            let code = finding.code.as_deref().unwrap_or("-");
            let key = format!("{} [{code}] {}", finding.rule, finding.message);
            *self.findings.entry(key).or_default() += finding.count;
        }
        let mut entered: Option<f64> = None;
        for event in log {
            match &event.data {
                EventData::Started(_)
                | EventData::Advanced(_)
                | EventData::Skipped(_)
                | EventData::IterationStarted(_)
                | EventData::RolledBack(_)
                | EventData::Approved(_)
                | EventData::Retried(_)
                | EventData::Rejected(_) => entered = seconds(&event.at),
                EventData::Validated(verdict) | EventData::ValidationFailed(verdict) => {
                    let Some(phase) = event.phase.clone() else {
                        continue;
                    };
                    self.phase(&phase).attempts += 1;
                    for rule in &verdict.report.rules {
                        if rule.rule.starts_with("checkrail/") {
                            continue;
                        }
                        self.results += 1;
                        self.cached += usize::from(rule.cached);
                    }
                    if matches!(event.data, EventData::Validated(_))
                        && let (Some(from), Some(to)) = (entered, seconds(&event.at))
                    {
                        self.durations.entry(phase).or_default().push(to - from);
                    }
                }
                _ => {}
            }
        }
        // After the walk above, so phases keep the order they ran in.
        for rate in &view.phases {
            let phase = self.phase(&rate.phase);
            phase.runs += rate.runs;
            phase.passed_first_try += rate.passed_first_try;
        }
    }

    fn phase(&mut self, id: &str) -> &mut PhaseStats {
        if !self.phases.contains_key(id) {
            self.order.push(id.to_owned());
        }
        self.phases
            .entry(id.to_owned())
            .or_insert_with(|| PhaseStats {
                phase: id.to_owned(),
                ..PhaseStats::default()
            })
    }

    fn finish(mut self, workflow: String) -> WorkflowStats {
        let phases = self
            .order
            .iter()
            .filter_map(|id| self.phases.remove(id))
            .map(|mut phase| {
                phase.first_try_rate =
                    f64::from(phase.passed_first_try) / f64::from(phase.runs.max(1));
                phase.median_seconds = self.durations.get_mut(&phase.phase).and_then(|d| median(d));
                phase
            })
            .collect();
        WorkflowStats {
            workflow,
            sessions: self.sessions,
            by_status: self.by_status,
            phases,
            top_failing_rules: top(self.rules),
            top_findings: top(self.findings),
            cache_hit_rate: (self.results > 0).then(|| self.cached as f64 / self.results as f64),
            rule_results: self.results,
        }
    }
}

fn top(counts: BTreeMap<String, u32>) -> Vec<Count> {
    let mut counts: Vec<Count> = counts
        .into_iter()
        .map(|(what, count)| Count { what, count })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.what.cmp(&b.what)));
    counts.truncate(TOP);
    counts
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Seconds since the epoch of an RFC 3339 UTC time as the store writes it
/// (`2026-11-30T17:20:42.123Z`).
fn seconds(at: &str) -> Option<f64> {
    let (date, time) = at.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let hours: f64 = t.next()?.parse().ok()?;
    let minutes: f64 = t.next()?.parse().ok()?;
    let secs: f64 = t.next()?.parse().ok()?;
    // Days from the civil date (proleptic Gregorian), as in Howard
    // Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + hours * 3600.0 + minutes * 60.0 + secs)
}

/// The figures as text, one block per workflow.
pub fn render(stats: &Stats) -> String {
    let mut out = format!("{} sessions", stats.sessions);
    if !stats.unverified.is_empty() {
        out.push_str(&format!(
            " ({} left out: their record does not verify: {})",
            stats.unverified.len(),
            stats.unverified.join(", ")
        ));
    }
    out.push('\n');
    for wf in &stats.workflows {
        let statuses: Vec<String> = wf
            .by_status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        out.push_str(&format!(
            "\n{} — {} sessions ({})",
            wf.workflow,
            wf.sessions,
            statuses.join(", ")
        ));
        match wf.cache_hit_rate {
            Some(rate) => out.push_str(&format!(
                "; cache hit rate {:.0}% of {} rule results\n",
                rate * 100.0,
                wf.rule_results
            )),
            None => out.push('\n'),
        }
        out.push_str("  phase                          runs  first try  attempts  median time\n");
        for p in &wf.phases {
            let time = p.median_seconds.map_or_else(|| "-".to_owned(), duration);
            out.push_str(&format!(
                "  {:<30} {:>4}  {:>8.0}%  {:>8}  {:>11}\n",
                p.phase,
                p.runs,
                p.first_try_rate * 100.0,
                p.attempts,
                time
            ));
        }
        if !wf.top_failing_rules.is_empty() {
            out.push_str("  failing rules: ");
            let rules: Vec<String> = wf
                .top_failing_rules
                .iter()
                .map(|c| format!("{} ({})", c.what, c.count))
                .collect();
            out.push_str(&rules.join(", "));
            out.push('\n');
        }
        for finding in &wf.top_findings {
            out.push_str(&format!("  {:>3}× {}\n", finding.count, finding.what));
        }
    }
    out
}

fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else if seconds < 3600.0 {
        format!("{:.1}m", seconds / 60.0)
    } else {
        format!("{:.1}h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_store_timestamps() {
        assert_eq!(seconds("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(seconds("1970-01-02T00:00:01.5Z"), Some(86_401.5));
        assert_eq!(seconds("2000-03-01T00:00:00Z"), Some(951_868_800.0));
        assert_eq!(seconds("nonsense"), None);
    }

    #[test]
    fn medians_and_tops() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut []), None);
        let counts = BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 5)]);
        assert_eq!(top(counts)[0].what, "b");
    }
}
