//! `test`: the project's tests run and pass.
//!
//! Runs `cargo test`, `pytest`, `go test`, node's test runner, Jest,
//! Vitest, or a granted command that writes a JUnit report, and turns each failing test into a finding that names the test,
//! says why it failed and points at the failing line. It can also require
//! named tests, a minimum number of passing tests, allow known failures, and
//! (`expect: fail`) demand that a regression test fails, for a "write the
//! failing test first" phase.
//!
//! Every run records facts for later phases of the session: how each test
//! ended and a fingerprint of each `required` test's source.
//! `no_regressions_since` compares the run with the facts of an earlier
//! phase, so tests cannot disappear, be skipped, start failing, or (for
//! `required` ones) be rewritten after that phase.

mod gotest;
mod jsrunners;
mod junit;
mod libtest;
mod model;
mod regressions;
mod sha256;
mod source;
mod xml;

use checkrail_sdk::detect::{self, Project};
use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::tool::{self, CustomCommand, Tool, WorkspaceDir, clip, plural, quoted};
use checkrail_sdk::{
    Command, Context, Error, Finding, Outcome, Output, Result, Rule, Severity, Workspace,
    export_rule, normalize_path, tool_paths,
};

use jsrunners::JsRunner;
use model::{Counts, Kind, Location, Status, TestCase, name_matches, tail};
use regressions::Facts;
use source::{Lang, Wanted, base_name};

/// Which tests to run and what their results must be.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The test runner: `cargo` (`cargo test`), `pytest` (`python3 -m
    /// pytest`), `go` (`go test`), `node` (`node --test`), `jest`, `vitest`
    /// (`vitest run`), or `custom` (`command`, which writes the JUnit XML
    /// report `report`).
    pub runner: Runner,
    /// Workspace-relative directory to run the tests in (default: the
    /// workspace root).
    #[serde(default)]
    pub cwd: WorkspaceDir,
    /// Extra arguments appended to the runner's command line, e.g.
    /// `["--workspace"]` for cargo, `["tests/unit"]` for pytest, `["-t",
    /// "parser"]` for jest or vitest, `["test/unit/"]` for node. For cargo,
    /// do not pass `-q`: the rule needs the per-test lines.
    #[serde(default)]
    pub args: Vec<String>,
    /// Globs of the files the result depends on, replacing the runner's
    /// defaults (cargo: `**/*.rs`, `**/Cargo.toml`, `Cargo.lock`; pytest:
    /// `**/*.py`, `pytest.ini`, `pyproject.toml`, `setup.cfg`,
    /// `conftest.py`; node, jest, vitest: the JavaScript and TypeScript
    /// sources, JSON files and snapshots; custom: none, so never cached). While these files are
    /// unchanged the host reuses the previous result.
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
    /// Fewest tests that must pass (default 1 when `expect` is `pass`, so a
    /// run where no test passes fails; 0 when `expect` is `fail`).
    #[serde(default)]
    pub min_passed: Option<u32>,
    /// Tests that must exist, run and pass (with `expect: fail`: exist, run
    /// and fail). A name matches a test by its full name or by the part
    /// after a `::` (or a `/`): `parser::handles_empty` or `handles_empty`
    /// for cargo's `tests::parser::handles_empty`; `test_io.py::test_read`
    /// or `test_read` for pytest's `tests/test_io.py::test_read`;
    /// `math::adds` or `adds` for jest's and vitest's
    /// `test/calc.test.js::math::adds` (file, `describe` blocks, title) and
    /// node's `math::adds` (node's report does not name the file). A name
    /// without `[...]` also matches every parametrized case.
    ///
    /// With `expect: pass`, every test a name matches must have run and
    /// passed. Each of these is a separate blocking finding naming the
    /// test: no test matches (`required-test-missing`); it did not run
    /// (`required-test-not-run`): cargo `#[ignore]`, a pytest skip or
    /// xfail marker (an xfail test that passes is not a pass), JavaScript
    /// `.skip`, `.todo` or a `skip` option, left out by
    /// a name filter in `args` or pytest's `-k`/`-m`, in a module pytest
    /// could not collect, or never reported because the run crashed or
    /// timed out; it ran and failed or errored (`required-test-failed`).
    /// Listing a test in `allowed_failures` too does not excuse it.
    #[serde(default)]
    pub required: Vec<String>,
    /// Tests allowed to fail (matched like `required`); their failures are
    /// reported as information only. A test that is also `required` must
    /// still pass.
    #[serde(default)]
    pub allowed_failures: Vec<String>,
    /// `pass` (default): every test must pass, and `required` tests must
    /// exist and run. `fail`: this checkpoint wants regression tests that
    /// fail on the current code (a "write the failing test first" phase).
    /// Every `required` name must match a test that ran and failed at run
    /// time: an assertion or panic in the test itself (with no `required`:
    /// at least one test not in `allowed_failures`). These do not count
    /// as that failure, and each fails the check: a required test that
    /// passes (`required-test-passed`), is ignored, skipped, marked xfail
    /// or filtered out (`required-test-not-run`), does not exist
    /// (`required-test-missing`), or errored in setup, teardown or
    /// collection (`required-test-errored`); code that does not compile,
    /// a test module that does not import, a test binary that crashes, or
    /// a run that times out. Failures of other tests, not `required` and
    /// not allowed, still fail the check.
    #[serde(default)]
    pub expect: Expect,
    /// For `runner: custom`: the program (a granted program name looked up
    /// on PATH, not a path) and arguments that run the tests and write a
    /// JUnit XML report. `{scratch}` in the arguments is replaced by the
    /// scratch directory (relative to the command's working directory).
    #[serde(default)]
    pub command: Option<CustomCommand>,
    /// For `runner: custom`: the workspace-relative path of the JUnit XML
    /// report the command writes. `{scratch}` is replaced by a fresh
    /// scratch directory for this check (e.g. `{scratch}/junit.xml`, with
    /// `{scratch}` also in the command's arguments).
    #[serde(default)]
    pub report: Option<String>,
    /// Id of an earlier phase of the session to compare with (e.g. `red`,
    /// where `expect: fail` wanted the regression test to fail). Every run
    /// records how each test ended and a fingerprint of each `required`
    /// test's source (its attributes or decorators and body; trailing
    /// whitespace and indentation aside). With this set, each of these is a
    /// blocking finding naming the test: a test that ran at that phase is
    /// gone now (`test-removed`), or was not ignored, skipped or xfail then
    /// and is now (`test-now-skipped`); a test that passed then fails now
    /// (`test-regressed`; a test that failed then, such as the regression
    /// test, only has to pass now); a `required` test's source differs
    /// from what it was then (`required-test-changed`: it is frozen since
    /// that phase, so fix the code, not the test) or its function is gone
    /// (`required-test-removed`). When the session recorded nothing for
    /// this rule at that phase (or the check runs outside a session), the
    /// check fails with `no-baseline`.
    #[serde(default)]
    pub no_regressions_since: Option<String>,
}

