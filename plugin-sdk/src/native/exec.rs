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
        if let Err(refusal) = args::screen(program, &command.args, &place, policy.inline_code) {
            let table = &policy.grant_table;
            return Err(ExecError::NotGranted(format!(
                "rule `{}` asked to run `{program}` with the argument `{}`, which {}; checkrail refuses it for granted programs. If this workspace trusts the rule with any `{program}` arguments, add `unchecked_args = [\"{program}\"]` under `{table}` in {}",
                policy.rule, refusal.arg, refusal.why, policy.grants_file
            )));
        }
    }

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
    let (stdout, stdout_truncated) = stdout.finish(OUTPUT_GRACE);
    let (stderr, stderr_truncated) = stderr.finish(OUTPUT_GRACE);
    Ok(Output {
        exit_code: if timed_out { None } else { exit_code },
        timed_out,
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
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
    shared: Arc<(Mutex<Captured>, Condvar)>,
}

#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    truncated: bool,
    done: bool,
}

impl Capture {
    fn start(pipe: Option<impl Read + Send + 'static>, cap: usize) -> Self {
        let shared = Arc::new((Mutex::new(Captured::default()), Condvar::new()));
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
                            let mut captured = lock();
                            let room = cap.saturating_sub(captured.kept.len());
                            captured.kept.extend_from_slice(&buf[..n.min(room)]);
                            captured.truncated |= n > room;
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
    fn finish(self, grace: Duration) -> (String, bool) {
        let (state, changed) = &*self.shared;
        let guard = state.lock().unwrap_or_else(|e| e.into_inner());
        let (mut captured, _) = changed
            .wait_timeout_while(guard, grace, |c| !c.done)
            .unwrap_or_else(|e| e.into_inner());
        let kept = std::mem::take(&mut captured.kept);
        let truncated = captured.truncated || !captured.done;
        (String::from_utf8_lossy(&kept).into_owned(), truncated)
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

    /// How long a test waits for something bound to happen: a guard against
    /// hangs, far above what anything needs.
    const PATIENCE: Duration = Duration::from_secs(60);

    /// A `should_stop` that never asks to stop but holds the host's watch
    /// loop until `file` exists, so a short timeout cannot strike before
    /// the script has started what the test needs killed (however slow
    /// the machine); it strikes the moment the hold ends.
    fn once_exists(file: &Path) -> impl Fn() -> bool + '_ {
        move || {
            let give_up = Instant::now() + PATIENCE;
            while !file.exists() {
                assert!(
                    Instant::now() < give_up,
                    "the command never wrote `{}`",
                    file.display()
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            false
        }
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

    #[cfg(unix)]
    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        // A background child that would sleep an hour; the shell records
        // its pid before the timeout may strike.
        let script = format!(
            "sleep 3600 & echo $! > {0}.new && mv {0}.new {0}; sleep 30",
            pid_file.display()
        );
        let cmd = Command::new("sh")
            .args(["-c", &script])
            .timeout(Duration::from_millis(300));
        let out = run(
            dir.path(),
            &policy(&["sh"]),
            &cmd,
            far(),
            &once_exists(&pid_file),
        )
        .unwrap();
        assert!(out.timed_out && out.exit_code.is_none(), "{out:?}");
        let child: libc::pid_t = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Gone: on Linux at once (the command's reaper reaps it before the
        // run returns); elsewhere once init has reaped the killed child. A
        // survivor would sleep on for the hour.
        let give_up = Instant::now() + PATIENCE;
        // SAFETY: kill(2) with signal 0 only checks that the pid exists.
        while unsafe { libc::kill(child, 0) } == 0 {
            assert!(
                Instant::now() < give_up,
                "the command's child {child} outlived the timeout"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ESRCH)
        );
    }

    /// Processes anywhere on the machine whose command line holds `marker`.
    #[cfg(target_os = "linux")]
    fn processes_with(marker: &str) -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter_map(|e| {
                let line = std::fs::read(e.path().join("cmdline")).ok()?;
                let line = String::from_utf8_lossy(&line).replace('\0', " ");
                line.contains(marker)
                    .then(|| format!("{}: {line}", e.file_name().display()))
            })
            .collect()
    }

    /// A sleep duration no other process on the machine is using.
    #[cfg(target_os = "linux")]
    fn unique_sleep() -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!("{}.{nanos:09}", 900 + std::process::id() % 97)
    }

    #[cfg(target_os = "linux")]
    fn run_sh(dir: &Path, script: &str) -> Output {
        let cmd = Command::new("sh")
            .args(["-c", script])
            .timeout(Duration::from_secs(20));
        run(dir, &policy(&["sh"]), &cmd, far(), &|| false).unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_setsid_daemon_does_not_outlive_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let marker = unique_sleep();
        let out = run_sh(
            dir.path(),
            &format!("setsid sleep {marker} >/dev/null 2>&1 < /dev/null & echo started"),
        );
        assert_eq!(out.exit_code, Some(0), "{out:?}");
        assert_eq!(out.stdout, "started\n");
        assert!(!out.stdout_truncated);
        assert_eq!(processes_with(&marker), Vec::<String>::new());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_daemon_holding_stdout_neither_blanks_nor_stalls_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let marker = unique_sleep();
        // The daemon keeps the command's stdout and stderr open. Waited
        // out, the run would end at its deadline (no exit code) or cut the
        // output short (truncated) after the grace.
        let out = run_sh(
            dir.path(),
            &format!("echo real output; echo to stderr >&2; setsid sleep {marker} & exit 0"),
        );
        assert_eq!(out.exit_code, Some(0), "{out:?}");
        assert_eq!(out.stdout, "real output\n");
        assert_eq!(out.stderr, "to stderr\n");
        assert!(!out.stdout_truncated && !out.stderr_truncated, "{out:?}");
        assert_eq!(processes_with(&marker), Vec::<String>::new());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_double_fork_with_a_clean_environment_is_still_swept() {
        let dir = tempfile::tempdir().unwrap();
        let marker = unique_sleep();
        let out = run_sh(
            dir.path(),
            &format!(
                "s=$(command -v sleep); (env -i setsid \"$s\" {marker} >/dev/null 2>&1 &) ; (cd / && nohup \"$s\" {marker} >/dev/null 2>&1 &); exit 7"
            ),
        );
        assert_eq!(out.exit_code, Some(7), "{out:?}");
        assert_eq!(processes_with(&marker), Vec::<String>::new());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_timeout_sweeps_daemons_too() {
        let dir = tempfile::tempdir().unwrap();
        let marker = unique_sleep();
        let started = dir.path().join("started");
        // The daemon holds stdout; the timeout strikes only once it runs.
        let cmd = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "setsid sleep {marker} & echo partial; : > {}; sleep 30",
                    started.display()
                ),
            ])
            .timeout(Duration::from_millis(300));
        let out = run(
            dir.path(),
            &policy(&["sh"]),
            &cmd,
            far(),
            &once_exists(&started),
        )
        .unwrap();
        assert!(out.timed_out && out.exit_code.is_none(), "{out:?}");
        // All of it, and not cut off after the grace: the daemon holding
        // stdout was killed with the command.
        assert_eq!(out.stdout, "partial\n");
        assert!(!out.stdout_truncated, "{out:?}");
        assert_eq!(processes_with(&marker), Vec::<String>::new());
    }

    #[test]
    fn shell_making_arguments_are_refused_with_the_opt_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = ExecPolicy::for_rule("team/x", &["exec:git".to_owned()]);
        p.granted = vec!["git".to_owned()];
        p.grant_table = "[exec.rules.\"team/*\"]".to_owned();
        let cmd = Command::new("git").args(["-c", "alias.x=!id", "x"]);
        let err = run(dir.path(), &p, &cmd, far(), &|| false).unwrap_err();
        let ExecError::NotGranted(message) = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("the argument `-c`")
                && message
                    .contains("add `unchecked_args = [\"git\"]` under `[exec.rules.\"team/*\"]`"),
            "{message}"
        );
        assert_eq!(
            err.to_finding().fix_hint.as_deref(),
            Some(
                "add `unchecked_args = [\"git\"]` under `[exec.rules.\"team/*\"]` in checkrail.toml"
            )
        );
        // Opted out: git runs (and fails on its own terms, or is missing).
        p.unchecked_args = vec!["git".to_owned()];
        let err = run(dir.path(), &p, &cmd, far(), &|| false);
        assert!(!matches!(err, Err(ExecError::NotGranted(_))), "{err:?}");
    }

    #[test]
    fn a_pack_rule_is_told_which_table_grants_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = policy(&[]);
        p.grant_table = "[exec.rules.\"team/has-changelog\"]".to_owned();
        let err = run(dir.path(), &p, &Command::new("sh"), far(), &|| false).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("bundled rules only")
                && message
                    .contains("`[exec.rules.\"team/has-changelog\"]` then `allow = [\"sh\"]`"),
            "{message}"
        );
    }
}
