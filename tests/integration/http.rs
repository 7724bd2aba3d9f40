//! `checkrail serve --http`: loopback by default, bearer token required off
//! loopback and checked on every request, Host/Origin validated against DNS
//! rebinding.

use crate::support::{Cli, Http, Server, Workspace};

const TOKEN: &str = "test-token-0123456789abcdef";

/// POSTs an initialize request with `headers`; returns the status code.
fn initialize(server: &Http, headers: &[(&str, &str)]) -> u16 {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
    let mut all = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    all.extend_from_slice(headers);
    server.request("POST", "/mcp", &all, body).status
}

#[test]
fn loopback_server_rejects_foreign_host_and_origin() {
    let ws = Workspace::new().build();
    let server = Server::on(ws.path()).http("127.0.0.1:0");
    assert_eq!(initialize(&server, &[]), 200);
    assert_eq!(initialize(&server, &[("Host", "evil.example")]), 403);
    assert_eq!(
        initialize(&server, &[("Origin", "http://evil.example")]),
        403
    );
    let same_origin = format!("http://localhost:{}", server.port);
    assert_eq!(initialize(&server, &[("Origin", &same_origin)]), 200);
}

#[test]
fn non_loopback_needs_a_token_and_checks_it_on_every_request() {
    let ws = Workspace::new().build();
    let refused = Cli::new(&["serve", "--http", "0.0.0.0:0"])
        .workspace(ws.path())
        .env_remove("CHECKRAIL_TOKEN")
        .output();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs a bearer token"));

    let server = Server::on(ws.path()).token(TOKEN).http("0.0.0.0:0");
    assert_eq!(initialize(&server, &[]), 401);
    assert_eq!(
        initialize(
            &server,
            &[("Authorization", "Bearer wrong-token-0123456789")]
        ),
        401
    );
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(initialize(&server, &[("Authorization", &bearer)]), 200);
}
