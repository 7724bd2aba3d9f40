//! `security`: no credentials in the workspace, no dependency with a known
//! vulnerability, no Python security issue bandit can see.
//!
//! Three modes, each reported in the one outcome:
//!
//! - **secrets** (on by default) reads the files under `cwd` inside the
//!   sandbox, with no program run, and reports known credential formats,
//!   private key blocks, hard-coded assignments to secret-like names and
//!   random-looking strings next to such names. A finding names the kind of
//!   secret, its place and a fingerprint of it, never the secret.
//! - **audit** runs the granted dependency auditors (`cargo audit` against a
//!   local advisory database, `pip-audit`, `npm audit`) and reports each
//!   advisory at the lock file line where the package is pinned.
//! - **bandit** runs `bandit` over the Python code.

mod allow;
mod audit;
mod bandit;
mod detect;
mod secrets;
mod tool;

use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::tool::{WorkspaceDir, plural};
use checkrail_sdk::{
    Context, Error, Finding, Outcome, Result, Rule, Severity, export_rule, normalize_path,
};

pub use audit::Auditor;

/// What to check and how strictly.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Workspace-relative directory to check (default: the workspace root).
    /// The secret scan reads the files under it; the auditors and bandit run
    /// in it. Findings are reported relative to the workspace root.
    #[serde(default)]
    pub cwd: WorkspaceDir,
    /// Scan the files for secrets (default `true`). No program runs: the
    /// rule reads the files itself, skipping `.git`, `target`,
    /// `node_modules`, `.venv`, `venv`, `__pycache__` and tool caches,
    /// symlinks, binary files (with a NUL byte) and files over
    /// `max_file_bytes`.
    #[serde(default = "yes")]
    pub secrets: bool,
    /// Largest file scanned for secrets, in bytes (default 1 MiB); larger
    /// ones are listed in an info finding.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// Most files scanned for secrets (default 20000); past it the check
    /// fails with `too-many-files`.
    #[serde(default = "default_max_files")]
    pub max_files: usize,
    /// Workspace-relative allow-list for the secret scan (default
    /// `.checkrail/secrets-allow`). One entry a line, `#` comments:
    /// `sha256:<16 hex digits>` (the fingerprint a finding printed) allows
    /// that secret anywhere, `path:line` allows what is on that line, and a
    /// path or glob (`tests/fixtures/**`) allows every file it names. A
    /// `checkrail:allow-secret` comment allows the secrets on its line and
    /// the next one.
    #[serde(default = "default_allow_file")]
    pub allow_file: String,
    /// Dependency auditors to run (default none): `cargo` (`cargo audit
    /// --json --no-fetch --stale` on `Cargo.lock`; needs cargo-audit and the
    /// `cargo` grant), `pip` (`pip-audit -f json --disable-pip --no-deps -r
    /// <requirements>`; needs the `pip-audit` grant and access to its
    /// vulnerability service), `npm` (`npm audit --json
    /// --package-lock-only`; needs the `npm` grant and the registry).
    #[serde(default)]
    pub audit: Vec<Auditor>,
    /// `cargo audit`'s advisory database: a workspace-relative directory or
    /// an absolute path on the host (default: cargo-audit's own,
    /// `~/.cargo/advisory-db`). It is never fetched.
    #[serde(default)]
    pub advisory_db: Option<String>,
    /// The pinned requirements file pip-audit reads, relative to `cwd`
    /// (default `requirements.txt`). Every requirement must be pinned with
    /// `==`.
    #[serde(default = "default_requirements")]
    pub requirements: String,
    /// Run `bandit -r . -f json -q` in `cwd` (default `false`; needs the
    /// `bandit` grant).
    #[serde(default)]
    pub bandit: bool,
    /// Extra arguments for bandit, e.g. `["-c", "pyproject.toml"]` or
    /// `["--confidence-level", "medium"]`.
    #[serde(default)]
    pub bandit_args: Vec<String>,
    /// Finding severity for each level of bandit issues and npm advisories
    /// (`high` covers npm's `critical`; `low` covers `info`). cargo and pip
    /// advisories carry no level and count as `high`. Default: `high:
    /// error`, `medium: warning`, `low: info`.
    #[serde(default)]
    pub levels: Levels,
    /// Report an auditor or bandit that cannot run here (its lock file is
    /// missing, or its program is not granted or not installed) as an info
    /// finding instead of a blocking one (default `false`). For workflows
    /// meant for any project: the tools that can run, run and block.
    #[serde(default)]
    pub skip_unavailable: bool,
    /// Workspace globs whose contents decide the result, replacing the
    /// default (everything under `cwd` for the secret scan and bandit;
    /// nothing, so never cached, when `audit` is set, since advisories
    /// change outside the workspace).
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

fn default_max_file_bytes() -> u64 {
    1024 * 1024
}

fn default_max_files() -> usize {
    20_000
}

fn default_allow_file() -> String {
    DEFAULT_ALLOW_FILE.to_owned()
}

fn default_requirements() -> String {
    "requirements.txt".to_owned()
}

const DEFAULT_ALLOW_FILE: &str = ".checkrail/secrets-allow";

