//! Running the tests under the coverage tool and reading what it measured.

use checkrail_sdk::serde_json::Value;
use checkrail_sdk::tool::{Judged, Tool as Runner, WorkspaceDir};
use checkrail_sdk::{Command, Context, Finding, Outcome, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::report::{self, FileCoverage, Format};
use crate::{Config, Tool};

/// Test files and directories, left out of the figure unless `omit` says
/// otherwise.
const DEFAULT_OMIT: &[&str] = &[
    "**/test_*.py",
    "**/*_test.py",
    "**/conftest.py",
    "**/tests/**",
    "**/test/**",
    "**/__tests__/**",
    "**/*.test.*",
    "**/*.spec.*",
    "**/*_test.go",
];

/// Line counts over the measured files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Lines that can run.
    pub lines: u64,
    /// Lines that ran.
    pub covered: u64,
    /// Lines the sources excluded from measurement.
    pub excluded: u64,
    /// Files measured.
    pub files: u64,
}

impl Totals {
    /// Covered lines as a percentage (100 when nothing can run).
    pub fn percent(&self) -> f64 {
        if self.lines == 0 {
            return 100.0;
        }
        self.covered as f64 * 100.0 / self.lines as f64
    }
}

/// What one run measured: the totals and each file (workspace-relative).
#[derive(Debug)]
pub struct Measured {
    pub totals: Totals,
    pub files: Vec<(String, FileCoverage)>,
}

/// At most this many files are recorded with their excluded-line counts.
const MAX_EXCLUDED_FILES: usize = 500;
/// At most this many files are recorded with their line counts (about
/// 60 bytes each in the facts).
const MAX_MEASURED_FILES: usize = 5_000;

impl Measured {
    /// Files with lines excluded from measurement, with how many, for the
    /// facts (at most [`MAX_EXCLUDED_FILES`]).
    pub fn excluded_by_file(&self) -> std::collections::BTreeMap<String, u64> {
        self.files
            .iter()
            .filter(|(_, f)| !f.excluded.is_empty())
            .take(MAX_EXCLUDED_FILES)
            .map(|(path, f)| (path.clone(), f.excluded.len() as u64))
            .collect()
    }

    /// Each measured file with the lines that can run in it, for the facts
    /// (at most [`MAX_MEASURED_FILES`]): a later phase tells from them which
    /// files are no longer measured.
    pub fn lines_by_file(&self) -> std::collections::BTreeMap<String, u64> {
        self.files
            .iter()
            .take(MAX_MEASURED_FILES)
            .map(|(path, f)| (path.clone(), f.lines.len() as u64))
            .collect()
    }

    /// The files measured at an earlier phase (`before`: its
    /// `lines_by_file`) that are not measured now, with their lines then.
    pub fn no_longer_measured(&self, before: &Value) -> Vec<(String, u64)> {
        let Some(before) = before.as_object() else {
            return Vec::new();
        };
        before
            .iter()
            .filter(|(path, _)| !self.files.iter().any(|(now, _)| now == *path))
            .map(|(path, lines)| (path.clone(), lines.as_u64().unwrap_or(0)))
            .filter(|(_, lines)| *lines > 0)
            .collect()
    }

    /// Findings at each file with more excluded lines than `before` (its
    /// counts by file), at the file's first excluded line.
    pub fn new_exclusions(&self, before: &Value, phase: &str) -> Vec<Finding> {
        self.files
            .iter()
            .filter_map(|(path, f)| {
                let then = before.get(path).and_then(Value::as_u64).unwrap_or(0);
                let now = f.excluded.len() as u64;
                let first = f.excluded.iter().next().copied()?;
                (now > then).then(|| {
                    Finding::error(format!(
                        "{now} lines of this file are excluded from measurement, {then} at `{phase}`"
                    ))
                    .path(path.as_str())
                    .line(first)
                    .fix_hint("remove the new `pragma: no cover` (or like) comments and test that code instead")
                    .code("new-exclusions")
                })
            })
            .collect()
    }

    /// Info findings for the `limit` files with the most uncovered lines,
    /// each at its first uncovered line.
    pub fn least_covered(&self, limit: usize, cwd: &str) -> Vec<Finding> {
        let mut files: Vec<&(String, FileCoverage)> = self
            .files
            .iter()
            .filter(|(_, f)| f.missing().next().is_some())
            .collect();
        files.sort_by_key(|(path, f)| (std::cmp::Reverse(f.missing().count()), path.clone()));
        let shown = files.len().min(limit);
        let mut findings: Vec<Finding> = files[..shown]
            .iter()
            .map(|(path, f)| {
                let missing: Vec<u32> = f.missing().collect();
                let ranges = ranges(&missing);
                Finding::info(format!(
                    "{} of {} lines not covered: {ranges}",
                    missing.len(),
                    f.lines.len()
                ))
                .path(path.as_str())
                .line(missing[0])
                .code("uncovered-lines")
            })
            .collect();
        if files.len() > shown {
            findings.push(
                Finding::info(format!(
                    "{} more files under `{cwd}` have uncovered lines",
                    files.len() - shown
                ))
                .code("uncovered-lines"),
            );
        }
        findings
    }
}

