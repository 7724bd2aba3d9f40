//! `compile`: the code compiles. Runs the real toolchain — `cargo build`,
//! CPython's own compiler, `gcc`/`clang -fsyntax-only`, `go build`, `tsc
//! --noEmit`, or a custom granted command — and reports each diagnostic at its workspace-relative file,
//! line and column, with the compiler's own suggestion as the fix hint when
//! it gave one.
//!
//! Errors block; warnings are reported without blocking unless
//! `warnings_block` is set. A tool that fails without a diagnostic the rule
//! can read never passes: the finding quotes the end of its output.

mod cargo;
mod custom;
mod gcc;
mod go;
mod python;
mod tsc;

use std::collections::{BTreeSet, HashMap, HashSet};

use checkrail_sdk::detect::{self, Project};
use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::tool::{self, CustomCommand, Diag, Judged, Level, Ran, Tool, WorkspaceDir};
use checkrail_sdk::{
    Context, Error, Finding, Outcome, Result, Rule, Severity, export_rule, tool_paths,
};

/// How to compile the code and what to report.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which toolchain to run: `cargo` (`cargo build`), `python` (CPython's
    /// compiler on each file, catching syntax errors without running
    /// anything), `gcc` or `clang` (`-fsyntax-only` on each C/C++ file),
    /// `go` (`go build`), `tsc` (`tsc --noEmit`, the TypeScript compiler
    /// with the project's `tsconfig.json`), or `custom` (the granted program
    /// in `command`).
    pub toolchain: Toolchain,
    /// Directory to run in, relative to the workspace root (default: the
    /// root). `files` globs are relative to it too.
    #[serde(default)]
    pub cwd: WorkspaceDir,
    /// Extra arguments for the tool, appended to its command line (cargo:
    /// e.g. `["--all-targets"]` or `["-p", "core"]`; tsc: e.g. `["-p",
    /// "tsconfig.build.json"]`; gcc/clang: e.g.
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
    /// `**/Cargo.toml`, `Cargo.lock`; tsc the TypeScript and JavaScript
    /// sources, `tsconfig*.json` and `package.json` files; python the
    /// `files`; gcc/clang the
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
    /// `tsc --noEmit --pretty false` in `cwd` (which holds the
    /// `tsconfig.json`, unless `args` name a project or files), reading its
    /// `file(line,col): error TS2322: message` lines.
    Tsc,
    /// A granted program given in `command`.
    Custom,
    /// Told by the workspace: `Cargo.toml` → cargo, a Python project or
    /// Python sources → python, C sources → gcc, `go.mod` → go,
    /// `package.json` with `tsconfig.json` → tsc. The report says what was
    /// found.
    Auto,
}

/// What the rule hands its toolchain: the config and the source files
/// listed under `cwd` (none for a toolchain without [`Compiler::sources`]).
struct Job<'a> {
    config: &'a Config,
    files: &'a [String],
}

/// What the rule needs of a toolchain beyond running it and reading it.
trait Compiler: for<'a> tool::Toolchain<Job<'a>> {
    /// The default globs of the source files it compiles one by one, which
    /// the config's `files` replace; `None` when it finds its own.
    fn sources(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// What to do after a fix, for hints; `label` names the run.
    fn again(&self, label: &str) -> String {
        let _ = label;
        "check again".to_owned()
    }

    /// The failing outcome when there is nothing for it to compile.
    fn unready(&self, cx: &Context, job: &Job) -> Option<Outcome> {
        let _ = (cx, job);
        None
    }

    /// Whether a failing exit means errors, so that one without an error
    /// diagnostic is `tool-failed`.
    fn strict(&self) -> bool {
        true
    }
}

static GCC: gcc::Cc = gcc::Cc("gcc");
static CLANG: gcc::Cc = gcc::Cc("clang");

/// The toolchain `toolchain` names; `None` for `auto`, which is resolved
/// first.
fn compiler(toolchain: Toolchain) -> Option<&'static dyn Compiler> {
    Some(match toolchain {
        Toolchain::Cargo => &cargo::Cargo,
        Toolchain::Python => &python::Python,
        Toolchain::Gcc => &GCC,
        Toolchain::Clang => &CLANG,
        Toolchain::Go => &go::Go,
        Toolchain::Tsc => &tsc::Tsc,
        Toolchain::Custom => &custom::Custom,
        Toolchain::Auto => return None,
    })
}

impl Config {
    /// The `files` globs, or `default`.
    fn files_or<'a>(&'a self, default: &'static [&'static str]) -> impl Iterator<Item = &'a str> {
        let files: Vec<&str> = match &self.files {
            Some(files) => files.iter().map(String::as_str).collect(),
            None => default.to_vec(),
        };
        files.into_iter()
    }
}

/// `globs` under `cwd`, as workspace globs.
fn under_cwd<'a>(config: &Config, globs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    globs
        .into_iter()
        .filter_map(|g| config.cwd.join(g))
        .collect()
}

