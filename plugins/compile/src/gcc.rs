//! Reading gcc / clang diagnostics (`-fdiagnostics-color=never
//! -fdiagnostics-parseable-fixits`).

use std::sync::OnceLock;

use regex_lite::Regex;

use checkrail_sdk::tool::{Diag, Level, Location, Ran, Reading, Toolchain, clip, plural};
use checkrail_sdk::{Command, Result};

use crate::{Compiler, Job, both, under_cwd};

/// `gcc` or `clang` (the program) with `-fsyntax-only` on each file.
pub struct Cc(pub &'static str);

/// The default `files`.
const FILES: &[&str] = &["**/*.c", "**/*.cc", "**/*.cpp"];
const HEADERS: &[&str] = &["**/*.h", "**/*.hpp"];

impl Toolchain<Job<'_>> for Cc {
    fn program(&self) -> &'static str {
        self.0
    }

    fn label(&self, job: &Job) -> String {
        format!(
            "{} -fsyntax-only on {}",
            self.0,
            plural(job.files.len(), "file")
        )
    }

    fn inputs(&self, job: &Job) -> Vec<String> {
        under_cwd(
            job.config,
            job.config.files_or(FILES).chain(HEADERS.iter().copied()),
        )
    }

    fn command(&self, job: &Job) -> Result<Command> {
        Ok(Command::new(self.0)
            .args([
                "-fsyntax-only",
                "-fdiagnostics-color=never",
                "-fdiagnostics-parseable-fixits",
            ])
            // A name starting with `-` would be read as an option.
            .args(job.files.iter().map(|f| {
                if f.starts_with('-') {
                    format!("./{f}")
                } else {
                    f.clone()
                }
            }))
            .args(job.config.args.iter().cloned()))
    }

    fn read(&self, _: &Job, ran: &Ran) -> Result<Reading> {
        Ok(Reading::of(both(
            parse,
            &ran.output.stderr,
            &ran.output.stdout,
        )))
    }
}

impl Compiler for Cc {
    fn sources(&self) -> Option<&'static [&'static str]> {
        Some(FILES)
    }

    fn again(&self, _: &str) -> String {
        "compile again".to_owned()
    }
}

fn location_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<sev>fatal error|error|warning|note|remark): (?P<msg>.*)$",
        )
        .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    })
}

fn driver_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(?P<prog>[A-Za-z0-9_.+-]+): (?P<sev>fatal error|error|warning): (?P<msg>.*)$")
            .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    })
}

fn fixit_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"^fix-it:"(?P<file>(?:[^"\\]|\\.)*)":\{(?P<l1>\d+):(?P<c1>\d+)-(?P<l2>\d+):(?P<c2>\d+)\}:"(?P<text>(?:[^"\\]|\\.)*)"$"#,
        )
        .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    })
}

fn flag_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\s*\[(?P<flags>-W[^\]\s]*)\]$")
            .unwrap_or_else(|_| unreachable!("the pattern is valid"))
    })
}

/// The warning flag named at the end of a message, as a stable code:
/// `[-Wunused-variable]`, `[-Werror=unused-variable]` and clang's
/// `[-Werror,-Wunused-variable]` all give `-Wunused-variable`.
fn split_flag(message: &str) -> (String, Option<String>) {
    let Some(found) = flag_re().captures(message) else {
        return (message.to_owned(), None);
    };
    let (Some(all), Some(flags)) = (found.get(0), found.name("flags")) else {
        return (message.to_owned(), None);
    };
    let flag = flags
        .as_str()
        .split(',')
        .rfind(|f| f.starts_with("-W"))
        .unwrap_or(flags.as_str());
    let flag = match flag.strip_prefix("-Werror=") {
        Some(name) => format!("-W{name}"),
        None => flag.to_owned(),
    };
    (message[..all.start()].to_owned(), Some(flag))
}

