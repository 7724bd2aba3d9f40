//! Runtime benchmark: prints figures, asserts nothing.
//!
//! - cold load (compile) and warm load (from the compile cache) of file-exists;
//! - warm instantiate + `check` of file-exists for 1 and 100 paths, median
//!   and p99;
//! - the same 100-path check done natively by the same rule code (through
//!   the SDK's native workspace, confined the same way), and by a naive
//!   unconfined `std::fs::metadata` loop, with the ratios.
//!
//! Run with `cargo bench -p checkrail --bench runtime`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use checkrail::bundled::BUNDLED_RULES;
use checkrail::runtime::{CheckInput, ComponentCache, Limits, RunResult, Runtime};
use checkrail_sdk::testing::run_rule;
use file_exists::FileExists;
use serde_json::json;

const WARM_ITERATIONS: usize = 5_000;

fn main() {
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
    let cold = sample(5, || {
        black_box(cold_runtime.load("bench", bytes).expect("load"));
    });
    report("cold load (compile + link + describe)", &cold);

    let cache_dir = tempfile::tempdir().expect("tempdir");
    let runtime =
        Runtime::new(ComponentCache::new(Some(cache_dir.path().to_owned()))).expect("runtime");
    runtime.load("bench", bytes).expect("populate cache");
    let warm = sample(50, || {
        black_box(runtime.load("bench", bytes).expect("load"));
    });
    report("warm load (from cache + link + describe)", &warm);

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
    let wasm_check = |config: &serde_json::Value| {
        let text = config.to_string();
        move || match runtime.check(rule, &text, input, &Limits::default()) {
            RunResult::Completed(outcome) => assert!(outcome.passed, "{outcome:?}"),
            other => panic!("check failed: {other:?}"),
        }
    };

    let wasm_one = sample(WARM_ITERATIONS, wasm_check(&one));
    report("warm instantiate + check, 1 path (wasm)", &wasm_one);
    let wasm_hundred = sample(WARM_ITERATIONS, wasm_check(&hundred));
    report("warm instantiate + check, 100 paths (wasm)", &wasm_hundred);

    let native_hundred = sample(WARM_ITERATIONS, || {
        let outcome = run_rule::<FileExists>(hundred.clone(), &workspace).expect("native run");
        assert!(outcome.passed);
    });
    report(
        "same rule natively, 100 paths (confined, same code)",
        &native_hundred,
    );

    let naive = sample(WARM_ITERATIONS, || naive_check(&workspace, &names));
    report(
        "naive native loop, 100 paths (std::fs::metadata, unconfined)",
        &naive,
    );

    println!();
    println!(
        "ratio wasm / native same-rule (100 paths, median): {:.2}x",
        median(&wasm_hundred).as_secs_f64() / median(&native_hundred).as_secs_f64()
    );
    println!(
        "ratio wasm / naive loop (100 paths, median): {:.2}x",
        median(&wasm_hundred).as_secs_f64() / median(&naive).as_secs_f64()
    );
}

fn naive_check(root: &Path, names: &[String]) {
    let missing = names
        .iter()
        .filter(|n| std::fs::metadata(root.join(n)).is_err())
        .count();
    assert_eq!(black_box(missing), 0);
}

fn sample(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    // Warm up caches and lazy initialisation before measuring.
    for _ in 0..(n / 10).clamp(1, 200) {
        f();
    }
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn report(what: &str, sorted: &[Duration]) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{what:<66} median {:>10.1} µs   p99 {:>10.1} µs   (n={})",
        us(median(sorted)),
        us(percentile(sorted, 0.99)),
        sorted.len()
    );
}
