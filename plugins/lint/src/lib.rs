//! `lint`: runs a linter (clippy, ruff, go vet, mypy, ESLint, or a custom
//! command) in the
//! workspace and reports each of its diagnostics as a finding at the file,
//! line and column it names, with the lint's name as the finding's code and
//! the linter's suggestion as the fix hint.
//!
//! Levels: every diagnostic has a level, `error` or `warning` (see
//! [`Level`]). A diagnostic whose level is in `block_levels` is a blocking
//! finding (severity error); the others are non-blocking (severity warning)
//! and only fail the check when there are more of them than `max_warnings`.
//! Whatever the config, the check never passes when the linter did not run
//! or failed without saying why.
//!
//! Every run also records, as facts for later phases of the session, the
//! lint suppressions (`#[allow(...)]`, `# noqa`, `eslint-disable`, …) in the
//! files the linter covers; `no_new_suppressions_since` fails on each one
//! added since an earlier phase.

mod clippy;
mod custom;
mod eslint;
mod govet;
mod mypy;
mod ruff;
mod suppressions;

use std::collections::HashMap;

use checkrail_sdk::detect::{self, Project};
use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json;
use checkrail_sdk::tool::{
    self, CustomCommand, Diag, Judged, Ran, Tool, Toolchain, WorkspaceDir, clip, plural,
};
use checkrail_sdk::{
    Context, Error, Finding, Outcome, Result, Rule, Severity, export_rule, tool_paths,
};

/// Which linter to run and what blocks.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The linter: `clippy` runs `cargo clippy --message-format=json
    /// --color=never`; `ruff` runs `ruff check --output-format=json-lines
    /// --no-cache --exit-zero`; `eslint` runs `eslint --format json
    /// --ignore-pattern '**/.checkrail/' .`; `custom` runs `command` and
    /// reads its `file:line:col: [CODE] message` lines.
    pub linter: Linter,
    /// Workspace-relative directory to run the linter in (default: the
    /// workspace root). Paths the linter prints are still reported relative
    /// to the workspace root.
    #[serde(default)]
    pub cwd: WorkspaceDir,
    /// Extra arguments appended to the linter's command line, e.g.
    /// `["--all-targets", "--", "-W", "clippy::pedantic"]` for clippy,
    /// `["--select", "E,F", "src"]` for ruff (ruff lints the working directory
    /// unless these name paths), `["src", "test"]` for eslint (in place of
    /// `.`), or appended after `command.args` for custom.
    #[serde(default)]
    pub args: Vec<String>,
    /// Workspace globs whose contents decide the result, replacing the
    /// default (clippy: `**/*.rs`, `**/Cargo.toml`, `Cargo.lock`,
    /// `clippy.toml`, `.clippy.toml`, `rust-toolchain(.toml)`,
    /// `.cargo/config.toml`; ruff: `**/*.py`, `**/*.pyi`,
    /// `**/pyproject.toml`, `**/ruff.toml`, `**/.ruff.toml`; eslint: the
    /// JavaScript and TypeScript sources, `eslint.config.*`,
    /// `eslint-suppressions.json` and `package.json` files; custom: none,
    /// so a custom check is never reused from cache unless this is set).
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
    /// Most non-blocking findings (diagnostics whose level is not in
    /// `block_levels`) allowed; with more, the check fails with a finding
    /// giving the count and the limit. Default: unlimited. `0` makes any
    /// warning fail the check.
    #[serde(default)]
    pub max_warnings: Option<u32>,
    /// Levels whose diagnostics block (become error findings). Default
    /// `["error"]`: for clippy that is compile errors and lints at `deny` or
    /// `forbid` level; for ruff, syntax errors and codes matched by
    /// `error_codes`; for eslint, severity 2 (`"error"` in its config) and
    /// files that do not parse; for custom, lines that say `error`. `["error",
    /// "warning"]` makes every diagnostic block.
    #[serde(default)]
    pub block_levels: Option<Vec<Level>>,
    /// ruff only: rule codes or prefixes (ruff selector syntax: `F401`, `F`,
    /// `E7`, or `ALL`) whose violations are level `error`. Every other ruff
    /// violation is level `warning`; syntax errors are always `error`.
    #[serde(default)]
    pub error_codes: Option<Vec<String>>,
    /// custom only (and required there): the program to run. Each output
    /// line (stdout, then stderr) shaped `file:line:col: CODE message`,
    /// `file:line:col: message` or `file:line: message` becomes a finding,
    /// level `error` when the message starts with `error:` (gcc/mypy style,
    /// also after the code) and `warning` otherwise; a trailing `[code]`
    /// is taken as the code. The workspace must grant the program.
    #[serde(default)]
    pub command: Option<CustomCommand>,
    /// Id of an earlier phase of the session to compare with (e.g. `red`).
    /// Every run records the lint suppressions in the files the linter
    /// covers under `cwd` (clippy: `*.rs`; ruff: `*.py`, `*.pyi`; eslint:
    /// JavaScript and TypeScript files; custom:
    /// Rust, Python, JavaScript and TypeScript files; never inside
    /// `target`, `.git`, `node_modules` or `.venv`), counted per file and
    /// text, not per line: Rust `#[allow(...)]`, `#![allow(...)]` and
    /// `#[expect(...)]` (one per lint named); Python `# noqa` (with or
    /// without codes), `# ruff: noqa`, `# type: ignore`, `# pylint:
    /// disable=...`; JS/TS `eslint-disable`, `eslint-disable-line`,
    /// `eslint-disable-next-line`, inline configs that turn a rule off or
    /// to a warning (`/* eslint no-console: "off" */`), `@ts-ignore`,
    /// `@ts-expect-error`, `@ts-nocheck`. With this set, each suppression beyond the count its
    /// file had at that phase is a blocking finding (`new-suppression`) at
    /// its file and line: fix the lint instead of silencing it. When the
    /// session recorded nothing for this rule at that phase (or the check
    /// runs outside a session), the check fails with `no-baseline`.
    #[serde(default)]
    pub no_new_suppressions_since: Option<String>,
}

