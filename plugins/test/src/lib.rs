//! `test`: the project's tests run and pass.
//!
//! Runs `cargo test`, `pytest`, or a granted command that writes a JUnit
//! report, and turns each failing test into a finding that names the test,
//! says why it failed and points at the failing line. It can also require
//! named tests, a minimum number of passing tests, allow known failures, and
//! (`expect: fail`) demand that a regression test fails, for a "write the
//! failing test first" phase.

mod junit;
mod libtest;
mod model;
mod xml;

use checkrail_sdk::{
    Command, Context, Error, ExecError, Finding, Outcome, Output, Result, Rule, Severity,
    Workspace, export_rule, normalize_path,
};
use schemars::JsonSchema;
use serde::Deserialize;

use model::{Counts, Location, Status, TestCase, clip, name_matches, tail};

/// Which tests to run and what their results must be.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The test runner: `cargo` (`cargo test`), `pytest` (`python3 -m
    /// pytest`), or `custom` (`command`, which writes the JUnit XML report
    /// `report`).
    pub runner: Runner,
    /// Workspace-relative directory to run the tests in (default: the
    /// workspace root).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Extra arguments appended to the runner's command line, e.g.
    /// `["--workspace"]` for cargo or `["tests/unit"]` for pytest. For cargo,
    /// do not pass `-q`: the rule needs the per-test lines.
    #[serde(default)]
    pub args: Vec<String>,
    /// Globs of the files the result depends on, replacing the runner's
    /// defaults (cargo: `**/*.rs`, `**/Cargo.toml`, `Cargo.lock`; pytest:
    /// `**/*.py`, `pytest.ini`, `pyproject.toml`, `setup.cfg`,
    /// `conftest.py`; custom: none, so never cached). While these files are
    /// unchanged the host reuses the previous result.
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
    /// Fewest tests that must pass (default 1 when `expect` is `pass`, so a
    /// run where no test passes fails; 0 when `expect` is `fail`).
    #[serde(default)]
    pub min_passed: Option<u32>,
    /// Tests that must exist and pass. A name matches a test by its full
    /// name or by the part after a `::` (or a `/`): `parser::handles_empty`
    /// or `handles_empty` for cargo's `tests::parser::handles_empty`;
    /// `test_io.py::test_read` or `test_read` for pytest's
    /// `tests/test_io.py::test_read`. A name without `[...]` also matches
    /// every parametrized case. With `expect: fail`, the tests of which at
    /// least one must exist and fail.
    #[serde(default)]
    pub required: Vec<String>,
    /// Tests allowed to fail (matched like `required`); their failures are
    /// reported as information only. A test that is also `required` must
    /// still pass.
    #[serde(default)]
    pub allowed_failures: Vec<String>,
    /// `pass` (default): every test must pass. `fail`: this checkpoint wants
    /// a regression test that fails on the current code (a "write the
    /// failing test first" phase): at least one of the `required` tests
    /// must exist and fail (with no `required`, at least one test that is
    /// not in `allowed_failures` must fail). It must fail at run time: tests
    /// that do not compile or import fail the check. Failures of other
    /// tests, not `required` and not allowed, still fail the check.
    #[serde(default)]
    pub expect: Expect,
    /// For `runner: custom`: the program (a granted program name looked up
    /// on PATH, not a path) and arguments that run the tests and write a
    /// JUnit XML report.
    #[serde(default)]
    pub command: Option<CustomCommand>,
    /// For `runner: custom`: the workspace-relative path of the JUnit XML
    /// report the command writes. `{scratch}` is replaced by a fresh
    /// scratch directory for this check (e.g. `{scratch}/junit.xml`, with
    /// `{scratch}` also in the command's arguments).
    #[serde(default)]
    pub report: Option<String>,
}

/// The test runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Runner {
    /// `cargo test --no-fail-fast --color=never`, parsing libtest's output
    /// (unit, integration and doc-tests).
    Cargo,
    /// `python3 -m pytest -q` with a JUnit XML report.
    Pytest,
    /// A granted command that writes a JUnit XML report to `report`.
    Custom,
}

/// What the tests must do.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Every test passes.
    #[default]
    Pass,
    /// A regression test (one of `required`, or any) fails.
    Fail,
}

