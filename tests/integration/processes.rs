//! Real `checkrail serve` processes: state survives `kill -9` at any moment,
//! and two servers on one workspace never advance a session twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::support::{PATIENCE, shared_cache, workspace};

const BIN: &str = env!("CARGO_BIN_EXE_checkrail");

pub(crate) type Client = RunningService<RoleClient, ()>;

pub(crate) async fn spawn(dir: &std::path::Path) -> (Client, u32) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("serve")
        .arg("--workspace")
        .arg(dir)
        .env("CHECKRAIL_CACHE_DIR", shared_cache())
        .env("CHECKRAIL_STATE_DIR", crate::support::state_dir());
    let transport = TokioChildProcess::new(cmd).unwrap();
    let pid = transport.id().unwrap();
    (().serve(transport).await.unwrap(), pid)
}

pub(crate) async fn call(client: &Client, tool: &str, args: Value) -> Result<Value, String> {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().unwrap().clone());
    let result = client.call_tool(params).await.map_err(|e| e.to_string())?;
    if result.is_error == Some(true) {
        return Err(format!("{:?}", result.content));
    }
    Ok(result.structured_content.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn state_survives_kill_9_at_any_moment() {
    let ws = workspace(&[]);
    let (client, _) = spawn(ws.path()).await;
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
        let (client, pid) = spawn(ws.path()).await;
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
        let killed = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let _ = worker.await;

        // The database is intact and the state row agrees with the log.
        let workspace =
            checkrail::workspace::Workspace::open(ws.path(), &crate::support::state()).unwrap();
        let store = checkrail::session::open_store(
            &checkrail::session::StoreTarget::default(),
            &workspace.state_dir().join("sessions.db"),
            workspace.root(),
            workspace.key().clone(),
        )
        .unwrap();
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
    let (client, _) = spawn(ws.path()).await;
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
    let ws = workspace(&[("README.md", "# Demo\n\n## Usage\n")]);
    let (a, _) = spawn(ws.path()).await;
    let (b, _) = spawn(ws.path()).await;
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
