//! Running a granted program natively: the implementation behind the host's
//! `exec` import and behind native tests of rules that run programs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::exec::{Command, ExecError, Output};
use crate::normalize_path;

/// Environment variables passed through from the host by default.
pub const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
];

/// Variables a rule may always set on a command (they only change output
/// formatting).
pub const RULE_SETTABLE_ENV: &[&str] = &[
    "NO_COLOR",
    "CARGO_TERM_COLOR",
    "PYTHONDONTWRITEBYTECODE",
    "RUST_BACKTRACE",
];

/// What a rule may run, combining its own declaration and the workspace's grant.
#[derive(Debug, Clone)]
pub struct ExecPolicy {
    /// Rule id, for messages.
    pub rule: String,
    /// Programs the rule declared (`exec:<program>` capabilities); `*`
    /// (from `exec:*`) means any program the workspace grants, for rules
    /// with a user-configured command.
    pub declared: Vec<String>,
    /// Programs the workspace granted.
    pub granted: Vec<String>,
    /// Extra environment variable names the workspace passes through (and
    /// lets rules set).
    pub env: Vec<String>,
    /// Longest a single command may run.
    pub max_timeout: Duration,
    /// Most bytes kept of stdout and of stderr, each.
    pub max_output: usize,
    /// The grants file, for messages (e.g. `checkrail.toml`).
    pub grants_file: String,
}

impl ExecPolicy {
    /// A policy for a rule whose capabilities are `capabilities`.
    pub fn for_rule(rule: &str, capabilities: &[String]) -> Self {
        Self {
            rule: rule.to_owned(),
            declared: capabilities
                .iter()
                .filter_map(|c| c.strip_prefix("exec:").map(str::to_owned))
                .collect(),
            granted: Vec::new(),
            env: Vec::new(),
            max_timeout: Duration::from_secs(600),
            max_output: 4 << 20,
            grants_file: "checkrail.toml".to_owned(),
        }
    }
}

/// Runs `command` in `root` under `policy`, stopping it at `deadline` or
/// when `should_stop` says so. The whole process group is killed on stop.
pub fn run(
    root: &Path,
    policy: &ExecPolicy,
    command: &Command,
    deadline: Instant,
    should_stop: &dyn Fn() -> bool,
) -> Result<Output, ExecError> {
    let program = command.program.as_str();
    if program.is_empty() || program.contains(['/', '\\']) {
        return Err(ExecError::Failed(format!(
            "`{program}` is not a program name; give a name such as `cargo`, found on PATH"
        )));
    }
    if !policy.declared.iter().any(|p| p == program || p == "*") {
        return Err(ExecError::NotDeclared(format!(
            "rule `{}` asked to run `{program}` but does not declare the capability `exec:{program}`",
            policy.rule
        )));
    }
    if !policy.granted.iter().any(|p| p == program) {
        return Err(ExecError::NotGranted(format!(
            "rule `{}` needs to run `{program}`, which this workspace has not granted; to allow it, add `\"{program}\"` to `allow` under `[exec]` in {} (e.g. `[exec]` then `allow = [\"{program}\"]`)",
            policy.rule, policy.grants_file
        )));
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let Some(executable) = find_on_path(program, &path_var) else {
        return Err(ExecError::NotFound(format!(
            "`{program}` was not found on PATH ({}); install it or put it on PATH",
            path_var.to_string_lossy()
        )));
    };
    let cwd = match &command.cwd {
        None => root.to_owned(),
        Some(dir) => {
            let rel = normalize_path(dir).map_err(|_| {
                ExecError::Failed(format!(
                    "working directory `{dir}` leads outside the workspace"
                ))
            })?;
            let full = root.join(&rel);
            let canonical = full
                .canonicalize()
                .map_err(|e| ExecError::Failed(format!("working directory `{dir}`: {e}")))?;
            let root = root
                .canonicalize()
                .map_err(|e| ExecError::Failed(e.to_string()))?;
            if !canonical.starts_with(&root) {
                return Err(ExecError::Failed(format!(
                    "working directory `{dir}` leads outside the workspace"
                )));
            }
            canonical
        }
    };

    let mut process = std::process::Command::new(&executable);
    process.args(&command.args).current_dir(&cwd).env_clear();
    for name in BASE_ENV
        .iter()
        .copied()
        .chain(policy.env.iter().map(String::as_str))
    {
        if let Some(value) = std::env::var_os(name) {
            process.env(name, value);
        }
    }
    for (name, value) in &command.env {
        let allowed =
            RULE_SETTABLE_ENV.contains(&name.as_str()) || policy.env.iter().any(|n| n == name);
        if !allowed {
            return Err(ExecError::Failed(format!(
                "rule `{}` may not set the environment variable `{name}`; the workspace can allow it with `env = [\"{name}\"]` under `[exec]` in {}",
                policy.rule, policy.grants_file
            )));
        }
        process.env(name, value);
    }
    process
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut process, 0);

    let timeout = command
        .timeout
        .unwrap_or(policy.max_timeout)
        .min(policy.max_timeout);
    let deadline = deadline.min(Instant::now() + timeout);
    let started = Instant::now();
    let mut child = process.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            ExecError::NotFound(format!("`{program}` could not be started: {e}"))
        }
        _ => ExecError::Failed(format!("`{program}` could not be started: {e}")),
    })?;
    let pid = child.id();
    let stdout = capture(child.stdout.take(), policy.max_output);
    let stderr = capture(child.stderr.take(), policy.max_output);
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });

    let mut timed_out = false;
    let status = loop {
        let now = Instant::now();
        if now >= deadline || should_stop() {
            timed_out = now >= deadline;
            kill_group(pid);
            break done_rx.recv().ok().and_then(Result::ok);
        }
        let wait = (deadline - now).min(Duration::from_millis(20));
        match done_rx.recv_timeout(wait) {
            Ok(status) => break status.ok(),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break None,
        }
    };
    // Leftover children of the group must not outlive the command.
    kill_group(pid);
    let (stdout, stdout_truncated) = collect(stdout);
    let (stderr, stderr_truncated) = collect(stderr);
    Ok(Output {
        exit_code: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        timed_out,
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        duration: started.elapsed(),
    })
}

