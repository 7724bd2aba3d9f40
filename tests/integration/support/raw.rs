//! `checkrail serve` over stdio, spoken to in raw JSON-RPC lines: for what
//! an rmcp client would not send or would hide (malformed lines, the order
//! of notifications on the wire, extensions it does not know).

use std::time::{Duration, Instant};

use super::PATIENCE;

/// `checkrail serve` over stdio, spoken to in raw JSON-RPC lines.
pub struct Raw {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    next_id: u64,
    /// The server's answer to `initialize`.
    pub initialized: serde_json::Value,
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Raw {
    /// Runs `command` (a `serve`, see [`super::Server::raw`]) and
    /// initializes it declaring `capabilities`.
    pub(super) fn spawn(
        mut command: std::process::Command,
        capabilities: &serde_json::Value,
    ) -> Self {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start checkrail serve");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut raw = Self {
            child,
            stdin,
            lines,
            next_id: 1000,
            initialized: serde_json::Value::Null,
        };
        let init = serde_json::json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":capabilities,"clientInfo":{"name":"raw","version":"0"}}});
        raw.send(init.to_string().as_bytes());
        let init = raw.answer_to(&serde_json::json!(0));
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        raw.initialized = init;
        raw.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        raw
    }

    /// Writes one line.
    pub fn send(&mut self, line: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line the server writes, parsed.
    pub fn next_message(&mut self) -> serde_json::Value {
        use std::sync::mpsc::RecvTimeoutError;
        let line = match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("nothing from the server in {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("server exited"),
        };
        serde_json::from_str(&line).unwrap()
    }

    /// The next response whose id is `id`.
    pub fn answer_to(&mut self, id: &serde_json::Value) -> serde_json::Value {
        loop {
            let value = self.next_message();
            if value.get("id") == Some(id) {
                return value;
            }
        }
    }

    /// Calls `tool` with `args` under request id `id`.
    pub fn call(&mut self, id: u64, tool: &str, args: serde_json::Value) -> serde_json::Value {
        let request = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}});
        self.send(request.to_string().as_bytes());
        self.answer_to(&serde_json::json!(id))
    }

    /// Sends `method` with `params` under a fresh id; its response.
    pub fn ask(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let request =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send(request.to_string().as_bytes());
        self.answer_to(&serde_json::json!(id))
    }

    /// Starts `workflow` through `tools/call`; the session id.
    pub fn start_session(&mut self, workflow: &str) -> String {
        let started = self.ask(
            "tools/call",
            serde_json::json!({"name": "workflow_start", "arguments": {"workflow": workflow}}),
        );
        started["result"]["structuredContent"]["session"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {started}"))
            .to_owned()
    }

    /// Closes stdin, as a client that goes away does.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Closes stdin and waits up to `patience` for the server to exit.
    pub fn exit_within(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        self.close_stdin();
        let give_up = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > give_up {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