/// The test runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Runner {
    /// `cargo test --no-fail-fast --color=never`, parsing libtest's output
    /// (unit, integration and doc-tests).
    Cargo,
    /// `python3 -m pytest -q` with a JUnit XML report.
    Pytest,
    /// `go test -json ./...` (or the packages in `args`), each failing test
    /// at its `file_test.go:line`.
    Go,
    /// `node --test` with its JUnit reporter writing to a scratch directory
    /// (and its spec reporter on stdout); test files as node finds them, or
    /// as `args` name them.
    Node,
    /// `jest --ci --json --outputFile=… --testLocationInResults`, its cache
    /// in a scratch directory; new snapshots are never written.
    Jest,
    /// `vitest run --globals --no-cache` with its JUnit reporter writing to
    /// a scratch directory, so test files need not import `vitest`.
    Vitest,
    /// A granted command that writes a JUnit XML report to `report`.
    Custom,
    /// Told by the workspace: `Cargo.toml` → cargo, a Python project or
    /// Python sources → pytest, `go.mod` → go, `package.json` → jest or
    /// vitest when it names one (or its config file is there), else node.
    /// The report says what was found.
    Auto,
}

/// What the tests must do.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Every test passes.
    #[default]
    Pass,
    /// The regression tests (every one of `required`, or any one test)
    /// fail at run time.
    Fail,
}

/// Most failing tests reported one finding each; the rest share one.
const MAX_DETAILED: usize = 50;

/// The rule.
pub struct TestRule;

impl Rule for TestRule {
    type Config = Config;
    const ID: &'static str = "test";
    const DESCRIPTION: &'static str = "The project's tests run and pass (cargo test, pytest, go test, node --test, Jest, Vitest, or a command writing a JUnit report): required tests exist, enough pass, and a regression-test phase can require a failing test.";
    const CAPABILITIES: &'static [&'static str] = &[
        "exec:cargo",
        "exec:python3",
        "exec:go",
        "exec:node",
        "exec:jest",
        "exec:vitest",
        "exec:*",
    ];
    const JUDGING_FILES: &'static [&'static str] = &[
        // cargo
        ".cargo/config",
        ".cargo/config.toml",
        "rust-toolchain",
        "rust-toolchain.toml",
        // pytest
        "conftest.py",
        "**/conftest.py",
        "pytest.ini",
        "pyproject.toml",
        "setup.cfg",
        "tox.ini",
        // jest, vitest (which reads vite's config too), in any package
        "jest.config.js",
        "jest.config.cjs",
        "jest.config.mjs",
        "jest.config.ts",
        "jest.config.json",
        "vitest.config.js",
        "vitest.config.mjs",
        "vitest.config.cjs",
        "vitest.config.ts",
        "vitest.config.mts",
        "vitest.config.cts",
        "vitest.workspace.js",
        "vitest.workspace.ts",
        "vite.config.js",
        "vite.config.mjs",
        "vite.config.cjs",
        "vite.config.ts",
        "vite.config.mts",
        "**/jest.config.*",
        "**/vitest.config.*",
        "**/vitest.workspace.*",
        "**/vite.config.*",
    ];

    fn check(config: Config, cx: &Context) -> Result<Outcome> {
        let (config, detected) = resolve(config, cx)?;
        let outcome = judge(config, cx)?;
        Ok(match detected {
            Some(note) => outcome.finding(note),
            None => outcome,
        })
    }

    fn inputs(config: &Config) -> Vec<String> {
        if let Some(inputs) = &config.inputs {
            return inputs.clone();
        }
        let cwd = (!config.cwd.is_root()).then_some(&config.cwd);
        let (globs, root_files): (&[&str], &[&str]) = match config.runner {
            Runner::Cargo => (&["**/*.rs", "**/Cargo.toml"], &["Cargo.lock"]),
            Runner::Pytest => (
                &["**/*.py"],
                &["pytest.ini", "pyproject.toml", "setup.cfg", "conftest.py"],
            ),
            Runner::Go => (&["**/*.go", "**/go.mod", "**/go.sum"], &[]),
            Runner::Node | Runner::Jest | Runner::Vitest => (jsrunners::INPUTS, &[]),
            Runner::Custom => return Vec::new(),
            Runner::Auto => (&["**"], &[]),
        };
        let mut inputs: Vec<String> = globs.iter().map(|g| (*g).to_owned()).collect();
        for file in root_files {
            inputs.push((*file).to_owned());
            inputs.extend(cwd.and_then(|cwd| cwd.join(file)));
        }
        inputs
    }
}

