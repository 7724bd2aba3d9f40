//! `checkrail serve` as a process of its own, spoken to the ways clients
//! speak to it: rmcp's client over stdio, raw JSON-RPC lines over stdio, or
//! HTTP.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use super::{BIN, Listening, Raw, fixture_rules, listen, shared_cache, state_dir};

/// rmcp's client of a server it started over stdio.
pub type Client = RunningService<RoleClient, ()>;

/// How to start `checkrail serve` on a workspace: with the shared compile
/// cache and, unless told otherwise, the shared state directory:
/// `Server::on(dir).fixture_rules().stdio().await`.
pub struct Server {
    dir: PathBuf,
    rules_dir: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    state_dir: PathBuf,
}

impl Server {
    /// A server on the workspace `dir`.
    pub fn on(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            rules_dir: None,
            args: Vec::new(),
            env: Vec::new(),
            state_dir: state_dir().to_owned(),
        }
    }

    /// With the fixture rules besides the bundled ones.
    pub fn fixture_rules(mut self) -> Self {
        self.rules_dir = Some(fixture_rules().to_owned());
        self
    }

    /// Keeps the sessions in `store` (`CHECKRAIL_STORE`).
    pub fn store(self, store: &str) -> Self {
        self.env("CHECKRAIL_STORE", store)
    }

    /// Keeps the state in `dir` instead of the shared state directory.
    pub fn state_dir(mut self, dir: &Path) -> Self {
        self.state_dir = dir.to_owned();
        self
    }

    /// Requires `token` of HTTP clients (`CHECKRAIL_TOKEN`; without it the
    /// variable is unset).
    pub fn token(self, token: &str) -> Self {
        self.env("CHECKRAIL_TOKEN", token)
    }

    /// Sets an environment variable of the server.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Adds an argument of `serve`.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// `checkrail [--rules-dir …] serve <args> --workspace <dir>`.
    fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        if let Some(rules) = &self.rules_dir {
            command.arg("--rules-dir").arg(rules);
        }
        command
            .arg("serve")
            .args(&self.args)
            .arg("--workspace")
            .arg(&self.dir)
            .env("CHECKRAIL_CACHE_DIR", shared_cache())
            .env("CHECKRAIL_STATE_DIR", &self.state_dir)
            .env_remove("CHECKRAIL_TOKEN");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Started, with rmcp's client over its stdio; the client and the
    /// server's pid.
    pub async fn stdio(self) -> (Client, u32) {
        let command = tokio::process::Command::from(self.command());
        let transport = TokioChildProcess::new(command).unwrap();
        let pid = transport.id().unwrap();
        (().serve(transport).await.unwrap(), pid)
    }

    /// Started, and initialized over raw JSON-RPC lines declaring no client
    /// capabilities.
    pub fn raw(self) -> Raw {
        self.raw_declaring(&json!({}))
    }

    /// Started, and initialized over raw JSON-RPC lines declaring
    /// `capabilities`.
    pub fn raw_declaring(self, capabilities: &Value) -> Raw {
        Raw::spawn(self.command(), capabilities)
    }

    /// Started with `--http addr`, once it listens.
    pub fn http(self, addr: &str) -> Http {
        let command = self.arg("--http").arg(addr).command();
        let (process, rest) = listen(command, "checkrail: MCP over streamable HTTP at ");
        let port = rest
            .trim_end_matches("/mcp")
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in `{rest}`"));
        Http {
            _process: process,
            port,
            url: rest,
        }
    }
}

/// A `checkrail serve --http` process, killed and reaped when dropped.
pub struct Http {
    _process: Listening,
    /// The port it listens on.
    pub port: u16,
    /// The MCP endpoint it printed.
    pub url: String,
}

impl Http {
    /// One HTTP/1.1 exchange with it (see [`http_request`]).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> HttpResponse {
        http_request(self.port, method, path, headers, body)
    }

    /// POSTs the JSON-RPC `message` to `/mcp`, in MCP session `session`
    /// when given.
    pub fn post_mcp(&self, session: Option<&str>, message: &Value) -> HttpResponse {
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", "2025-06-18"),
        ];
        if let Some(session) = session {
            headers.push(("Mcp-Session-Id", session));
        }
        self.request("POST", "/mcp", &headers, &message.to_string())
    }

    /// Opens an MCP session (`initialize`, then `notifications/initialized`);
    /// its id.
    pub fn mcp_session(&self) -> String {
        let init = self.post_mcp(
            None,
            &json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"checkrail-tests","version":"0"}}}),
        );
        assert!(
            (200..300).contains(&init.status),
            "{}\n{}",
            init.head,
            init.body
        );
        let session = init
            .header("mcp-session-id")
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| panic!("no session id: {}", init.head))
            .to_owned();
        self.post_mcp(
            Some(&session),
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        );
        session
    }
}

/// An HTTP response, as read.
pub struct HttpResponse {
    /// Its status code (0 when none could be read).
    pub status: u16,
    /// Its status line and headers.
    pub head: String,
    /// Its body.
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (key, value) = l.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// The JSON-RPC answer in the body, sent as plain JSON or as an event:
    /// the first message with an id.
    pub fn answer(&self) -> Option<Value> {
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .chain(std::iter::once(self.body.as_str()))
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
            .find(|v| v.get("id").is_some())
    }
}

/// One HTTP/1.1 exchange with 127.0.0.1:`port`, the connection closed after
/// it; `Host` is 127.0.0.1:`port` unless `headers` name another.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
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
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    HttpResponse {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Calls `tool` with `args`; its structured content, or the error it
/// answered with.
pub async fn call(client: &Client, tool: &str, args: Value) -> Result<Value, String> {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().unwrap().clone());
    let result = client.call_tool(params).await.map_err(|e| e.to_string())?;
    if result.is_error == Some(true) {
        return Err(format!("{:?}", result.content));
    }
    Ok(result.structured_content.unwrap())
}

/// Kills process `pid` with SIGKILL: no chance to clean up.
pub fn kill_9(pid: u32) {
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -9 {pid}");
}
