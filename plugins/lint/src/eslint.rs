//! `eslint --format json`: one JSON array with a result per file linted,
//! each naming the file by its absolute host path (resolved to the
//! workspace by the caller) and listing its messages: `severity` 2 is an
//! error, 1 a warning; `ruleId` is the rule (`null` for a file that does
//! not parse, marked `fatal`). Messages an `eslint-disable` comment
//! silenced come apart, as `suppressedMessages`.

use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json;
use checkrail_sdk::tool::{Diag, Level, Location, Ran, Reading, Toolchain, clip};
use checkrail_sdk::{Command, Result};

use crate::{Config, LintTool, globs};

/// JavaScript and TypeScript: `eslint --format json .` with the project's
/// own flat config.
pub struct Eslint;

impl Toolchain<Config> for Eslint {
    fn program(&self) -> &'static str {
        "eslint"
    }

    /// Its flat config and bulk suppressions, in any package.
    fn judging_files(&self) -> &'static [&'static str] {
        &[
            "eslint.config.js",
            "eslint.config.mjs",
            "eslint.config.cjs",
            "eslint.config.ts",
            "eslint.config.mts",
            "eslint.config.cts",
            "eslint-suppressions.json",
            "**/eslint.config.js",
            "**/eslint.config.mjs",
            "**/eslint.config.cjs",
            "**/eslint.config.ts",
            "**/eslint.config.mts",
            "**/eslint.config.cts",
            "**/eslint-suppressions.json",
        ]
    }

    fn inputs(&self, config: &Config) -> Vec<String> {
        globs(config, INPUTS, &[])
    }

    // The scratch directories of rules running beside this one are under
    // `.checkrail/`, which ESLint 9 does not skip on its own.
    fn command(&self, config: &Config) -> Result<Command> {
        Ok(Command::new("eslint")
            .args(["--format", "json", "--ignore-pattern", "**/.checkrail/"])
            .args(config.args.iter().cloned())
            .args((!config.names_paths()).then_some("."))
            .env("NO_COLOR", "1"))
    }

    fn read(&self, _: &Config, ran: &Ran) -> Result<Reading> {
        let output = &ran.output;
        let parsed = parse(&output.stdout);
        let mut reading = Reading::of(parsed.diags);
        // A failing ESLint prints no report; `broke` says so.
        if let Some(why) = &parsed.unreadable
            && output.success()
            && !output.stdout_truncated
        {
            reading.problems.push(ran.unreadable(
                std::slice::from_ref(why),
                "do not override `--format` in `args`; the rule reads ESLint's JSON report",
            ));
        }
        reading.anchors = parsed.anchors;
        reading.silenced = parsed.suppressed;
        Ok(reading)
    }
}

impl LintTool for Eslint {
    fn reads_stderr(&self) -> bool {
        false
    }

    fn covers(&self) -> &'static [&'static str] {
        &[
            "*.js", "*.jsx", "*.mjs", "*.cjs", "*.ts", "*.tsx", "*.mts", "*.cts",
        ]
    }

    // ESLint exits 2, with no report, when it could not lint.
    fn broke_hint(&self) -> &'static str {
        "make ESLint run: fix what it prints (a missing or broken eslint.config.js, a plugin the config imports that is not installed, paths in `args` that match no file)"
    }

    fn hint(&self, d: &Diag, _: &str) -> String {
        match d.code.as_deref() {
            Some(rule) => format!(
                "fix the code ESLint points at (rule `{rule}`; its plugin's documentation says what it checks)"
            ),
            None => "fix the code ESLint points at".to_owned(),
        }
    }

    fn silenced_by(&self) -> &'static str {
        "`eslint-disable` comments"
    }
}

/// The sources ESLint lints by default, and its settings.
pub const INPUTS: &[&str] = &[
    "**/*.js",
    "**/*.mjs",
    "**/*.cjs",
    "**/*.jsx",
    "**/*.ts",
    "**/*.mts",
    "**/*.cts",
    "**/*.tsx",
    "**/eslint.config.*",
    "**/eslint-suppressions.json",
    "**/package.json",
];

