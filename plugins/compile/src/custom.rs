//! Reading a custom command's `file:line[:col]: [error|warning:] message`
//! lines.

use std::sync::OnceLock;

use regex_lite::Regex;

use checkrail_sdk::tool::{Diag, Level, Location, Ran, Reading, Toolchain, clip, quoted};
use checkrail_sdk::{Command, Result};

use crate::{Compiler, Job, both, missing_command};

/// The granted program in `command`, then `args`.
pub struct Custom;

impl Toolchain<Job<'_>> for Custom {
    fn program(&self) -> &'static str {
        "*"
    }

    /// The command line, clipped.
    fn label(&self, job: &Job) -> String {
        self.command(job)
            .map_or_else(|_| "custom".to_owned(), |c| clip(&quoted(&c), 80))
    }

    /// None, which means never reuse.
    fn inputs(&self, _: &Job) -> Vec<String> {
        Vec::new()
    }

    fn command(&self, job: &Job) -> Result<Command> {
        Ok(job
            .config
            .command
            .as_ref()
            .ok_or_else(missing_command)?
            .command(&job.config.args))
    }

    fn read(&self, _: &Job, ran: &Ran) -> Result<Reading> {
        Ok(Reading::of(both(
            parse,
            &ran.output.stdout,
            &ran.output.stderr,
        )))
    }
}

impl Compiler for Custom {
    fn again(&self, label: &str) -> String {
        format!("run `{label}` again")
    }

    // A custom command may exit non-zero on warnings alone.
    fn strict(&self) -> bool {
        false
    }
}

fn line_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+)(?::(?P<col>\d+))?:\s*(?P<rest>\S.*)$")
            .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    })
}

fn severity_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)^(?P<sev>fatal error|error|warning|warn|note|info|help)(?:\[(?P<code>[^\]]+)\])?\s*:\s*(?P<msg>.*)$")
            .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    })
}

fn code_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\s+\[(?P<code>[A-Za-z0-9_][A-Za-z0-9_.,=/-]*)\]$")
            .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    })
}

/// The diagnostics in a custom command's output. A line that does not start
/// with `file:line:` is ignored. The word after the location (`error`,
/// `warning`; `note`/`info`/`help` give an informative finding) sets the
/// severity, which is an error when absent. A trailing `[code]` (as mypy and
/// gcc print) or `error[code]:` (as rustc prints) becomes the code.
pub fn parse(output: &str) -> Vec<Diag> {
    let mut diags = Vec::new();
    for line in output.lines() {
        let line = line.trim_end_matches('\r');
        let Some(found) = line_re().captures(line) else {
            continue;
        };
        let rest = found["rest"].trim();
        let (level, mut code, message) = match severity_re().captures(rest) {
            Some(sev) => {
                let level = match sev["sev"].to_ascii_lowercase().as_str() {
                    "warning" | "warn" => Level::Warning,
                    "note" | "info" | "help" => Level::Info,
                    _ => Level::Error,
                };
                let code = sev.name("code").map(|c| c.as_str().to_owned());
                (level, code, sev["msg"].trim().to_owned())
            }
            None => (Level::Error, None, rest.to_owned()),
        };
        let mut message = message;
        if code.is_none()
            && let Some(tail) = code_re().captures(&message)
            && let Some(all) = tail.get(0)
        {
            code = Some(tail["code"].to_owned());
            message.truncate(all.start());
        }
        let mut diag = Diag::new(level, message).at(Location::new(
            &found["file"],
            found["line"].parse().ok(),
            found.name("col").and_then(|c| c.as_str().parse().ok()),
        ));
        diag.code = code;
        diags.push(diag);
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_locations_severities_and_codes() {
        let out = "checking...
src/a.c:3:5: error: boom
src/b.py:10: warning: Unused import [unused-import]
lib/c.ts:7:1: Missing semicolon
app/x.py:4: note: defined here
src/m.rs:2:9: error[E0425]: cannot find value `y`
  indented/line.c:1:1: error: not a diagnostic line
Found 2 errors in 2 files
";
        let diags = parse(out);
        let rows: Vec<_> = diags
            .iter()
            .map(|d| {
                let loc = &d.locations[0];
                (
                    loc.path.as_str(),
                    loc.line,
                    loc.column,
                    d.level,
                    d.code.as_deref(),
                    d.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("src/a.c", Some(3), Some(5), Level::Error, None, "boom"),
                (
                    "src/b.py",
                    Some(10),
                    None,
                    Level::Warning,
                    Some("unused-import"),
                    "Unused import"
                ),
                (
                    "lib/c.ts",
                    Some(7),
                    Some(1),
                    Level::Error,
                    None,
                    "Missing semicolon"
                ),
                ("app/x.py", Some(4), None, Level::Info, None, "defined here"),
                (
                    "src/m.rs",
                    Some(2),
                    Some(9),
                    Level::Error,
                    Some("E0425"),
                    "cannot find value `y`"
                ),
            ]
        );
    }
}