/// `3-5, 9, 12-14` for sorted line numbers.
fn ranges(lines: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = lines[i];
        let mut end = start;
        while i + 1 < lines.len() && lines[i + 1] == end + 1 {
            i += 1;
            end = lines[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
        if parts.len() == 12 && i < lines.len() {
            parts.push("…".to_owned());
            break;
        }
    }
    parts.join(", ")
}

/// Runs the tests under the tool and reads the report. `Ok(Err(outcome))`
/// when the measurement could not be made (not granted, tests failed, no
/// report); `Err` only when the rule cannot run at all.
pub fn run(
    config: &Config,
    tool: Tool,
    cx: &Context,
) -> Result<std::result::Result<Measured, Outcome>> {
    let cwd = config.cwd.as_str();
    let omit = omit_set(config.omit.as_deref())?;
    let scratch = cx.scratch_dir()?;
    let scratch_arg = config.cwd.path_from_here(&scratch);
    let plan = plan(config, tool, &scratch_arg, &scratch);
    for command in plan.commands {
        let runner =
            Runner::new(checkrail_sdk::tool::quoted(&command), &config.cwd).again("measure again");
        let ran = match runner.run(cx, command) {
            Ok(ran) => ran,
            Err(refused) => return Ok(Err(refused)),
        };
        if ran.output.timed_out || !ran.output.success() {
            let finding = ran.timeout().unwrap_or_else(|| {
                if ran.output.exit_code.is_none() {
                    ran.killed()
                } else {
                    ran.failed("passing tests: coverage is measured on a green suite, and the `test` rule names each failure")
                }
            });
            return Ok(Err(failed(vec![finding])));
        }
        let cut = ran.problems(Judged {
            explained: true,
            truncated: None,
            ..Judged::default()
        });
        if !cut.is_empty() {
            return Ok(Err(failed(cut)));
        }
    }
    let text = match cx.workspace().read_to_string(&plan.report) {
        Ok(text) => text,
        Err(e) => {
            return Ok(Err(failed(vec![
                Finding::error(format!(
                    "the coverage report `{}` was not written: {e}",
                    plan.report
                ))
                .fix_hint("make the command write its report to the path given in `report`")
                .code("report-missing"),
            ])));
        }
    };
    let module = go_module(cx, cwd);
    let parsed = match report::parse(plan.format, &text, module.as_deref()) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Ok(Err(failed(vec![
                Finding::error(format!(
                    "the coverage report `{}` cannot be read as {:?}: {e}",
                    plan.report, plan.format
                ))
                .fix_hint("check `format` against what the command writes")
                .code("report-invalid"),
            ])));
        }
    };
    Ok(Ok(measured(parsed, &config.cwd, &omit)))
}

/// The failing outcome of a measurement that could not be made.
fn failed(findings: Vec<Finding>) -> Outcome {
    Outcome::from_findings(findings).with_summary("coverage could not be measured")
}

/// The commands to run and the report they leave.
struct Plan {
    commands: Vec<Command>,
    /// Workspace-relative report path.
    report: String,
    format: Format,
}

