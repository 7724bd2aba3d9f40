//! One checkpoint run: its rules (and, when it requires tasks, the rules
//! that tell its tasks are done) resolved and their configs checked before
//! any runs, the evidence checked against its schema, the rules run
//! ([`super::schedule`]), the host's own checks ([`super::guards`]), and the
//! report assembled: tasks done by the evidence, one summary line.

use std::time::Instant;

use checkrail_sdk::Finding;
use checkrail_sdk::tool::plural;
use serde_json::{Map, Value};

use super::{CheckpointRun, Checkrail, millis};
use crate::frozen;
use crate::report::{CheckpointReport, RuleReport, RuleStatus};
use crate::schema::{Schema, Violation};
use crate::workflow::{DoneWhen, Phase, RuleUse, Severity, Workflow};
use crate::{Error, Result};

impl Checkrail {
    /// Runs a phase's checkpoint: evidence against its schema, then every
    /// rule. Rule configs are all checked before any rule runs.
    pub fn run_checkpoint(&self, run: &CheckpointRun<'_>) -> Result<CheckpointReport> {
        let started = Instant::now();
        let workflow = run.workflow;
        let (index, phase) = workflow
            .phases
            .iter()
            .enumerate()
            .find(|(_, p)| p.id == run.phase)
            .ok_or_else(|| Error::UnknownPhase {
                workflow: workflow.id.clone(),
                phase: run.phase.to_owned(),
                known: workflow.phase_ids(),
            })?;
        let mut checkpoint = phase.checkpoint.clone().unwrap_or_default();
        let declared = checkpoint.rules.len();
        let mut pointers: Vec<String> = (0..checkpoint.rules.len())
            .map(|j| format!("{}/checkpoint/rules/{j}", workflow.pointer(index)))
            .collect();
        if checkpoint.require_tasks {
            // Every task that says how it is known to be done is checked
            // with the checkpoint, after its own rules.
            for (at, rule_use) in task_rules(phase) {
                pointers.push(format!("{}/{at}", workflow.pointer(index)));
                checkpoint.rules.push(rule_use);
            }
        }
        self.load_side_by_side(checkpoint.rules.iter().map(|r| r.rule.as_str()));
        let prepared = checkpoint
            .rules
            .iter()
            .zip(&pointers)
            .map(|(rule_use, at)| {
                self.prepare(rule_use, at)
                    .map(|(rule, limits)| (rule_use, rule, limits))
            })
            .collect::<Result<Vec<_>>>()?;
        let evidence_violations = evidence_violations(
            workflow,
            index,
            checkpoint.evidence_schema.as_ref(),
            run.evidence,
        )?;
        // One snapshot: the files the verdict rests on are watched while
        // the rules run, so a file swapped in for the run and back after it
        // voids the verdict (see `frozen::stats`).
        let root = run.workspace.root();
        let watched = self.watched_globs(run, checkpoint.frozen.as_ref(), &prepared);
        let before = frozen::stats(root, &watched);
        // One walk for the host's snapshots while no rule has run.
        let listing = frozen::Listing::new(root);
        let mut rules = self.run_rules(run, &phase.id, &prepared, &listing)?;
        let ran = rules.iter().any(|r| !r.cached);
        if ran {
            listing.rule_started();
        }
        // Facts are the checkpoint's own rules': a task's use of the same
        // rule (say, one test) must not become the phase's baseline.
        for report in rules.iter_mut().skip(declared) {
            report.facts = None;
        }
        rules.extend(self.guard_reports(run, checkpoint.frozen.as_ref(), &prepared, &listing));
        if ran {
            let changed = frozen::changed_paths(&before, &frozen::stats(root, &watched));
            if !changed.is_empty() {
                rules.push(super::guards::changed_during_check(&changed));
            }
        }
        if checkpoint.require_tasks {
            rules.extend(evidence_tasks_report(phase, run.evidence));
        }
        let passed = evidence_violations.is_empty() && !rules.iter().any(RuleReport::blocks);
        let mut report = CheckpointReport {
            workflow: workflow.id.clone(),
            workflow_version: workflow.version.to_string(),
            phase: phase.id.clone(),
            passed,
            summary: summary(passed, &rules, &evidence_violations),
            evidence_violations,
            rules,
            approval_required: checkpoint.approval.map(|a| a.prompt),
            duration_ms: 0.0,
        };
        report.bound(crate::report::REPORT_MAX);
        report.duration_ms = millis(started.elapsed());
        Ok(report)
    }
}

