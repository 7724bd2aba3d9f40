//! Judging a run against the config: a finding per failing, missing or
//! unrun test, and the summary.

use std::collections::BTreeSet;

use checkrail_sdk::tool::{clip, plural};
use checkrail_sdk::{Finding, Outcome, Severity, Workspace, tool_paths};

use crate::model::{Kind, Location, Status, TestCase, name_matches};
use crate::runner::{Rerun, Run};
use crate::{Config, Expect, MAX_DETAILED, libtest};

/// The finding for a compile error that kept tests from running, placed
/// when `resolver` is given.
pub(crate) fn compile_finding(
    error: &libtest::CompileError,
    resolver: Option<&Resolver>,
) -> Finding {
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

pub(crate) fn compile_failure(errors: Vec<libtest::CompileError>, resolver: &Resolver) -> Outcome {
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

pub(crate) fn describe_location(location: &Location) -> String {
    match (location.line, location.column) {
        (Some(line), Some(column)) => format!("{}:{line}:{column}", location.path),
        (Some(line), None) => format!("{}:{line}", location.path),
        _ => location.path.clone(),
    }
}

pub(crate) fn place(mut finding: Finding, path: String, location: &Location) -> Finding {
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
pub(crate) struct Resolver<'a> {
    ws: &'a Workspace,
    cwd: &'a str,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(ws: &'a Workspace, cwd: &'a str) -> Self {
        Self { ws, cwd }
    }

    pub(crate) fn candidates(&self, raw: &str) -> Vec<String> {
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
    pub(crate) fn pick<'l>(&self, locations: &'l [Location]) -> Option<(String, &'l Location)> {
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
pub(crate) fn test_finding(
    severity: Severity,
    test: &TestCase,
    verb: &str,
    resolver: &Resolver,
) -> Finding {
    placed_finding(
        severity,
        format!("test `{}` {verb}", test.name),
        test,
        test.detail.as_deref(),
        resolver,
    )
}

/// A blocking finding about a `required` test, placed at its best location.
pub(crate) fn required_finding(test: &TestCase, verb: &str, resolver: &Resolver) -> Finding {
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
pub(crate) fn placed_finding(
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
pub(crate) fn required_failure(
    test: &TestCase,
    expect_fail: bool,
    run: &Run,
    resolver: &Resolver,
) -> Finding {
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
pub(crate) fn not_run(
    test: &TestCase,
    run: &Run,
    expect_fail: bool,
    resolver: &Resolver,
) -> Finding {
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
pub(crate) fn absent(pattern: &str, run: &Run, expect_fail: bool, resolver: &Resolver) -> Finding {
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
/// `known` names the tests that failed at the anchor commit.
pub(crate) fn evaluate(
    config: &Config,
    mut run: Run,
    resolver: &Resolver,
    (extra, known): (Vec<Finding>, &BTreeSet<String>),
) -> Outcome {
    let expect_fail = config.expect == Expect::Fail;
    let mut all = std::mem::take(&mut run.problems);
    let failures = failures(config, &run, resolver, known);
    all.extend(failures.findings);
    all.extend(allowed_failures_passing(config, &run));
    all.extend(required(config, &run, resolver));
    if expect_fail && config.required.is_empty() && failures.expected.is_empty() {
        all.push(no_failing_test(&run));
    }
    all.extend(too_few_passed(config, &run, failures.blocking));
    all.extend(extra);
    let outcome = Outcome::from_findings(all);
    let expected = if expect_fail && outcome.passed {
        failures.expected.as_slice()
    } else {
        &[]
    };
    let summary = summary(&run, expected);
    outcome.with_summary(clip(&summary, 300))
}

/// Whether `test` matches a name pattern of `list`.
fn matches_any(list: &[String], test: &TestCase) -> bool {
    list.iter().any(|p| name_matches(&test.name, p))
}

/// The tests of `run` that `pattern` names.
fn matching<'r>(run: &'r Run, pattern: &str) -> Vec<&'r TestCase> {
    run.tests
        .iter()
        .filter(|t| name_matches(&t.name, pattern))
        .collect()
}

/// What the failing tests come to.
struct Failures<'r> {
    findings: Vec<Finding>,
    /// Failures `expect: fail` wanted.
    expected: Vec<&'r TestCase>,
    /// Failures that block.
    blocking: usize,
}

/// A finding per failing test: expected, allowed, required or blocking
/// (the blocking ones past [`MAX_DETAILED`] counted in one).
fn failures<'r>(
    config: &Config,
    run: &'r Run,
    resolver: &Resolver,
    known: &BTreeSet<String>,
) -> Failures<'r> {
    let expect_fail = config.expect == Expect::Fail;
    let is_allowed = |t: &TestCase| matches_any(&config.allowed_failures, t);
    let is_known = |t: &TestCase| known.contains(&t.name);
    let mut findings: Vec<Finding> = Vec::new();
    let mut expected: Vec<&TestCase> = Vec::new();
    let mut blocking = 0usize;
    let mut overflow: Vec<&str> = Vec::new();
    for test in run.tests.iter().filter(|t| t.status.is_failure()) {
        let required = matches_any(&config.required, test);
        let verb = if test.status == Status::Errored {
            "errored"
        } else {
            "failed"
        };
        // Only a test's own failure at run time reproduces a bug.
        let is_expected = expect_fail
            && test.failed_at_run_time()
            && if config.required.is_empty() {
                // A failure that was there before the agent is not the
                // regression test it was asked to write.
                !is_allowed(test) && !is_known(test)
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
        } else if is_known(test) && !required {
            findings.push(
                test_finding(
                    Severity::Info,
                    test,
                    &format!("{verb}, as it already did at the anchor commit"),
                    resolver,
                )
                .fix_hint("a known failure: it does not block this checkpoint; name it in `required` if this work must fix it")
                .code("known-failure"),
            );
        } else if required {
            blocking += 1;
            findings.push(required_failure(test, expect_fail, run, resolver));
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
    Failures {
        findings,
        expected,
        blocking,
    }
}

/// `allowed-failure-passes` for each `allowed_failures` entry whose tests
/// all pass now.
fn allowed_failures_passing(config: &Config, run: &Run) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pattern in &config.allowed_failures {
        let found = matching(run, pattern);
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
    findings
}

/// Every required name on its own: failures were judged in [`failures`];
/// here, whether it exists and ran (and, with `expect: fail`, failed).
fn required(config: &Config, run: &Run, resolver: &Resolver) -> Vec<Finding> {
    let expect_fail = config.expect == Expect::Fail;
    let mut findings = Vec::new();
    for pattern in &config.required {
        let found = matching(run, pattern);
        if found.is_empty() {
            findings.push(absent(pattern, run, expect_fail, resolver));
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
            findings.push(not_run(test, run, expect_fail, resolver));
        }
    }
    findings
}

/// `no-failing-test`: `expect: fail` with no `required` names, and no test
/// failed at run time.
fn no_failing_test(run: &Run) -> Finding {
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
    Finding::error(message)
                .fix_hint("write a test that reproduces the bug: it must build and run, and fail because of the bug; do not fix the bug in this phase")
                .code("no-failing-test")
}

/// `too-few-passed`, shown only when fixing the `blocking` failures would
/// not be enough for `min_passed`.
fn too_few_passed(config: &Config, run: &Run, blocking: usize) -> Option<Finding> {
    let expect_fail = config.expect == Expect::Fail;
    let min_passed = u64::from(config.min_passed.unwrap_or(if expect_fail { 0 } else { 1 }));
    let total = run.counts.total();
    let blocking_failures = u64::try_from(blocking).unwrap_or(u64::MAX);
    if run.counts.passed.saturating_add(blocking_failures) >= min_passed {
        return None;
    }
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
    Some(
        Finding::error(message)
            .fix_hint("add tests for the change (and check that `cwd`, `args` and the test files let the runner find them)")
            .code("too-few-passed"),
    )
}

/// The counts and the runner, then the tests that fail as `expect: fail`
/// wanted, when it passes.
fn summary(run: &Run, expected: &[&TestCase]) -> String {
    let mut summary = format!("{} ({})", run.counts.describe(run.skipped_word), run.tool);
    if !expected.is_empty() {
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
    summary
}