/// The diagnostics `parse` reads from `first`, then from `second`.
fn both(parse: fn(&str) -> Vec<Diag>, first: &str, second: &str) -> Vec<Diag> {
    let mut diags = parse(first);
    diags.extend(parse(second));
    diags
}

/// Directories whose files are never compiled by default.
const EXCLUDED_DIRS: &[&str] = &[".venv", "venv", "target", ".git", ".checkrail"];

/// Most files one glob of `files` may match.
const FILE_LIMIT: u32 = 10_000;

/// The rule.
pub struct Compile;

impl Rule for Compile {
    type Config = Config;
    const ID: &'static str = "compile";
    const DESCRIPTION: &'static str = "The code compiles (cargo build, CPython's compiler, gcc/clang -fsyntax-only, go build, tsc --noEmit, or a granted custom command); each diagnostic is reported at its file, line and column.";
    const CAPABILITIES: &'static [&'static str] = &[
        "exec:cargo",
        "exec:python3",
        "exec:gcc",
        "exec:clang",
        "exec:go",
        "exec:tsc",
        "exec:*",
    ];
    const JUDGING_FILES: &'static [&'static str] = &[
        // cargo
        ".cargo/config",
        ".cargo/config.toml",
        "rust-toolchain",
        "rust-toolchain.toml",
        // tsc: turning `strict` off or excluding a directory changes what
        // it reports
        "tsconfig.json",
        "tsconfig.*.json",
        "**/tsconfig.json",
        "**/tsconfig.*.json",
    ];

    fn check(config: Config, cx: &Context) -> Result<Outcome> {
        let (config, detected) = resolve(config, cx)?;
        validate(&config)?;
        let mut outcome = run(&config, cx)?;
        if let Some(detected) = detected {
            outcome.findings.insert(0, detected);
        }
        Ok(outcome)
    }

    fn inputs(config: &Config) -> Vec<String> {
        if let Some(inputs) = &config.inputs {
            return inputs.clone();
        }
        match compiler(config.toolchain) {
            Some(compiler) => compiler.inputs(&Job { config, files: &[] }),
            // Whatever the workspace turns out to be.
            None => under_cwd(config, ["**"]),
        }
    }
}

/// With `toolchain: auto`, the toolchain the workspace calls for, and an
/// information finding saying what was found.
fn resolve(mut config: Config, cx: &Context) -> Result<(Config, Option<Finding>)> {
    if config.toolchain != Toolchain::Auto {
        return Ok((config, None));
    }
    let (toolchain, note) = detect::choose(
        cx.workspace(),
        Some(config.cwd.as_str()),
        "toolchain",
        "plain JavaScript has no compile step here (add a `tsconfig.json` with `allowJs` and `checkJs` to type-check it with tsc), or use `toolchain: custom` with a checker as `command`",
        |project| match project {
            Project::Rust => Some((Toolchain::Cargo, "cargo")),
            Project::Python => Some((Toolchain::Python, "python")),
            Project::C => Some((Toolchain::Gcc, "gcc")),
            Project::Go => Some((Toolchain::Go, "go")),
            Project::TypeScript => Some((Toolchain::Tsc, "tsc")),
            _ => None,
        },
    )?;
    config.toolchain = toolchain;
    Ok((config, Some(note)))
}

/// Runs the resolved toolchain and judges what it printed.
fn run(config: &Config, cx: &Context) -> Result<Outcome> {
    let compiler = compiler(config.toolchain)
        .ok_or_else(|| Error::new("`toolchain: auto` was not resolved"))?;
    let files = match compiler.sources() {
        Some(default) => match source_files(cx, config, default)? {
            Err(nothing) => return Ok(nothing),
            Ok(files) => Some(files),
        },
        None => None,
    };
    let job = Job {
        config,
        files: files.as_ref().map_or(&[][..], |f| f.list.as_slice()),
    };
    if let Some(nothing) = compiler.unready(cx, &job) {
        return Ok(nothing);
    }
    let command = compiler.command(&job)?;
    let label = compiler.label(&job);
    let tool = Tool::new(&label, &config.cwd).again(compiler.again(&label));
    let ran = match tool.run(cx, command) {
        Ok(ran) => ran,
        Err(refused) => return Ok(refused),
    };
    let reading = compiler.read(&job, &ran)?;
    let mut outcome = finish(
        cx,
        config,
        compiler.strict(),
        &tool,
        &ran,
        reading.diags,
        reading.complete,
    );
    for glob in files.iter().flat_map(|f| &f.truncated) {
        outcome.findings.push(
            Finding::warning(format!(
                "`{glob}` matches more than {FILE_LIMIT} paths; only the first {FILE_LIMIT} were looked at"
            ))
            .fix_hint("narrow `files` to the project's own sources")
            .code("too-many-files"),
        );
    }
    Ok(outcome)
}