/// The linter to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Linter {
    /// Rust: `cargo clippy` (needs the `cargo` grant).
    Clippy,
    /// Python: `ruff check` (needs the `ruff` grant).
    Ruff,
    /// Go: `go vet ./...` (needs the `go` grant); each report blocks.
    Govet,
    /// Python type checking: `mypy .` (or the paths in `args`; needs the
    /// `mypy` grant). Its errors block; notes are information.
    Mypy,
    /// JavaScript and TypeScript: `eslint --format json .` with the
    /// project's own flat config (needs the `eslint` grant). Severity 2 is
    /// level `error`, 1 is `warning`; the rule id is the code.
    Eslint,
    /// Any program printing `file:line:col: message` lines (needs its grant).
    Custom,
    /// Told by the workspace: `Cargo.toml` → clippy, a Python project or
    /// Python sources → ruff, `go.mod` → go vet, a JavaScript or TypeScript
    /// package with an `eslint.config.*` → eslint. The report says what was
    /// found.
    Auto,
}

/// Level of a diagnostic, as the linter reported it (see `block_levels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// clippy/rustc `error` (compile errors and `deny`/`forbid` lints); ruff
    /// syntax errors and codes listed in `error_codes`; ESLint severity 2
    /// and files that do not parse; custom lines that say `error`.
    Error,
    /// Everything else: clippy/rustc `warning` (and top-level notes), every
    /// other ruff violation, ESLint severity 1, every other custom line.
    Warning,
}

impl From<tool::Level> for Level {
    fn from(level: tool::Level) -> Self {
        match level {
            tool::Level::Error => Level::Error,
            tool::Level::Warning | tool::Level::Info => Level::Warning,
        }
    }
}

