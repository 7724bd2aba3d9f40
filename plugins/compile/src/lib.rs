//! `compile`: the code compiles. Runs the real toolchain — `cargo build`,
//! CPython's own compiler, `gcc`/`clang -fsyntax-only`, or a custom granted
//! command — and reports each diagnostic at its workspace-relative file,
//! line and column, with the compiler's own suggestion as the fix hint when
//! it gave one.
//!
//! Errors block; warnings are reported without blocking unless
//! `warnings_block` is set. A tool that fails without a diagnostic the rule
//! can read never passes: the finding quotes the end of its output.

mod cargo;
mod custom;
mod diag;
mod gcc;
mod python;
mod tsc;

use std::collections::{BTreeSet, HashSet};

use checkrail_sdk::detect::{self, Project};
use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::{
    Command, Context, Error, ExecError, Finding, Outcome, Output, Result, Rule, Severity,
    export_rule, normalize_path, tool_paths,
};

use crate::diag::{Diag, Level, Loc, tail};

/// How to compile the code and what to report.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which toolchain to run: `cargo` (`cargo build`), `python` (CPython's
    /// compiler on each file, catching syntax errors without running
    /// anything), `gcc` or `clang` (`-fsyntax-only` on each C/C++ file), or
    /// `custom` (the granted program in `command`).
    pub toolchain: Toolchain,
    /// Directory to run in, relative to the workspace root (default: the
    /// root). `files` globs are relative to it too.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Extra arguments for the tool, appended to its command line (cargo:
    /// e.g. `["--all-targets"]` or `["-p", "core"]`; gcc/clang: e.g.
    /// `["-Iinclude", "-std=c11", "-Wall"]`, after the files; python:
    /// interpreter options such as `["-X", "warn_default_encoding"]`, placed
    /// before `-c`; custom: after `command.args`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Globs of the source files to compile, relative to `cwd`; for
    /// `python`, `gcc` and `clang` only. Default: python `**/*.py`; gcc and
    /// clang `**/*.c`, `**/*.cc`, `**/*.cpp`. Files under `.venv/`, `venv/`,
    /// `target/`, `.git/` or `.checkrail/` are skipped unless the glob names
    /// that directory itself.
    #[serde(default)]
    pub files: Option<Vec<String>>,
    /// Report warnings as errors, so that they block too.
    #[serde(default)]
    pub warnings_block: bool,
    /// The program to run for toolchain `custom` (and only for it). It must
    /// be granted in checkrail.toml. Each output line of the form
    /// `file:line[:col]: [error|warning:] message` becomes a finding; the
    /// severity is an error unless the line says `warning` (or `note`).
    #[serde(default)]
    pub command: Option<CustomCommand>,
    /// Globs (workspace-relative) of the files the result depends on, so an
    /// unchanged workspace reuses the last outcome. Default: cargo `**/*.rs`,
    /// `**/Cargo.toml`, `Cargo.lock`; python the `files`; gcc/clang the
    /// `files` plus `**/*.h` and `**/*.hpp` (all under `cwd`); custom none,
    /// which means never reuse.
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
}

/// A toolchain the rule knows how to run and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Toolchain {
    /// `cargo build --message-format=json`.
    Cargo,
    /// `python3` compiling each file with the built-in `compile()`.
    Python,
    /// `gcc -fsyntax-only`.
    Gcc,
    /// `clang -fsyntax-only`.
    Clang,
    /// `go build ./...` (or the packages in `args`), reading its
    /// `file:line:col: message` lines.
    Go,
    /// A granted program given in `command`.
    Custom,
    /// Told by the workspace: `Cargo.toml` → cargo, a Python project or
    /// Python sources → python, C sources → gcc. The report says what was
    /// found.
    Auto,
}

/// A program for toolchain `custom`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct CustomCommand {
    /// Program name found on PATH (not a path), e.g. `make`; it must be
    /// granted in checkrail.toml.
    pub program: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
}

/// Directories whose files are never compiled by default.
const EXCLUDED_DIRS: &[&str] = &[".venv", "venv", "target", ".git", ".checkrail"];

/// Most files one glob of `files` may match.
const FILE_LIMIT: u32 = 10_000;

