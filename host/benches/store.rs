//! Session store benchmark: real `checkrail serve` replicas over stdio,
//! `workflow_validate` of a file-exists checkpoint that fails (so every
//! call runs the rule and commits one state change and one event), with
//! sessions in SQLite and in PostgreSQL, behind one replica and behind
//! three. SQLite with as many replicas is PostgreSQL's baseline, measured
//! in the same run (budget: PostgreSQL's p50 within 0.3 ms of SQLite's).
//!
//! For each store: one client's calls one after another (p50 / p99), then
//! 12 sessions validated at once (one client task each, spread over the
//! replicas): wall time per validation, p99, and the replicas' RSS
//! afterwards.
//!
//! Starts its own PostgreSQL server (as `tests/integration/pg.rs` does), so
//! needs PostgreSQL installed under `/usr/lib/postgresql/*/bin`. Prints
//! figures; panics only on a wrong answer or a missing tool.
//! Full: `cargo bench -p checkrail --bench store`.
//! Quick (CI): `cargo bench -p checkrail --bench store -- --quick`, or with
//! `CHECKRAIL_BENCH_QUICK=1`.

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::server::{call, rss, spawn, start};
use support::{Budget, Kib, Mode, Samples, compare};

#[path = "../../tests/integration/pg.rs"]
#[expect(
    dead_code,
    clippy::unwrap_used,
    reason = "the tests' helper: not all of it is used here, and it panics on setup failure"
)]
mod pg;

const SESSIONS: usize = 12;

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

/// What one store behind some replicas measured.
struct Figures {
    /// One client's validations one after another.
    sequential: Samples,
    /// Every validation of the sessions run at once.
    concurrent: Samples,
    /// Wall time of the concurrent run over its number of validations.
    per_validation: Duration,
    /// The largest replica RSS after the concurrent run.
    rss: Kib,
}

async fn measure(mode: Mode, store: &str, replicas: usize, cache: &Path) -> Figures {
    let sequential = mode.pick(500, 50);
    let each = mode.pick(150, 10);
    let ws = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(ws.path().join(".checkrail/workflows")).expect("mkdir");
    std::fs::write(ws.path().join(".checkrail/workflows/bench.yaml"), FLOW).expect("write");
    let mut clients = Vec::new();
    let mut pids = Vec::new();
    for _ in 0..replicas {
        let (client, pid) = spawn(ws.path(), cache, &[("CHECKRAIL_STORE", store)]).await;
        clients.push(Arc::new(client));
        pids.push(pid);
    }
    let mut ids = Vec::new();
    for n in 0..SESSIONS {
        ids.push(start(&clients[n % replicas], "bench").await);
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

    let mut times = Vec::with_capacity(sequential);
    for _ in 0..sequential {
        let began = Instant::now();
        let out = call(&clients[0], "workflow_validate", json!({"session": ids[0]})).await;
        times.push(began.elapsed());
        assert_eq!(out["passed"], false, "{out}");
    }
    let sequential_times = Samples::new(times);

    let began = Instant::now();
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let client = clients[n % replicas].clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(each);
                for _ in 0..each {
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
    let calls = u32::try_from(times.len()).expect("few calls");
    let rss = pids.iter().map(|&pid| rss(pid)).max().unwrap_or(Kib(0));
    // Every call was counted by the store.
    let out = call(&clients[0], "workflow_state", json!({"session": ids[0]})).await;
    let attempts = out["sessions"][0]["attempts"].as_u64().unwrap_or_default();
    assert_eq!(attempts, (5 + sequential + each) as u64, "{out}");
    for client in clients {
        if let Ok(client) = Arc::try_unwrap(client) {
            client.cancel().await.expect("stop");
        }
    }
    Figures {
        sequential: sequential_times,
        concurrent: Samples::new(times),
        per_validation: wall / calls,
        rss,
    }
}

#[tokio::main]
async fn main() {
    let mode = support::begin("store");
    // First, so that a machine without PostgreSQL says so at once.
    let (_, one_url) = pg::fresh_database();
    let (_, three_url) = pg::fresh_database();
    let cache = tempfile::tempdir().expect("tempdir");
    let cache = cache.path();
    // Warm the compile cache once, as an installed checkrail would have it.
    measure(mode, "sqlite", 1, cache).await;

    for (replicas, behind, url) in [(1, "1 replica", &one_url), (3, "3 replicas", &three_url)] {
        let sqlite = measure(mode, "sqlite", replicas, cache).await;
        let postgres = measure(mode, url, replicas, cache).await;
        let on = |store: &str, what: &str| format!("{store}, {behind}, {what}");
        compare(
            (
                &on("PostgreSQL", "one client p50"),
                postgres.sequential.p50(),
            ),
            (&on("SQLite", "one client p50"), sqlite.sequential.p50()),
            Budget::Over(Duration::from_micros(300)),
        );
        compare(
            (
                &on("PostgreSQL", "one client p99"),
                postgres.sequential.p99(),
            ),
            (&on("SQLite", "one client p99"), sqlite.sequential.p99()),
            Budget::None,
        );
        let at_once = format!("{SESSIONS} sessions at once");
        compare(
            (
                &on("PostgreSQL", &format!("{at_once}, wall per validation")),
                postgres.per_validation,
            ),
            (
                &on("SQLite", &format!("{at_once}, wall per validation")),
                sqlite.per_validation,
            ),
            Budget::None,
        );
        compare(
            (
                &on("PostgreSQL", &format!("{at_once}, p99")),
                postgres.concurrent.p99(),
            ),
            (
                &on("SQLite", &format!("{at_once}, p99")),
                sqlite.concurrent.p99(),
            ),
            Budget::None,
        );
        compare(
            (&on("PostgreSQL", "largest replica RSS"), postgres.rss),
            (&on("SQLite", "largest replica RSS"), sqlite.rss),
            Budget::None,
        );
    }
}
