//! What a checkpoint run returns: per-rule results with findings. The CLI
//! prints these; `--json` and the MCP server serialize them as they are.

use checkrail_sdk::Finding;
use serde::Serialize;

use crate::schema::Violation;
use crate::workflow::Severity;

/// How one rule ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    /// Ran and passed.
    Passed,
    /// Ran and found blocking problems.
    Failed,
    /// Could not run to completion: it reported an error, or the sandbox
    /// stopped it (deadline, memory cap, panic, trap).
    Error,
}

impl RuleStatus {
    /// Its name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Passed => "passed",
            RuleStatus::Failed => "failed",
            RuleStatus::Error => "error",
        }
    }
}

/// The result of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RuleReport {
    /// Rule id.
    pub rule: String,
    /// Rule version that ran.
    pub version: String,
    /// sha256 of the component that ran.
    pub digest: String,
    /// What this use checks, from the workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether a failure blocks.
    pub severity: Severity,
    /// How it ended.
    pub status: RuleStatus,
    /// One line for humans.
    pub summary: String,
    /// What it found.
    pub findings: Vec<Finding>,
    /// Wall time of the check, in milliseconds.
    pub duration_ms: f64,
    /// The result was reused from the outcome cache: the rule, its config
    /// and its input files are unchanged since it was computed.
    #[serde(default)]
    pub cached: bool,
    /// Facts the rule recorded for later phases of the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<serde_json::Value>,
}

impl RuleReport {
    /// Whether this result blocks its checkpoint.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Block && self.status != RuleStatus::Passed
    }
}

/// The result of one checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct CheckpointReport {
    /// Workflow id.
    pub workflow: String,
    /// Workflow version.
    pub workflow_version: String,
    /// Phase id.
    pub phase: String,
    /// Whether every blocking rule passed and the evidence is valid.
    pub passed: bool,
    /// One line for humans.
    pub summary: String,
    /// Where the evidence breaks the checkpoint's evidence schema.
    pub evidence_violations: Vec<Violation>,
    /// Each rule's result, in checkpoint order.
    pub rules: Vec<RuleReport>,
    /// When the checkpoint also needs a human's approval: what to approve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_required: Option<String>,
    /// Wall time of the whole checkpoint, in milliseconds.
    pub duration_ms: f64,
}

/// Most bytes a checkpoint report takes as JSON, for the agent's answer and
/// the session's log alike. Each rule's findings are capped already; this
/// bounds a checkpoint of many rules that each used their whole allowance.
pub const REPORT_MAX: usize = 4 << 20;

/// Code of the finding that says findings were left out of a report.
pub const CODE_REPORT_CAPPED: &str = "checkrail/report-capped";

impl CheckpointReport {
    /// Adds a blocking host report that failed; the checkpoint no longer
    /// passes.
    pub fn fail_with(&mut self, report: RuleReport) {
        self.rules.push(report);
        self.passed = false;
        self.summary = format!("{}; files changed during the check", self.summary);
    }

