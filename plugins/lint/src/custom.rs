//! A custom linter's `file:line[:col]: [level:] [CODE] message` lines.

use regex_lite::Regex;

use checkrail_sdk::tool::{Diag, Level, Location, Ran, Reading, Toolchain};
use checkrail_sdk::{Command, Error, Result};

use crate::{Config, LintTool};

/// Any program printing `file:line:col: message` lines: `command`, then
/// `args`.
pub struct Custom;

impl Toolchain<Config> for Custom {
    fn program(&self) -> &'static str {
        "*"
    }

    fn label(&self, config: &Config) -> String {
        config
            .command
            .as_ref()
            .map_or_else(|| "custom".to_owned(), |c| c.program.clone())
    }

    /// None: a custom check is never reused from cache unless `inputs` is
    /// set.
    fn inputs(&self, _: &Config) -> Vec<String> {
        Vec::new()
    }

    fn command(&self, config: &Config) -> Result<Command> {
        Ok(config
            .command
            .as_ref()
            .ok_or_else(|| Error::new("`linter: custom` needs `command`"))?
            .command(&config.args))
    }

    fn read(&self, _: &Config, ran: &Ran) -> Result<Reading> {
        read(ran)
    }
}

impl LintTool for Custom {
    fn covers(&self) -> &'static [&'static str] {
        &[
            "*.rs", "*.py", "*.pyi", "*.js", "*.jsx", "*.mjs", "*.cjs", "*.ts", "*.tsx", "*.mts",
            "*.cts",
        ]
    }

    fn broke_hint(&self) -> &'static str {
        "fix what the command prints, or make it print `file:line:col: message` lines"
    }

    fn hint(&self, _: &Diag, label: &str) -> String {
        format!("fix what `{label}` reports here")
    }

    fn named(&self, label: &str) -> String {
        format!("`{label}`")
    }
}

/// The location lines of stdout, then of stderr.
pub fn read(ran: &Ran) -> Result<Reading> {
    let patterns =
        Patterns::new().map_err(|e| Error::new(format!("compile the line pattern: {e}")))?;
    let mut diags = patterns.parse(&ran.output.stdout);
    diags.extend(patterns.parse(&ran.output.stderr));
    Ok(Reading::of(diags))
}

/// The line patterns, compiled once per check.
pub struct Patterns {
    location: Regex,
    level: Regex,
    leading_code: Regex,
    trailing_code: Regex,
}

impl Patterns {
    pub fn new() -> Result<Self, regex_lite::Error> {
        Ok(Self {
            // No whitespace in the file part, so log lines such as
            // `2024-01-01 12:30:45: started` are not taken for findings.
            location: Regex::new(r"^([^\s:]+):(\d+):(?:(\d+):)?\s*(.*)$")?,
            level: Regex::new(
                r"^(?i:(fatal error|error|warning|warn|note|info|hint|style))(?:\[([^\]\s]+)\])?:\s*(.*)$",
            )?,
            leading_code: Regex::new(r"^\[?([A-Z][A-Za-z]*[0-9]+)\]?:?\s+(.+)$")?,
            trailing_code: Regex::new(r"^(.+?)\s+\[([A-Za-z][A-Za-z0-9_.:/-]*)\]$")?,
        })
    }

    /// Every line of `text` that names a location, as a diagnostic. A line
    /// is [`Level::Error`] when its level word is `error` (or `fatal
    /// error`), before or after the code; otherwise [`Level::Warning`].
    pub fn parse(&self, text: &str) -> Vec<Diag> {
        text.lines()
            .filter_map(|l| self.line(l.trim_end()))
            .collect()
    }

    fn line(&self, line: &str) -> Option<Diag> {
        let caps = self.location.captures(line)?;
        let path = caps.get(1)?.as_str();
        let line_no = caps.get(2)?.as_str().parse::<u32>().ok()?;
        let column = caps.get(3).and_then(|c| c.as_str().parse::<u32>().ok());
        let mut rest = caps.get(4).map_or("", |m| m.as_str()).trim().to_owned();
        let mut level = None;
        let mut code = None;
        for _ in 0..2 {
            if level.is_none()
                && let Some(c) = self.level.captures(&rest)
            {
                let word = c.get(1).map_or("", |m| m.as_str()).to_ascii_lowercase();
                level = Some(if word.ends_with("error") {
                    Level::Error
                } else {
                    Level::Warning
                });
                if let Some(bracketed) = c.get(2) {
                    code = Some(bracketed.as_str().to_owned());
                }
                rest = c.get(3).map_or("", |m| m.as_str()).to_owned();
            }
            if code.is_none()
                && let Some(c) = self.leading_code.captures(&rest)
            {
                code = c.get(1).map(|m| m.as_str().to_owned());
                rest = c.get(2).map_or("", |m| m.as_str()).to_owned();
            }
        }
        if code.is_none()
            && let Some(c) = self.trailing_code.captures(&rest)
        {
            code = c.get(2).map(|m| m.as_str().to_owned());
            rest = c.get(1).map_or("", |m| m.as_str()).to_owned();
        }
        if rest.is_empty() {
            rest = "problem reported here".to_owned();
        }
        Some(Diag {
            level: level.unwrap_or(Level::Warning),
            code,
            locations: vec![Location::new(path, Some(line_no), column)],
            message: rest,
            hint: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Diag {
        let mut d = Patterns::new().unwrap().parse(line);
        assert_eq!(d.len(), 1, "{line}: {d:?}");
        d.remove(0)
    }

    #[test]
    fn parses_the_common_shapes() {
        let d = one("src/a.py:3:1: E302 expected 2 blank lines, found 1");
        assert_eq!(
            (d.level, d.code.as_deref(), d.message.as_str()),
            (
                Level::Warning,
                Some("E302"),
                "expected 2 blank lines, found 1"
            )
        );
        assert_eq!(d.locations, [Location::new("src/a.py", Some(3), Some(1))]);

        let d = one("lib/x.c:10:5: error: 'y' undeclared");
        assert_eq!((d.level, d.code), (Level::Error, None));
        assert_eq!(d.message, "'y' undeclared");

        let d = one("run.sh:3:6: note: Double quote to prevent globbing. [SC2086]");
        assert_eq!(
            (d.level, d.code.as_deref(), d.message.as_str()),
            (
                Level::Warning,
                Some("SC2086"),
                "Double quote to prevent globbing."
            )
        );

        let d = one("m.py:7: error: Incompatible types in assignment  [assignment]");
        assert_eq!(
            (d.level, d.code.as_deref()),
            (Level::Error, Some("assignment"))
        );
        assert_eq!(d.locations, [Location::new("m.py", Some(7), None)]);

        let d = one("a.txt:1:2: X100 error: bad thing");
        assert_eq!((d.level, d.code.as_deref()), (Level::Error, Some("X100")));
        assert_eq!(d.message, "bad thing");

        let d = one("a.txt:1:2: error[E42]: worse");
        assert_eq!((d.level, d.code.as_deref()), (Level::Error, Some("E42")));

        let d = one("a.txt:4:1: the error handling is missing");
        assert_eq!((d.level, d.code), (Level::Warning, None));
        assert_eq!(d.message, "the error handling is missing");
    }

    #[test]
    fn other_lines_are_ignored() {
        let text = "Checking 3 files\n2024-01-01 12:30:45: started\nFound 2 errors.\n\nhttp://x.org:80/a\n";
        assert!(Patterns::new().unwrap().parse(text).is_empty());
    }
}
