//! Human-readable and JSON output.

use std::io::Write;

use anyhow::Result;
use checkrail::report::{CheckpointReport, RuleReport, RuleStatus};
use checkrail::workflow::WorkflowSummary;
use checkrail_sdk::{Finding, Severity};

use super::rule::RuleSummary;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints a checkpoint report.
pub fn checkpoint(report: &CheckpointReport) {
    let verdict = if report.passed { "PASSED" } else { "FAILED" };
    println!(
        "{} {} · phase {}: {verdict} — {} ({:.1} ms)",
        report.workflow, report.workflow_version, report.phase, report.summary, report.duration_ms
    );
    if !report.evidence_violations.is_empty() {
        println!();
        for v in &report.evidence_violations {
            println!("  evidence {v}");
        }
    }
    println!();
    for rule in &report.rules {
        rule_report(rule);
    }
    if let Some(prompt) = &report.approval_required {
        println!("  ! this checkpoint also needs a human's approval: {prompt}");
    }
}

/// Prints one rule's result with its findings.
pub fn rule_report(report: &RuleReport) {
    let mark = match report.status {
        RuleStatus::Passed => "✓",
        RuleStatus::Failed => "✗",
        RuleStatus::Error => "!",
    };
    let name = report
        .name
        .as_deref()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let warn = if report.severity == checkrail::workflow::Severity::Warn {
        " [warn only]"
    } else {
        ""
    };
    println!(
        "  {mark} {}@{}{name}{warn} — {} ({:.1} ms)",
        report.rule, report.version, report.summary, report.duration_ms
    );
    for finding in &report.findings {
        print_finding(finding);
    }
}

fn print_finding(f: &Finding) {
    let level = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warn ",
        Severity::Info => "info ",
    };
    let mut location = f.path.clone().unwrap_or_default();
    if let Some(line) = f.line {
        location.push_str(&format!(":{line}"));
        if let Some(column) = f.column {
            location.push_str(&format!(":{column}"));
        }
    }
    let location = if location.is_empty() {
        String::new()
    } else {
        format!("{location}: ")
    };
    println!("      {level} {location}{}", f.message);
    if let Some(hint) = &f.fix_hint {
        println!("            fix: {hint}");
    }
}

/// Prints the workflow list.
pub fn workflow_list(list: &[WorkflowSummary]) {
    if list.is_empty() {
        println!("no workflows");
    }
    for w in list {
        let category = w
            .category
            .as_deref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        println!(
            "{} {}{category} — {} ({} phases)",
            w.id, w.version, w.name, w.phase_count
        );
        println!("    {}", w.description);
    }
}

/// Prints the rule list.
pub fn rule_list(rules: &[RuleSummary]) {
    for r in rules {
        let caps = if r.capabilities.is_empty() {
            String::new()
        } else {
            format!(" (may ask for: {})", r.capabilities.join(", "))
        };
        println!("{}@{} — {}{caps}", r.id, r.version, r.description);
        println!(
            "    api {} · sha256 {} · {}",
            r.api_version,
            &r.digest[..16.min(r.digest.len())],
            r.origin
        );
    }
}
