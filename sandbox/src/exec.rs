//! Running a granted program natively: the implementation behind the host's
//! `exec` import and behind native tests of rules that run programs.
//!
//! Besides the two keys (declared and granted), a command's arguments are
//! screened (module `args`) and, on Linux, every process it starts is confined to
//! the command's lifetime (module `reaper`).

mod args;
#[cfg(target_os = "linux")]
mod reaper;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

pub use args::{PYTHON_MODULES, is_screened};

use crate::{Capability, Program, is_program_name, normalize_path};

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

/// A program a rule asked to run.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Program name, looked up on PATH.
    pub program: &'a str,
    /// Its arguments.
    pub args: &'a [String],
    /// Working directory relative to the workspace root (default: the root).
    pub cwd: Option<&'a str>,
    /// Environment variables the rule sets (only names the policy allows).
    pub env: &'a [(String, String)],
    /// How long it may run; never beyond the policy's longest.
    pub timeout: Option<Duration>,
}

impl<'a> Request<'a> {
    /// `program` with `args`, in the workspace root, with nothing else set.
    pub fn new(program: &'a str, args: &'a [String]) -> Self {
        Self {
            program,
            args,
            cwd: None,
            env: &[],
            timeout: None,
        }
    }

    /// The command line, for messages and progress.
    pub fn line(&self) -> String {
        let mut line = self.program.to_owned();
        for arg in self.args {
            line.push(' ');
            line.push_str(arg);
        }
        line
    }
}

/// What a finished (or stopped) program left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when killed (timeout, stop or signal).
    pub exit_code: Option<i32>,
    /// Whether the deadline killed it.
    pub timed_out: bool,
    /// What it wrote to stdout.
    pub stdout: Captured,
    /// What it wrote to stderr.
    pub stderr: Captured,
    /// Wall time.
    pub duration: Duration,
}

/// One output stream of a program, cut at the policy's cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The text kept (lossy UTF-8).
    pub text: String,
    /// Whether the stream went past the cap (or stayed open past the
    /// command) and was cut.
    pub truncated: bool,
}

/// Why a program was not run. Each message names what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecError {
    /// The rule did not declare `exec:<program>`.
    NotDeclared(String),
    /// The workspace did not grant the program, or refuses its arguments.
    NotGranted(String),
    /// The program is not installed.
    NotFound(String),
    /// Anything else.
    Failed(String),
}

