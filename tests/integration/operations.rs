//! What operators see: `/healthz`, `/readyz` and `/metrics` of `checkrail
//! serve --http`, and progress heartbeats while a quiet rule runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use checkrail::session::StoreTarget;
use serde_json::{Value, json};

use crate::support::{Cli, HttpResponse, Server, Session, Sessions, Workspace, sh_wait_for};

const TOKEN: &str = "ops-token-0123456789abcdef";
const PATIENCE: Duration = Duration::from_secs(120);

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn probes_and_metrics_over_http() {
    let ws = Workspace::new()
        .file("README.md", "# Demo\n\n## Usage\n\nRun it.\n")
        .build();
    let server = Server::on(ws.path()).http("127.0.0.1:0");

    let HttpResponse { status, body, .. } = server.request("GET", "/healthz", &[], "");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let HttpResponse { status, body, .. } = server.request("GET", "/readyz", &[], "");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with("ready: ") && body.contains("rules loaded"),
        "{body}"
    );
    // A page of another site that rebinds its name to loopback gets
    // nothing, from the probes or the metrics.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let foreign = server.request("GET", path, &[("Host", "evil.example")], "");
        assert_eq!(foreign.status, 403, "{path}: {}", foreign.body);
        let cross = server.request("GET", path, &[("Origin", "http://evil.example")], "");
        assert_eq!(cross.status, 403, "{path}: {}", cross.body);
    }

    let session = server.mcp_session();
    let call = |id: u32, name: &str, arguments: Value| {
        let response = server.post_mcp(
            Some(&session),
            &json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name,"arguments":arguments}}),
        );
        assert!(
            (200..300).contains(&response.status),
            "{}\n{}",
            response.head,
            response.body
        );
        response.answer().expect("an answer")
    };
    let failed = call(2, "workflow_start", json!({"workflow": "no-such-flow"}));
    assert_eq!(failed["result"]["isError"], true, "{failed}");
    let started = call(3, "workflow_start", json!({"workflow": "project-basics"}));
    let id = started["result"]["structuredContent"]["session"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    let validated = call(4, "workflow_validate", json!({"session": id}));
    assert!(validated.get("result").is_some(), "{validated}");

    let HttpResponse {
        status,
        head,
        body: text,
    } = server.request("GET", "/metrics", &[], "");
    assert_eq!(status, 200, "{text}");
    assert!(
        head.to_lowercase().contains("application/openmetrics-text"),
        "{head}"
    );
    assert_eq!(
        metric(
            &text,
            "checkrail_tool_calls_total{tool=\"workflow_start\",outcome=\"error\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "checkrail_tool_calls_total{tool=\"workflow_start\",outcome=\"ok\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "checkrail_validate_duration_seconds_count"),
        Some(1.0),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "checkrail_rule_duration_seconds_count{rule=\"file-exists\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let hits = metric(&text, "checkrail_outcome_cache_total{result=\"hit\"}").unwrap_or(0.0);
    let misses = metric(&text, "checkrail_outcome_cache_total{result=\"miss\"}").unwrap_or(0.0);
    assert!(hits + misses >= 1.0, "{text}");
    assert!(
        metric(&text, "checkrail_sessions{status=\"active\"}").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        metric(&text, "checkrail_approvals_waiting").is_some(),
        "{text}"
    );
}

#[test]
fn metrics_need_the_token_but_probes_do_not() {
    let ws = Workspace::new().build();
    let server = Server::on(ws.path()).token(TOKEN).http("0.0.0.0:0");
    assert_eq!(server.request("GET", "/healthz", &[], "").status, 200);
    assert_eq!(server.request("GET", "/readyz", &[], "").status, 200);
    assert_eq!(server.request("GET", "/metrics", &[], "").status, 401);
    let bearer = format!("Bearer {TOKEN}");
    let HttpResponse {
        status, body: text, ..
    } = server.request("GET", "/metrics", &[("Authorization", &bearer)], "");
    assert_eq!(status, 200);
    assert!(text.contains("checkrail_sessions"), "{text}");
}

#[test]
fn a_quiet_rule_still_sends_progress() {
    // The rule's program prints nothing and ends only once the test has
    // seen three heartbeats.
    let signals = tempfile::tempdir().unwrap();
    let release = signals.path().join("release");
    let ws = Workspace::new()
        .workflow("id: quiet\nversion: 0.1.0\nname: Q\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: compile\n          timeout_ms: 120000\n          config: { toolchain: custom, command: { program: sh, args: [quiet.sh] } }\n")
        .file("quiet.sh", sh_wait_for(&release))
        .grant("sh")
        .build();
    let mut raw = Server::on(ws.path())
        .env("CHECKRAIL_PROGRESS_INTERVAL_MS", "200")
        .raw();
    let id = raw.start_session("quiet");
    raw.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"workflow_validate","arguments":{"session": id},"_meta":{"progressToken":"t"}}}).to_string().as_bytes());
    let mut values = Vec::new();
    let mut heartbeats = 0;
    let answer = loop {
        let value = raw.next_message();
        if value["method"] == "notifications/progress" {
            values.push(value["params"]["progress"].as_f64().unwrap());
            if value["params"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("still running"))
            {
                heartbeats += 1;
                if heartbeats == 3 {
                    std::fs::write(&release, "").unwrap();
                }
            }
        } else if value["id"] == 2 {
            break value;
        }
    };
    // Passed: the program was released, not given up on.
    assert_eq!(
        answer["result"]["structuredContent"]["passed"], true,
        "{answer}"
    );
    assert!(heartbeats >= 3, "{heartbeats} heartbeats in {values:?}");
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "progress strictly increases: {values:?}"
    );
}

