//! Coverage reports, read into one shape: per file, which lines could run,
//! which did, and which the source asked to leave out.
//!
//! Three formats: coverage.py's JSON report, Go's cover profile, and LCOV
//! (Node's test runner, c8, `cargo llvm-cov --lcov`, gcov via lcov).

use std::collections::{BTreeMap, BTreeSet};

use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json::Value;

/// The format of a coverage report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `coverage json` output (coverage.py).
    CoverageJson,
    /// `go test -coverprofile` output.
    GoProfile,
    /// LCOV tracefile (`SF:`, `DA:`, `end_of_record`).
    Lcov,
}

/// One source file's coverage. Paths are as the report printed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCoverage {
    /// Lines (statements, for Go) that can run.
    pub lines: BTreeSet<u32>,
    /// Those of them that ran.
    pub covered: BTreeSet<u32>,
    /// Lines the source excluded from measurement (`# pragma: no cover`).
    pub excluded: BTreeSet<u32>,
}

impl FileCoverage {
    /// Lines that can run and did not.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        self.lines.difference(&self.covered).copied()
    }
}

/// A whole report: file path as printed → coverage.
pub type Report = BTreeMap<String, FileCoverage>;

/// Parses `text` as `format`. `module` is the Go module path (from
/// `go.mod`), stripped from the profile's import paths.
pub fn parse(format: Format, text: &str, module: Option<&str>) -> Result<Report, String> {
    match format {
        Format::CoverageJson => coverage_json(text),
        Format::GoProfile => go_profile(text, module),
        Format::Lcov => lcov(text),
    }
}

fn coverage_json(text: &str) -> Result<Report, String> {
    let value: Value =
        checkrail_sdk::serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let files = value
        .get("files")
        .and_then(Value::as_object)
        .ok_or("no `files` object, so not a coverage.py JSON report")?;
    let lines_of = |file: &Value, key: &str| -> BTreeSet<u32> {
        file.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_u64)
                    .filter_map(|n| u32::try_from(n).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut report = Report::new();
    for (path, file) in files {
        let covered = lines_of(file, "executed_lines");
        let missing = lines_of(file, "missing_lines");
        let excluded = lines_of(file, "excluded_lines");
        let lines = covered.union(&missing).copied().collect();
        report.insert(
            path.clone(),
            FileCoverage {
                lines,
                covered,
                excluded,
            },
        );
    }
    Ok(report)
}

/// `mode: set` then `path/file.go:L.C,L.C statements count` per block. A
/// block counts its first line; a block listed twice (several test
/// binaries) is covered if any run covered it.
fn go_profile(text: &str, module: Option<&str>) -> Result<Report, String> {
    let mut lines = text.lines();
    match lines.next() {
        Some(first) if first.starts_with("mode:") => {}
        _ => return Err("no `mode:` line, so not a Go cover profile".to_owned()),
    }
    let mut report = Report::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || format!("line {} is not `file:range statements count`", n + 2);
        let (location, rest) = line
            .rsplit_once(':')
            .map_or((None, line), |(a, b)| (Some(a), b));
        let path = location.ok_or_else(bad)?;
        let mut parts = rest.split_whitespace();
        let (Some(range), Some(statements), Some(count)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let start = range
            .split_once('.')
            .and_then(|(l, _)| l.parse::<u32>().ok())
            .ok_or_else(bad)?;
        let statements: u32 = statements.parse().map_err(|_| bad())?;
        let count: u64 = count.parse().map_err(|_| bad())?;
        if statements == 0 {
            continue;
        }
        let path = strip_module(path, module);
        let file = report.entry(path).or_default();
        file.lines.insert(start);
        if count > 0 {
            file.covered.insert(start);
        }
    }
    Ok(report)
}

fn strip_module(path: &str, module: Option<&str>) -> String {
    module
        .and_then(|m| path.strip_prefix(m))
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(path)
        .to_owned()
}

fn lcov(text: &str) -> Result<Report, String> {
    let mut report = Report::new();
    let mut current: Option<(String, FileCoverage)> = None;
    let mut records = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(path) = line.strip_prefix("SF:") {
            current = Some((path.to_owned(), FileCoverage::default()));
        } else if let Some(data) = line.strip_prefix("DA:") {
            let (_, file) = current
                .as_mut()
                .ok_or_else(|| format!("line {}: `DA:` outside a `SF:` record", n + 1))?;
            let mut fields = data.split(',');
            let number = fields.next().and_then(|l| l.parse::<u32>().ok());
            let hits = fields.next().and_then(|h| h.parse::<f64>().ok());
            let (Some(number), Some(hits)) = (number, hits) else {
                return Err(format!("line {}: `DA:` needs `line,hits`", n + 1));
            };
            file.lines.insert(number);
            if hits > 0.0 {
                file.covered.insert(number);
            }
        } else if line == "end_of_record"
            && let Some((path, file)) = current.take()
        {
            let merged = report.entry(path).or_default();
            merged.lines.extend(file.lines);
            merged.covered.extend(file.covered);
            records += 1;
        }
    }
    if records == 0 && !text.trim().is_empty() {
        return Err("no `end_of_record`, so not an LCOV tracefile".to_owned());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_json_lines_and_exclusions() {
        let text = r#"{"meta": {}, "files": {"pkg/calc.py": {
            "executed_lines": [1, 2, 4], "missing_lines": [5, 6],
            "excluded_lines": [9], "summary": {}}}, "totals": {}}"#;
        let report = parse(Format::CoverageJson, text, None).unwrap();
        let file = &report["pkg/calc.py"];
        assert_eq!(file.lines.len(), 5);
        assert_eq!(file.covered.len(), 3);
        assert_eq!(file.missing().collect::<Vec<_>>(), [5, 6]);
        assert_eq!(file.excluded.iter().copied().collect::<Vec<_>>(), [9]);
        assert!(parse(Format::CoverageJson, "{}", None).is_err());
    }

    #[test]
    fn go_profile_strips_the_module_and_merges_blocks() {
        let text = "mode: set\n\
            example.com/calc/calc.go:3.24,5.2 1 1\n\
            example.com/calc/calc.go:7.24,9.2 1 0\n\
            example.com/calc/calc.go:7.24,9.2 1 1\n\
            example.com/calc/sub/x.go:3.1,4.2 2 0\n";
        let report = parse(Format::GoProfile, text, Some("example.com/calc")).unwrap();
        assert_eq!(report["calc.go"].covered.len(), 2, "{report:?}");
        assert_eq!(report["sub/x.go"].missing().collect::<Vec<_>>(), [3]);
        assert!(parse(Format::GoProfile, "calc.go:1.1,2.2 1 1", None).is_err());
        assert!(parse(Format::GoProfile, "mode: set\ngarbage", None).is_err());
    }

    #[test]
    fn lcov_records() {
        let text = "TN:\nSF:m.js\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n";
        let report = parse(Format::Lcov, text, None).unwrap();
        assert_eq!(report["m.js"].missing().collect::<Vec<_>>(), [2]);
        assert!(parse(Format::Lcov, "DA:1,1\n", None).is_err());
        assert!(parse(Format::Lcov, "SF:a\nDA:1,1\n", None).is_err());
    }
}
