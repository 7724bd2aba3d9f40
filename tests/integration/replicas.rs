//! Three real `checkrail serve` replicas on one PostgreSQL database:
//! validations of the same sessions spread across them, one replica killed
//! with `kill -9` mid-run. No update is lost, no phase advances twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use checkrail::session::StoreTarget;
use serde_json::json;

use crate::support::{Client, Server, Sessions, Workspace, call, kill_9};

const PHASES: usize = 6;
const SESSIONS: usize = 8;

fn flow() -> String {
    let mut yaml = "id: relay\nversion: 1.0.0\nname: Relay\ndescription: d\nphases:\n".to_owned();
    for n in 1..=PHASES {
        yaml.push_str(&format!(
            "  - id: p{n}\n    name: P{n}\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: file-exists\n          config: {{ paths: [README.md] }}\n"
        ));
    }
    yaml
}

/// What the calls to one session saw.
#[derive(Default, Debug)]
struct Tally {
    /// Answers (each logged one validation).
    answered: usize,
    /// Answers that said the session advanced or completed.
    advanced: usize,
    /// Calls that failed without an answer, on the killed replica.
    lost_on_killed: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_on_one_database_lose_nothing_and_advance_once() {
    let (_, url) = crate::pg::fresh_database();
    let ws = Workspace::new()
        .workflow(&flow())
        .file("README.md", "# x\n")
        .build();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Server::on(ws.path()).store(&url).stdio().await);
    }
    let mut ids = Vec::new();
    for n in 0..SESSIONS {
        let started = call(
            &replicas[n % 3].0,
            "workflow_start",
            json!({"workflow": "relay"}),
        )
        .await
        .unwrap();
        ids.push(started["session"]["id"].as_str().unwrap().to_owned());
    }
    let (killed_pid, clients): (u32, Vec<Arc<Client>>) = {
        let pid = replicas[2].1;
        (
            pid,
            replicas.into_iter().map(|(c, _)| Arc::new(c)).collect(),
        )
    };

    // Every session is validated by a task on each replica at once, until
    // it completes; a replica is killed after some answers.
    let answers = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for id in &ids {
        for (replica, client) in clients.iter().enumerate() {
            let (client, id, answers) = (client.clone(), id.clone(), answers.clone());
            tasks.push(tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    match call(&client, "workflow_validate", json!({"session": id})).await {
                        Ok(out) => {
                            answers.fetch_add(1, Ordering::SeqCst);
                            tally.answered += 1;
                            assert_eq!(out["passed"], true, "{out}");
                            if out["advanced"] == true {
                                tally.advanced += 1;
                            }
                            if out["standing"]["session"]["status"] == "completed" {
                                break;
                            }
                        }
                        Err(e) if e.contains("completed") => break,
                        Err(e) => {
                            assert_eq!(replica, 2, "a surviving replica failed: {e}");
                            tally.lost_on_killed += 1;
                            break;
                        }
                    }
                }
                (id, tally)
            }));
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while answers.load(Ordering::SeqCst) < SESSIONS * 2 {
        assert!(std::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    kill_9(killed_pid);
    let answered_at_kill = answers.load(Ordering::SeqCst);

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for task in tasks {
        let (id, tally) = task.await.unwrap();
        let total = tallies.entry(id).or_default();
        total.answered += tally.answered;
        total.advanced += tally.advanced;
        total.lost_on_killed += tally.lost_on_killed;
    }
    assert!(
        answers.load(Ordering::SeqCst) > answered_at_kill,
        "the surviving replicas did nothing after the kill"
    );

    // The record, read by a fresh process-like open of the same database.
    let svc = Sessions::on(ws.path())
        .store(StoreTarget::Postgres(url.clone()))
        .open();
    let mut lost_total = 0;
    for (id, tally) in &tallies {
        let report = svc.verify(id, false).unwrap();
        assert!(report.ok, "{id}: {:?}", report.record.problems);
        let events = svc.events(id).unwrap();
        let logged = events
            .iter()
            .filter(|e| e.kind() == "validated" || e.kind() == "validation_failed")
            .count();
        // Every answered call is in the log; at most the calls cut off by
        // the kill were logged without an answer.
        assert!(
            logged >= tally.answered && logged <= tally.answered + tally.lost_on_killed,
            "{id}: {logged} validations logged for {tally:?}"
        );
        let mut advanced_from: Vec<String> = events
            .iter()
            .filter(|e| e.kind() == "advanced")
            .map(|e| e.details().to_string())
            .collect();
        let advances = advanced_from.len();
        advanced_from.sort();
        advanced_from.dedup();
        assert_eq!(advances, PHASES - 1, "{id}: {advances} advances");
        assert_eq!(
            advanced_from.len(),
            PHASES - 1,
            "{id}: a phase advanced twice"
        );
        let completed = events.iter().filter(|e| e.kind() == "completed").count();
        assert_eq!(completed, 1, "{id}: completed {completed} times");
        assert!(
            tally.advanced <= PHASES && tally.advanced + tally.lost_on_killed >= PHASES,
            "{id}: {tally:?}"
        );
        assert_eq!(svc.next(id).unwrap().session.status.as_str(), "completed");
        lost_total += tally.lost_on_killed;
    }
    assert!(
        lost_total <= SESSIONS,
        "more calls cut off than were in flight"
    );
}