    /// Leaves findings out until the report fits in `max` bytes of JSON:
    /// information first, then warnings, then errors; of each severity, the
    /// later ones of every rule before the earlier ones. Every rule that lost findings says how many. Statuses,
    /// summaries and facts are kept, so the verdict and what later phases
    /// compare against do not change.
    pub fn bound(&mut self, max: usize) {
        let total = serde_json::to_vec(self).map_or(0, |v| v.len());
        if total <= max {
            return;
        }
        // Room for the notes added below.
        let notes = self.rules.len() * 400;
        let mut excess = (total + notes).saturating_sub(max);
        let rank = |f: &Finding| match f.severity {
            checkrail_sdk::Severity::Info => 0u8,
            checkrail_sdk::Severity::Warning => 1,
            checkrail_sdk::Severity::Error => 2,
        };
        // (severity rank, place among the rule's findings of that severity,
        // latest first, rule, finding, size)
        let mut candidates = Vec::new();
        for (r, rule) in self.rules.iter().enumerate() {
            let mut seen = [0usize; 3];
            for (f, finding) in rule.findings.iter().enumerate() {
                let rank = rank(finding);
                let place = seen[usize::from(rank)];
                seen[usize::from(rank)] += 1;
                let size = serde_json::to_vec(finding).map_or(0, |v| v.len()) + 1;
                candidates.push((rank, std::cmp::Reverse(place), r, f, size));
            }
        }
        candidates.sort_unstable();
        let mut dropped: Vec<Vec<bool>> = self
            .rules
            .iter()
            .map(|r| vec![false; r.findings.len()])
            .collect();
        for (_, _, r, f, size) in candidates {
            if excess == 0 {
                break;
            }
            dropped[r][f] = true;
            excess = excess.saturating_sub(size);
        }
        for (rule, dropped) in self.rules.iter_mut().zip(dropped) {
            let count = dropped.iter().filter(|d| **d).count();
            if count == 0 {
                continue;
            }
            let mut flags = dropped.into_iter();
            rule.findings.retain(|_| !flags.next().unwrap_or(false));
            rule.findings.push(
                Finding::info(format!(
                    "{count} more finding(s) of this rule were left out: the checkpoint's report was over {} MiB",
                    max >> 20
                ))
                .code(CODE_REPORT_CAPPED)
                .fix_hint("fix the findings shown and validate again to see the rest, or run the rule alone with `checkrail rule run`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(findings: Vec<Finding>) -> RuleReport {
        RuleReport {
            rule: "r".to_owned(),
            version: "1".to_owned(),
            digest: String::new(),
            name: None,
            severity: Severity::Block,
            status: RuleStatus::Failed,
            summary: "s".to_owned(),
            findings,
            duration_ms: 0.0,
            cached: false,
            facts: Some(serde_json::json!({"kept": true})),
        }
    }

    #[test]
    fn a_report_over_the_cap_drops_the_least_severe_findings_last_first() {
        let big = "x".repeat(1000);
        let errors: Vec<Finding> = (0..50)
            .map(|i| Finding::error(format!("error {i} {big}")))
            .collect();
        let mut mixed: Vec<Finding> = (0..50)
            .map(|i| Finding::info(format!("info {i} {big}")))
            .collect();
        mixed.push(Finding::error("the one error"));
        let mut report = CheckpointReport {
            workflow: "w".to_owned(),
            workflow_version: "1".to_owned(),
            phase: "p".to_owned(),
            passed: false,
            summary: "s".to_owned(),
            evidence_violations: Vec::new(),
            rules: vec![rule(errors), rule(mixed)],
            approval_required: None,
            duration_ms: 0.0,
        };
        let before = serde_json::to_vec(&report).unwrap().len();
        assert!(before > 100_000);
        report.bound(before);
        assert_eq!(
            report.rules[0].findings.len(),
            50,
            "under the cap: as it was"
        );

        report.bound(40_000);
        assert!(serde_json::to_vec(&report).unwrap().len() <= 40_000);
        // Every info finding went before any error did.
        let second = &report.rules[1].findings;
        assert!(second.iter().any(|f| f.message == "the one error"));
        assert!(
            !second
                .iter()
                .any(|f| f.message.starts_with("info") && f.code.is_none())
        );
        let first = &report.rules[0].findings;
        assert!(first.len() < 50);
        // The earliest errors stay; the note says how many went.
        assert!(first[0].message.starts_with("error 0 "));
        let note = first.last().unwrap();
        assert_eq!(note.code.as_deref(), Some(CODE_REPORT_CAPPED));
        assert!(note.message.contains("more finding(s)"), "{}", note.message);
        assert_eq!(report.rules[0].status, RuleStatus::Failed);
        assert!(report.rules[1].facts.is_some());
    }
}
