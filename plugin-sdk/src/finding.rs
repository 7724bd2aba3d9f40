//! What a rule reports: findings and the outcome that carries them.

use serde::{Deserialize, Serialize};

/// How serious a [`Finding`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks the checkpoint.
    Error,
    /// Reported, but does not block on its own.
    Warning,
    /// Purely informative.
    Info,
}

impl Severity {
    /// Its name, as serialized: `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One thing a rule found: what is wrong, where, and how to fix it.
///
/// Build one with [`Finding::error`], [`Finding::warning`] or
/// [`Finding::info`] and chain the optional parts:
///
/// ```
/// use checkrail_sdk::Finding;
///
/// let finding = Finding::error("`README.md` does not exist")
///     .path("README.md")
///     .fix_hint("create `README.md` describing the project")
///     .code("missing-path");
/// assert_eq!(finding.path.as_deref(), Some("README.md"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Workspace-relative path the finding is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based line in `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column in `line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// What to do to fix it; the agent reads this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_hint: Option<String>,
    /// A short stable code for the kind of finding, e.g. `missing-path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Finding {
    /// A finding of any severity.
    pub fn new(severity: Severity, message: impl Into<String>) -> Self {
        Self {
            severity,
            message: message.into(),
            path: None,
            line: None,
            column: None,
            fix_hint: None,
            code: None,
        }
    }

    /// A finding that blocks the checkpoint.
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Severity::Error, message)
    }

    /// A finding that is reported but does not block.
    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, message)
    }

    /// An informative finding.
    pub fn info(message: impl Into<String>) -> Self {
        Self::new(Severity::Info, message)
    }

    /// Sets the workspace-relative path.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets the 1-based line.
    pub fn line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }

    /// Sets the 1-based column.
    pub fn column(mut self, column: u32) -> Self {
        self.column = Some(column);
        self
    }

    /// Sets the hint telling the agent how to fix it.
    pub fn fix_hint(mut self, hint: impl Into<String>) -> Self {
        self.fix_hint = Some(hint.into());
        self
    }

    /// Sets the stable code for this kind of finding.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

/// The result of one check: passed or not, a one-line summary, and findings.
///
/// ```
/// use checkrail_sdk::{Finding, Outcome};
///
/// let ok = Outcome::from_findings(vec![Finding::warning("style nit")]);
/// assert!(ok.passed, "warnings alone do not fail a check");
///
/// let failed = Outcome::from_findings(vec![Finding::error("missing file")]);
/// assert!(!failed.passed);
/// assert_eq!(failed.summary, "1 error");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// Whether the check passed.
    pub passed: bool,
    /// One line for humans.
    pub summary: String,
    /// Everything the rule found, in the order found.
    pub findings: Vec<Finding>,
    /// Facts (JSON text) the rule wants recorded with this phase of the
    /// session; the host hands them back at later phases through
    /// [`Context::baselines`](crate::Context::baselines). Set them with
    /// [`Outcome::with_facts`]; the host refuses an outcome whose facts are
    /// not JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<String>,
}

impl Outcome {
    /// A passing outcome with no findings.
    pub fn pass(summary: impl Into<String>) -> Self {
        Self {
            passed: true,
            summary: summary.into(),
            findings: Vec::new(),
            facts: None,
        }
    }

    /// A failing outcome with no findings yet; add some with [`Outcome::finding`].
    pub fn fail(summary: impl Into<String>) -> Self {
        Self {
            passed: false,
            summary: summary.into(),
            findings: Vec::new(),
            facts: None,
        }
    }

    /// Passes unless a finding is an [`Severity::Error`]; the summary counts
    /// errors and warnings.
    pub fn from_findings(findings: Vec<Finding>) -> Self {
        let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
        let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let summary = match (errors, warnings) {
            (0, 0) => "no problems found".to_owned(),
            (0, w) => plural(w, "warning"),
            (e, 0) => plural(e, "error"),
            (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
        };
        Self {
            passed: errors == 0,
            summary,
            findings,
            facts: None,
        }
    }

    /// Replaces the summary.
    pub fn with_summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    /// Adds a finding; an error finding makes the outcome fail.
    pub fn finding(mut self, finding: Finding) -> Self {
        if finding.severity == Severity::Error {
            self.passed = false;
        }
        self.findings.push(finding);
        self
    }

    /// Records `facts` with this phase, for the same rule to compare against
    /// at a later phase of the session (see
    /// [`Context::baseline`](crate::Context::baseline)). Keep them small and
    /// about what the rule judged: which tests ran and how they ended, a hash
    /// of each test's source, the lint suppressions in force.
    ///
    /// ```
    /// use checkrail_sdk::Outcome;
    /// use serde_json::json;
    ///
    /// let outcome = Outcome::pass("2 tests passed")
    ///     .with_facts(json!({"tests": {"parses_dates": "passed", "rejects_junk": "passed"}}));
    /// assert_eq!(outcome.facts_value().unwrap()["tests"]["rejects_junk"], "passed");
    /// ```
    pub fn with_facts(mut self, facts: serde_json::Value) -> Self {
        self.facts = Some(facts.to_string());
        self
    }

    /// The recorded facts, parsed; `None` when there are none or when
    /// [`Outcome::facts`] was set by hand to text that is not JSON.
    pub fn facts_value(&self) -> Option<serde_json::Value> {
        self.facts
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
    }

    /// Findings of the given severity.
    pub fn findings_of(&self, severity: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.severity == severity)
    }
}
