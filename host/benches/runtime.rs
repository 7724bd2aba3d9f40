//! Runtime benchmark: loading and running the bundled file-exists rule as a
//! wasm component, each figure next to a baseline measured in the same run.
//!
//! - cold load (compile + link + describe), against a warm load from the
//!   compile cache;
//! - warm instantiate + `check` for 1 and 100 paths (budget: ≤ 30 µs median
//!   for a trivial rule), against the same rule code run natively through
//!   the SDK's native workspace, confined the same way; the 100-path run
//!   also against a naive unconfined `std::fs::metadata` loop.
//!
//! Prints figures; panics only on a wrong answer.
//! Full: `cargo bench -p checkrail --bench runtime`.
//! Quick (CI): `cargo bench -p checkrail --bench runtime -- --quick`, or
//! with `CHECKRAIL_BENCH_QUICK=1`.

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use checkrail::bundled::BUNDLED_RULES;
use checkrail::runtime::{CheckInput, ComponentCache, Limits, RunResult, Runtime};
use checkrail_sdk::testing::run_rule;
use file_exists::FileExists;
use serde_json::{Value, json};
use support::{Budget, compare, sample};

/// The design's budget for a warm instantiate + `check` of a trivial rule.
const TRIVIAL_CHECK: Duration = Duration::from_micros(30);

fn main() {
    let mode = support::begin("runtime");
    let warm_iterations = mode.pick(5_000, 300);
    // Host-side errors must not capture backtraces (see WASMTIME-NOTES).
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    let bytes = BUNDLED_RULES
        .iter()
        .find(|(name, _)| *name == "file-exists")
        .map(|(_, b)| *b)
        .expect("file-exists is bundled");
    println!("file-exists component: {} KiB", bytes.len() / 1024);

    // Cold: no cache, every load compiles.
    let cold_runtime = Runtime::new(ComponentCache::new(None)).expect("runtime");
    let cold = sample(mode.pick(5, 1), || {
        black_box(cold_runtime.load("bench", bytes).expect("load"));
    });
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let runtime =
        Runtime::new(ComponentCache::new(Some(cache_dir.path().to_owned()))).expect("runtime");
    runtime.load("bench", bytes).expect("populate cache");
    let warm = sample(mode.pick(50, 10), || {
        black_box(runtime.load("bench", bytes).expect("load"));
    });
    compare(
        ("cold load (compile + link + describe) median", cold.p50()),
        ("warm load (from the compile cache) median", warm.p50()),
        Budget::None,
    );

    let rule = runtime.load("bench", bytes).expect("load");
    let ws = tempfile::tempdir().expect("tempdir");
    let names: Vec<String> = (0..100).map(|i| format!("src/module_{i:03}.rs")).collect();
    for name in &names {
        let full = ws.path().join(name);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, "pub fn f() {}\n").expect("write");
    }
    std::fs::write(ws.path().join("README.md"), "# bench\n").expect("write");

    let one = json!({ "paths": ["README.md"] });
    let hundred = json!({ "paths": names });
    let workspace = ws.path().canonicalize().expect("canonical");
    let input = CheckInput {
        workspace: Some(&workspace),
        ..CheckInput::default()
    };
    let (runtime, rule, input) = (&runtime, &rule, &input);
    let wasm_check = |config: &Value| {
        let text = config.to_string();
        move || match runtime.check(rule, &text, input, &Limits::default()) {
            RunResult::Completed(outcome) => assert!(outcome.passed, "{outcome:?}"),
            other => panic!("check failed: {other:?}"),
        }
    };
    let native_check = |config: &Value| {
        let (config, workspace) = (config.clone(), &workspace);
        move || {
            let outcome = run_rule::<FileExists>(config.clone(), workspace).expect("native run");
            assert!(outcome.passed, "{outcome:?}");
        }
    };

    let wasm_one = sample(warm_iterations, wasm_check(&one));
    let native_one = sample(warm_iterations, native_check(&one));
    compare(
        (
            "warm instantiate + check, 1 path (wasm) median",
            wasm_one.p50(),
        ),
        ("same rule natively, 1 path median", native_one.p50()),
        Budget::AtMost(TRIVIAL_CHECK),
    );
    compare(
        (
            "warm instantiate + check, 1 path (wasm) p99",
            wasm_one.p99(),
        ),
        ("same rule natively, 1 path p99", native_one.p99()),
        Budget::None,
    );

    let wasm_hundred = sample(warm_iterations, wasm_check(&hundred));
    let native_hundred = sample(warm_iterations, native_check(&hundred));
    let naive = sample(warm_iterations, || naive_check(&workspace, &names));
    compare(
        (
            "warm instantiate + check, 100 paths (wasm) median",
            wasm_hundred.p50(),
        ),
        (
            "same rule natively, 100 paths (confined, same code) median",
            native_hundred.p50(),
        ),
        Budget::None,
    );
    compare(
        (
            "warm instantiate + check, 100 paths (wasm) median",
            wasm_hundred.p50(),
        ),
        (
            "naive std::fs::metadata loop, 100 paths (unconfined) median",
            naive.p50(),
        ),
        Budget::None,
    );
}

fn naive_check(root: &Path, names: &[String]) {
    let missing = names
        .iter()
        .filter(|n| std::fs::metadata(root.join(n)).is_err())
        .count();
    assert_eq!(black_box(missing), 0);
}