/// Runs the resolved runner and judges what it reports.
fn judge(config: Config, cx: &Context) -> Result<Outcome> {
    validate(&config)?;
    let cwd = config.cwd.as_str();
    let ran = match config.runner {
        Runner::Cargo => run_cargo(&config, cx),
        Runner::Pytest => run_pytest(&config, cx)?,
        Runner::Go => run_go(&config, cx)?,
        Runner::Node => run_js(&config, cx, JsRunner::Node)?,
        Runner::Jest => run_js(&config, cx, JsRunner::Jest)?,
        Runner::Vitest => run_js(&config, cx, JsRunner::Vitest)?,
        Runner::Custom => run_custom(&config, cx)?,
        Runner::Auto => return Err(Error::new("`runner: auto` was not resolved")),
    };

    let resolver = Resolver::new(cx.workspace(), cwd);
    let since = Since::load(&config, cx);
    let tests = match &ran {
        Ran::Finished(run) => run.tests.as_slice(),
        _ => &[],
    };
    let wanted = wanted_sources(&config, tests, since.facts(), &resolver);
    let langs: &[Lang] = match config.runner {
        Runner::Cargo => &[Lang::Rust],
        Runner::Pytest => &[Lang::Python],
        Runner::Node | Runner::Jest | Runner::Vitest => &[Lang::Script],
        Runner::Custom | Runner::Auto => &[Lang::Python, Lang::Rust],
        // Go sources are not fingerprinted: `required` tests are judged by
        // their results only.
        Runner::Go => &[],
    };
    let sources = source::fingerprints(cx.workspace(), cwd, langs, &wanted);
    // The sources can be compared whether or not the tests ran.
    let mut extra = since.source_findings(&config.required, &sources);
    Ok(match ran {
        Ran::Finished(run) => {
            let facts = Facts::of(&run.tests, run.skipped_word, &sources);
            extra.extend(since.test_findings(&facts, &run));
            let outcome = evaluate(&config, run, &resolver, extra);
            match facts.to_json() {
                Some(value) => outcome.with_facts(value),
                None => outcome,
            }
        }
        // Nothing ran, so there is nothing to record.
        Ran::Stopped(outcome) => extra.into_iter().fold(outcome, Outcome::finding),
        Ran::Uncompiled(errors) => extra
            .into_iter()
            .fold(compile_failure(errors, &resolver), Outcome::finding),
    })
}

/// With `runner: auto`, the runner the workspace calls for, and an
/// information finding saying what was found.
fn resolve(mut config: Config, cx: &Context) -> Result<(Config, Option<Finding>)> {
    if config.runner != Runner::Auto {
        return Ok((config, None));
    }
    let ws = cx.workspace();
    let dir = config.cwd.as_str();
    // Within a JavaScript or TypeScript package, `package.json` and the
    // runners' config files tell which runner.
    if let Some(found) = detect::project(ws, dir)?
        && matches!(found.project, Project::JavaScript | Project::TypeScript)
    {
        let (runner, because) = detect::js::test_runner(ws, dir)?;
        config.runner = match runner {
            detect::js::JsTestRunner::Node => Runner::Node,
            detect::js::JsTestRunner::Jest => Runner::Jest,
            detect::js::JsTestRunner::Vitest => Runner::Vitest,
        };
        let note = Finding::info(format!(
            "runner: auto → {runner} ({because}, a {} project)",
            found.project
        ))
        .code("detected");
        return Ok((config, Some(note)));
    }
    let (runner, note) = detect::choose(
        cx.workspace(),
        Some(config.cwd.as_str()),
        "runner",
        "use `runner: custom` with a command that writes a JUnit XML report",
        |project| match project {
            Project::Rust => Some((Runner::Cargo, "cargo")),
            Project::Python => Some((Runner::Pytest, "pytest")),
            Project::Go => Some((Runner::Go, "go test")),
            _ => None,
        },
    )?;
    config.runner = runner;
    Ok((config, Some(note)))
}

/// The facts `no_regressions_since` compares with.
enum Since {
    /// Not set.
    Off,
    /// Set, and the session recorded facts at that phase.
    Found { phase: String, facts: Facts },
    /// Set, but there is nothing (`unreadable`: nothing usable) to compare
    /// with.
    Missing { phase: String, unreadable: bool },
}

impl Since {
    fn load(config: &Config, cx: &Context) -> Self {
        let Some(phase) = config.no_regressions_since.clone() else {
            return Self::Off;
        };
        match cx.baseline(&phase).map(Facts::deserialize) {
            Some(Ok(facts)) => Self::Found { phase, facts },
            Some(Err(_)) => Self::Missing {
                phase,
                unreadable: true,
            },
            None => Self::Missing {
                phase,
                unreadable: false,
            },
        }
    }

    fn facts(&self) -> Option<&Facts> {
        match self {
            Self::Found { facts, .. } => Some(facts),
            _ => None,
        }
    }

    /// Frozen `required` tests that changed or are gone; `no-baseline` when
    /// there is nothing to compare with.
    fn source_findings(
        &self,
        required: &[String],
        now: &std::collections::BTreeMap<String, source::Found>,
    ) -> Vec<Finding> {
        match self {
            Self::Off => Vec::new(),
            Self::Missing { phase, unreadable } => {
                vec![regressions::no_baseline(phase, *unreadable)]
            }
            Self::Found { phase, facts } => {
                let frozen = regressions::frozen(facts, required);
                regressions::compare_sources(phase, facts, &frozen, now)
            }
        }
    }

    /// Tests gone, skipped or failing since the phase.
    fn test_findings(&self, now: &Facts, run: &Run) -> Vec<Finding> {
        let Self::Found { phase, facts } = self else {
            return Vec::new();
        };
        let mut why = run.incomplete.clone();
        let uncollected = run
            .tests
            .iter()
            .filter(|t| t.kind == Kind::Collection)
            .count();
        if uncollected > 0 {
            why.push(format!(
                "{} could not collect {}",
                run.tool,
                plural(uncollected, "module")
            ));
        }
        if run.filtered > 0 {
            why.push(format!(
                "{} left out by the arguments",
                plural(run.filtered, "test")
            ));
        }
        regressions::compare_tests(phase, facts, now, &why)
    }
}

