//! A granted command that writes a JUnit report.

use checkrail_sdk::tool::quoted;
use checkrail_sdk::{Command, Context, Error, Finding, Result, normalize_path};

use super::{
    Ran, Rerun, Run, TestRunner, check_exit_explained, read_report, run_problems, tester,
    timed_out, unlisted_errors,
};
use crate::Config;
use crate::model::Counts;
use crate::source::Lang;

fn run_tests(config: &Config, cx: &Context) -> Result<Ran> {
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

/// A granted command writing a JUnit report.
pub(crate) struct Custom;

impl TestRunner for Custom {
    fn inputs(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (&[], &[])
    }

    fn langs(&self) -> &'static [Lang] {
        &[Lang::Python, Lang::Rust]
    }

    fn run(&self, config: &Config, cx: &Context) -> Result<Ran> {
        run_tests(config, cx)
    }
}