type Captured = mpsc::Receiver<(Vec<u8>, bool)>;

fn capture(pipe: Option<impl Read + Send + 'static>, cap: usize) -> Captured {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut truncated = false;
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 64 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = cap.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                        truncated |= n > room;
                    }
                }
            }
        }
        let _ = tx.send((kept, truncated));
    });
    rx
}

fn collect(rx: Captured) -> (String, bool) {
    // A grandchild that left the process group may hold the pipe open; do not
    // wait for it forever.
    match rx.recv_timeout(Duration::from_secs(2)) {
        Ok((bytes, truncated)) => (String::from_utf8_lossy(&bytes).into_owned(), truncated),
        Err(_) => (String::new(), true),
    }
}

fn kill_group(pid: u32) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals that process group;
        // it has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// The first executable file called `program` on `path`.
pub fn find_on_path(program: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(granted: &[&str]) -> ExecPolicy {
        let mut p = ExecPolicy::for_rule(
            "t",
            &["exec:sh".to_owned(), "exec:nope-not-installed".to_owned()],
        );
        p.granted = granted.iter().map(|s| (*s).to_owned()).collect();
        p.max_output = 1000;
        p
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[test]
    fn refusals_name_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(
            dir.path(),
            &policy(&[]),
            &Command::new("sh"),
            far(),
            &|| false,
        )
        .unwrap_err();
        assert!(
            matches!(&err, ExecError::NotGranted(m) if m.contains("allow = [\"sh\"]")),
            "{err}"
        );
        let err = run(
            dir.path(),
            &policy(&["sh"]),
            &Command::new("cargo"),
            far(),
            &|| false,
        )
        .unwrap_err();
        assert!(matches!(err, ExecError::NotDeclared(_)));
        let err = run(
            dir.path(),
            &policy(&["nope-not-installed"]),
            &Command::new("nope-not-installed"),
            far(),
            &|| false,
        )
        .unwrap_err();
        assert!(
            matches!(&err, ExecError::NotFound(m) if m.contains("not found on PATH")),
            "{err}"
        );
        let err = run(
            dir.path(),
            &policy(&["sh"]),
            &Command::new("/bin/sh"),
            far(),
            &|| false,
        )
        .unwrap_err();
        assert!(matches!(err, ExecError::Failed(_)));
        let err = run(
            dir.path(),
            &policy(&["sh"]),
            &Command::new("sh").cwd("../.."),
            far(),
            &|| false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("outside the workspace"));
        let err = run(
            dir.path(),
            &policy(&["sh"]),
            &Command::new("sh").env("LD_PRELOAD", "x"),
            far(),
            &|| false,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("may not set the environment variable `LD_PRELOAD`")
        );
    }

    #[test]
    fn runs_in_the_workspace_with_a_scrubbed_environment_and_capped_output() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: test-only; no other thread of this test reads it.
        unsafe { std::env::set_var("CHECKRAIL_SECRET_FOR_TEST", "leak") };
        let cmd = Command::new("sh").args(["-c", "pwd; echo ${CHECKRAIL_SECRET_FOR_TEST:-clean}; head -c 5000 /dev/zero | tr '\\\\0' x; exit 3"]);
        let out = run(dir.path(), &policy(&["sh"]), &cmd, far(), &|| false).unwrap();
        assert_eq!(out.exit_code, Some(3));
        let canonical = dir.path().canonicalize().unwrap();
        assert!(
            out.stdout
                .starts_with(&format!("{}\nclean\n", canonical.display())),
            "{}",
            out.stdout
        );
        assert!(out.stdout_truncated && out.stdout.len() == 1000);
    }

    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survivor");
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let cmd = Command::new("sh")
            .args(["-c", &script])
            .timeout(Duration::from_millis(300));
        let started = Instant::now();
        let out = run(dir.path(), &policy(&["sh"]), &cmd, far(), &|| false).unwrap();
        assert!(out.timed_out && out.exit_code.is_none());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(2500));
        assert!(
            !marker.exists(),
            "a child of the command outlived the timeout"
        );
    }
}