/// The tests whose source to fingerprint: those the `required` names match
/// in this run, and those frozen at the `no_regressions_since` phase.
fn wanted_sources(
    config: &Config,
    tests: &[TestCase],
    then: Option<&Facts>,
    resolver: &Resolver,
) -> Vec<Wanted> {
    let mut wanted: Vec<Wanted> = Vec::new();
    for test in tests.iter().filter(|t| t.kind != Kind::Collection) {
        if !config.required.iter().any(|p| name_matches(&test.name, p)) {
            continue;
        }
        let name = base_name(&test.name);
        if wanted.iter().any(|w| w.name == name) {
            continue;
        }
        wanted.push(Wanted {
            name: name.to_owned(),
            files: resolver
                .pick(&test.locations)
                .map(|(path, _)| path)
                .into_iter()
                .collect(),
        });
    }
    if let Some(then) = then {
        for name in regressions::frozen(then, &config.required) {
            if !wanted.iter().any(|w| w.name == name) {
                wanted.push(Wanted {
                    name: name.to_owned(),
                    files: Vec::new(),
                });
            }
        }
    }
    wanted
}

/// Checks what the schema cannot say.
fn validate(config: &Config) -> Result<()> {
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
    Ok(())
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
    /// Tests a filter in the arguments left out (cargo's `filtered out`,
    /// pytest's `deselected`): they exist but did not run.
    filtered: u64,
    /// Why tests may be missing from `tests`: a crash, a timeout, targets
    /// that did not compile. A required test that is not there may be one.
    incomplete: Vec<String>,
    /// Findings about the run itself (timeout, crashed binary, odd exit).
    problems: Vec<Finding>,
    /// How to rerun one test, for hints.
    rerun: Rerun,
    /// The test run's working directory, for hints.
    cwd: WorkspaceDir,
}

enum Rerun {
    Cargo,
    Pytest,
    Go,
    Js(JsRunner),
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
            Rerun::Go => format!("go test{filter} ./..."),
            Rerun::Js(runner) => {
                // The runners filter by title, not by the `file::block::`
                // name.
                let title = test.rsplit("::").next().unwrap_or(test);
                let filter = if title.is_empty() {
                    String::new()
                } else {
                    shell_word(title)
                };
                match (runner, filter.is_empty()) {
                    (JsRunner::Node, true) => "node --test".to_owned(),
                    (JsRunner::Node, false) => format!("node --test --test-name-pattern {filter}"),
                    (JsRunner::Jest, true) => "jest".to_owned(),
                    (JsRunner::Jest, false) => format!("jest -t {filter}"),
                    (JsRunner::Vitest, true) => "vitest run".to_owned(),
                    (JsRunner::Vitest, false) => format!("vitest run -t {filter}"),
                }
            }
            Rerun::Custom(command) => command.clone(),
        };
        format!("reproduce with `{command}`{}", self.cwd.in_dir())
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

/// The runner as a [`Tool`] named `label`, run in `cwd`.
fn tester(label: &str, config: &Config) -> Tool {
    Tool::new(label, &config.cwd)
        .again("run the tests again")
        .slow_hint("find the test that hangs or is slow (a loop, a deadlock, waiting on input or the network) and fix it")
}

