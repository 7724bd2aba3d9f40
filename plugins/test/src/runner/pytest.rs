//! `python3 -m pytest` with a JUnit report.

use checkrail_sdk::{Command, Context, Finding, Outcome, Output, Result};

use super::{
    Ran, Rerun, Run, TestRunner, check_exit_explained, read_report, run_problems, tester,
    timed_out, unlisted_errors,
};
use crate::Config;
use crate::model::{Counts, Kind, Status, TestCase, tail};
use crate::source::Lang;

fn run_tests(config: &Config, cx: &Context) -> Result<Ran> {
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

/// `python3 -m pytest` failed because pytest is not installed
/// (`/usr/bin/python3: No module named pytest`).
pub(crate) fn pytest_missing(out: &Output) -> bool {
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

/// `python3 -m pytest`.
pub(crate) struct Pytest;

impl TestRunner for Pytest {
    fn inputs(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (
            &["**/*.py"],
            &["pytest.ini", "pyproject.toml", "setup.cfg", "conftest.py"],
        )
    }

    fn langs(&self) -> &'static [Lang] {
        &[Lang::Python]
    }

    fn run(&self, config: &Config, cx: &Context) -> Result<Ran> {
        run_tests(config, cx)
    }
}
