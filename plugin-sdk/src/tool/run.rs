//! Running a tool and the findings about the run itself.

use crate::tool::{WorkspaceDir, codes, plural};
use crate::{Command, Context, ExecError, Finding, Outcome, Output, Severity};

/// Lines and characters of a tool's output quoted in a finding.
const TAIL_LINES: usize = 20;
const TAIL_CHARS: usize = 2000;

/// A tool a rule runs: how messages name it, where it runs, and what the
/// agent does after fixing what it reported.
///
/// ```no_run
/// # fn f(cx: &checkrail_sdk::Context) -> checkrail_sdk::Result<checkrail_sdk::Outcome> {
/// use checkrail_sdk::tool::{Judged, Tool, WorkspaceDir};
/// use checkrail_sdk::{Command, Outcome};
///
/// let tool = Tool::new("cargo build", &WorkspaceDir::root()).again("build again");
/// let ran = match tool.run(cx, Command::new("cargo").arg("build")) {
///     Ok(ran) => ran,
///     Err(refused) => return Ok(refused), // not granted, not installed: says how to fix it
/// };
/// let errors_read = false; // what the toolchain's parser found
/// let problems = ran.problems(Judged { explained: errors_read, ..Judged::default() });
/// Ok(Outcome::from_findings(problems))
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Tool {
    label: String,
    again: String,
    slow_hint: Option<String>,
    cwd: WorkspaceDir,
}

impl Tool {
    /// A tool named `label` in messages (`cargo build`, `pytest`, a custom
    /// command line), run in `cwd`.
    pub fn new(label: impl Into<String>, cwd: &WorkspaceDir) -> Self {
        Self {
            label: label.into(),
            again: "check again".to_owned(),
            slow_hint: None,
            cwd: cwd.clone(),
        }
    }

    /// What to do after a fix, for hints (default `check again`).
    pub fn again(mut self, again: impl Into<String>) -> Self {
        self.again = again.into();
        self
    }

    /// The hint of a `timeout` finding, in place of the general one.
    pub fn slow_hint(mut self, hint: impl Into<String>) -> Self {
        self.slow_hint = Some(hint.into());
        self
    }

    /// What to do after a fix (`build again`).
    pub fn then(&self) -> &str {
        &self.again
    }

    /// The name in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The directory it runs in.
    pub fn cwd(&self) -> &WorkspaceDir {
        &self.cwd
    }

    /// Runs `command` in the tool's directory. A refusal (the program is not
    /// declared, not granted, not installed) is the failing outcome to
    /// return: its finding says how to fix it.
    pub fn run(&self, cx: &Context, command: Command) -> Result<Ran, Outcome> {
        let command = self.cwd.apply(command);
        match cx.exec(&command) {
            Ok(output) => Ok(Ran {
                output,
                tool: self.clone(),
            }),
            Err(error) => Err(self.refused(&command.program, &error)),
        }
    }

    /// The failing outcome for a refusal to run `program`.
    pub fn refused(&self, program: &str, error: &ExecError) -> Outcome {
        let why = match error {
            ExecError::NotGranted(_) => "it is not granted in checkrail.toml",
            ExecError::NotDeclared(_) => "the rule may not run it",
            ExecError::NotFound(_) => "it is not installed",
            ExecError::Failed(_) => "it could not be started",
        };
        Outcome::from_findings(vec![error.to_finding()])
            .with_summary(format!("`{program}` did not run: {why}"))
    }
}

/// What a rule read from a run, for [`Ran::problems`].
#[derive(Debug, Clone, Copy)]
pub struct Judged {
    /// What was read explains a failing exit status (an error diagnostic,
    /// a failing test). When false, a failing exit is `tool-failed`.
    pub explained: bool,
    /// The output covers everything the tool was given (an end marker was
    /// seen, say). When false, `incomplete-output`.
    pub complete: bool,
    /// The severity of `output-truncated`: an error when the rule cannot
    /// judge cut output, a warning when what was read still counts; `None`
    /// when the rule does not read the output (a report file).
    pub truncated: Option<Severity>,
    /// Whether the rule reads stderr too (else only a cut stdout matters).
    pub reads_stderr: bool,
}

impl Default for Judged {
    fn default() -> Self {
        Self {
            explained: false,
            complete: true,
            truncated: Some(Severity::Warning),
            reads_stderr: true,
        }
    }
}

/// A finished run of a [`Tool`].
#[derive(Debug, Clone)]
pub struct Ran {
    /// What the program left behind.
    pub output: Output,
    tool: Tool,
}