fn run_cargo(config: &Config, cx: &Context) -> Ran {
    let cwd = config.cwd.as_str();
    let command = Command::new("cargo")
        .args(["test", "--no-fail-fast", "--color=never"])
        .args(config.args.iter().cloned())
        .env("RUST_BACKTRACE", "0")
        .env("CARGO_TERM_COLOR", "never");
    let tool = "cargo test";
    let ran = match tester(tool, config).run(cx, command) {
        Ok(ran) => ran,
        Err(refused) => return Ran::Stopped(refused),
    };
    let out = &ran.output;
    let parsed = libtest::parse(&out.stdout);
    let mut problems = run_problems(&ran, true);

    let crashes = libtest::crashes(&out.stderr);
    for crash in &crashes {
        let rerun = match &crash.target {
            Some(target) => format!("cargo test {target}"),
            None => "cargo test".to_owned(),
        };
        let unreported = if parsed.unreported > 0 {
            format!(
                "; {} never reported a result",
                plural(parsed.unreported, "test")
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

    let mut incomplete = Vec::new();
    if !crashes.is_empty() {
        incomplete.push("a test binary crashed before reporting all its results".to_owned());
    }
    if out.timed_out {
        incomplete.push(format!("{tool} was stopped at its time limit"));
    }
    let any_failure =
        parsed.counts.failed > 0 || parsed.tests.iter().any(|t| t.status.is_failure());
    let unexplained = !out.success() && !out.timed_out && crashes.is_empty() && !any_failure;
    // A target that did not compile is never excused by failing tests in
    // another: its own tests did not run.
    let build_failed = !out.success() && libtest::build_failed(&out.stderr);
    if unexplained || build_failed {
        let errors = libtest::compile_errors(&out.stderr);
        if parsed.result_lines == 0 && parsed.tests.is_empty() {
            if errors.is_empty() {
                return Ran::Stopped(
                    Outcome::from_findings(vec![ran.failed("a failing test")])
                        .with_summary("cargo test failed before running any test"),
                );
            }
            return Ran::Uncompiled(errors);
        }
        if !errors.is_empty() {
            let resolver = Resolver::new(cx.workspace(), cwd);
            problems.extend(errors.iter().map(|e| compile_finding(e, Some(&resolver))));
        } else if unexplained {
            problems.push(ran.failed("a failing test"));
        }
        if build_failed {
            incomplete
                .push("some test targets did not compile, so their tests did not run".to_owned());
        }
    }

    Ran::Finished(Run {
        tool: tool.to_owned(),
        skipped_word: "ignored",
        counts: parsed.counts,
        tests: parsed.tests,
        filtered: parsed.filtered_out,
        incomplete,
        problems,
        rerun: Rerun::Cargo,
        cwd: config.cwd.clone(),
    })
}

fn run_pytest(config: &Config, cx: &Context) -> Result<Ran> {
    let tool = "pytest";
    let scratch = cx.scratch_dir()?;
    let report = format!("{scratch}/junit.xml");
    let command = Command::new("python3")
        // `-rfEX` adds XPASS lines to the summary: the report shows an xfail
        // test that passed as a plain pass.
        .args(["-m", "pytest", "-q", "-rfEX", "-o", "junit_family=xunit1"])
        .arg(format!("--junitxml={}", config.cwd.path_from_here(&report)))
        .args(config.args.iter().cloned())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let previous = cx.workspace().read(&report).ok();
    let ran = match tester(tool, config).run(cx, command) {
        Ok(ran) => ran,
        Err(refused) => return Ok(Ran::Stopped(refused)),
    };
    let out = &ran.output;
    if pytest_missing(out) {
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
    let mut problems = run_problems(&ran, false);
    let report = match read_report(cx.workspace(), &report, previous.as_deref(), &ran, true) {
        Ok(report) => report,
        Err(outcome) => return Ok(Ran::Stopped(outcome)),
    };
    problems.extend(unlisted_errors(&report, &ran));
    let mut tests = report.tests;
    mark_xpassed(&mut tests, &out.stdout);
    // Exit 5: no tests were collected; min_passed judges that.
    if !out.success() && out.exit_code != Some(5) && !out.timed_out {
        check_exit_explained(&ran, &tests, &mut problems);
    }
    Ok(Ran::Finished(Run {
        tool: tool.to_owned(),
        skipped_word: "skipped",
        counts: Counts::of(&tests),
        tests,
        filtered: pytest_deselected(&out.stdout),
        incomplete: timed_out(out, tool),
        problems,
        rerun: Rerun::Pytest,
        cwd: config.cwd.clone(),
    }))
}

fn run_go(config: &Config, cx: &Context) -> Result<Ran> {
    let tool = "go test";
    let cwd = config.cwd.as_str();
    // Arguments that name packages replace `./...`.
    let packages = (!config.args.iter().any(|a| !a.starts_with('-'))).then_some("./...");
    let command = Command::new("go")
        .args(["test", "-json"])
        .args(config.args.iter().cloned())
        .args(packages);
    let ran = match tester(tool, config).run(cx, command) {
        Ok(ran) => ran,
        Err(refused) => return Ok(Ran::Stopped(refused)),
    };
    let out = &ran.output;
    let module = go_module(cx.workspace(), &config.cwd);
    let parsed = gotest::parse(&out.stdout, &out.stderr, module.as_deref());
    if parsed.tests.is_empty() && !parsed.build_errors.is_empty() {
        return Ok(Ran::Uncompiled(parsed.build_errors));
    }
    let resolver = Resolver::new(cx.workspace(), cwd);
    let mut problems = run_problems(&ran, true);
    problems.extend(
        parsed
            .build_errors
            .iter()
            .map(|e| compile_finding(e, Some(&resolver))),
    );
    for package in &parsed.failed_packages {
        problems.push(
            Finding::error(format!(
                "package `{package}` failed without a failing test (a build failure, a panic outside a test, or `TestMain` exiting){}",
                match tail(&out.stdout, 3) {
                    t if t.is_empty() => String::new(),
                    t => format!(": {t}"),
                }
            ))
            .fix_hint(format!("run `go test {package}` to see why"))
            .code("package-failed"),
        );
    }
    let tests = parsed.tests;
    Ok(Ran::Finished(Run {
        tool: tool.to_owned(),
        skipped_word: "skipped",
        counts: Counts::of(&tests),
        tests,
        filtered: 0,
        incomplete: timed_out(out, tool),
        problems,
        rerun: Rerun::Go,
        cwd: config.cwd.clone(),
    }))
}

/// Runs node's test runner, Jest or Vitest with its report in a fresh
/// scratch directory, and reads the report.
fn run_js(config: &Config, cx: &Context, runner: JsRunner) -> Result<Ran> {
    let scratch = cx.scratch_dir()?;
    let here = |path: &str| config.cwd.path_from_here(&format!("{scratch}/{path}"));
    let (tool, report, command) = match runner {
        JsRunner::Node => (
            "node --test",
            "junit.xml",
            Command::new("node").args([
                "--test".to_owned(),
                "--test-reporter=junit".to_owned(),
                format!("--test-reporter-destination={}", here("junit.xml")),
                "--test-reporter=spec".to_owned(),
                "--test-reporter-destination=stdout".to_owned(),
            ]),
        ),
        JsRunner::Jest => (
            "jest",
            "jest.json",
            Command::new("jest").args([
                "--ci".to_owned(),
                "--json".to_owned(),
                format!("--outputFile={}", here("jest.json")),
                "--testLocationInResults".to_owned(),
                format!("--cacheDirectory={}", here("jest-cache")),
                "--no-watchman".to_owned(),
                // No test at all is for `min_passed` to judge.
                "--passWithNoTests".to_owned(),
            ]),
        ),
        JsRunner::Vitest => (
            "vitest run",
            "junit.xml",
            Command::new("vitest").args([
                "run".to_owned(),
                "--globals".to_owned(),
                // Else it writes its results cache into the project.
                "--no-cache".to_owned(),
                "--reporter=junit".to_owned(),
                format!("--outputFile.junit={}", here("junit.xml")),
                "--reporter=default".to_owned(),
                "--passWithNoTests".to_owned(),
                "--exclude".to_owned(),
                "**/.checkrail/**".to_owned(),
            ]),
        ),
    };
    let command = command
        .args(config.args.iter().cloned())
        .env("NO_COLOR", "1");
    let ran = match tester(tool, config).run(cx, command) {
        Ok(ran) => ran,
        Err(refused) => return Ok(Ran::Stopped(refused)),
    };
    let out = &ran.output;
    let report = format!("{scratch}/{report}");
    let name = ran.name();
    let text = match cx.workspace().read_to_string(&report) {
        Ok(text) => text,
        Err(error) => {
            return Ok(Ran::Stopped(
                Outcome::from_findings(vec![
                    Finding::error(format!(
                        "{name} ended with {} and wrote no report ({error}){}",
                        ran.exit(),
                        ran.tail()
                    ))
                    .fix_hint(format!(
                        "run {name} yourself and fix what stops it from running the tests (its config, a missing package, the arguments in `args`)"
                    ))
                    .code("report-missing"),
                ])
                .with_summary(format!("{name} wrote no test report")),
            ));
        }
    };
    let cases = match runner {
        JsRunner::Jest => jsrunners::parse_jest(&text),
        JsRunner::Node | JsRunner::Vitest => jsrunners::parse_junit(&text, runner),
    };
    let cases = match cases {
        Ok(cases) => cases,
        Err(error) => {
            return Ok(Ran::Stopped(
                Outcome::from_findings(vec![
                    Finding::error(format!(
                        "the report {name} wrote cannot be read: {error}"
                    ))
                    .fix_hint("do not change the reporter or the output file in `args`; the rule reads the report it asks for")
                    .code("report-invalid"),
                ])
                .with_summary(format!("{name}'s test report could not be read")),
            ));
        }
    };
    let tests = jsrunners::into_tests(cx.workspace(), config.cwd.as_str(), cases);
    let mut problems = run_problems(&ran, false);
    if !out.success() && !out.timed_out {
        check_exit_explained(&ran, &tests, &mut problems);
    }
    Ok(Ran::Finished(Run {
        tool: tool.to_owned(),
        skipped_word: "skipped",
        counts: Counts::of(&tests),
        tests,
        filtered: 0,
        incomplete: timed_out(out, tool),
        problems,
        rerun: Rerun::Js(runner),
        cwd: config.cwd.clone(),
    }))
}

/// The module path `go.mod` in `cwd` declares.
fn go_module(ws: &Workspace, cwd: &WorkspaceDir) -> Option<String> {
    let text = ws.read_to_string(&cwd.join("go.mod")?).ok()?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("module "))
        .map(|m| m.trim().trim_matches('"').to_owned())
}

fn run_custom(config: &Config, cx: &Context) -> Result<Ran> {
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
    let scratch_arg = config.cwd.path_from_here(scratch_ws);
    let command = Command::new(&spec.program).args(
        spec.args
            .iter()
            .map(|a| a.replace("{scratch}", &scratch_arg)),
    );
    let display = quoted(&command);

    let before = cx.workspace().read(&report).ok();
    let ran = match tester(&display, config).run(cx, command) {
        Ok(ran) => ran,
        Err(refused) => return Ok(Ran::Stopped(refused)),
    };
    let out = &ran.output;
    let mut problems = run_problems(&ran, false);
    let parsed = match read_report(cx.workspace(), &report, None, &ran, false) {
        Ok(parsed) => parsed,
        Err(outcome) => return Ok(Ran::Stopped(outcome)),
    };
    problems.extend(unlisted_errors(&parsed, &ran));
    let tests = parsed.tests;
    if before.is_some() && before == cx.workspace().read(&report).ok() {
        problems.push(
            Finding::warning(format!(
                "the report `{report}` is byte for byte what it was before {} ran; it may be stale",
                ran.name()
            ))
            .path(&report)
            .fix_hint("write the report to `{scratch}/…` (and pass `{scratch}` in the command's arguments) so every check reads a fresh one")
            .code("stale-report"),
        );
    }
    if !out.success() && !out.timed_out {
        check_exit_explained(&ran, &tests, &mut problems);
    }
    Ok(Ran::Finished(Run {
        tool: spec.program.clone(),
        skipped_word: "skipped",
        counts: Counts::of(&tests),
        tests,
        filtered: 0,
        incomplete: timed_out(out, &display),
        problems,
        rerun: Rerun::Custom(display),
        cwd: config.cwd.clone(),
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

/// Marks the tests pytest's summary lists as `XPASS` (marked xfail, passed
/// anyway): the JUnit report shows them as plain passes, but a test marked
/// to fail that passes shows neither a pass nor a failure.
fn mark_xpassed(tests: &mut [TestCase], stdout: &str) {
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("XPASS ") else {
            continue;
        };
        let rest = rest.trim_end();
        for test in tests.iter_mut().filter(|t| t.status == Status::Passed) {
            let Some(after) = rest.strip_prefix(test.name.as_str()) else {
                continue;
            };
            if after.is_empty() || after.starts_with(' ') {
                let reason = after.trim_start().trim_start_matches("- ").trim();
                test.status = Status::Skipped;
                test.kind = Kind::Xfail;
                test.detail = Some(if reason.is_empty() {
                    "it passed although marked xfail (XPASS)".to_owned()
                } else {
                    format!("it passed although marked xfail (XPASS): {reason}")
                });
            }
        }
    }
}

/// The `N deselected` of pytest's closing summary line (`-k`, `-m`,
/// `--deselect`).
fn pytest_deselected(stdout: &str) -> u64 {
    let Some(last) = stdout.lines().rev().find(|l| !l.trim().is_empty()) else {
        return 0;
    };
    let words: Vec<&str> = last
        .split([' ', ','])
        .filter(|w| !w.is_empty() && !w.starts_with('='))
        .collect();
    words
        .windows(2)
        .find(|pair| pair[1] == "deselected")
        .and_then(|pair| pair[0].parse().ok())
        .unwrap_or(0)
}

/// Why tests may be missing when the run was stopped at its time limit.
fn timed_out(out: &Output, tool: &str) -> Vec<String> {
    if out.timed_out {
        vec![format!("{tool} was stopped at its time limit")]
    } else {
        Vec::new()
    }
}

/// A report whose suites count more errors than its tests carry: something
/// failed that no test names, and no test result can stand for it.
fn unlisted_errors(report: &junit::Report, ran: &tool::Ran) -> Option<Finding> {
    let n = report.unlisted_errors();
    (n > 0).then(|| {
        Finding::error(format!(
            "{}'s report counts {} that no test in it carries: something failed outside the tests it names",
            ran.name(),
            plural(n, "error")
        ))
        .fix_hint(format!(
            "run {} yourself and fix the errors it reports",
            ran.name()
        ))
        .code("unlisted-errors")
    })
}

/// The JUnit report's tests, or the failing outcome saying why there are none.
/// With `previous` (the report's bytes before the run), a report that is
/// unchanged counts as not written: it is left over from an earlier run.
/// pytest (`zero_based`) counts lines from 0.
fn read_report(
    ws: &Workspace,
    report: &str,
    previous: Option<&[u8]>,
    ran: &tool::Ran,
    zero_based: bool,
) -> std::result::Result<junit::Report, Outcome> {
    let base = if zero_based {
        junit::LineBase::Zero
    } else {
        junit::LineBase::One
    };
    let name = ran.name();
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
                "{name} ended with {} and left no new JUnit report at `{report}` ({error}){}",
                ran.exit(),
                ran.tail()
            ))
            .fix_hint(format!(
                "run {name} yourself and fix what stops it from running the tests"
            ))
            .code("report-missing"),
        ])
        .with_summary(format!("{name} wrote no test report"))
    })?;
    junit::parse(&text, base).map_err(|error| {
        Outcome::from_findings(vec![
            Finding::error(format!(
                "the JUnit report `{report}` that {name} wrote cannot be read: {error}"
            ))
            .path(report)
            .fix_hint("make the command write JUnit XML (`<testsuites>`/`<testsuite>` with `<testcase>` elements)")
            .code("report-invalid"),
        ])
        .with_summary(format!("{name}'s test report could not be read"))
    })
}

