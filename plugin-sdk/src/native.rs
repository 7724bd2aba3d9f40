//! The native backend: outside wasm (a rule's unit tests) the workspace and
//! program runs go through the same sandbox crate as the host's, and its
//! answers are turned into the SDK's types here.

use std::path::Path;
use std::time::{Duration, Instant};

use checkrail_sandbox::exec::{self, ExecPolicy, Request};

use crate::workspace::{Entry, EntryKind, PathError};
use crate::{Command, ExecError, Output};

/// One answer of the confined workspace.
pub(crate) fn entry(
    answer: Result<checkrail_sandbox::Entry, checkrail_sandbox::PathError>,
) -> Result<Entry, PathError> {
    let entry = answer.map_err(PathError::from_sandbox)?;
    Ok(Entry {
        kind: match entry.kind {
            checkrail_sandbox::EntryKind::File => EntryKind::File,
            checkrail_sandbox::EntryKind::Directory => EntryKind::Directory,
            checkrail_sandbox::EntryKind::Symlink => EntryKind::Symlink,
            checkrail_sandbox::EntryKind::Other => EntryKind::Other,
        },
        size: entry.size,
        is_symlink: entry.is_symlink,
    })
}

/// Runs `command` in `root` under `policy`, as the host would, with an
/// hour's deadline (a native test has no rule deadline of its own).
pub(crate) fn run(
    root: &Path,
    policy: &ExecPolicy,
    command: &Command,
) -> Result<Output, ExecError> {
    let request = Request {
        program: &command.program,
        args: &command.args,
        cwd: command.cwd.as_deref(),
        env: &command.env,
        timeout: command.timeout,
    };
    let far = Instant::now() + Duration::from_secs(3600);
    match exec::run(root, policy, &request, far, &|| false) {
        Ok(out) => Ok(Output {
            exit_code: out.exit_code,
            timed_out: out.timed_out,
            stdout: out.stdout.text,
            stderr: out.stderr.text,
            stdout_truncated: out.stdout.truncated,
            stderr_truncated: out.stderr.truncated,
            duration: out.duration,
        }),
        Err(exec::ExecError::NotDeclared(m)) => Err(ExecError::NotDeclared(m)),
        Err(exec::ExecError::NotGranted(m)) => Err(ExecError::NotGranted(m)),
        Err(exec::ExecError::NotFound(m)) => Err(ExecError::NotFound(m)),
        Err(exec::ExecError::Failed(m)) => Err(ExecError::Failed(m)),
    }
}