impl Ran {
    /// A run that ended with `output`, for tests of how a rule judges one.
    pub fn of(tool: &Tool, output: Output) -> Self {
        Self {
            output,
            tool: tool.clone(),
        }
    }

    /// `` `label` `` and, outside the root, ` in `cwd``: how findings name
    /// the run.
    pub fn name(&self) -> String {
        format!("`{}`{}", self.tool.label, self.tool.cwd.in_dir())
    }

    /// `exit code N`, or what stopped the program without one.
    pub fn exit(&self) -> String {
        match self.output.exit_code {
            Some(code) => format!("exit code {code}"),
            None if self.output.timed_out => "no exit code (stopped at its deadline)".to_owned(),
            None => "no exit code (killed by a signal)".to_owned(),
        }
    }

    /// `; its output ends with:` and the last lines of stderr (stdout when
    /// stderr is blank), or `; it printed nothing`.
    pub fn tail(&self) -> String {
        self.output.tail_note(TAIL_LINES, TAIL_CHARS)
    }

    /// Every finding about the run itself, given what the rule read: at
    /// most one of `timeout`, `tool-killed`, `tool-failed` (a failing exit
    /// that nothing read explains) and `incomplete-output`, then
    /// `output-truncated`.
    pub fn problems(&self, judged: Judged) -> Vec<Finding> {
        let out = &self.output;
        let mut findings: Vec<Finding> = Vec::new();
        if let Some(timeout) = self.timeout() {
            findings.push(timeout);
        } else if out.exit_code.is_none() {
            findings.push(self.killed());
        } else if !out.success() && !judged.explained {
            findings.push(self.failed("a problem the rule could read"));
        } else if !judged.complete {
            findings.push(self.incomplete());
        }
        if let Some(severity) = judged.truncated {
            findings.extend(self.truncated(severity, judged.reads_stderr));
        }
        findings
    }

    /// `timeout` when the deadline stopped the program.
    pub fn timeout(&self) -> Option<Finding> {
        let out = &self.output;
        out.timed_out.then(|| {
            let hint = self.tool.slow_hint.clone().unwrap_or_else(|| {
                "find what makes it hang or run this long (see the output) and fix it, narrow the run with `args` or `cwd`, or raise `timeout_ms` under `[exec]` in checkrail.toml".to_owned()
            });
            Finding::error(format!(
                "{} was stopped at its deadline after {}s, before it finished{}",
                self.name(),
                out.duration.as_secs(),
                self.tail()
            ))
            .fix_hint(hint)
            .code(codes::TIMEOUT)
        })
    }

    /// `tool-killed`: the program ended without an exit code.
    pub fn killed(&self) -> Finding {
        Finding::error(format!(
            "{} was killed before it finished{}",
            self.name(),
            self.tail()
        ))
        .fix_hint(format!(
            "find why it crashed (see the output), fix it and {}",
            self.tool.again
        ))
        .code(codes::TOOL_KILLED)
    }

    /// `tool-failed`: a failing exit without `what` (`a failing test`, `a
    /// report the rule can read`) to explain it; the hint points at the
    /// first line of the output that reads like an error.
    pub fn failed(&self, what: &str) -> Finding {
        let out = &self.output;
        let first_error = [&out.stderr, &out.stdout]
            .iter()
            .flat_map(|t| t.lines())
            .map(str::trim)
            .find(|l| l.starts_with("error") || l.contains("Error"));
        let hint = match first_error {
            Some(line) => format!(
                "fix what the output reports (first: `{}`) and {}",
                super::clip(line, 200),
                self.tool.again
            ),
            None => format!(
                "run {} yourself, fix what it reports and {}",
                self.name(),
                self.tool.again
            ),
        };
        Finding::error(format!(
            "{} failed ({}) without {what}{}",
            self.name(),
            self.exit(),
            self.tail()
        ))
        .fix_hint(hint)
        .code(codes::TOOL_FAILED)
    }

    /// `incomplete-output`: the program stopped before reporting on
    /// everything it was given.
    pub fn incomplete(&self) -> Finding {
        Finding::error(format!(
            "{} stopped before reporting on everything it was given, so the result is unknown{}",
            self.name(),
            self.tail()
        ))
        .fix_hint(format!(
            "find why it stopped (see the output) and {}",
            self.tool.again
        ))
        .code(codes::INCOMPLETE_OUTPUT)
    }

