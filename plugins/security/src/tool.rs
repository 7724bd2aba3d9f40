//! Running a granted scanner through the SDK's tool layer: a refusal, a
//! timeout, a kill or cut output each mean its JSON report cannot be read,
//! and come back as the findings to report instead.

use checkrail_sdk::tool::{Judged, Ran, Tool, WorkspaceDir};
use checkrail_sdk::{Command, Context, Finding, Severity};

/// Runs `command` (named `label` in messages) in `cwd`.
pub fn run(
    cx: &Context,
    label: &str,
    cwd: &WorkspaceDir,
    command: Command,
) -> Result<Ran, Vec<Finding>> {
    let tool = Tool::new(label, cwd).slow_hint(
        "raise `timeout_ms` under `[exec]` in checkrail.toml, or narrow the scan with `cwd`",
    );
    let ran = tool.run(cx, command).map_err(|refused| refused.findings)?;
    let problems = ran.problems(Judged {
        // Whether the exit status is explained is the scanner's to judge.
        explained: true,
        // A cut JSON report cannot be read at all.
        truncated: Some(Severity::Error),
        reads_stderr: false,
        ..Judged::default()
    });
    if problems.is_empty() {
        Ok(ran)
    } else {
        Err(problems)
    }
}

/// `path` as printed by a scanner that ran in `cwd`, as a workspace path
/// (as printed when it leaves the workspace).
pub fn in_cwd(cwd: &WorkspaceDir, path: &str) -> String {
    cwd.join(path).unwrap_or_else(|| path.to_owned())
}
