//! Cached revalidation benchmark: `workflow_validate` over stdio on a warm
//! server, against an unchanged workspace of 10,000 source files (≈ 40 MB),
//! where the checkpoint's rule result comes from the outcome cache. Every
//! call still walks the workspace (honouring `.gitignore`) and checks each
//! file's fingerprint, so the baseline measured in the same run is a plain
//! recursive stat walk of the same files (budget: ≤ 1.2x its p50). The
//! first, uncached validate is shown against the cached one.
//!
//! Needs `python3` (the checkpoint's compile rule runs it). Prints figures;
//! panics only on a wrong answer or a missing tool.
//! Full: `cargo bench -p checkrail --bench cache`.
//! Quick (CI, 2,000 files): `cargo bench -p checkrail --bench cache --
//! --quick`, or with `CHECKRAIL_BENCH_QUICK=1`.

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::server::{call, spawn, start};
use support::{Budget, Samples, compare};

const FILES_PER_DIR: usize = 100;
const FILE_BYTES: usize = 4096;

const WORKFLOW: &str = "id: cached
version: 0.1.0
name: Cached
description: a checkpoint whose rule result is cached
phases:
  - id: build
    name: Build
    guidance: build
    checkpoint:
      rules:
        - rule: compile
          config: { toolchain: python, files: [app/main.py] }
";

fn populate(root: &Path, dirs: usize) {
    let body: String = "// generated source line for the cache benchmark\n"
        .repeat(FILE_BYTES / 48 + 1)[..FILE_BYTES]
        .to_owned();
    // A syntax error: the checkpoint fails, so the session stays put and
    // every call is a real (cached) validation that is logged.
    support::python_project(
        root,
        (dirs * FILES_PER_DIR, &body),
        "def broken(:\n    pass\n",
        ("cached", WORKFLOW),
    );
}

#[tokio::main]
async fn main() {
    let mode = support::begin("cache");
    support::require(
        "python3",
        "install Python 3 (the benchmark's compile rule runs it)",
    );
    let dirs = mode.pick(100, 20);
    let rounds = mode.pick(100, 20);

    let ws = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    populate(ws.path(), dirs);
    println!(
        "workspace: {} files, {:.1} MB",
        dirs * FILES_PER_DIR + 5,
        (dirs * FILES_PER_DIR * FILE_BYTES) as f64 / 1e6
    );

    let (client, _) = spawn(ws.path(), cache.path(), &[]).await;
    let id = start(&client, "cached").await;
    let args = json!({"session": id, "phase": "build"});
    let first = Instant::now();
    let out = call(&client, "workflow_validate", args.clone()).await;
    let cold = first.elapsed();
    assert_eq!(out["passed"], false, "{out}");
    // Let every file's fingerprint age past the racy-timestamp second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..10 {
        call(&client, "workflow_validate", args.clone()).await;
    }

    // Interleaved, so both see the same machine load.
    let mut validate = Vec::with_capacity(rounds);
    let mut walk = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let began = Instant::now();
        let out = call(&client, "workflow_validate", args.clone()).await;
        validate.push(began.elapsed());
        assert_eq!(out["report"]["rules"][0]["cached"], true, "{out}");
        let began = Instant::now();
        let files = support::stat_walk(ws.path());
        walk.push(began.elapsed());
        assert!(files >= dirs * FILES_PER_DIR, "the walk missed files");
    }
    let (validate, walk) = (Samples::new(validate), Samples::new(walk));
    compare(
        ("cached workflow_validate over stdio p50", validate.p50()),
        ("recursive stat walk p50", walk.p50()),
        Budget::Ratio(1.2),
    );
    compare(
        ("cached workflow_validate over stdio p99", validate.p99()),
        ("recursive stat walk p99", walk.p99()),
        Budget::None,
    );
    compare(
        (
            "first workflow_validate (hashes every file, runs the rule)",
            cold,
        ),
        ("cached workflow_validate p50", validate.p50()),
        Budget::None,
    );
    client.cancel().await.expect("stop");
}