#[test]
fn stats_read_pass_rates_attempts_failures_and_cache_hits_from_the_store() {
    let ws = Workspace::new()
        .workflow("id: two\nversion: 0.1.0\nname: Two\ndescription: d\nphases:\n  - id: readme\n    name: R\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: file-exists\n          inputs: [README.md]\n          config: { paths: [README.md] }\n  - id: license\n    name: L\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: file-exists\n          inputs: [LICENSE]\n          config: { paths: [LICENSE] }\n  - id: done\n    name: D\n    guidance: g\n")
        .build();
    let dir = ws.path();
    let state_dir = tempfile::tempdir().unwrap();
    let svc = Sessions::on(dir)
        .installed_packs()
        .state_dir(state_dir.path())
        .open();
    // Session 1: readme fails once, then passes; license passes first try.
    let one = Session::start(&svc, "two");
    assert!(!one.validate().passed);
    std::fs::write(dir.join("README.md"), "# R\n").unwrap();
    assert!(one.validate().advanced);
    std::fs::write(dir.join("LICENSE"), "MIT\n").unwrap();
    assert!(one.validate().advanced);
    // Session 2: both pass first try, from the cache: the files are
    // unchanged (and dated back, out of the racy-timestamp window).
    let aged = std::process::Command::new("touch")
        .args([
            "-d",
            "2 minutes ago",
            "README.md",
            "LICENSE",
            ".checkrail/workflows/two.yaml",
        ])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(aged.success());
    let three = Session::start(&svc, "two");
    for _ in 0..2 {
        let v = three.validate();
        assert!(v.advanced && v.report.unwrap().rules[0].cached);
    }
    let two = Session::start(&svc, "two");
    assert!(two.validate().advanced);
    assert!(two.validate().advanced);

    let run_stats = |args: &[&str]| {
        Cli::new(&[&["stats"], args].concat())
            .workspace(dir)
            .state_dir(state_dir.path())
            .output()
    };
    let out = run_stats(&["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["sessions"], 3, "{stats:#}");
    let wf = &stats["workflows"][0];
    assert_eq!(wf["workflow"], "two");
    assert_eq!(wf["by_status"]["active"], 3, "{wf:#}");
    let readme = &wf["phases"][0];
    assert_eq!(readme["phase"], "readme");
    assert_eq!(
        (readme["runs"].as_u64(), readme["passed_first_try"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(readme["attempts"], 4);
    assert!(
        readme["median_seconds"].as_f64().is_some_and(|s| s >= 0.0),
        "{readme}"
    );
    let license = &wf["phases"][1];
    assert_eq!(license["first_try_rate"], 1.0);
    assert_eq!(wf["top_failing_rules"][0]["what"], "file-exists");
    assert_eq!(wf["top_failing_rules"][0]["count"], 1);
    assert!(
        wf["top_findings"][0]["what"]
            .as_str()
            .unwrap()
            .contains("README.md"),
        "{wf:#}"
    );
    assert_eq!(wf["rule_results"], 7);
    assert!(wf["cache_hit_rate"].as_f64().unwrap() > 0.0, "{wf:#}");

    let text = run_stats(&[]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("two — 3 sessions (3 active)"), "{text}");
    assert!(text.contains("readme"), "{text}");
}

/// A minimal OTLP/HTTP collector: accepts POSTs and keeps their bodies.
fn collector() -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    (port, rx)
}

#[test]
fn traces_go_to_an_otlp_collector_when_asked() {
    let (port, bodies) = collector();
    let ws = Workspace::new()
        .workflow("id: traced\nversion: 0.1.0\nname: T\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: file-exists\n          config: { paths: [README.md] }\n")
        .build();
    let mut raw = Server::on(ws.path())
        .arg("--otlp-endpoint")
        .arg(format!("http://127.0.0.1:{port}"))
        .raw();
    let refused = raw.call(1, "workflow_start", json!({"workflow": "nope"}));
    assert_eq!(refused["result"]["isError"], true);
    let started = raw.call(2, "workflow_start", json!({"workflow": "traced"}));
    let id = started["result"]["structuredContent"]["session"]["id"].clone();
    raw.call(3, "workflow_validate", json!({"session": id}));
    let status = raw.exit_within(PATIENCE).expect("the server exits");
    assert!(status.success());

    // Every span the server exported (it flushes before it exits).
    let mut spans = Vec::new();
    while let Ok(body) = bodies.recv_timeout(Duration::from_secs(1)) {
        let batch: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        for resource in batch["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                spans.extend(scope["spans"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    let attribute = |span: &Value, key: &str| -> Option<Value> {
        span["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"].clone())
    };
    let named = |name: &str| {
        spans
            .iter()
            .filter(|s| s["name"] == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let validate = named("tools/call workflow_validate");
    assert_eq!(validate.len(), 1, "{spans:#?}");
    let validate = &validate[0];
    assert_eq!(
        attribute(validate, "mcp.method.name").unwrap()["stringValue"],
        "tools/call"
    );
    assert_eq!(
        attribute(validate, "gen_ai.tool.name").unwrap()["stringValue"],
        "workflow_validate"
    );
    let rule = &named("rule file-exists")[0];
    assert_eq!(rule["parentSpanId"], validate["spanId"], "{rule:#}");
    assert_eq!(rule["traceId"], validate["traceId"]);
    assert_eq!(
        attribute(rule, "checkrail.rule.status").unwrap()["stringValue"],
        "failed"
    );
    let start = named("tools/call workflow_start");
    let errored: Vec<_> = start
        .iter()
        .filter_map(|s| attribute(s, "error.type"))
        .collect();
    assert_eq!(errored.len(), 1, "{start:#?}");
    assert_eq!(errored[0]["stringValue"], "tool_error");
}

#[test]
fn stats_read_a_postgresql_store_too() {
    let (_, url) = crate::pg::fresh_database();
    let ws = Workspace::new().build();
    let dir = ws.path();
    let state_dir = tempfile::tempdir().unwrap();
    let svc = Sessions::on(dir)
        .installed_packs()
        .state_dir(state_dir.path())
        .store(StoreTarget::Postgres(url.clone()))
        .open();
    assert!(!Session::start(&svc, "project-basics").validate().passed);

    let stats = |store: &str| -> Value {
        let out = Cli::new(&["stats", "--json", "--store", store])
            .workspace(dir)
            .state_dir(state_dir.path())
            .output();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let on_postgres = stats(&url);
    assert_eq!(on_postgres["sessions"], 1, "{on_postgres:#}");
    assert_eq!(on_postgres["workflows"][0]["workflow"], "project-basics");
    assert_eq!(on_postgres["workflows"][0]["phases"][0]["attempts"], 1);
    // The default store of the same state directory holds none of them.
    assert_eq!(stats("sqlite")["sessions"], 0);
}
