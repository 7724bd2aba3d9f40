//! Reading what the JavaScript test runners report: node's test runner
//! and Vitest through their JUnit reporters, Jest through its JSON report
//! (`--json --outputFile`, with `--testLocationInResults`).
//!
//! A test is named by its file (relative to the directory the runner ran
//! in), its `describe` blocks and its own title, joined by `::`:
//! `test/calc.test.js::math::adds`, so `required: ["adds"]` or
//! `["math::adds"]` name it. node's JUnit report does not say which file a
//! test is in, so its tests are named by their blocks and title alone
//! (`math::adds`). A file that fails before its tests run (a syntax error,
//! a missing module) is an entry named by the file, of kind
//! [`Kind::Collection`]. Skipped and `todo` tests are skipped.
//!
//! Failures are placed by the frames of their stack (the test's own file
//! first) and, for Jest, where the test is declared.

use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::{Workspace, serde_json, tool_paths};

use checkrail_sdk::tool::clip;

use crate::model::{Kind, Location, Status, TestCase};
use crate::xml::{self, Element};

/// The runners read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsRunner {
    /// `node --test` with the built-in JUnit reporter.
    Node,
    /// `jest --json`.
    Jest,
    /// `vitest run` with the built-in JUnit reporter.
    Vitest,
}

/// The sources and settings a JavaScript test run reads.
pub const INPUTS: &[&str] = &[
    "**/*.js",
    "**/*.mjs",
    "**/*.cjs",
    "**/*.jsx",
    "**/*.ts",
    "**/*.mts",
    "**/*.cts",
    "**/*.tsx",
    "**/*.json",
    "**/*.snap",
];

/// One test (or one file that failed before its tests ran) as the runner
/// reported it, its paths still as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The test file as printed (absolute or relative to the runner's
    /// directory), when the report says.
    pub file: Option<String>,
    /// The `describe` blocks, outermost first, then the test's title. Empty
    /// for a file that failed before its tests ran.
    pub titles: Vec<String>,
    pub status: Status,
    pub kind: Kind,
    pub detail: Option<String>,
    /// Candidate places, best first, paths as printed.
    pub locations: Vec<Location>,
}

/// Parses node's or Vitest's JUnit report.
pub fn parse_junit(text: &str, runner: JsRunner) -> Result<Vec<Case>, String> {
    let root = xml::parse(text)?;
    if root.name != "testsuites" && root.name != "testsuite" {
        return Err(format!(
            "the root element is <{}>, not <testsuites> or <testsuite>",
            root.name
        ));
    }
    let mut cases = Vec::new();
    walk(&root, &mut Vec::new(), runner, &mut cases);
    Ok(cases)
}

fn walk(element: &Element, blocks: &mut Vec<String>, runner: JsRunner, out: &mut Vec<Case>) {
    for child in element.elements() {
        match child.name.as_str() {
            "testcase" => out.push(junit_case(child, blocks, runner)),
            // Vitest: one suite per file, named by the file; node: one
            // suite per `describe`, nested.
            "testsuite" if runner == JsRunner::Node => {
                blocks.push(child.attr("name").unwrap_or("").trim().to_owned());
                walk(child, blocks, runner, out);
                blocks.pop();
            }
            "testsuite" | "testsuites" => walk(child, blocks, runner, out),
            _ => {}
        }
    }
}

fn junit_case(element: &Element, blocks: &[String], runner: JsRunner) -> Case {
    let name = element.attr("name").unwrap_or("").trim();
    let classname = element.attr("classname").unwrap_or("").trim();
    let child = |tag: &str| element.elements().find(|e| e.name == tag);
    let (file, mut titles) = match runner {
        JsRunner::Vitest => (
            Some(classname.to_owned()).filter(|c| !c.is_empty()),
            name.split(" > ").map(str::to_owned).collect::<Vec<_>>(),
        ),
        _ => {
            let mut titles = blocks.to_vec();
            titles.push(name.to_owned());
            (None, titles)
        }
    };
    // A file that failed as a whole: node names the entry by the file's
    // absolute path, Vitest by its class name (the file).
    let whole_file = match runner {
        JsRunner::Node => blocks.is_empty() && looks_like_file(name),
        _ => !classname.is_empty() && name == classname,
    };
    let file = if whole_file {
        titles.clear();
        Some(name.to_owned())
    } else {
        file
    };
    let mut case = Case {
        file,
        titles,
        status: Status::Passed,
        kind: if whole_file {
            Kind::Collection
        } else {
            Kind::Plain
        },
        detail: None,
        locations: Vec::new(),
    };
    if let Some(skipped) = child("skipped") {
        case.status = Status::Skipped;
        let message = skipped.attr("message").unwrap_or("").trim();
        case.detail = match (skipped.attr("type"), message) {
            (Some("todo"), "" | "true") => Some("todo".to_owned()),
            (Some("todo"), why) => Some(format!("todo: {why}")),
            (_, "" | "true") => None,
            (_, why) => Some(why.to_owned()),
        };
        return case;
    }
    let Some(failure) = child("failure").or_else(|| child("error")) else {
        return case;
    };
    let body = failure.text();
    let message = failure.attr("message").unwrap_or("").trim();
    case.status = match failure.attr("type") {
        // node: a hook that failed, or a test cancelled because its block
        // failed: the test's own body did not fail.
        Some("hookFailure" | "cancelledByParent" | "parentAlreadyFinished") => Status::Errored,
        _ if failure.name == "error" => Status::Errored,
        _ if whole_file => Status::Errored,
        _ => Status::Failed,
    };
    case.detail = Some(error_detail(&body, message));
    if whole_file && message == "test failed" {
        case.detail = Some(
            "the file failed outside its tests (it does not load, or it exits with an error); run it with node to see why"
                .to_owned(),
        );
    }
    case.locations = stack_locations(&body);
    case
}

