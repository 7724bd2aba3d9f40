//! The dashboard in a real headless browser (Debian's Chromium, driven by
//! Playwright from tests/e2e/dashboard.py) against a real `checkrail serve
//! --http`: sign-in, filters, findings at file:line, CSRF, approving a gate
//! with the `dashboard` channel recorded. Plus `checkrail dashboard` itself.

use std::path::Path;
use std::process::Command;

use checkrail::service::Service;
use checkrail::session::Status;
use checkrail::trusted::StateDir;
use serde_json::Value;

use crate::support::{Cli, Server, Session, Sessions, Workspace, http_request, repo_root};

const PASSWORD: &str = "a long dashboard password";

const GATED: &str = "id: gated\nversion: 0.1.0\nname: Gated\ndescription: d\nphases:\n  - id: build\n    name: Build\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: compile\n          config: { toolchain: python }\n      approval:\n        prompt: Ship it?\n  - id: done\n    name: Done\n    guidance: g\n";

/// A workspace with [`GATED`] and its app, python3 granted, and `config`
/// in its checkrail.toml.
fn gated_project(config: &str) -> tempfile::TempDir {
    Workspace::new()
        .workflow(GATED)
        .file("app.py", "def main():\n    return 1\n")
        .grant("python3")
        .config(config)
        .build()
}

/// A session service on `dir` with its state in `state_dir`, reading the
/// workspace as the CLI does.
fn service(dir: &Path, state_dir: &Path) -> Service {
    Sessions::on(dir)
        .installed_packs()
        .state_dir(state_dir)
        .open()
}

#[test]
fn a_human_approves_a_gate_in_a_real_browser() {
    let python = std::env::var("CHECKRAIL_E2E_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ws = gated_project("\n[approval]\nvia = [\"terminal\", \"dashboard\"]\n");
    let state_dir = tempfile::tempdir().unwrap();
    let state = StateDir::at(state_dir.path()).unwrap();
    checkrail::dashboard::set_password(&state, PASSWORD).unwrap();

    // Two sessions: one waiting at its gate, one failing with a finding.
    let svc = service(ws.path(), state_dir.path());
    let gated = Session::start(&svc, "gated");
    let v = gated.validate();
    assert_eq!(
        v.standing.session.status,
        Status::AwaitingApproval,
        "{:?}",
        v.report
    );
    std::fs::write(ws.path().join("app.py"), "def main(:\n    return 1\n").unwrap();
    let failing = Session::start(&svc, "gated");
    assert!(!failing.validate().passed);

    let server = Server::on(ws.path())
        .state_dir(state_dir.path())
        .http("127.0.0.1:0");
    let base = server.url.trim_end_matches("/mcp").to_owned();
    let (gated, failing) = (&gated.id, &failing.id);
    let out = Command::new(&python)
        .arg(repo_root().join("tests/e2e/dashboard.py"))
        .args([&base, PASSWORD, gated, failing])
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
    assert_eq!(seen["script_fetch"], "blocked", "{seen}");
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
        .events(gated)
        .unwrap()
        .into_iter()
        .find(|e| e.kind() == "approved")
        .expect("an approval event");
    assert_eq!(approved.details()["channel"], "dashboard");
    assert_eq!(approved.details()["note"], "looks right to me");
    assert!(
        svc.verify(gated, false).unwrap().ok,
        "the record still verifies"
    );
}

#[test]
fn the_local_dashboard_command_serves_and_guards_its_password() {
    let ws = Workspace::new().build();
    let state_dir = tempfile::tempdir().unwrap();
    let (_server, rest) = Cli::new(&["dashboard", "--addr", "127.0.0.1:0"])
        .workspace(ws.path())
        .state_dir(state_dir.path())
        .env_remove("CHECKRAIL_TOKEN")
        .listen("checkrail: dashboard at http://");
    let port: u16 = rest
        .trim_end_matches("/ui")
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let local = format!("127.0.0.1:{port}");
    let get = |path: &str, host: &str| http_request(port, "GET", path, &[("Host", host)], "");
    let redirected = get("/ui/sessions", &local);
    assert_eq!(redirected.status, 303, "{}", redirected.head);
    assert!(
        redirected.head.contains("location: /ui/login"),
        "{}",
        redirected.head
    );
    let login = get("/ui/login", &local);
    assert_eq!(login.status, 200);
    assert!(
        login.body.contains("checkrail dashboard --set-password"),
        "{}",
        login.body
    );
    // Another host name (DNS rebinding) is refused.
    assert_eq!(get("/ui/login", "evil.example").status, 403);
    // Every page says what may load (its own style, no script), and that
    // it may not be framed or sniffed.
    let head = login.head.to_lowercase();
    for expected in [
        "content-security-policy: default-src 'none'; style-src 'sha256-",
        "frame-ancestors 'none'",
        "x-content-type-options: nosniff",
        "referrer-policy: same-origin",
        "x-frame-options: deny",
    ] {
        assert!(head.contains(expected), "{expected}: {head}");
    }
    // Guessing the password: a few tries, then this client waits.
    let sign_in = || {
        http_request(
            port,
            "POST",
            "/ui/login",
            &[
                ("Host", local.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            "password=guess",
        )
    };
    for _ in 0..checkrail::dashboard::FAILURES_ALLOWED {
        assert_eq!(sign_in().status, 401);
    }
    let throttled = sign_in();
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert!(
        throttled.body.contains("too many failed sign-ins")
            && throttled.head.to_lowercase().contains("retry-after"),
        "{}{}",
        throttled.head,
        throttled.body
    );

    // Setting the password needs a human at a terminal.
    let out = Cli::new(&["dashboard", "--set-password"])
        .state_dir(state_dir.path())
        .output();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interactive terminal"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Off loopback it refuses to serve at all.
    let out = Cli::new(&["dashboard", "--addr", "0.0.0.0:0"])
        .workspace(ws.path())
        .state_dir(state_dir.path())
        .output();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_workspace_that_does_not_allow_the_dashboard_refuses_its_decisions() {
    use checkrail::config::ApprovalChannel;
    use checkrail::service::Decision;

    let ws = gated_project("");
    let state_dir = tempfile::tempdir().unwrap();
    let svc = service(ws.path(), state_dir.path());
    let session = Session::start(&svc, "gated");
    let id = &session.id;
    let v = session.validate();
    assert_eq!(v.standing.session.status, Status::AwaitingApproval);
    let decision = |channel| Decision {
        approve: true,
        by: "someone".to_owned(),
        channel,
        detail: None,
        note: None,
    };
    let refused = svc
        .decide(id, &decision(ApprovalChannel::Dashboard))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("does not accept approvals through `dashboard`")
            && refused.contains("allows: terminal"),
        "{refused}"
    );
    let (gate, _, _) = svc.gate(id).unwrap();
    assert_eq!(
        gate.status,
        Status::AwaitingApproval,
        "nothing was recorded"
    );
    // The honest channel still decides.
    let approved = svc
        .decide(id, &decision(ApprovalChannel::Terminal))
        .unwrap();
    assert_eq!(approved.session.status, Status::Active);
}
