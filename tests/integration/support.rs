//! Shared helpers.

use std::path::{Path, PathBuf};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use checkrail::engine::{CheckpointRun, Guards, Hooks};
use checkrail::report::CheckpointReport;
use checkrail::service::ValidateRequest;
use checkrail::trusted::StateDir;
use checkrail::workflow::Workflow;
use checkrail::workspace::Workspace;
use checkrail::{Checkrail, Options};

/// Where the build script put the wasm components it built.
pub const WASM_DIR: &str = env!("CHECKRAIL_PLUGIN_WASM_DIR");

/// A compile cache shared by the tests of this run, so each component is
/// compiled once.
pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("checkrail-test-cache")
}

/// A directory holding only the fixture rule components (the bundled rules
/// are already in the binary; listing them twice is an error).
pub fn fixture_rules() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(WASM_DIR).expect("wasm dir exists") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("fixture_") && name.ends_with(".wasm") && !name.contains("greeter")
            {
                std::fs::copy(&path, dir.path().join(&name)).expect("copy fixture");
            }
        }
        dir
    })
    .path()
}

/// An engine with the fixture rules and the shared cache.
pub fn engine() -> Checkrail {
    Checkrail::new(Options {
        rule_dirs: vec![fixture_rules().to_owned()],
        cache_dir: Some(shared_cache()),
        ..Options::default()
    })
    .expect("engine starts")
}

/// A temporary workspace with files.
pub fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    dir
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A private state directory shared by the tests of this run (each
/// workspace gets its own corner of it).
pub fn state_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// The shared state directory, opened.
pub fn state() -> StateDir {
    StateDir::at(state_dir()).expect("state dir")
}

/// Runs a checkpoint against `dir` with its current config and the
/// outcome cache, as `checkrail check` does.
pub fn checkpoint(
    engine: &Checkrail,
    workflow: &Workflow,
    phase: &str,
    dir: &Path,
    evidence: Option<&serde_json::Value>,
    hooks: Hooks,
) -> checkrail::Result<CheckpointReport> {
    let workspace = Workspace::open(dir, &state())?;
    let config = workspace.config()?;
    engine.run_checkpoint(&CheckpointRun {
        workflow,
        phase,
        workspace: &workspace,
        evidence,
        config: &config,
        hooks,
        use_cache: true,
        baselines: &serde_json::Map::new(),
        guards: Guards::default(),
    })
}

/// A workflow of one phase `p` whose checkpoint has these rules (YAML list
/// items, indented by 8).
pub fn one_phase(rules: &str) -> Workflow {
    checkrail::workflow::parse(
        &format!(
            "id: t\nversion: 0.1.0\nname: T\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n{rules}"
        ),
        "t.yaml",
    )
    .unwrap()
}

/// A session service over `dir` with its `.checkrail/workflows/`, the
/// shared compile cache and the shared state directory.
pub fn service(dir: &Path) -> checkrail::service::Service {
    let engine = Checkrail::new(Options {
        workflow_dirs: vec![dir.join(".checkrail/workflows")],
        cache_dir: Some(shared_cache()),
        ..Options::default()
    })
    .expect("engine starts");
    checkrail::service::Service::open(std::sync::Arc::new(engine), dir, &state())
        .expect("service opens")
}

/// Validates the current phase of session `id` with `evidence`.
pub fn validate(
    svc: &checkrail::service::Service,
    id: &str,
    evidence: Option<serde_json::Value>,
) -> checkrail::service::Validation {
    let request = ValidateRequest {
        evidence,
        ..ValidateRequest::new(id)
    };
    svc.validate(&request, &Hooks::default())
        .expect("validation runs")
}

/// How long a test waits for something that is bound to happen before it
/// fails saying what never came. Only a guard against hangs on a loaded
/// machine: no test's claim rests on it, and what a broken feature would
/// make a test wait for (an endless loop, an hour-long sleep) is far longer.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Shell lines that wait until `file` exists (outside the workspace,
/// written by the test when it lets a rule's program go on), giving up
/// with exit status 1 after about a minute so that nothing outlives a
/// failed test for long.
pub fn sh_wait_for(file: &Path) -> String {
    format!(
        "i=0\nwhile [ ! -e '{}' ]; do i=$((i+1)); [ \"$i\" -le 600 ] || exit 1; sleep 0.1; done\n",
        file.display()
    )
}

/// Runs `work` on a thread of its own and returns what it returns; fails
/// the test, naming `what`, if it has not returned after [`PATIENCE`]. For
/// work that only ends because the feature under test stops it: broken,
/// it would run for an hour or forever.
pub fn within_patience<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} still ran after {PATIENCE:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
    }
}

/// `checkrail serve` over stdio, spoken to in raw JSON-RPC lines.
pub struct Raw {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    next_id: u64,
    /// The server's answer to `initialize`.
    pub initialized: serde_json::Value,
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Raw {
    /// `checkrail serve` on `dir`, initialized with no client capabilities.
    pub fn start(dir: &Path) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_checkrail"));
        command.args(["serve", "--workspace"]).arg(dir);
        Self::spawn(command, &serde_json::json!({}))
    }

    /// Runs `command` (a `serve`; the shared cache and state are added)
    /// and initializes it declaring `capabilities`.
    pub fn spawn(mut command: std::process::Command, capabilities: &serde_json::Value) -> Self {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = command
            .env("CHECKRAIL_CACHE_DIR", shared_cache())
            .env("CHECKRAIL_STATE_DIR", state_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start checkrail serve");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut raw = Self {
            child,
            stdin,
            lines,
            next_id: 1000,
            initialized: serde_json::Value::Null,
        };
        let init = serde_json::json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":capabilities,"clientInfo":{"name":"raw","version":"0"}}});
        raw.send(init.to_string().as_bytes());
        let init = raw.answer_to(&serde_json::json!(0));
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        raw.initialized = init;
        raw.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        raw
    }

    /// Writes one line.
    pub fn send(&mut self, line: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line the server writes, parsed.
    pub fn next_message(&mut self) -> serde_json::Value {
        use std::sync::mpsc::RecvTimeoutError;
        let line = match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("nothing from the server in {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("server exited"),
        };
        serde_json::from_str(&line).unwrap()
    }

    /// The next response whose id is `id`.
    pub fn answer_to(&mut self, id: &serde_json::Value) -> serde_json::Value {
        loop {
            let value = self.next_message();
            if value.get("id") == Some(id) {
                return value;
            }
        }
    }

    /// Calls `tool` with `args` under request id `id`.
    pub fn call(&mut self, id: u64, tool: &str, args: serde_json::Value) -> serde_json::Value {
        let request = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}});
        self.send(request.to_string().as_bytes());
        self.answer_to(&serde_json::json!(id))
    }

    /// Sends `method` with `params` under a fresh id; its response.
    pub fn ask(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let request =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send(request.to_string().as_bytes());
        self.answer_to(&serde_json::json!(id))
    }

    /// Closes stdin, as a client that goes away does.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Closes stdin and waits up to `patience` for the server to exit.
    pub fn exit_within(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        self.close_stdin();
        let give_up = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > give_up {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
