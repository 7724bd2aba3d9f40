//! Session store benchmark: real `checkrail serve` replicas over stdio,
//! `workflow_validate` of a file-exists checkpoint that fails (so every
//! call runs the rule and commits one state change and one event), with
//! sessions in SQLite, in PostgreSQL behind one replica, and in PostgreSQL
//! behind three. Prints figures, asserts nothing but success.
//!
//! For each store: one client's calls one after another (p50 / p99), then
//! 12 sessions validated at once (one client task each, spread over the
//! replicas): throughput and p99, and each replica's RSS afterwards.
//!
//! Starts its own PostgreSQL server (as `tests/integration/pg.rs` does).
//! Run with `cargo bench -p checkrail --bench store`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

#[path = "../../tests/integration/pg.rs"]
#[expect(
    dead_code,
    clippy::unwrap_used,
    reason = "the tests' helper: not all of it is used here, and it panics on setup failure"
)]
mod pg;

const BIN: &str = env!("CARGO_BIN_EXE_checkrail");
const SESSIONS: usize = 12;
const SEQUENTIAL: usize = 500;
const EACH: usize = 150;

const FLOW: &str = "id: bench
version: 1.0.0
name: Bench
description: d
phases:
  - id: p
    name: P
    guidance: g
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [missing.md] }
";

type Client = RunningService<RoleClient, ()>;

async fn spawn(workspace: &std::path::Path, cache: &std::path::Path, store: &str) -> (Client, u32) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("serve")
        .arg("--workspace")
        .arg(workspace)
        .env("CHECKRAIL_STORE", store)
        .env("CHECKRAIL_CACHE_DIR", cache)
        .env("CHECKRAIL_STATE_DIR", cache.join("state"))
        .env("CHECKRAIL_LOG", "error");
    let transport = TokioChildProcess::new(cmd).expect("spawn checkrail serve");
    let pid = transport.id().expect("child pid");
    let client = ().serve(transport).await.expect("initialize");
    (client, pid)
}

async fn call(client: &Client, tool: &str, args: Value) -> Value {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().expect("object").clone());
    let result = client.call_tool(params).await.expect("call");
    assert_ne!(result.is_error, Some(true), "{tool}: {:?}", result.content);
    result.structured_content.expect("structured content")
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let pick = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(pick(0.5)), ms(pick(0.99)))
}

async fn measure(label: &str, store: &str, replicas: usize, cache: &std::path::Path) {
    let ws = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(ws.path().join(".checkrail/workflows")).expect("mkdir");
    std::fs::write(ws.path().join(".checkrail/workflows/bench.yaml"), FLOW).expect("write");
    let mut clients = Vec::new();
    let mut pids = Vec::new();
    for _ in 0..replicas {
        let (client, pid) = spawn(ws.path(), cache, store).await;
        clients.push(Arc::new(client));
        pids.push(pid);
    }
    let mut ids = Vec::new();
    for n in 0..SESSIONS {
        let out = call(
            &clients[n % replicas],
            "workflow_start",
            json!({"workflow": "bench"}),
        )
        .await;
        ids.push(out["session"]["id"].as_str().expect("id").to_owned());
    }
    for (n, id) in ids.iter().enumerate() {
        for _ in 0..5 {
            call(
                &clients[n % replicas],
                "workflow_validate",
                json!({"session": id}),
            )
            .await;
        }
    }

    let mut times = Vec::new();
    for _ in 0..SEQUENTIAL {
        let began = Instant::now();
        let out = call(&clients[0], "workflow_validate", json!({"session": ids[0]})).await;
        times.push(began.elapsed());
        assert_eq!(out["passed"], false);
    }
    let (p50, p99) = percentiles(times);
    println!("{label:<28} one client:   p50 {p50:>6.2} ms  p99 {p99:>6.2} ms  (n={SEQUENTIAL})");

    let began = Instant::now();
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let client = clients[n % replicas].clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(EACH);
                for _ in 0..EACH {
                    let began = Instant::now();
                    call(&client, "workflow_validate", json!({"session": id})).await;
                    times.push(began.elapsed());
                }
                times
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.expect("session task"));
    }
    let wall = began.elapsed();
    let calls = times.len();
    let (p50, p99) = percentiles(times);
    let rss: Vec<String> = pids
        .iter()
        .map(|&pid| format!("{:.1}", rss_kib(pid) as f64 / 1024.0))
        .collect();
    println!(
        "{label:<28} {SESSIONS} at once: {:>6.0} validations/s  p50 {p50:>6.2} ms  p99 {p99:>6.2} ms  (n={calls}); RSS per replica {} MB",
        calls as f64 / wall.as_secs_f64(),
        rss.join(" / ")
    );
    // Every call was counted by the store.
    let out = call(&clients[0], "workflow_state", json!({"session": ids[0]})).await;
    let attempts = out["sessions"][0]["attempts"].as_u64().unwrap_or_default() as usize;
    assert_eq!(attempts, 5 + SEQUENTIAL + EACH, "{out}");
    for client in clients {
        if let Ok(client) = Arc::try_unwrap(client) {
            client.cancel().await.expect("stop");
        }
    }
}

#[tokio::main]
async fn main() {
    let cache = tempfile::tempdir().expect("tempdir");
    // Warm the compile cache once, as an installed checkrail would have it.
    measure("(warm-up)", "sqlite", 1, cache.path()).await;
    println!();
    measure("SQLite, 1 replica", "sqlite", 1, cache.path()).await;
    measure("SQLite, 3 replicas", "sqlite", 3, cache.path()).await;
    let (_, url) = pg::fresh_database();
    measure("PostgreSQL, 1 replica", &url, 1, cache.path()).await;
    let (_, url) = pg::fresh_database();
    measure("PostgreSQL, 3 replicas", &url, 3, cache.path()).await;
}
