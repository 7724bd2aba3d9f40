//! Deadlines and cancellation benchmark: how soon the sandbox stops a rule
//! that would not stop by itself, each figure beside a baseline measured in
//! the same run. The tests prove that these rules are stopped (by the
//! reason reported and the work being gone); how soon is measured here.
//!
//! - an endless loop under a 200 ms deadline: the time to the answer,
//!   against the deadline itself;
//! - an hour-long sleep in `check` under the same deadline, against it too;
//! - a checkpoint cancelled the moment its hour-long sleeping rule starts:
//!   the time from the cancel to the answer, against a whole checkpoint of
//!   one quick rule (file-exists).
//!
//! Prints figures; panics only on a wrong answer.
//! Full: `cargo bench -p checkrail --bench deadlines`.
//! Quick (CI): `cargo bench -p checkrail --bench deadlines -- --quick`, or
//! with `CHECKRAIL_BENCH_QUICK=1`.

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkrail::engine::progress::Progress;
use checkrail::engine::{Hooks, RuleRun};
use checkrail::workflow::Workflow;
use checkrail::{Checkrail, Options};
use serde_json::{Value, json};
use support::checkpoint::{Opened, one_phase};
use support::{Budget, Samples, compare, sample};

/// Where the build script put the rule components, the fixtures among them.
const WASM_DIR: &str = env!("CHECKRAIL_PLUGIN_WASM_DIR");
/// The deadline the runaway rules run under.
const DEADLINE: Duration = Duration::from_millis(200);

fn main() {
    let mode = support::begin("deadlines");
    let rules = tempfile::tempdir().expect("tempdir");
    for name in ["fixture_looper.wasm", "fixture_sleeper.wasm"] {
        std::fs::copy(Path::new(WASM_DIR).join(name), rules.path().join(name))
            .unwrap_or_else(|e| panic!("{name} was not built into {WASM_DIR}: {e}"));
    }
    let cache = tempfile::tempdir().expect("tempdir");
    let engine = Checkrail::new(Options {
        rule_dirs: vec![rules.path().to_owned()],
        cache_dir: Some(cache.path().to_owned()),
        ..Options::default()
    })
    .expect("engine starts");
    // Compiled before anything is timed.
    for rule in ["fixture-looper", "fixture-sleeper", "file-exists"] {
        engine.rule(rule).expect("rule loads");
    }
    let ws = tempfile::tempdir().expect("tempdir");
    std::fs::write(ws.path().join("README.md"), "# bench\n").expect("write");
    let rounds = mode.pick(20, 3);

    let stopped = |rule: &str, config: Value| {
        sample(rounds, || {
            let report = engine
                .run_rule(&RuleRun {
                    rule,
                    config: &config,
                    workspace: ws.path(),
                    timeout: Some(DEADLINE),
                    memory: None,
                })
                .expect("the rule runs");
            assert!(
                report.summary.contains("ran past its deadline"),
                "{rule}: {}",
                report.summary
            );
        })
    };
    let looped = stopped("fixture-looper", json!({}));
    let slept = stopped("fixture-sleeper", json!({"sleep_ms": 3_600_000}));
    for (what, samples) in [("endless loop", &looped), ("hour-long sleep", &slept)] {
        compare(
            (&format!("{what} answered p50"), samples.p50()),
            ("its deadline", DEADLINE),
            Budget::None,
        );
        compare(
            (&format!("{what} answered p99"), samples.p99()),
            ("its deadline", DEADLINE),
            Budget::None,
        );
    }

    let opened = Opened::new(ws.path());
    let run = |workflow: &Workflow, hooks: Hooks| opened.run(&engine, workflow, hooks, false);
    let quick =
        one_phase("        - rule: file-exists\n          config: { paths: [README.md] }\n");
    let whole = sample(rounds, || {
        let report = run(&quick, Hooks::default()).expect("the checkpoint runs");
        assert!(report.passed, "{report:?}");
    });
    let sleeping = one_phase(
        "        - rule: fixture-sleeper\n          timeout_ms: 3600000\n          config: { sleep_ms: 3600000 }\n",
    );
    let mut latencies = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let cancel = Arc::new(AtomicBool::new(false));
        let cancelled_at = Arc::new(Mutex::new(None));
        let (trigger, when) = (cancel.clone(), cancelled_at.clone());
        let hooks = Hooks {
            progress: Some(Arc::new(move |p| {
                if matches!(p, Progress::RuleStarted { .. }) {
                    *when.lock().expect("lock") = Some(Instant::now());
                    trigger.store(true, Ordering::SeqCst);
                }
            })),
            cancel: Some(cancel),
        };
        let result = run(&sleeping, hooks);
        let ended = Instant::now();
        assert!(
            matches!(result, Err(checkrail::Error::Cancelled)),
            "{result:?}"
        );
        let began = cancelled_at
            .lock()
            .expect("lock")
            .expect("the rule started");
        latencies.push(ended - began);
    }
    let latency = Samples::new(latencies);
    compare(
        ("cancel to answer p50", latency.p50()),
        ("a whole one-rule checkpoint p50", whole.p50()),
        Budget::None,
    );
}
