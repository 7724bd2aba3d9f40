//! The real `checkrail serve` over stdio, as the MCP benchmarks drive it:
//! started, called, and its memory read.

use std::path::Path;

use rmcp::model::{CallToolRequestParams, ClientRequest, PingRequest, ServerResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use super::Kib;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_checkrail");

/// An initialized MCP session with one server process.
pub type Client = RunningService<RoleClient, ()>;

/// Starts `checkrail serve` on `workspace`, its compile cache and state
/// under `cache` (shared between servers: warm once, warm for all), with
/// `env` on top, and initializes an MCP session. Returns the client and the
/// server's process id.
pub async fn spawn(workspace: &Path, cache: &Path, env: &[(&str, &str)]) -> (Client, u32) {
    // The bench set the workspace up: its policy files are allowed.
    super::allow(workspace, &cache.join("state"));
    spawn_allowed(workspace, cache, env).await
}

/// [`spawn`] for a workspace already allowed under `cache`: only the
/// server's start and the MCP handshake, for a bench that times them.
pub async fn spawn_allowed(workspace: &Path, cache: &Path, env: &[(&str, &str)]) -> (Client, u32) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("serve")
        .arg("--workspace")
        .arg(workspace)
        .env("CHECKRAIL_CACHE_DIR", cache)
        .env("CHECKRAIL_STATE_DIR", cache.join("state"))
        .env("CHECKRAIL_LOG", "error")
        .envs(env.iter().copied());
    let transport = TokioChildProcess::new(cmd).expect("spawn checkrail serve");
    let pid = transport.id().expect("child pid");
    let client = ().serve(transport).await.expect("initialize");
    (client, pid)
}

/// Calls `tool`, panics if it answers with an error, and returns its
/// structured content.
pub async fn call(client: &Client, tool: &str, args: Value) -> Value {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().expect("arguments are an object").clone());
    let result = client.call_tool(params).await.expect("call");
    assert_ne!(result.is_error, Some(true), "{tool}: {:?}", result.content);
    result.structured_content.expect("structured content")
}

/// One `ping` round trip: the protocol over stdio and nothing else.
pub async fn ping(client: &Client) {
    let answer = client
        .send_request(ClientRequest::PingRequest(PingRequest::default()))
        .await
        .expect("ping");
    assert!(
        matches!(answer, ServerResult::EmptyResult(_)),
        "ping answered {answer:?}"
    );
}

/// Starts a session of `workflow` and returns its id.
pub async fn start(client: &Client, workflow: &str) -> String {
    let out = call(client, "workflow_start", json!({ "workflow": workflow })).await;
    out["session"]["id"]
        .as_str()
        .expect("workflow_start answers a session id")
        .to_owned()
}

/// The resident memory of process `pid` now (0 if it cannot be read).
pub fn rss(pid: u32) -> Kib {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    Kib(kib)
}

/// The peak resident memory of `command` run to its end: what loading the
/// same binary costs without serving anything.
pub fn peak_rss(command: &mut std::process::Command) -> Kib {
    #[expect(
        clippy::zombie_processes,
        reason = "reaped below by wait4, which also reports its peak RSS"
    )]
    let child = command
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = i32::try_from(child.id()).expect("pid fits in pid_t");
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not waited for yet (std reaps only
    // in `wait`); both pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the baseline command failed: {command:?}"
    );
    // Linux reports `ru_maxrss` in KiB.
    Kib(u64::try_from(usage.ru_maxrss).unwrap_or(0))
}