/// A user-configured test command.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomCommand {
    /// Program name, found on PATH; the workspace must grant it.
    pub program: String,
    /// Arguments; `{scratch}` is replaced by the scratch directory (relative
    /// to the command's working directory).
    #[serde(default)]
    pub args: Vec<String>,
}

/// Most failing tests reported one finding each; the rest share one.
const MAX_DETAILED: usize = 50;

/// The rule.
pub struct TestRule;

impl Rule for TestRule {
    type Config = Config;
    const ID: &'static str = "test";
    const DESCRIPTION: &'static str = "The project's tests run and pass (cargo test, pytest, or a command writing a JUnit report): required tests exist, enough pass, and a regression-test phase can require a failing test.";
    const CAPABILITIES: &'static [&'static str] = &["exec:cargo", "exec:python3", "exec:*"];

    fn check(config: Config, cx: &Context) -> Result<Outcome> {
        let cwd = validate(&config)?;
        let ran = match config.runner {
            Runner::Cargo => run_cargo(&config, cx, &cwd),
            Runner::Pytest => run_pytest(&config, cx, &cwd)?,
            Runner::Custom => run_custom(&config, cx, &cwd)?,
        };
        let resolver = Resolver::new(cx.workspace(), &cwd);
        Ok(match ran {
            Ran::Stopped(outcome) => outcome,
            Ran::Finished(run) => evaluate(&config, run, &resolver),
            Ran::Uncompiled(errors) => compile_failure(errors, &resolver),
        })
    }

    fn inputs(config: &Config) -> Vec<String> {
        if let Some(inputs) = &config.inputs {
            return inputs.clone();
        }
        let cwd = config
            .cwd
            .as_deref()
            .and_then(|c| normalize_path(c).ok())
            .filter(|c| c != ".");
        let (globs, root_files): (&[&str], &[&str]) = match config.runner {
            Runner::Cargo => (&["**/*.rs", "**/Cargo.toml"], &["Cargo.lock"]),
            Runner::Pytest => (
                &["**/*.py"],
                &["pytest.ini", "pyproject.toml", "setup.cfg", "conftest.py"],
            ),
            Runner::Custom => return Vec::new(),
        };
        let mut inputs: Vec<String> = globs.iter().map(|g| (*g).to_owned()).collect();
        for file in root_files {
            inputs.push((*file).to_owned());
            if let Some(cwd) = &cwd {
                inputs.push(format!("{cwd}/{file}"));
            }
        }
        inputs
    }
}

/// Checks what the schema cannot say; returns the normalized `cwd`.
fn validate(config: &Config) -> Result<String> {
    let cwd = match &config.cwd {
        None => ".".to_owned(),
        Some(dir) => normalize_path(dir).map_err(|_| {
            Error::new(format!(
                "use `cwd` `{dir}`: it leads outside the workspace; give a workspace-relative directory"
            ))
        })?,
    };
    let custom = config.runner == Runner::Custom;
    if custom && (config.command.is_none() || config.report.is_none()) {
        return Err(Error::new(
            "use the config: `runner: custom` needs `command` (`{ program, args }`, which runs the tests) and `report` (the JUnit XML file it writes)",
        ));
    }
    if !custom && (config.command.is_some() || config.report.is_some()) {
        return Err(Error::new(
            "use the config: `command` and `report` apply only to `runner: custom`",
        ));
    }
    Ok(cwd)
}

/// What running the tests gave.
enum Ran {
    /// The tests ran (perhaps partly); evaluate them against the config.
    Finished(Run),
    /// Nothing compiled, so nothing ran.
    Uncompiled(Vec<libtest::CompileError>),
    /// The tool did not run or its output made no sense: this outcome.
    Stopped(Outcome),
}

/// Tests a runner reported, and what else went wrong.
struct Run {
    /// `cargo test`, `pytest`, `` `make test` ``.
    tool: String,
    /// `ignored` (cargo) or `skipped`.
    skipped_word: &'static str,
    tests: Vec<TestCase>,
    counts: Counts,
    /// Findings about the run itself (timeout, crashed binary, odd exit).
    problems: Vec<Finding>,
    /// How to rerun one test, for hints.
    rerun: Rerun,
    /// The test run's working directory, for hints.
    cwd: String,
}

