//! Adversarial rules: each is stopped or refused with a clear reason, and the
//! same engine then still runs a good rule correctly.

use std::time::{Duration, Instant};

use checkrail::Checkrail;
use checkrail::engine::RuleRun;
use checkrail::report::{RuleReport, RuleStatus};
use checkrail::runtime::Limits;
use serde_json::json;

use crate::support::{engine, workspace};

fn run(engine: &Checkrail, rule: &str, dir: &std::path::Path, limits: Limits) -> RuleReport {
    engine
        .run_rule(&RuleRun {
            rule,
            config: &json!({}),
            workspace: dir,
            timeout: Some(limits.timeout),
            memory: Some(limits.memory),
        })
        .unwrap_or_else(|e| panic!("{rule}: {e}"))
}

/// A good rule still gives the right answer, both ways.
fn good_rule_still_works(engine: &Checkrail) {
    let ws = workspace(&[("present.txt", "x")]);
    let config = json!({"paths": ["present.txt", "absent.txt"]});
    let report = engine
        .run_rule(&RuleRun {
            rule: "file-exists",
            config: &config,
            workspace: ws.path(),
            timeout: None,
            memory: None,
        })
        .unwrap();
    assert_eq!(report.status, RuleStatus::Failed);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].path.as_deref(), Some("absent.txt"));
}

#[test]
fn infinite_loop_is_stopped_near_its_deadline() {
    let engine = engine();
    engine.rule("fixture-looper").unwrap(); // compile outside the timed part
    let ws = workspace(&[]);
    let deadline = Duration::from_millis(300);
    let started = Instant::now();
    let report = run(
        &engine,
        "fixture-looper",
        ws.path(),
        Limits {
            timeout: deadline,
            ..Limits::default()
        },
    );
    let took = started.elapsed();
    assert_eq!(report.status, RuleStatus::Error);
    assert!(
        report.summary.contains("ran past its deadline of 300 ms"),
        "{}",
        report.summary
    );
    assert!(took >= deadline, "stopped before its deadline: {took:?}");
    // Generous bound for shared machines; the benchmark-free point is that
    // the loop did not run on.
    assert!(
        took < deadline * 10,
        "stopped far after its deadline: {took:?}"
    );
    good_rule_still_works(&engine);
}

#[test]
fn unbounded_allocation_is_stopped_at_the_cap() {
    let engine = engine();
    let ws = workspace(&[]);
    let report = run(
        &engine,
        "fixture-hog",
        ws.path(),
        Limits {
            memory: 32 << 20,
            ..Limits::default()
        },
    );
    assert_eq!(report.status, RuleStatus::Error);
    assert!(
        report.summary.contains("memory cap of 32 MiB"),
        "{}",
        report.summary
    );
    good_rule_still_works(&engine);
}

#[test]
fn reads_outside_the_workspace_are_denied() {
    let engine = engine();
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("outside.txt"), "secret").unwrap();
    std::fs::create_dir(outer.path().join("other")).unwrap();
    std::fs::write(outer.path().join("other/secret.txt"), "secret").unwrap();
    let ws = outer.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("inside.txt"), "hello").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outer.path().join("other"), ws.join("link-out")).unwrap();
        std::os::unix::fs::symlink(outer.path().join("outside.txt"), ws.join("link-file")).unwrap();
    }
    let report = run(&engine, "fixture-escaper", &ws, Limits::default());
    let leaks: Vec<&str> = report.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(leaks.is_empty(), "sandbox leaked: {leaks:?}");
    assert_eq!(report.status, RuleStatus::Passed);
    // The control read proves the fixture could read at all.
    assert!(
        report.summary.contains("control read 5 bytes"),
        "{}",
        report.summary
    );
    assert!(
        !ws.join("written.txt").exists(),
        "the workspace must be read-only"
    );
    good_rule_still_works(&engine);
}

#[test]
fn panic_is_reported_with_its_message() {
    let engine = engine();
    let ws = workspace(&[]);
    let report = run(&engine, "fixture-panicker", ws.path(), Limits::default());
    assert_eq!(report.status, RuleStatus::Error);
    assert!(report.summary.contains("panicked: fixture rule gave up on purpose (at tests/fixtures/plugins/panicker/src/lib.rs:12:9)"), "{}", report.summary);
    good_rule_still_works(&engine);
}

#[test]
fn unsupported_api_version_is_refused_naming_both() {
    let engine = engine();
    let error = engine
        .rule("fixture-wrong-api")
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("checkrail rule API 9.0.0"), "{error}");
    assert!(error.contains("supports API ^0.1"), "{error}");
    good_rule_still_works(&engine);
}

#[test]
fn limits_out_of_range_are_refused() {
    let engine = engine();
    let ws = workspace(&[]);
    let error = engine
        .run_rule(&RuleRun {
            rule: "file-exists",
            config: &json!({}),
            workspace: ws.path(),
            timeout: None,
            memory: Some(8 << 30),
        })
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("memory cap must be between 1 MiB and 1024 MiB"),
        "{error}"
    );
}

#[test]
fn cancelling_a_checkpoint_stops_a_running_rule_at_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use checkrail::Error;
    use checkrail::engine::Hooks;

    let engine = engine();
    engine.rule("fixture-looper").unwrap();
    let ws = workspace(&[]);
    let flow = checkrail::workflow::parse(
        "id: c\nversion: 0.1.0\nname: C\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: fixture-looper\n          timeout_ms: 60000\n",
        "c.yaml",
    )
    .unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let trigger = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        trigger.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let result = crate::support::checkpoint(
        &engine,
        &flow,
        "p",
        ws.path(),
        None,
        Hooks {
            progress: None,
            cancel: Some(cancel),
        },
    );
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the 60 s rule was not stopped: {:?}",
        started.elapsed()
    );
    good_rule_still_works(&engine);
}
