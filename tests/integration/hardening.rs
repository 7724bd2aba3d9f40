//! Hostile input against the real server: raw lines over stdio, host paths
//! in tool arguments (stdio and HTTP), hostile workflow files, huge
//! arguments, a lost database, non-standard schema formats. Each request
//! gets an answer, nothing outside the workspace is read, and the server
//! keeps serving.

use serde_json::{Value, json};

use crate::support::{Cli, PATIENCE, Server, Workspace};

/// The text of a tool result (its error message when it failed).
fn tool_text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn every_request_line_gets_an_answer() {
    let ws = Workspace::new().build();
    let mut raw = Server::on(ws.path()).raw();

    raw.send(b"{this is not json");
    let parse = raw.answer_to(&Value::Null);
    assert_eq!(parse["error"]["code"], -32700, "{parse}");

    raw.send(b"{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\",\"x\":\"\xc3\x28\"}");
    let utf8 = raw.answer_to(&Value::Null);
    assert_eq!(utf8["error"]["code"], -32700, "{utf8}");

    let started = raw.call(12, "workflow_start", json!({"workflow": "project-basics"}));
    let id = started["result"]["structuredContent"]["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deep = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/call\",\"params\":{{\"name\":\"workflow_validate\",\"arguments\":{{\"session\":\"{id}\",\"evidence\":{}0{}}}}}}}",
        "[".repeat(300),
        "]".repeat(300)
    );
    raw.send(deep.as_bytes());
    let deep = raw.answer_to(&json!(13));
    assert_eq!(deep["error"]["code"], -32602, "{deep}");

    raw.send(br#"{"jsonrpc":"2.0","id":14,"method":"tools/call","params":"not an object"}"#);
    assert_eq!(raw.answer_to(&json!(14))["error"]["code"], -32602);

    // A 10 MB argument is not echoed back.
    let huge = "w".repeat(10 << 20);
    let answer = raw.call(15, "workflow_get", json!({"workflow": huge}));
    let text = tool_text(&answer);
    assert!(
        text.contains("unknown workflow"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(text.len() < 2_000, "the answer is {} bytes", text.len());

    // And the server still serves.
    raw.send(br#"{"jsonrpc":"2.0","id":16,"method":"ping"}"#);
    assert!(raw.answer_to(&json!(16)).get("result").is_some());
}

#[test]
fn tool_arguments_never_read_host_files() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret.yaml"),
        "id: stolen\nroot:x:0:0:secret",
    )
    .unwrap();
    let ws = Workspace::new()
        .file(
            "flows/local.yaml",
            "id: local\nversion: 1.0.0\nname: L\ndescription: d\nphases:\n  - id: a\n    name: A\n    guidance: g\n",
        )
        .build();
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        ws.path().join("flows/link.yaml"),
    )
    .unwrap();
    let mut raw = Server::on(ws.path()).raw();
    let escape = format!(
        "../../../../../../..{}",
        outside.path().join("secret.yaml").display()
    );
    let absolute = outside.path().join("secret.yaml").display().to_string();
    for (i, path) in [
        "/etc/passwd",
        "~/.bashrc",
        "../../etc/hostname",
        escape.as_str(),
        absolute.as_str(),
        "flows/link.yaml",
    ]
    .iter()
    .enumerate()
    {
        for (j, tool) in ["workflow_get", "workflow_start"].iter().enumerate() {
            let answer = raw.call(
                100 + 10 * i as u64 + j as u64,
                tool,
                json!({"workflow": path}),
            );
            assert_eq!(answer["result"]["isError"], true, "{path}: {answer}");
            let text = tool_text(&answer);
            assert!(
                !text.contains("root:x") && !text.contains("stolen"),
                "{path}: {text}"
            );
        }
    }
    // A workflow file inside the workspace, by path, is fine.
    let answer = raw.call(
        200,
        "workflow_start",
        json!({"workflow": "flows/local.yaml"}),
    );
    assert_eq!(
        answer["result"]["structuredContent"]["session"]["workflow_id"], "local",
        "{answer}"
    );
}

#[test]
fn host_paths_are_refused_over_http_too() {
    let ws = Workspace::new().build();
    let server = Server::on(ws.path()).http("127.0.0.1:0");
    let session = server.mcp_session();
    let response = server.post_mcp(
        Some(&session),
        &json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"workflow_get","arguments":{"workflow":"/etc/passwd"}}}),
    );
    let response = format!("{}\r\n\r\n{}", response.head, response.body);
    assert!(
        response.contains("not a workflow id nor a path inside the workspace"),
        "{response}"
    );
    assert!(!response.contains("root:"), "{response}");
}