enum Rerun {
    Cargo,
    Pytest,
    Custom(String),
}

impl Run {
    /// "reproduce with `cargo test NAME`" (all tests when `test` is empty).
    fn rerun_hint(&self, test: &str) -> String {
        let filter = if test.is_empty() {
            String::new()
        } else {
            format!(" {}", shell_word(test))
        };
        let command = match &self.rerun {
            Rerun::Cargo => format!("cargo test{filter}"),
            Rerun::Pytest => format!("python3 -m pytest{filter}"),
            Rerun::Custom(command) => command.clone(),
        };
        if self.cwd == "." {
            format!("reproduce with `{command}`")
        } else {
            format!("reproduce with `{command}` in `{}`", self.cwd)
        }
    }
}

fn shell_word(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-:./=".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn run_cargo(config: &Config, cx: &Context, cwd: &str) -> Ran {
    let mut command = Command::new("cargo")
        .args(["test", "--no-fail-fast", "--color=never"])
        .args(config.args.iter().cloned())
        .env("RUST_BACKTRACE", "0")
        .env("CARGO_TERM_COLOR", "never");
    if cwd != "." {
        command = command.cwd(cwd);
    }
    let tool = "cargo test";
    let out = match cx.exec(&command) {
        Ok(out) => out,
        Err(error) => return Ran::Stopped(refused(&error, tool)),
    };
    let parsed = libtest::parse(&out.stdout);
    let mut problems = run_problems(&out, tool, true);

    let crashes = libtest::crashes(&out.stderr);
    for crash in &crashes {
        let rerun = match &crash.target {
            Some(target) => format!("cargo test {target}"),
            None => "cargo test".to_owned(),
        };
        let unreported = if parsed.unreported > 0 {
            format!(
                "; {} test{} never reported a result",
                parsed.unreported,
                if parsed.unreported == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        problems.push(
            Finding::error(format!(
                "a test binary crashed before reporting all its results: process didn't exit successfully: {}{unreported}",
                crash.reason
            ))
            .fix_hint(format!(
                "run `{rerun}` to see which test aborts the process (stack overflow, `abort`, a signal) and fix it"
            ))
            .code("test-binary-crashed"),
        );
    }

    let any_failure =
        parsed.counts.failed > 0 || parsed.tests.iter().any(|t| t.status.is_failure());
    if !out.success() && !out.timed_out && crashes.is_empty() && !any_failure {
        let errors = libtest::compile_errors(&out.stderr);
        if parsed.result_lines == 0 && parsed.tests.is_empty() {
            if errors.is_empty() {
                return Ran::Stopped(
                    Outcome::from_findings(vec![tool_failed(&out, tool, cwd)])
                        .with_summary("cargo test failed before running any test"),
                );
            }
            return Ran::Uncompiled(errors);
        }
        if errors.is_empty() {
            problems.push(tool_failed(&out, tool, cwd));
        } else {
            let resolver = Resolver::new(cx.workspace(), cwd);
            problems.extend(errors.iter().map(|e| compile_finding(e, Some(&resolver))));
        }
    }

    Ran::Finished(Run {
        tool: tool.to_owned(),
        skipped_word: "ignored",
        counts: parsed.counts,
        tests: parsed.tests,
        problems,
        rerun: Rerun::Cargo,
        cwd: cwd.to_owned(),
    })
}

fn run_pytest(config: &Config, cx: &Context, cwd: &str) -> Result<Ran> {
    let tool = "pytest";
    let scratch = cx.scratch_dir()?;
    let report = format!("{scratch}/junit.xml");
    let mut command = Command::new("python3")
        .args(["-m", "pytest", "-q", "-o", "junit_family=xunit1"])
        .arg(format!("--junitxml={}", from_cwd(cwd, &report)))
        .args(config.args.iter().cloned())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if cwd != "." {
        command = command.cwd(cwd);
    }
    let previous = cx.workspace().read(&report).ok();
    let out = match cx.exec(&command) {
        Ok(out) => out,
        Err(error) => return Ok(Ran::Stopped(refused(&error, tool))),
    };
    if pytest_missing(&out) {
        return Ok(Ran::Stopped(
            Outcome::from_findings(vec![
                Finding::error(format!(
                    "pytest is not installed for the `python3` on PATH: {}",
                    tail(&out.stderr, 3)
                ))
                .fix_hint(
                    "install pytest for that interpreter (`python3 -m pip install pytest`), or put the project's virtualenv `bin/` first on PATH before starting checkrail",
                )
                .code("tool-not-found"),
            ])
            .with_summary("pytest did not run: it is not installed"),
        ));
    }
    let mut problems = run_problems(&out, tool, false);
    let tests = match read_report(
        cx.workspace(),
        &report,
        previous.as_deref(),
        &out,
        tool,
        cwd,
    ) {
        Ok(tests) => tests,
        Err(outcome) => return Ok(Ran::Stopped(outcome)),
    };
    // Exit 5: no tests were collected; min_passed judges that.
    if !out.success() && out.exit_code != Some(5) && !out.timed_out {
        check_exit_explained(&out, &tests, tool, cwd, &mut problems);
    }
    Ok(Ran::Finished(Run {
        tool: tool.to_owned(),
        skipped_word: "skipped",
        counts: Counts::of(&tests),
        tests,
        problems,
        rerun: Rerun::Pytest,
        cwd: cwd.to_owned(),
    }))
}

fn run_custom(config: &Config, cx: &Context, cwd: &str) -> Result<Ran> {
    let (Some(spec), Some(report)) = (&config.command, &config.report) else {
        return Err(Error::new(
            "use the config: `runner: custom` needs `command` and `report`",
        ));
    };
    let uses_scratch =
        report.contains("{scratch}") || spec.args.iter().any(|a| a.contains("{scratch}"));
    let scratch = if uses_scratch {
        Some(cx.scratch_dir()?)
    } else {
        None
    };
    let scratch_ws = scratch.as_deref().unwrap_or(".");
    let report = normalize_path(&report.replace("{scratch}", scratch_ws)).map_err(|_| {
        Error::new(format!(
            "use `report` `{report}`: it leads outside the workspace; give a workspace-relative path"
        ))
    })?;
    let scratch_arg = from_cwd(cwd, scratch_ws);
    let args: Vec<String> = spec
        .args
        .iter()
        .map(|a| a.replace("{scratch}", &scratch_arg))
        .collect();
    let display = std::iter::once(spec.program.as_str())
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let tool = format!("`{display}`");

    let before = cx.workspace().read(&report).ok();
    let mut command = Command::new(spec.program.clone()).args(args);
    if cwd != "." {
        command = command.cwd(cwd);
    }
    let out = match cx.exec(&command) {
        Ok(out) => out,
        Err(error) => return Ok(Ran::Stopped(refused(&error, &tool))),
    };
    let mut problems = run_problems(&out, &tool, false);
    let tests = match read_report(cx.workspace(), &report, None, &out, &tool, cwd) {
        Ok(tests) => tests,
        Err(outcome) => return Ok(Ran::Stopped(outcome)),
    };
    if before.is_some() && before == cx.workspace().read(&report).ok() {
        problems.push(
            Finding::warning(format!(
                "the report `{report}` is byte for byte what it was before {tool} ran; it may be stale"
            ))
            .path(&report)
            .fix_hint("write the report to `{scratch}/…` (and pass `{scratch}` in the command's arguments) so every check reads a fresh one")
            .code("stale-report"),
        );
    }
    if !out.success() && !out.timed_out {
        check_exit_explained(&out, &tests, &tool, cwd, &mut problems);
    }
    Ok(Ran::Finished(Run {
        tool: spec.program.clone(),
        skipped_word: "skipped",
        counts: Counts::of(&tests),
        tests,
        problems,
        rerun: Rerun::Custom(display),
        cwd: cwd.to_owned(),
    }))
}

/// `python3 -m pytest` failed because pytest is not installed
/// (`/usr/bin/python3: No module named pytest`).
fn pytest_missing(out: &Output) -> bool {
    !out.success()
        && [&out.stderr, &out.stdout].iter().any(|text| {
            text.lines()
                .any(|l| l.trim_end().ends_with("No module named pytest"))
        })
}

/// `path` (workspace-relative) as seen from `cwd` (workspace-relative).
fn from_cwd(cwd: &str, path: &str) -> String {
    if cwd == "." {
        return path.to_owned();
    }
    let depth = cwd.split('/').count();
    format!("{}{path}", "../".repeat(depth))
}

/// The JUnit report's tests, or the failing outcome saying why there are none.
/// With `previous` (the report's bytes before the run), a report that is
/// unchanged counts as not written: it is left over from an earlier run.
fn read_report(
    ws: &Workspace,
    report: &str,
    previous: Option<&[u8]>,
    out: &Output,
    tool: &str,
    cwd: &str,
) -> std::result::Result<Vec<TestCase>, Outcome> {
    let base = if tool == "pytest" {
        junit::LineBase::Zero
    } else {
        junit::LineBase::One
    };
    let text = ws
        .read_to_string(report)
        .map_err(|error| error.to_string())
        .and_then(|text| match previous {
            Some(previous) if previous == text.as_bytes() => {
                Err("the file there is left over from an earlier run".to_owned())
            }
            _ => Ok(text),
        });
    let text = text.map_err(|error| {
        Outcome::from_findings(vec![
            Finding::error(format!(
                "{tool} exited with {} and left no new JUnit report at `{report}` ({error}); its output ends:\n{}",
                exit_text(out),
                output_tail(out)
            ))
            .fix_hint(format!(
                "run {} yourself and fix what stops it from running the tests",
                in_dir(tool, cwd)
            ))
            .code("report-missing"),
        ])
        .with_summary(format!("{tool} wrote no test report"))
    })?;
    junit::parse(&text, base).map_err(|error| {
        Outcome::from_findings(vec![
            Finding::error(format!(
                "the JUnit report `{report}` that {tool} wrote cannot be read: {error}"
            ))
            .path(report)
            .fix_hint("make the command write JUnit XML (`<testsuites>`/`<testsuite>` with `<testcase>` elements)")
            .code("report-invalid"),
        ])
        .with_summary(format!("{tool}'s test report could not be read"))
    })
}

/// A failing exit code needs a failing test to explain it; otherwise the
/// run is reported as failed with the end of its output.
fn check_exit_explained(
    out: &Output,
    tests: &[TestCase],
    tool: &str,
    cwd: &str,
    problems: &mut Vec<Finding>,
) {
    if !tests.iter().any(|t| t.status.is_failure()) {
        problems.push(tool_failed(out, tool, cwd));
    }
}

fn in_dir(tool: &str, cwd: &str) -> String {
    let tool = if tool.starts_with('`') {
        tool.to_owned()
    } else {
        format!("`{tool}`")
    };
    if cwd == "." {
        tool
    } else {
        format!("{tool} in `{cwd}`")
    }
}

fn exit_text(out: &Output) -> String {
    match out.exit_code {
        Some(code) => format!("status {code}"),
        None if out.timed_out => "no status (stopped at its time limit)".to_owned(),
        None => "no status (killed by a signal)".to_owned(),
    }
}

fn output_tail(out: &Output) -> String {
    let stderr = tail(&out.stderr, 20);
    if stderr.is_empty() {
        let stdout = tail(&out.stdout, 20);
        if stdout.is_empty() {
            "(no output)".to_owned()
        } else {
            stdout
        }
    } else {
        stderr
    }
}

/// The tool exited with a failure that no parsed test explains.
fn tool_failed(out: &Output, tool: &str, cwd: &str) -> Finding {
    Finding::error(format!(
        "{} exited with {} but reported no failing test; its output ends:\n{}",
        in_dir(tool, cwd),
        exit_text(out),
        output_tail(out)
    ))
    .fix_hint(format!(
        "run {} yourself and fix what it reports",
        in_dir(tool, cwd)
    ))
    .code("tool-failed")
}

/// Findings about the run itself: a timeout, cut output.
fn run_problems(out: &Output, tool: &str, parses_stdout: bool) -> Vec<Finding> {
    let mut problems = Vec::new();
    if out.timed_out {
        problems.push(
            Finding::error(format!(
                "{tool} was stopped at its time limit after {:.0?}; the results below are incomplete",
                out.duration
            ))
            .fix_hint("find the test that hangs or is slow (a loop, a deadlock, waiting on input or the network) and fix it")
            .code("timeout"),
        );
    }
    if parses_stdout && out.stdout_truncated {
        problems.push(
            Finding::warning(format!(
                "{tool}'s output passed the host's size cap and was cut; the counts may be incomplete"
            ))
            .fix_hint("make tests print less (output of passing tests is captured, failing ones print theirs)")
            .code("output-truncated"),
        );
    }
    problems
}

fn refused(error: &ExecError, tool: &str) -> Outcome {
    Outcome::from_findings(vec![error.to_finding()]).with_summary(format!("{tool} did not run"))
}

fn compile_finding(error: &libtest::CompileError, resolver: Option<&Resolver>) -> Finding {
    let quoted = match &error.code {
        Some(code) => format!("error[{code}]: {}", error.message),
        None => format!("error: {}", error.message),
    };
    let hint = match &error.code {
        Some(code) => format!(
            "the tests did not compile, so they did not run; fix this error (`rustc --explain {code}` explains it)"
        ),
        None => "the tests did not compile, so they did not run; fix this error".to_owned(),
    };
    let mut finding = Finding::error(quoted).fix_hint(hint).code(
        error
            .code
            .clone()
            .unwrap_or_else(|| "compile-error".to_owned()),
    );
    if let Some(location) = &error.location {
        match resolver.and_then(|r| r.pick(std::slice::from_ref(location))) {
            Some((path, loc)) => finding = place(finding, path, loc),
            None => {
                finding.message =
                    format!("{} (at {})", finding.message, describe_location(location));
            }
        }
    }
    finding
}

fn compile_failure(errors: Vec<libtest::CompileError>, resolver: &Resolver) -> Outcome {
    let n = errors.len();
    let findings = errors
        .iter()
        .map(|e| compile_finding(e, Some(resolver)))
        .collect();
    Outcome::from_findings(findings).with_summary(format!(
        "{n} compile error{} (cargo test); no test ran",
        if n == 1 { "" } else { "s" }
    ))
}

fn describe_location(location: &Location) -> String {
    match (location.line, location.column) {
        (Some(line), Some(column)) => format!("{}:{line}:{column}", location.path),
        (Some(line), None) => format!("{}:{line}", location.path),
        _ => location.path.clone(),
    }
}

fn place(mut finding: Finding, path: String, location: &Location) -> Finding {
    finding = finding.path(path);
    if let Some(line) = location.line {
        finding = finding.line(line);
    }
    if let Some(column) = location.column {
        finding = finding.column(column);
    }
    finding
}

/// Maps the paths tools print (relative to the cargo workspace, pytest's
/// rootdir, or the working directory) to workspace paths of files that
/// exist.
struct Resolver<'a> {
    ws: &'a Workspace,
    /// The working directory and each of its ancestors up to the root.
    bases: Vec<String>,
}

impl<'a> Resolver<'a> {
    fn new(ws: &'a Workspace, cwd: &str) -> Self {
        let mut bases = Vec::new();
        let mut dir = cwd.to_owned();
        loop {
            bases.push(dir.clone());
            if dir == "." {
                break;
            }
            dir = match dir.rsplit_once('/') {
                Some((parent, _)) => parent.to_owned(),
                None => ".".to_owned(),
            };
        }
        Self { ws, bases }
    }

    fn candidates(&self, raw: &str) -> Vec<String> {
        if raw.is_empty() || raw.starts_with(['/', '\\', '<']) || raw.contains("://") {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for base in &self.bases {
            if let Ok(path) = normalize_path(&format!("{base}/{raw}"))
                && !out.contains(&path)
            {
                out.push(path);
            }
        }
        out
    }

    /// The first location whose file exists in the workspace, with its
    /// workspace path.
    fn pick<'l>(&self, locations: &'l [Location]) -> Option<(String, &'l Location)> {
        let per: Vec<Vec<String>> = locations.iter().map(|l| self.candidates(&l.path)).collect();
        let flat: Vec<&str> = per.iter().flatten().map(String::as_str).collect();
        if flat.is_empty() {
            return None;
        }
        let answers = self.ws.stat_many(&flat);
        let mut k = 0;
        for (location, candidates) in locations.iter().zip(&per) {
            for candidate in candidates {
                if answers
                    .get(k)
                    .is_some_and(|a| a.as_ref().is_ok_and(|e| e.is_file()))
                {
                    return Some((candidate.clone(), location));
                }
                k += 1;
            }
        }
        None
    }
}

/// A finding about one test, placed at its best location.
fn test_finding(severity: Severity, test: &TestCase, verb: &str, resolver: &Resolver) -> Finding {
    let picked = resolver.pick(&test.locations);
    let source = picked.as_ref().and_then(|(_, l)| l.source.as_deref());
    let mut message = format!("test `{}` {verb}", test.name);
    if let Some(source) = source {
        message.push_str(&format!(" at `{source}`"));
    }
    if let Some(detail) = &test.detail {
        message.push_str(&format!(": {detail}"));
    }
    if picked.is_none()
        && let Some(first) = test.locations.first()
    {
        message.push_str(&format!(" (at {})", describe_location(first)));
    }
    let finding = Finding::new(severity, message);
    match picked {
        Some((path, location)) => place(finding, path, location),
        None => finding,
    }
}

fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Judges a run against the config.
fn evaluate(config: &Config, run: Run, resolver: &Resolver) -> Outcome {
    let expect_fail = config.expect == Expect::Fail;
    let min_passed = u64::from(config.min_passed.unwrap_or(if expect_fail { 0 } else { 1 }));
    let matches_any =
        |list: &[String], test: &TestCase| list.iter().any(|p| name_matches(&test.name, p));
    let is_required = |t: &TestCase| matches_any(&config.required, t);
    let is_allowed = |t: &TestCase| matches_any(&config.allowed_failures, t);
    let matching = |pattern: &str| -> Vec<&TestCase> {
        run.tests
            .iter()
            .filter(|t| name_matches(&t.name, pattern))
            .collect()
    };

    let mut findings: Vec<Finding> = Vec::new();
    let mut expected: Vec<&TestCase> = Vec::new();
    let mut blocking = 0usize;
    let mut overflow: Vec<&str> = Vec::new();
    for test in run.tests.iter().filter(|t| t.status.is_failure()) {
        let verb = if test.status == Status::Errored {
            "errored"
        } else {
            "failed"
        };
        let is_expected = expect_fail
            && if config.required.is_empty() {
                !is_allowed(test)
            } else {
                is_required(test)
            };
        if is_expected {
            expected.push(test);
            findings.push(
                test_finding(
                    Severity::Info,
                    test,
                    &format!("{verb} as expected"),
                    resolver,
                )
                .code("expected-failure"),
            );
        } else if is_allowed(test) && !is_required(test) {
            findings.push(
                test_finding(
                    Severity::Info,
                    test,
                    &format!("{verb} (allowed by `allowed_failures`)"),
                    resolver,
                )
                .code("allowed-failure"),
            );
        } else {
            blocking += 1;
            if blocking > MAX_DETAILED {
                overflow.push(&test.name);
                continue;
            }
            let hint = format!(
                "{}; fix the code under test so the test passes (change the test only if its expectation is wrong)",
                run.rerun_hint(&test.name)
            );
            let code = if test.status == Status::Errored {
                "test-error"
            } else {
                "test-failed"
            };
            findings.push(
                test_finding(Severity::Error, test, verb, resolver)
                    .fix_hint(hint)
                    .code(code),
            );
        }
    }
    if !overflow.is_empty() {
        let shown: Vec<String> = overflow.iter().take(20).map(|n| format!("`{n}`")).collect();
        let more = if overflow.len() > 20 { ", …" } else { "" };
        findings.push(
            Finding::error(format!(
                "{} more tests failed: {}{more}",
                overflow.len(),
                shown.join(", ")
            ))
            .fix_hint(format!(
                "{}; fix the failures above first",
                run.rerun_hint("")
            ))
            .code("test-failed"),
        );
    }

    for pattern in &config.allowed_failures {
        let found = matching(pattern);
        if !found.is_empty() && found.iter().all(|t| t.status == Status::Passed) {
            findings.push(
                Finding::info(format!(
                    "`{pattern}` is listed in `allowed_failures` but passes now"
                ))
                .fix_hint(format!("remove `{pattern}` from `allowed_failures`"))
                .code("allowed-failure-passes"),
            );
        }
    }

    let skip_hint = match run.rerun {
        Rerun::Cargo => "remove its `#[ignore]` so it runs",
        Rerun::Pytest => "remove its skip/xfail marker (or the condition that skips it) so it runs",
        Rerun::Custom(_) => "stop skipping it so it runs",
    };
    let total = run.counts.total();
    if !expect_fail {
        for pattern in &config.required {
            let found = matching(pattern);
            if found.is_empty() {
                findings.push(
                    Finding::error(format!(
                        "required test `{pattern}` did not run: none of the {} that ran is named `{pattern}` (or ends in `::{pattern}`)",
                        plural(total, "test")
                    ))
                    .fix_hint(format!(
                        "write the test `{pattern}`, or correct its name in `required`; check that `args` or `cwd` do not leave it out"
                    ))
                    .code("required-test-missing"),
                );
            } else if found.iter().all(|t| t.status == Status::Skipped) {
                findings.push(
                    Finding::error(format!(
                        "required test `{pattern}` was {}, so it did not show anything",
                        run.skipped_word
                    ))
                    .fix_hint(skip_hint)
                    .code("required-test-skipped"),
                );
            }
        }
    } else if config.required.is_empty() {
        if expected.is_empty() {
            findings.push(
                Finding::error(
                    "no test fails, but this checkpoint expects a new regression test that fails on the current code",
                )
                .fix_hint("write a test that reproduces the bug: it must build and run, and fail because of the bug; do not fix the bug in this phase")
                .code("no-failing-test"),
            );
        }
    } else if expected.is_empty() {
        for pattern in &config.required {
            let found = matching(pattern);
            if found.is_empty() {
                findings.push(
                    Finding::error(format!(
                        "test `{pattern}` does not exist; this checkpoint expects it to exist and fail on the current code (a regression test written before the fix)"
                    ))
                    .fix_hint(format!(
                        "write the test `{pattern}` so it reproduces the bug: it must build and run, and fail because of the bug; do not fix the bug in this phase"
                    ))
                    .code("required-test-missing"),
                );
            } else if found.iter().all(|t| t.status == Status::Skipped) {
                findings.push(
                    Finding::error(format!(
                        "test `{pattern}` was {}, but this checkpoint expects it to run and fail",
                        run.skipped_word
                    ))
                    .fix_hint(skip_hint)
                    .code("required-test-skipped"),
                );
            } else {
                findings.push(
                    Finding::error(format!(
                        "test `{pattern}` passes, but this checkpoint expects it to fail: it does not reproduce the bug"
                    ))
                    .fix_hint("make the test assert the correct behaviour that the bug breaks, so it fails on the current code; do not fix the bug in this phase")
                    .code("test-passed-unexpectedly"),
                );
            }
        }
    }

    // Shown only when fixing the blocking failures would not be enough.
    let blocking_failures = u64::try_from(blocking).unwrap_or(u64::MAX);
    if run.counts.passed.saturating_add(blocking_failures) < min_passed {
        let message = if total == 0 {
            format!(
                "no test ran; at least {} must pass",
                plural(min_passed, "test")
            )
        } else {
            format!(
                "{} of {total} passed; at least {min_passed} must",
                plural(run.counts.passed, "test")
            )
        };
        findings.push(
            Finding::error(message)
                .fix_hint("add tests for the change (and check that `cwd`, `args` and the test files let the runner find them)")
                .code("too-few-passed"),
        );
    }

    let mut all = run.problems;
    all.append(&mut findings);
    let outcome = Outcome::from_findings(all);
    let mut summary = format!("{} ({})", run.counts.describe(run.skipped_word), run.tool);
    if expect_fail && outcome.passed && !expected.is_empty() {
        let names: Vec<String> = expected
            .iter()
            .take(3)
            .map(|t| format!("`{}`", t.name))
            .collect();
        let more = if expected.len() > 3 { ", …" } else { "" };
        summary.push_str(&format!(
            "; {}{more} fail{} as expected",
            names.join(", "),
            if expected.len() == 1 { "s" } else { "" }
        ));
    }
    outcome.with_summary(clip(&summary, 300))
}

export_rule!(TestRule);

#[cfg(test)]
mod tests;