impl ExecError {
    /// The message, whichever the refusal.
    pub fn message(&self) -> &str {
        match self {
            ExecError::NotDeclared(message)
            | ExecError::NotGranted(message)
            | ExecError::NotFound(message)
            | ExecError::Failed(message) => message,
        }
    }
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ExecError {}

/// What a rule may run, combining its own declaration and the workspace's grant.
#[derive(Debug, Clone)]
pub struct ExecPolicy {
    /// Rule id, for messages.
    pub rule: String,
    /// Programs the rule declared (its `exec:` capabilities);
    /// [`Program::Any`] (from `exec:*`) means any program the workspace
    /// grants, for rules with a user-configured command.
    pub declared: Vec<Program>,
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
    /// The table of the grants file that grants this rule its programs, for
    /// messages (e.g. `[exec]`, or `[exec.rules."team-rules/*"]`).
    pub grant_table: String,
    /// Programs whose arguments are passed on unscreened (the workspace's
    /// `unchecked_args`).
    pub unchecked_args: Vec<String>,
    /// Whether the rule may pass Python inline code (`-c`). The host allows
    /// it for the bundled rules only (the compile rule checks syntax with a
    /// script of its own); native tests allow it.
    pub inline_code: bool,
}

impl ExecPolicy {
    /// A policy for a rule that declares `capabilities`, granted nothing
    /// yet.
    pub fn for_rule(rule: &str, capabilities: &[Capability]) -> Self {
        Self {
            rule: rule.to_owned(),
            declared: capabilities
                .iter()
                .filter_map(Capability::program)
                .cloned()
                .collect(),
            granted: Vec::new(),
            env: Vec::new(),
            max_timeout: Duration::from_secs(600),
            max_output: 4 << 20,
            grants_file: "checkrail.toml".to_owned(),
            grant_table: "[exec]".to_owned(),
            unchecked_args: Vec::new(),
            inline_code: true,
        }
    }
}

/// Runs `command` in `root` under `policy`, stopping it at `deadline` or
/// when `should_stop` says so. Every process the command started is killed
/// when it ends or is stopped (on Linux; elsewhere its process group).
pub fn run(
    root: &Path,
    policy: &ExecPolicy,
    command: &Request<'_>,
    deadline: Instant,
    should_stop: &dyn Fn() -> bool,
) -> Result<Output, ExecError> {
    let program = command.program;
    if !is_program_name(program) {
        return Err(ExecError::Failed(format!(
            "`{program}` is not a program name; give a name such as `cargo`, found on PATH"
        )));
    }
    if !policy.declared.iter().any(|p| p.covers(program)) {
        return Err(ExecError::NotDeclared(format!(
            "rule `{}` asked to run `{program}` but does not declare the capability `{}`",
            policy.rule,
            Capability::exec(program)
        )));
    }
    if !policy.granted.iter().any(|p| p == program) {
        let table = &policy.grant_table;
        let bundled_only = if table == "[exec]" {
            ""
        } else {
            " (`[exec] allow` grants programs to the bundled rules only)"
        };
        return Err(ExecError::NotGranted(format!(
            "rule `{}` needs to run `{program}`, which this workspace has not granted to it{bundled_only}; to allow it, add `\"{program}\"` to `allow` under `{table}` in {} (e.g. `{table}` then `allow = [\"{program}\"]`)",
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
    let cwd = match command.cwd {
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
    if !policy.unchecked_args.iter().any(|p| p == program) {
        let root = root
            .canonicalize()
            .map_err(|e| ExecError::Failed(format!("workspace `{}`: {e}", root.display())))?;
        let cwd = cwd
            .canonicalize()
            .map_err(|e| ExecError::Failed(format!("working directory: {e}")))?;
        let place = args::Place {
            root: &root,
            cwd: &cwd,
        };
        if let Err(refusal) = args::screen(program, command.args, &place, policy.inline_code) {
            let table = &policy.grant_table;
            return Err(ExecError::NotGranted(format!(
                "rule `{}` asked to run `{program}` with the argument `{}`, which {}; checkrail refuses it for granted programs. If this workspace trusts the rule with any `{program}` arguments, add `unchecked_args = [\"{program}\"]` under `{table}` in {}",
                policy.rule, refusal.arg, refusal.why, policy.grants_file
            )));
        }
    }

    let mut process = std::process::Command::new(&executable);
    process.args(command.args).current_dir(&cwd).env_clear();
    for name in BASE_ENV
        .iter()
        .copied()
        .chain(policy.env.iter().map(String::as_str))
    {
        if let Some(value) = std::env::var_os(name) {
            process.env(name, value);
        }
    }
    for (name, value) in command.env {
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
    #[cfg(target_os = "linux")]
    let mut status_pipe = reaper::install(&mut process)
        .map_err(|e| ExecError::Failed(format!("`{program}` could not be prepared: {e}")))?;

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
    #[cfg(not(target_os = "linux"))]
    let group = child.id();
    let stdout = Capture::start(child.stdout.take(), policy.max_output);
    let stderr = Capture::start(child.stderr.take(), policy.max_output);

    // The program's exit code, once it ends (`None`: killed by a signal).
    let (done_tx, done_rx) = mpsc::channel::<Option<i32>>();
    #[cfg(target_os = "linux")]
    {
        status_pipe.spawned();
        std::thread::spawn(move || {
            let _ = done_tx.send(status_pipe.wait().and_then(reaper::exit_code));
        });
    }
    #[cfg(not(target_os = "linux"))]
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait().ok().and_then(|s| s.code()));
    });

    let mut timed_out = false;
    let exit_code = loop {
        let now = Instant::now();
        if now >= deadline || should_stop() {
            timed_out = now >= deadline;
            break None;
        }
        let wait = (deadline - now).min(Duration::from_millis(20));
        match done_rx.recv_timeout(wait) {
            Ok(code) => break code,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break None,
        }
    };
    // Nothing the command started outlives it: daemons, double forks and
    // new sessions included.
    #[cfg(target_os = "linux")]
    end_all(&mut child);
    #[cfg(not(target_os = "linux"))]
    kill_group(group);
    // With every writer gone the pipes close at once; the grace only matters
    // if a pipe was handed to a process outside the command.
    Ok(Output {
        exit_code: if timed_out { None } else { exit_code },
        timed_out,
        stdout: stdout.finish(OUTPUT_GRACE),
        stderr: stderr.finish(OUTPUT_GRACE),
        duration: started.elapsed(),
    })
}

/// How long output is still read after the command has ended.
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

/// Kills whatever is left beneath the shim, then waits for the shim, which
/// exits once it has nothing left to reap.
#[cfg(target_os = "linux")]
fn end_all(shim: &mut std::process::Child) {
    let pid = shim.id();
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        reaper::kill_descendants(pid, Duration::from_secs(1));
        if matches!(shim.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        if Instant::now() >= until {
            // Something beneath it cannot be killed (stuck in the kernel):
            // give up on it rather than on the host.
            let _ = shim.kill();
            let _ = shim.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// One output pipe, read on its own thread into a capped buffer that can be
/// taken at any time.
struct Capture {
    shared: Arc<(Mutex<Reading>, Condvar)>,
}

/// What a [`Capture`]'s thread has read so far.
#[derive(Default)]
struct Reading {
    kept: Vec<u8>,
    truncated: bool,
    done: bool,
}

impl Capture {
    fn start(pipe: Option<impl Read + Send + 'static>, cap: usize) -> Self {
        let shared = Arc::new((Mutex::new(Reading::default()), Condvar::new()));
        let writer = shared.clone();
        std::thread::spawn(move || {
            let (state, changed) = &*writer;
            let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(mut pipe) = pipe {
                let mut buf = [0u8; 64 * 1024];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let mut reading = lock();
                            let room = cap.saturating_sub(reading.kept.len());
                            reading.kept.extend_from_slice(&buf[..n.min(room)]);
                            reading.truncated |= n > room;
                        }
                    }
                }
            }
            lock().done = true;
            changed.notify_all();
        });
        Self { shared }
    }

    /// What was read, waiting at most `grace` for the pipe to close. A pipe
    /// still open after that is reported as truncated, with what it gave.
    fn finish(self, grace: Duration) -> Captured {
        let (state, changed) = &*self.shared;
        let guard = state.lock().unwrap_or_else(|e| e.into_inner());
        let (mut reading, _) = changed
            .wait_timeout_while(guard, grace, |r| !r.done)
            .unwrap_or_else(|e| e.into_inner());
        let kept = std::mem::take(&mut reading.kept);
        Captured {
            text: String::from_utf8_lossy(&kept).into_owned(),
            truncated: reading.truncated || !reading.done,
        }
    }
}

#[cfg(not(target_os = "linux"))]
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
mod tests;
