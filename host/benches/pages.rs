//! Pages benchmark: listing sessions and counting them for `/metrics`
//! with 10,000 sessions in the store, next to the same queries on 10
//! sessions (the baseline), measured in one run. What `workflow_state`,
//! `session list` and the dashboard do is one page (50 sessions, newest
//! first, with the total); `/metrics` and `/readyz` count by status.
//! Budget: a page and a count ≤ 10 ms at 10,000 sessions.
//!
//! Full: `cargo bench -p checkrail --bench pages`; quick (CI): `-- --quick`
//! (1,000 sessions).

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::time::Duration;

use checkrail::service::Service;
use checkrail::session::SessionQuery;
use serde_json::Map;
use support::{Budget, compare, sample};

const FLOW: &str = "id: many
version: 1.0.0
name: Many
description: d
phases:
  - id: one
    name: One
    guidance: g
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [README.md] }
";

/// A service on a fresh workspace holding `n` sessions.
fn with_sessions(n: usize) -> (Service, tempfile::TempDir, tempfile::TempDir) {
    let (service, ws, state) = support::service_with(("many", FLOW), None, &[]);
    for _ in 0..n {
        service.start("many", Map::new()).expect("start");
    }
    (service, ws, state)
}

fn main() {
    let mode = support::begin("pages");
    let n = mode.pick(10_000, 1_000);
    let rounds = mode.pick(200, 40);
    let (small, _ws_small, _state_small) = with_sessions(10);
    let began = std::time::Instant::now();
    let (large, _ws, _state) = with_sessions(n);
    println!(
        "{n} sessions started in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    let page = SessionQuery {
        limit: Some(50),
        ..SessionQuery::default()
    };
    let deep = SessionQuery {
        limit: Some(50),
        offset: (n as u64) / 2,
        ..SessionQuery::default()
    };
    let listed = large.page(&page).expect("page");
    assert_eq!(listed.sessions.len(), 50);
    assert_eq!(listed.total, n as u64);
    assert_eq!(large.page(&deep).expect("deep").sessions.len(), 50);
    let counted: u64 = large.counts().expect("counts").values().sum();
    assert_eq!(counted, n as u64);

    let baseline = sample(rounds, || {
        small.page(&page).expect("page");
    });
    let first = sample(rounds, || {
        large.page(&page).expect("page");
    });
    let middle = sample(rounds, || {
        large.page(&deep).expect("page");
    });
    let count_small = sample(rounds, || {
        small.counts().expect("counts");
    });
    let count_large = sample(rounds, || {
        large.counts().expect("counts");
    });
    compare(
        (
            &format!("first page of 50, {n} sessions (p50)"),
            first.p50(),
        ),
        ("first page, 10 sessions", baseline.p50()),
        Budget::AtMost(Duration::from_millis(10)),
    );
    compare(
        (
            &format!("page at offset {}, {n} sessions (p50)", n / 2),
            middle.p50(),
        ),
        ("first page, 10 sessions", baseline.p50()),
        Budget::AtMost(Duration::from_millis(10)),
    );
    compare(
        (
            &format!("count by status, {n} sessions (p50)"),
            count_large.p50(),
        ),
        ("count by status, 10 sessions", count_small.p50()),
        Budget::AtMost(Duration::from_millis(10)),
    );
}
