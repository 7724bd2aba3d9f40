//! Reading `tsc --noEmit --pretty false`: one diagnostic per
//! `file(line,col): error TS2322: message` line, paths relative to the
//! directory tsc ran in, a message that goes on over indented lines (the
//! chain of reasons), and diagnostics about the whole program (a broken
//! `tsconfig.json`, no inputs) as `error TS18003: message` without a place.

use std::sync::OnceLock;

use regex_lite::Regex;

use checkrail_sdk::tool::{Diag, Level, Location, Ran, Reading, Toolchain};
use checkrail_sdk::{Command, Context, Finding, Outcome, Result};

use crate::{Compiler, Job, both, under_cwd};

/// The project file tsc reads from its directory.
const TSCONFIG: &str = "tsconfig.json";

/// `tsc --noEmit --pretty false`, the TypeScript compiler with the
/// project's `tsconfig.json`.
pub struct Tsc;

impl Toolchain<Job<'_>> for Tsc {
    fn program(&self) -> &'static str {
        "tsc"
    }

    fn label(&self, _: &Job) -> String {
        "tsc --noEmit".to_owned()
    }

    /// Turning `strict` off or excluding a directory changes what it
    /// reports.
    fn judging_files(&self) -> &'static [&'static str] {
        &[
            "tsconfig.json",
            "tsconfig.*.json",
            "**/tsconfig.json",
            "**/tsconfig.*.json",
        ]
    }

    fn inputs(&self, job: &Job) -> Vec<String> {
        under_cwd(job.config, INPUTS.iter().copied())
    }

    fn command(&self, job: &Job) -> Result<Command> {
        Ok(Command::new("tsc")
            .args(["--noEmit", "--pretty", "false"])
            .args(job.config.args.iter().cloned())
            .env("NO_COLOR", "1"))
    }

    fn read(&self, _: &Job, ran: &Ran) -> Result<Reading> {
        Ok(Reading::of(both(
            parse,
            &ran.output.stdout,
            &ran.output.stderr,
        )))
    }
}

impl Compiler for Tsc {
    fn again(&self, _: &str) -> String {
        "type-check again".to_owned()
    }

    /// The failing outcome when `cwd` has no `tsconfig.json` and `args`
    /// name no project or files: tsc would print its help and check
    /// nothing.
    fn unready(&self, cx: &Context, job: &Job) -> Option<Outcome> {
        let config = job.config;
        let path = config.cwd.join(TSCONFIG)?;
        if cx.workspace().exists(&path) || names_inputs(&config.args) {
            return None;
        }
        let finding = Finding::error(format!(
            "there is no `{path}`, and `args` name no project (`-p`) or files, so tsc has nothing to check"
        ))
        .fix_hint(format!(
            "add `{path}` (e.g. {{\"compilerOptions\": {{\"strict\": true, \"noEmit\": true}}, \"include\": [\"src\"]}}), point `cwd` at the directory that has one, or name it with `args: [\"-p\", \"path/to/tsconfig.json\"]`"
        ))
        .code("no-tsconfig");
        Some(Outcome::from_findings(vec![finding]).with_summary("tsc has no project to check"))
    }
}

/// The sources and settings tsc reads, relative to its directory.
pub const INPUTS: &[&str] = &[
    "**/*.ts",
    "**/*.tsx",
    "**/*.mts",
    "**/*.cts",
    "**/*.js",
    "**/*.jsx",
    "**/*.mjs",
    "**/*.cjs",
    "**/tsconfig*.json",
    "**/package.json",
];

fn placed_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^(?P<file>\S.*?)\((?P<line>\d+),(?P<col>\d+)\): (?P<sev>error|warning|suggestion|message) (?P<code>TS\d+): (?P<msg>.*)$",
        )
        .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    })
}

fn global_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(?P<sev>error|warning|suggestion|message) (?P<code>TS\d+): (?P<msg>.*)$")
            .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    })
}

fn level(word: &str) -> Level {
    match word {
        "error" => Level::Error,
        "warning" => Level::Warning,
        _ => Level::Info,
    }
}

