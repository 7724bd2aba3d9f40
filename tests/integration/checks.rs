//! `workflow_validate` with `wait: false` against real `checkrail serve`
//! processes: the answer comes before the rules end, workflow_next shows
//! the check running and then its result, the result survives a restart,
//! a server killed mid-check leaves it interrupted, and a replica sharing
//! a PostgreSQL store sees another's check as running.
//!
//! The checks are held: their first rule runs a script that ends only once
//! the test releases it, so "before the rules end" and "while it runs" are
//! facts, not timings.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Cli, Client, PATIENCE, Server, Workspace, call, kill_9, sh_wait_for, text};

/// How long a check lease lasts (`CHECKRAIL_CHECK_LEASE_MS`).
const LEASE: Duration = Duration::from_millis(900);

const FLOW: &str = r#"id: slow
version: 1.0.0
name: Slow
description: a checkpoint that outlasts a client's patience
phases:
  - id: suite
    name: Suite
    guidance: make ready.txt
    checkpoint:
      rules:
        - rule: compile
          timeout_ms: 120000
          config: { toolchain: custom, command: { program: sh, args: [hold.sh] } }
        - rule: file-exists
          config: { paths: [ready.txt] }
  - id: ship
    name: Ship
    guidance: done
"#;

/// What holds every check of the `slow` workflow running until the test
/// releases it: a file outside the workspace its script waits for.
struct Hold {
    dir: tempfile::TempDir,
}

impl Hold {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn release_file(&self) -> std::path::PathBuf {
        self.dir.path().join("release")
    }

    /// A workspace with the `slow` workflow, its script and the grant to
    /// run it.
    fn workspace(&self) -> Workspace {
        Workspace::new()
            .workflow(FLOW)
            .file("hold.sh", sh_wait_for(&self.release_file()))
            .grant("sh")
    }

    /// Lets every held check, and every later one, run to its end.
    fn release(&self) {
        std::fs::write(self.release_file(), "").unwrap();
    }
}

/// A server on `dir` with the fixture rules and short check leases.
fn server(dir: &Path) -> Server {
    Server::on(dir)
        .fixture_rules()
        .env("CHECKRAIL_CHECK_LEASE_MS", LEASE.as_millis().to_string())
}

