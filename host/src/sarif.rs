//! Checkpoint findings as SARIF 2.1.0, for code scanning: one run of the
//! tool `checkrail`, a reporting descriptor per rule and finding code, a
//! result per finding with its file and line, and a stable fingerprint that
//! leaves the line out (a finding stays the same finding when code above it
//! moves). Written with the `serde-sarif` types.

use std::collections::BTreeMap;

use checkrail_sdk::{Finding, Severity};
use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, PropertyBag,
    Region, ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Tool,
    ToolComponent,
};
use sha2::{Digest, Sha256};

use crate::report::CheckpointReport;

/// Most results one run carries (GitHub code scanning's limit); past it the
/// least severe findings are left out and the run says how many.
pub const MAX_RESULTS: usize = 25_000;

/// Key of the fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "checkrail/v1";

/// The findings of `reports`, each labelled with where it came from (a
/// phase, or `workflow/phase`), as one SARIF log.
pub fn log(reports: &[(String, &CheckpointReport)]) -> Sarif {
    let mut rules: BTreeMap<String, ReportingDescriptor> = BTreeMap::new();
    let mut results: Vec<(u8, SarifResult)> = Vec::new();
    for (label, report) in reports {
        for rule in &report.rules {
            for finding in &rule.findings {
                let id = rule_id(&rule.rule, finding.code.as_deref());
                rules
                    .entry(id.clone())
                    .or_insert_with(|| descriptor(&id, &rule.rule));
                results.push((rank(finding.severity), result(&id, label, finding)));
            }
        }
    }
    let total = results.len();
    if total > MAX_RESULTS {
        // Most severe first (stable, so each rule's order stays).
        results.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
        results.truncate(MAX_RESULTS);
    }
    let mut run = Run::builder()
        .tool(
            Tool::builder()
                .driver(
                    ToolComponent::builder()
                        .name("checkrail")
                        .version(env!("CARGO_PKG_VERSION"))
                        .rules(rules.into_values().collect::<Vec<_>>())
                        .build(),
                )
                .build(),
        )
        .results(results.into_iter().map(|(_, r)| r).collect::<Vec<_>>())
        .build();
    if total > MAX_RESULTS {
        let mut extra = BTreeMap::new();
        extra.insert(
            "left_out".to_owned(),
            serde_json::json!(format!(
                "{} of {total} findings were left out (the least severe): code scanning takes at most {MAX_RESULTS} per run",
                total - MAX_RESULTS
            )),
        );
        run.properties = Some(PropertyBag::builder().additional_properties(extra).build());
    }
    Sarif::builder()
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build()
}

/// [`log`] of a session's reports, its run saying how the agent ran
/// (`confinement`, as the session recorded it: confined by `checkrail
/// run` with its rules, or not).
pub fn session_log(
    reports: &[(String, &CheckpointReport)],
    confinement: &serde_json::Value,
) -> Sarif {
    let mut sarif = log(reports);
    if !confinement.is_null() {
        for run in &mut sarif.runs {
            let mut extra = run
                .properties
                .take()
                .map(|p| p.additional_properties)
                .unwrap_or_default();
            extra.insert("confinement".to_owned(), confinement.clone());
            run.properties = Some(PropertyBag::builder().additional_properties(extra).build());
        }
    }
    sarif
}

/// [`session_log`] of the checkpoints an attestation's verifier ran again,
/// with each requirement it found unmet (`unmet`, as findings without a
/// file) as a result of the rule `attestation/<check>`.
pub fn attestation_log(
    reports: &[(String, &CheckpointReport)],
    unmet: &[Finding],
    confinement: &serde_json::Value,
) -> Sarif {
    let mut sarif = session_log(reports, confinement);
    for run in &mut sarif.runs {
        let mut rules = run.tool.driver.rules.take().unwrap_or_default();
        let mut results = run.results.take().unwrap_or_default();
        for finding in unmet {
            let id = rule_id("attestation", finding.code.as_deref());
            if !rules.iter().any(|r| r.id == id) {
                rules.push(descriptor(&id, "attestation"));
            }
            results.insert(0, result(&id, "attestation", finding));
        }
        run.tool.driver.rules = Some(rules);
        run.results = Some(results);
    }
    sarif
}

/// `rule/code`, or the rule alone for a finding without a code.
fn rule_id(rule: &str, code: Option<&str>) -> String {
    match code {
        Some(code) if !code.is_empty() => format!("{rule}/{code}"),
        _ => rule.to_owned(),
    }
}

fn descriptor(id: &str, rule: &str) -> ReportingDescriptor {
    ReportingDescriptor::builder()
        .id(id)
        .short_description(
            MultiformatMessageString::builder()
                .text(format!("{id} (checkrail rule `{rule}`)"))
                .build(),
        )
        .build()
}

fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Error => 2,
        Severity::Warning => 1,
        Severity::Info => 0,
    }
}

fn result(id: &str, label: &str, finding: &Finding) -> SarifResult {
    let level = match finding.severity {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Info => ResultLevel::Note,
    };
    let text = match &finding.fix_hint {
        Some(hint) => format!("{}\nFix: {hint}", finding.message),
        None => finding.message.clone(),
    };
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(FINGERPRINT_KEY.to_owned(), fingerprint(id, finding));
    let mut properties = BTreeMap::new();
    properties.insert("checkpoint".to_owned(), serde_json::json!(label));
    let mut result = SarifResult::builder()
        .rule_id(id)
        .level(level)
        .message(Message::builder().text(text).build())
        .partial_fingerprints(fingerprints)
        .properties(
            PropertyBag::builder()
                .additional_properties(properties)
                .build(),
        )
        .build();
    if let Some(path) = &finding.path {
        let mut region = Region::builder().build();
        region.start_line = finding.line.map(i64::from);
        region.start_column = finding.line.and(finding.column).map(i64::from);
        let physical = PhysicalLocation::builder().artifact_location(
            ArtifactLocation::builder()
                .uri(path.clone())
                .uri_base_id("%SRCROOT%")
                .build(),
        );
        let physical = if finding.line.is_some() {
            physical.region(region).build()
        } else {
            physical.build()
        };
        result.locations = Some(vec![
            Location::builder().physical_location(physical).build(),
        ]);
    }
    result
}

/// sha256 of the rule id, the file and the message, without the line: the
/// same problem keeps its fingerprint when code above it moves.
fn fingerprint(id: &str, finding: &Finding) -> String {
    let mut hasher = Sha256::new();
    for part in [id, finding.path.as_deref().unwrap_or(""), &finding.message] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}
