//! `go test -json`.

use checkrail_sdk::{Command, Context, Finding, Result};

use super::{Ran, Rerun, Run, TestRunner, run_problems, tester, timed_out};
use crate::model::{Counts, tail};
use crate::source::Lang;
use crate::verdict::{Resolver, compile_finding};
use crate::{Config, gotest};

fn run_tests(config: &Config, cx: &Context) -> Result<Ran> {
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
    let module = gotest::module(cx.workspace(), cwd).map(|m| m.path);
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

/// `go test -json`.
pub(crate) struct Go;

impl TestRunner for Go {
    fn inputs(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (&["**/*.go", "**/go.mod", "**/go.sum"], &[])
    }

    fn langs(&self) -> &'static [Lang] {
        &[Lang::Go]
    }

    fn run(&self, config: &Config, cx: &Context) -> Result<Ran> {
        run_tests(config, cx)
    }
}
