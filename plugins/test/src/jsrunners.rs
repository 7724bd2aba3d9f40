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
mod tests {
    use super::*;
    use checkrail_sdk::testing::TestWorkspace;

    /// Captured from `node --test --test-reporter=junit` (node 20.20) on a
    /// file with a failing assertion, a pass, `test.skip`, `test.todo`, a
    /// skip with a reason, and nested `describe` blocks; plus a file that
    /// does not load, a hook that failed and a test that timed out.
    /// Stack frames trimmed.
    const NODE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites>
	<testcase name="/tmp/w/test/broken.test.js" time="0.064584" classname="test" failure="test failed">
		<failure type="testCodeFailure" message="test failed">
[Error: test failed] { code: 'ERR_TEST_FAILURE', failureType: 'testCodeFailure', cause: 'test failed', exitCode: 1, signal: null }
		</failure>
	</testcase>
	<testcase name="adds two numbers" time="0.001429" classname="test" failure="Expected values to be strictly equal:-1 !== 3">
		<failure type="testCodeFailure" message="Expected values to be strictly equal:-1 !== 3">
Error [ERR_TEST_FAILURE]: Expected values to be strictly equal:

-1 !== 3

    at AsyncResource.runInAsyncScope (node:async_hooks:206:9) {
  code: 'ERR_TEST_FAILURE',
  failureType: 'testCodeFailure',
  cause: AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  -1 !== 3
  
      at TestContext.&lt;anonymous> (/tmp/w/test/calc.test.js:7:10)
      at Test.runInAsyncScope (node:async_hooks:206:9)
      at Test.run (node:internal/test_runner/test:796:25) {
    generatedMessage: true,
    code: 'ERR_ASSERTION',
    actual: -1,
    expected: 3,
    operator: 'strictEqual'
  }
}
		</failure>
	</testcase>
	<testcase name="passes" time="0.000114" classname="test"/>
	<testcase name="skipped one" time="0.000123" classname="test">
		<skipped type="skipped" message="true"/>
	</testcase>
	<testcase name="todo one" time="0.000061" classname="test">
		<skipped type="todo" message="true"/>
	</testcase>
	<testcase name="skip via option" time="0.000097" classname="test">
		<skipped type="skipped" message="not yet"/>
	</testcase>
	<testsuite name="math" time="0.001624" disabled="0" errors="0" tests="3" failures="2" skipped="0" hostname="vm">
		<testcase name="subtracts" time="0.000096" classname="test"/>
		<testsuite name="nested" time="0.001197" disabled="0" errors="0" tests="1" failures="1" skipped="0" hostname="vm">
			<testcase name="throws in code" time="0.001051" classname="test" failure="boom">
				<failure type="testCodeFailure" message="boom">
Error [ERR_TEST_FAILURE]: boom
    at async Promise.all (index 0) {
  code: 'ERR_TEST_FAILURE',
  failureType: 'testCodeFailure',
  cause: Error: boom
      at explode (/tmp/w/lib/calc.js:3:9)
      at TestContext.&lt;anonymous> (/tmp/w/test/calc.test.js:26:31)
      at Test.runInAsyncScope (node:async_hooks:206:9)
}
				</failure>
			</testcase>
		</testsuite>
	</testsuite>
	<testsuite name="with hook" time="0.000910" disabled="0" errors="0" tests="1" failures="1" skipped="0" hostname="vm">
		<testcase name="never runs" time="0.000000" classname="test" failure="test did not finish before its parent and was cancelled">
			<failure type="cancelledByParent" message="test did not finish before its parent and was cancelled">
[Error [ERR_TEST_FAILURE]: test did not finish before its parent and was cancelled] { code: 'ERR_TEST_FAILURE', failureType: 'cancelledByParent', cause: 'test did not finish before its parent and was cancelled' }
			</failure>
		</testcase>
	</testsuite>
	<testcase name="slow" time="0.052632" classname="test" failure="test timed out after 50ms">
		<failure type="testTimeoutFailure" message="test timed out after 50ms">
[Error [ERR_TEST_FAILURE]: test timed out after 50ms] { code: 'ERR_TEST_FAILURE', failureType: 'testTimeoutFailure', cause: 'test timed out after 50ms' }
		</failure>
	</testcase>
	<!-- tests 8 -->
</testsuites>"#;