/// Undoes the C escaping of a fix-it string.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The diagnostics in gcc or clang output. Notes, "In function" context
/// lines, caret lines and "N errors generated." are skipped; a fix-it line
/// becomes the hint of the diagnostic before it.
pub fn parse(output: &str) -> Vec<Diag> {
    let mut diags: Vec<Diag> = Vec::new();
    // Index of the last error/warning, so a note's fix-it still helps it.
    let mut last: Option<usize> = None;
    for line in output.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(found) = location_re().captures(line) {
            let level = match &found["sev"] {
                "fatal error" | "error" => Level::Error,
                "warning" => Level::Warning,
                _ => continue,
            };
            let (message, flag) = split_flag(found["msg"].trim());
            let mut diag = Diag::new(level, message).at(Location::new(
                &found["file"],
                found["line"].parse().ok(),
                found.name("col").and_then(|c| c.as_str().parse().ok()),
            ));
            diag.code = flag;
            diags.push(diag);
            last = Some(diags.len() - 1);
        } else if let Some(found) = fixit_re().captures(line) {
            let Some(diag) = last.and_then(|i| diags.get_mut(i)) else {
                continue;
            };
            if diag.hint.is_some() {
                continue;
            }
            let text = unescape(&found["text"]);
            let empty_range = found["l1"] == found["l2"] && found["c1"] == found["c2"];
            let action = if text.is_empty() {
                "delete the highlighted code".to_owned()
            } else if empty_range {
                format!("insert `{}`", clip(&text, 200))
            } else {
                format!("replace the highlighted code with `{}`", clip(&text, 200))
            };
            let file = unescape(&found["file"]);
            let (line, column) = (&found["l1"], &found["c1"]);
            let place = match diag.locations.first() {
                Some(at) if at.path == file => format!("line {line}, column {column}"),
                _ => format!("{file}:{line}:{column}"),
            };
            diag.hint = Some(format!("{action} at {place}"));
        } else if let Some(found) = driver_re().captures(line) {
            let level = match &found["sev"] {
                "warning" => Level::Warning,
                _ => Level::Error,
            };
            let message = format!("{}: {}", &found["prog"], found["msg"].trim());
            let (message, flag) = split_flag(&message);
            let mut diag = Diag::new(level, message);
            diag.code = flag;
            diags.push(diag);
            last = Some(diags.len() - 1);
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from gcc 12 (`gcc -fsyntax-only -fdiagnostics-color=never
    /// -fdiagnostics-parseable-fixits src/a.c src/b.cpp -Iinclude -Wall`).
    const GCC: &str = "In file included from src/a.c:1:
include/foo.h: In function ‘f’:
include/foo.h:1:30: error: expected ‘;’ before ‘}’ token
    1 | static int f(void) { return 1 }
      |                              ^~
      |                              ;
fix-it:\"include/foo.h\":{1:30-1:30}:\";\"
src/a.c: In function ‘main’:
src/a.c:4:13: warning: initialization of ‘int’ from ‘char *’ makes integer from pointer without a cast [-Wint-conversion]
    4 |     int x = \"a\"
      |             ^~~
src/a.c:5:5: error: expected ‘,’ or ‘;’ before ‘return’
    5 |     return y;
      |     ^~~~~~
src/a.c:3:9: note: previous declaration of ‘x’ with type ‘int’
src/b.cpp: At global scope:
src/b.cpp:2:15: error: expected ‘;’ at end of member declaration
    2 | class A { int x };
      |               ^
      |                ;
fix-it:\"src/b.cpp\":{2:16-2:16}:\";\"
cc1: fatal error: src/nosuch.c: No such file or directory
compilation terminated.
";

    /// What clang prints for similar code (with `-Werror`).
    const CLANG: &str = "src/a.c:3:9: error: unused variable 'unused' [-Werror,-Wunused-variable]
    int unused;
        ^
src/a.c:5:12: error: use of undeclared identifier 'y'
    return y;
           ^
src/a.c:4:16: error: expected ';' at end of declaration
    int x = 1
             ^
             ;
fix-it:\"src/a.c\":{4:14-4:14}:\";\"
3 errors generated.
";

    #[test]
    fn reads_gcc_errors_warnings_flags_and_fixits() {
        let diags = parse(GCC);
        let summary: Vec<_> = diags
            .iter()
            .map(|d| {
                let loc = d.locations.first();
                (
                    d.level,
                    loc.map(|l| l.path.as_str()),
                    loc.and_then(|l| l.line),
                    loc.and_then(|l| l.column),
                    d.code.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Level::Error, Some("include/foo.h"), Some(1), Some(30), None),
                (
                    Level::Warning,
                    Some("src/a.c"),
                    Some(4),
                    Some(13),
                    Some("-Wint-conversion")
                ),
                (Level::Error, Some("src/a.c"), Some(5), Some(5), None),
                (Level::Error, Some("src/b.cpp"), Some(2), Some(15), None),
                (Level::Error, None, None, None, None),
            ]
        );
        assert_eq!(diags[0].message, "expected ‘;’ before ‘}’ token");
        assert_eq!(
            diags[0].hint.as_deref(),
            Some("insert `;` at line 1, column 30")
        );
        assert_eq!(
            diags[1].message,
            "initialization of ‘int’ from ‘char *’ makes integer from pointer without a cast"
        );
        assert_eq!(
            diags[3].hint.as_deref(),
            Some("insert `;` at line 2, column 16")
        );
        assert_eq!(
            diags[4].message,
            "cc1: src/nosuch.c: No such file or directory"
        );
    }

    #[test]
    fn reads_clang_output() {
        let diags = parse(CLANG);
        assert_eq!(diags.len(), 3);
        assert_eq!(diags[0].code.as_deref(), Some("-Wunused-variable"));
        assert_eq!(diags[0].message, "unused variable 'unused'");
        assert_eq!(
            diags[2].hint.as_deref(),
            Some("insert `;` at line 4, column 14")
        );
        assert_eq!(
            split_flag("x [-Werror=unused-variable]").1.as_deref(),
            Some("-Wunused-variable")
        );
    }

    #[test]
    fn driver_errors_have_no_location() {
        let diags = parse("gcc: error: unrecognized command-line option ‘-Wbogus’\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].level, Level::Error);
        assert!(diags[0].locations.is_empty());
        assert_eq!(
            diags[0].message,
            "gcc: unrecognized command-line option ‘-Wbogus’"
        );
        assert_eq!(unescape(r#"a\"b\\c"#), "a\"b\\c");
    }
}
