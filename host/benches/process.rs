//! Whole-process benchmark: what a client or an agent's hook pays to start
//! checkrail, each figure next to a baseline measured in the same run.
//!
//! - `checkrail serve` start to the first `tools/list` answer (budget
//!   ≤ 10 ms), against the same for a minimal rmcp stdio server (this
//!   benchmark's own binary, started again as one: the floor of any rmcp
//!   server);
//! - server RSS right after that answer (budget ≤ 20 MB), against the
//!   floor server's; RSS after a soak of `workflow_validate` dry runs
//!   (10,000 calls; budget: within 10 % of RSS after the first 100);
//! - `checkrail check` as a whole process on an unchanged workspace of 10
//!   files (budget ≤ 15 ms), against `checkrail --version`;
//! - the same at 1,000 and 10,000 files (budget: the stat walk + 15 ms),
//!   against a recursive stat walk of the same files;
//! - the first `checkrail check` after a fresh install, with an empty
//!   compile cache and state (budget ≤ 250 ms), against the warm one.
//!
//! The checks find `python3` in the directory of the interpreter itself,
//! not through a version manager's shim (a pyenv shim is a bash script that
//! costs ~115 ms a start here, and a first check starts Python twice: its
//! identity, then the compile); the interpreter's own start is printed.
//!
//! Needs `python3` (the checkpoint compiles a Python file). Prints figures;
//! panics only on a wrong answer or a missing tool.
//! Full: `cargo bench -p checkrail --bench process`; quick (CI): add
//! `-- --quick` (fewer samples and calls, the same workspaces).

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::json;
use support::server::{BIN, call, rss, spawn, spawn_allowed, start};
use support::{Budget, Kib, Samples, compare};

/// Set in the environment of this binary started again as the floor server.
const FLOOR_ENV: &str = "CHECKRAIL_BENCH_FLOOR_SERVER";

const WORKFLOW: &str = "id: whole
version: 0.1.0
name: Whole
description: a checkpoint that passes from the outcome cache
phases:
  - id: build
    name: Build
    guidance: build
    checkpoint:
      rules:
        - rule: compile
          config: { toolchain: python, files: [app/main.py] }
        - rule: file-exists
          config: { paths: [{ path: app/main.py, kind: file }] }
";

/// A minimal MCP server: rmcp's defaults, no tools.
#[derive(Clone)]
struct Floor;

impl rmcp::ServerHandler for Floor {}

fn main() {
    if std::env::var_os(FLOOR_ENV).is_some() {
        return serve_floor();
    }
    let mode = support::begin("process");
    support::require(
        "python3",
        "install Python 3 (the benchmark's compile rule runs it)",
    );
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    runtime.block_on(server(mode));
    check(mode);
}

fn serve_floor() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    runtime.block_on(async {
        let server = Floor
            .serve(rmcp::transport::stdio())
            .await
            .expect("floor server starts");
        let _ = server.waiting().await;
    });
}

async fn server(mode: support::Mode) {
    let starts = mode.pick(20, 5);
    let soak = mode.pick(10_000, 1_000);
    let cache = tempfile::tempdir().expect("tempdir");
    let ws = tempfile::tempdir().expect("tempdir");
    let (ws, cache) = (ws.path(), cache.path());

    let mut checkrail = Vec::with_capacity(starts);
    let mut floor = Vec::with_capacity(starts);
    let (mut checkrail_rss, mut floor_rss) = (Kib(0), Kib(0));
    // Allowed once, before the clock: the human's `checkrail allow` is
    // not part of a server's start.
    support::allow(ws, &cache.join("state"));
    for _ in 0..starts + 1 {
        let began = Instant::now();
        let (client, pid) = spawn_allowed(ws, cache, &[]).await;
        client.list_tools(None).await.expect("tools/list");
        checkrail.push(began.elapsed());
        checkrail_rss = rss(pid);
        client.cancel().await.expect("stop");

        let began = Instant::now();
        let mut cmd = tokio::process::Command::new(std::env::current_exe().expect("own path"));
        cmd.env(FLOOR_ENV, "1");
        let transport = TokioChildProcess::new(cmd).expect("spawn the floor server");
        let pid = transport.id().expect("child pid");
        let client = ().serve(transport).await.expect("initialize the floor");
        client.list_tools(None).await.expect("tools/list");
        floor.push(began.elapsed());
        floor_rss = rss(pid);
        client.cancel().await.expect("stop");
    }
    // The first start of each warms the page cache; not counted.
    let (checkrail, floor) = (
        Samples::new(checkrail[1..].to_vec()),
        Samples::new(floor[1..].to_vec()),
    );
    compare(
        (
            "checkrail serve: start → first tools/list p50",
            checkrail.p50(),
        ),
        (
            "minimal rmcp server: start → first tools/list p50",
            floor.p50(),
        ),
        Budget::AtMost(Duration::from_millis(10)),
    );
    compare(
        (
            "checkrail serve RSS after the first tools/list",
            checkrail_rss,
        ),
        ("minimal rmcp server RSS after the same", floor_rss),
        Budget::AtMost(Kib(20 * 1024)),
    );

    let (client, pid) = spawn(ws, cache, &[]).await;
    let id = start(&client, "project-basics").await;
    let dry = json!({"session": id, "phase": "readme", "dry_run": true});
    for _ in 0..100 {
        call(&client, "workflow_validate", dry.clone()).await;
    }
    let warm = rss(pid);
    for _ in 0..soak {
        call(&client, "workflow_validate", dry.clone()).await;
    }
    compare(
        (
            &format!("server RSS after {soak} more validations"),
            rss(pid),
        ),
        ("server RSS after its first 100", warm),
        Budget::Ratio(1.10),
    );
    compare(
        ("server RSS after the first 100 validations", warm),
        ("server RSS after the first tools/list", checkrail_rss),
        Budget::None,
    );
    client.cancel().await.expect("stop");
}

