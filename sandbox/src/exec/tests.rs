//! Running granted programs: refusals, confinement of what a command
//! starts, and what it leaves behind.

use super::*;

/// A command as a rule builds it, owning what a [`Request`] borrows.
#[derive(Default)]
struct Command {
    program: String,
    args: Vec<String>,
    cwd: Option<String>,
    env: Vec<(String, String)>,
    timeout: Option<Duration>,
}

impl Command {
    fn new(program: &str) -> Self {
        Self {
            program: program.to_owned(),
            ..Self::default()
        }
    }

    fn args<const N: usize>(mut self, args: [&str; N]) -> Self {
        self.args.extend(args.map(str::to_owned));
        self
    }

    fn cwd(mut self, dir: &str) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }

    fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn request(&self) -> Request<'_> {
        Request {
            program: &self.program,
            args: &self.args,
            cwd: self.cwd.as_deref(),
            env: &self.env,
            timeout: self.timeout,
        }
    }
}

fn policy(granted: &[&str]) -> ExecPolicy {
    let mut p = ExecPolicy::for_rule(
        "t",
        &[
            Capability::exec("sh"),
            Capability::exec("nope-not-installed"),
        ],
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
        &Command::new("sh").request(),
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
        &Command::new("cargo").request(),
        far(),
        &|| false,
    )
    .unwrap_err();
    assert!(matches!(err, ExecError::NotDeclared(_)));
    let err = run(
        dir.path(),
        &policy(&["nope-not-installed"]),
        &Command::new("nope-not-installed").request(),
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
        &Command::new("/bin/sh").request(),
        far(),
        &|| false,
    )
    .unwrap_err();
    assert!(matches!(err, ExecError::Failed(_)));
    let err = run(
        dir.path(),
        &policy(&["sh"]),
        &Command::new("sh").cwd("../..").request(),
        far(),
        &|| false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("outside the workspace"));
    let err = run(
        dir.path(),
        &policy(&["sh"]),
        &Command::new("sh").env("LD_PRELOAD", "x").request(),
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
    let out = run(dir.path(), &policy(&["sh"]), &cmd.request(), far(), &|| {
        false
    })
    .unwrap();
    assert_eq!(out.exit_code, Some(3));
    let canonical = dir.path().canonicalize().unwrap();
    assert!(
        out.stdout
            .text
            .starts_with(&format!("{}\nclean\n", canonical.display())),
        "{}",
        out.stdout.text
    );
    assert!(out.stdout.truncated && out.stdout.text.len() == 1000);
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
        &cmd.request(),
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
    run(dir, &policy(&["sh"]), &cmd.request(), far(), &|| false).unwrap()
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
    assert_eq!(out.stdout.text, "started\n");
    assert!(!out.stdout.truncated);
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
    assert_eq!(out.stdout.text, "real output\n");
    assert_eq!(out.stderr.text, "to stderr\n");
    assert!(!out.stdout.truncated && !out.stderr.truncated, "{out:?}");
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
        &cmd.request(),
        far(),
        &once_exists(&started),
    )
    .unwrap();
    assert!(out.timed_out && out.exit_code.is_none(), "{out:?}");
    // All of it, and not cut off after the grace: the daemon holding
    // stdout was killed with the command.
    assert_eq!(out.stdout.text, "partial\n");
    assert!(!out.stdout.truncated, "{out:?}");
    assert_eq!(processes_with(&marker), Vec::<String>::new());
}

#[test]
fn shell_making_arguments_are_refused_with_the_opt_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ExecPolicy::for_rule("team/x", &[Capability::exec("git")]);
    p.granted = vec!["git".to_owned()];
    p.grant_table = "[exec.rules.\"team/*\"]".to_owned();
    let cmd = Command::new("git").args(["-c", "alias.x=!id", "x"]);
    let err = run(dir.path(), &p, &cmd.request(), far(), &|| false).unwrap_err();
    let ExecError::NotGranted(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("the argument `-c`")
            && message.contains("add `unchecked_args = [\"git\"]` under `[exec.rules.\"team/*\"]`"),
        "{message}"
    );
    // Opted out: git runs (and fails on its own terms, or is missing).
    p.unchecked_args = vec!["git".to_owned()];
    let err = run(dir.path(), &p, &cmd.request(), far(), &|| false);
    assert!(!matches!(err, Err(ExecError::NotGranted(_))), "{err:?}");
}

#[test]
fn a_pack_rule_is_told_which_table_grants_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = policy(&[]);
    p.grant_table = "[exec.rules.\"team/has-changelog\"]".to_owned();
    let err = run(
        dir.path(),
        &p,
        &Command::new("sh").request(),
        far(),
        &|| false,
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("bundled rules only")
            && message.contains("`[exec.rules.\"team/has-changelog\"]` then `allow = [\"sh\"]`"),
        "{message}"
    );
}
