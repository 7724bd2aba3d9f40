//! Parsing `cargo test` output: libtest's human format on stdout (one block
//! per test binary, doc-tests included) and rustc's diagnostics on stderr.

use checkrail_sdk::tool::clip;

use crate::model::{Counts, Location, Status, TestCase, split_location};

/// What `cargo test` printed on stdout.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Every test that reported, in the order printed, failures carrying
    /// their panic message and location.
    pub tests: Vec<TestCase>,
    /// Totals: the sum of the `test result:` lines, plus the tests that
    /// reported in a binary that never printed one.
    pub counts: Counts,
    /// How many `test result:` lines there were.
    pub result_lines: usize,
    /// Tests announced by `running N tests` that never reported, in binaries
    /// that ended without a `test result:` line (they crashed).
    pub unreported: u64,
    /// Tests left out by a name filter (`N filtered out` on the result lines).
    pub filtered_out: u64,
}

#[derive(Default)]
struct Block<'a> {
    announced: u64,
    tests: Vec<TestCase>,
    sections: Vec<(String, Vec<&'a str>)>,
    result: Option<Counts>,
    filtered_out: u64,
}

/// Parses libtest's human output (`cargo test` stdout).
pub fn parse(stdout: &str) -> Parsed {
    let lines: Vec<&str> = stdout.lines().map(str::trim_end).collect();
    let mut blocks: Vec<Block> = Vec::new();
    let mut current: Option<Block> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(announced) = running_line(line) {
            if let Some(block) = current.take() {
                blocks.push(block);
            }
            current = Some(Block {
                announced,
                ..Block::default()
            });
        } else if let Some((counts, filtered_out)) = result_line(line) {
            let mut block = current.take().unwrap_or_default();
            block.result = Some(counts);
            block.filtered_out = filtered_out;
            blocks.push(block);
        } else if let Some(name) = section_header(line) {
            let start = i + 1;
            let mut end = start;
            while end < lines.len()
                && section_header(lines[end]).is_none()
                && lines[end] != "failures:"
                && result_line(lines[end]).is_none()
            {
                end += 1;
            }
            current
                .get_or_insert_with(Block::default)
                .sections
                .push((name.to_owned(), lines[start..end].to_vec()));
            i = end;
            continue;
        } else if let Some((name, status, reason)) = test_line(line) {
            let mut test = TestCase::new(name, status);
            test.detail = reason.map(str::to_owned);
            current.get_or_insert_with(Block::default).tests.push(test);
        }
        i += 1;
    }
    if let Some(block) = current.take() {
        blocks.push(block);
    }

    let mut parsed = Parsed::default();
    for mut block in blocks {
        for (name, lines) in &block.sections {
            let (status, detail, locations) = analyze_section(lines);
            let position = block.tests.iter().position(|t| {
                t.name == *name
                    || t.name
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with(" - "))
            });
            let test = match position {
                Some(index) => &mut block.tests[index],
                None => {
                    block
                        .tests
                        .push(TestCase::new(name.clone(), Status::Failed));
                    let last = block.tests.len() - 1;
                    &mut block.tests[last]
                }
            };
            test.status = status;
            test.detail = detail;
            test.locations = locations;
            // The result line counts a doc-test that did not compile as failed.
            if status == Status::Errored
                && let Some(counts) = &mut block.result
                && counts.failed > 0
            {
                counts.failed -= 1;
                counts.errored += 1;
            }
        }
        parsed.filtered_out += block.filtered_out;
        match block.result {
            Some(counts) => {
                parsed.counts.add(counts);
                parsed.result_lines += 1;
            }
            None => {
                let reported = Counts::of(&block.tests);
                parsed.unreported += block.announced.saturating_sub(reported.total());
                parsed.counts.add(reported);
            }
        }
        parsed.tests.append(&mut block.tests);
    }
    parsed
}

/// `running 3 tests` -> 3.
fn running_line(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("running ")?;
    let count = rest
        .strip_suffix(" tests")
        .or_else(|| rest.strip_suffix(" test"))?;
    count.parse().ok()
}

