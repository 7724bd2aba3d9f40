//! Running programs through the host: a rule declares the programs it may
//! ask for (`exec:<program>` in [`Rule::CAPABILITIES`](crate::Rule::CAPABILITIES)),
//! the workspace owner grants them in `checkrail.toml`, and only then does
//! [`Context::exec`](crate::Context::exec) run them.

use std::time::Duration;

use crate::Finding;
use crate::tool::codes;

/// A program to run in the workspace.
///
/// ```
/// use checkrail_sdk::Command;
/// let cmd = Command::new("cargo").args(["build", "--message-format=json"]).cwd("crates/core");
/// assert_eq!(cmd.program, "cargo");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Program name, looked up on PATH.
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Working directory relative to the workspace root (default: the root).
    pub cwd: Option<String>,
    /// Extra environment variables (only names the workspace allows).
    pub env: Vec<(String, String)>,
    /// Deadline; never beyond the rule's own.
    pub timeout: Option<Duration>,
}

impl Command {
    /// A command running `program` (a name such as `cargo`, not a path).
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            timeout: None,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the working directory, relative to the workspace root.
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets the deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The command line, for messages.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a finished program left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when killed (timeout or signal).
    pub exit_code: Option<i32>,
    /// Whether the deadline killed it.
    pub timed_out: bool,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    /// Whether stdout went past the cap and was cut.
    pub stdout_truncated: bool,
    /// Whether stderr went past the cap and was cut.
    pub stderr_truncated: bool,
    /// Wall time.
    pub duration: Duration,
}

impl Output {
    /// `; its output ends with: …`: the last `lines` non-blank lines of
    /// stderr (of stdout when stderr is blank), at most `chars` characters,
    /// for a finding about a program that failed; `; it printed nothing`
    /// when both are blank.
    pub fn tail_note(&self, lines: usize, chars: usize) -> String {
        let source = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let kept: Vec<&str> = source
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .collect();
        if kept.is_empty() {
            return "; it printed nothing".to_owned();
        }
        let tail = kept[kept.len().saturating_sub(lines)..].join("\n");
        let all: Vec<char> = tail.chars().collect();
        let tail: String = all[all.len().saturating_sub(chars)..].iter().collect();
        format!("; its output ends with:\n{tail}")
    }

    /// Exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Why a program was not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The rule did not declare `exec:<program>`.
    #[error("{0}")]
    NotDeclared(String),
    /// The workspace did not grant the program.
    #[error("{0}")]
    NotGranted(String),
    /// The program is not installed.
    #[error("{0}")]
    NotFound(String),
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}

impl ExecError {
    /// A blocking finding explaining the refusal and how to fix it, for a
    /// rule to return as is.
    pub fn to_finding(&self) -> Finding {
        let (code, hint) = match self {
            ExecError::NotDeclared(_) => (
                codes::EXEC_NOT_DECLARED,
                "the rule must list the program in its CAPABILITIES",
            ),
            ExecError::NotGranted(_) => (
                codes::EXEC_NOT_GRANTED,
                "a human must grant it in checkrail.toml (see the message)",
            ),
            ExecError::NotFound(_) => (
                codes::TOOL_NOT_FOUND,
                "install the program or put it on PATH",
            ),
            ExecError::Failed(_) => (codes::EXEC_FAILED, "see the message"),
        };
        let hint = match self {
            ExecError::NotGranted(message) => message
                .split_once("add ")
                .map(|(_, line)| format!("add {line}"))
                .unwrap_or_else(|| hint.to_owned()),
            _ => hint.to_owned(),
        };
        Finding::error(self.to_string()).fix_hint(hint).code(code)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use checkrail_sandbox::Capability;
    use checkrail_sandbox::exec::ExecPolicy;

    use super::*;
    use crate::testing::TestWorkspace;

    #[test]
    fn a_refused_argument_finding_carries_the_opt_out_as_its_hint() {
        let ws = TestWorkspace::new().unwrap();
        let mut policy = ExecPolicy::for_rule("team/x", &[Capability::exec("git")]);
        policy.granted = vec!["git".to_owned()];
        policy.grant_table = "[exec.rules.\"team/*\"]".to_owned();
        let cx = ws.context().unwrap().with_exec_policy(policy);
        let err = cx
            .exec(&Command::new("git").args(["-c", "alias.x=!id", "x"]))
            .unwrap_err();
        assert!(matches!(err, ExecError::NotGranted(_)), "{err:?}");
        assert_eq!(
            err.to_finding().fix_hint.as_deref(),
            Some(
                "add `unchecked_args = [\"git\"]` under `[exec.rules.\"team/*\"]` in checkrail.toml"
            )
        );
    }
}