    fn names(cases: &[Case]) -> Vec<(String, Status, Kind)> {
        cases
            .iter()
            .map(|c| {
                let mut parts: Vec<String> = c.file.iter().cloned().collect();
                parts.extend(c.titles.iter().cloned());
                (parts.join("::"), c.status, c.kind)
            })
            .collect()
    }

    #[test]
    fn node_names_statuses_and_places() {
        let cases = parse_junit(NODE, JsRunner::Node).unwrap();
        let s = |n: &str, st, k| (n.to_owned(), st, k);
        assert_eq!(
            names(&cases),
            [
                s(
                    "/tmp/w/test/broken.test.js",
                    Status::Errored,
                    Kind::Collection
                ),
                s("adds two numbers", Status::Failed, Kind::Plain),
                s("passes", Status::Passed, Kind::Plain),
                s("skipped one", Status::Skipped, Kind::Plain),
                s("todo one", Status::Skipped, Kind::Plain),
                s("skip via option", Status::Skipped, Kind::Plain),
                s("math::subtracts", Status::Passed, Kind::Plain),
                s("math::nested::throws in code", Status::Failed, Kind::Plain),
                s("with hook::never runs", Status::Errored, Kind::Plain),
                s("slow", Status::Failed, Kind::Plain),
            ]
        );
        let add = &cases[1];
        assert_eq!(
            add.detail.as_deref(),
            Some("Expected values to be strictly equal:\n-1 !== 3")
        );
        assert_eq!(
            add.locations,
            [Location::new("/tmp/w/test/calc.test.js", Some(7), Some(10))]
        );
        assert_eq!(cases[4].detail.as_deref(), Some("todo"));
        assert_eq!(cases[3].detail, None);
        assert_eq!(cases[5].detail.as_deref(), Some("not yet"));
        // The test's own frame first, then the code under test.
        let thrown = &cases[7];
        assert_eq!(thrown.detail.as_deref(), Some("boom"));
        assert_eq!(
            thrown.locations,
            [
                Location::new("/tmp/w/test/calc.test.js", Some(26), Some(31)),
                Location::new("/tmp/w/lib/calc.js", Some(3), Some(9)),
            ]
        );
        assert_eq!(
            cases[8].detail.as_deref(),
            Some("test did not finish before its parent and was cancelled")
        );
        assert_eq!(
            cases[9].detail.as_deref(),
            Some("test timed out after 50ms")
        );
        assert!(
            cases[0]
                .detail
                .as_deref()
                .unwrap()
                .contains("failed outside its tests")
        );
    }

    /// Captured from `vitest run --globals --reporter=junit` (Vitest 3.2):
    /// a file that does not load, and one with every kind of result.
    const VITEST: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<testsuites name="vitest tests" tests="8" failures="4" errors="0" time="0.00997649">
    <testsuite name="test/broken.test.js" timestamp="2026-11-30T17:24:39.360Z" hostname="vm" tests="1" failures="1" errors="0" skipped="0" time="0">
        <testcase classname="test/broken.test.js" name="test/broken.test.js" time="0">
            <failure message="Cannot find module &apos;./nope&apos; imported from &apos;/tmp/w/test/broken.test.js&apos;" type="Error">
Error: Cannot find module &apos;./nope&apos; imported from &apos;/tmp/w/test/broken.test.js&apos;
 ❯ test/broken.test.js:1:1

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯
Serialized Error: { code: &apos;ERR_MODULE_NOT_FOUND&apos; }
            </failure>
        </testcase>
    </testsuite>
    <testsuite name="test/calc.test.ts" timestamp="2026-11-30T17:24:39.378Z" hostname="vm" tests="7" failures="3" errors="0" skipped="2" time="0.00997649">
        <testcase classname="test/calc.test.ts" name="adds two numbers" time="0.005663617">
            <failure message="expected -1 to be 3 // Object.is equality" type="AssertionError">
AssertionError: expected -1 to be 3 // Object.is equality

- Expected
+ Received

- 3
+ -1