const PYTHON_FILES: &[&str] = &["**/*.py"];
const C_FILES: &[&str] = &["**/*.c", "**/*.cc", "**/*.cpp"];
const C_HEADERS: &[&str] = &["**/*.h", "**/*.hpp"];
const CARGO_INPUTS: &[&str] = &["**/*.rs", "**/Cargo.toml", "Cargo.lock"];
const GO_INPUTS: &[&str] = &["**/*.go", "**/go.mod", "**/go.sum"];

/// The rule.
pub struct Compile;

impl Rule for Compile {
    type Config = Config;
    const ID: &'static str = "compile";
    const DESCRIPTION: &'static str = "The code compiles (cargo build, CPython's compiler, gcc/clang -fsyntax-only, or a granted custom command); each diagnostic is reported at its file, line and column.";
    const CAPABILITIES: &'static [&'static str] = &[
        "exec:cargo",
        "exec:python3",
        "exec:gcc",
        "exec:clang",
        "exec:go",
        "exec:*",
    ];
    const JUDGING_FILES: &'static [&'static str] = &[
        // cargo
        ".cargo/config",
        ".cargo/config.toml",
        "rust-toolchain",
        "rust-toolchain.toml",
    ];

    fn check(config: Config, cx: &Context) -> Result<Outcome> {
        let cwd = checked_cwd(&config)?;
        let (config, detected) = resolve(config, cx, &cwd)?;
        validate(&config)?;
        let mut outcome = run(config, cx, &cwd)?;
        if let Some(detected) = detected {
            outcome.findings.insert(0, detected);
        }
        Ok(outcome)
    }

    fn inputs(config: &Config) -> Vec<String> {
        if let Some(inputs) = &config.inputs {
            return inputs.clone();
        }
        let Ok(cwd) = checked_cwd(config) else {
            return Vec::new();
        };
        let under_cwd = |globs: &mut dyn Iterator<Item = &str>| -> Vec<String> {
            globs.filter_map(|g| tool_paths::join(&cwd, g)).collect()
        };
        let files = |default: &'static [&'static str]| -> Vec<&str> {
            match &config.files {
                Some(files) => files.iter().map(String::as_str).collect(),
                None => default.to_vec(),
            }
        };
        match config.toolchain {
            Toolchain::Cargo => under_cwd(&mut CARGO_INPUTS.iter().copied()),
            Toolchain::Python => under_cwd(&mut files(PYTHON_FILES).into_iter()),
            Toolchain::Gcc | Toolchain::Clang => {
                under_cwd(&mut files(C_FILES).into_iter().chain(C_HEADERS.iter().copied()))
            }
            Toolchain::Go => under_cwd(&mut GO_INPUTS.iter().copied()),
            Toolchain::Custom => Vec::new(),
            // Whatever the workspace turns out to be.
            Toolchain::Auto => under_cwd(&mut ["**"].into_iter()),
        }
    }
}

/// With `toolchain: auto`, the toolchain the workspace calls for, and an
/// information finding saying what was found.
fn resolve(mut config: Config, cx: &Context, cwd: &str) -> Result<(Config, Option<Finding>)> {
    if config.toolchain != Toolchain::Auto {
        return Ok((config, None));
    }
    let (toolchain, note) = detect::choose(
        cx.workspace(),
        Some(cwd),
        "toolchain",
        "use `toolchain: custom` with the compiler as `command`",
        |project| match project {
            Project::Rust => Some((Toolchain::Cargo, "cargo")),
            Project::Python => Some((Toolchain::Python, "python")),
            Project::C => Some((Toolchain::Gcc, "gcc")),
            Project::Go => Some((Toolchain::Go, "go")),
            _ => None,
        },
    )?;
    config.toolchain = toolchain;
    Ok((config, Some(note)))
}