/// The diagnostics in tsc's output (it prints them on stdout). Lines that
/// start with whitespace after a diagnostic continue its message; other
/// lines are not diagnostics and are left out.
pub fn parse(output: &str) -> Vec<Diag> {
    let mut diags: Vec<Diag> = Vec::new();
    let mut open = false;
    for line in output.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(found) = placed_re().captures(line) {
            let diag = Diag::new(level(&found["sev"]), found["msg"].trim())
                .at(Location::new(
                    &found["file"],
                    found["line"].parse().ok(),
                    found["col"].parse().ok(),
                ))
                .code(&found["code"]);
            diags.push(diag);
            open = true;
        } else if let Some(found) = global_re().captures(line) {
            diags.push(Diag::new(level(&found["sev"]), found["msg"].trim()).code(&found["code"]));
            open = true;
        } else if open
            && line.starts_with(char::is_whitespace)
            && !line.trim().is_empty()
            && let Some(last) = diags.last_mut()
        {
            last.message.push('\n');
            last.message.push_str(line.trim_end());
        } else {
            open = false;
        }
    }
    diags
}

/// Whether tsc, run with `args` in a directory without a `tsconfig.json`,
/// has anything to check: a project (`-p`/`--project`) or source files
/// named on the command line. Without either, tsc prints its help and
/// exits.
pub fn names_inputs(args: &[String]) -> bool {
    const SOURCES: &[&str] = &[".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"];
    args.iter().any(|arg| {
        arg == "-p"
            || arg == "--project"
            || arg.starts_with("--project=")
            || (!arg.starts_with('-') && SOURCES.iter().any(|ext| arg.ends_with(ext)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `tsc --noEmit --pretty false` (TypeScript 5.9) on a
    /// project with a type error, a chain of reasons, a missing module and
    /// a broken `tsconfig.json`.
    const OUTPUT: &str = "src/b.ts(1,7): error TS2322: Type '(a: string) => void' is not assignable to type '(a: number) => void'.
  Types of parameters 'a' and 'a' are incompatible.
    Type 'number' is not assignable to type 'string'.
src/sub/c.ts(1,15): error TS2792: Cannot find module './missing'. Did you mean to set the 'moduleResolution' option to 'nodenext', or to add aliases to the 'paths' option?
tsconfig.json(1,2): error TS1136: Property assignment expected.
../shared/x.ts(3,1): warning TS6385: 'f' is deprecated.
error TS18003: No inputs were found in config file '/w/tsconfig.json'. Specified 'include' paths were '[\"nothing\"]' and 'exclude' paths were '[]'.
";

    #[test]
    fn reads_places_codes_and_continued_messages() {
        let diags = parse(OUTPUT);
        let rows: Vec<_> = diags
            .iter()
            .map(|d| {
                (
                    d.locations
                        .first()
                        .map(|l| (l.path.as_str(), l.line, l.column)),
                    d.level,
                    d.code.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    Some(("src/b.ts", Some(1), Some(7))),
                    Level::Error,
                    Some("TS2322")
                ),
                (
                    Some(("src/sub/c.ts", Some(1), Some(15))),
                    Level::Error,
                    Some("TS2792")
                ),
                (
                    Some(("tsconfig.json", Some(1), Some(2))),
                    Level::Error,
                    Some("TS1136")
                ),
                (
                    Some(("../shared/x.ts", Some(3), Some(1))),
                    Level::Warning,
                    Some("TS6385")
                ),
                (None, Level::Error, Some("TS18003")),
            ]
        );
        assert_eq!(
            diags[0].message,
            "Type '(a: string) => void' is not assignable to type '(a: number) => void'.\n  Types of parameters 'a' and 'a' are incompatible.\n    Type 'number' is not assignable to type 'string'."
        );
        assert!(diags[4].message.starts_with("No inputs were found"));
    }

    #[test]
    fn other_lines_are_not_diagnostics() {
        let diags = parse("Version 5.9.3\n  indented text\nsrc/a.ts: nothing\n");
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn a_project_or_files_on_the_command_line_are_inputs() {
        let args =
            |list: &[&str]| -> Vec<String> { list.iter().map(|s| (*s).to_owned()).collect() };
        assert!(names_inputs(&args(&["-p", "tsconfig.build.json"])));
        assert!(names_inputs(&args(&["--project=app"])));
        assert!(names_inputs(&args(&["--strict", "src/a.ts"])));
        assert!(!names_inputs(&args(&["--strict", "true"])));
        assert!(!names_inputs(&args(&["--target", "es2020"])));
        assert!(!names_inputs(&args(&[])));
    }
}
