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
//! afterwards. Then how throughput grows with replicas (1, 2, 3) on
//! PostgreSQL: more replicas serve more validations per second only when
//! each has a core of its own besides the database's, so the budget (3
//! replicas faster than 1) is judged only on a machine with at least 4
//! cores; the bench prints how many it has.
//!
//! The wire's floor is measured beside them: a prepared `SELECT 1` on the
//! same server, answered before the next is sent, from a client driven on
//! one thread as the store's is. A validation on PostgreSQL waits for
//! two such answers (the session with the setup notes; the change,
//! written while the row is the version read, and committed), which
//! SQLite, in the process, does not.
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
use support::{Budget, Kib, Mode, Quantity, Samples, compare};

#[path = "../../tests/integration/pg.rs"]
#[expect(
    dead_code,
    clippy::unwrap_used,
    reason = "the tests' helper: not all of it is used here, and it panics on setup failure"
)]
mod pg;

const SESSIONS: usize = 12;

/// Validations per second.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
struct Rate(f64);

impl Quantity for Rate {
    fn amount(self) -> f64 {
        self.0
    }

    fn show_amount(rate: f64) -> String {
        format!("{rate:.0} validations/s")
    }
}

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

/// One round trip to the server at `url`, p50: a prepared `SELECT 1`
/// answered before the next goes out, on a current-thread runtime driven
/// by the calling thread (as the store drives its connections).
fn round_trip(url: &str, mode: Mode) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to the bench's PostgreSQL");
        tokio::spawn(connection);
        let select = client.prepare("SELECT 1").await.expect("prepare");
        let mut times = Vec::new();
        for i in 0..mode.pick(3_000, 500) {
            let began = Instant::now();
            client.query_one(&select, &[]).await.expect("SELECT 1");
            if i >= 100 {
                times.push(began.elapsed());
            }
        }
        Samples::new(times).p50()
    })
}

#[tokio::main]
async fn main() {
    let mode = support::begin("store");
    // First, so that a machine without PostgreSQL says so at once.
    let urls: Vec<String> = (0..3).map(|_| pg::fresh_database().1).collect();
    let cache = tempfile::tempdir().expect("tempdir");
    let cache = cache.path();
    // Warm the compile cache once, as an installed checkrail would have it.
    measure(mode, "sqlite", 1, cache).await;

    let mut throughput = Vec::new();
    for (replicas, url) in [1, 2, 3].into_iter().zip(&urls) {
        let behind = if replicas == 1 {
            "1 replica".to_owned()
        } else {
            format!("{replicas} replicas")
        };
        let sqlite = measure(mode, "sqlite", replicas, cache).await;
        let postgres = measure(mode, url, replicas, cache).await;
        throughput.push((behind.clone(), postgres.per_validation));
        let floor = tokio::task::block_in_place(|| round_trip(url, mode));
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
                &on("PostgreSQL", "one client p50 minus SQLite's"),
                postgres
                    .sequential
                    .p50()
                    .saturating_sub(sqlite.sequential.p50()),
            ),
            (
                "two round trips of a prepared SELECT 1 to the same server, p50 x 2",
                floor * 2,
            ),
            Budget::None,
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
                &on("PostgreSQL", &format!("{at_once}, throughput")),
                Rate(1.0 / postgres.per_validation.as_secs_f64()),
            ),
            (
                &on("SQLite", &format!("{at_once}, throughput")),
                Rate(1.0 / sqlite.per_validation.as_secs_f64()),
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

    // Replicas add throughput when they do not share cores (with each
    // other, the rules they run and the database).
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("cores: {cores} (replicas are judged to scale only with at least 4)");
    let (one, base) = &throughput[0];
    for (behind, per_validation) in &throughput[1..] {
        // Wall time per validation: at most the single replica's when
        // they scale (more validations per second).
        compare(
            (
                &format!("PostgreSQL, {behind}, {SESSIONS} sessions at once, wall per validation"),
                *per_validation,
            ),
            (
                &format!("PostgreSQL, {one}, {SESSIONS} sessions at once, wall per validation"),
                *base,
            ),
            if cores >= 4 {
                Budget::Ratio(1.0)
            } else {
                Budget::None
            },
        );
    }
}