/// What the rule needs of a linter beyond running it and reading it.
pub(crate) trait LintTool: Toolchain<Config> {
    /// The levels that block when `block_levels` is not set.
    fn blocks(&self) -> &'static [Level] {
        &[Level::Error]
    }

    /// Whether what it prints on stderr is read (so a cut stderr matters).
    fn reads_stderr(&self) -> bool {
        true
    }

    /// File name globs of the files it covers, where suppressions are
    /// counted.
    fn covers(&self) -> &'static [&'static str];

    /// With a failing exit, `blocking` blocking findings and `no_diags`
    /// when it reported nothing: what the failure lacks when the linter
    /// itself broke, `None` when its findings explain the exit. By
    /// default a linter broke when it exits non-zero with nothing to show,
    /// since linters exit non-zero when they find anything at all.
    fn broke(&self, blocking: usize, no_diags: bool) -> Option<&'static str> {
        let _ = blocking;
        no_diags.then_some(POINT_AT)
    }

    /// The fix hint when it broke.
    fn broke_hint(&self) -> &'static str;

    /// The message of a diagnostic's finding.
    fn message(&self, d: &Diag) -> String {
        d.message.clone()
    }

    /// The fix hint of a diagnostic it gave none for; `label` names the
    /// linter.
    fn hint(&self, d: &Diag, label: &str) -> String;

    /// How the summary names it.
    fn named(&self, label: &str) -> String {
        label.to_owned()
    }

    /// What silenced the diagnostics it reports as silenced.
    fn silenced_by(&self) -> &'static str {
        "suppression comments"
    }
}

/// What a broken linter's failure lacks.
const POINT_AT: &str = "reporting a problem it could point at";

/// The linter `linter` names; `None` for `auto`, which is resolved first.
fn toolchain(linter: Linter) -> Option<&'static dyn LintTool> {
    Some(match linter {
        Linter::Clippy => &clippy::Clippy,
        Linter::Ruff => &ruff::Ruff,
        Linter::Govet => &govet::Govet,
        Linter::Mypy => &mypy::Mypy,
        Linter::Eslint => &eslint::Eslint,
        Linter::Custom => &custom::Custom,
        Linter::Auto => return None,
    })
}

impl Config {
    /// Whether `args` name paths or packages, which replace the default
    /// ones.
    fn names_paths(&self) -> bool {
        self.args.iter().any(|a| !a.starts_with('-'))
    }
}

/// Most lint findings reported one by one; the rest are counted.
const MAX_REPORTED: usize = 200;

/// The rule.
pub struct Lint;

impl Rule for Lint {
    type Config = Config;
    const ID: &'static str = "lint";
    const DESCRIPTION: &'static str = "A linter (clippy, ruff, go vet, mypy, ESLint, or a custom command) reports no blocking problem and at most `max_warnings` others.";
    const CAPABILITIES: &'static [&'static str] = &[
        "exec:cargo",
        "exec:ruff",
        "exec:go",
        "exec:mypy",
        "exec:eslint",
        "exec:*",
    ];
    const JUDGING_FILES: &'static [&'static str] = &[
        // cargo
        ".cargo/config",
        ".cargo/config.toml",
        "rust-toolchain",
        "rust-toolchain.toml",
        // clippy
        "clippy.toml",
        ".clippy.toml",
        // ruff
        "ruff.toml",
        ".ruff.toml",
        "pyproject.toml",
        // eslint: its flat config and bulk suppressions, in any package
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
    ];

    fn check(config: Config, cx: &Context) -> Result<Outcome> {
        let (config, detected) = resolve(config, cx)?;
        validate(&config)?;
        let tool = toolchain(config.linter)
            .ok_or_else(|| Error::new("`linter: auto` was not resolved"))?;
        let found = suppressions::scan(cx.workspace(), config.cwd.as_str(), tool.covers());
        let new = match config.no_new_suppressions_since.as_deref() {
            None => Vec::new(),
            Some(phase) => match cx.baseline(phase).map(suppressions::Facts::deserialize) {
                Some(Ok(then)) => suppressions::new_since(phase, &then, &found),
                Some(Err(_)) => vec![suppressions::no_baseline(phase, true)],
                None => vec![suppressions::no_baseline(phase, false)],
            },
        };
        let mut outcome = run_linter(tool, &config, cx)?;
        let added = new
            .iter()
            .filter(|f| f.code.as_deref() == Some("new-suppression"))
            .count();
        if added > 0 {
            outcome
                .summary
                .push_str(&format!("; {}", plural(added, "new lint suppression")));
        }
        let outcome = new
            .into_iter()
            .chain(detected)
            .fold(outcome, Outcome::finding);
        Ok(outcome.with_facts(serde_json::json!({
            "suppressions": suppressions::counts(&found),
        })))
    }

    fn inputs(config: &Config) -> Vec<String> {
        if let Some(inputs) = &config.inputs {
            return inputs.clone();
        }
        match toolchain(config.linter) {
            Some(tool) => tool.inputs(config),
            // Whatever the workspace turns out to be.
            None => vec!["**".to_owned()],
        }
    }
}

