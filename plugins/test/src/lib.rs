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
mod runner;
mod since;
mod source;
mod verdict;
mod xml;

use checkrail_sdk::detect::{self, Project};
use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::tool::{CustomCommand, WorkspaceDir};
use checkrail_sdk::{Context, Error, Finding, Outcome, Result, Rule, export_rule};
#[cfg(test)]
use checkrail_sdk::{Output, Severity};

use regressions::Facts;
use runner::Ran;
#[cfg(test)]
use runner::pytest_missing;
use since::{Since, wanted_sources};
use verdict::{Resolver, compile_failure, evaluate};

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
    /// (`required-test-removed`). A required test's file, when it is test
    /// code (under `tests/`, `test/`, `__tests__/`, or named `test_*.py`,
    /// `*.test.js`…; a Rust unit test in `src/` is the product's file), is
    /// frozen whole with what it imports from beside it (a Go test: with
    /// every `_test.go` file of its package, `TestMain` included): a
    /// helper, fixture or import added next to the test, or a module
    /// planted beside it that shadows the code under test, is
    /// `required-test-file-changed` (add new tests in another file; for Go,
    /// in another package). When the session recorded nothing for
    /// this rule at that phase (or the check runs outside a session), the
    /// check fails with `no-baseline`.
    #[serde(default)]
    pub no_regressions_since: Option<String>,
    /// Tests that already failed at the workspace's anchor commit (the
    /// merge-base with `[anchor] upstream`, or the commit the last
    /// `checkrail allow` saw) are reported as `known-failure`, information
    /// only, unless `required`; they never count as the failure `expect:
    /// fail` asks for. The host runs this rule on a copy of the anchor
    /// commit when a test fails and hands over what failed there. `false`:
    /// every failure blocks.
    #[serde(default = "known_failures_default")]
    pub known_failures: bool,
}

fn known_failures_default() -> bool {
    true
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
        // cargo (a build script runs before the tests and can change what
        // they test)
        ".cargo/config",
        ".cargo/config.toml",
        "rust-toolchain",
        "rust-toolchain.toml",
        "build.rs",
        "**/build.rs",
        // the manifest's test targets, build script and patches decide
        // what a test run compiles (its dependencies do not judge)
        "Cargo.toml#lib,test,bench,package.build,package.autotests,package.autobenches,package.autolib,patch,replace,profile.test,profile.bench",
        "**/Cargo.toml#lib,test,bench,package.build,package.autotests,package.autobenches,package.autolib,patch,replace,profile.test,profile.bench",
        // pytest; Python runs `sitecustomize`/`usercustomize` found on its
        // path before any test, and a test package's `__init__.py` changes
        // which modules the tests import
        "conftest.py",
        "**/conftest.py",
        "pytest.ini",
        "pyproject.toml",
        "setup.cfg",
        "tox.ini",
        "sitecustomize.py",
        "usercustomize.py",
        "tests/__init__.py",
        "**/tests/__init__.py",
        "test/__init__.py",
        "**/test/__init__.py",
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
        // the setup files the runners load before every test file
        "**/jest.setup.*",
        "**/vitest.setup.*",
        "**/setupTests.*",
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
        let (globs, root_files) = match runner::of(config.runner) {
            Some(runner) => runner.inputs(),
            // Whatever the workspace turns out to be.
            None => (&["**"][..], &[][..]),
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
    let runner =
        runner::of(config.runner).ok_or_else(|| Error::new("`runner: auto` was not resolved"))?;
    let ran = runner.run(&config, cx)?;

    let resolver = Resolver::new(cx.workspace(), cwd);
    let since = Since::load(&config, cx);
    let tests = match &ran {
        Ran::Finished(run) => run.tests.as_slice(),
        _ => &[],
    };
    let wanted = wanted_sources(&config, tests, since.facts(), &resolver);
    let sources = source::fingerprints(cx.workspace(), cwd, runner.langs(), &wanted);
    // The sources can be compared whether or not the tests ran.
    let files = source::frozen_files(cx.workspace(), &sources);
    let mut extra = since.source_findings(cx.workspace(), &config.required, &sources, &files);
    Ok(match ran {
        Ran::Finished(run) => {
            let facts = Facts::of(&run.tests, run.skipped_word, &sources, files);
            extra.extend(since.test_findings(&facts, &run));
            let known = since::known_failures(&config, cx);
            let outcome = evaluate(&config, run, &resolver, (extra, &known));
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

export_rule!(TestRule);

#[cfg(test)]
mod tests;