fn looks_like_file(name: &str) -> bool {
    (name.starts_with('/') || name.starts_with("file://"))
        && [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Jest's JSON report.
#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct JestReport {
    #[serde(default, rename = "testResults")]
    test_results: Vec<JestFile>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct JestFile {
    name: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "assertionResults")]
    assertion_results: Vec<JestTest>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct JestTest {
    #[serde(default, rename = "ancestorTitles")]
    ancestor_titles: Vec<String>,
    title: String,
    status: String,
    #[serde(default, rename = "failureMessages")]
    failure_messages: Vec<String>,
    #[serde(default)]
    location: Option<JestLocation>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct JestLocation {
    line: u32,
    column: u32,
}

/// Parses Jest's JSON report (`--json --outputFile`).
pub fn parse_jest(text: &str) -> Result<Vec<Case>, String> {
    let report: JestReport =
        serde_json::from_str(text).map_err(|e| format!("not Jest's JSON report: {e}"))?;
    let mut cases = Vec::new();
    for file in report.test_results {
        let any_failed = file.assertion_results.iter().any(|t| t.status == "failed");
        for test in file.assertion_results {
            let (status, detail) = match test.status.as_str() {
                "passed" => (Status::Passed, None),
                "failed" => (Status::Failed, None),
                "todo" => (Status::Skipped, Some("todo".to_owned())),
                // pending (`.skip`, `xit`), skipped, disabled.
                _ => (Status::Skipped, None),
            };
            let failure = test.failure_messages.join("\n");
            let mut locations = stack_locations(&failure);
            if let Some(at) = &test.location {
                locations.push(Location::new(
                    file.name.clone(),
                    Some(at.line),
                    Some(at.column),
                ));
            }
            let mut titles = test.ancestor_titles;
            titles.push(test.title);
            cases.push(Case {
                file: Some(file.name.clone()),
                titles,
                status,
                kind: Kind::Plain,
                detail: if status == Status::Failed {
                    Some(error_detail(&failure, ""))
                } else {
                    detail
                },
                locations,
            });
        }
        // A file that failed without a failing test: it did not load, or a
        // hook outside the tests failed.
        if file.status == "failed" && !any_failed {
            cases.push(Case {
                file: Some(file.name.clone()),
                titles: Vec::new(),
                status: Status::Errored,
                kind: Kind::Collection,
                detail: Some(suite_failure(&file.message)),
                locations: stack_locations(&file.message),
            });
        }
    }
    Ok(cases)
}

/// The reason in Jest's `● Test suite failed to run` message: its first
/// line of text, without the code frame.
fn suite_failure(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !l.starts_with('●'))
        .take_while(|l| !is_frame_or_code(l))
        .collect();
    if lines.is_empty() {
        "the file failed before its tests ran".to_owned()
    } else {
        clip(&lines.join("\n"), 1000)
    }
}

/// Whether a line of an error is where its message ends: a stack frame, a
/// code frame, the error's own properties.
fn is_frame_or_code(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("at ")
        || t.starts_with('❯')
        || t.starts_with('>')
        || t.starts_with('{')
        || t.starts_with("code:")
        || t.starts_with('⎯')
        || t.starts_with("Serialized Error")
        || t.split_once('|').is_some_and(|(n, _)| {
            !n.trim().is_empty() && n.trim().chars().all(|c| c.is_ascii_digit())
        })
}

/// The error's message: the lines after `SomeError: ` up to its stack,
/// or `fallback` when there are none.
fn error_detail(body: &str, fallback: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let start = lines.iter().position(|l| !l.trim().is_empty());
    let mut out: Vec<String> = Vec::new();
    // node's `[Error [ERR_TEST_FAILURE]: text] { ... }` says it all in
    // one line; the message attribute has it without the wrapping.
    if let Some(start) = start.filter(|&s| !lines[s].trim_start().starts_with('[')) {
        let first = lines[start].trim();
        // `Error [ERR_TEST_FAILURE]: text`, `AssertionError: text`.
        let head = match first.find(": ") {
            Some(at) if first[..at].ends_with("Error") || first[..at].ends_with(']') => {
                first[at + 2..].to_owned()
            }
            _ => first.to_owned(),
        };
        out.push(head);
        for line in &lines[start + 1..] {
            if is_frame_or_code(line) {
                break;
            }
            out.push(line.trim_end().to_owned());
        }
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let text: Vec<String> = out
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    if text.is_empty() {
        return clip(fallback, 2000);
    }
    clip(&text.join("\n"), 2000)
}

/// The places in a stack trace, innermost first, without node's own
/// internals and installed packages; frames in test files first.
fn stack_locations(body: &str) -> Vec<Location> {
    let mut frames = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        let place = if let Some(rest) = t.strip_prefix("at ") {
            match (rest.rfind('('), rest.ends_with(')')) {
                (Some(open), true) => &rest[open + 1..rest.len() - 1],
                _ => rest,
            }
        } else if let Some(rest) = t.strip_prefix('❯') {
            // Vitest: `❯ test/calc.test.ts:4:21` or `❯ fn test/calc.test.ts:4:21`.
            rest.trim().rsplit(' ').next().unwrap_or("")
        } else {
            continue;
        };
        if let Some(location) = frame(place)
            && !frames.contains(&location)
        {
            frames.push(location);
        }
    }
    let (tests, others): (Vec<Location>, Vec<Location>) =
        frames.into_iter().partition(|l| is_test_file(&l.path));
    tests.into_iter().chain(others).collect()
}

/// `path:line:col` (or `file:///path:line:col`) outside node's internals
/// and `node_modules`.
fn frame(place: &str) -> Option<Location> {
    let place = place.strip_prefix("file://").unwrap_or(place);
    let (rest, column) = place.rsplit_once(':')?;
    let (path, line) = rest.rsplit_once(':')?;
    let line: u32 = line.parse().ok()?;
    let column: u32 = column.parse().ok()?;
    if path.is_empty()
        || path.starts_with("node:")
        || path.contains("/node_modules/")
        || path.starts_with("node_modules/")
        || path.contains(char::is_whitespace)
        || path.starts_with('<')
    {
        return None;
    }
    Some(Location::new(path, Some(line), Some(column)))
}

/// Whether `path` names a test file by the usual conventions.
fn is_test_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.contains(".test.")
        || name.contains(".spec.")
        || name.contains("_test.")
        || name.contains("-test.")
        || name.starts_with("test-")
        || name.starts_with("test.")
        || path.contains("/test/")
        || path.contains("/tests/")
        || path.contains("/__tests__/")
        || path.starts_with("test/")
        || path.starts_with("tests/")
        || path.starts_with("__tests__/")
}

