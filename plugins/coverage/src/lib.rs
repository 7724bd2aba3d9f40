//! `coverage`: the tests cover enough of the code, and no less than at an
//! earlier phase.
//!
//! The rule runs the tests itself under a coverage tool (coverage.py,
//! `go test -coverprofile`, Node's built-in coverage, or a granted command
//! writing LCOV), with the report going to a fresh scratch directory, so a
//! report the agent wrote never counts. It records the figures as facts;
//! `no_drop_since` compares them with an earlier phase's, and also refuses
//! lines newly excluded from measurement (`# pragma: no cover`), the cheap
//! way to raise a percentage without a test.

mod measure;
mod report;

use checkrail_sdk::detect::{self, Project};
use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json::{Value, json};
use checkrail_sdk::tool::{CustomCommand, WorkspaceDir};
use checkrail_sdk::{Context, Error, Finding, Outcome, Result, Rule, export_rule};

pub use measure::Totals;
pub use report::Format;

/// How to measure, and what the figure must be.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The coverage tool: `python` (`python3 -m coverage run -m pytest`),
    /// `go` (`go test -coverprofile`), `node` (`node --test
    /// --experimental-test-coverage`, LCOV), `custom` (`command`, writing
    /// `report` in `format`), or `auto` (told by the project's marker files).
    pub tool: Tool,
    /// Workspace-relative directory the tests run in (default: the
    /// workspace root). Omit globs and reported paths are relative to it.
    #[serde(default)]
    pub cwd: WorkspaceDir,
    /// Extra arguments for the test command: pytest's (e.g. `["tests"]`),
    /// the packages for go (default `["./..."]`), the test files for node.
    #[serde(default)]
    pub args: Vec<String>,
    /// With `tool: custom`: the granted program and its arguments, in which
    /// `{scratch}` stands for a fresh directory (relative to `cwd`) to
    /// write the report into, e.g. `{"program": "cargo", "args": ["llvm-cov",
    /// "--lcov", "--output-path", "{scratch}/lcov.info"]}`.
    #[serde(default)]
    pub command: Option<CustomCommand>,
    /// With `tool: custom`: where the command writes its report, with
    /// `{scratch}` as in the command (e.g. `{scratch}/lcov.info`). It must
    /// be inside `{scratch}`, so a report left in the workspace never counts.
    #[serde(default)]
    pub report: Option<String>,
    /// With `tool: custom`: the report's format (`lcov`, `coverage-json`,
    /// `go-profile`; default `lcov`).
    #[serde(default)]
    pub format: Option<Format>,
    /// Lowest acceptable line coverage, in percent.
    #[serde(default)]
    pub min_percent: Option<f64>,
    /// Phase whose measurement this one must not fall below (the same
    /// rule must have run at that phase in this session). Also refuses more
    /// lines excluded from measurement than then.
    #[serde(default)]
    pub no_drop_since: Option<String>,
    /// With `no_drop_since`: how many percentage points below the earlier
    /// figure still count as no drop (default 0).
    #[serde(default)]
    pub tolerance: f64,
    /// With `no_drop_since`: how many percentage points above the earlier
    /// figure the coverage must now be (for "raise the coverage" phases).
    #[serde(default)]
    pub min_gain: Option<f64>,
    /// Globs (relative to `cwd`) of files left out of the figure. Default:
    /// test files and directories (`**/test_*.py`, `**/*_test.py`,
    /// `**/conftest.py`, `**/tests/**`, `**/test/**`, `**/__tests__/**`,
    /// `**/*.test.*`, `**/*.spec.*`, `**/*_test.go`). Files outside `cwd`
    /// never count.
    #[serde(default)]
    pub omit: Option<Vec<String>>,
    /// How many of the least-covered files a failing check names, each at
    /// its first uncovered line (default 10).
    #[serde(default = "default_show_files")]
    pub show_files: usize,
    /// Workspace globs whose contents decide the result, replacing the
    /// tool's default (its sources and configs; none, so never cached, for
    /// `custom`).
    #[serde(default)]
    pub inputs: Option<Vec<String>>,
}

fn default_show_files() -> usize {
    10
}

/// The coverage tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// Told by the project's marker files.
    Auto,
    /// coverage.py running pytest.
    Python,
    /// `go test -coverprofile`.
    Go,
    /// Node's test runner with its built-in coverage.
    Node,
    /// A granted command writing a report.
    Custom,
}

