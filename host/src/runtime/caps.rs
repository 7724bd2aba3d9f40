//! Bounds on what a rule hands back to the host, so that no answer can make
//! the host hold, store or send more than a known amount. Each cap, when
//! hit, is said in the answer itself (a note in the text or a finding with
//! a `checkrail/…` code), never silently.

use checkrail_sdk::{Finding, Outcome, Severity};

use super::abi::wit;

/// Largest config schema a rule may publish in `describe`.
pub const SCHEMA_MAX: usize = 1 << 20;
/// Largest description, and largest single capability or judging glob.
pub const DESCRIBE_TEXT_MAX: usize = 8 * 1024;
/// Most capabilities, and most judging-file globs, one rule may declare.
pub const DESCRIBE_LIST_MAX: usize = 256;
/// Most input globs `inputs` may return for one config.
pub const INPUTS_MAX: usize = 256;
/// Longest input glob.
pub const INPUT_GLOB_MAX: usize = 1024;
/// Most findings kept per rule run; the rest are summarized in one more.
pub const FINDINGS_MAX: usize = 1000;
/// Longest finding message, fix hint, and outcome summary, in bytes.
pub const TEXT_MAX: usize = 8 * 1024;
/// Longest finding path or code.
pub const SHORT_TEXT_MAX: usize = 1024;
/// Most bytes of finding text (messages, hints, paths, codes) kept per rule
/// run; together with [`FACTS_MAX`] this bounds what one rule adds to a
/// stored report.
pub const OUTCOME_TEXT_MAX: usize = 1 << 20;
/// Largest facts a rule may record per run.
pub const FACTS_MAX: usize = 1 << 20;

/// Code of the finding that stands for findings over the caps.
pub const CODE_FINDINGS_CAPPED: &str = "checkrail/findings-capped";
/// Code of the finding that says log lines were dropped.
pub const CODE_LOGS_DROPPED: &str = "checkrail/logs-dropped";

/// Refuses a `describe` answer over the caps, naming the cap.
pub(crate) fn check_described(info: &wit::RuleInfo) -> Result<(), String> {
    if info.config_schema.len() > SCHEMA_MAX {
        return Err(format!(
            "publishes a config schema of {} bytes; the limit is {} KiB",
            info.config_schema.len(),
            SCHEMA_MAX >> 10
        ));
    }
    for (what, text) in [
        ("id", &info.id),
        ("version", &info.version),
        ("description", &info.description),
    ] {
        if text.len() > DESCRIBE_TEXT_MAX {
            return Err(format!(
                "describes a {what} of {} bytes; the limit is {} KiB",
                text.len(),
                DESCRIBE_TEXT_MAX >> 10
            ));
        }
    }
    for (what, list) in [
        ("capabilities", &info.capabilities),
        ("judging files", &info.judging_files),
    ] {
        if list.len() > DESCRIBE_LIST_MAX {
            return Err(format!(
                "declares {} {what}; the limit is {DESCRIBE_LIST_MAX}",
                list.len()
            ));
        }
        if let Some(long) = list.iter().find(|t| t.len() > DESCRIBE_TEXT_MAX) {
            return Err(format!(
                "declares one of its {what} with {} bytes; the limit is {} KiB",
                long.len(),
                DESCRIBE_TEXT_MAX >> 10
            ));
        }
    }
    Ok(())
}

/// Refuses an `inputs` answer over the caps, naming the cap.
pub(crate) fn check_inputs(globs: &[String]) -> Result<(), String> {
    if globs.len() > INPUTS_MAX {
        return Err(format!(
            "named {} input globs; the limit is {INPUTS_MAX}",
            globs.len()
        ));
    }
    if let Some(long) = globs.iter().find(|g| g.len() > INPUT_GLOB_MAX) {
        return Err(format!(
            "named an input glob of {} bytes; the limit is {INPUT_GLOB_MAX}",
            long.len()
        ));
    }
    Ok(())
}

/// Refuses facts over [`FACTS_MAX`].
pub(crate) fn check_facts_size(outcome: &Outcome) -> Result<(), String> {
    match &outcome.facts {
        Some(facts) if facts.len() > FACTS_MAX => Err(format!(
            "returned {} bytes of facts; the limit is {} KiB",
            facts.len(),
            FACTS_MAX >> 10
        )),
        _ => Ok(()),
    }
}

