//! node's test runner, Jest and Vitest, each with its report in a
//! scratch directory.

use checkrail_sdk::{Command, Context, Finding, Outcome, Result};

use super::{Ran, Rerun, Run, TestRunner, check_exit_explained, run_problems, tester, timed_out};
use crate::Config;
use crate::jsrunners::{self, JsRunner};
use crate::model::Counts;
use crate::source::Lang;

/// Runs node's test runner, Jest or Vitest with its report in a fresh
/// scratch directory, and reads the report.
fn run_tests(config: &Config, cx: &Context, runner: JsRunner) -> Result<Ran> {
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

/// node's test runner, Jest or Vitest.
pub(crate) struct Js(pub(crate) JsRunner);

impl TestRunner for Js {
    fn inputs(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (jsrunners::INPUTS, &[])
    }

    fn langs(&self) -> &'static [Lang] {
        &[Lang::Script]
    }

    fn run(&self, config: &Config, cx: &Context) -> Result<Ran> {
        run_tests(config, cx, self.0)
    }
}
