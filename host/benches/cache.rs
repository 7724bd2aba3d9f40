//! Cached revalidation benchmark: `workflow_validate` over stdio on a warm
//! server, against an unchanged workspace of 10,000 source files (≈ 40 MB),
//! where the checkpoint's rule result comes from the outcome cache. Every
//! call still walks the workspace (honouring `.gitignore`) and checks each
//! file's fingerprint, so the baseline measured in the same run is a plain
//! recursive stat walk of the same files. Prints figures, asserts nothing.
//!
//! Run with `cargo bench -p checkrail --bench cache`.

use std::path::Path;
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_checkrail");
const DIRS: usize = 100;
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

type Client = RunningService<RoleClient, ()>;

fn populate(root: &Path) {
    let body: String = "// generated source line for the cache benchmark\n"
        .repeat(FILE_BYTES / 48 + 1)[..FILE_BYTES]
        .to_owned();
    for d in 0..DIRS {
        let dir = root.join(format!("src/m{d:03}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..FILES_PER_DIR {
            std::fs::write(dir.join(format!("f{f:03}.rs")), &body).expect("write");
        }
    }
    std::fs::create_dir_all(root.join("app")).expect("mkdir");
    // A syntax error: the checkpoint fails, so the session stays put and
    // every call is a real (cached) validation that is logged.
    std::fs::write(root.join("app/main.py"), "def broken(:\n    pass\n").expect("write");
    std::fs::write(
        root.join("checkrail.toml"),
        "[exec]\nallow = [\"python3\"]\n",
    )
    .expect("write");
    std::fs::write(root.join(".gitignore"), "/target\n").expect("write");
    std::fs::create_dir_all(root.join(".checkrail/workflows")).expect("mkdir");
    std::fs::write(root.join(".checkrail/workflows/cached.yaml"), WORKFLOW).expect("write");
}

/// The baseline: every entry's metadata, recursively, nothing else.
fn stat_walk(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        if meta.is_dir() {
            if entry.file_name() != ".checkrail" {
                n += stat_walk(&path);
            }
        } else {
            n += 1;
        }
    }
    n
}

async fn call(client: &Client, tool: &str, args: Value) -> Value {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().expect("object").clone());
    let result = client.call_tool(params).await.expect("call");
    assert_ne!(result.is_error, Some(true), "{tool}: {:?}", result.content);
    result.structured_content.expect("structured content")
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let ws = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    populate(ws.path());

    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("serve")
        .arg("--workspace")
        .arg(ws.path())
        .env("CHECKRAIL_CACHE_DIR", cache.path())
        .env("CHECKRAIL_STATE_DIR", state.path())
        .env("CHECKRAIL_LOG", "error");
    let client = ().serve(TokioChildProcess::new(cmd).expect("spawn")).await.expect("initialize");
    let id = call(&client, "workflow_start", json!({"workflow": "cached"})).await["session"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let args = json!({"session": id, "phase": "build"});
    let first = Instant::now();
    let out = call(&client, "workflow_validate", args.clone()).await;
    let cold = first.elapsed();
    assert_eq!(out["passed"], false);
    // Let every file's fingerprint age past the racy-timestamp second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..10 {
        call(&client, "workflow_validate", args.clone()).await;
    }

    let rounds = 100;
    let mut validate = Vec::with_capacity(rounds);
    let mut walk = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let began = Instant::now();
        let out = call(&client, "workflow_validate", args.clone()).await;
        validate.push(began.elapsed());
        assert_eq!(out["report"]["rules"][0]["cached"], true, "{out}");
        let began = Instant::now();
        let files = stat_walk(ws.path());
        walk.push(began.elapsed());
        assert!(files >= DIRS * FILES_PER_DIR);
    }
    let (v50, v99) = (
        percentile(&mut validate, 0.5),
        percentile(&mut validate, 0.99),
    );
    let (w50, w99) = (percentile(&mut walk, 0.5), percentile(&mut walk, 0.99));
    println!(
        "workspace: {} files, {:.1} MB",
        DIRS * FILES_PER_DIR + 5,
        (DIRS * FILES_PER_DIR * FILE_BYTES) as f64 / 1e6
    );
    println!(
        "first validate (hashes every file, runs the rule): {:.1} ms",
        ms(cold)
    );
    println!(
        "cached workflow_validate over stdio:  p50 {:>7.2} ms   p99 {:>7.2} ms   (n={rounds})",
        ms(v50),
        ms(v99)
    );
    println!(
        "plain recursive stat walk (baseline): p50 {:>7.2} ms   p99 {:>7.2} ms   (n={rounds})",
        ms(w50),
        ms(w99)
    );
    println!(
        "ratio (p50 validate / p50 stat walk): {:.2}×",
        v50.as_secs_f64() / w50.as_secs_f64()
    );
    client.cancel().await.expect("stop");
}
