//! MCP benchmark over stdio against the real `checkrail serve` binary, each
//! figure next to a baseline measured in the same run.
//!
//! - server start to the first `tools/list` answer (compile cache warm;
//!   budget ≤ 10 ms), against starting the same binary for `--version`;
//! - `workflow_validate` of a file-exists checkpoint end to end (each call
//!   runs the rule and appends to the session log; budget ≤ 2 ms p99), and
//!   its dry run, against a `ping` round trip on the same server;
//! - server RSS after start and one session (budget ≤ 20 MB), against the
//!   peak RSS of `checkrail --version`; RSS over many more calls (budget:
//!   flat within 10 %) against RSS before them; RSS after 50 concurrent
//!   sessions (budget ≤ 30 MB) against RSS after start, and their wall time
//!   against the same validations one after another.
//!
//! Prints figures; panics only on a wrong answer.
//! Full: `cargo bench -p checkrail --bench mcp`.
//! Quick (CI): `cargo bench -p checkrail --bench mcp -- --quick`, or with
//! `CHECKRAIL_BENCH_QUICK=1`.

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::server::{BIN, call, peak_rss, ping, rss, spawn, spawn_allowed, start};
use support::{Budget, Kib, Samples, compare, sample_async};

const MIB: u64 = 1024;

#[tokio::main]
async fn main() {
    let mode = support::begin("mcp");
    let starts = mode.pick(20, 5);
    let validations = mode.pick(1_000, 100);
    let flat_calls = mode.pick(10_000, 1_000);
    let sessions = 50;
    let per_session = mode.pick(20, 4);

    let cache = tempfile::tempdir().expect("tempdir");
    let ws = tempfile::tempdir().expect("tempdir");
    let (ws, cache) = (ws.path(), cache.path());

    // Warm the compile cache once, as an installed checkrail would have it.
    let (client, _) = spawn(ws, cache, &[]).await;
    let id = start(&client, "project-basics").await;
    call(&client, "workflow_validate", json!({"session": id})).await;
    client.cancel().await.expect("stop");

    let version = support::sample(starts, || {
        let status = std::process::Command::new(BIN)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run checkrail --version");
        assert!(status.success(), "checkrail --version failed");
    });
    let mut times = Vec::with_capacity(starts);
    // Allowed once, before the clock (see `process.rs`).
    support::allow(ws, &cache.join("state"));
    for _ in 0..starts {
        let began = Instant::now();
        let (client, _) = spawn_allowed(ws, cache, &[]).await;
        client.list_tools(None).await.expect("tools/list");
        times.push(began.elapsed());
        client.cancel().await.expect("stop");
    }
    compare(
        (
            "server start → first tools/list answer p50",
            Samples::new(times).p50(),
        ),
        ("checkrail --version, whole process p50", version.p50()),
        Budget::AtMost(Duration::from_millis(10)),
    );

    let (client, pid) = spawn(ws, cache, &[]).await;
    let after_start = rss(pid);
    let id = start(&client, "project-basics").await;
    compare(
        ("server RSS after start and one session", rss(pid)),
        (
            "checkrail --version peak RSS",
            peak_rss(std::process::Command::new(BIN).arg("--version")),
        ),
        Budget::AtMost(Kib(20 * MIB)),
    );

    let pings = sample_async(validations, async || ping(&client).await).await;
    let args = json!({"session": id, "phase": "readme"});
    let logged = sample_async(validations, async || {
        let out = call(&client, "workflow_validate", args.clone()).await;
        assert_eq!(out["passed"], false, "{out}");
    })
    .await;
    let dry = json!({"session": id, "phase": "readme", "dry_run": true});
    let dry_run = sample_async(validations, async || {
        call(&client, "workflow_validate", dry.clone()).await;
    })
    .await;
    for (what, samples) in [
        ("workflow_validate (file-exists, fails, logged)", &logged),
        ("workflow_validate dry run (no database write)", &dry_run),
    ] {
        compare(
            (&format!("{what} p99"), samples.p99()),
            ("ping round trip p99", pings.p99()),
            Budget::AtMost(Duration::from_millis(2)),
        );
    }

    // Flat over many more calls (dry runs: the same work without growing
    // the database, which is disk, not memory).
    let before = rss(pid);
    for _ in 0..flat_calls {
        call(&client, "workflow_validate", dry.clone()).await;
    }
    compare(
        (
            &format!("server RSS after {flat_calls} more calls"),
            rss(pid),
        ),
        ("server RSS before them", before),
        Budget::Ratio(1.10),
    );

    let client = Arc::new(client);
    let mut ids = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        ids.push(start(&client, "project-basics").await);
    }
    let began = Instant::now();
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..per_session {
                    call(&client, "workflow_validate", json!({"session": id})).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("session task");
    }
    let concurrent = began.elapsed();
    compare(
        (
            &format!("server RSS after {sessions} concurrent sessions × {per_session} validations"),
            rss(pid),
        ),
        ("server RSS after start", after_start),
        Budget::AtMost(Kib(30 * MIB)),
    );
    let calls = u32::try_from(sessions * per_session).expect("few calls");
    compare(
        (
            &format!("{sessions} concurrent sessions, wall time per validation"),
            concurrent / calls,
        ),
        (
            "one client's validations one after another p50",
            logged.p50(),
        ),
        Budget::None,
    );
}
