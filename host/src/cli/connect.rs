//! Inside `checkrail run`: the supervisor's endpoint, as `run` hands it to
//! the agent (`CHECKRAIL_URL`, `CHECKRAIL_TOKEN`), and the two ways in
//! that need no state directory: `checkrail hook` asks the supervisor, and
//! `checkrail serve --connect` bridges an MCP client that only spawns stdio
//! servers to the supervisor's streamable HTTP endpoint.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use checkrail::hook::{Agent, Answer, Event};
use serde_json::{Value, json};

/// The variable naming the supervisor's base URL.
pub const URL_VAR: &str = "CHECKRAIL_URL";
/// The variable holding the bearer token for it.
pub const TOKEN_VAR: &str = "CHECKRAIL_TOKEN";
/// Set in the agent's environment by `checkrail run` (for messages only:
/// the confinement itself is the kernel's).
pub const CONFINED_VAR: &str = "CHECKRAIL_CONFINED";

/// Where the supervisor listens, and the token it wants.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bearer token.
    pub token: String,
}

impl Endpoint {
    /// The endpoint `checkrail run` set, if any.
    pub fn from_env() -> Option<Self> {
        let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty())?;
        let token = std::env::var(TOKEN_VAR).unwrap_or_default();
        Some(Self { url, token })
    }

    fn client(timeout: Option<Duration>) -> Result<reqwest::blocking::Client> {
        // The supervisor speaks plain HTTP on loopback, but the client
        // wants a TLS provider chosen before it is built.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .context("start an HTTP client")
    }
}

/// The supervisor's answer to one hook call.
pub fn hook(endpoint: &Endpoint, (agent, event): (Agent, Event), input: &[u8]) -> Result<Answer> {
    let url = format!(
        "{}/hook?agent={}&event={}",
        endpoint.url,
        agent.as_str(),
        event.as_str()
    );
    // A stop may run the checkpoint; the agents give hooks minutes.
    let response = Endpoint::client(Some(Duration::from_secs(600)))?
        .post(&url)
        .bearer_auth(&endpoint.token)
        .body(input.to_vec())
        .send()
        .with_context(|| format!("reach the checkrail supervisor at {}", endpoint.url))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().unwrap_or_default();
        bail!(
            "the checkrail supervisor answered {status}: {}",
            body.trim()
        );
    }
    response
        .json::<Answer>()
        .context("read the supervisor's answer")
}

/// Relays MCP between stdin/stdout and the supervisor until stdin closes.
/// Each line read is POSTed as it comes (requests at the same time, so a
/// long check does not hold up a ping); JSON answers and server-sent
/// events are written back one message per line. A request the
/// supervisor cannot take is answered with a JSON-RPC error, so the
/// client always hears back.
pub fn bridge(endpoint: &Endpoint) -> Result<()> {
    let client = Endpoint::client(None)?;
    let session: Arc<Mutex<Option<String>>> = Arc::default();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let mut workers = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let message: Option<Value> = serde_json::from_str(&line).ok();
        let is_initialize = message
            .as_ref()
            .is_some_and(|m| m["method"] == "initialize");
        let relay = Relay {
            client: client.clone(),
            endpoint: endpoint.clone(),
            session: session.clone(),
            out: out.clone(),
        };
        // The session id comes with the answer to `initialize`: nothing
        // else may go before it has it.
        if is_initialize {
            relay.post(&line, message.as_ref());
        } else {
            workers.push(std::thread::spawn(move || {
                relay.post(&line, message.as_ref())
            }));
        }
        workers.retain(|w| !w.is_finished());
    }
    for worker in workers {
        let _ = worker.join();
    }
    let id = session.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(id) = id {
        let _ = client
            .delete(format!("{}/mcp", endpoint.url))
            .bearer_auth(&endpoint.token)
            .header("mcp-session-id", id)
            .send();
    }
    Ok(())
}

/// One message on its way to the supervisor.
struct Relay {
    client: reqwest::blocking::Client,
    endpoint: Endpoint,
    session: Arc<Mutex<Option<String>>>,
    out: Arc<Mutex<std::io::Stdout>>,
}

impl Relay {
    fn post(&self, line: &str, message: Option<&Value>) {
        if let Err(e) = self.try_post(line) {
            // Only a request waits for an answer.
            if let Some(id) = message
                .and_then(|m| m.get("id"))
                .filter(|_| message.is_some_and(|m| m.get("method").is_some()))
            {
                let error = json!({
                    "jsonrpc": "2.0",
                    "id": id,
                    "error": {"code": -32603, "message": format!("checkrail serve --connect: {e:#}")},
                });
                self.write(&error.to_string());
            }
        }
    }

    fn try_post(&self, line: &str) -> Result<()> {
        let mut request = self
            .client
            .post(format!("{}/mcp", self.endpoint.url))
            .bearer_auth(&self.endpoint.token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(line.to_owned());
        let known = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(id) = known {
            request = request.header("mcp-session-id", id);
        }
        let response = request
            .send()
            .with_context(|| format!("reach the checkrail supervisor at {}", self.endpoint.url))?;
        if let Some(id) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.to_owned());
        }
        let status = response.status();
        if status.as_u16() == 202 {
            return Ok(());
        }
        if !status.is_success() {
            let body = response.text().unwrap_or_default();
            bail!("the supervisor answered {status}: {}", body.trim());
        }
        let streamed = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        if streamed {
            self.relay_events(response)
        } else {
            let body = response.text().context("read the answer")?;
            if !body.trim().is_empty() {
                self.write(body.trim());
            }
            Ok(())
        }
    }

    /// Writes the data of each server-sent event, one per line.
    fn relay_events(&self, response: impl Read) -> Result<()> {
        let mut data = String::new();
        for line in BufReader::new(response).lines() {
            let line = line.context("read the event stream")?;
            if line.is_empty() {
                if !data.trim().is_empty() {
                    self.write(data.trim());
                }
                data.clear();
            } else if let Some(value) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        if !data.trim().is_empty() {
            self.write(data.trim());
        }
        Ok(())
    }

    fn write(&self, message: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{message}");
        let _ = out.flush();
    }
}
