//! `cargo test`: libtest's output, and the compile errors that stop it.

use checkrail_sdk::tool::plural;
use checkrail_sdk::{Command, Context, Finding, Outcome, Result};

use super::{Ran, Rerun, Run, TestRunner, run_problems, tester};
use crate::source::Lang;
use crate::verdict::{Resolver, compile_finding};
use crate::{Config, libtest};

fn run_tests(config: &Config, cx: &Context) -> Ran {
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

/// `cargo test`.
pub(crate) struct Cargo;

impl TestRunner for Cargo {
    fn inputs(&self) -> (&'static [&'static str], &'static [&'static str]) {
        (&["**/*.rs", "**/Cargo.toml"], &["Cargo.lock"])
    }

    fn langs(&self) -> &'static [Lang] {
        &[Lang::Rust]
    }

    fn run(&self, config: &Config, cx: &Context) -> Result<Ran> {
        Ok(run_tests(config, cx))
    }
}