fn missing_command() -> Error {
    Error::new(
        "run toolchain `custom`: it needs `command`, e.g. {\"program\": \"make\", \"args\": [\"check\"]}, naming a program granted in checkrail.toml",
    )
}

/// Rejects settings the chosen toolchain would silently ignore.
fn validate(config: &Config) -> Result<()> {
    let name = format!("{:?}", config.toolchain).to_lowercase();
    if config.files.is_some() && compiler(config.toolchain).is_some_and(|c| c.sources().is_none()) {
        return Err(Error::new(format!(
            "use `files` with toolchain `{name}`: it only applies to `python`, `gcc` and `clang`; for cargo, choose what to build with `args` (e.g. [\"-p\", \"core\"]), for tsc with the `include` of tsconfig.json or `args`"
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
    default: &[&str],
) -> Result<std::result::Result<Files, Outcome>> {
    let cwd = &config.cwd;
    let globs: Vec<&str> = match &config.files {
        Some(files) => files.iter().map(String::as_str).collect(),
        None => default.to_vec(),
    };
    let ws = cx.workspace();
    let mut found = BTreeSet::new();
    let mut truncated = Vec::new();
    for glob in &globs {
        let Some(pattern) = cwd.join(glob) else {
            return Err(Error::new(format!(
                "use the files glob `{glob}`: it leads outside the workspace; give globs relative to `cwd`"
            )));
        };
        let matched = ws.glob(&pattern, FILE_LIMIT)?;
        if matched.len() >= FILE_LIMIT as usize {
            truncated.push((*glob).to_owned());
        }
        for path in matched {
            let rel = if cwd.is_root() {
                Some(path.as_str())
            } else {
                path.strip_prefix(cwd.as_str())
                    .and_then(|p| p.strip_prefix('/'))
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
    let full: Vec<String> = candidates.iter().filter_map(|rel| cwd.join(rel)).collect();
    let names: Vec<&str> = full.iter().map(String::as_str).collect();
    let list: Vec<String> = candidates
        .into_iter()
        .zip(ws.stat_many(&names))
        .filter(|(_, answer)| answer.as_ref().is_ok_and(|e| e.is_file()))
        .map(|(rel, _)| rel)
        .collect();
    if list.is_empty() {
        let shown: Vec<String> = globs.iter().map(|g| format!("`{g}`")).collect();
        let place = if cwd.is_root() {
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

/// The findings of a finished run: each diagnostic at its workspace place,
/// then what went wrong with the run itself.
fn finish(
    cx: &Context,
    config: &Config,
    strict: bool,
    tool: &Tool,
    ran: &Ran,
    diags: Vec<Diag>,
    complete: bool,
) -> Outcome {
    let diags = checkrail_sdk::tool::dedup(diags);
    let paths: HashMap<String, String> = tool_paths::resolve_each(
        cx.workspace(),
        config.cwd.as_str(),
        Diag::printed_paths(&diags),
    )
    .into_iter()
    .filter_map(|(printed, path)| Some((printed, path?)))
    .collect();
    let again = tool.then();
    let mut findings: Vec<Finding> = diags
        .iter()
        .map(|diag| {
            let (severity, what) = match diag.level {
                Level::Error => (Severity::Error, "the error"),
                Level::Warning if config.warnings_block => (Severity::Error, "the warning"),
                Level::Warning => (Severity::Warning, "the warning"),
                Level::Info => (Severity::Info, "what the note says"),
            };
            let mut finding = diag.to_finding(severity, &paths);
            if finding.fix_hint.is_none() {
                let at = match (&finding.path, finding.line, finding.column) {
                    (Some(p), Some(l), Some(c)) => format!(" at {p}:{l}:{c}"),
                    (Some(p), Some(l), None) => format!(" at {p}:{l}"),
                    (Some(p), None, _) => format!(" in {p}"),
                    (None, ..) => String::new(),
                };
                finding = finding.fix_hint(format!("fix {what}{at} and {again}"));
            }
            finding
        })
        .collect();

    let errors = diags.iter().any(|d| d.level == Level::Error);
    findings.extend(ran.problems(Judged {
        // A compiler's failing exit means errors; a custom command may exit
        // non-zero on warnings alone.
        explained: errors || (!strict && !diags.is_empty()),
        complete,
        ..Judged::default()
    }));
    let outcome = Outcome::from_findings(findings);
    let label = tool.label();
    let summary = if outcome.findings.is_empty() {
        format!("{label}: no errors or warnings")
    } else {
        let mut summary = format!("{} in {label}", outcome.summary);
        if config.warnings_block && diags.iter().any(|d| d.level == Level::Warning) {
            summary.push_str(" (warnings block)");
        }
        summary
    };
    outcome.with_summary(summary)
}

export_rule!(Compile);

#[cfg(test)]
mod tests;