/// What ESLint's stdout said.
#[derive(Debug, Default)]
pub struct Parsed {
    /// One per reported message.
    pub diags: Vec<Diag>,
    /// Every file ESLint reported on (absolute paths), messages or not: all
    /// inside the workspace, so they tell the resolver where its root is.
    pub anchors: Vec<String>,
    /// Messages an inline `eslint-disable` comment silenced.
    pub suppressed: usize,
    /// Why stdout could not be read as ESLint's JSON, when it could not.
    pub unreadable: Option<String>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct FileResult {
    #[serde(rename = "filePath")]
    file_path: String,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default, rename = "suppressedMessages")]
    suppressed_messages: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Message {
    #[serde(default, rename = "ruleId")]
    rule_id: Option<String>,
    #[serde(default)]
    severity: u8,
    #[serde(default)]
    message: String,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    column: Option<u32>,
    #[serde(default)]
    fatal: bool,
    #[serde(default)]
    fix: Option<serde_json::Value>,
    #[serde(default)]
    suggestions: Vec<Suggestion>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Suggestion {
    #[serde(default)]
    desc: Option<String>,
}

/// Parses ESLint's JSON report. Severity 2 (and a file that does not
/// parse) is [`Level::Error`], severity 1 [`Level::Warning`]; severity 0
/// (a rule turned off) is not reported.
pub fn parse(stdout: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let text = stdout.trim();
    if text.is_empty() {
        parsed.unreadable = Some("it printed nothing on stdout".to_owned());
        return parsed;
    }
    let results: Vec<FileResult> = match serde_json::from_str(text) {
        Ok(results) => results,
        Err(e) => {
            parsed.unreadable = Some(format!(
                "its stdout is not ESLint's JSON report ({e}): `{}`",
                clip(text.lines().next().unwrap_or(""), 200)
            ));
            return parsed;
        }
    };
    for result in results {
        parsed.suppressed += result.suppressed_messages.len();
        for m in result.messages {
            if m.severity == 0 && !m.fatal {
                continue;
            }
            parsed.diags.push(diagnostic(&result.file_path, m));
        }
        parsed.anchors.push(result.file_path);
    }
    parsed
}

fn diagnostic(file: &str, m: Message) -> Diag {
    let level = if m.fatal || m.severity >= 2 {
        Level::Error
    } else {
        Level::Warning
    };
    let mut hints: Vec<String> = m
        .suggestions
        .iter()
        .filter_map(|s| s.desc.as_deref())
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect();
    if m.fix.is_some() {
        hints.push("`eslint --fix` can rewrite this one".to_owned());
    }
    match m.rule_id.as_deref() {
        None if m.fatal => hints.push(
            "fix the syntax error; ESLint cannot lint the rest of this file until it parses"
                .to_owned(),
        ),
        // Core rules have no `/`; plugin rules are `plugin/rule`.
        Some(rule) if !rule.contains('/') => hints.push(format!(
            "see https://eslint.org/docs/latest/rules/{rule} for what `{rule}` checks"
        )),
        _ => {}
    }
    let message = match m.rule_id.as_deref() {
        Some(rule) => format!("{} ({rule})", m.message.trim()),
        None => m.message.trim().to_owned(),
    };
    let mut diag = Diag::new(level, message).at(Location::new(file, m.line, m.column));
    if let Some(rule) = m.rule_id {
        diag = diag.code(rule);
    }
    if !hints.is_empty() {
        diag = diag.hint(hints.join("; "));
    }
    diag
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `eslint --format json .` (ESLint 9.39) on a flat
    /// config with inline rules: an error, a warning, a file that does not
    /// parse, a clean file and a silenced message. Trimmed.
    const REPORT: &str = r#"[{"filePath":"/tmp/w/eslint.config.js","messages":[],"suppressedMessages":[],"errorCount":0,"fatalErrorCount":0,"warningCount":0,"fixableErrorCount":0,"fixableWarningCount":0,"usedDeprecatedRules":[]},{"filePath":"/tmp/w/src/a.js","messages":[{"ruleId":"no-unused-vars","severity":2,"message":"'unused' is assigned a value but never used.","line":1,"column":7,"nodeType":"Identifier","messageId":"unusedVar","endLine":1,"endColumn":13,"suggestions":[{"messageId":"removeVar","data":{"varName":"unused"},"fix":{"range":[0,17],"text":""},"desc":"Remove unused variable 'unused'."}]},{"ruleId":"no-console","severity":1,"message":"Unexpected console statement.","line":2,"column":1,"nodeType":"MemberExpression","messageId":"unexpected","endLine":2,"endColumn":12},{"ruleId":"semi","severity":2,"message":"Missing semicolon.","line":4,"column":16,"fix":{"range":[70,70],"text":";"}}],"suppressedMessages":[{"ruleId":"eqeqeq","severity":2,"message":"Expected '===' and instead saw '=='.","line":6,"column":12,"suppressions":[{"kind":"directive","justification":""}]}],"errorCount":2,"fatalErrorCount":0,"warningCount":1,"fixableErrorCount":1,"fixableWarningCount":0,"source":"const unused = 1;\n","usedDeprecatedRules":[]},{"filePath":"/tmp/w/src/bad.js","messages":[{"ruleId":null,"nodeType":null,"fatal":true,"severity":2,"message":"Parsing error: Unexpected token ;","line":1,"column":18}],"suppressedMessages":[],"errorCount":1,"fatalErrorCount":1,"warningCount":0,"fixableErrorCount":0,"fixableWarningCount":0,"usedDeprecatedRules":[]}]"#;

    #[test]
    fn severities_places_rules_and_hints() {
        let parsed = parse(REPORT);
        assert!(parsed.unreadable.is_none());
        let rows: Vec<_> = parsed
            .diags
            .iter()
            .map(|d| {
                let loc = &d.locations[0];
                (
                    loc.path.as_str(),
                    loc.line,
                    loc.column,
                    d.level,
                    d.code.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "/tmp/w/src/a.js",
                    Some(1),
                    Some(7),
                    Level::Error,
                    Some("no-unused-vars")
                ),
                (
                    "/tmp/w/src/a.js",
                    Some(2),
                    Some(1),
                    Level::Warning,
                    Some("no-console")
                ),
                (
                    "/tmp/w/src/a.js",
                    Some(4),
                    Some(16),
                    Level::Error,
                    Some("semi")
                ),
                ("/tmp/w/src/bad.js", Some(1), Some(18), Level::Error, None),
            ]
        );
        assert_eq!(
            parsed.diags[0].message,
            "'unused' is assigned a value but never used. (no-unused-vars)"
        );
        assert_eq!(
            parsed.diags[0].hint.as_deref(),
            Some(
                "Remove unused variable 'unused'.; see https://eslint.org/docs/latest/rules/no-unused-vars for what `no-unused-vars` checks"
            )
        );
        assert!(
            parsed.diags[2]
                .hint
                .as_deref()
                .is_some_and(|h| h.starts_with("`eslint --fix` can rewrite this one")),
            "{:?}",
            parsed.diags[2]
        );
        assert_eq!(parsed.diags[3].message, "Parsing error: Unexpected token ;");
        assert!(
            parsed.diags[3]
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("syntax error"))
        );
        assert_eq!(parsed.suppressed, 1);
        assert_eq!(
            parsed.anchors,
            [
                "/tmp/w/eslint.config.js",
                "/tmp/w/src/a.js",
                "/tmp/w/src/bad.js"
            ]
        );
    }

    #[test]
    fn plugin_rules_have_no_core_link_and_off_rules_are_left_out() {
        let report = r#"[{"filePath":"/w/a.js","messages":[{"ruleId":"react/jsx-key","severity":1,"message":"Missing key.","line":3,"column":5},{"ruleId":"x","severity":0,"message":"off","line":1,"column":1}]}]"#;
        let parsed = parse(report);
        assert_eq!(parsed.diags.len(), 1);
        assert_eq!(parsed.diags[0].code.as_deref(), Some("react/jsx-key"));
        assert_eq!(parsed.diags[0].hint, None);
    }

    #[test]
    fn anything_but_the_json_report_is_unreadable() {
        assert!(parse("").unreadable.is_some());
        let parsed = parse("\nOops! Something went wrong! :(\n");
        assert!(
            parsed
                .unreadable
                .as_deref()
                .is_some_and(|u| u.contains("Oops! Something went wrong")),
            "{parsed:?}"
        );
        assert!(parse("[]").diags.is_empty());
    }
}