/// Runs the resolved toolchain.
fn run(config: Config, cx: &Context, cwd: &str) -> Result<Outcome> {
    let cwd = cwd.to_owned();
    match config.toolchain {
        Toolchain::Auto => Err(Error::new("`toolchain: auto` was not resolved")),

        Toolchain::Cargo => {
            let command = Command::new("cargo")
                .args(["build", "--message-format=json", "--color=never"])
                .args(config.args.iter().cloned())
                .env("CARGO_TERM_COLOR", "never");
            let out = match exec(cx, command, &cwd) {
                Ok(out) => out,
                Err(outcome) => return Ok(outcome),
            };
            let diags = cargo::parse(&out.stdout);
            Ok(finish(
                cx,
                &config,
                &cwd,
                Run {
                    label: "cargo build".to_owned(),
                    again: "build again".to_owned(),
                    diags,
                    out,
                    complete: true,
                    strict: true,
                },
            ))
        }
        Toolchain::Python => {
            let files = match source_files(cx, &config, &cwd, PYTHON_FILES)? {
                Ok(files) => files,
                Err(outcome) => return Ok(outcome),
            };
            let command = Command::new("python3")
                .args(["-B", "-I"])
                .args(config.args.iter().cloned())
                .args(["-c", python::SCRIPT])
                .args(files.list.iter().cloned())
                .env("PYTHONDONTWRITEBYTECODE", "1");
            let out = match exec(cx, command, &cwd) {
                Ok(out) => out,
                Err(outcome) => return Ok(outcome),
            };
            let (diags, done) = python::parse(&out.stdout);
            let count = files.list.len();
            let mut outcome = finish(
                cx,
                &config,
                &cwd,
                Run {
                    label: format!("python3 compile() of {}", plural(count, "file")),
                    again: "check again".to_owned(),
                    diags,
                    out,
                    complete: done == Some(count as u64),
                    strict: true,
                },
            );
            add_truncation(&mut outcome, &files);
            Ok(outcome)
        }
        Toolchain::Go => {
            let packages: Vec<String> = if config.args.iter().any(|a| !a.starts_with('-')) {
                Vec::new()
            } else {
                vec!["./...".to_owned()]
            };
            let command = Command::new("go")
                .args(["build", "-o", "/dev/null"])
                .args(config.args.iter().cloned())
                .args(packages);
            let out = match exec(cx, command, &cwd) {
                Ok(out) => out,
                Err(outcome) => return Ok(outcome),
            };
            let mut diags = custom::parse(&out.stderr);
            diags.extend(custom::parse(&out.stdout));
            Ok(finish(
                cx,
                &config,
                &cwd,
                Run {
                    label: "go build".to_owned(),
                    again: "build again".to_owned(),
                    diags,
                    out,
                    complete: true,
                    strict: true,
                },
            ))
        }
        Toolchain::Gcc | Toolchain::Clang => {
            let program = if config.toolchain == Toolchain::Gcc {
                "gcc"
            } else {
                "clang"
            };
            let files = match source_files(cx, &config, &cwd, C_FILES)? {
                Ok(files) => files,
                Err(outcome) => return Ok(outcome),
            };
            let command = Command::new(program)
                .args([
                    "-fsyntax-only",
                    "-fdiagnostics-color=never",
                    "-fdiagnostics-parseable-fixits",
                ])
                .args(files.list.iter().map(|f| {
                    // A name starting with `-` would be read as an option.
                    if f.starts_with('-') {
                        format!("./{f}")
                    } else {
                        f.clone()
                    }
                }))
                .args(config.args.iter().cloned());
            let out = match exec(cx, command, &cwd) {
                Ok(out) => out,
                Err(outcome) => return Ok(outcome),
            };
            let mut diags = gcc::parse(&out.stderr);
            diags.extend(gcc::parse(&out.stdout));
            let mut outcome = finish(
                cx,
                &config,
                &cwd,
                Run {
                    label: format!(
                        "{program} -fsyntax-only on {}",
                        plural(files.list.len(), "file")
                    ),
                    again: "compile again".to_owned(),
                    diags,
                    out,
                    complete: true,
                    strict: true,
                },
            );
            add_truncation(&mut outcome, &files);
            Ok(outcome)
        }
        Toolchain::Custom => {
            let Some(custom) = config.command.clone() else {
                return Err(missing_command());
            };
            let command = Command::new(&custom.program)
                .args(custom.args.iter().cloned())
                .args(config.args.iter().cloned());
            let label = display(&command);
            let out = match exec(cx, command, &cwd) {
                Ok(out) => out,
                Err(outcome) => return Ok(outcome),
            };
            let mut diags = custom::parse(&out.stdout);
            diags.extend(custom::parse(&out.stderr));
            Ok(finish(
                cx,
                &config,
                &cwd,
                Run {
                    again: format!("run `{}` again", diag::shorten(&label, 80)),
                    label: diag::shorten(&label, 80),
                    diags,
                    out,
                    complete: true,
                    strict: false,
                },
            ))
        }
    }
}

