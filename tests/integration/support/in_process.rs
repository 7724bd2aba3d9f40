//! The MCP server in this process over `tokio::io::duplex`, driven by
//! rmcp's client: no process to start, the same protocol on the wire.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkrail::mcp::CheckrailMcp;
use checkrail::service::Service;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::Value;

use super::{PATIENCE, Sessions};

/// Serves `service` in this process to `client`, over a duplex pipe; the
/// client, connected.
pub async fn duplex<C: ClientHandler>(
    service: Arc<Service>,
    client: C,
) -> RunningService<RoleClient, C> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let server = CheckrailMcp::new(service).serve(server_io).await.unwrap();
        let _ = server.waiting().await;
    });
    client.serve(client_io).await.unwrap()
}

/// A client that keeps the progress notifications it is sent.
#[derive(Clone, Default)]
pub struct Client {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Client {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("checkrail-tests", "0"),
        )
    }
}

/// The server in this process on a workspace, and a [`Client`] of it:
/// `Harness::start(ws).await.ok("workflow_list", json!({}))`.
pub struct Harness {
    /// The connected client.
    pub client: RunningService<RoleClient, Client>,
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    _ws: Option<tempfile::TempDir>,
    /// The workspace.
    pub dir: PathBuf,
}

impl Harness {
    /// A server on the workspace `ws`, kept as long as the harness.
    pub async fn start(ws: tempfile::TempDir) -> Self {
        let mut harness = Self::over(Sessions::on(ws.path())).await;
        harness._ws = Some(ws);
        harness
    }

    /// A server on the service `sessions` opens.
    pub async fn over(sessions: Sessions) -> Self {
        let dir = sessions.dir().to_owned();
        let service = tokio::task::spawn_blocking(move || sessions.open())
            .await
            .unwrap();
        let client = Client::default();
        let progress = client.progress.clone();
        Self {
            client: duplex(Arc::new(service), client).await,
            progress,
            _ws: None,
            dir,
        }
    }

    /// Calls `tool` with `args`; its result, whatever it was.
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        let params = CallToolRequestParams::new(tool.to_owned())
            .with_arguments(args.as_object().unwrap().clone());
        self.client.call_tool(params).await.unwrap()
    }

    /// Calls `tool` with `args`, which must succeed; its structured content.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let result = self.call(tool, args.clone()).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{tool} {args} failed: {:?}",
            result.content
        );
        result
            .structured_content
            .unwrap_or_else(|| panic!("{tool} returned no structured content"))
    }

    /// Starts a session with `args` (`workflow`, `inputs`); its id.
    pub async fn start_session(&self, args: Value) -> String {
        let started = self.ok("workflow_start", args).await;
        started["session"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {started}"))
            .to_owned()
    }

    /// Calls `tool` with `args`, which must fail; its error message.
    pub async fn err(&self, tool: &str, args: Value) -> String {
        let result = self.call(tool, args).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "expected an error: {:?}",
            result.structured_content
        );
        result.content[0].as_text().unwrap().text.clone()
    }

    /// `(progress, total)` of each progress notification of request `token`
    /// handled so far, by progress, once `done` holds of them. The client
    /// hands notifications to its handler on tasks of their own, possibly
    /// after the answer; fails the test if `done` still does not hold after
    /// [`PATIENCE`].
    pub async fn progress_until(
        &self,
        token: &ProgressToken,
        done: impl Fn(&[(f64, Option<f64>)]) -> bool,
    ) -> Vec<(f64, Option<f64>)> {
        let give_up = Instant::now() + PATIENCE;
        loop {
            let mut mine: Vec<(f64, Option<f64>)> = self
                .progress
                .lock()
                .unwrap()
                .iter()
                .filter(|p| p.progress_token == *token)
                .map(|p| (p.progress, p.total))
                .collect();
            mine.sort_by(|a, b| a.0.total_cmp(&b.0));
            if done(&mine) {
                return mine;
            }
            assert!(
                Instant::now() < give_up,
                "progress of {token:?} still incomplete after {PATIENCE:?}: {mine:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