/// How serious a tool says an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// bandit HIGH; npm critical or high; every cargo and pip advisory.
    High,
    /// bandit MEDIUM; npm moderate.
    Medium,
    /// bandit LOW; npm low or info.
    Low,
}

/// The finding severity of each [`Level`].
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Levels {
    /// Default `error`.
    #[serde(default = "error")]
    pub high: Severity,
    /// Default `warning`.
    #[serde(default = "warning")]
    pub medium: Severity,
    /// Default `info`.
    #[serde(default = "info")]
    pub low: Severity,
}

fn error() -> Severity {
    Severity::Error
}

fn warning() -> Severity {
    Severity::Warning
}

fn info() -> Severity {
    Severity::Info
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            high: Severity::Error,
            medium: Severity::Warning,
            low: Severity::Info,
        }
    }
}

impl Levels {
    fn severity(&self, level: Level) -> Severity {
        match level {
            Level::High => self.high,
            Level::Medium => self.medium,
            Level::Low => self.low,
        }
    }
}

/// Most findings listed one by one; the rest are counted.
const MAX_REPORTED: usize = 200;

/// The rule.
pub struct Security;

impl Rule for Security {
    type Config = Config;
    const ID: &'static str = "security";
    const DESCRIPTION: &'static str = "No credentials in the workspace's files, no dependency with a known vulnerability (cargo audit, pip-audit, npm audit) and no blocking bandit issue.";
    const CAPABILITIES: &'static [&'static str] =
        &["exec:cargo", "exec:pip-audit", "exec:npm", "exec:bandit"];
    const JUDGING_FILES: &'static [&'static str] = &[
        DEFAULT_ALLOW_FILE,
        ".bandit",
        "pyproject.toml",
        ".cargo/audit.toml",
    ];

    fn check(config: Config, cx: &Context) -> Result<Outcome> {
        let cwd = &config.cwd;
        let allow_file = checked_path(&config.allow_file, "allow_file")?;
        let mut findings = Vec::new();
        let mut parts = Vec::new();
        if config.secrets {
            let report = secrets::scan(
                cx.workspace(),
                &secrets::Scan {
                    cwd: cwd.as_str(),
                    max_file_bytes: config.max_file_bytes,
                    max_files: config.max_files,
                    allow_file: &allow_file,
                },
            )?;
            parts.push(report.summary());
            findings.extend(report.findings);
        }
        let mut seen = Vec::new();
        for &auditor in &config.audit {
            if seen.contains(&auditor) {
                continue;
            }
            seen.push(auditor);
            let audit = audit::run(
                cx,
                auditor,
                &audit::Settings {
                    cwd,
                    advisory_db: config.advisory_db.as_deref(),
                    requirements: &config.requirements,
                    levels: &config.levels,
                },
            );
            parts.push(audit.summary);
            findings.extend(unavailable(audit.findings, config.skip_unavailable));
        }
        if config.bandit {
            let bandit = bandit::run(cx, cwd, &config.bandit_args, &config.levels);
            parts.push(bandit.summary);
            findings.extend(unavailable(bandit.findings, config.skip_unavailable));
        }
        if parts.is_empty() {
            return Err(Error::new(
                "accept the config of rule `security`: every mode is off; keep `secrets: true`, or set `audit` or `bandit: true`",
            ));
        }
        let hidden = findings.len().saturating_sub(MAX_REPORTED);
        if hidden > 0 {
            findings.sort_by_key(|f| f.severity != Severity::Error);
            findings.truncate(MAX_REPORTED);
            findings.push(Finding::info(format!(
                "{} not listed; fix these and run the check again",
                plural(hidden, "more finding")
            )));
        }
        let outcome = Outcome::from_findings(findings);
        let summary = format!("{}; {}", outcome.summary, parts.join("; "));
        Ok(outcome.with_summary(summary))
    }

    fn inputs(config: &Config) -> Vec<String> {
        if let Some(inputs) = &config.inputs {
            return inputs.clone();
        }
        if !config.audit.is_empty() {
            return Vec::new();
        }
        config.cwd.join("**").into_iter().collect()
    }
}

/// Codes of the findings that say a tool cannot run in this workspace.
const UNAVAILABLE: &[&str] = &["lockfile-missing", "exec-not-granted", "tool-not-found"];

/// `findings`, with those that say a tool cannot run here made info when
/// `skip` is set.
fn unavailable(findings: Vec<Finding>, skip: bool) -> Vec<Finding> {
    findings
        .into_iter()
        .map(|mut f| {
            if skip && f.code.as_deref().is_some_and(|c| UNAVAILABLE.contains(&c)) {
                f.severity = Severity::Info;
                f.message = format!("skipped: {}", f.message);
            }
            f
        })
        .collect()
}

/// `path` normalized, or the config error naming `field`.
fn checked_path(path: &str, field: &str) -> Result<String> {
    normalize_path(path).map_err(|_| {
        Error::new(format!(
            "accept the config of rule `security`: `{field}` `{path}` leads outside the workspace; give a workspace-relative path"
        ))
    })
}

export_rule!(Security);

#[cfg(test)]
mod tests;
