//! Running a granted scanner and turning what stops it from being read into
//! findings, under the codes the other rules use.

use checkrail_sdk::{Command, Context, Finding, Output};

/// Runs `command`; a refusal, a timeout or cut output comes back as the
/// finding to report instead.
pub fn run(cx: &Context, command: &Command) -> Result<Output, Finding> {
    let output = cx.exec(command).map_err(|refusal| refusal.to_finding())?;
    if output.timed_out {
        return Err(Finding::error(format!(
            "`{}` timed out after {}s{}",
            command.display(),
            output.duration.as_secs(),
            tail_note(&output)
        ))
        .fix_hint("raise the exec timeout in checkrail.toml, or narrow the scan with `cwd`")
        .code("timeout"));
    }
    if output.stdout_truncated {
        return Err(Finding::error(format!(
            "`{}` printed more than the host keeps, so its JSON report was cut and cannot be read",
            command.display()
        ))
        .fix_hint("raise `max_output_bytes` in checkrail.toml, or narrow the scan with `cwd`")
        .code("output-truncated"));
    }
    Ok(output)
}

/// The finding for a scanner that exited with an error and printed no report.
pub fn failed(command: &Command, output: &Output, hint: &str) -> Finding {
    let code = output
        .exit_code
        .map_or_else(|| "no exit code".to_owned(), |c| format!("exit code {c}"));
    Finding::error(format!(
        "`{}` failed ({code}) without a report the rule can read{}",
        command.display(),
        tail_note(output)
    ))
    .fix_hint(hint)
    .code("tool-failed")
}

/// `; its output ends with: …` from stderr (or stdout when stderr is empty).
pub fn tail_note(output: &Output) -> String {
    output.tail_note(10, 1500)
}

/// `path` (workspace-relative) as seen from the workspace-relative
/// directory `cwd`.
pub fn from_cwd(cwd: &str, path: &str) -> String {
    if cwd == "." {
        return path.to_owned();
    }
    let up = "../".repeat(cwd.split('/').count());
    format!("{up}{path}")
}

/// `path` relative to `cwd`, as a workspace-relative path.
pub fn in_cwd(cwd: &str, path: &str) -> String {
    let path = path.strip_prefix("./").unwrap_or(path);
    if cwd == "." {
        path.to_owned()
    } else {
        format!("{cwd}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_between_cwd_and_root() {
        assert_eq!(from_cwd(".", "db/advisories"), "db/advisories");
        assert_eq!(from_cwd("crates/core", "db"), "../../db");
        assert_eq!(in_cwd(".", "./app.py"), "app.py");
        assert_eq!(in_cwd("py", "./pkg/app.py"), "py/pkg/app.py");
    }
}
