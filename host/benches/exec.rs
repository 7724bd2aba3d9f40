//! Exec-based rules: prints figures, asserts nothing.
//!
//! - host overhead of a rule that runs a program: a `compile` rule in custom
//!   mode running `true`, minus the time to spawn and wait for `true`
//!   directly;
//! - a `cargo build` checkpoint on a small crate, with the outcome cache off
//!   (every validate runs cargo) and warm (inputs hashed, result reused).
//!
//! Run with `cargo bench -p checkrail --bench exec`.

use std::time::{Duration, Instant};

use checkrail::engine::{CheckpointRun, Guards, Hooks, RuleRun};
use checkrail::trusted::StateDir;
use checkrail::workflow::Workflow;
use checkrail::workflow::parse;
use checkrail::workspace::Workspace;
use checkrail::{Checkrail, Options};
use serde_json::json;

fn stats(what: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let pick = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<62} p50 {:>9.3} ms   p99 {:>9.3} ms   (n={})",
        ms(pick(0.5)),
        ms(pick(0.99)),
        times.len()
    );
    pick(0.5)
}

fn sample(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..(n / 10).max(1) {
        f();
    }
    (0..n)
        .map(|_| {
            let began = Instant::now();
            f();
            began.elapsed()
        })
        .collect()
}

fn main() {
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let cache = tempfile::tempdir().expect("tempdir");
    let engine = Checkrail::new(Options {
        cache_dir: Some(cache.path().to_owned()),
        ..Options::default()
    })
    .expect("engine");

    let ws = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        ws.path().join("checkrail.toml"),
        "[exec]\nallow = [\"true\", \"cargo\"]\n",
    )
    .expect("grant");
    let config = json!({"toolchain": "custom", "command": {"program": "true", "args": []}});
    let run = RuleRun {
        rule: "compile",
        config: &config,
        workspace: ws.path(),
        timeout: None,
        memory: None,
    };
    engine.run_rule(&run).expect("warm up");
    let direct = stats(
        "spawn + wait for `true` directly",
        sample(300, || {
            std::process::Command::new("true").status().expect("true");
        }),
    );
    let configured = stats(
        "spawn `true` configured as exec does (pipes, group, cwd, env)",
        sample(300, || {
            let mut cmd = std::process::Command::new("/usr/bin/true");
            cmd.current_dir(ws.path())
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            cmd.output().expect("true");
        }),
    );
    let through = stats(
        "compile rule (custom: `true`) through the sandbox",
        sample(300, || {
            let report = engine.run_rule(&run).expect("run");
            assert_eq!(
                report.status,
                checkrail::report::RuleStatus::Passed,
                "{report:?}"
            );
        }),
    );
    println!(
        "host overhead of an exec-based rule (p50, vs plain spawn): {:.3} ms; vs the same spawn settings: {:.3} ms",
        (through.as_secs_f64() - direct.as_secs_f64()) * 1e3,
        (through.as_secs_f64() - configured.as_secs_f64()) * 1e3
    );

    std::fs::write(
        ws.path().join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .expect("write");
    std::fs::create_dir_all(ws.path().join("src")).expect("mkdir");
    let mut lib = String::new();
    for i in 0..200 {
        lib.push_str(&format!(
            "pub fn f{i}(x: u64) -> u64 {{ x.wrapping_mul({i}) + 1 }}\n"
        ));
    }
    std::fs::write(ws.path().join("src/lib.rs"), lib).expect("write");
    let flow = |inputs: &str| {
        parse(
            &format!(
                "id: b\nversion: 0.1.0\nname: B\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: compile\n{inputs}          config: {{ toolchain: cargo }}\n"
            ),
            "b.yaml",
        )
        .expect("workflow")
    };
    let uncached = flow("          inputs: []\n");
    let cached = flow("");
    let state_dir = tempfile::tempdir().expect("state dir");
    let state = StateDir::at(state_dir.path()).expect("state");
    let workspace = Workspace::open(ws.path(), &state).expect("workspace");
    let config = workspace.config().expect("config");
    let run = |workflow: &Workflow| {
        engine.run_checkpoint(&CheckpointRun {
            workflow,
            phase: "p",
            workspace: &workspace,
            evidence: None,
            config: &config,
            hooks: Hooks::default(),
            use_cache: true,
            baselines: &serde_json::Map::new(),
            guards: Guards::default(),
        })
    };
    run(&uncached).expect("first build");
    stats(
        "cargo build checkpoint, outcome cache off (cargo runs)",
        sample(20, || {
            assert!(run(&uncached).expect("run").passed);
        }),
    );
    run(&cached).expect("fill the outcome cache");
    stats(
        "cargo build checkpoint, outcome cache warm (no cargo)",
        sample(200, || {
            let report = run(&cached).expect("run");
            assert!(report.rules[0].cached);
        }),
    );
}
