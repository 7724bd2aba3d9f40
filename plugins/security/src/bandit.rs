//! `bandit -r . -f json -q`: Python security issues at file and line, with
//! bandit's test id (B105, B602, …) as the code and its severity mapped
//! through `levels`.

use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json;
use checkrail_sdk::{Command, Context, Finding, Output};

use checkrail_sdk::tool::{WorkspaceDir, clip, plural};

use crate::{Level, Levels, tool};

/// Directories bandit must not descend into (by itself it skips only VCS
/// data and a few caches).
const EXCLUDED: &str =
    "./.git,./.venv,./venv,./node_modules,./target,./__pycache__,./.tox,./.eggs,./.checkrail";

/// Bandit tests whose message quotes the string they flag: the password.
const QUOTING_TESTS: &[&str] = &["B105", "B106", "B107"];

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Report {
    #[serde(default)]
    results: Vec<Issue>,
    #[serde(default)]
    errors: Vec<FileError>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Issue {
    filename: String,
    line_number: u32,
    #[serde(default)]
    col_offset: Option<u32>,
    issue_severity: String,
    #[serde(default)]
    issue_confidence: Option<String>,
    issue_text: String,
    test_id: String,
    #[serde(default)]
    test_name: Option<String>,
    #[serde(default)]
    more_info: Option<String>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct FileError {
    filename: String,
    reason: String,
}

/// What the bandit run found, with a line for the summary.
pub struct Bandit {
    pub findings: Vec<Finding>,
    pub summary: String,
}

/// Runs bandit over `cwd` with `args` appended and judges its report.
pub fn run(cx: &Context, cwd: &WorkspaceDir, args: &[String], levels: &Levels) -> Bandit {
    let command = Command::new("bandit")
        .args(["-r", ".", "-f", "json", "-q", "-x", EXCLUDED])
        .args(args.iter().cloned());
    let did_not_run = |findings: Vec<Finding>| Bandit {
        findings,
        summary: "bandit did not run".to_owned(),
    };
    let ran = match tool::run(cx, "bandit", cwd, command) {
        Ok(ran) => ran,
        Err(findings) => return did_not_run(findings),
    };
    match judge(&ran.output, cwd, levels) {
        Some(bandit) => bandit,
        None => did_not_run(vec![
            ran.failed("a report the rule can read").fix_hint(
                "make `bandit -r . -f json` succeed: install bandit, and do not override `-f` in `bandit_args`",
            ),
        ]),
    }
}

/// The findings in bandit's report; `None` when stdout is not one (or
/// bandit exited with an error code of its own).
fn judge(output: &Output, cwd: &WorkspaceDir, levels: &Levels) -> Option<Bandit> {
    // 0: nothing found; 1: issues found; anything else: bandit broke.
    if !matches!(output.exit_code, Some(0 | 1)) {
        return None;
    }
    let report: Report = serde_json::from_str(output.stdout.trim()).ok()?;
    let mut findings: Vec<Finding> = report
        .results
        .iter()
        .map(|issue| finding(issue, cwd, levels))
        .collect();
    let issues = findings.len();
    for error in &report.errors {
        let path = tool::in_cwd(cwd, &error.filename);
        findings.push(
            Finding::warning(format!(
                "bandit could not check `{path}`: {}",
                clip(&error.reason, 300)
            ))
            .path(path)
            .fix_hint("make the file valid Python so bandit can parse it")
            .code("file-not-scanned"),
        );
    }
    let summary = match issues {
        0 => "bandit: no issues".to_owned(),
        n => format!("bandit: {}", plural(n, "issue")),
    };
    Some(Bandit { findings, summary })
}

fn finding(issue: &Issue, cwd: &WorkspaceDir, levels: &Levels) -> Finding {
    let level = match issue.issue_severity.to_ascii_uppercase().as_str() {
        "HIGH" => Level::High,
        "MEDIUM" => Level::Medium,
        _ => Level::Low,
    };
    let mut text = issue.issue_text.clone();
    if QUOTING_TESTS.contains(&issue.test_id.as_str())
        && let Some(at) = text.find(": '").or_else(|| text.find(": \""))
    {
        text.truncate(at);
        text.push_str(" (value not shown)");
    }
    let confidence = issue
        .issue_confidence
        .as_deref()
        .map(|c| format!(", confidence {}", c.to_ascii_lowercase()))
        .unwrap_or_default();
    let name = issue
        .test_name
        .as_deref()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let message = format!(
        "{} [{}{name}; severity {}{confidence}]",
        clip(&text, 500),
        issue.test_id,
        issue.issue_severity.to_ascii_lowercase()
    );
    let hint = match &issue.more_info {
        Some(url) => format!(
            "fix the code bandit points at (see {url}); if it is a false positive, a `# nosec {}` comment with the reason silences it",
            issue.test_id
        ),
        None => "fix the code bandit points at".to_owned(),
    };
    let mut finding = Finding::new(levels.severity(level), message)
        .path(tool::in_cwd(cwd, &issue.filename))
        .line(issue.line_number)
        .fix_hint(hint)
        .code(&issue.test_id);
    if let Some(col) = issue.col_offset {
        finding = finding.column(col + 1);
    }
    finding
}

#[cfg(test)]
mod tests {
    use checkrail_sdk::Severity;

    use super::*;

    fn output(stdout: &str, code: i32) -> Output {
        Output {
            exit_code: Some(code),
            stdout: stdout.to_owned(),
            ..Output::default()
        }
    }

    const REPORT: &str = r#"{
      "errors": [{"filename": "./broken.py", "reason": "syntax error while parsing AST from file"}],
      "generated_at": "2026-01-01T00:00:00Z",
      "metrics": {},
      "results": [
        {"code": "3 DB_PASSWORD = 'Tr0ub4dor&3xyz'\n", "col_offset": 14, "end_col_offset": 30,
         "filename": "./pkg/settings.py", "issue_confidence": "MEDIUM",
         "issue_cwe": {"id": 259, "link": "https://cwe.mitre.org/data/definitions/259.html"},
         "issue_severity": "LOW", "issue_text": "Possible hardcoded password: 'Tr0ub4dor&3xyz'",
         "line_number": 3, "line_range": [3], "more_info": "https://bandit.readthedocs.io/en/latest/plugins/b105_hardcoded_password_string.html",
         "test_id": "B105", "test_name": "hardcoded_password_string"},
        {"code": "9 subprocess.call(cmd, shell=True)\n", "col_offset": 4, "end_col_offset": 36,
         "filename": "./pkg/run.py", "issue_confidence": "HIGH",
         "issue_severity": "HIGH", "issue_text": "subprocess call with shell=True identified, security issue.",
         "line_number": 9, "line_range": [9], "more_info": "https://bandit.readthedocs.io/en/latest/plugins/b602_subprocess_popen_with_shell_equals_true.html",
         "test_id": "B602", "test_name": "subprocess_popen_with_shell_equals_true"}
      ]
    }"#;

    #[test]
    fn issues_map_to_findings_and_passwords_are_not_quoted() {
        let bandit = judge(
            &output(REPORT, 1),
            &WorkspaceDir::new("svc").unwrap(),
            &Levels::default(),
        )
        .unwrap();
        assert_eq!(bandit.summary, "bandit: 2 issues");
        let f = &bandit.findings;
        assert_eq!(f.len(), 3);
        assert_eq!(
            (
                f[0].path.as_deref(),
                f[0].line,
                f[0].column,
                f[0].code.as_deref()
            ),
            (Some("svc/pkg/settings.py"), Some(3), Some(15), Some("B105"))
        );
        assert_eq!(f[0].severity, Severity::Info);
        assert!(!f[0].message.contains("Tr0ub4dor"), "{}", f[0].message);
        assert!(
            f[0].message
                .starts_with("Possible hardcoded password (value not shown)")
        );
        assert_eq!(f[1].severity, Severity::Error);
        assert_eq!(f[1].code.as_deref(), Some("B602"));
        assert_eq!(
            (f[2].path.as_deref(), f[2].code.as_deref(), f[2].severity),
            (
                Some("svc/broken.py"),
                Some("file-not-scanned"),
                Severity::Warning
            )
        );
    }

    #[test]
    fn a_broken_run_is_not_a_report() {
        assert!(
            judge(
                &output(REPORT, 2),
                &WorkspaceDir::root(),
                &Levels::default()
            )
            .is_none()
        );
        assert!(
            judge(
                &output("Traceback (most recent call last):", 1),
                &WorkspaceDir::root(),
                &Levels::default()
            )
            .is_none()
        );
    }
}
