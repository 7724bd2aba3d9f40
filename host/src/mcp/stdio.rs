//! MCP over stdio where every request line gets an answer.
//!
//! rmcp's stdio codec drops a line it cannot decode, even one that carries a
//! request id, and the client then waits until its own timeout. This layer
//! sits between the real stdin/stdout and the rmcp server (which talks to it
//! through in-memory pipes) and answers such lines itself, per JSON-RPC 2.0:
//!
//! - not JSON at all (a syntax error, invalid UTF-8): `-32700` with
//!   `id: null`;
//! - JSON whose id can be read but which cannot be decoded (nesting deeper
//!   than the decoder allows, params of the wrong shape for a known method):
//!   `-32602` for a known method, `-32600` otherwise, with the request's id.
//!
//! Everything else passes through untouched, except a bare `tools/list`
//! once the server has answered `initialize`: the relay answers it with
//! the listed tools as written ([`super::listed_tools_answer`]), which
//! saves reading them into tools and writing them out again.

use std::sync::{Arc, OnceLock};

use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcMessage};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Methods the server implements; a request for one of them that does not
/// decode has invalid params.
const KNOWN_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
];

/// What to do with one incoming line.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Hand it to the server.
    Forward,
    /// A `tools/list` without cursor or metadata, with this id: answered
    /// from the listed tools once the server is initialized, forwarded
    /// before.
    ListTools(Value),
    /// Answer it with this response (one JSON line); do not forward.
    Answer(String),
    /// Drop it (a notification nobody waits for); log why.
    Drop(String),
}

/// Decides what to do with one line (without its newline).
pub fn triage(line: &[u8]) -> Verdict {
    let Ok(text) = std::str::from_utf8(line) else {
        return Verdict::Answer(error(
            Value::Null,
            -32700,
            "Parse error: the line is not valid UTF-8",
        ));
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) if e.to_string().contains("recursion limit") => {
            return match shallow_id(text) {
                Some(id) => Verdict::Answer(error(
                    id,
                    -32602,
                    "Invalid params: the request nests deeper than the 128 levels this server decodes",
                )),
                None => Verdict::Drop("a message nested too deep, without an id".to_owned()),
            };
        }
        Err(e) => {
            return Verdict::Answer(error(Value::Null, -32700, &format!("Parse error: {e}")));
        }
    };
    let id = value.get("id").cloned();
    let method = value
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match serde_json::from_value::<ClientJsonRpcMessage>(value) {
        Ok(JsonRpcMessage::Request(request)) => match &request.request {
            // A known method that only decoded as "custom": its params did
            // not fit.
            ClientRequest::CustomRequest(custom)
                if KNOWN_METHODS.contains(&custom.method.as_str()) =>
            {
                Verdict::Answer(error(
                    id.unwrap_or(Value::Null),
                    -32602,
                    &format!("Invalid params for `{}`", custom.method),
                ))
            }
            ClientRequest::ListToolsRequest(list)
                if list
                    .params
                    .as_ref()
                    .is_none_or(|p| p.cursor.is_none() && p.meta.is_none()) =>
            {
                Verdict::ListTools(id.unwrap_or(Value::Null))
            }
            _ => Verdict::Forward,
        },
        Ok(_) => Verdict::Forward,
        Err(e) => match (id, method) {
            (Some(id), Some(method)) => {
                let (code, what) = if KNOWN_METHODS.contains(&method.as_str()) {
                    (-32602, "Invalid params")
                } else {
                    (-32600, "Invalid Request")
                };
                Verdict::Answer(error(
                    id,
                    code,
                    &format!("{what}: {}", crate::error::clip(&e.to_string())),
                ))
            }
            (Some(id), None) if !id.is_null() => {
                Verdict::Answer(error(id, -32600, "Invalid Request: no `method`"))
            }
            _ => Verdict::Drop(format!("undecodable message: {e}")),
        },
    }
}

fn error(id: Value, code: i64, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
}