 ❯ test/calc.test.ts:4:21
            </failure>
        </testcase>
        <testcase classname="test/calc.test.ts" name="passes" time="0.000193439">
        </testcase>
        <testcase classname="test/calc.test.ts" name="skipped one" time="0">
            <skipped/>
        </testcase>
        <testcase classname="test/calc.test.ts" name="math &gt; nested &gt; deep" time="0.001458865">
            <failure message="expected { a: 1 } to deeply equal { a: 2 }" type="AssertionError">
AssertionError: expected { a: 1 } to deeply equal { a: 2 }
 ❯ subtract src/calc.ts:2:9
 ❯ test/calc.test.ts:13:39
            </failure>
        </testcase>
    </testsuite>
</testsuites>"#;

    #[test]
    fn vitest_names_statuses_and_places() {
        let cases = parse_junit(VITEST, JsRunner::Vitest).unwrap();
        let s = |n: &str, st, k| (n.to_owned(), st, k);
        assert_eq!(
            names(&cases),
            [
                s("test/broken.test.js", Status::Errored, Kind::Collection),
                s(
                    "test/calc.test.ts::adds two numbers",
                    Status::Failed,
                    Kind::Plain
                ),
                s("test/calc.test.ts::passes", Status::Passed, Kind::Plain),
                s(
                    "test/calc.test.ts::skipped one",
                    Status::Skipped,
                    Kind::Plain
                ),
                s(
                    "test/calc.test.ts::math::nested::deep",
                    Status::Failed,
                    Kind::Plain
                ),
            ]
        );
        assert_eq!(
            cases[0].detail.as_deref(),
            Some("Cannot find module './nope' imported from '/tmp/w/test/broken.test.js'")
        );
        assert_eq!(
            cases[1].detail.as_deref(),
            Some("expected -1 to be 3 // Object.is equality\n- Expected\n+ Received\n- 3\n+ -1")
        );
        assert_eq!(
            cases[1].locations,
            [Location::new("test/calc.test.ts", Some(4), Some(21))]
        );
        assert_eq!(
            cases[4].locations,
            [
                Location::new("test/calc.test.ts", Some(13), Some(39)),
                Location::new("src/calc.ts", Some(2), Some(9)),
            ]
        );
    }