fn checked_cwd(config: &Config) -> Result<String> {
    let raw = config.cwd.as_deref().unwrap_or(".");
    normalize_path(raw).map_err(|_| {
        Error::new(format!(
            "use `cwd` = `{raw}`: it leads outside the workspace; give a directory relative to the workspace root"
        ))
    })
}

fn missing_command() -> Error {
    Error::new(
        "run toolchain `custom`: it needs `command`, e.g. {\"program\": \"make\", \"args\": [\"check\"]}, naming a program granted in checkrail.toml",
    )
}

/// Rejects settings the chosen toolchain would silently ignore.
fn validate(config: &Config) -> Result<()> {
    let name = format!("{:?}", config.toolchain).to_lowercase();
    if config.files.is_some()
        && matches!(
            config.toolchain,
            Toolchain::Cargo | Toolchain::Go | Toolchain::Custom
        )
    {
        return Err(Error::new(format!(
            "use `files` with toolchain `{name}`: it only applies to `python`, `gcc` and `clang`; for cargo, choose what to build with `args` (e.g. [\"-p\", \"core\"])"
        )));
    }
    match (&config.command, config.toolchain) {
        (None, Toolchain::Custom) => Err(missing_command()),
        (Some(_), toolchain) if toolchain != Toolchain::Custom => Err(Error::new(format!(
            "use `command` with toolchain `{name}`: it only applies to `custom`; remove it or set `toolchain` to `custom`"
        ))),
        _ => Ok(()),
    }
}

