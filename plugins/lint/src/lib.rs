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

mod custom;
mod eslint;
mod ruff;
mod suppressions;

use std::collections::HashMap;

use checkrail_sdk::detect::{self, Project};
use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json;
use checkrail_sdk::tool::{
    self, CustomCommand, Diag, Judged, Ran, Tool, WorkspaceDir, clip, plural, rustc,
};
use checkrail_sdk::{
    Command, Context, Error, Finding, Outcome, Result, Rule, Severity, export_rule, tool_paths,
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
        let found = suppressions::scan(cx.workspace(), config.cwd.as_str(), config.linter);
        let new = match config.no_new_suppressions_since.as_deref() {
            None => Vec::new(),
            Some(phase) => match cx.baseline(phase).map(suppressions::Facts::deserialize) {
                Some(Ok(then)) => suppressions::new_since(phase, &then, &found),
                Some(Err(_)) => vec![suppressions::no_baseline(phase, true)],
                None => vec![suppressions::no_baseline(phase, false)],
            },
        };
        let mut outcome = run_linter(config, cx)?;
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
        inputs(config)
    }
}

/// Runs the linter and judges its diagnostics.
fn run_linter(config: Config, cx: &Context) -> Result<Outcome> {
    let command = command(&config)?;
    let label = match config.linter {
        Linter::Clippy => "cargo clippy".to_owned(),
        Linter::Ruff => "ruff".to_owned(),
        Linter::Govet => "go vet".to_owned(),
        Linter::Mypy => "mypy".to_owned(),
        Linter::Eslint => "eslint".to_owned(),
        Linter::Custom | Linter::Auto => command.program.clone(),
    };
    let tool = Tool::new(&label, &config.cwd)
        .again("run the check again")
        .slow_hint("make the lint faster (narrow it with `args` or `cwd`) or raise `timeout_ms` under `[exec]` in checkrail.toml");
    let ran = match tool.run(cx, command) {
        Ok(ran) => ran,
        Err(refused) => return Ok(refused),
    };
    let output = &ran.output;

    let block: Vec<Level> = config.block_levels.clone().unwrap_or_else(|| {
        // go vet reports only what is likely wrong: each of its reports
        // blocks unless `block_levels` says otherwise.
        if config.linter == Linter::Govet {
            vec![Level::Error, Level::Warning]
        } else {
            vec![Level::Error]
        }
    });
    let mut problems: Vec<Finding> = Vec::new();
    let mut anchors: Vec<String> = Vec::new();
    let mut silenced = 0;
    let diags = match config.linter {
        Linter::Clippy => {
            let read = rustc::read(&output.stdout);
            anchors = read.anchors;
            read.diags
        }
        Linter::Ruff => {
            let codes = config.error_codes.clone().unwrap_or_default();
            let parsed = ruff::parse(&output.stdout, &codes);
            if !parsed.unparsed.is_empty() && !output.stdout_truncated {
                problems.push(ran.unreadable(
                    &parsed.unparsed,
                    "do not override `--output-format` in `args`; the rule reads ruff's json-lines output",
                ));
            }
            parsed.diags
        }
        Linter::Eslint => {
            let parsed = eslint::parse(&output.stdout);
            // A failing ESLint prints no report; `failed` says so.
            if let Some(why) = &parsed.unreadable
                && output.success()
                && !output.stdout_truncated
            {
                problems.push(ran.unreadable(
                    std::slice::from_ref(why),
                    "do not override `--format` in `args`; the rule reads ESLint's JSON report",
                ));
            }
            anchors = parsed.anchors;
            silenced = parsed.suppressed;
            parsed.diags
        }
        Linter::Custom | Linter::Govet | Linter::Mypy | Linter::Auto => {
            let patterns = custom::Patterns::new()
                .map_err(|e| Error::new(format!("compile the line pattern: {e}")))?;
            let mut diags = patterns.parse(&output.stdout);
            diags.extend(patterns.parse(&output.stderr));
            diags
        }
    };
    // clippy reports a lint once per target.
    let diags = tool::dedup(diags);

    let anchor_refs: Vec<&str> = anchors.iter().map(String::as_str).collect();
    let paths = tool_paths::resolve_with_root(
        cx.workspace(),
        Some(config.cwd.as_str()),
        &Diag::printed_paths(&diags),
        &anchor_refs,
    );
    let mut findings: Vec<Finding> = diags
        .iter()
        .map(|d| to_finding(d, &block, &paths, &config, &label))
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

    let reads_stderr = !matches!(
        config.linter,
        Linter::Clippy | Linter::Ruff | Linter::Eslint
    );
    problems.extend(ran.problems(Judged {
        // Cut output means missing findings: never a pass.
        truncated: Some(Severity::Error),
        reads_stderr,
        explained: true,
        ..Judged::default()
    }));
    if let Some(failed) = failed(&config, &ran, blocking, diags.is_empty()) {
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
    let named = match config.linter {
        Linter::Custom | Linter::Auto => format!("`{label}`"),
        _ => label,
    };
    let mut summary = summary(&named, blocking + extra_errors, warnings);
    if silenced > 0 {
        summary.push_str(&format!(
            " ({} by `eslint-disable` comments)",
            plural(silenced, "more silenced")
        ));
    }
    Ok(Outcome::from_findings(findings).with_summary(summary))
}

/// `tool-failed` when the linter says it failed and its findings do not
/// explain it: it never passes then.
fn failed(config: &Config, ran: &Ran, blocking: usize, no_diags: bool) -> Option<Finding> {
    let output = &ran.output;
    if output.success() || output.exit_code.is_none() {
        return None;
    }
    let failed = match config.linter {
        // With --exit-zero, ruff exits non-zero only when it broke.
        Linter::Ruff => true,
        // cargo exits 101 for compile errors and denied lints, which are
        // blocking findings already.
        Linter::Clippy => blocking == 0,
        // Linters exit non-zero when they find anything at all; ESLint
        // exits 2, with no report, when it could not lint.
        Linter::Custom | Linter::Govet | Linter::Mypy | Linter::Eslint | Linter::Auto => no_diags,
    };
    if !failed {
        return None;
    }
    let what = if config.linter == Linter::Clippy && !no_diags {
        "reporting a blocking problem (per `block_levels`)"
    } else {
        "reporting a problem it could point at"
    };
    Some(ran.failed(what).fix_hint(match config.linter {
        Linter::Clippy => "make `cargo clippy` succeed: fix the error it prints (a broken Cargo.toml, a missing dependency, a denied lint)",
        Linter::Ruff => "fix what ruff complains about (its configuration or the arguments in `args`)",
        Linter::Govet => "make `go vet` run: fix what it prints (a broken go.mod, code that does not compile)",
        Linter::Mypy => "make mypy run: fix what it prints (its configuration, or the paths in `args`)",
        Linter::Eslint => "make ESLint run: fix what it prints (a missing or broken eslint.config.js, a plugin the config imports that is not installed, paths in `args` that match no file)",
        Linter::Custom | Linter::Auto => "fix what the command prints, or make it print `file:line:col: message` lines",
    }))
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

/// The default input globs per linter, or `inputs`.
fn inputs(config: &Config) -> Vec<String> {
    if let Some(inputs) = &config.inputs {
        return inputs.clone();
    }
    let (anywhere, rooted): (&[&str], &[&str]) = match config.linter {
        Linter::Clippy => (
            &["**/*.rs", "**/Cargo.toml"],
            &[
                "Cargo.lock",
                "clippy.toml",
                ".clippy.toml",
                "rust-toolchain.toml",
                "rust-toolchain",
                ".cargo/config.toml",
            ],
        ),
        Linter::Ruff => (
            &[
                "**/*.py",
                "**/*.pyi",
                "**/pyproject.toml",
                "**/ruff.toml",
                "**/.ruff.toml",
            ],
            &[],
        ),
        Linter::Govet => (&["**/*.go", "**/go.mod", "**/go.sum"], &[]),
        Linter::Mypy => (
            &["**/*.py", "**/*.pyi", "**/pyproject.toml"],
            &["mypy.ini", ".mypy.ini", "setup.cfg"],
        ),
        Linter::Eslint => (eslint::INPUTS, &[]),
        Linter::Custom => (&[], &[]),
        Linter::Auto => (&["**"], &[]),
    };
    let mut out: Vec<String> = anywhere.iter().map(|s| (*s).to_owned()).collect();
    out.extend(rooted.iter().map(|s| (*s).to_owned()));
    // Files anchored at the root matter in the working directory too.
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

fn command(config: &Config) -> Result<Command> {
    let args = config.args.iter().cloned();
    // Arguments that name paths or packages replace the default ones.
    let names_paths = config.args.iter().any(|a| !a.starts_with('-'));
    Ok(match config.linter {
        Linter::Clippy => Command::new("cargo")
            .args(["clippy", "--message-format=json", "--color=never"])
            .args(args)
            .env("CARGO_TERM_COLOR", "never"),
        Linter::Ruff => Command::new("ruff")
            .args([
                "check",
                "--output-format=json-lines",
                "--no-cache",
                "--exit-zero",
            ])
            .args(args)
            .env("NO_COLOR", "1"),
        Linter::Mypy => Command::new("mypy")
            .args([
                "--show-column-numbers",
                "--no-color-output",
                "--no-error-summary",
                "--hide-error-context",
                // No cache in the workspace: nothing written there.
                "--cache-dir=/dev/null",
            ])
            .args(args)
            .args((!names_paths).then_some("."))
            .env("NO_COLOR", "1"),
        Linter::Govet => Command::new("go")
            .arg("vet")
            .args(args)
            .args((!names_paths).then_some("./...")),
        // The scratch directories of rules running beside this one are
        // under `.checkrail/`, which ESLint 9 does not skip on its own.
        Linter::Eslint => Command::new("eslint")
            .args(["--format", "json", "--ignore-pattern", "**/.checkrail/"])
            .args(args)
            .args((!names_paths).then_some("."))
            .env("NO_COLOR", "1"),
        Linter::Custom => config
            .command
            .as_ref()
            .ok_or_else(|| Error::new("`linter: custom` needs `command`"))?
            .command(&config.args),
        Linter::Auto => return Err(Error::new("`linter: auto` was not resolved")),
    })
}

fn to_finding(
    d: &Diag,
    block: &[Level],
    paths: &HashMap<String, String>,
    config: &Config,
    label: &str,
) -> Finding {
    let level = Level::from(d.level);
    let severity = if block.contains(&level) {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mut d = d.clone();
    if let Some(code) = &d.code
        && config.linter == Linter::Clippy
    {
        d.message = format!("{} [{code}]", d.message);
    }
    if severity == Severity::Error && level == Level::Warning {
        d.message = format!(
            "{} (a warning; blocks because `block_levels` includes `warning`)",
            d.message
        );
    }
    d.message = clip(&d.message, 1_000);
    let mut finding = d.to_finding(severity, paths);
    if finding.fix_hint.is_none() {
        finding = finding.fix_hint(default_hint(&d, config, label));
    }
    finding
}

fn default_hint(d: &Diag, config: &Config, label: &str) -> String {
    match (config.linter, d.code.as_deref()) {
        (Linter::Clippy, Some(code)) if code.starts_with("clippy::") => format!(
            "see https://rust-lang.github.io/rust-clippy/master/index.html#{}",
            &code["clippy::".len()..]
        ),
        (Linter::Clippy, _) => "fix the code the compiler points at".to_owned(),
        (Linter::Ruff, Some(code)) => {
            format!("run `ruff rule {code}` for what it checks and how to fix it")
        }
        (Linter::Ruff, None) => "fix the code ruff points at".to_owned(),
        (Linter::Govet, _) => {
            "fix the code `go vet` points at (`go doc cmd/vet` lists its checks)".to_owned()
        }
        (Linter::Mypy, Some(code)) => format!(
            "fix the types mypy points at (error code `{code}`; silencing it with `# type: ignore[{code}]` needs a reason)"
        ),
        (Linter::Mypy, None) => "fix the types mypy points at".to_owned(),
        (Linter::Eslint, Some(rule)) => format!(
            "fix the code ESLint points at (rule `{rule}`; its plugin's documentation says what it checks)"
        ),
        (Linter::Eslint, None) => "fix the code ESLint points at".to_owned(),
        (Linter::Custom | Linter::Auto, _) => format!("fix what `{label}` reports here"),
    }
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
