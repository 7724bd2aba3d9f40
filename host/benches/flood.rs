//! Flood benchmark: checks started with `wait: false` in many sessions at
//! once, each running a real program (`sh` sleeping 50 ms), in one server
//! with `[checks] max_running = 2`. Measured in one run: a flood of 10
//! checks (the baseline) and one of 200. What must hold: the programs
//! running at once and the threads stay at the baseline's whatever the
//! flood (the pool's high-water mark ≤ 2; threads ≤ the baseline's + 4),
//! every check answers, and the time per check stays near 50 ms / 2.
//!
//! Full: `cargo bench -p checkrail --bench flood`; quick (CI): `-- --quick`
//! (a flood of 60).

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkrail::service::{CheckStatus, Service, ValidateRequest};
use serde_json::Map;

const FLOW: &str = "id: flood
version: 1.0.0
name: Flood
description: one program per check
phases:
  - id: work
    name: Work
    guidance: g
    checkpoint:
      rules:
        - rule: compile
          config: { toolchain: custom, command: { program: sh, args: [work.sh] } }
  - id: done
    name: Done
    guidance: d
";

/// A field of `/proc/self/status` (`Threads`, `VmRSS` in kB).
fn status_field(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("status field")
}

struct Figures {
    wall: Duration,
    threads: u64,
    rss_kb: u64,
    high_water: usize,
}

/// Starts `n` sessions, a detached check in each, and waits for all.
fn flood(service: &Arc<Service>, n: usize) -> Figures {
    let threads_before = status_field("Threads");
    let began = Instant::now();
    let mut ids = Vec::with_capacity(n);
    let mut threads = threads_before;
    for _ in 0..n {
        let standing = service.start("flood", Map::new()).expect("start");
        let id = standing.session.id.clone();
        service
            .validate_detached(ValidateRequest::new(id.clone()))
            .expect("validate");
        ids.push(id);
        threads = threads.max(status_field("Threads"));
    }
    for id in &ids {
        loop {
            threads = threads.max(status_field("Threads"));
            let standing = service.next(id).expect("next");
            match standing.check.as_ref().map(|c| c.status) {
                Some(CheckStatus::Running) => std::thread::sleep(Duration::from_millis(5)),
                Some(CheckStatus::Passed) => break,
                other => panic!("check of {id} ended {other:?}: {:?}", standing.check),
            }
        }
    }
    Figures {
        wall: began.elapsed(),
        threads: threads - threads_before,
        rss_kb: status_field("VmRSS"),
        high_water: service.pool().high_water,
    }
}

fn main() {
    let mode = support::begin("flood");
    support::require("sh", "install a POSIX shell");
    let n = mode.pick(200, 60);
    let (service, _ws, _state) = support::service_with(
        ("flood", FLOW),
        Some("[exec]\nallow = [\"sh\"]\n\n[checks]\nmax_running = 2\n"),
        &[("work.sh", "sleep 0.05\n")],
    );
    let service = Arc::new(service);
    // Warm: rules compiled, the store open.
    flood(&service, 2);
    let rss_start = status_field("VmRSS");
    let small = flood(&service, 10);
    let large = flood(&service, n);
    println!(
        "{:<22} {:>10} {:>12} {:>14} {:>12} {:>10}",
        "flood", "wall", "per check", "extra threads", "RSS (MB)", "at once"
    );
    for (label, f, count) in [
        ("10 checks (baseline)", &small, 10),
        (&*format!("{n} checks"), &large, n),
    ] {
        println!(
            "{label:<22} {:>8.0}ms {:>10.1}ms {:>14} {:>12.1} {:>10}",
            f.wall.as_secs_f64() * 1000.0,
            f.wall.as_secs_f64() * 1000.0 / count as f64,
            f.threads,
            f.rss_kb as f64 / 1024.0,
            f.high_water
        );
    }
    println!(
        "RSS at the start of the floods {:.1} MB; max_running = 2",
        rss_start as f64 / 1024.0
    );
    assert!(large.high_water <= 2, "more than two checks ran at once");
    assert!(
        large.threads <= small.threads + 4,
        "threads grew with the flood: {} vs {}",
        large.threads,
        small.threads
    );
}
