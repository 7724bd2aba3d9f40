//! Property-based fuzzing, bounded so that it runs in every CI: workflow
//! loading on arbitrary and on YAML-shaped hostile text, the stdio line
//! triage on arbitrary bytes, and agent-given workflow names against a
//! workspace with a secret next to it. Properties: no panic, an answer for
//! every input, nothing outside the workspace read. Each test prints how
//! many inputs it tried; `CHECKRAIL_FUZZ_CASES` raises the count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use checkrail::mcp::stdio::{Verdict, triage};
use checkrail::workflow::read::ReadLimits;
use checkrail::workflow::{Catalog, parse};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases(default: u32) -> u32 {
    std::env::var("CHECKRAIL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Text made of the pieces YAML and JSON parsers care about, nested at random.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("- ".to_owned()),
        Just(": ".to_owned()),
        Just("\n".to_owned()),
        Just("  ".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("!!binary ".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("id: x\n".to_owned()),
        Just("phases:\n".to_owned()),
        Just("{{inputs.a}}".to_owned()),
        Just("{{evidence.p.f}}".to_owned()),
        "[a-z0-9_]{0,8}",
    ];
    prop::collection::vec(token, 0..400).prop_map(|t| t.concat())
}

#[test]
fn workflow_loading_never_panics_or_stalls() {
    let tried = AtomicUsize::new(0);
    let began = Instant::now();
    let n = cases(1500);
    runner(n)
        .run(&prop_oneof![yamlish(), any::<String>()], |text| {
            tried.fetch_add(1, Ordering::Relaxed);
            let _ = parse(&text, "fuzz.yaml");
            Ok(())
        })
        .unwrap();
    // The classic hostile shapes, deep and wide.
    for text in [
        format!("id: {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!(
            "a: &a [{}]\nb: [*a, *a, *a, *a, *a, *a, *a, *a]",
            "x,".repeat(10_000)
        ),
        "- ".repeat(50_000),
    ] {
        tried.fetch_add(1, Ordering::Relaxed);
        assert!(parse(&text, "hostile.yaml").is_err());
    }
    println!(
        "workflow loading: {} inputs in {:.1} s, 0 panics",
        tried.load(Ordering::Relaxed),
        began.elapsed().as_secs_f64()
    );
}

#[test]
fn every_line_gets_a_verdict() {
    let tried = AtomicUsize::new(0);
    let began = Instant::now();
    let request = (any::<u32>(), "[a-z/]{0,20}", any::<String>()).prop_map(|(id, method, junk)| {
        format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"{method}\",\"params\":{junk}}}")
            .into_bytes()
    });
    runner(cases(3000))
        .run(
            &prop_oneof![prop::collection::vec(any::<u8>(), 0..300), request],
            |line| {
                tried.fetch_add(1, Ordering::Relaxed);
                if let Verdict::Answer(text) = triage(&line) {
                    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                    prop_assert!(value["error"]["code"].is_i64());
                }
                Ok(())
            },
        )
        .unwrap();
    println!(
        "stdio triage: {} lines in {:.1} s, 0 panics",
        tried.load(Ordering::Relaxed),
        began.elapsed().as_secs_f64()
    );
}

#[test]
fn agent_given_workflow_names_never_leave_the_workspace() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("ws");
    std::fs::create_dir_all(root.join("flows")).unwrap();
    std::fs::write(base.path().join("secret.yaml"), "id: secret\nversion: 1.0.0\nname: S\ndescription: d\nphases:\n  - id: a\n    name: A\n    guidance: g\n").unwrap();
    std::os::unix::fs::symlink(
        base.path().join("secret.yaml"),
        root.join("flows/link.yaml"),
    )
    .unwrap();
    let catalog = Catalog::load(&[], Some(&root), ReadLimits::default());
    let tried = AtomicUsize::new(0);
    let began = Instant::now();
    let name = prop_oneof![
        "(\\.\\./|/|~/|flows/|\\./|[a-z]{1,5}/){0,6}(secret|link|x)\\.(yaml|yml|json)",
        any::<String>(),
    ];
    runner(cases(2000))
        .run(&name, |name| {
            tried.fetch_add(1, Ordering::Relaxed);
            if let Ok(workflow) = catalog.resolve_in(&name, &root) {
                prop_assert_ne!(
                    workflow.id,
                    "secret",
                    "read outside the workspace via {}",
                    name
                );
            }
            Ok(())
        })
        .unwrap();
    println!(
        "workflow names: {} inputs in {:.1} s, 0 reads outside the workspace",
        tried.load(Ordering::Relaxed),
        began.elapsed().as_secs_f64()
    );
}
