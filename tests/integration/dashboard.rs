//! The dashboard in a real headless browser (Debian's Chromium, driven by
//! Playwright from tests/e2e/dashboard.py) against a real `checkrail serve
//! --http`: sign-in, filters, findings at file:line, CSRF, approving a gate
//! with the `dashboard` channel recorded. Plus `checkrail dashboard` itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use checkrail::engine::Hooks;
use checkrail::service::Service;
use checkrail::service::ValidateRequest;
use checkrail::session::Status;
use checkrail::trusted::StateDir;
use checkrail::{Checkrail, Options};
use serde_json::{Map, Value};

use crate::support::{repo_root, shared_cache, workspace};

const BIN: &str = env!("CARGO_BIN_EXE_checkrail");
const PASSWORD: &str = "a long dashboard password";

const GATED: &str = "id: gated\nversion: 0.1.0\nname: Gated\ndescription: d\nphases:\n  - id: build\n    name: Build\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: compile\n          config: { toolchain: python }\n      approval:\n        prompt: Ship it?\n  - id: done\n    name: Done\n    guidance: g\n";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `args` and waits for the stderr line starting with `ready`;
/// returns the server and the rest of that line.
fn start(args: &[&str], state: &std::path::Path, ready: &str) -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("CHECKRAIL_CACHE_DIR", shared_cache())
        .env("CHECKRAIL_STATE_DIR", state)
        .env_remove("CHECKRAIL_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let server = Server(child);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(rest) = line.trim().strip_prefix(ready) {
            let rest = rest.to_owned();
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return (server, rest);
        }
    }
}

fn service(dir: &std::path::Path, state: &StateDir) -> Service {
    let engine = Checkrail::new(Options {
        cache_dir: Some(shared_cache()),
        workspace: Some(dir.to_owned()),
        workflow_dirs: vec![dir.join(".checkrail/workflows")],
        ..Options::default()
    })
    .unwrap();
    Service::open(Arc::new(engine), dir, state).unwrap()
}

#[test]
fn a_human_approves_a_gate_in_a_real_browser() {
    let python = std::env::var("CHECKRAIL_E2E_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ws = workspace(&[
        (".checkrail/workflows/gated.yaml", GATED),
        ("app.py", "def main():\n    return 1\n"),
        (
            "checkrail.toml",
            "[exec]\nallow = [\"python3\"]\n\n[approval]\nvia = [\"terminal\", \"dashboard\"]\n",
        ),
    ]);
    let state_dir = tempfile::tempdir().unwrap();
    let state = StateDir::at(state_dir.path()).unwrap();
    checkrail::dashboard::set_password(&state, PASSWORD).unwrap();

    // Two sessions: one waiting at its gate, one failing with a finding.
    let svc = service(ws.path(), &state);
    let gated = svc.start("gated", Map::new()).unwrap().session.id;
    let v = svc
        .validate(&ValidateRequest::new(&gated), &Hooks::default())
        .unwrap();
    assert_eq!(
        v.standing.session.status,
        Status::AwaitingApproval,
        "{:?}",
        v.report
    );
    std::fs::write(ws.path().join("app.py"), "def main(:\n    return 1\n").unwrap();
    let failing = svc.start("gated", Map::new()).unwrap().session.id;
    let v = svc
        .validate(&ValidateRequest::new(&failing), &Hooks::default())
        .unwrap();
    assert!(!v.passed);

    let workspace_arg = ws.path().display().to_string();
    let (_server, rest) = start(
        &[
            "serve",
            "--http",
            "127.0.0.1:0",
            "--workspace",
            &workspace_arg,
        ],
        state_dir.path(),
        "checkrail: MCP over streamable HTTP at ",
    );
    let base = rest.trim_end_matches("/mcp").to_owned();
    let out = Command::new(&python)
        .arg(repo_root().join("tests/e2e/dashboard.py"))
        .args([&base, PASSWORD, &gated, &failing])
        .output()
        .expect("run the browser script");
    assert!(
        out.status.success(),
        "browser script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["redirected_to"], "/ui/login", "{seen}");
    assert_eq!(seen["wrong_password_error"], true, "{seen}");
    assert_eq!(seen["after_sign_in"], "/ui/sessions", "{seen}");
    assert_eq!(seen["rows"], 2, "{seen}");
    assert_eq!(seen["filtered_rows"], 1, "{seen}");
    assert_eq!(seen["filtered_ids"], serde_json::json!([gated]), "{seen}");
    assert!(
        seen["failing_where"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "app.py:1"),
        "{seen}"
    );
    assert!(seen["failing_timeline"].as_u64().unwrap() >= 2, "{seen}");
    assert_eq!(seen["forged_status"], 403, "{seen}");
    assert_eq!(seen["gates"], 1, "{seen}");
    assert_eq!(
        seen["after_approve_url"],
        format!("/ui/sessions/{gated}"),
        "{seen}"
    );
    assert!(
        seen["notice"].as_str().unwrap().starts_with("Approved"),
        "{seen}"
    );
    // Approved: the session moved on to its last phase.
    assert_eq!(seen["status_after"], "active", "{seen}");
    assert_eq!(seen["gates_after"], 0, "{seen}");

    // The record says who decided and through which channel.
    let approved = svc
        .events(&gated)
        .unwrap()
        .into_iter()
        .find(|e| e.kind() == "approved")
        .expect("an approval event");
    assert_eq!(approved.details()["channel"], "dashboard");
    assert_eq!(approved.details()["note"], "looks right to me");
    assert!(
        svc.verify(&gated, false).unwrap().ok,
        "the record still verifies"
    );
}

