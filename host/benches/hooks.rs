//! Stop-hook benchmark: `checkrail hook stop --agent claude` as the agent
//! runs it, a whole process with the event on stdin, against a workspace of
//! 1,000 files whose session's current checkpoint passes from the outcome
//! cache (budget: ≤ 30 ms at p50, release build). Baselines measured in
//! the same run: a plain recursive stat walk of the same files, and the
//! process start of `checkrail --version`. Then one file is edited: the
//! compile rule runs again (a program may read any file), the rule that
//! only looks at the paths it names comes from the cache, and that stop is
//! shown against the unchanged one.
//!
//! Needs `python3` (one rule compiles a Python file). Prints figures;
//! panics only on a wrong answer or a missing tool.
//! Full: `cargo bench -p checkrail --bench hooks`; quick (CI): add
//! `-- --quick`.

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkrail::engine::Hooks;
use checkrail::service::{Service, ValidateRequest};
use checkrail::trusted::StateDir;
use checkrail::{Checkrail, Options};
use support::{Budget, Samples, compare};

const BIN: &str = env!("CARGO_BIN_EXE_checkrail");

const WORKFLOW: &str = "id: hooked
version: 0.1.0
name: Hooked
description: a phase whose checks pass, then one more
phases:
  - id: build
    name: Build
    guidance: build
    checkpoint:
      rules:
        - rule: compile
          name: the app compiles
          config: { toolchain: python, files: [app/main.py] }
        - rule: file-exists
          name: the library is there
          config: { paths: [lib/other.py] }
  - id: ship
    name: Ship
    guidance: ship
";

fn populate(root: &Path, files: usize) {
    let body = "// a source line of the hook benchmark\n".repeat(100);
    for f in 0..files {
        let dir = root.join(format!("src/m{:03}", f / 100));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(format!("f{f:04}.rs")), &body).expect("write");
    }
    std::fs::create_dir_all(root.join("app")).expect("mkdir");
    std::fs::write(root.join("app/main.py"), "print('hello')\n").expect("write");
    std::fs::create_dir_all(root.join("lib")).expect("mkdir");
    std::fs::write(root.join("lib/other.py"), "print('other')\n").expect("write");
    // Every stop is blocked ("the checks pass now: record them"): no
    // escalation in the middle of the measurement.
    let config = "[exec]\nallow = [\"python3\"]\n\n[enforce]\nmax_blocks = 1000000\n";
    std::fs::write(root.join("checkrail.toml"), config).expect("write");
    std::fs::create_dir_all(root.join(".checkrail/workflows")).expect("mkdir");
    std::fs::write(root.join(".checkrail/workflows/hooked.yaml"), WORKFLOW).expect("write");
}

/// One stop hook, as Claude Code runs it; its answer.
fn stop(ws: &Path, state: &Path, cache: &Path) -> String {
    let input = serde_json::json!({
        "session_id": "bench", "cwd": ws, "hook_event_name": "Stop", "stop_hook_active": false
    });
    let mut child = Command::new(BIN)
        .args(["hook", "stop", "--agent", "claude"])
        .current_dir(ws)
        .env("CHECKRAIL_STATE_DIR", state)
        .env("CHECKRAIL_CACHE_DIR", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run checkrail hook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write the event");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn version() {
    let out = Command::new(BIN)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .expect("run checkrail");
    assert!(out.success());
}

fn main() {
    let mode = support::begin("hooks");
    support::require(
        "python3",
        "install Python 3 (a rule compiles a Python file)",
    );
    let rounds = mode.pick(60, 15);
    let ws = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    populate(ws.path(), 1_000);
    support::allow(ws.path(), state.path());

    let engine = Checkrail::new(Options {
        workflow_dirs: vec![ws.path().join(".checkrail/workflows")],
        cache_dir: Some(cache.path().to_owned()),
        ..Options::default()
    })
    .expect("engine");
    let service = Service::open(
        Arc::new(engine),
        ws.path(),
        &StateDir::at(state.path()).expect("state"),
    )
    .expect("service");
    let id = service
        .start("hooked", serde_json::Map::new())
        .expect("start")
        .session
        .id;
    let dry = ValidateRequest::new(&id).dry_run();
    let report = service.validate(&dry, &Hooks::default()).expect("check");
    assert!(report.passed, "{:?}", report.report);

    // Let fingerprints age past the racy-timestamp second, then warm up.
    std::thread::sleep(Duration::from_millis(1100));
    for _ in 0..3 {
        let answer = stop(ws.path(), state.path(), cache.path());
        assert!(answer.contains("pass now"), "{answer}");
    }
    let mut hook = Vec::with_capacity(rounds);
    let mut walk = Vec::with_capacity(rounds);
    let mut start = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let began = Instant::now();
        stop(ws.path(), state.path(), cache.path());
        hook.push(began.elapsed());
        let began = Instant::now();
        assert!(support::stat_walk(ws.path()) >= 1_000);
        walk.push(began.elapsed());
        let began = Instant::now();
        version();
        start.push(began.elapsed());
    }
    let (hook, walk, start) = (Samples::new(hook), Samples::new(walk), Samples::new(start));
    compare(
        ("stop hook, unchanged workspace, p50", hook.p50()),
        ("stat walk of its 1,000 files p50", walk.p50()),
        Budget::AtMost(Duration::from_millis(30)),
    );
    compare(
        ("stop hook, unchanged workspace, p50", hook.p50()),
        ("`checkrail --version` p50", start.p50()),
        Budget::None,
    );

    // One edit: the compiler runs again, the file check does not.
    std::fs::write(ws.path().join("app/main.py"), "print('edited')\n").expect("edit");
    let report = service
        .validate(&dry, &Hooks::default())
        .unwrap_or_else(|e| panic!("check after the edit: {e}"))
        .report
        .expect("report");
    let cached: Vec<(Option<String>, bool)> = report
        .rules
        .iter()
        .map(|r| (r.name.clone(), r.cached))
        .collect();
    println!("after editing app/main.py, from the cache: {cached:?}");
    let from_cache = |name: &str| cached.iter().any(|(n, c)| n.as_deref() == Some(name) && *c);
    assert!(
        !from_cache("the app compiles") && from_cache("the library is there"),
        "only the rules whose inputs changed run again: {cached:?}"
    );
    let mut edited = Vec::with_capacity(rounds);
    for n in 0..rounds {
        std::fs::write(ws.path().join("app/main.py"), format!("print({n})\n")).expect("edit");
        let began = Instant::now();
        stop(ws.path(), state.path(), cache.path());
        edited.push(began.elapsed());
    }
    compare(
        ("stop hook after one edit p50", Samples::new(edited).p50()),
        ("stop hook, unchanged workspace, p50", hook.p50()),
        Budget::None,
    );
}
