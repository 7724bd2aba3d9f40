//! The MCP server in-process over `tokio::io::duplex`, driven by the rmcp
//! client: every tool, the transitions, progress, resources and errors.

use rmcp::model::{
    CallToolRequestParams, ClientRequest, ReadResourceRequestParams, Request, ServerResult,
};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

use crate::support::{Harness, Workspace};

#[tokio::test(flavor = "multi_thread")]
async fn tools_are_described_with_object_output_schemas_and_annotations() {
    let h = Harness::start(Workspace::new().build()).await;
    let info = h.client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "checkrail");
    let tools = h.client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "workflow_control",
            "workflow_get",
            "workflow_list",
            "workflow_next",
            "workflow_start",
            "workflow_state",
            "workflow_validate"
        ]
    );
    for tool in &tools {
        let output = tool
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no output schema", tool.name));
        assert_eq!(output["type"], "object", "{}", tool.name);
        assert!(
            tool.description.as_ref().is_some_and(|d| d.len() > 20),
            "{}",
            tool.name
        );
        let hints = tool.annotations.as_ref().unwrap();
        assert!(hints.read_only_hint.is_some(), "{}", tool.name);
    }
    let validate = tools
        .iter()
        .find(|t| t.name == "workflow_validate")
        .unwrap();
    assert_eq!(
        validate.annotations.as_ref().unwrap().read_only_hint,
        Some(false)
    );
    assert!(validate.input_schema["properties"]["evidence"]["description"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_round_trip_with_every_tool() {
    let h = Harness::start(Workspace::new().build()).await;
    let list = h.ok("workflow_list", json!({"category": "docs"})).await;
    let ids: Vec<&str> = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["docs-update", "project-basics"], "category filter");
    assert_eq!(
        h.ok("workflow_list", json!({"tag": "nope"})).await["workflows"],
        json!([])
    );

    let get = h
        .ok(
            "workflow_get",
            json!({"workflow": "project-basics", "phase": "readme"}),
        )
        .await;
    assert_eq!(get["phases"].as_array().unwrap().len(), 1);
    assert!(get["phases"][0]["checkpoint"]["rules"][0]["config"]["paths"].is_array());

    let start = h
        .ok("workflow_start", json!({"workflow": "project-basics"}))
        .await;
    let id = start["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(start["phase"]["id"], "readme");

    // Fail with findings, progress notifications on the way.
    let params = CallToolRequestParams::new("workflow_validate").with_arguments(
        json!({"session": id, "phase": "readme"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let handle = h
        .client
        .send_request_with_option(
            ClientRequest::CallToolRequest(Request::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let token = handle.progress_token.clone();
    let ServerResult::CallToolResult(result) = handle.await_response().await.unwrap() else {
        panic!("not a tool result")
    };
    let failed = result.structured_content.unwrap();
    assert_eq!(failed["passed"], false);
    let finding = &failed["report"]["rules"][0]["findings"][0];
    assert_eq!(finding["path"], "README.md");
    assert!(finding["fix_hint"].as_str().unwrap().contains("create"));
    // Waits for two notifications, the final one (progress = total) among
    // them. The client may hand notifications to its handler out of order;
    // the order on the wire is tested with a raw stdio client in
    // operations.rs.
    let mine = h
        .progress_until(&token, |mine| {
            mine.len() >= 2 && mine.iter().any(|(p, total)| Some(*p) == *total)
        })
        .await;
    assert_eq!(
        mine,
        [(1.0, Some(2.0)), (2.0, Some(2.0))],
        "start and finish of the one rule"
    );

    std::fs::write(h.dir.join("README.md"), "# Demo\n\n## Usage\n\nrun it\n").unwrap();
    let passed = h
        .ok(
            "workflow_validate",
            json!({"session": id, "phase": "readme"}),
        )
        .await;
    assert_eq!(
        (passed["passed"].clone(), passed["advanced"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(passed["standing"]["phase"]["id"], "legal-and-history");
    let again = h
        .ok(
            "workflow_validate",
            json!({"session": id, "phase": "readme"}),
        )
        .await;
    assert_eq!(again["advanced"], false);

    let next = h.ok("workflow_next", json!({"session": id})).await;
    assert_eq!(next["session"]["phase_id"], "legal-and-history");
    assert!(next["phase"]["checkpoint"]["evidence_schema"]["required"][0] == "license");

    let bad = h
        .ok(
            "workflow_validate",
            json!({"session": id, "evidence": {"license": "MIT License"}}),
        )
        .await;
    assert_eq!(
        bad["report"]["evidence_violations"][0]["pointer"],
        "/license"
    );

    let paused = h
        .ok(
            "workflow_control",
            json!({"session": id, "action": "pause"}),
        )
        .await;
    assert_eq!(paused["session"]["status"], "paused");
    let refused = h.err("workflow_validate", json!({"session": id})).await;
    assert!(refused.contains("is paused; resume it first"), "{refused}");
    h.ok(
        "workflow_control",
        json!({"session": id, "action": "resume"}),
    )
    .await;
    let back = h
        .ok(
            "workflow_control",
            json!({"session": id, "action": "rollback", "to_phase": "readme"}),
        )
        .await;
    assert_eq!(back["session"]["phase_id"], "readme");

    let state = h.ok("workflow_state", json!({"session": id})).await;
    let kinds: Vec<&str> = state["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"advanced") && kinds.contains(&"rolled_back"),
        "{kinds:?}"
    );
    let listed = h.ok("workflow_state", json!({"status": "active"})).await;
    assert_eq!(listed["sessions"][0]["id"], id);
    assert_eq!(listed["total"], 1, "{listed}");
    assert!(listed.get("next_offset").is_none(), "{listed}");
    // A page past the end is empty and says how many there are.
    let past = h
        .ok("workflow_state", json!({"limit": 1, "offset": 5}))
        .await;
    assert_eq!(past["sessions"], json!([]), "{past}");
    assert_eq!(past["total"], 1, "{past}");

    let abandoned = h
        .ok(
            "workflow_control",
            json!({"session": id, "action": "abandon"}),
        )
        .await;
    assert_eq!(abandoned["session"]["status"], "abandoned");
    assert!(
        h.err(
            "workflow_control",
            json!({"session": id, "action": "resume"})
        )
        .await
        .contains("cannot resume")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_actionable_and_leave_the_server_serving() {
    let h = Harness::start(Workspace::new().build()).await;
    assert!(
        h.err("workflow_next", json!({"session": "nope"}))
            .await
            .contains("unknown session `nope`")
    );
    assert!(
        h.err("workflow_start", json!({"workflow": "nope"}))
            .await
            .contains("known workflows: api-change, bugfix-with-regression-test, c-feature, ")
    );
    assert!(
        h.err(
            "workflow_get",
            json!({"workflow": "project-basics", "phase": "x"})
        )
        .await
        .contains("its phases are: readme")
    );
    let bad_args = h
        .err(
            "workflow_control",
            json!({"session": "s", "action": "explode"}),
        )
        .await;
    assert!(bad_args.contains("explode"), "{bad_args}");
    let id = h.start_session(json!({"workflow": "project-basics"})).await;
    let huge = "x".repeat(1_100_000);
    let too_big = h
        .err(
            "workflow_validate",
            json!({"session": id, "evidence": {"notes": huge}}),
        )
        .await;
    assert!(
        too_big.contains("over the limit of 1048576 bytes"),
        "{too_big}"
    );
    // Nothing was recorded by the refused call; the session still works.
    let state = h.ok("workflow_state", json!({"session": id})).await;
    assert_eq!(state["events"].as_array().unwrap().len(), 1);
    assert_eq!(
        h.ok("workflow_next", json!({"session": id})).await["session"]["status"],
        "active"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn workflows_and_sessions_are_resources() {
    let h = Harness::start(Workspace::new().build()).await;
    let id = h.start_session(json!({"workflow": "project-basics"})).await;
    let resources = h.client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert!(
        uris.contains(&"checkrail://workflows/project-basics"),
        "{uris:?}"
    );
    assert!(
        uris.contains(&format!("checkrail://sessions/{id}").as_str()),
        "{uris:?}"
    );
    assert!(uris.contains(&"checkrail://rules/compile"), "{uris:?}");
    let templates = h.client.list_resource_templates(None).await.unwrap();
    assert_eq!(templates.resource_templates.len(), 3);

    let read = h
        .client
        .read_resource(ReadResourceRequestParams::new(
            "checkrail://rules/file-exists",
        ))
        .await
        .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("not text")
    };
    let rule: Value = serde_json::from_str(text).unwrap();
    assert_eq!(rule["id"], "file-exists");
    assert!(
        rule["config_schema"]["properties"]["paths"].is_object(),
        "{rule}"
    );

    let read = h
        .client
        .read_resource(ReadResourceRequestParams::new(format!(
            "checkrail://sessions/{id}"
        )))
        .await
        .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("not text")
    };
    let body: Value = serde_json::from_str(text).unwrap();
    assert_eq!(body["events"][0]["kind"], "started");

    let missing = h
        .client
        .read_resource(ReadResourceRequestParams::new("checkrail://sessions/zzz"))
        .await;
    assert!(missing.unwrap_err().to_string().contains("unknown session"));
}
