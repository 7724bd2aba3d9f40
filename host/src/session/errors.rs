//! A session's errors, read from its (verified) log: every failed
//! validation with where and when it happened, the findings deduplicated
//! across attempts with how often each came back, and how often each phase
//! passed at its first validation.

use std::collections::BTreeMap;

use checkrail_sdk::{Finding, Severity};
use schemars::JsonSchema;
use serde::Serialize;

use super::event::{Event, EventData, placed};
use crate::report::RuleStatus;

/// What went wrong in a session, and how often.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ErrorsView {
    /// Every failed validation, oldest first.
    pub failures: Vec<Failure>,
    /// The findings of failed validations, each once, with how many of
    /// them reported it; most frequent first.
    pub findings: Vec<RepeatedFinding>,
    /// Per phase: how many of its runs passed at the first validation.
    pub phases: Vec<PhaseRate>,
}

/// One failed validation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Failure {
    /// When.
    pub at: String,
    /// Phase.
    pub phase: String,
    /// Iteration of its loop group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// Which validation of this phase (and iteration) it was, from 1.
    pub attempt: u32,
    /// The rules that did not pass.
    pub rules: Vec<FailedRule>,
    /// How many evidence problems there were.
    pub evidence_violations: usize,
    /// The checkpoint's summary.
    pub summary: String,
}

/// A rule that did not pass in a failed validation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FailedRule {
    /// Rule id.
    pub rule: String,
    /// What this use checks, from the workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `failed` or `error`.
    pub status: String,
    /// Its summary.
    pub summary: String,
}

/// A finding, with how many failed validations reported it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RepeatedFinding {
    /// Phase.
    pub phase: String,
    /// Iteration of its loop group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// Rule id.
    pub rule: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// Finding code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// File.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Message.
    pub message: String,
    /// How many failed validations reported it.
    pub count: u32,
    /// The attempts that did.
    pub attempts: Vec<u32>,
    /// First reported.
    pub first_at: String,
    /// Last reported.
    pub last_at: String,
}

/// How a phase fared at its first validation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PhaseRate {
    /// Phase.
    pub phase: String,
    /// Runs of it that were validated (one per loop iteration).
    pub runs: u32,
    /// Runs whose first validation passed.
    pub passed_first_try: u32,
    /// `passed_first_try / runs`.
    pub first_try_rate: f64,
    /// Failed validations in all.
    pub failed_validations: u32,
}

/// Reads the errors out of a session's events.
pub fn errors(events: &[Event]) -> ErrorsView {
    let mut view = ErrorsView::default();
    // (phase, iteration) → validations so far, and whether the first passed.
    let mut runs: BTreeMap<(String, Option<u32>), (u32, bool)> = BTreeMap::new();
    let mut repeated = Repeated::default();
    for (i, (iteration, event)) in placed(events).enumerate() {
        // A result that arrived after the session moved on says nothing
        // about the place it is filed under.
        let stale = events
            .get(i + 1)
            .is_some_and(|next| next.data == EventData::StaleValidationIgnored);
        let (Some((passed, verdict)), Some(phase), false) =
            (event.data.verdict(), event.phase.clone(), stale)
        else {
            continue;
        };
        let run = runs
            .entry((phase.clone(), iteration))
            .or_insert((0, passed));
        run.0 += 1;
        if passed {
            continue;
        }
        let attempt = run.0;
        let report = &verdict.report;
        view.failures.push(Failure {
            at: event.at.clone(),
            phase: phase.clone(),
            iteration,
            attempt,
            rules: report
                .rules
                .iter()
                .filter(|r| r.status != RuleStatus::Passed)
                .map(|r| FailedRule {
                    rule: r.rule.clone(),
                    name: r.name.clone(),
                    status: r.status.as_str().to_owned(),
                    summary: r.summary.clone(),
                })
                .collect(),
            evidence_violations: report.evidence_violations.len(),
            summary: report.summary.clone(),
        });
        let place = Place {
            phase: &phase,
            iteration,
            attempt,
            at: &event.at,
        };
        for rule in report
            .rules
            .iter()
            .filter(|r| r.status != RuleStatus::Passed)
        {
            for finding in rule
                .findings
                .iter()
                .filter(|f| f.severity != Severity::Info)
            {
                repeated.note(&place, &rule.rule, finding);
            }
        }
    }
    let mut repeated = repeated.found;
    repeated.sort_by_key(|r| std::cmp::Reverse(r.count));
    view.findings = repeated;
    let mut rates: BTreeMap<String, PhaseRate> = BTreeMap::new();
    for ((phase, _), (_, first_passed)) in runs {
        let rate = rates.entry(phase.clone()).or_insert(PhaseRate {
            phase,
            runs: 0,
            passed_first_try: 0,
            first_try_rate: 0.0,
            failed_validations: 0,
        });
        rate.runs += 1;
        rate.passed_first_try += u32::from(first_passed);
    }
    for rate in rates.values_mut() {
        rate.failed_validations = view
            .failures
            .iter()
            .filter(|f| f.phase == rate.phase)
            .count() as u32;
        rate.first_try_rate = f64::from(rate.passed_first_try) / f64::from(rate.runs.max(1));
    }
    view.phases = rates.into_values().collect();
    view
}

