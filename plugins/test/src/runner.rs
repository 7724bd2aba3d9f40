//! Running the tests: one module per runner, each giving a [`Ran`]; what
//! they share (the run's model, the report file, the run's problems).

mod cargo;
mod custom;
mod go;
mod js;
mod pytest;

use checkrail_sdk::tool::{self, Tool, WorkspaceDir, plural};
use checkrail_sdk::{Context, Finding, Outcome, Output, Result, Severity, Workspace};

use crate::jsrunners::JsRunner;
use crate::junit;
use crate::model::{Counts, TestCase};
use crate::source::Lang;
use crate::{Config, Runner, libtest};

#[cfg(test)]
pub(crate) use pytest::pytest_missing;

/// What the rule needs of a test runner: running it, and what decides
/// its result.
pub(crate) trait TestRunner: Sync {
    /// The workspace globs whose contents decide its result when the config
    /// names none: globs that match anywhere, and files that count at the
    /// root and in `cwd`.
    fn inputs(&self) -> (&'static [&'static str], &'static [&'static str]);

    /// The languages of the test sources it fingerprints.
    fn langs(&self) -> &'static [Lang];

    /// Runs the tests and reads what it reports.
    fn run(&self, config: &Config, cx: &Context) -> Result<Ran>;
}

static NODE: js::Js = js::Js(JsRunner::Node);
static JEST: js::Js = js::Js(JsRunner::Jest);
static VITEST: js::Js = js::Js(JsRunner::Vitest);

/// The runner `runner` names; `None` for `auto`, which is resolved first.
pub(crate) fn of(runner: Runner) -> Option<&'static dyn TestRunner> {
    Some(match runner {
        Runner::Cargo => &cargo::Cargo,
        Runner::Pytest => &pytest::Pytest,
        Runner::Go => &go::Go,
        Runner::Node => &NODE,
        Runner::Jest => &JEST,
        Runner::Vitest => &VITEST,
        Runner::Custom => &custom::Custom,
        Runner::Auto => return None,
    })
}

/// What running the tests gave.
pub(crate) enum Ran {
    /// The tests ran (perhaps partly); evaluate them against the config.
    Finished(Run),
    /// Nothing compiled, so nothing ran.
    Uncompiled(Vec<libtest::CompileError>),
    /// The tool did not run or its output made no sense: this outcome.
    Stopped(Outcome),
}

/// Tests a runner reported, and what else went wrong.
pub(crate) struct Run {
    /// `cargo test`, `pytest`, `` `make test` ``.
    pub(crate) tool: String,
    /// `ignored` (cargo) or `skipped`.
    pub(crate) skipped_word: &'static str,
    pub(crate) tests: Vec<TestCase>,
    pub(crate) counts: Counts,
    /// Tests a filter in the arguments left out (cargo's `filtered out`,
    /// pytest's `deselected`): they exist but did not run.
    pub(crate) filtered: u64,
    /// Why tests may be missing from `tests`: a crash, a timeout, targets
    /// that did not compile. A required test that is not there may be one.
    pub(crate) incomplete: Vec<String>,
    /// Findings about the run itself (timeout, crashed binary, odd exit).
    pub(crate) problems: Vec<Finding>,
    /// How to rerun one test, for hints.
    pub(crate) rerun: Rerun,
    /// The test run's working directory, for hints.
    pub(crate) cwd: WorkspaceDir,
}

pub(crate) enum Rerun {
    Cargo,
    Pytest,
    Go,
    Js(JsRunner),
    Custom(String),
}

impl Run {
    /// "reproduce with `cargo test NAME`" (all tests when `test` is empty).
    pub(crate) fn rerun_hint(&self, test: &str) -> String {
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

pub(crate) fn shell_word(word: &str) -> String {
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
pub(crate) fn tester(label: &str, config: &Config) -> Tool {
    Tool::new(label, &config.cwd)
        .again("run the tests again")
        .slow_hint("find the test that hangs or is slow (a loop, a deadlock, waiting on input or the network) and fix it")
}

/// Why tests may be missing when the run was stopped at its time limit.
pub(crate) fn timed_out(out: &Output, tool: &str) -> Vec<String> {
    if out.timed_out {
        vec![format!("{tool} was stopped at its time limit")]
    } else {
        Vec::new()
    }
}

/// A report whose suites count more errors than its tests carry: something
/// failed that no test names, and no test result can stand for it.
pub(crate) fn unlisted_errors(report: &junit::Report, ran: &tool::Ran) -> Option<Finding> {
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
pub(crate) fn read_report(
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
pub(crate) fn check_exit_explained(
    ran: &tool::Ran,
    tests: &[TestCase],
    problems: &mut Vec<Finding>,
) {
    if !tests.iter().any(|t| t.status.is_failure()) {
        problems.push(ran.failed("a failing test"));
    }
}

/// Findings about the run itself: a timeout, cut output (when the rule
/// reads the tests' results from stdout).
pub(crate) fn run_problems(ran: &tool::Ran, parses_stdout: bool) -> Vec<Finding> {
    let mut problems: Vec<Finding> = ran.timeout().into_iter().collect();
    if parses_stdout {
        problems.extend(ran.truncated(Severity::Warning, false));
    }
    problems
}