    /// `output-truncated` of `severity` when the host cut stdout (or stderr,
    /// with `stderr`).
    pub fn truncated(&self, severity: Severity, stderr: bool) -> Option<Finding> {
        let out = &self.output;
        (out.stdout_truncated || (stderr && out.stderr_truncated)).then(|| {
            Finding::new(
                severity,
                format!(
                    "{} printed more than the host keeps, so its output was cut and some of what it reported is missing",
                    self.name()
                ),
            )
            .fix_hint(format!(
                "fix what is reported and {}, narrow the run with `args` or `cwd`, or raise `max_output_bytes` under `[exec]` in checkrail.toml",
                self.tool.again
            ))
            .code(codes::OUTPUT_TRUNCATED)
        })
    }

    /// `output-unreadable`: `lines` of the output are not in the format the
    /// rule reads.
    pub fn unreadable(&self, lines: &[String], hint: &str) -> Finding {
        let example = lines
            .first()
            .map(|l| super::clip(l, 200))
            .unwrap_or_default();
        Finding::error(format!(
            "{} printed {} the rule cannot read, e.g. `{example}`",
            self.name(),
            plural(lines.len(), "line")
        ))
        .fix_hint(hint)
        .code(codes::OUTPUT_UNREADABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ran(output: Output) -> Ran {
        let dir = WorkspaceDir::new("sub").unwrap();
        Ran::of(&Tool::new("make check", &dir).again("run it again"), output)
    }

    fn codes_of(findings: &[Finding]) -> Vec<&str> {
        findings.iter().filter_map(|f| f.code.as_deref()).collect()
    }

    #[test]
    fn one_code_per_way_a_run_goes_wrong() {
        let failed = ran(Output {
            exit_code: Some(2),
            stderr: "make: *** No rule to make target 'check'.  Stop.\nError 2\n".into(),
            ..Output::default()
        });
        let found = failed.problems(Judged::default());
        assert_eq!(codes_of(&found), ["tool-failed"]);
        assert!(
            found[0]
                .message
                .starts_with("`make check` in `sub` failed (exit code 2)"),
            "{found:?}"
        );
        assert!(found[0].message.ends_with("Error 2"), "{found:?}");
        assert!(
            found[0]
                .fix_hint
                .as_deref()
                .unwrap()
                .contains("first: `Error 2`"),
            "{found:?}"
        );
        let explained = Judged {
            explained: true,
            ..Judged::default()
        };
        assert!(failed.problems(explained).is_empty());

        let slow = ran(Output {
            timed_out: true,
            duration: Duration::from_secs(7),
            stdout_truncated: true,
            ..Output::default()
        });
        let found = slow.problems(explained);
        assert_eq!(codes_of(&found), ["timeout", "output-truncated"]);
        assert!(found[0].message.contains("after 7s"), "{found:?}");
        assert_eq!(found[1].severity, Severity::Warning);
        let blocking = Judged {
            truncated: Some(Severity::Error),
            ..explained
        };
        assert_eq!(slow.problems(blocking)[1].severity, Severity::Error);

        let killed = ran(Output::default());
        assert_eq!(codes_of(&killed.problems(explained)), ["tool-killed"]);

        let stopped = ran(Output {
            exit_code: Some(0),
            stderr_truncated: true,
            ..Output::default()
        });
        let partial = Judged {
            complete: false,
            reads_stderr: false,
            ..Judged::default()
        };
        assert_eq!(codes_of(&stopped.problems(partial)), ["incomplete-output"]);
        assert_eq!(
            codes_of(&stopped.problems(Judged::default())),
            ["output-truncated"]
        );
        let unreadable = stopped.unreadable(&["junk".to_owned()], "fix the format");
        assert_eq!(unreadable.code.as_deref(), Some("output-unreadable"));
        assert!(
            unreadable
                .message
                .contains("1 line the rule cannot read, e.g. `junk`")
        );
    }

    #[test]
    fn refusals_are_outcomes_that_name_the_fix() {
        let tool = Tool::new("cargo build", &WorkspaceDir::root());
        let outcome = tool.refused(
            "cargo",
            &ExecError::NotGranted("`cargo` is not granted; add `allow = [\"cargo\"]`".into()),
        );
        assert!(!outcome.passed);
        assert_eq!(
            outcome.summary,
            "`cargo` did not run: it is not granted in checkrail.toml"
        );
        assert_eq!(codes_of(&outcome.findings), ["exec-not-granted"]);
    }
}
