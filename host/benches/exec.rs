//! Exec-based rules benchmark, each figure next to a baseline measured in
//! the same run:
//!
//! - a `compile` rule in custom mode running `true`, through the sandbox,
//!   against spawning and waiting for `true` with `std::process::Command`
//!   (plainly, and with the settings exec uses: pipes, process group, cwd,
//!   cleared environment);
//! - a `cargo build` checkpoint on a small crate with the outcome cache off
//!   (every validate runs cargo), against running the same `cargo build`
//!   directly; and with the cache warm (inputs hashed, result reused),
//!   against the cache off.
//!
//! Needs `true` and cargo. Prints figures; panics only on a wrong answer
//! or a missing tool.
//! Full: `cargo bench -p checkrail --bench exec`.
//! Quick (CI): `cargo bench -p checkrail --bench exec -- --quick`, or with
//! `CHECKRAIL_BENCH_QUICK=1`.

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use checkrail::engine::{Hooks, RuleRun};
use checkrail::report::RuleStatus;
use checkrail::workflow::Workflow;
use checkrail::{Checkrail, Options};
use checkrail_sandbox::exec::BASE_ENV;
use serde_json::json;
use support::checkpoint::{Opened, one_phase};
use support::{Budget, compare, sample};

/// `program` in `dir` as exec starts it: no stdin, piped output, its own
/// process group, and only the variables exec passes on.
fn like_exec(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env_clear()
        .envs(
            BASE_ENV
                .iter()
                .filter_map(|&name| Some((name, std::env::var_os(name)?))),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd
}

fn main() {
    let mode = support::begin("exec");
    support::require("true", "install coreutils");
    support::require("cargo", "install Rust with rustup (https://rustup.rs)");
    let spawns = mode.pick(300, 30);
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
    let through = sample(spawns, || {
        let report = engine.run_rule(&run).expect("run");
        assert_eq!(report.status, RuleStatus::Passed, "{report:?}");
    });
    let direct = sample(spawns, || {
        let status = Command::new("true").status().expect("run true");
        assert!(status.success(), "true failed");
    });
    let configured = sample(spawns, || {
        let out = like_exec("true", ws.path()).output().expect("run true");
        assert!(out.status.success(), "true failed");
    });
    let rule = "compile rule (custom: `true`) through the sandbox p50";
    compare(
        (rule, through.p50()),
        ("spawn + wait for `true` directly p50", direct.p50()),
        Budget::None,
    );
    compare(
        (rule, through.p50()),
        ("`true` spawned with exec's settings p50", configured.p50()),
        Budget::None,
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
        one_phase(&format!(
            "        - rule: compile\n{inputs}          config: {{ toolchain: cargo }}\n"
        ))
    };
    let uncached = flow("          inputs: []\n");
    let cached = flow("");
    let opened = Opened::new(ws.path());
    let run = |workflow: &Workflow| opened.run(&engine, workflow, Hooks::default(), true);
    run(&uncached).expect("first build");
    let builds = mode.pick(20, 3);
    let off = sample(builds, || {
        assert!(run(&uncached).expect("run").passed);
    });
    let cargo = sample(builds, || {
        let out = like_exec("cargo", ws.path())
            .args(["build", "--message-format=json", "--color=never"])
            .output()
            .expect("run cargo build");
        assert!(out.status.success(), "cargo build failed");
    });
    run(&cached).expect("fill the outcome cache");
    let warm = sample(mode.pick(200, 20), || {
        let report = run(&cached).expect("run");
        assert!(report.rules[0].cached, "the outcome was not reused");
    });
    let checkpoint = "cargo build checkpoint, outcome cache off p50";
    compare(
        (checkpoint, off.p50()),
        ("the same cargo build run directly p50", cargo.p50()),
        Budget::None,
    );
    compare(
        ("cargo build checkpoint, outcome cache warm p50", warm.p50()),
        (checkpoint, off.p50()),
        Budget::None,
    );
}
