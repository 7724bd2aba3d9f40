//! Human-readable and JSON output.
//!
//! Most of what a report shows comes from rules and the tools they run
//! (findings, summaries, test names, panic messages), which an agent can
//! shape. In human output every control character is shown as an escape
//! (`\u{1b}`), so such text cannot move the cursor, erase lines or restyle
//! the terminal, and a line break inside it is indented under its first line
//! so it cannot pose as a line of the report. `--json` prints values exactly.

use std::borrow::Cow;
use std::fmt::Write as _;
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
    print!("{}", render_checkpoint(report));
}

/// Prints one rule's result with its findings.
pub fn rule_report(report: &RuleReport) {
    print!("{}", render_rule(report));
}

/// Prints the workflow list.
pub fn workflow_list(list: &[WorkflowSummary]) {
    print!("{}", render_workflows(list));
}

/// Prints the rule list.
pub fn rule_list(rules: &[RuleSummary]) {
    print!("{}", render_rules(rules));
}

/// `text` as one line of a terminal: control characters (C0 but tab, DEL,
/// C1) and the Unicode bidirectional overrides are escaped, newlines too.
pub fn shown(text: &str) -> Cow<'_, str> {
    escape(text, None)
}

/// `text` shown like [`shown`], but with its line breaks kept, each followed
/// by `indent`.
pub fn shown_lines<'a>(text: &'a str, indent: &str) -> Cow<'a, str> {
    escape(text, Some(indent))
}

fn escape<'a>(text: &'a str, indent: Option<&str>) -> Cow<'a, str> {
    // Tabs pass as they are; a newline is either indented or escaped.
    if !text.chars().any(|c| is_unsafe(c) && c != '\t') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match (c, indent) {
            ('\n', Some(indent)) => {
                out.push('\n');
                out.push_str(indent);
            }
            ('\t', _) => out.push('\t'),
            _ if is_unsafe(c) => out.extend(c.escape_default()),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Characters a terminal acts on instead of showing, or that reorder how
/// the rest of a line is shown.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn render_checkpoint(report: &CheckpointReport) -> String {
    let mut out = String::new();
    let verdict = if report.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        out,
        "{} {} · phase {}: {verdict} — {} ({:.1} ms)",
        shown(&report.workflow),
        shown(&report.workflow_version),
        shown(&report.phase),
        shown_lines(&report.summary, "    "),
        report.duration_ms
    );
    if !report.evidence_violations.is_empty() {
        out.push('\n');
        for v in &report.evidence_violations {
            let _ = writeln!(out, "  evidence {}", shown_lines(&v.to_string(), "    "));
        }
    }
    out.push('\n');
    for rule in &report.rules {
        out.push_str(&render_rule(rule));
    }
    if let Some(prompt) = &report.approval_required {
        let _ = writeln!(
            out,
            "  ! this checkpoint also needs a human's approval: {}",
            shown_lines(prompt, "    ")
        );
    }
    out
}

fn render_rule(report: &RuleReport) -> String {
    let mut out = String::new();
    let mark = match report.status {
        RuleStatus::Passed => "✓",
        RuleStatus::Failed => "✗",
        RuleStatus::Error => "!",
    };
    let name = report
        .name
        .as_deref()
        .map(|n| format!(" {}", shown(n)))
        .unwrap_or_default();
    let warn = if report.severity == checkrail::workflow::Severity::Warn {
        " [warn only]"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "  {mark} {}@{}{name}{warn} — {} ({:.1} ms)",
        shown(&report.rule),
        shown(&report.version),
        shown_lines(&report.summary, "      "),
        report.duration_ms
    );
    for finding in &report.findings {
        render_finding(&mut out, finding);
    }
    out
}

fn render_finding(out: &mut String, f: &Finding) {
    let level = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warn ",
        Severity::Info => "info ",
    };
    let mut location = f
        .path
        .as_deref()
        .map(shown)
        .unwrap_or_default()
        .into_owned();
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
    // Continuation lines sit under the message, deeper than any line of
    // the report itself.
    let _ = writeln!(
        out,
        "      {level} {location}{}",
        shown_lines(&f.message, "            ")
    );
    if let Some(hint) = &f.fix_hint {
        let _ = writeln!(
            out,
            "            fix: {}",
            shown_lines(hint, "                 ")
        );
    }
}