fn populate(root: &Path, files: usize) {
    let body = "// a generated source line for the process benchmark\n".repeat(80);
    support::python_project(
        root,
        (files, &body),
        "def ok():\n    pass\n",
        ("whole", WORKFLOW),
    );
}

/// `PATH` with the directory of the `python3` it finds first, resolved
/// to the interpreter itself (past a version manager's shim).
fn interpreter_path() -> std::ffi::OsString {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("run python3");
    let exe = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = Path::new(&exe)
        .parent()
        .map(Path::to_path_buf)
        .into_iter()
        .chain(std::env::split_paths(&path));
    std::env::join_paths(dirs).expect("PATH joins")
}

/// One `checkrail check` of the workspace, a whole process, with its
/// compile cache and state under `home`; panics unless it passed.
fn run_check(ws: &Path, home: &Path) -> Duration {
    static PATH: std::sync::OnceLock<std::ffi::OsString> = std::sync::OnceLock::new();
    let began = Instant::now();
    let out = Command::new(BIN)
        .env("PATH", PATH.get_or_init(interpreter_path))
        .args([
            "check",
            "--workflow",
            "whole",
            "--phase",
            "build",
            "--workspace",
        ])
        .arg(ws)
        .env("CHECKRAIL_CACHE_DIR", home.join("cache"))
        .env("CHECKRAIL_STATE_DIR", home.join("state"))
        .env("CHECKRAIL_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run checkrail check");
    let took = began.elapsed();
    assert!(
        out.status.success(),
        "checkrail check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn check(mode: support::Mode) {
    let warm_runs = mode.pick(20, 5);
    let fresh_runs = mode.pick(5, 2);
    let version = support::sample(warm_runs, || {
        let status = Command::new(BIN)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .expect("run checkrail --version");
        assert!(status.success(), "checkrail --version failed");
    });
    let interpreter = interpreter_path();
    let python = support::sample(warm_runs, || {
        let status = Command::new("python3")
            .env("PATH", &interpreter)
            .args(["-c", "pass"])
            .status()
            .expect("run python3");
        assert!(status.success(), "python3 -c pass failed");
    });
    compare(
        ("python3 -c pass, the interpreter itself, p50", python.p50()),
        ("checkrail --version p50", version.p50()),
        Budget::None,
    );
    for files in [10, 1_000, 10_000] {
        let ws = tempfile::tempdir().expect("workspace");
        populate(ws.path(), files);
        let home = tempfile::tempdir().expect("home");
        support::allow(ws.path(), &home.path().join("state"));
        let fresh = run_check(ws.path(), home.path());
        // Let every file's fingerprint age past the racy-timestamp second.
        std::thread::sleep(Duration::from_millis(1100));
        run_check(ws.path(), home.path());
        let mut warm = Vec::with_capacity(warm_runs);
        let mut walk = Vec::with_capacity(warm_runs);
        for _ in 0..warm_runs {
            warm.push(run_check(ws.path(), home.path()));
            let began = Instant::now();
            let found = support::stat_walk(ws.path());
            walk.push(began.elapsed());
            assert!(found >= files, "the walk missed files");
        }
        let (warm, walk) = (Samples::new(warm), Samples::new(walk));
        if files == 10 {
            compare(
                (
                    "checkrail check, 10 files, warm, whole process p50",
                    warm.p50(),
                ),
                ("checkrail --version, whole process p50", version.p50()),
                Budget::AtMost(Duration::from_millis(15)),
            );
        } else {
            compare(
                (
                    &format!("checkrail check, {files} files, warm, whole process p50"),
                    warm.p50(),
                ),
                ("recursive stat walk of the same files p50", walk.p50()),
                Budget::Over(Duration::from_millis(15)),
            );
        }
        let mut firsts = vec![fresh];
        for _ in 1..fresh_runs {
            let home = tempfile::tempdir().expect("home");
            support::allow(ws.path(), &home.path().join("state"));
            firsts.push(run_check(ws.path(), home.path()));
        }
        compare(
            (
                &format!("first checkrail check after a fresh install, {files} files p50"),
                Samples::new(firsts).p50(),
            ),
            ("the warm check p50", warm.p50()),
            Budget::AtMost(Duration::from_millis(250)),
        );
    }
}