/// Runs the linter and judges its diagnostics.
fn run_linter(linter: &dyn LintTool, config: &Config, cx: &Context) -> Result<Outcome> {
    let command = linter.command(config)?;
    let label = linter.label(config);
    let tool = Tool::new(&label, &config.cwd)
        .again("run the check again")
        .slow_hint("make the lint faster (narrow it with `args` or `cwd`) or raise `timeout_ms` under `[exec]` in checkrail.toml");
    let ran = match tool.run(cx, command) {
        Ok(ran) => ran,
        Err(refused) => return Ok(refused),
    };

    let block: Vec<Level> = config
        .block_levels
        .clone()
        .unwrap_or_else(|| linter.blocks().to_vec());
    let reading = linter.read(config, &ran)?;
    let mut problems = reading.problems;
    // clippy reports a lint once per target.
    let diags = tool::dedup(reading.diags);

    let anchor_refs: Vec<&str> = reading.anchors.iter().map(String::as_str).collect();
    let paths = tool_paths::resolve_with_root(
        cx.workspace(),
        Some(config.cwd.as_str()),
        &Diag::printed_paths(&diags),
        &anchor_refs,
    );
    let mut findings: Vec<Finding> = diags
        .iter()
        .map(|d| to_finding(linter, d, &block, &paths, &label))
        .collect();
    let blocking = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - blocking;

    if let Some(max) = config.max_warnings
        && warnings > max as usize
    {
        problems.push(
            Finding::error(format!(
                "{label} reported {} but `max_warnings` allows at most {max}",
                plural(warnings, "non-blocking finding")
            ))
            .fix_hint(format!(
                "fix at least {} of the warnings listed",
                warnings - max as usize
            ))
            .code("too-many-warnings"),
        );
    }

    problems.extend(ran.problems(Judged {
        // Cut output means missing findings: never a pass.
        truncated: Some(Severity::Error),
        reads_stderr: linter.reads_stderr(),
        explained: true,
        ..Judged::default()
    }));
    if let Some(failed) = failed(linter, &ran, blocking, diags.is_empty()) {
        problems.push(failed);
    }

    // Keep the agent's list readable.
    let hidden = findings.len().saturating_sub(MAX_REPORTED);
    if hidden > 0 {
        findings.sort_by_key(|f| f.severity != Severity::Error);
        findings.truncate(MAX_REPORTED);
    }
    let extra_errors = problems
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    findings.extend(problems);
    if hidden > 0 {
        findings.push(Finding::info(format!(
            "{} not listed; fix these and run the check again",
            plural(hidden, "more finding")
        )));
    }
    let mut summary = summary(&linter.named(&label), blocking + extra_errors, warnings);
    if reading.silenced > 0 {
        summary.push_str(&format!(
            " ({} by {})",
            plural(reading.silenced, "more silenced"),
            linter.silenced_by()
        ));
    }
    Ok(Outcome::from_findings(findings).with_summary(summary))
}

/// `tool-failed` when the linter says it failed and its findings do not
/// explain it: it never passes then.
fn failed(linter: &dyn LintTool, ran: &Ran, blocking: usize, no_diags: bool) -> Option<Finding> {
    let output = &ran.output;
    if output.success() || output.exit_code.is_none() {
        return None;
    }
    let what = linter.broke(blocking, no_diags)?;
    Some(ran.failed(what).fix_hint(linter.broke_hint()))
}

