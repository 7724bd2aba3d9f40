//! Reading `go test -json`: one JSON event per line (`run`, `output`,
//! `pass`, `fail`, `skip`, per package and test). Each test's output holds
//! its `file_test.go:LINE: message` lines, printed relative to its
//! package's directory; build errors come as `file.go:LINE:COL: message`
//! lines outside the JSON (stderr before Go 1.24, `build-output` events
//! after).

use std::collections::BTreeMap;

use checkrail_sdk::serde_json::{self, Value};
use checkrail_sdk::{Workspace, tool_paths};

use crate::libtest::CompileError;
use crate::model::{Location, Status, TestCase};

/// What one `go test -json` run reported.
#[derive(Debug, Default)]
pub struct GoRun {
    /// Each test (subtests as `Parent/sub`), named `package::Test`.
    pub tests: Vec<TestCase>,
    /// Build errors, with their places relative to the command's directory.
    pub build_errors: Vec<CompileError>,
    /// Packages that failed without a failing test (a build failure, a
    /// crash in `TestMain`, a panic outside tests).
    pub failed_packages: Vec<String>,
}

/// Parses the JSON events in `stdout` and the build errors in both
/// streams. `module` is the module path from `go.mod`, so that a package's
/// directory can be told from its import path.
pub fn parse(stdout: &str, stderr: &str, module: Option<&str>) -> GoRun {
    let mut run = GoRun::default();
    // (package, test) → (output lines, final action)
    let mut tests: BTreeMap<(String, String), (Vec<String>, Option<String>)> = BTreeMap::new();
    let mut package_failed: BTreeMap<String, bool> = BTreeMap::new();
    let mut plain = Vec::new();
    for line in stdout.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            plain.push(line.to_owned());
            continue;
        };
        let action = event["Action"].as_str().unwrap_or_default();
        let package = event["Package"].as_str().unwrap_or_default().to_owned();
        let output = event["Output"].as_str().unwrap_or_default();
        match event["Test"].as_str() {
            Some(test) => {
                let entry = tests.entry((package, test.to_owned())).or_default();
                match action {
                    "output" => entry.0.push(output.trim_end_matches('\n').to_owned()),
                    "pass" | "fail" | "skip" => entry.1 = Some(action.to_owned()),
                    _ => {}
                }
            }
            None => match action {
                "fail" => {
                    package_failed.insert(package, true);
                }
                "build-output" => plain.push(output.trim_end_matches('\n').to_owned()),
                _ => {}
            },
        }
    }
    let mut failing_tests: BTreeMap<String, bool> = BTreeMap::new();
    for ((package, test), (output, action)) in tests {
        let status = match action.as_deref() {
            Some("pass") => Status::Passed,
            Some("skip") => Status::Skipped,
            Some("fail") => Status::Failed,
            // Started and never ended: the binary died under it.
            _ => Status::Errored,
        };
        if status.is_failure() {
            failing_tests.insert(package.clone(), true);
        }
        let dir = package_dir(&package, module);
        let mut case = TestCase::new(format!("{package}::{test}"), status);
        let (detail, locations) = failure_detail(&output, &dir);
        if status != Status::Passed {
            case.detail = detail;
            case.locations = locations;
        }
        run.tests.push(case);
    }
    run.failed_packages = package_failed
        .into_keys()
        .filter(|p| !failing_tests.contains_key(p))
        .collect();
    for line in plain.iter().map(String::as_str).chain(stderr.lines()) {
        if let Some(error) = build_error(line)
            && !run.build_errors.contains(&error)
        {
            run.build_errors.push(error);
        }
    }
    run
}

/// A Go module: the workspace directory of its `go.mod` and the module
/// path that file declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Where `go.mod` is, `.` for the workspace root.
    pub dir: String,
    /// The module path it declares (`example.com/calc`).
    pub path: String,
}

/// The module whose `go.mod` is in `cwd` or the nearest directory above it,
/// as `go test` run in `cwd` finds it.
pub fn module(ws: &Workspace, cwd: &str) -> Option<Module> {
    tool_paths::ancestors(cwd).into_iter().find_map(|dir| {
        let text = ws.read_to_string(&tool_paths::join(&dir, "go.mod")?).ok()?;
        let path = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("module "))?
            .trim()
            .trim_matches('"')
            .to_owned();
        Some(Module { dir, path })
    })
}