/// `test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 2
/// filtered out; ...` -> the counts and the number filtered out.
fn result_line(line: &str) -> Option<(Counts, u64)> {
    let rest = line.strip_prefix("test result: ")?;
    let (_, numbers) = rest.split_once(". ")?;
    let mut counts = Counts::default();
    let mut filtered_out = 0;
    let mut seen = false;
    for part in numbers.split(';') {
        let Some((number, word)) = part.trim().split_once(' ') else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match word {
            "passed" => counts.passed = number,
            "failed" => counts.failed = number,
            "ignored" => counts.skipped = number,
            "filtered out" => filtered_out = number,
            _ => continue,
        }
        seen = true;
    }
    seen.then_some((counts, filtered_out))
}

/// `---- tests::adds stdout ----` -> `tests::adds`.
fn section_header(line: &str) -> Option<&str> {
    line.strip_prefix("---- ")?.strip_suffix(" stdout ----")
}

/// `test tests::adds ... ok` -> (`tests::adds`, passed, no reason);
/// `test tests::slow ... ignored, needs a network` -> (`tests::slow`,
/// skipped, `needs a network`).
fn test_line(line: &str) -> Option<(&str, Status, Option<&str>)> {
    let rest = line.strip_prefix("test ")?;
    let (name, status) = rest.rsplit_once(" ... ")?;
    let mut reason = None;
    let status = match status.trim() {
        "ok" => Status::Passed,
        "FAILED" => Status::Failed,
        s if s.starts_with("ignored") => {
            reason = s
                .strip_prefix("ignored, ")
                .map(str::trim)
                .filter(|r| !r.is_empty());
            Status::Skipped
        }
        _ => return None,
    };
    let name = name.strip_suffix(" - should panic").unwrap_or(name);
    Some((name, status, reason))
}

/// `thread 'x' (123) panicked at src/lib.rs:17:9:` (Rust >= 1.73; the
/// message follows on the next lines) or `thread 'x' panicked at 'msg',
/// src/lib.rs:17:9` (older): the location and any inline message.
fn panic_line(line: &str) -> Option<(Option<Location>, Option<String>)> {
    let rest = line.strip_prefix("thread '")?;
    let (_, after) = rest.split_once(" panicked at ")?;
    if let Some(old) = after.strip_prefix('\'')
        && let Some((message, location)) = old.rsplit_once("', ")
    {
        return Some((split_location(location), Some(message.to_owned())));
    }
    let location = after.strip_suffix(':').unwrap_or(after);
    Some((split_location(location), None))
}

fn is_backtrace_note(line: &str) -> bool {
    line.starts_with("note: run with `RUST_BACKTRACE")
        || line.starts_with("note: Some details are omitted")
        || line == "stack backtrace:"
}

/// A failed test's output section: how it ended, and the panic message and
/// location, or (no panic: a test returning `Err`, a `should_panic` test
/// that did not panic) the section's own text. A doc-test that did not
/// compile errored: it never ran.
fn analyze_section(lines: &[&str]) -> (Status, Option<String>, Vec<Location>) {
    if lines.iter().any(|l| l.trim() == DOCTEST_UNCOMPILED) {
        let errors = compile_errors(&lines.join("\n"));
        let detail = match errors.first() {
            Some(error) => format!(
                "it did not compile: error{}: {}",
                error
                    .code
                    .as_ref()
                    .map(|c| format!("[{c}]"))
                    .unwrap_or_default(),
                error.message
            ),
            None => "it did not compile".to_owned(),
        };
        let locations = errors.into_iter().filter_map(|e| e.location).collect();
        return (Status::Errored, Some(detail), locations);
    }
    for (k, line) in lines.iter().enumerate() {
        let Some((location, inline)) = panic_line(line) else {
            continue;
        };
        let mut message: Vec<&str> = Vec::new();
        if let Some(inline) = &inline {
            message.push(inline);
        }
        for next in &lines[k + 1..] {
            if is_backtrace_note(next) || panic_line(next).is_some() {
                break;
            }
            message.push(next);
        }
        while message.last().is_some_and(|l| l.trim().is_empty()) {
            message.pop();
        }
        let detail = clip_lines(&message, 40);
        let detail = if detail.trim().is_empty() {
            "it panicked".to_owned()
        } else {
            detail
        };
        return (Status::Failed, Some(detail), location.into_iter().collect());
    }
    let text: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty() && !is_backtrace_note(l))
        .collect();
    let location = text.iter().find_map(|l| {
        let trimmed = l.trim_start();
        let candidate = trimmed
            .strip_prefix("--> ")
            .or_else(|| l.rsplit_once(" at ").map(|(_, loc)| loc))?;
        split_location(candidate).filter(|loc| loc.line.is_some() && !loc.path.contains(' '))
    });
    let detail = (!text.is_empty()).then(|| clip_lines(&text, 20));
    (Status::Failed, detail, location.into_iter().collect())
}