/// With `linter: auto`, the linter the workspace calls for, and an
/// information finding saying what was found.
fn resolve(mut config: Config, cx: &Context) -> Result<(Config, Option<Finding>)> {
    if config.linter != Linter::Auto {
        return Ok((config, None));
    }
    let ws = cx.workspace();
    let dir = config.cwd.as_str();
    // A JavaScript or TypeScript package is linted by ESLint when it has an
    // ESLint config, and by nothing checkrail can guess otherwise.
    if let Some(found) = detect::project(ws, dir)?
        && matches!(found.project, Project::JavaScript | Project::TypeScript)
    {
        let Some(eslint_config) = detect::js::eslint_config(ws, dir) else {
            return Err(Error::new(format!(
                "`linter: auto` {}, a {} project, but no ESLint config (eslint.config.js, .mjs, .cjs, .ts, .mts or .cts) in `{dir}`: add one to lint with ESLint, or set `linter` explicitly",
                found.because, found.project
            )));
        };
        config.linter = Linter::Eslint;
        let note = Finding::info(format!(
            "linter: auto → eslint (found {eslint_config}, a {} project)",
            found.project
        ))
        .code("detected");
        return Ok((config, Some(note)));
    }
    let (linter, note) = detect::choose(
        ws,
        Some(dir),
        "linter",
        "use `linter: custom` with a command that prints `file:line:col: message` lines",
        |project| match project {
            Project::Rust => Some((Linter::Clippy, "clippy")),
            Project::Python => Some((Linter::Ruff, "ruff")),
            Project::Go => Some((Linter::Govet, "go vet")),
            _ => None,
        },
    )?;
    config.linter = linter;
    Ok((config, Some(note)))
}

/// `anywhere` and `rooted` globs, and `rooted` under `cwd` too: files
/// anchored at the root matter in the working directory as well.
fn globs(config: &Config, anywhere: &[&str], rooted: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = anywhere.iter().map(|s| (*s).to_owned()).collect();
    out.extend(rooted.iter().map(|s| (*s).to_owned()));
    if !config.cwd.is_root() {
        out.extend(rooted.iter().filter_map(|s| config.cwd.join(s)));
    }
    out
}

fn validate(config: &Config) -> Result<()> {
    let invalid = |m: &str| Err(Error::new(format!("accept the config of rule `lint`: {m}")));
    match (config.linter, &config.command) {
        (Linter::Custom, None) => {
            return invalid(
                "`linter: custom` needs `command: {program, args}` naming the program to run",
            );
        }
        (
            Linter::Clippy | Linter::Ruff | Linter::Govet | Linter::Mypy | Linter::Eslint,
            Some(_),
        ) => {
            return invalid(
                "`command` is only for `linter: custom`; use `args` to add arguments to clippy, ruff, go vet, mypy or eslint",
            );
        }
        _ => {}
    }
    if config.error_codes.is_some() && config.linter != Linter::Ruff {
        return invalid(
            "`error_codes` is only for `linter: ruff`; use `block_levels` for the other linters",
        );
    }
    Ok(())
}

fn to_finding(
    linter: &dyn LintTool,
    d: &Diag,
    block: &[Level],
    paths: &HashMap<String, String>,
    label: &str,
) -> Finding {
    let level = Level::from(d.level);
    let severity = if block.contains(&level) {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mut d = d.clone();
    d.message = linter.message(&d);
    if severity == Severity::Error && level == Level::Warning {
        d.message = format!(
            "{} (a warning; blocks because `block_levels` includes `warning`)",
            d.message
        );
    }
    d.message = clip(&d.message, 1_000);
    let mut finding = d.to_finding(severity, paths);
    if finding.fix_hint.is_none() {
        finding = finding.fix_hint(linter.hint(&d, label));
    }
    finding
}

fn summary(tool: &str, errors: usize, warnings: usize) -> String {
    match (errors, warnings) {
        (0, 0) => format!("{tool}: no problems found"),
        (0, w) => format!("{tool}: {}", plural(w, "warning")),
        (e, 0) => format!("{tool}: {}", plural(e, "error")),
        (e, w) => format!("{tool}: {}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

export_rule!(Lint);

#[cfg(test)]
mod tests;