fn get(port: u16, path: &str, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, response)
}

#[test]
fn the_local_dashboard_command_serves_and_guards_its_password() {
    let ws = workspace(&[]);
    let state_dir = tempfile::tempdir().unwrap();
    let workspace_arg = ws.path().display().to_string();
    let (_server, rest) = start(
        &[
            "dashboard",
            "--addr",
            "127.0.0.1:0",
            "--workspace",
            &workspace_arg,
        ],
        state_dir.path(),
        "checkrail: dashboard at http://",
    );
    let port: u16 = rest
        .trim_end_matches("/ui")
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (status, response) = get(port, "/ui/sessions", &format!("127.0.0.1:{port}"));
    assert_eq!(status, 303, "{response}");
    assert!(response.contains("location: /ui/login"), "{response}");
    let (status, body) = get(port, "/ui/login", &format!("127.0.0.1:{port}"));
    assert_eq!(status, 200);
    assert!(
        body.contains("checkrail dashboard --set-password"),
        "{body}"
    );
    // Another host name (DNS rebinding) is refused.
    assert_eq!(get(port, "/ui/login", "evil.example").0, 403);

    // Setting the password needs a human at a terminal.
    let out = Command::new(BIN)
        .args(["dashboard", "--set-password"])
        .env("CHECKRAIL_STATE_DIR", state_dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interactive terminal"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Off loopback it refuses to serve at all.
    let out = Command::new(BIN)
        .args([
            "dashboard",
            "--addr",
            "0.0.0.0:0",
            "--workspace",
            &workspace_arg,
        ])
        .env("CHECKRAIL_STATE_DIR", state_dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_workspace_that_does_not_allow_the_dashboard_refuses_its_decisions() {
    use checkrail::config::ApprovalChannel;
    use checkrail::service::Decision;

    let ws = workspace(&[
        (".checkrail/workflows/gated.yaml", GATED),
        ("app.py", "def main():\n    return 1\n"),
        ("checkrail.toml", "[exec]\nallow = [\"python3\"]\n"),
    ]);
    let state_dir = tempfile::tempdir().unwrap();
    let state = StateDir::at(state_dir.path()).unwrap();
    let svc = service(ws.path(), &state);
    let id = svc.start("gated", Map::new()).unwrap().session.id;
    let v = svc
        .validate(&ValidateRequest::new(&id), &Hooks::default())
        .unwrap();
    assert_eq!(v.standing.session.status, Status::AwaitingApproval);
    let decision = |channel| Decision {
        approve: true,
        by: "someone".to_owned(),
        channel,
        detail: None,
        note: None,
    };
    let refused = svc
        .decide(&id, &decision(ApprovalChannel::Dashboard))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("does not accept approvals through `dashboard`")
            && refused.contains("allows: terminal"),
        "{refused}"
    );
    let (session, _, _) = svc.gate(&id).unwrap();
    assert_eq!(
        session.status,
        Status::AwaitingApproval,
        "nothing was recorded"
    );
    // The honest channel still decides.
    let approved = svc
        .decide(&id, &decision(ApprovalChannel::Terminal))
        .unwrap();
    assert_eq!(approved.session.status, Status::Active);
}