/// The command line, with arguments that contain spaces quoted.
fn display(command: &Command) -> String {
    std::iter::once(&command.program)
        .chain(&command.args)
        .map(|part| {
            if part.is_empty() || part.contains(char::is_whitespace) {
                format!("'{part}'")
            } else {
                part.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Runs `command` in `cwd`; a refusal (not granted, not installed, ...)
/// becomes a failing outcome that says how to fix it.
fn exec(cx: &Context, command: Command, cwd: &str) -> std::result::Result<Output, Outcome> {
    let command = if cwd == "." {
        command
    } else {
        command.cwd(cwd)
    };
    cx.exec(&command).map_err(|error| {
        let program = &command.program;
        let summary = match &error {
            ExecError::NotGranted(_) => {
                format!("`{program}` did not run: it is not granted in checkrail.toml")
            }
            ExecError::NotDeclared(_) => {
                format!("`{program}` did not run: the rule may not run it")
            }
            ExecError::NotFound(_) => format!("`{program}` did not run: it is not installed"),
            ExecError::Failed(_) => format!("`{program}` could not be run"),
        };
        Outcome::from_findings(vec![error.to_finding()]).with_summary(summary)
    })
}

/// Source files to compile, relative to `cwd`.
struct Files {
    list: Vec<String>,
    /// Globs that matched more files than [`FILE_LIMIT`].
    truncated: Vec<String>,
}

/// Expands `files` (or `default`) under `cwd`. `Ok(Err(outcome))` when
/// nothing matched: a failing outcome, since nothing was compiled.
fn source_files(
    cx: &Context,
    config: &Config,
    cwd: &str,
    default: &[&str],
) -> Result<std::result::Result<Files, Outcome>> {
    let globs: Vec<&str> = match &config.files {
        Some(files) => files.iter().map(String::as_str).collect(),
        None => default.to_vec(),
    };
    let ws = cx.workspace();
    let mut found = BTreeSet::new();
    let mut truncated = Vec::new();
    for glob in &globs {
        let Some(pattern) = tool_paths::join(cwd, glob) else {
            return Err(Error::new(format!(
                "use the files glob `{glob}`: it leads outside the workspace; give globs relative to `cwd`"
            )));
        };
        let matched = ws.glob(&pattern, FILE_LIMIT)?;
        if matched.len() >= FILE_LIMIT as usize {
            truncated.push((*glob).to_owned());
        }
        for path in matched {
            let rel = if cwd == "." {
                Some(path.as_str())
            } else {
                path.strip_prefix(cwd).and_then(|p| p.strip_prefix('/'))
            };
            if let Some(rel) = rel
                && !excluded(rel, glob)
            {
                found.insert(rel.to_owned());
            }
        }
    }
    // Keep files only (a directory may be called `x.py`).
    let candidates: Vec<String> = found.into_iter().collect();
    let full: Vec<String> = candidates
        .iter()
        .filter_map(|rel| tool_paths::join(cwd, rel))
        .collect();
    let names: Vec<&str> = full.iter().map(String::as_str).collect();
    let list: Vec<String> = candidates
        .into_iter()
        .zip(ws.stat_many(&names))
        .filter(|(_, answer)| answer.as_ref().is_ok_and(|e| e.is_file()))
        .map(|(rel, _)| rel)
        .collect();
    if list.is_empty() {
        let shown: Vec<String> = globs.iter().map(|g| format!("`{g}`")).collect();
        let place = if cwd == "." {
            "in the workspace".to_owned()
        } else {
            format!("under `{cwd}`")
        };
        let finding = Finding::error(format!(
            "no source file matches {} {place}, so nothing was compiled",
            shown.join(", ")
        ))
        .fix_hint(
            "add the source files, or set `files` (globs relative to `cwd`) to match where they are",
        )
        .code("no-files");
        return Ok(Err(
            Outcome::from_findings(vec![finding]).with_summary("no source files to compile")
        ));
    }
    Ok(Ok(Files { list, truncated }))
}

/// Whether `rel` lies in an excluded directory that `glob` does not name.
fn excluded(rel: &str, glob: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let named: HashSet<&str> = glob.split('/').collect();
    parts[..parts.len().saturating_sub(1)]
        .iter()
        .any(|dir| EXCLUDED_DIRS.contains(dir) && !named.contains(dir))
}

fn add_truncation(outcome: &mut Outcome, files: &Files) {
    for glob in &files.truncated {
        outcome.findings.push(
            Finding::warning(format!(
                "`{glob}` matches more than {FILE_LIMIT} paths; only the first {FILE_LIMIT} were looked at"
            ))
            .fix_hint("narrow `files` to the project's own sources")
            .code("too-many-files"),
        );
    }
}

/// A finished tool run and what was read from it.
struct Run {
    /// The command, for messages ("cargo build").
    label: String,
    /// What to do after fixing ("build again").
    again: String,
    diags: Vec<Diag>,
    out: Output,
    /// Whether the output was complete (python's end marker was seen).
    complete: bool,
    /// A non-zero exit without an error diagnostic is a failure even when
    /// warnings were read (true for compilers, whose exit status means
    /// "errors"; false for custom commands that may exit non-zero on
    /// warnings).
    strict: bool,
}

fn finish(cx: &Context, config: &Config, cwd: &str, run: Run) -> Outcome {
    let raw_files = run
        .diags
        .iter()
        .flat_map(|d| {
            d.loc
                .iter()
                .chain(d.hint.iter().filter_map(|h| h.at.as_ref()))
        })
        .map(|l| l.file.as_str());
    let resolved = tool_paths::resolve_each(cx.workspace(), cwd, raw_files);
    let place = |loc: &Loc| -> (Option<String>, String) {
        let path = resolved.get(&loc.file).cloned().flatten();
        let mut text = path.clone().unwrap_or_else(|| loc.file.clone());
        if let Some(line) = loc.line {
            text.push_str(&format!(":{line}"));
            if let Some(column) = loc.column {
                text.push_str(&format!(":{column}"));
            }
        }
        (path, text)
    };

    let mut findings = Vec::new();
    let mut seen = HashSet::new();
    for diag in &run.diags {
        let severity = match diag.level {
            Level::Error => Severity::Error,
            Level::Warning if config.warnings_block => Severity::Error,
            Level::Warning => Severity::Warning,
            Level::Info => Severity::Info,
        };
        let mut message = diag.message.clone();
        let mut path = None;
        let mut at = None;
        if let Some(loc) = &diag.loc {
            let (resolved_path, text) = place(loc);
            if resolved_path.is_none() {
                message = format!("{message} (in {text})");
            }
            path = resolved_path;
            at = Some(text);
        }
        let explain = diag
            .code
            .as_deref()
            .filter(|c| {
                config.toolchain == Toolchain::Cargo
                    && c.len() == 5
                    && c.starts_with('E')
                    && c[1..].chars().all(|ch| ch.is_ascii_digit())
            })
            .map(|c| format!(" (`rustc --explain {c}` explains this error)"))
            .unwrap_or_default();
        let hint = match &diag.hint {
            Some(hint) => match &hint.at {
                Some(loc) => format!("{} at {}{explain}", hint.text, place(loc).1),
                None => format!("{}{explain}", hint.text),
            },
            None => {
                let what = match diag.level {
                    Level::Warning => "the warning",
                    Level::Info => "what the note says",
                    Level::Error => "the error",
                };
                match &at {
                    Some(at) => format!("fix {what} at {at} and {}{explain}", run.again),
                    None => format!("fix {what} and {}{explain}", run.again),
                }
            }
        };
        let key = (
            diag.level == Level::Error,
            path.clone(),
            diag.loc.as_ref().and_then(|l| l.line),
            diag.loc.as_ref().and_then(|l| l.column),
            diag.code.clone(),
            message.clone(),
        );
        if !seen.insert(key) {
            // The same diagnostic from another target (`--all-targets`).
            continue;
        }
        let mut finding = Finding::new(severity, message).fix_hint(hint);
        if let Some(path) = path {
            finding = finding.path(path);
            if let Some(loc) = &diag.loc {
                if let Some(line) = loc.line {
                    finding = finding.line(line);
                }
                if let Some(column) = loc.column {
                    finding = finding.column(column);
                }
            }
        }
        if let Some(code) = &diag.code {
            finding = finding.code(code);
        }
        findings.push(finding);
    }

    findings.extend(tool_findings(&run));
    let outcome = Outcome::from_findings(findings);
    let summary = if outcome.findings.is_empty() {
        format!("{}: no errors or warnings", run.label)
    } else {
        let mut summary = format!("{} in {}", outcome.summary, run.label);
        if config.warnings_block && run.diags.iter().any(|d| d.level == Level::Warning) {
            summary.push_str(" (warnings block)");
        }
        summary
    };
    outcome.with_summary(summary)
}

/// Findings about the run itself: a timeout, a crash, a failure the output
/// does not explain, cut-off output.
fn tool_findings(run: &Run) -> Vec<Finding> {
    let out = &run.out;
    let label = &run.label;
    let quoted = || {
        let text = if out.stderr.trim().is_empty() {
            &out.stdout
        } else {
            &out.stderr
        };
        let tail = tail(text, 15, 1500);
        if tail.is_empty() {
            " It printed nothing.".to_owned()
        } else {
            format!(" Its output ends with:\n{tail}")
        }
    };
    let mut findings = Vec::new();
    let errors = run.diags.iter().any(|d| d.level == Level::Error);
    if out.timed_out {
        findings.push(
            Finding::error(format!(
                "`{label}` was stopped at its deadline after {}s, so the result is unknown.{}",
                out.duration.as_secs(),
                quoted()
            ))
            .fix_hint("find what makes it hang or so slow (see the output), fix it and check again")
            .code("timeout"),
        );
    } else if out.exit_code.is_none() {
        findings.push(
            Finding::error(format!(
                "`{label}` was killed before it finished.{}",
                quoted()
            ))
            .fix_hint("find why it crashed (see the output), fix it and check again")
            .code("tool-killed"),
        );
    } else if !out.success() && !errors && (run.strict || run.diags.is_empty()) {
        let code = out.exit_code.unwrap_or_default();
        let first_error = [&out.stderr, &out.stdout]
            .iter()
            .flat_map(|t| t.lines())
            .map(str::trim)
            .find(|l| l.starts_with("error") || l.contains("Error"));
        let hint = match first_error {
            Some(line) => format!(
                "fix what the output reports (first: `{}`) and {}",
                diag::shorten(line, 200),
                run.again
            ),
            None => format!("fix what the output reports and {}", run.again),
        };
        findings.push(
            Finding::error(format!(
                "`{label}` failed with exit code {code} without a diagnostic the rule could read.{}",
                quoted()
            ))
            .fix_hint(hint)
            .code("tool-failed"),
        );
    } else if !run.complete {
        findings.push(
            Finding::error(format!(
                "`{label}` stopped before reporting on every file, so the result is unknown.{}",
                quoted()
            ))
            .fix_hint(format!(
                "find why it stopped (see the output) and {}",
                run.again
            ))
            .code("incomplete-output"),
        );
    }
    if out.stdout_truncated || out.stderr_truncated {
        findings.push(
            Finding::warning(format!(
                "`{label}` printed more than the host keeps; some diagnostics may be missing"
            ))
            .fix_hint(format!("fix the reported problems first and {}", run.again))
            .code("output-truncated"),
        );
    }
    findings
}

export_rule!(Compile);

#[cfg(test)]
mod tests;