/// What rustdoc prints at the end of a doc-test that did not compile.
const DOCTEST_UNCOMPILED: &str = "Couldn't compile the test.";

/// cargo could not build some target (`error: could not compile ...`), so
/// its tests did not run.
pub fn build_failed(stderr: &str) -> bool {
    stderr
        .lines()
        .any(|l| l.trim_start().starts_with("error: could not compile `"))
}

fn clip_lines(lines: &[&str], max: usize) -> String {
    let mut kept: Vec<&str> = lines.iter().take(max).copied().collect();
    if lines.len() > max {
        kept.push("…");
    }
    clip(&kept.join("\n"), 4000)
}

/// A compiler error from `cargo test`'s stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// `E0425`, when rustc gave one.
    pub code: Option<String>,
    /// The error line without `error[...]: `.
    pub message: String,
    /// The ` --> file:line:col` below it.
    pub location: Option<Location>,
}

/// rustc's and cargo's `error...:` lines in stderr, except cargo's own
/// summaries (`could not compile`, `test failed, to rerun ...`), with the
/// ` --> ` location under each; duplicates (the same error in the lib and
/// the lib-test build) once.
pub fn compile_errors(stderr: &str) -> Vec<CompileError> {
    let lines: Vec<&str> = stderr.lines().map(str::trim_end).collect();
    let mut errors: Vec<CompileError> = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("error") else {
            continue;
        };
        let (code, message) = if let Some(coded) = rest.strip_prefix('[') {
            let Some((code, message)) = coded.split_once("]: ") else {
                continue;
            };
            (Some(code.to_owned()), message)
        } else if let Some(message) = rest.strip_prefix(": ") {
            (None, message)
        } else {
            continue;
        };
        if code.is_none() && is_cargo_summary(message) {
            continue;
        }
        let location = lines[k + 1..]
            .iter()
            .take(3)
            .find_map(|l| l.trim_start().strip_prefix("--> "))
            .and_then(split_location);
        let error = CompileError {
            code,
            message: message.to_owned(),
            location,
        };
        if !errors.contains(&error) {
            errors.push(error);
        }
    }
    errors
}

fn is_cargo_summary(message: &str) -> bool {
    const SUMMARIES: &[&str] = &[
        "could not compile",
        "test failed, to rerun",
        "doctest failed, to rerun",
        "build failed",
        "aborting due to",
    ];
    if SUMMARIES.iter().any(|s| message.starts_with(s)) {
        return true;
    }
    // `3 targets failed:` / `1 target failed:`
    let mut words = message.split_whitespace();
    words.next().is_some_and(|n| n.parse::<u64>().is_ok())
        && matches!(words.next(), Some("target" | "targets"))
        && words.next() == Some("failed:")
}

/// A test binary that died (signal, abort) before printing its results:
/// the line that says so, with the target to rerun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// `--lib`, `--test it`, `--doc`: what to pass to `cargo test` to rerun it.
    pub target: Option<String>,
    /// cargo's `process didn't exit successfully: ...` text.
    pub reason: String,
}

/// Crashed test binaries named in `cargo test`'s stderr.
pub fn crashes(stderr: &str) -> Vec<Crash> {
    let mut target = None;
    let mut out = Vec::new();
    for line in stderr.lines().map(str::trim) {
        if let Some(rest) = line
            .strip_prefix("error: test failed, to rerun pass `")
            .or_else(|| line.strip_prefix("error: doctest failed, to rerun pass `"))
        {
            target = rest.strip_suffix('`').map(str::to_owned);
        } else if let Some(reason) = line.strip_prefix("process didn't exit successfully: ") {
            out.push(Crash {
                target: target.take(),
                reason: reason.to_owned(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