const PYTHON_INPUTS: &[&str] = &[
    "**/*.py",
    ".coveragerc",
    "pytest.ini",
    "pyproject.toml",
    "setup.cfg",
    "tox.ini",
];
const GO_INPUTS: &[&str] = &["**/*.go", "**/go.mod", "**/go.sum"];
const NODE_INPUTS: &[&str] = &[
    "**/*.js",
    "**/*.mjs",
    "**/*.cjs",
    "**/*.ts",
    "**/*.mts",
    "**/*.cts",
    "package.json",
];

/// The rule.
pub struct Coverage;

impl Rule for Coverage {
    type Config = Config;
    const ID: &'static str = "coverage";
    const DESCRIPTION: &'static str = "Test coverage, measured by running the tests under coverage.py, go test -cover, Node's coverage or a granted command writing LCOV, is at least a floor and no lower than at an earlier phase.";
    const CAPABILITIES: &'static [&'static str] =
        &["exec:python3", "exec:go", "exec:node", "exec:*"];
    const JUDGING_FILES: &'static [&'static str] = &[
        // coverage.py: `omit`, `exclude_lines`, `source`
        ".coveragerc",
        "pyproject.toml",
        "setup.cfg",
        "tox.ini",
        // pytest: hooks and options that deselect or skip tests
        "conftest.py",
        "**/conftest.py",
        "pytest.ini",
        // c8 / nyc: include and exclude lists
        ".c8rc",
        ".c8rc.json",
        ".nycrc",
        ".nycrc.json",
    ];

    fn check(config: Config, cx: &Context) -> Result<Outcome> {
        validate(&config)?;
        let cwd = config.cwd.as_str().to_owned();
        let (tool, detected) = resolve(config.tool, cx, &cwd)?;
        let mut outcome = match measure::run(&config, tool, cx)? {
            Ok(measured) => judge(&config, cx, tool, &cwd, &measured),
            Err(outcome) => outcome,
        };
        if let Some(detected) = detected {
            outcome.findings.insert(0, detected);
        }
        Ok(outcome)
    }

    fn inputs(config: &Config) -> Vec<String> {
        if let Some(inputs) = &config.inputs {
            return inputs.clone();
        }
        let globs: &[&str] = match config.tool {
            Tool::Python => PYTHON_INPUTS,
            Tool::Go => GO_INPUTS,
            Tool::Node => NODE_INPUTS,
            Tool::Custom => return Vec::new(),
            Tool::Auto => &["**"],
        };
        globs.iter().filter_map(|g| config.cwd.join(g)).collect()
    }
}

/// Rejects settings that would be silently ignored or could never pass.
fn validate(config: &Config) -> Result<()> {
    let custom = config.tool == Tool::Custom;
    if custom && (config.command.is_none() || config.report.is_none()) {
        return Err(Error::new(
            "use `tool: custom` with both `command` and `report`, e.g. command {\"program\": \"cargo\", \"args\": [\"llvm-cov\", \"--lcov\", \"--output-path\", \"{scratch}/lcov.info\"]} and report `{scratch}/lcov.info`",
        ));
    }
    if !custom && (config.command.is_some() || config.report.is_some() || config.format.is_some()) {
        return Err(Error::new(
            "use `command`, `report` and `format` only with `tool: custom`; the other tools run their own command and read their own report",
        ));
    }
    if let Some(report) = &config.report
        && !report.starts_with("{scratch}/")
    {
        return Err(Error::new(format!(
            "use a `report` inside the scratch directory, e.g. `{{scratch}}/lcov.info`, not `{report}`: a report in the workspace could be left there by anyone"
        )));
    }
    let percent = |name: &str, value: f64| -> Result<()> {
        if !(0.0..=100.0).contains(&value) {
            return Err(Error::new(format!(
                "use a `{name}` between 0 and 100 (percent), not {value}"
            )));
        }
        Ok(())
    };
    if let Some(min) = config.min_percent {
        percent("min_percent", min)?;
    }
    percent("tolerance", config.tolerance)?;
    if let Some(gain) = config.min_gain {
        percent("min_gain", gain)?;
        if config.no_drop_since.is_none() {
            return Err(Error::new(
                "use `min_gain` together with `no_drop_since`: the gain is measured from that phase's coverage",
            ));
        }
    }
    if config.min_percent.is_none() && config.no_drop_since.is_none() {
        return Err(Error::new(
            "give `min_percent`, `no_drop_since`, or both: without either the rule has nothing to require",
        ));
    }
    Ok(())
}

