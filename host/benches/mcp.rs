//! MCP benchmark over stdio against the real `checkrail serve` binary:
//! prints figures, asserts nothing.
//!
//! - server start to the first `tools/list` answer (compile cache warm);
//! - `workflow_validate` of a file-exists checkpoint end to end, p50 / p99
//!   over 1,000 calls (each one runs the rule and appends to the session log);
//! - server RSS after 50 concurrent sessions each validating 20 times.
//!
//! Run with `cargo bench -p checkrail --bench mcp`.

use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_checkrail");

type Client = RunningService<RoleClient, ()>;

async fn spawn(workspace: &std::path::Path, cache: &std::path::Path) -> (Client, u32) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("serve")
        .arg("--workspace")
        .arg(workspace)
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

fn stats(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let pick = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<58} p50 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms   (n={})",
        ms(pick(0.5)),
        ms(pick(0.99)),
        ms(*times.last().expect("samples")),
        times.len()
    );
}

#[tokio::main]
async fn main() {
    let cache = tempfile::tempdir().expect("tempdir");
    let ws = tempfile::tempdir().expect("tempdir");

    // Warm the compile cache once, as an installed checkrail would have it.
    let (client, _) = spawn(ws.path(), cache.path()).await;
    let id = call(
        &client,
        "workflow_start",
        json!({"workflow": "project-basics"}),
    )
    .await["session"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    call(&client, "workflow_validate", json!({"session": id})).await;
    client.cancel().await.expect("stop");

    let mut starts = Vec::new();
    for _ in 0..20 {
        let began = Instant::now();
        let (client, _) = spawn(ws.path(), cache.path()).await;
        client.list_tools(None).await.expect("tools/list");
        starts.push(began.elapsed());
        client.cancel().await.expect("stop");
    }
    stats(
        "server start → first tools/list answer (cache warm)",
        starts,
    );

    let (client, pid) = spawn(ws.path(), cache.path()).await;
    let id = call(
        &client,
        "workflow_start",
        json!({"workflow": "project-basics"}),
    )
    .await["session"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    println!(
        "server RSS after start and one session: {} KiB",
        rss_kib(pid)
    );
    let args = json!({"session": id, "phase": "readme"});
    for _ in 0..50 {
        call(&client, "workflow_validate", args.clone()).await;
    }
    let mut times = Vec::new();
    for _ in 0..1_000 {
        let began = Instant::now();
        let out = call(&client, "workflow_validate", args.clone()).await;
        times.push(began.elapsed());
        assert_eq!(out["passed"], false);
    }
    stats(
        "workflow_validate (file-exists, fails, logged) over stdio",
        times,
    );

    let dry = json!({"session": id, "phase": "readme", "dry_run": true});
    let mut times = Vec::new();
    for _ in 0..1_000 {
        let began = Instant::now();
        call(&client, "workflow_validate", dry.clone()).await;
        times.push(began.elapsed());
    }
    stats("workflow_validate dry run (no database write)", times);
    let after_2k = rss_kib(pid);
    println!("server RSS after 2,050 validations: {after_2k} KiB");
    // Flat over 10,000 more calls (dry runs: the same work without
    // growing the database, which is disk, not memory).
    for _ in 0..10_000 {
        call(&client, "workflow_validate", dry.clone()).await;
    }
    let after_12k = rss_kib(pid);
    println!(
        "server RSS after 10,000 more calls: {after_12k} KiB ({:+.1} %)",
        (after_12k as f64 / after_2k as f64 - 1.0) * 100.0
    );

    let client = std::sync::Arc::new(client);
    let mut ids = Vec::new();
    for _ in 0..50 {
        let out = call(
            &client,
            "workflow_start",
            json!({"workflow": "project-basics"}),
        )
        .await;
        ids.push(out["session"]["id"].as_str().expect("id").to_owned());
    }
    let began = Instant::now();
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    call(&client, "workflow_validate", json!({"session": id})).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("session task");
    }
    println!(
        "50 concurrent sessions × 20 validations: {:.0} ms total, no errors; server RSS {} KiB",
        began.elapsed().as_secs_f64() * 1e3,
        rss_kib(pid)
    );
}