fn plan(config: &Config, tool: Tool, scratch_arg: &str, scratch: &str) -> Plan {
    let args = config.args.iter().cloned();
    match tool {
        Tool::Python => {
            let data = format!("--data-file={scratch_arg}/.coverage");
            let run = Command::new("python3")
                .args(["-m", "coverage", "run", &data, "-m", "pytest", "-q"])
                .args(["-p", "no:cacheprovider"])
                .args(args);
            let json = Command::new("python3").args([
                "-m",
                "coverage",
                "json",
                "--quiet",
                &data,
                "-o",
                &format!("{scratch_arg}/coverage.json"),
            ]);
            Plan {
                commands: vec![run, json],
                report: format!("{scratch}/coverage.json"),
                format: Format::CoverageJson,
            }
        }
        Tool::Go => {
            let packages: Vec<String> = if config.args.is_empty() {
                vec!["./...".to_owned()]
            } else {
                config.args.clone()
            };
            let run = Command::new("go")
                .args([
                    "test".to_owned(),
                    "-covermode=set".to_owned(),
                    format!("-coverprofile={scratch_arg}/cover.out"),
                ])
                .args(packages);
            Plan {
                commands: vec![run],
                report: format!("{scratch}/cover.out"),
                format: Format::GoProfile,
            }
        }
        Tool::Node => {
            let run = Command::new("node")
                .args([
                    "--test".to_owned(),
                    "--experimental-test-coverage".to_owned(),
                    "--test-reporter=lcov".to_owned(),
                    format!("--test-reporter-destination={scratch_arg}/lcov.info"),
                    "--test-reporter=spec".to_owned(),
                    "--test-reporter-destination=stdout".to_owned(),
                ])
                .args(args);
            Plan {
                commands: vec![run],
                report: format!("{scratch}/lcov.info"),
                format: Format::Lcov,
            }
        }
        Tool::Custom | Tool::Auto => {
            let custom = config
                .command
                .clone()
                .unwrap_or_else(|| crate::CustomCommand {
                    program: String::new(),
                    args: Vec::new(),
                });
            let run = Command::new(custom.program).args(
                custom
                    .args
                    .iter()
                    .map(|a| a.replace("{scratch}", scratch_arg)),
            );
            let report = config
                .report
                .as_deref()
                .unwrap_or("{scratch}/lcov.info")
                .replace("{scratch}", scratch);
            Plan {
                commands: vec![run],
                report,
                format: config.format.unwrap_or(Format::Lcov),
            }
        }
    }
}

fn omit_set(omit: Option<&[String]>) -> Result<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    let globs: Vec<&str> = match omit {
        Some(globs) => globs.iter().map(String::as_str).collect(),
        None => DEFAULT_OMIT.to_vec(),
    };
    for glob in globs {
        let glob = Glob::new(glob).map_err(|e| {
            checkrail_sdk::Error::new(format!(
                "use a valid glob in `omit`: `{glob}` is not one ({e})"
            ))
        })?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| checkrail_sdk::Error::new(format!("build the `omit` globs: {e}")))
}

/// The report's files under `cwd`, omitted ones left out, with
/// workspace-relative paths, and their totals.
fn measured(parsed: report::Report, cwd: &WorkspaceDir, omit: &GlobSet) -> Measured {
    let mut totals = Totals::default();
    let mut files = Vec::new();
    for (path, file) in parsed {
        let relative = path.strip_prefix("./").unwrap_or(&path);
        // Absolute or escaping paths are outside the project (site-packages,
        // the standard library): never part of the figure.
        if relative.starts_with('/') || checkrail_sdk::normalize_path(relative).is_err() {
            continue;
        }
        if omit.is_match(relative) {
            continue;
        }
        totals.lines += file.lines.len() as u64;
        totals.covered += file.covered.len() as u64;
        totals.excluded += file.excluded.len() as u64;
        totals.files += 1;
        let Some(path) = cwd.join(relative) else {
            continue;
        };
        files.push((path, file));
    }
    Measured { totals, files }
}

/// The Go module path declared in `<cwd>/go.mod`, if any.
fn go_module(cx: &Context, cwd: &str) -> Option<String> {
    let manifest = checkrail_sdk::tool_paths::join(cwd, "go.mod")?;
    let text = cx.workspace().read_to_string(&manifest).ok()?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("module "))
        .map(|m| m.trim().trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_collapse_runs() {
        assert_eq!(ranges(&[3, 4, 5, 9, 12, 13]), "3-5, 9, 12-13");
        assert_eq!(ranges(&[7]), "7");
    }

    #[test]
    fn omitted_and_outside_files_do_not_count() {
        let mut parsed = report::Report::new();
        let file = |lines: &[u32], covered: &[u32]| FileCoverage {
            lines: lines.iter().copied().collect(),
            covered: covered.iter().copied().collect(),
            excluded: Default::default(),
        };
        parsed.insert("calc.py".into(), file(&[1, 2, 3, 4], &[1, 2]));
        parsed.insert("tests/test_calc.py".into(), file(&[1, 2], &[1, 2]));
        parsed.insert("test_top.py".into(), file(&[1], &[1]));
        parsed.insert("/usr/lib/python3/x.py".into(), file(&[1], &[]));
        parsed.insert("../elsewhere.py".into(), file(&[1], &[]));
        let m = measured(
            parsed,
            &WorkspaceDir::new("py").unwrap(),
            &omit_set(None).unwrap(),
        );
        assert_eq!(m.totals.lines, 4);
        assert_eq!(m.totals.covered, 2);
        assert_eq!(m.files[0].0, "py/calc.py");
        let shown = m.least_covered(10, "py");
        assert_eq!(shown[0].path.as_deref(), Some("py/calc.py"));
        assert_eq!(shown[0].line, Some(3));
    }
}
