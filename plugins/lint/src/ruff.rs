//! `ruff check --output-format=json-lines`: one JSON object per violation,
//! whose `filename` is an absolute host path (resolved to the workspace by
//! the caller).

use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json;

use checkrail_sdk::tool::{Diag, Level, Location, Ran, Reading, Toolchain, clip};
use checkrail_sdk::{Command, Result};

use crate::{Config, LintTool, POINT_AT, globs};

/// Python: `ruff check --output-format=json-lines --no-cache --exit-zero`.
pub struct Ruff;

impl Toolchain<Config> for Ruff {
    fn program(&self) -> &'static str {
        "ruff"
    }

    fn judging_files(&self) -> &'static [&'static str] {
        &["ruff.toml", ".ruff.toml", "pyproject.toml"]
    }

    fn inputs(&self, config: &Config) -> Vec<String> {
        globs(
            config,
            &[
                "**/*.py",
                "**/*.pyi",
                "**/pyproject.toml",
                "**/ruff.toml",
                "**/.ruff.toml",
            ],
            &[],
        )
    }

    fn command(&self, config: &Config) -> Result<Command> {
        Ok(Command::new("ruff")
            .args([
                "check",
                "--output-format=json-lines",
                "--no-cache",
                "--exit-zero",
            ])
            .args(config.args.iter().cloned())
            .env("NO_COLOR", "1"))
    }

    fn read(&self, config: &Config, ran: &Ran) -> Result<Reading> {
        let codes = config.error_codes.clone().unwrap_or_default();
        let parsed = parse(&ran.output.stdout, &codes);
        let mut reading = Reading::of(parsed.diags);
        if !parsed.unparsed.is_empty() && !ran.output.stdout_truncated {
            reading.problems.push(ran.unreadable(
                &parsed.unparsed,
                "do not override `--output-format` in `args`; the rule reads ruff's json-lines output",
            ));
        }
        Ok(reading)
    }
}

impl LintTool for Ruff {
    fn reads_stderr(&self) -> bool {
        false
    }

    fn covers(&self) -> &'static [&'static str] {
        &["*.py", "*.pyi"]
    }

    // With --exit-zero, ruff exits non-zero only when it broke.
    fn broke(&self, _: usize, _: bool) -> Option<&'static str> {
        Some(POINT_AT)
    }

    fn broke_hint(&self) -> &'static str {
        "fix what ruff complains about (its configuration or the arguments in `args`)"
    }

    fn hint(&self, d: &Diag, _: &str) -> String {
        match d.code.as_deref() {
            Some(code) => format!("run `ruff rule {code}` for what it checks and how to fix it"),
            None => "fix the code ruff points at".to_owned(),
        }
    }
}