#[test]
fn hostile_workflow_files_are_named_and_never_stall_the_server() {
    let ws = Workspace::new()
        .workflow("id: good\nversion: 1.0.0\nname: G\ndescription: d\nphases:\n  - id: a\n    name: A\n    guidance: g\n")
        .build();
    let flows = ws.path().join(".checkrail/workflows");
    let fifo = std::ffi::CString::new(flows.join("x.yaml").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::fs::write(
        flows.join("big.yaml"),
        format!("id: big\n#{}\n", "x".repeat(2 << 20)),
    )
    .unwrap();
    std::fs::write(
        flows.join("deep.yaml"),
        format!("id: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/passwd", flows.join("passwd.yaml")).unwrap();

    let mut raw = Server::on(ws.path()).raw();
    let listed = raw.call(1, "workflow_list", json!({}));
    let content = &listed["result"]["structuredContent"];
    assert!(
        content["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == "good")
    );
    let problems = content["problems"].to_string();
    for (file, why) in [
        ("x.yaml", "not a regular file"),
        ("big.yaml", "over the limit of 1048576 bytes"),
        ("deep.yaml", "deeper than 64"),
        ("passwd.yaml", "outside"),
    ] {
        assert!(
            problems.contains(file) && problems.contains(why),
            "{file}: {problems}"
        );
    }
    assert!(!problems.contains("root:"), "{problems}");

    // The CLI lists them too, without hanging or printing the target.
    let out = Cli::new(&["workflow", "list"])
        .workspace(ws.path())
        .output();
    let text = crate::support::text(&out);
    assert!(text.contains("good") && text.contains("x.yaml"), "{text}");
    assert!(!text.contains("root:"), "{text}");
}

#[test]
fn a_lost_session_database_is_reported_not_replaced() {
    let ws = Workspace::new().build();
    let mut raw = Server::on(ws.path()).raw();
    raw.call(1, "workflow_start", json!({"workflow": "project-basics"}));
    drop(raw);
    let opened =
        checkrail::workspace::Workspace::open(ws.path(), &crate::support::state()).unwrap();
    let db = opened.state_dir().join("sessions.db");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::File::create(&db).unwrap();
    let out = Cli::new(&["session", "list"]).workspace(ws.path()).output();
    // Lost state is an I/O failure (74), not a usage error.
    assert_eq!(out.status.code(), Some(74));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is empty (0 bytes), but sessions have been stored there"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        0,
        "nothing was written over it"
    );
}

/// A server whose client only lists tools never opens its session
/// database; the first call that needs sessions opens (creating) it.
#[test]
fn a_server_opens_its_session_database_on_first_use() {
    let ws = Workspace::new().build();
    let opened =
        checkrail::workspace::Workspace::open(ws.path(), &crate::support::state()).unwrap();
    let db = opened.state_dir().join("sessions.db");
    let mut raw = Server::on(ws.path()).raw();
    raw.send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#);
    let listed = raw.answer_to(&json!(5));
    assert_eq!(
        listed["result"]["tools"].as_array().map(Vec::len),
        Some(7),
        "{listed}"
    );
    // The relay answered that one itself; one with `_meta` goes to the
    // server's handler, and both answers are the same.
    raw.send(br#"{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{"_meta":{}}}"#);
    let handled = raw.answer_to(&json!(6));
    let keys = |v: &Value| {
        v["result"]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
    };
    assert!(
        handled["result"] == listed["result"],
        "the relay's tools/list differs from the handler's (result keys {:?} against {:?})",
        keys(&listed),
        keys(&handled)
    );
    raw.call(7, "workflow_list", json!({}));
    assert!(
        !db.exists(),
        "listing tools and workflows opened the session store"
    );
    raw.start_session("project-basics");
    assert!(db.exists(), "starting a session did not open the store");
}

#[test]
fn tool_schemas_use_only_standard_formats() {
    let ws = Workspace::new().build();
    let mut raw = Server::on(ws.path()).raw();
    raw.send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#);
    let tools = raw.answer_to(&json!(5)).to_string();
    for format in [
        "\"uint\"",
        "\"uint32\"",
        "\"uint64\"",
        "\"int64\"",
        "\"double\"",
    ] {
        assert!(
            !tools.contains(&format!("\"format\":{format}")),
            "{format} in {tools}"
        );
    }
    assert!(
        tools.contains("\"minimum\":0"),
        "unsigned fields keep their bound"
    );
}

#[test]
fn the_server_exits_when_stdin_closes_even_while_a_rule_runs() {
    let ws = Workspace::new()
        .workflow("id: slow\nversion: 0.1.0\nname: S\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: fixture-looper\n          timeout_ms: 3600000\n")
        .build();
    let mut raw = Server::on(ws.path()).fixture_rules().raw();
    let id = raw.start_session("slow");
    raw.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"workflow_validate","arguments":{"session": id},"_meta":{"progressToken":"p"}}}).to_string().as_bytes());
    // Once the looping rule is running, the client goes away.
    loop {
        let value = raw.next_message();
        if value["method"] == "notifications/progress"
            && value["params"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("running"))
        {
            break;
        }
    }
    // The loop ends only at its hour-long deadline: a server that waited
    // for it would still run after the patience.
    let status = raw
        .exit_within(PATIENCE)
        .expect("the server still runs after stdin closed");
    assert!(status.success(), "{status:?}");
}