/// The rules that tell a phase's tasks are done (`done_when: {rule,
/// config}`), each with the pointer of its `done_when` relative to the
/// phase.
pub fn task_rules(phase: &Phase) -> Vec<(String, RuleUse)> {
    phase
        .tasks
        .iter()
        .enumerate()
        .filter_map(|(t, task)| match task.done_when()? {
            DoneWhen::Rule { rule, config } => Some((
                format!("tasks/{t}/done_when"),
                RuleUse {
                    rule: rule.clone(),
                    name: Some(format!(
                        "task `{}` is done: {}",
                        task.id().unwrap_or_default(),
                        task.title()
                    )),
                    severity: Severity::Block,
                    config: if config.is_null() {
                        Value::Object(Map::new())
                    } else {
                        config.clone()
                    },
                    timeout_ms: None,
                    memory_mb: None,
                    inputs: None,
                },
            )),
            DoneWhen::Evidence { .. } => None,
        })
        .collect()
}

/// The tasks whose `done_when` names an evidence field, checked against
/// the evidence submitted; `None` when the phase has none.
fn evidence_tasks_report(phase: &Phase, evidence: Option<&Value>) -> Option<RuleReport> {
    let mut checked = 0;
    let findings: Vec<Finding> = phase
        .tasks
        .iter()
        .filter_map(|task| match task.done_when()? {
            DoneWhen::Evidence { evidence: field } => {
                checked += 1;
                (!DoneWhen::set_in(field, evidence)).then(|| {
                    Finding::error(format!(
                        "task `{}` ({}) is not done: the evidence does not set `{field}`",
                        task.id().unwrap_or_default(),
                        task.title()
                    ))
                    .code("task-not-done")
                    .fix_hint(format!(
                        "finish the task, then submit evidence with `{field}` set"
                    ))
                })
            }
            DoneWhen::Rule { .. } => None,
        })
        .collect();
    if checked == 0 {
        return None;
    }
    let missing = findings.len();
    let mut report = host_report(
        "tasks",
        "tasks done, by the evidence",
        findings,
        Severity::Block,
    );
    report.summary = if missing == 0 {
        format!("all {} done", plural(checked, "task"))
    } else {
        format!("{missing} of {} not done", plural(checked, "task"))
    };
    Some(report)
}

/// `1 file changed`, `3 files changed`.
pub(super) fn files_changed(files: usize) -> String {
    format!("{} changed", plural(files, "file"))
}

/// A report of one of the host's own checks.
pub(super) fn host_report(
    id: &str,
    name: &str,
    findings: Vec<Finding>,
    severity: Severity,
) -> RuleReport {
    let errors = findings
        .iter()
        .filter(|f| f.severity == checkrail_sdk::Severity::Error)
        .count();
    RuleReport {
        rule: format!("checkrail/{id}"),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        digest: String::new(),
        name: Some(name.to_owned()),
        severity,
        status: if errors == 0 {
            RuleStatus::Passed
        } else {
            RuleStatus::Failed
        },
        summary: if errors == 0 {
            "unchanged".to_owned()
        } else {
            files_changed(errors)
        },
        findings,
        duration_ms: 0.0,
        cached: false,
        facts: None,
    }
}

/// ` (required: a, b)` from a schema's top-level `required`, or nothing.
fn required_fields(schema: &Value) -> String {
    match schema.get("required").and_then(Value::as_array) {
        Some(fields) if !fields.is_empty() => {
            let names: Vec<&str> = fields.iter().filter_map(Value::as_str).collect();
            format!(" (required: {})", names.join(", "))
        }
        _ => String::new(),
    }
}

/// Where the evidence breaks the phase's evidence schema.
fn evidence_violations(
    workflow: &Workflow,
    index: usize,
    schema: Option<&Value>,
    evidence: Option<&Value>,
) -> Result<Vec<Violation>> {
    let Some(schema_value) = schema else {
        return Ok(Vec::new());
    };
    let schema = Schema::compile(schema_value).map_err(|e| Error::InvalidWorkflow {
        source_name: workflow.source.clone(),
        problems: vec![format!(
            "{}/checkpoint/evidence_schema: {e}",
            workflow.pointer(index)
        )],
    })?;
    Ok(match evidence {
        Some(evidence) => schema.violations(evidence, ""),
        None => vec![Violation {
            pointer: String::new(),
            message: format!(
                "no evidence was given; this checkpoint needs evidence matching its evidence_schema{}",
                required_fields(schema_value)
            ),
        }],
    })
}

/// One line for the whole checkpoint.
fn summary(passed: bool, rules: &[RuleReport], evidence_violations: &[Violation]) -> String {
    if passed && rules.is_empty() {
        return "nothing to check in this phase".to_owned();
    }
    if passed {
        let ok = rules
            .iter()
            .filter(|r| r.status == RuleStatus::Passed)
            .count();
        return format!("{ok} of {} rules passed", rules.len());
    }
    let blocking = rules.iter().filter(|r| r.blocks()).count();
    let mut parts = Vec::new();
    if blocking > 0 {
        parts.push(format!("{blocking} of {} rules failed", rules.len()));
    }
    if !evidence_violations.is_empty() {
        parts.push(format!(
            "evidence breaks its schema in {}",
            plural(evidence_violations.len(), "place")
        ));
    }
    parts.join("; ")
}