/// The directory of `package` relative to the module root (`.` for the
/// root package); the import path itself when the module is unknown.
pub fn package_dir(package: &str, module: Option<&str>) -> String {
    match module {
        Some(module) if package == module => ".".to_owned(),
        Some(module) => package
            .strip_prefix(module)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(package)
            .to_owned(),
        None => package.to_owned(),
    }
}

/// A failing test's message (its `file_test.go:N: message` lines, or the
/// tail of its output) and the places those lines name.
fn failure_detail(output: &[String], dir: &str) -> (Option<String>, Vec<Location>) {
    let mut messages = Vec::new();
    let mut locations = Vec::new();
    for line in output {
        let trimmed = line.trim_start();
        let Some((place, message)) = trimmed.split_once(": ") else {
            continue;
        };
        let mut parts = place.rsplitn(2, ':');
        let (Some(number), Some(file)) = (parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(number), true) = (number.parse::<u32>(), file.ends_with(".go")) else {
            continue;
        };
        let path = if dir == "." {
            file.to_owned()
        } else {
            format!("{dir}/{file}")
        };
        locations.push(Location::new(path, Some(number), None));
        messages.push(message.trim().to_owned());
    }
    let detail = if messages.is_empty() {
        let tail: Vec<&str> = output
            .iter()
            .map(String::as_str)
            .filter(|l| !l.trim().is_empty() && !l.starts_with("=== ") && !l.starts_with("--- "))
            .collect();
        (!tail.is_empty()).then(|| tail[tail.len().saturating_sub(5)..].join("\n"))
    } else {
        Some(messages.join("\n"))
    };
    (detail, locations)
}

/// A `file.go:LINE:COL: message` build error line.
fn build_error(line: &str) -> Option<CompileError> {
    let (place, message) = line.trim().split_once(": ")?;
    let mut parts = place.splitn(3, ':');
    let file = parts.next()?;
    let line_no: u32 = parts.next()?.parse().ok()?;
    let column = parts.next().and_then(|c| c.parse().ok());
    if !file.ends_with(".go") {
        return None;
    }
    Some(CompileError {
        code: None,
        message: message.trim().to_owned(),
        location: Some(Location::new(
            file.trim_start_matches("./").to_owned(),
            Some(line_no),
            column,
        )),
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn reads_events_places_and_build_errors() {
        let stdout = [
            r#"{"Action":"run","Package":"demo/calc","Test":"TestAdd"}"#,
            r#"{"Action":"output","Package":"demo/calc","Test":"TestAdd","Output":"=== RUN   TestAdd\n"}"#,
            r#"{"Action":"output","Package":"demo/calc","Test":"TestAdd","Output":"    calc_test.go:9: add(2, 2) = 4, want 5\n"}"#,
            r#"{"Action":"fail","Package":"demo/calc","Test":"TestAdd","Elapsed":0}"#,
            r#"{"Action":"pass","Package":"demo/calc","Test":"TestSub","Elapsed":0}"#,
            r#"{"Action":"skip","Package":"demo/calc","Test":"TestSlow","Elapsed":0}"#,
            r#"{"Action":"fail","Package":"demo/calc","Elapsed":0}"#,
            r#"{"Action":"fail","Package":"demo/broken","Elapsed":0}"#,
        ]
        .join("\n");
        let stderr = "# demo/broken [demo/broken.test]\nbroken/b.go:4:2: undefined: nope\n";
        let run = parse(&stdout, stderr, Some("demo"));
        let add = run
            .tests
            .iter()
            .find(|t| t.name == "demo/calc::TestAdd")
            .unwrap();
        assert_eq!(add.status, Status::Failed);
        assert_eq!(add.detail.as_deref(), Some("add(2, 2) = 4, want 5"));
        assert_eq!(
            add.locations[0],
            Location::new("calc/calc_test.go", Some(9), None)
        );
        let statuses: Vec<Status> = run.tests.iter().map(|t| t.status).collect();
        assert!(statuses.contains(&Status::Passed) && statuses.contains(&Status::Skipped));
        assert_eq!(run.failed_packages, ["demo/broken"]);
        assert_eq!(run.build_errors[0].message, "undefined: nope");
        assert_eq!(
            run.build_errors[0].location,
            Some(Location::new("broken/b.go", Some(4), Some(2)))
        );
    }
}