/// With `tool: auto`, the tool the project calls for, and an information
/// finding saying what was found.
fn resolve(tool: Tool, cx: &Context, cwd: &str) -> Result<(Tool, Option<Finding>)> {
    if tool != Tool::Auto {
        return Ok((tool, None));
    }
    let found = detect::project(cx.workspace(), cwd)?;
    let chosen = match found.as_ref().map(|f| f.project) {
        Some(Project::Python) => Tool::Python,
        Some(Project::Go) => Tool::Go,
        Some(Project::JavaScript | Project::TypeScript) => Tool::Node,
        other => {
            let what = other.map_or_else(
                || "no project marker".to_owned(),
                |p| format!("a {p} project"),
            );
            return Err(Error::new(format!(
                "`tool: auto` found {what} in `{cwd}`, and measures Python, Go and JavaScript only; name the tool (`custom` with an LCOV-writing command, e.g. `cargo llvm-cov --lcov`)"
            )));
        }
    };
    let because = found.map(|f| f.because).unwrap_or_default();
    let note = Finding::info(format!(
        "tool: auto chose `{}` ({because} in `{cwd}`)",
        format!("{chosen:?}").to_lowercase()
    ))
    .code("detected");
    Ok((chosen, Some(note)))
}

/// Compares the measured totals with the floor and the earlier phase.
fn judge(
    config: &Config,
    cx: &Context,
    tool: Tool,
    cwd: &str,
    measured: &measure::Measured,
) -> Outcome {
    let totals = &measured.totals;
    let percent = totals.percent();
    let mut findings = Vec::new();
    let mut against = String::new();
    if totals.lines == 0 {
        findings.push(
            Finding::error(format!(
                "no measurable code under `{cwd}`: the report lists no lines outside the omitted files"
            ))
            .fix_hint("check `cwd` and `omit`; the tests must import the code they test")
            .code("nothing-measured"),
        );
    }
    if let Some(min) = config.min_percent
        && totals.lines > 0
        && percent + 1e-9 < min
    {
        findings.push(
            Finding::error(format!(
                "line coverage is {percent:.2}%, below the required {min}%: {} of {} lines ran",
                totals.covered, totals.lines
            ))
            .fix_hint("add tests that exercise the uncovered lines listed below")
            .code("coverage-below-minimum"),
        );
    }
    if let Some(phase) = &config.no_drop_since {
        match cx.baseline(phase).map(Totals::from_facts) {
            None => findings.push(
                Finding::error(format!(
                    "no coverage was measured at phase `{phase}` of this session, so there is nothing to compare with"
                ))
                .fix_hint(format!(
                    "run this rule at phase `{phase}` (before the change), or remove `no_drop_since`"
                ))
                .code("no-baseline"),
            ),
            Some(None) => findings.push(
                Finding::error(format!(
                    "the coverage recorded at phase `{phase}` cannot be read"
                ))
                .fix_hint(format!("validate phase `{phase}` again"))
                .code("no-baseline"),
            ),
            Some(Some(before)) => {
                against = format!("; {:.2}% at `{phase}`", before.percent());
                let gone = cx
                    .baseline(phase)
                    .and_then(|facts| facts.get("lines_by_file"))
                    .map(|by_file| measured.no_longer_measured(by_file))
                    .unwrap_or_default();
                let compared = counting_as_missed(totals, &gone);
                findings.extend(gone.iter().map(|(path, lines)| no_longer_measured(path, *lines, phase)));
                findings.extend(compare(config, phase, &before, &compared));
                if totals.excluded > before.excluded {
                    findings.extend(new_exclusions(cx, phase, &before, measured));
                }
            }
        }
    }
    let failing = findings
        .iter()
        .any(|f| f.severity == checkrail_sdk::Severity::Error);
    if failing {
        findings.extend(measured.least_covered(config.show_files, cwd));
    }
    let summary = format!(
        "line coverage {percent:.2}% ({} of {} lines) by {}{against}",
        totals.covered,
        totals.lines,
        tool_name(tool)
    );
    let mut facts = totals.to_facts();
    facts["excluded_by_file"] = json!(measured.excluded_by_file());
    facts["lines_by_file"] = json!(measured.lines_by_file());
    Outcome::from_findings(findings)
        .with_summary(summary)
        .with_facts(facts)
}