    /// Captured from `jest --ci --json --testLocationInResults` (Jest 30):
    /// a failure, a pass, a skip, a todo, a nested block, and a file that
    /// does not load. Stack frames trimmed.
    const JEST: &str = r#"{"numFailedTestSuites":2,"numTotalTests":6,"success":false,"testResults":[
{"assertionResults":[
 {"ancestorTitles":[],"failureMessages":["Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 3\nReceived: -1\n    at Object.toBe (/tmp/w/__tests__/calc.test.js:4:21)\n    at Promise.finally.completed (/root/.cache/checkrail/node-tools/node_modules/jest-circus/build/jestAdapterInit.js:1834:28)\n    at new Promise (<anonymous>)"],"fullName":"adds two numbers","location":{"column":1,"line":3},"status":"failed","title":"adds two numbers"},
 {"ancestorTitles":[],"failureMessages":[],"location":{"column":1,"line":6},"status":"passed","title":"passes"},
 {"ancestorTitles":[],"failureMessages":[],"location":{"column":6,"line":7},"status":"pending","title":"skipped one"},
 {"ancestorTitles":[],"failureMessages":[],"location":{"column":6,"line":8},"status":"todo","title":"todo one"},
 {"ancestorTitles":["math","nested"],"failureMessages":["Error: boom\n    at boom (/tmp/w/calc.js:2:9)\n    at Object.<anonymous> (/tmp/w/__tests__/calc.test.js:11:37)"],"location":{"column":5,"line":11},"status":"failed","title":"throws inside"}
],"message":"","name":"/tmp/w/__tests__/calc.test.js","status":"failed"},
{"assertionResults":[],"message":"  ● Test suite failed to run\n\n    Cannot find module './nope' from '__tests__/broken.test.js'\n\n    > 1 | const x = require(\"./nope\");\n        |           ^\n      2 | test(\"t\", () => {});\n\n      at Resolver._throwModNotFoundError (../../../root/.cache/checkrail/node-tools/node_modules/jest-resolve/build/index.js:1031:11)\n      at Object.require (__tests__/broken.test.js:1:11)\n","name":"/tmp/w/__tests__/broken.test.js","status":"failed"}
]}"#;

    #[test]
    fn jest_names_statuses_and_places() {
        let cases = parse_jest(JEST).unwrap();
        let s = |n: &str, st, k| (n.to_owned(), st, k);
        let file = "/tmp/w/__tests__/calc.test.js";
        assert_eq!(
            names(&cases),
            [
                s(
                    &format!("{file}::adds two numbers"),
                    Status::Failed,
                    Kind::Plain
                ),
                s(&format!("{file}::passes"), Status::Passed, Kind::Plain),
                s(
                    &format!("{file}::skipped one"),
                    Status::Skipped,
                    Kind::Plain
                ),
                s(&format!("{file}::todo one"), Status::Skipped, Kind::Plain),
                s(
                    &format!("{file}::math::nested::throws inside"),
                    Status::Failed,
                    Kind::Plain
                ),
                s(
                    "/tmp/w/__tests__/broken.test.js",
                    Status::Errored,
                    Kind::Collection
                ),
            ]
        );
        assert_eq!(
            cases[0].detail.as_deref(),
            Some(
                "expect(received).toBe(expected) // Object.is equality\nExpected: 3\nReceived: -1"
            )
        );
        assert_eq!(
            cases[0].locations,
            [
                Location::new(file, Some(4), Some(21)),
                Location::new(file, Some(3), Some(1)),
            ]
        );
        assert_eq!(cases[3].detail.as_deref(), Some("todo"));
        assert_eq!(
            cases[4].locations[0],
            Location::new(file, Some(11), Some(37))
        );
        assert_eq!(
            cases[5].detail.as_deref(),
            Some("Cannot find module './nope' from '__tests__/broken.test.js'")
        );
        assert_eq!(
            cases[5].locations,
            [Location::new("__tests__/broken.test.js", Some(1), Some(11))]
        );
        assert!(parse_jest("<testsuites/>").is_err());
    }

    #[test]
    fn absolute_paths_become_workspace_names_relative_to_cwd() {
        let ws = TestWorkspace::new().unwrap();
        ws.write("app/__tests__/calc.test.js", "test('x', () => {});\n")
            .unwrap();
        ws.write("app/calc.js", "module.exports = {};\n").unwrap();
        let cases = vec![Case {
            file: Some("/host/w/app/__tests__/calc.test.js".to_owned()),
            titles: vec!["math".to_owned(), "adds".to_owned()],
            status: Status::Failed,
            kind: Kind::Plain,
            detail: None,
            locations: vec![
                Location::new("/host/w/app/calc.js", Some(2), Some(3)),
                Location::new("/usr/lib/node/x.js", Some(1), Some(1)),
            ],
        }];
        let cx = ws.context().unwrap();
        let tests = into_tests(cx.workspace(), "app", cases);
        assert_eq!(tests[0].name, "__tests__/calc.test.js::math::adds");
        assert_eq!(
            tests[0].locations,
            [Location::new("calc.js", Some(2), Some(3))]
        );
    }
}