/// Cuts an outcome down to the caps: texts truncated with a note, findings
/// past [`FINDINGS_MAX`] or [`OUTCOME_TEXT_MAX`] replaced by one finding
/// that counts them at the most severe of their severities (so a cut never
/// turns a blocking result into a passing one). `logs_dropped` log lines
/// over the log budget are reported in one more finding.
pub(crate) fn cap_outcome(mut outcome: Outcome, logs_dropped: usize) -> Outcome {
    truncate_in_place(&mut outcome.summary, TEXT_MAX);
    let mut kept = Vec::with_capacity(outcome.findings.len().min(FINDINGS_MAX));
    let mut bytes = 0usize;
    let mut over: Option<(usize, Severity)> = None;
    for mut finding in std::mem::take(&mut outcome.findings) {
        let size = cap_finding(&mut finding);
        if kept.len() >= FINDINGS_MAX || bytes + size > OUTCOME_TEXT_MAX {
            let (count, severity) = over.get_or_insert((0, Severity::Info));
            *count += 1;
            *severity = most_severe(*severity, finding.severity);
            continue;
        }
        bytes += size;
        kept.push(finding);
    }
    if let Some((count, severity)) = over {
        kept.push(
            Finding::new(
                severity,
                format!(
                    "{count} more finding{} not shown: a rule run keeps at most {FINDINGS_MAX} findings and {} KiB of finding text",
                    if count == 1 { " was" } else { "s were" },
                    OUTCOME_TEXT_MAX >> 10
                ),
            )
            .fix_hint("fix the findings shown and check again, or make the rule report fewer, larger findings")
            .code(CODE_FINDINGS_CAPPED),
        );
    }
    if logs_dropped > 0 {
        kept.push(
            Finding::info(format!(
                "{logs_dropped} log line{} of this rule {} dropped: it logged past its budget of {} KiB and {} lines per second",
                if logs_dropped == 1 { "" } else { "s" },
                if logs_dropped == 1 { "was" } else { "were" },
                super::host::LOG_BYTES_MAX >> 10,
                super::host::LOG_RATE
            ))
            .code(CODE_LOGS_DROPPED),
        );
    }
    outcome.findings = kept;
    outcome
}

/// Truncates a finding's texts; returns the bytes it then holds.
fn cap_finding(finding: &mut Finding) -> usize {
    truncate_in_place(&mut finding.message, TEXT_MAX);
    let mut size = finding.message.len();
    for (text, max) in [
        (&mut finding.fix_hint, TEXT_MAX),
        (&mut finding.path, SHORT_TEXT_MAX),
        (&mut finding.code, SHORT_TEXT_MAX),
    ] {
        if let Some(text) = text {
            truncate_in_place(text, max);
            size += text.len();
        }
    }
    size
}

fn most_severe(a: Severity, b: Severity) -> Severity {
    let rank = |s: Severity| match s {
        Severity::Error => 2,
        Severity::Warning => 1,
        Severity::Info => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Cuts `text` to at most `max` bytes (on a character boundary), ending it
/// with a note of how much was cut.
pub(crate) fn truncate_in_place(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let cut = text.len();
    let note_room = 64;
    let mut end = max.saturating_sub(note_room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("… [truncated: {} of {cut} bytes cut]", cut - end));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_with_a_note() {
        let mut text = "é".repeat(10_000);
        truncate_in_place(&mut text, TEXT_MAX);
        assert!(text.len() <= TEXT_MAX, "{}", text.len());
        assert!(text.ends_with("bytes cut]"), "{}", &text[text.len() - 60..]);
        let mut short = "fine".to_owned();
        truncate_in_place(&mut short, TEXT_MAX);
        assert_eq!(short, "fine");
    }

    #[test]
    fn findings_over_the_cap_become_one_at_their_worst_severity() {
        let mut findings: Vec<Finding> = (0..FINDINGS_MAX)
            .map(|n| Finding::info(format!("f{n}")))
            .collect();
        findings.push(Finding::warning("late warning"));
        findings.push(Finding::error("late error"));
        let outcome = cap_outcome(Outcome::from_findings(findings), 0);
        assert_eq!(outcome.findings.len(), FINDINGS_MAX + 1);
        let last = outcome.findings.last().unwrap();
        assert_eq!(last.code.as_deref(), Some(CODE_FINDINGS_CAPPED));
        assert_eq!(last.severity, Severity::Error);
        assert!(
            last.message.starts_with("2 more findings"),
            "{}",
            last.message
        );
    }

    #[test]
    fn finding_text_is_bounded_in_total() {
        let findings = (0..FINDINGS_MAX)
            .map(|_| Finding::error("x".repeat(TEXT_MAX * 4)).fix_hint("y".repeat(TEXT_MAX * 4)))
            .collect();
        let outcome = cap_outcome(Outcome::from_findings(findings), 3);
        let total: usize = outcome
            .findings
            .iter()
            .map(|f| f.message.len() + f.fix_hint.as_ref().map_or(0, String::len))
            .sum();
        assert!(total <= OUTCOME_TEXT_MAX + 2 * TEXT_MAX, "{total}");
        assert!(outcome.findings.len() < FINDINGS_MAX);
        let codes: Vec<_> = outcome
            .findings
            .iter()
            .filter_map(|f| f.code.as_deref())
            .collect();
        assert!(codes.contains(&CODE_FINDINGS_CAPPED), "{codes:?}");
        assert!(codes.contains(&CODE_LOGS_DROPPED), "{codes:?}");
    }
}