/// `now` with the lines of the files no longer measured (`gone`, with
/// their lines at the earlier phase) counted as lines that did not run:
/// coverage compares the same code or more, so it cannot rise by measuring
/// less (deleting an untested module, moving it where `omit` skips it, or
/// omitting it).
fn counting_as_missed(now: &Totals, gone: &[(String, u64)]) -> Totals {
    let missed: u64 = gone.iter().map(|(_, lines)| lines).sum();
    Totals {
        lines: now.lines + missed,
        files: now.files + gone.len() as u64,
        ..*now
    }
}

/// A warning at a file measured at `phase` and not now.
fn no_longer_measured(path: &str, lines: u64, phase: &str) -> Finding {
    Finding::warning(format!(
        "`{path}` was measured at `{phase}` ({lines} lines) and is not measured now (deleted, moved, or omitted): its lines count as not run in the comparison"
    ))
    .path(path)
    .code("no-longer-measured")
    .fix_hint("measure the same code as before: undo the move or the omission; if the code is gone from the product on purpose, escalate so a human decides")
}

/// The findings of a drop, new exclusions, or a gain that fell short.
fn compare(config: &Config, phase: &str, before: &Totals, now: &Totals) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (was, is) = (before.percent(), now.percent());
    if is + config.tolerance + 1e-9 < was {
        findings.push(
            Finding::error(format!(
                "line coverage dropped from {was:.2}% at `{phase}` to {is:.2}% ({} of {} lines ran, then {} of {})",
                now.covered, now.lines, before.covered, before.lines
            ))
            .fix_hint("cover the new or changed code with tests; removing tests or tested code lowers coverage")
            .code("coverage-dropped"),
        );
    }
    if let Some(gain) = config.min_gain
        && is + 1e-9 < was + gain
    {
        findings.push(
            Finding::error(format!(
                "line coverage is {is:.2}%, {:.2} points above `{phase}` ({was:.2}%); at least {gain} points are required",
                is - was
            ))
            .fix_hint("add tests for the uncovered lines listed below")
            .code("coverage-not-increased"),
        );
    }
    findings
}

/// `new-exclusions` at each file that excludes more lines than at `phase`;
/// when the earlier facts have no per-file counts, or no file shows the
/// rise (a file was renamed), one finding for the whole.
fn new_exclusions(
    cx: &Context,
    phase: &str,
    before: &Totals,
    measured: &measure::Measured,
) -> Vec<Finding> {
    let by_file = cx
        .baseline(phase)
        .and_then(|facts| facts.get("excluded_by_file"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut findings = measured.new_exclusions(&by_file, phase);
    if findings.is_empty() {
        let now = measured.totals.excluded;
        findings.push(
            Finding::error(format!(
                "{} more lines are excluded from measurement than at `{phase}` ({now} now, {} then)",
                now - before.excluded,
                before.excluded
            ))
            .fix_hint("remove the new `pragma: no cover` (or like) comments and test that code instead")
            .code("new-exclusions"),
        );
    }
    findings
}

fn tool_name(tool: Tool) -> &'static str {
    match tool {
        Tool::Python => "coverage.py",
        Tool::Go => "go test -cover",
        Tool::Node => "node --test coverage",
        Tool::Custom | Tool::Auto => "the custom command",
    }
}

impl Totals {
    fn to_facts(self) -> Value {
        json!({
            "percent": (self.percent() * 100.0).round() / 100.0,
            "lines": self.lines,
            "covered": self.covered,
            "excluded": self.excluded,
            "files": self.files,
        })
    }

    fn from_facts(facts: &Value) -> Option<Totals> {
        let field = |name: &str| facts.get(name).and_then(Value::as_u64);
        Some(Totals {
            lines: field("lines")?,
            covered: field("covered")?,
            excluded: field("excluded").unwrap_or(0),
            files: field("files").unwrap_or(0),
        })
    }
}

export_rule!(Coverage);

#[cfg(test)]
mod tests;