/// What ruff's stdout said.
#[derive(Debug, Default)]
pub struct Parsed {
    pub diags: Vec<Diag>,
    /// Non-empty lines that were not a violation object.
    pub unparsed: Vec<String>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Violation {
    #[serde(default)]
    code: Option<String>,
    filename: String,
    #[serde(default)]
    location: Option<Position>,
    message: String,
    #[serde(default)]
    fix: Option<Fix>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    cell: Option<u32>,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Position {
    row: u32,
    column: u32,
}

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Fix {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    applicability: Option<String>,
}

/// Parses ruff's JSON lines. A violation is [`Level::Error`] when it is a
/// syntax error or its code starts with an entry of `error_codes` (`ALL`
/// matches every code), else [`Level::Warning`].
pub fn parse(stdout: &str, error_codes: &[String]) -> Parsed {
    let mut parsed = Parsed::default();
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<Violation>(line) {
            Ok(v) => parsed.diags.push(diagnostic(v, error_codes)),
            Err(_) => parsed.unparsed.push(clip(line, 200)),
        }
    }
    parsed
}

fn is_syntax_error(v: &Violation) -> bool {
    match v.code.as_deref() {
        None => true,
        Some(code) => code == "invalid-syntax" || code == "E999",
    }
}

/// Whether `code` is selected by one of `error_codes` (ruff's prefix
/// selectors: `F` selects `F401`, `E7` selects `E711`, `ALL` everything).
pub fn is_error_code(code: &str, error_codes: &[String]) -> bool {
    error_codes.iter().any(|sel| {
        let sel = sel.trim();
        !sel.is_empty()
            && (sel.eq_ignore_ascii_case("ALL")
                || code
                    .get(..sel.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(sel)))
    })
}

fn diagnostic(v: Violation, error_codes: &[String]) -> Diag {
    let syntax = is_syntax_error(&v);
    let level = if syntax
        || v.code
            .as_deref()
            .is_some_and(|c| is_error_code(c, error_codes))
    {
        Level::Error
    } else {
        Level::Warning
    };
    let mut message = v.message.clone();
    if let Some(name) = v.name.as_deref()
        && !syntax
        && Some(name) != v.code.as_deref()
    {
        message = format!("{message} ({name})");
    }
    // In a notebook, row/column count inside the cell, not the .ipynb file.
    let (line, column) = match (&v.location, v.cell) {
        (Some(pos), Some(cell)) => {
            message = format!(
                "{message} [notebook cell {cell}, line {}, column {}]",
                pos.row, pos.column
            );
            (None, None)
        }
        (Some(pos), None) => (Some(pos.row), Some(pos.column)),
        (None, _) => (None, None),
    };
    let mut hints = Vec::new();
    if syntax {
        hints.push(
            "fix the syntax error; ruff cannot lint the rest of this file until it parses"
                .to_owned(),
        );
    }
    if let Some(fix) = &v.fix
        && let Some(text) = fix.message.as_deref()
    {
        let how = match fix.applicability.as_deref() {
            Some("safe") => " (`ruff check --fix` applies it)",
            Some("unsafe") => " (`ruff check --fix --unsafe-fixes` applies it; review the change)",
            _ => "",
        };
        hints.push(format!("{text}{how}"));
    }
    if let Some(url) = v.url.as_deref().filter(|u| !u.is_empty()) {
        hints.push(format!("see {url}"));
    }
    Diag {
        level,
        code: Some(v.code.unwrap_or_else(|| "invalid-syntax".to_owned())),
        locations: vec![Location::new(v.filename, line, column)],
        message,
        hint: (!hints.is_empty()).then(|| hints.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from ruff 0.17.6 `check --output-format=json-lines`.
    const SAMPLE: &str = r#"{"cell":null,"code":"invalid-syntax","end_location":{"column":8,"row":1},"filename":"/tmp/rufftest/bad.py","fix":null,"location":{"column":7,"row":1},"message":"Expected a parameter or the end of the parameter list","name":"invalid-syntax","noqa_row":null,"severity":"error","url":null}
{"cell":null,"code":"F401","end_location":{"column":10,"row":1},"filename":"/tmp/rufftest/pkg/a.py","fix":{"applicability":"safe","edits":[{"content":"","end_location":{"column":1,"row":2},"location":{"column":1,"row":1}}],"message":"Remove unused import: `os`"},"location":{"column":8,"row":1},"message":"`os` imported but unused","name":"unused-import","noqa_row":1,"severity":"error","url":"https://docs.astral.sh/ruff/rules/unused-import"}
{"cell":null,"code":"E711","end_location":{"column":13,"row":2},"filename":"/tmp/rufftest/b.py","fix":{"applicability":"unsafe","edits":[{"content":"x is None","end_location":{"column":13,"row":2},"location":{"column":4,"row":2}}],"message":"Replace with `cond is None`"},"location":{"column":9,"row":2},"message":"Comparison to `None` should be `cond is None`","name":"none-comparison","noqa_row":2,"severity":"error","url":"https://docs.astral.sh/ruff/rules/none-comparison"}
"#;

    #[test]
    fn parses_violations_with_codes_locations_and_fixes() {
        let parsed = parse(SAMPLE, &[]);
        assert!(parsed.unparsed.is_empty());
        let [syntax, f401, e711] = &parsed.diags[..] else {
            panic!("{:?}", parsed.diags)
        };
        assert_eq!(syntax.level, Level::Error, "syntax errors always block");
        assert_eq!(syntax.code.as_deref(), Some("invalid-syntax"));
        assert_eq!(f401.level, Level::Warning);
        assert_eq!(f401.code.as_deref(), Some("F401"));
        assert_eq!(f401.message, "`os` imported but unused (unused-import)");
        assert_eq!(
            f401.locations,
            [Location::new("/tmp/rufftest/pkg/a.py", Some(1), Some(8))]
        );
        assert_eq!(
            f401.hint.as_deref(),
            Some(
                "Remove unused import: `os` (`ruff check --fix` applies it); see https://docs.astral.sh/ruff/rules/unused-import"
            )
        );
        assert!(e711.hint.as_deref().unwrap().contains("--unsafe-fixes"));
    }

    #[test]
    fn error_codes_are_prefix_selectors() {
        let parsed = parse(SAMPLE, &["E7".to_owned()]);
        let levels: Vec<_> = parsed.diags.iter().map(|d| d.level).collect();
        assert_eq!(levels, [Level::Error, Level::Warning, Level::Error]);
        assert!(is_error_code("F401", &["f".to_owned()]));
        assert!(is_error_code("F401", &["ALL".to_owned()]));
        assert!(!is_error_code("F401", &["F4011".to_owned(), "".to_owned()]));
    }

    #[test]
    fn old_syntax_errors_notebooks_and_junk() {
        let text = r#"{"code":null,"filename":"/w/x.py","location":{"row":3,"column":1},"message":"SyntaxError: invalid syntax","fix":null}
{"code":"F841","filename":"/w/n.ipynb","location":{"row":2,"column":5},"message":"Local variable `y` is assigned to but never used","cell":3}
warning: something odd
"#;
        let parsed = parse(text, &[]);
        assert_eq!(parsed.unparsed, ["warning: something odd"]);
        assert_eq!(parsed.diags[0].level, Level::Error);
        assert_eq!(parsed.diags[0].code.as_deref(), Some("invalid-syntax"));
        let nb = &parsed.diags[1];
        assert_eq!(nb.locations, [Location::new("/w/n.ipynb", None, None)]);
        assert!(nb.message.ends_with("[notebook cell 3, line 2, column 5]"));
    }
}