/// workflow_next until `done` holds of it (at most the patience).
async fn next_until(client: &Client, id: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
    let give_up = Instant::now() + PATIENCE;
    loop {
        let next = call(client, "workflow_next", json!({ "session": id }))
            .await
            .unwrap();
        if done(&next) {
            return next;
        }
        assert!(Instant::now() < give_up, "never came: {next}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn status(next: &Value) -> &str {
    next["check"]["status"].as_str().unwrap_or("none")
}

async fn start(client: &Client) -> String {
    let started = call(client, "workflow_start", json!({ "workflow": "slow" }))
        .await
        .unwrap();
    started["session"]["id"].as_str().unwrap().to_owned()
}

/// Starts a check; its answer.
async fn validate_detached(client: &Client, id: &str) -> Value {
    call(
        client,
        "workflow_validate",
        json!({ "session": id, "phase": "suite", "wait": false }),
    )
    .await
    .unwrap()
}

fn events_of(state: &Value, kind: &str) -> Vec<Value> {
    state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

fn verified(dir: &Path, id: &str) {
    let out = Cli::new(&["session", "verify", id, "--json"])
        .workspace(dir)
        .output();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_answers_at_once_then_reports_its_result_which_survives_a_restart() {
    let hold = Hold::new();
    let ws = hold.workspace().build();
    let root = ws.path();
    let (client, _) = server(root).stdio().await;
    let id = start(&client).await;

    // The check is held: an answer now came before its rules ended.
    let answer = validate_detached(&client, &id).await;
    let check = answer["check"]["id"].as_str().unwrap().to_owned();
    assert!(check.starts_with("chk-"), "{answer}");
    assert_eq!(answer["check"]["status"], "running", "{answer}");
    assert_eq!(answer["passed"], false);
    assert!(answer.get("report").is_none(), "{answer}");
    assert!(
        answer["standing"]["next_step"]
            .as_str()
            .unwrap()
            .contains("workflow_next"),
        "{answer}"
    );

    // Asking again while it runs joins it: same id, nothing new started.
    let again = validate_detached(&client, &id).await;
    assert_eq!(again["check"]["id"], check.as_str(), "{again}");
    assert!(
        again["standing"]["next_step"]
            .as_str()
            .unwrap()
            .contains("already running"),
        "{again}"
    );

    let running = call(&client, "workflow_next", json!({ "session": id }))
        .await
        .unwrap();
    assert_eq!(status(&running), "running", "{running}");
    assert_eq!(running["check"]["phase"], "suite");
    assert_eq!(running["session"]["running_check"]["id"], check.as_str());
    assert!(
        running["next_step"]
            .as_str()
            .unwrap()
            .contains("is running"),
        "{running}"
    );

    // Released, and ready.txt is missing: the check fails, and says so.
    hold.release();
    let failed = next_until(&client, &id, |n| status(n) != "running").await;
    assert_eq!(status(&failed), "failed", "{failed}");
    assert_eq!(failed["check"]["id"], check.as_str());
    assert_eq!(failed["session"]["phase_id"], "suite");
    assert_eq!(failed["session"]["attempts"], 1);
    assert!(failed["session"].get("running_check").is_none(), "{failed}");
    assert!(
        failed["next_step"].as_str().unwrap().contains("failed"),
        "{failed}"
    );

    // Fixed: a second check passes and advances, once.
    std::fs::write(root.join("ready.txt"), "ok").unwrap();
    let second = validate_detached(&client, &id).await;
    let second = second["check"]["id"].as_str().unwrap().to_owned();
    assert_ne!(second, check);
    let passed = next_until(&client, &id, |n| status(n) != "running").await;
    assert_eq!(status(&passed), "passed", "{passed}");
    assert_eq!(passed["check"]["id"], second.as_str());
    assert_eq!(passed["session"]["phase_id"], "ship", "{passed}");
    client.cancel().await.unwrap();

    // A new server finds the results in the store, by check id.
    let (client, _) = server(root).stdio().await;
    let state = call(&client, "workflow_state", json!({ "session": id }))
        .await
        .unwrap();
    assert_eq!(state["check"]["id"], second.as_str(), "{state}");
    assert_eq!(state["check"]["status"], "passed");
    let started = events_of(&state, "check_started");
    assert_eq!(started.len(), 2, "the joined call started nothing: {state}");
    assert_eq!(started[0]["data"]["check"], check.as_str());
    let failed = events_of(&state, "validation_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["data"]["check"], check.as_str());
    assert!(
        failed[0]["data"]["summary"]
            .as_str()
            .unwrap()
            .contains("failed"),
        "the full report is recorded: {state}"
    );
    let validated = events_of(&state, "validated");
    assert_eq!(validated.len(), 1);
    assert_eq!(validated[0]["data"]["check"], second.as_str());
    assert_eq!(events_of(&state, "advanced").len(), 1);
    client.cancel().await.unwrap();
    verified(root, &id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_check_leaves_it_interrupted_and_a_new_check_runs() {
    let hold = Hold::new();
    let ws = hold.workspace().file("ready.txt", "ok").build();
    let root = ws.path();
    let (client, pid) = server(root).stdio().await;
    let id = start(&client).await;
    // Held: the server is killed while the check runs.
    let answer = validate_detached(&client, &id).await;
    let check = answer["check"]["id"].as_str().unwrap().to_owned();
    let owner = answer["check"]["owner"].as_str().unwrap().to_owned();
    assert!(owner.contains(&format!("/{pid}/")), "{owner} vs pid {pid}");

    kill_9(pid);
    drop(client);

    let (client, _) = server(root).stdio().await;
    let interrupted = next_until(&client, &id, |n| status(n) != "running").await;
    assert_eq!(status(&interrupted), "interrupted", "{interrupted}");
    assert_eq!(interrupted["check"]["id"], check.as_str());
    let step = interrupted["next_step"].as_str().unwrap();
    assert!(
        step.contains("interrupted") && step.contains("workflow_validate again"),
        "{step}"
    );
    assert_eq!(interrupted["session"]["phase_id"], "suite");

    // Validating again replaces it and, released, runs to the end.
    let again = validate_detached(&client, &id).await;
    let second = again["check"]["id"].as_str().unwrap().to_owned();
    assert_ne!(second, check);
    assert_eq!(again["check"]["status"], "running", "{again}");
    hold.release();
    let passed = next_until(&client, &id, |n| status(n) != "running").await;
    assert_eq!(status(&passed), "passed", "{passed}");
    assert_eq!(passed["session"]["phase_id"], "ship");
    let state = call(&client, "workflow_state", json!({ "session": id }))
        .await
        .unwrap();
    let started = events_of(&state, "check_started");
    assert_eq!(started.len(), 2, "{state}");
    assert_eq!(started[1]["data"]["replaces"], check.as_str());
    client.cancel().await.unwrap();
    verified(root, &id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_sees_another_live_replicas_check_as_running() {
    let (_, url) = crate::pg::fresh_database();
    let hold = Hold::new();
    let ws = hold.workspace().file("ready.txt", "ok").build();
    let root = ws.path();
    let (first, _) = server(root).store(&url).stdio().await;
    let (second, _) = server(root).store(&url).stdio().await;
    let id = start(&first).await;
    let answer = validate_detached(&first, &id).await;
    let check = answer["check"]["id"].as_str().unwrap().to_owned();
    let began = Instant::now();

    // The check is held while several lease lengths pass: the other
    // replica keeps reading it as running, never as interrupted. Then it
    // is released and ends.
    let mut owners = Vec::new();
    let last = next_until(&second, &id, |n| {
        if status(n) == "running" {
            assert_eq!(n["check"]["id"], check.as_str(), "{n}");
            owners.push(n["check"]["owner"].as_str().unwrap().to_owned());
            if owners.len() >= 10 && began.elapsed() >= 3 * LEASE {
                hold.release();
            }
        }
        status(n) != "running"
    })
    .await;
    assert!(
        owners.len() >= 10,
        "the held check ended after {} sightings: {last}",
        owners.len()
    );
    assert!(owners.iter().all(|o| *o == owners[0]));
    assert_eq!(status(&last), "passed", "{last}");
    assert_eq!(last["check"]["id"], check.as_str());
    assert_eq!(last["session"]["phase_id"], "ship");
    first.cancel().await.unwrap();
    second.cancel().await.unwrap();
}

/// A raw stdio client that declares the Tasks extension: `workflow_validate`
/// answers with a task at once, `tasks/get` reports it working and then the
/// validation's result; a task cannot be cancelled half way.
#[test]
fn a_client_with_the_tasks_extension_gets_a_task_and_polls_it() {
    let hold = Hold::new();
    let ws = hold.workspace().build();
    let mut raw = Server::on(ws.path())
        .fixture_rules()
        .raw_declaring(&json!({"extensions": {"io.modelcontextprotocol/tasks": {}}}));
    let init = raw.initialized.clone();
    assert!(
        init["result"]["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"].is_object(),
        "{init}"
    );
    let mut ask = |method: &str, params: Value| raw.ask(method, params);
    let started = ask(
        "tools/call",
        json!({"name": "workflow_start", "arguments": {"workflow": "slow"}}),
    );
    let session = started["result"]["structuredContent"]["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let poll = |ask: &mut dyn FnMut(&str, Value) -> Value, task: &str| -> Value {
        let give_up = Instant::now() + PATIENCE;
        loop {
            let state = ask("tasks/get", json!({"taskId": task}));
            if state["result"]["status"] != "working" {
                return state;
            }
            assert!(Instant::now() < give_up, "never finished: {state}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    // The check is held: the task came before its rules ended.
    let created = ask(
        "tools/call",
        json!({"name": "workflow_validate", "arguments": {"session": session, "phase": "suite"}}),
    );
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    assert_eq!(created["result"]["status"], "working", "{created}");
    let task = created["result"]["taskId"].as_str().unwrap().to_owned();
    let refused = ask("tasks/cancel", json!({"taskId": task}));
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot be cancelled")),
        "{refused}"
    );
    let working = ask("tasks/get", json!({"taskId": task}));
    assert_eq!(working["result"]["status"], "working", "{working}");
    hold.release();
    let done = poll(&mut ask, &task);
    assert_eq!(done["result"]["status"], "completed", "{done}");
    let result = &done["result"]["result"]["structuredContent"];
    assert_eq!(result["passed"], false, "{done}");
    assert!(
        result["report"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["findings"].as_array().is_some_and(|f| !f.is_empty())),
        "{done}"
    );

    // Fixed: the next task passes and the session moves on, once.
    std::fs::write(ws.path().join("ready.txt"), "ok\n").unwrap();
    let created = ask(
        "tools/call",
        json!({"name": "workflow_validate", "arguments": {"session": session, "phase": "suite"}}),
    );
    let task = created["result"]["taskId"].as_str().unwrap().to_owned();
    let done = poll(&mut ask, &task);
    let result = &done["result"]["result"]["structuredContent"];
    assert_eq!(
        (result["passed"].clone(), result["advanced"].clone()),
        (json!(true), json!(true)),
        "{done}"
    );
    assert_eq!(result["standing"]["session"]["phase_id"], "ship", "{done}");
    // A waited call still answers in its request.
    let waited = ask(
        "tools/call",
        json!({"name": "workflow_validate", "arguments": {"session": session, "phase": "suite", "wait": true}}),
    );
    assert!(
        waited["result"]["structuredContent"].is_object(),
        "{waited}"
    );
    let unknown = ask("tasks/get", json!({"taskId": "nope"}));
    assert!(unknown["error"].is_object(), "{unknown}");
}

/// Processes running `hold.sh` in `root` now (not counting the moment a
/// script's shell has forked its `sleep` and the child still looks like
/// the script).
fn holds_running(root: &Path) -> usize {
    let root = root.canonicalize().unwrap();
    let holding = |pid: &str| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains("hold.sh")
            && std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == root)
    };
    let parent = |pid: &str| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .map(|p| p.trim().to_owned())
            .unwrap_or_default()
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| holding(pid) && !holding(&parent(pid)))
        .count()
}

/// A field of `/proc/<pid>/status` (`Threads`, `VmRSS` in kB).
fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_detached_checks_runs_within_the_servers_slots() {
    const FLOOD: usize = 200;
    let hold = Hold::new();
    let ws = hold
        .workspace()
        .config("\n[checks]\nmax_running = 2\n")
        .build();
    let root = ws.path();
    std::fs::write(root.join("ready.txt"), "ok").unwrap();
    let (client, pid) = server(root).stdio().await;
    let threads_before = status_field(pid, "Threads");
    let rss_before = status_field(pid, "VmRSS");
    let mut ids = Vec::new();
    let (mut most_programs, mut most_threads) = (0, 0);
    for _ in 0..FLOOD {
        let id = start(&client).await;
        let answer = validate_detached(&client, &id).await;
        assert_eq!(answer["check"]["status"], "running", "{answer}");
        ids.push(id);
        most_programs = most_programs.max(holds_running(root));
        most_threads = most_threads.max(status_field(pid, "Threads"));
    }
    // Two run (held); the rest wait in line, and say so.
    let give_up = Instant::now() + PATIENCE;
    while holds_running(root) < 2 {
        assert!(
            Instant::now() < give_up,
            "the first two checks never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = call(
        &client,
        "workflow_next",
        json!({ "session": ids.last().unwrap() }),
    )
    .await
    .unwrap();
    let progress = last["check"]["progress"].as_str().unwrap_or_default();
    assert!(progress.starts_with("queued: "), "{last}");
    assert!(progress.contains("runs 2 at once"), "{last}");
    // Everything answers once released.
    hold.release();
    for id in &ids {
        let give_up = Instant::now() + PATIENCE * 3;
        loop {
            most_programs = most_programs.max(holds_running(root));
            most_threads = most_threads.max(status_field(pid, "Threads"));
            let next = call(&client, "workflow_next", json!({ "session": id }))
                .await
                .unwrap();
            if status(&next) != "running" {
                assert_eq!(status(&next), "passed", "{next}");
                break;
            }
            assert!(Instant::now() < give_up, "never answered: {next}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let rss_after = status_field(pid, "VmRSS");
    assert!(
        most_programs <= 2,
        "{most_programs} check programs ran at once"
    );
    eprintln!(
        "flood of {FLOOD}: at most {most_programs} check programs at once; threads {threads_before} -> at most {most_threads}; RSS {rss_before} -> {rss_after} kB"
    );
    // Bounded by the slots, not the flood: two check workers, each check's
    // rule workers and its programs' output readers, the lease keeper, the
    // runtime's blocking threads for the calls (200 checks once made 872).
    assert!(
        most_threads <= threads_before + 24,
        "threads grew from {threads_before} to {most_threads}"
    );
    assert!(
        rss_after < rss_before + 40 * 1024,
        "RSS grew from {rss_before} kB to {rss_after} kB"
    );
    client.cancel().await.unwrap();
}