/// Where a failed validation happened.
struct Place<'a> {
    phase: &'a str,
    iteration: Option<u32>,
    attempt: u32,
    at: &'a str,
}

/// Findings seen so far, each once, found again by their identity.
#[derive(Default)]
struct Repeated {
    found: Vec<RepeatedFinding>,
    index: std::collections::HashMap<String, usize>,
}

impl Repeated {
    fn note(&mut self, place: &Place<'_>, rule: &str, finding: &Finding) {
        let identity = serde_json::json!([
            place.phase,
            place.iteration,
            rule,
            finding.code,
            finding.path,
            finding.line,
            finding.message
        ])
        .to_string();
        if let Some(&known) = self.index.get(&identity) {
            let known = &mut self.found[known];
            known.count += 1;
            known.attempts.push(place.attempt);
            known.last_at = place.at.to_owned();
            return;
        }
        self.index.insert(identity, self.found.len());
        self.found.push(RepeatedFinding {
            phase: place.phase.to_owned(),
            iteration: place.iteration,
            rule: rule.to_owned(),
            severity: finding.severity.as_str().to_owned(),
            code: finding.code.clone(),
            path: finding.path.clone(),
            line: finding.line.map(u64::from),
            message: finding.message.clone(),
            count: 1,
            attempts: vec![place.attempt],
            first_at: place.at.to_owned(),
            last_at: place.at.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn event(kind: &str, phase: Option<&str>, data: Value, at: &str) -> Event {
        Event {
            seq: 0,
            at: at.to_owned(),
            phase: phase.map(str::to_owned),
            data: EventData::decode(kind, data),
        }
    }

    /// A stored report whose rules are `rules`.
    fn report(passed: bool, rules: Value) -> Value {
        json!({
            "workflow": "w", "workflow_version": "1.0.0", "phase": "p", "passed": passed,
            "summary": "1 of 1 rules failed", "evidence_violations": [], "duration_ms": 1.0,
            "rules": rules
        })
    }

    fn passed() -> Value {
        report(true, json!([]))
    }

    fn failed(message: &str, line: u64) -> Value {
        report(
            false,
            json!([{
                "rule": "test", "version": "0.1.0", "digest": "", "name": "tests pass",
                "severity": "block", "status": "failed", "summary": "1 failed", "duration_ms": 1.0,
                "findings": [
                    {"severity": "error", "message": message, "path": "src/lib.rs", "line": line, "code": "test-failed"},
                    {"severity": "info", "message": "ran 3 tests"}
                ]
            }]),
        )
    }

    #[test]
    fn failures_are_listed_and_findings_counted_across_attempts() {
        let events = vec![
            event("paused", Some("plan"), Value::Null, "t0"),
            event("validated", Some("plan"), passed(), "t1"),
            event(
                "advanced",
                Some("fix"),
                json!({"from": "plan", "to": "fix"}),
                "t1",
            ),
            event("validation_failed", Some("fix"), failed("boom", 7), "t2"),
            event("validation_failed", Some("fix"), failed("boom", 7), "t3"),
            event("validation_failed", Some("fix"), failed("other", 9), "t4"),
            event("validated", Some("fix"), passed(), "t5"),
            event(
                "iteration_started",
                Some("loop"),
                json!({"group": "loop", "iteration": 1, "of": 2, "reason": "r"}),
                "t5",
            ),
            event(
                "advanced",
                Some("task"),
                json!({"from": "fix", "to": "task", "iteration": 1}),
                "t5",
            ),
            event("validated", Some("task"), passed(), "t6"),
            event(
                "iteration_started",
                Some("loop"),
                json!({"group": "loop", "iteration": 2, "of": 2, "reason": "r"}),
                "t6",
            ),
            event("validation_failed", Some("task"), failed("boom", 7), "t7"),
            event("validated", Some("task"), passed(), "t8"),
        ];
        let view = errors(&events);
        let where_: Vec<(&str, Option<u32>, u32)> = view
            .failures
            .iter()
            .map(|f| (f.phase.as_str(), f.iteration, f.attempt))
            .collect();
        assert_eq!(
            where_,
            [
                ("fix", None, 1),
                ("fix", None, 2),
                ("fix", None, 3),
                ("task", Some(2), 1)
            ]
        );
        assert_eq!(view.failures[0].rules[0].rule, "test");
        assert_eq!(view.failures[0].at, "t2");
        let boom = &view.findings[0];
        assert_eq!(
            (boom.message.as_str(), boom.count, boom.attempts.clone()),
            ("boom", 2, vec![1, 2])
        );
        assert_eq!(
            (boom.first_at.as_str(), boom.last_at.as_str()),
            ("t2", "t3")
        );
        assert_eq!(boom.line, Some(7));
        // Information findings are not errors; iteration 2's "boom" is its own.
        assert_eq!(view.findings.len(), 3);
        let rate = |p: &str| view.phases.iter().find(|r| r.phase == p).unwrap().clone();
        assert_eq!((rate("plan").runs, rate("plan").passed_first_try), (1, 1));
        assert_eq!(rate("fix").first_try_rate, 0.0);
        assert_eq!(rate("fix").failed_validations, 3);
        assert_eq!((rate("task").runs, rate("task").passed_first_try), (2, 1));
        assert_eq!(rate("task").first_try_rate, 0.5);
    }
}
