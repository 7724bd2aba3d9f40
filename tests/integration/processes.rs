//! Real `checkrail serve` processes: state survives `kill -9` at any moment,
//! and two servers on one workspace never advance a session twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{PATIENCE, Server, Workspace, call, kill_9, session_store};

#[tokio::test(flavor = "multi_thread")]
async fn state_survives_kill_9_at_any_moment() {
    let ws = Workspace::new().build();
    let (client, _) = Server::on(ws.path()).stdio().await;
    let id = call(
        &client,
        "workflow_start",
        json!({"workflow": "project-basics"}),
    )
    .await
    .unwrap()["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    client.cancel().await.unwrap();

    for round in 0..6u64 {
        let (client, pid) = Server::on(ws.path()).stdio().await;
        let answered = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (id, answered) = (id.clone(), answered.clone());
            tokio::spawn(async move {
                // Failing validations, each one a state change plus an event.
                while call(&client, "workflow_validate", json!({"session": id}))
                    .await
                    .is_ok()
                {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        // Once a validation got through, a different moment each round.
        let give_up = Instant::now() + PATIENCE;
        while answered.load(Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < give_up,
                "round {round}: no validation answered in {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(37 * round)).await;
        kill_9(pid);
        let _ = worker.await;

        // The database is intact and the state row agrees with the log.
        let store = session_store(ws.path());
        assert!(
            store.verify(&id).unwrap().verified,
            "round {round}: record does not verify"
        );
        let (session, _, _) = store.get(&id).unwrap();
        let failures = store
            .events(&id)
            .unwrap()
            .iter()
            .filter(|e| e.kind() == "validation_failed")
            .count();
        assert_eq!(
            session.attempts as usize, failures,
            "round {round}: state and log disagree"
        );
        assert!(
            failures > 0,
            "round {round}: a validation answered before the kill is not in the record"
        );
    }

    // A restarted server resumes the session and can finish the phase.
    std::fs::write(ws.path().join("README.md"), "# Demo\n\n## Usage\n").unwrap();
    let (client, _) = Server::on(ws.path()).stdio().await;
    let out = call(
        &client,
        "workflow_validate",
        json!({"session": id, "phase": "readme"}),
    )
    .await
    .unwrap();
    assert_eq!(out["advanced"], true);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_never_advance_a_phase_twice() {
    let ws = Workspace::new()
        .file("README.md", "# Demo\n\n## Usage\n")
        .build();
    let (a, _) = Server::on(ws.path()).stdio().await;
    let (b, _) = Server::on(ws.path()).stdio().await;
    for _ in 0..5 {
        let id = call(&a, "workflow_start", json!({"workflow": "project-basics"}))
            .await
            .unwrap()["session"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let args = json!({"session": id});
        let (x, y) = tokio::join!(
            call(&a, "workflow_validate", args.clone()),
            call(&b, "workflow_validate", args.clone())
        );
        let advanced = [x.unwrap(), y.unwrap()]
            .iter()
            .filter(|r| r["advanced"] == true)
            .count();
        assert!(advanced <= 1, "both servers advanced the session");
        let state = call(&a, "workflow_state", json!({"session": id}))
            .await
            .unwrap();
        let advances = state["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "advanced")
            .count();
        assert_eq!(advances, 1, "exactly one advance recorded: {state}");
        assert_eq!(state["sessions"][0]["phase_id"], "legal-and-history");
    }
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
}