/// The cases as tests: absolute paths (in names and places) mapped to the
/// workspace, names made of the file relative to `cwd` and the titles.
pub fn into_tests(ws: &Workspace, cwd: &str, cases: Vec<Case>) -> Vec<TestCase> {
    let printed: Vec<&str> = cases
        .iter()
        .flat_map(|c| {
            c.file
                .iter()
                .map(String::as_str)
                .chain(c.locations.iter().map(|l| l.path.as_str()))
        })
        .filter(|p| tool_paths::is_absolute(p))
        .collect();
    let resolved = tool_paths::resolve_with_root(ws, Some(cwd), &printed, &[]);
    let local = |path: &str| -> Option<String> {
        if !tool_paths::is_absolute(path) {
            return Some(path.to_owned());
        }
        let in_workspace = resolved.get(path)?;
        Some(from_cwd(cwd, in_workspace))
    };
    let mut tests = Vec::with_capacity(cases.len());
    for case in cases {
        let file = case
            .file
            .as_deref()
            .map(|f| local(f).unwrap_or_else(|| f.to_owned()));
        let name = match (&file, case.titles.is_empty()) {
            (Some(file), true) => file.clone(),
            (Some(file), false) => format!("{file}::{}", case.titles.join("::")),
            (None, _) => case.titles.join("::"),
        };
        let mut test = TestCase::new(name, case.status);
        test.kind = case.kind;
        test.detail = case.detail;
        test.locations = case
            .locations
            .into_iter()
            .filter_map(|mut l| {
                l.path = local(&l.path)?;
                Some(l)
            })
            .collect();
        tests.push(test);
    }
    tests
}

/// `path` (workspace-relative) as seen from `cwd` (workspace-relative),
/// when it is below it; else from the workspace root, as `/`-free
/// `../` steps.
fn from_cwd(cwd: &str, path: &str) -> String {
    if cwd == "." {
        return path.to_owned();
    }
    if let Some(rest) = path.strip_prefix(cwd).and_then(|r| r.strip_prefix('/')) {
        return rest.to_owned();
    }
    let depth = cwd.split('/').count();
    format!("{}{path}", "../".repeat(depth))
}

#[cfg(test)]
mod tests;