/// The top-level `"id"` of a JSON object too deep to decode: a scan that
/// tracks nesting and strings without recursing.
fn shallow_id(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let key = text.get(start..=i.min(bytes.len() - 1));
                if depth == 1
                    && key == Some("\"id\"")
                    && let Some(id) = value_after_key(text.get(i + 1..).unwrap_or(""))
                {
                    return Some(id);
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The scalar after `: ` when `rest` starts with a colon (so the string
/// before it was a key).
fn value_after_key(rest: &str) -> Option<Value> {
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    let id: Value = serde_json::from_str(rest[..end].trim()).ok()?;
    (id.is_number() || id.is_string()).then_some(id)
}

/// Copies lines from `input` to the server's side, answering those it
/// would drop; copies the server's lines to `output` (on tasks that end when
/// the server closes its side). Returns when `input` ends or the server
/// stops reading, after closing the server's input. `listed` holds the
/// answer to a bare `tools/list` once the server is initialized (see
/// [`Verdict::ListTools`]).
pub async fn relay<I, O>(
    input: I,
    output: O,
    to_server: tokio::io::DuplexStream,
    from_server: tokio::io::DuplexStream,
    listed: Arc<OnceLock<String>>,
) where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (lines_tx, mut lines_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(line) = lines_rx.recv().await {
            if output.write_all(line.as_bytes()).await.is_err()
                || output.write_all(b"\n").await.is_err()
                || output.flush().await.is_err()
            {
                break;
            }
        }
    });
    let server_out = {
        let lines_tx = lines_tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(from_server).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        })
    };
    let mut to_server = to_server;
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let trimmed = line.trim_ascii_end();
        if trimmed.trim_ascii().is_empty() {
            continue;
        }
        let verdict = match triage(trimmed) {
            Verdict::ListTools(id) => match listed.get() {
                Some(result) => Verdict::Answer(format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#
                )),
                None => Verdict::Forward,
            },
            verdict => verdict,
        };
        match verdict {
            Verdict::Forward | Verdict::ListTools(_) => {
                if to_server.write_all(trimmed).await.is_err()
                    || to_server.write_all(b"\n").await.is_err()
                {
                    break;
                }
            }
            Verdict::Answer(response) => {
                tracing::debug!("answered a line itself: {}", crate::error::clip(&response));
                let _ = lines_tx.send(response);
            }
            Verdict::Drop(why) => tracing::warn!("dropped a line: {why}"),
        }
    }
    // End of input: the server sees end of file and stops; its last lines
    // still reach the output.
    drop(to_server);
    drop(lines_tx);
    tokio::spawn(async move {
        let _ = server_out.await;
        let _ = writer.await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Value {
        match triage(line.as_bytes()) {
            Verdict::Answer(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("{line}: {other:?}"),
        }
    }

    /// A bare `tools/list` goes to the server until the relay holds the
    /// listed answer, then is answered with the request's own id; one with
    /// a cursor always goes to the server.
    #[tokio::test]
    async fn a_bare_tools_list_is_answered_once_initialized() {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, duplex};
        let (mut client, input) = duplex(1 << 16);
        let (output, from_relay) = duplex(1 << 16);
        let (server_in, to_server) = duplex(1 << 16);
        let (_server_out, from_server) = duplex(1 << 16);
        let listed = Arc::new(OnceLock::new());
        tokio::spawn(relay(input, output, to_server, from_server, listed.clone()));
        let mut server = BufReader::new(server_in).lines();
        let mut answers = BufReader::new(from_relay).lines();
        let mut send = async |line: &str| {
            client.write_all(line.as_bytes()).await.expect("write");
            client.write_all(b"\n").await.expect("write");
        };

        let early = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        send(early).await;
        assert_eq!(
            server.next_line().await.expect("read").as_deref(),
            Some(early)
        );

        listed
            .set(r#"{"tools":[{"name":"t"}]}"#.to_owned())
            .expect("set once");
        send(r#"{"jsonrpc":"2.0","id":"two","method":"tools/list","params":{}}"#).await;
        let answer: Value =
            serde_json::from_str(&answers.next_line().await.expect("read").expect("a line"))
                .expect("JSON");
        assert_eq!(
            answer,
            json!({"jsonrpc": "2.0", "id": "two", "result": {"tools": [{"name": "t"}]}})
        );

        let paged = r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"c"}}"#;
        send(paged).await;
        assert_eq!(
            server.next_line().await.expect("read").as_deref(),
            Some(paged)
        );
    }

    #[test]
    fn every_identifiable_request_gets_an_answer() {
        let parse = answer("{not json");
        assert_eq!(
            (parse["id"].clone(), parse["error"]["code"].clone()),
            (Value::Null, json!(-32700))
        );
        let bad_utf8 = triage(
            b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":{\"x\":\"\xff\"}}",
        );
        assert!(
            matches!(bad_utf8, Verdict::Answer(ref t) if t.contains("-32700")),
            "{bad_utf8:?}"
        );
        let deep = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{{\"name\":\"workflow_validate\",\"arguments\":{{\"evidence\":{}1{}}}}}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let deep = answer(&deep);
        assert_eq!(
            (deep["id"].clone(), deep["error"]["code"].clone()),
            (json!(7), json!(-32602))
        );
        let wrong = answer(
            "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/call\",\"params\":\"oops\"}",
        );
        assert_eq!(
            (wrong["id"].clone(), wrong["error"]["code"].clone()),
            (json!("a"), json!(-32602))
        );
        assert_eq!(
            triage(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"),
            Verdict::Forward
        );
        assert_eq!(
            triage(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"no/such\",\"params\":{}}"),
            Verdict::Forward,
            "unknown methods are the server's to answer"
        );
    }

    #[test]
    fn the_id_of_a_deep_request_is_found_without_recursion() {
        let text = format!(
            "{{\"a\":{{\"id\":1}},\"s\":\"\\\"id\\\"\",\"id\":42,\"p\":{}0{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(shallow_id(&text), Some(json!(42)));
        assert_eq!(shallow_id("{\"x\":[[[1]]]}"), None);
    }
}