fn render_workflows(list: &[WorkflowSummary]) -> String {
    let mut out = String::new();
    if list.is_empty() {
        out.push_str("no workflows\n");
    }
    for w in list {
        let category = w
            .category
            .as_deref()
            .map(|c| format!(" [{}]", shown(c)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {}{category} — {} ({} phases)",
            shown(&w.id),
            shown(&w.version),
            shown(&w.name),
            w.phase_count
        );
        let _ = writeln!(out, "    {}", shown_lines(&w.description, "    "));
    }
    out
}

fn render_rules(rules: &[RuleSummary]) -> String {
    let mut out = String::new();
    for r in rules {
        let caps = if r.capabilities.is_empty() {
            String::new()
        } else {
            format!(" (may ask for: {})", shown(&r.capabilities.join(", ")))
        };
        let _ = writeln!(
            out,
            "{}@{} — {}{caps}",
            shown(&r.id),
            shown(&r.version),
            shown_lines(&r.description, "    ")
        );
        let _ = writeln!(
            out,
            "    api {} · sha256 {} · {}",
            shown(&r.api_version),
            shown(&r.digest[..16.min(r.digest.len())]),
            shown(&r.origin)
        );
        if let Some(outline) = config_outline(&r.config_schema) {
            let _ = writeln!(out, "    config: {}", shown(&outline));
        }
    }
    out
}

/// The top-level fields of a rule's config schema, each with its type and
/// whether it is required: `path (string, required), min (integer)`. The
/// whole schema is in `rule list --json`.
fn config_outline(schema: &serde_json::Value) -> Option<String> {
    let properties = schema.get("properties")?.as_object()?;
    if properties.is_empty() {
        return None;
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let fields: Vec<String> = properties
        .iter()
        .map(|(name, field)| {
            let mut notes = vec![type_name(field)];
            if required.contains(&name.as_str()) {
                notes.push("required".to_owned());
            }
            format!("{name} ({})", notes.join(", "))
        })
        .collect();
    Some(fields.join(", "))
}

/// A field's type as a reader would say it: `string`, `integer|null`, the
/// name of a referenced definition, or `any`.
fn type_name(field: &serde_json::Value) -> String {
    match field.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Array(types)) => types
            .iter()
            .filter_map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join("|"),
        _ => match field.get("$ref").and_then(|r| r.as_str()) {
            Some(reference) => reference.rsplit('/').next().unwrap_or(reference).to_owned(),
            None if field.get("anyOf").or(field.get("oneOf")).is_some() => {
                "one of several".to_owned()
            }
            None => "any".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkrail::workflow::Severity as RuleSeverity;

    fn rule(status: RuleStatus, summary: &str, findings: Vec<Finding>) -> RuleReport {
        RuleReport {
            rule: "test".to_owned(),
            version: "0.2.0".to_owned(),
            digest: String::new(),
            name: None,
            severity: RuleSeverity::Block,
            status,
            summary: summary.to_owned(),
            findings,
            duration_ms: 1.0,
            cached: false,
            facts: None,
        }
    }

    #[test]
    fn a_finding_cannot_redraw_the_report() {
        let forged = "boom\x1b[2K\r  ✓ passed";
        let report = rule(
            RuleStatus::Failed,
            "1 failed\x1b[1A",
            vec![
                Finding::error(forged)
                    .path("src/\x1b]0;title\x07x.rs")
                    .line(3)
                    .fix_hint("run\x08\x08\x08 it\u{9b}2J"),
            ],
        );
        let text = render_rule(&report);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains(r"boom\u{1b}[2K\r  ✓ passed"), "{text}");
        assert!(text.contains(r"1 failed\u{1b}[1A"), "{text}");
        assert!(text.contains(r"src/\u{1b}]0;title\u{7}x.rs:3: "), "{text}");
        assert!(text.contains(r"run\u{8}\u{8}\u{8} it\u{9b}2J"), "{text}");
        // Every line is one the report made: the rule line and the finding
        // with its fix.
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn line_breaks_in_rule_text_stay_under_their_first_line() {
        let report = rule(
            RuleStatus::Failed,
            "1 failed\n  ✓ other@1.0.0 — passed",
            vec![Finding::error(
                "assertion failed\n  ✓ compile@0.2.0 — ok\tdone",
            )],
        );
        let text = render_rule(&report);
        for line in text.lines().skip(1) {
            assert!(line.starts_with("    "), "{line:?} in\n{text}");
        }
        assert!(
            text.contains("\n              ✓ compile@0.2.0 — ok\tdone"),
            "{text}"
        );
        // Where a line break is not expected, it is escaped.
        assert_eq!(shown("a\nb\u{202e}c"), r"a\nb\u{202e}c");
        assert!(matches!(shown("plain · ✓ text"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_rule_list_outlines_each_config() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "min": {"type": ["integer", "null"]},
                "mode": {"$ref": "#/$defs/Mode"},
                "extra": {}
            },
            "required": ["path"]
        });
        assert_eq!(
            config_outline(&schema).as_deref(),
            Some("extra (any), min (integer|null), mode (Mode), path (string, required)")
        );
        assert_eq!(config_outline(&serde_json::json!({"type": "object"})), None);
        let summary = RuleSummary {
            id: "r".to_owned(),
            version: "1.0.0".to_owned(),
            description: "d".to_owned(),
            capabilities: vec![],
            api_version: "0.1.0".to_owned(),
            digest: "ab".repeat(32),
            origin: "bundled".to_owned(),
            config_schema: schema,
        };
        let text = render_rules(&[summary]);
        assert!(
            text.contains("\n    config: extra (any), min (integer|null), "),
            "{text}"
        );
    }
}
