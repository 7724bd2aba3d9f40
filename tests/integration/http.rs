//! `checkrail serve --http`: loopback by default, bearer token required off
//! loopback and checked on every request, Host/Origin validated against DNS
//! rebinding.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::support::{shared_cache, workspace};

const BIN: &str = env!("CARGO_BIN_EXE_checkrail");
const TOKEN: &str = "test-token-0123456789abcdef";

/// A `checkrail serve --http` process, killed and reaped when dropped.
pub(crate) struct Server {
    child: Child,
    /// The port it listens on.
    pub(crate) port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `checkrail serve --http addr` on `dir` (with `token` as
/// CHECKRAIL_TOKEN) and waits until it listens.
pub(crate) fn serve(dir: &std::path::Path, addr: &str, token: Option<&str>) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--http", addr, "--workspace"])
        .arg(dir)
        .env("CHECKRAIL_CACHE_DIR", shared_cache())
        .env("CHECKRAIL_STATE_DIR", crate::support::state_dir())
        .env_remove("CHECKRAIL_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        cmd.env("CHECKRAIL_TOKEN", token);
    }
    // Owned by `Server` from the start, so it is killed and reaped on every path.
    let mut server = Server {
        child: cmd.spawn().unwrap(),
        port: 0,
    };
    let mut stderr = BufReader::new(server.child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "server exited before listening"
        );
        if let Some(rest) = line
            .trim()
            .strip_prefix("checkrail: MCP over streamable HTTP at http://")
        {
            server.port = rest
                .trim_end_matches("/mcp")
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return server;
        }
    }
}

/// POSTs an initialize request; returns the status code.
fn initialize(port: u16, headers: &[(&str, String)]) -> u16 {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| *k == "Host") {
        request.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn loopback_server_rejects_foreign_host_and_origin() {
    let ws = workspace(&[]);
    let server = serve(ws.path(), "127.0.0.1:0", None);
    assert_eq!(initialize(server.port, &[]), 200);
    assert_eq!(
        initialize(server.port, &[("Host", "evil.example".into())]),
        403
    );
    assert_eq!(
        initialize(server.port, &[("Origin", "http://evil.example".into())]),
        403
    );
    let same_origin = format!("http://localhost:{}", server.port);
    assert_eq!(initialize(server.port, &[("Origin", same_origin)]), 200);
}

#[test]
fn non_loopback_needs_a_token_and_checks_it_on_every_request() {
    let ws = workspace(&[]);
    let refused = Command::new(BIN)
        .args(["serve", "--http", "0.0.0.0:0", "--workspace"])
        .arg(ws.path())
        .env_remove("CHECKRAIL_TOKEN")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs a bearer token"));

    let server = serve(ws.path(), "0.0.0.0:0", Some(TOKEN));
    assert_eq!(initialize(server.port, &[]), 401);
    assert_eq!(
        initialize(
            server.port,
            &[("Authorization", "Bearer wrong-token-0123456789".into())]
        ),
        401
    );
    assert_eq!(
        initialize(server.port, &[("Authorization", format!("Bearer {TOKEN}"))]),
        200
    );
}
