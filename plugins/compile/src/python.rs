//! Compiling Python files with CPython's own compiler and reading the result.

use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json;

use checkrail_sdk::tool::{Diag, Level, Location, Ran, Reading, Toolchain, clip, plural};
use checkrail_sdk::{Command, Result};

use crate::{Compiler, Job, under_cwd};

/// `python3` compiling each file with the built-in `compile()`.
pub struct Python;

impl Toolchain<Job<'_>> for Python {
    fn program(&self) -> &'static str {
        "python3"
    }

    fn label(&self, job: &Job) -> String {
        format!("python3 compile() of {}", plural(job.files.len(), "file"))
    }

    fn inputs(&self, job: &Job) -> Vec<String> {
        under_cwd(job.config, job.config.files_or(FILES))
    }

    fn command(&self, job: &Job) -> Result<Command> {
        Ok(Command::new("python3")
            .args(["-B", "-I"])
            .args(job.config.args.iter().cloned())
            .args(["-c", SCRIPT])
            .args(job.files.iter().cloned())
            .env("PYTHONDONTWRITEBYTECODE", "1"))
    }

    fn read(&self, job: &Job, ran: &Ran) -> Result<Reading> {
        let (diags, done) = parse(&ran.output.stdout);
        Ok(Reading {
            complete: done == u64::try_from(job.files.len()).ok(),
            ..Reading::of(diags)
        })
    }
}

impl Compiler for Python {
    fn sources(&self) -> Option<&'static [&'static str]> {
        Some(FILES)
    }
}

/// The default `files`.
const FILES: &[&str] = &["**/*.py"];

/// Run as `python3 -B -I -c SCRIPT FILE...`: compiles each file with
/// CPython's real parser and compiler (nothing is executed or written) and
/// prints one JSON object per problem, then `{"done": N}` so the rule knows
/// the run was complete.
pub const SCRIPT: &str = r#"import json, sys, warnings
def out(**kw):
    print(json.dumps(kw), flush=True)
n = 0
for path in sys.argv[1:]:
    n += 1
    try:
        with open(path, "rb") as fh:
            source = fh.read()
    except OSError as e:
        out(file=path, type="OSError", msg=e.strerror or str(e))
        continue
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as e:
            out(file=e.filename or path, line=e.lineno, col=e.offset, msg=e.msg, type=type(e).__name__, text=(e.text or "").strip("\r\n"))
        except (ValueError, UnicodeError) as e:
            out(file=path, type=type(e).__name__, msg=str(e))
    for w in caught:
        out(file=w.filename or path, line=w.lineno, msg=str(w.message), type=w.category.__name__, warning=True)
out(done=n)
"#;

#[derive(Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
struct Record {
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<i64>,
    #[serde(default)]
    col: Option<i64>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    warning: bool,
    #[serde(default)]
    done: Option<u64>,
}

/// What the script printed: the diagnostics, and how many files it reports
/// having finished (`None` when it stopped before the end).
pub fn parse(stdout: &str) -> (Vec<Diag>, Option<u64>) {
    let mut diags = Vec::new();
    let mut done = None;
    for line in stdout.lines() {
        let Ok(record) = serde_json::from_str::<Record>(line.trim()) else {
            continue;
        };
        if let Some(n) = record.done {
            done = Some(n);
            continue;
        }
        let Some(file) = record.file else { continue };
        let kind = record.kind.unwrap_or_else(|| "SyntaxError".to_owned());
        let level = if record.warning {
            Level::Warning
        } else {
            Level::Error
        };
        let number = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0);
        let message = record.msg.unwrap_or_else(|| kind.clone());
        let message = match kind.as_str() {
            "OSError" => format!("could not read the file: {message}"),
            "SyntaxError" | "IndentationError" | "TabError" => message,
            _ if record.warning => message,
            _ => format!("{kind}: {message}"),
        };
        let mut diag = Diag::new(level, message).at(Location::new(
            &file,
            number(record.line),
            number(record.col),
        ));
        diag.hint = hint(&kind, record.text.as_deref());
        diag.code = Some(if kind == "OSError" {
            "unreadable".to_owned()
        } else {
            kind
        });
        diags.push(diag);
    }
    (diags, done)
}

fn hint(kind: &str, text: Option<&str>) -> Option<String> {
    let line = text.map(str::trim).filter(|t| !t.is_empty());
    let quoted = line
        .map(|l| format!(" (the line reads `{}`)", clip(l, 120)))
        .unwrap_or_default();
    let text = match kind {
        "TabError" => {
            format!("indent with spaces only (or tabs only) throughout the block{quoted}")
        }
        "IndentationError" => {
            format!("indent this line to match its block{quoted}")
        }
        "SyntaxError" => format!("correct the syntax here{quoted}"),
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from CPython 3.11 running [`SCRIPT`].
    const SAMPLE: &str = r#"{"file": "a.py", "line": 1, "col": 7, "msg": "invalid syntax", "type": "SyntaxError", "text": "def f(:"}
{"file": "b.py", "line": 3, "col": 1, "msg": "inconsistent use of tabs and spaces in indentation", "type": "TabError", "text": "        y = 2"}
{"file": "c.py", "line": 2, "col": 1, "msg": "expected an indented block after function definition on line 1", "type": "IndentationError", "text": "return 1"}
{"file": "d.py", "line": 2, "msg": "invalid escape sequence '\\d'", "type": "DeprecationWarning", "warning": true}
{"file": "f.py", "line": 1, "col": 5, "msg": "'(' was never closed", "type": "SyntaxError", "text": "x = (1,"}
{"file": "nosuch.py", "type": "OSError", "msg": "No such file or directory"}
{"done": 7}
"#;

    #[test]
    fn reads_each_error_with_its_class_and_place() {
        let (diags, done) = parse(SAMPLE);
        assert_eq!(done, Some(7));
        let rows: Vec<_> = diags
            .iter()
            .map(|d| {
                let loc = &d.locations[0];
                (
                    loc.path.as_str(),
                    loc.line,
                    loc.column,
                    d.level,
                    d.code.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("a.py", Some(1), Some(7), Level::Error, "SyntaxError"),
                ("b.py", Some(3), Some(1), Level::Error, "TabError"),
                ("c.py", Some(2), Some(1), Level::Error, "IndentationError"),
                ("d.py", Some(2), None, Level::Warning, "DeprecationWarning"),
                ("f.py", Some(1), Some(5), Level::Error, "SyntaxError"),
                ("nosuch.py", None, None, Level::Error, "unreadable"),
            ]
        );
        assert_eq!(
            diags[0].hint.as_deref().unwrap(),
            "correct the syntax here (the line reads `def f(:`)"
        );
        assert_eq!(diags[4].message, "'(' was never closed");
        assert_eq!(
            diags[5].message,
            "could not read the file: No such file or directory"
        );
    }

    #[test]
    fn a_cut_off_run_has_no_done_marker() {
        let (diags, done) = parse(
            "{\"file\": \"a.py\", \"line\": 1, \"msg\": \"x\", \"type\": \"SyntaxError\"}\nTraceback (most recent call last):\n",
        );
        assert_eq!(diags.len(), 1);
        assert_eq!(done, None);
    }
}