/// A failing exit code needs a failing test to explain it; otherwise the
/// run is reported as failed with the end of its output.
fn check_exit_explained(ran: &tool::Ran, tests: &[TestCase], problems: &mut Vec<Finding>) {
    if !tests.iter().any(|t| t.status.is_failure()) {
        problems.push(ran.failed("a failing test"));
    }
}

/// Findings about the run itself: a timeout, cut output (when the rule
/// reads the tests' results from stdout).
fn run_problems(ran: &tool::Ran, parses_stdout: bool) -> Vec<Finding> {
    let mut problems: Vec<Finding> = ran.timeout().into_iter().collect();
    if parses_stdout {
        problems.extend(ran.truncated(Severity::Warning, false));
    }
    problems
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
    cwd: &'a str,
}

impl<'a> Resolver<'a> {
    fn new(ws: &'a Workspace, cwd: &'a str) -> Self {
        Self { ws, cwd }
    }

    fn candidates(&self, raw: &str) -> Vec<String> {
        if raw.is_empty()
            || tool_paths::is_absolute(raw)
            || raw.starts_with('<')
            || raw.contains("://")
        {
            return Vec::new();
        }
        tool_paths::relative_candidates(self.cwd, raw)
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
    placed_finding(
        severity,
        format!("test `{}` {verb}", test.name),
        test,
        test.detail.as_deref(),
        resolver,
    )
}

/// A blocking finding about a `required` test, placed at its best location.
fn required_finding(test: &TestCase, verb: &str, resolver: &Resolver) -> Finding {
    placed_finding(
        Severity::Error,
        format!("required test `{}` {verb}", test.name),
        test,
        test.detail.as_deref(),
        resolver,
    )
}

/// `lead`, the source line the test stopped at, and `detail`; placed at
/// the test's first location whose file exists (else the location is named
/// in the message).
fn placed_finding(
    severity: Severity,
    lead: String,
    test: &TestCase,
    detail: Option<&str>,
    resolver: &Resolver,
) -> Finding {
    let picked = resolver.pick(&test.locations);
    let source = picked.as_ref().and_then(|(_, l)| l.source.as_deref());
    let mut message = lead;
    if let Some(source) = source {
        message.push_str(&format!(" at `{source}`"));
    }
    if let Some(detail) = detail {
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

/// What a `required` test that ran and did not pass is told, with `expect:
/// fail` only for failures that do not count (errors, xfail markers).
fn required_failure(test: &TestCase, expect_fail: bool, run: &Run, resolver: &Resolver) -> Finding {
    if test.kind == Kind::Xfail {
        return not_run(test, run, expect_fail, resolver);
    }
    let rerun = run.rerun_hint(&test.name);
    if expect_fail {
        return required_finding(
            test,
            "errored, which is not the test failing at run time",
            resolver,
        )
        .fix_hint(format!(
            "{rerun}; fix the error (a fixture, setup or teardown, the module's imports, a doc-test that does not compile) so the test itself runs and fails because of the bug"
        ))
        .code("required-test-errored");
    }
    let verb = if test.status == Status::Errored {
        "errored"
    } else {
        "failed"
    };
    required_finding(test, verb, resolver)
        .fix_hint(format!(
            "{rerun}; fix the code under test so the test passes (change the test only if its expectation is wrong)"
        ))
        .code("required-test-failed")
}

/// A `required` test the runner reports but did not run: ignored, skipped,
/// or marked xfail (its outcome shows nothing either way).
fn not_run(test: &TestCase, run: &Run, expect_fail: bool, resolver: &Resolver) -> Finding {
    let name = &test.name;
    let then = if expect_fail {
        "so it runs and fails on the current code"
    } else {
        "so it runs and passes"
    };
    let because = test
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let (message, hint) = if test.kind == Kind::Xfail {
        (
            format!(
                "required test `{name}` is marked xfail{because}, so its result counts as neither a pass nor a failure"
            ),
            format!("remove its `xfail` marker {then}"),
        )
    } else {
        match run.rerun {
            Rerun::Cargo => (
                format!("required test `{name}` is marked `#[ignore]`{because}, so it did not run"),
                format!("remove #[ignore] from the test {then}"),
            ),
            Rerun::Pytest => (
                format!("required test `{name}` was skipped{because}, so it did not run"),
                format!("remove its skip marker (or the condition that skips it) {then}"),
            ),
            Rerun::Go => (
                format!("required test `{name}` was skipped{because}, so it did not run"),
                format!("remove its `t.Skip` (or the condition that calls it) {then}"),
            ),
            Rerun::Js(_) => (
                format!("required test `{name}` was skipped{because}, so it did not run"),
                format!(
                    "remove its `.skip` or `.todo` (or the `skip` option, or the `.only` elsewhere that leaves it out) and give it a body {then}"
                ),
            ),
            Rerun::Custom(_) => (
                format!("required test `{name}` was skipped{because}, so it did not run"),
                format!("stop skipping the test {then}"),
            ),
        }
    };
    placed_finding(Severity::Error, message, test, None, resolver)
        .fix_hint(hint)
        .code("required-test-not-run")
}

/// A `required` name that matches no test in the run: it does not exist,
/// or something kept it from running and the finding says what.
fn absent(pattern: &str, run: &Run, expect_fail: bool, resolver: &Resolver) -> Finding {
    let collection: Vec<&TestCase> = run
        .tests
        .iter()
        .filter(|t| t.kind == Kind::Collection)
        .collect();
    if let Some(first) = collection.first() {
        let modules: Vec<String> = collection
            .iter()
            .take(3)
            .map(|t| format!("`{}`", t.name))
            .collect();
        let more = if collection.len() > 3 { ", …" } else { "" };
        let finding = Finding::error(format!(
            "required test `{pattern}` did not run: no test of that name ran, and {} could not collect {}{more} (an import or collection error), so the tests there did not run",
            run.tool,
            modules.join(", ")
        ))
        .fix_hint("fix the collection error reported for that module so its tests run")
        .code("required-test-not-run");
        return match resolver.pick(&first.locations) {
            Some((path, location)) => place(finding, path, location),
            None => finding,
        };
    }
    if !run.incomplete.is_empty() {
        return Finding::error(format!(
            "required test `{pattern}` reported no result: {}",
            run.incomplete.join("; ")
        ))
        .fix_hint(
            "fix that (see the other findings) so every test reports, then check that this one ran",
        )
        .code("required-test-not-run");
    }
    if run.filtered > 0 {
        let left_out = match run.rerun {
            Rerun::Pytest => "deselected",
            _ => "filtered out",
        };
        return Finding::error(format!(
            "required test `{pattern}` did not run: no test of that name ran, and {} {} {left_out} by the arguments",
            plural(run.filtered, "test"),
            if run.filtered == 1 { "was" } else { "were" }
        ))
        .fix_hint("the test was not run: check `args` filters (a test name filter, `--skip`, `--exact`, `-k`, `-m`, `--deselect`) so it runs; if it does not exist, write it")
        .code("required-test-not-run");
    }
    let ran = plural(run.counts.total(), "test");
    let (message, hint) = if expect_fail {
        (
            format!(
                "required test `{pattern}` does not exist: none of the {ran} that ran is named `{pattern}` (or ends in `::{pattern}`); this checkpoint expects it to exist and fail on the current code (a regression test written before the fix)"
            ),
            format!(
                "write the test `{pattern}` so it reproduces the bug: it must build and run, and fail because of the bug; do not fix the bug in this phase"
            ),
        )
    } else {
        (
            format!(
                "required test `{pattern}` does not exist: none of the {ran} that ran is named `{pattern}` (or ends in `::{pattern}`)"
            ),
            format!(
                "write the test `{pattern}`, or correct its name in `required`; check that `args` or `cwd` do not leave it out"
            ),
        )
    };
    Finding::error(message)
        .fix_hint(hint)
        .code("required-test-missing")
}

/// Judges a run against the config; `extra` are findings judged elsewhere
/// (the comparison with an earlier phase).
fn evaluate(config: &Config, run: Run, resolver: &Resolver, extra: Vec<Finding>) -> Outcome {
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
        let required = is_required(test);
        let verb = if test.status == Status::Errored {
            "errored"
        } else {
            "failed"
        };
        // Only a test's own failure at run time reproduces a bug.
        let is_expected = expect_fail
            && test.failed_at_run_time()
            && if config.required.is_empty() {
                !is_allowed(test)
            } else {
                required
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
        } else if is_allowed(test) && !required {
            findings.push(
                test_finding(
                    Severity::Info,
                    test,
                    &format!("{verb} (allowed by `allowed_failures`)"),
                    resolver,
                )
                .code("allowed-failure"),
            );
        } else if required {
            blocking += 1;
            findings.push(required_failure(test, expect_fail, &run, resolver));
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

    // Every required name on its own: failures were judged above; here,
    // whether it exists and ran (and, with `expect: fail`, failed).
    for pattern in &config.required {
        let found = matching(pattern);
        if found.is_empty() {
            findings.push(absent(pattern, &run, expect_fail, resolver));
            continue;
        }
        if expect_fail {
            if found.iter().any(|t| t.status.is_failure()) {
                continue;
            }
            if let Some(passed) = found.iter().find(|t| t.status == Status::Passed) {
                findings.push(
                    required_finding(
                        passed,
                        "passes, but this checkpoint expects it to fail: it does not reproduce the bug",
                        resolver,
                    )
                    .fix_hint("make the test assert the correct behaviour that the bug breaks, so it fails on the current code; do not fix the bug in this phase")
                    .code("required-test-passed"),
                );
                continue;
            }
        }
        for test in found.iter().filter(|t| t.status == Status::Skipped) {
            findings.push(not_run(test, &run, expect_fail, resolver));
        }
    }

    if expect_fail && config.required.is_empty() && expected.is_empty() {
        let errored = run
            .tests
            .iter()
            .filter(|t| t.status == Status::Errored)
            .count();
        let message = if errored > 0 {
            format!(
                "no test fails at run time ({} errored, which does not count: an error in setup, teardown, collection or a doc-test's build is not the test failing), but this checkpoint expects a new regression test that fails on the current code",
                plural(u64::try_from(errored).unwrap_or(u64::MAX), "test")
            )
        } else {
            "no test fails, but this checkpoint expects a new regression test that fails on the current code".to_owned()
        };
        findings.push(
            Finding::error(message)
                .fix_hint("write a test that reproduces the bug: it must build and run, and fail because of the bug; do not fix the bug in this phase")
                .code("no-failing-test"),
        );
    }

    let total = run.counts.total();
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
    all.extend(extra);
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
