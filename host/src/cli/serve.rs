//! `checkrail serve`: the MCP server (stdio by default, `--http ADDR` for
//! streamable HTTP).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use checkrail::Checkrail;
use checkrail::mcp::CheckrailMcp;
use checkrail::service::{DEFAULT_MAX_EVIDENCE, Service};
use checkrail::session::StoreTarget;
use checkrail::trusted::StateDir;
use rmcp::ServiceExt;

use super::Exit;

/// Arguments of `checkrail serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Workspace the sessions and checks belong to (its sessions live in the
    /// per-user state directory, or in the --store database).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: PathBuf,
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8765) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Bearer token HTTP clients must send; required for a non-loopback address.
    #[arg(long, env = "CHECKRAIL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Extra host name accepted in the HTTP Host header (repeatable).
    #[arg(long = "allowed-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
    /// Extra browser origin accepted in the HTTP Origin header (repeatable).
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Export traces of tool calls and rule runs to this OTLP/HTTP collector
    /// (e.g. http://localhost:4318); off when unset.
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Relay MCP on stdio to the supervisor of `checkrail run`
    /// (`CHECKRAIL_URL`, `CHECKRAIL_TOKEN`), for a client inside it that
    /// only starts stdio servers.
    #[arg(long, conflicts_with = "http")]
    connect: bool,
    /// Largest evidence accepted by workflow_validate, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_EVIDENCE)]
    max_evidence_bytes: usize,
}

/// Whether `serve` relays to a supervisor instead of serving: asked to
/// (`--connect`), or a stdio server started inside `checkrail run` (the
/// MCP configuration `init` writes works there unchanged).
pub fn relays(args: &Args) -> bool {
    args.connect || (args.http.is_none() && super::connect::Endpoint::from_env().is_some())
}

/// Serves until stdin closes (stdio) or Ctrl-C / SIGTERM (HTTP).
pub fn run(engine: Checkrail, state: &StateDir, store: &StoreTarget, args: &Args) -> Result<Exit> {
    let service = Arc::new(
        Service::open_for_serving(Arc::new(engine), &args.workspace, state, store)?
            .with_max_evidence(args.max_evidence_bytes),
    );
    // Before the async runtime: the exporter runs on a thread of its own,
    // and dropping the guard at the end flushes what is pending.
    let _telemetry = match &args.otlp_endpoint {
        Some(endpoint) => Some(checkrail::telemetry::init(endpoint).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("checkrail-mcp")
        .build()
        .context("start the async runtime")?;
    let exit = runtime.block_on(async move {
        match args.http {
            None => serve_stdio(service).await,
            Some(addr) => {
                serve_http(service, args, addr, checkrail::dashboard::login_file(state)).await
            }
        }
    });
    // Rules still running on the blocking pool must not keep the process
    // alive once the client is gone: their results have nowhere to go.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    exit
}

/// MCP on stdin/stdout through [`checkrail::mcp::stdio::relay`], which
/// answers the lines rmcp's codec would drop.
async fn serve_stdio(service: Arc<Service>) -> Result<Exit> {
    let (server_in, to_server) = tokio::io::duplex(1 << 20);
    let (from_server, server_out) = tokio::io::duplex(1 << 20);
    let listed = Arc::new(std::sync::OnceLock::new());
    let relay = tokio::spawn(checkrail::mcp::stdio::relay(
        tokio::io::stdin(),
        tokio::io::stdout(),
        to_server,
        from_server,
        listed.clone(),
    ));
    let server = CheckrailMcp::new(service)
        .serve((server_in, server_out))
        .await
        .context("start the MCP session on stdio")?;
    // Initialized: from now on the relay answers a bare `tools/list` for
    // the protocol the client asked for.
    let version = server
        .peer()
        .peer_info()
        .map(|info| info.protocol_version.clone());
    let _ = listed.set(checkrail::mcp::listed_tools_answer(version.as_ref()));
    // When stdin closes the client is gone: a check still running has no
    // one to answer, so the server leaves after a short grace for answers
    // already on their way.
    let input_closed = async {
        let _ = relay.await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    tokio::select! {
        reason = server.waiting() => {
            let reason = reason.context("serve MCP on stdio")?;
            tracing::info!("stdio session ended: {reason:?}");
        }
        () = input_closed => tracing::info!("stdin closed while a request was running; leaving it"),
    }
    Ok(Exit::Passed)
}

#[cfg(feature = "http")]
async fn serve_http(
    service: Arc<Service>,
    args: &Args,
    addr: SocketAddr,
    dashboard_login: PathBuf,
) -> Result<Exit> {
    use checkrail::mcp::http::{HttpOptions, serve};
    let options = HttpOptions {
        addr,
        token: args.token.clone(),
        allowed_hosts: args.allowed_hosts.clone(),
        allowed_origins: args.allowed_origins.clone(),
        dashboard_login: Some(dashboard_login),
        hooks_state: None,
    };
    options.validate().map_err(anyhow::Error::msg)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let server = tokio::spawn(serve(service, options, tx, shutdown));
    if let Ok(bound) = rx.await {
        eprintln!("checkrail: MCP over streamable HTTP at http://{bound}/mcp");
    }
    server
        .await
        .context("HTTP server task")?
        .context("serve MCP over HTTP")?;
    Ok(Exit::Passed)
}

#[cfg(not(feature = "http"))]
async fn serve_http(_: Arc<Service>, _: &Args, _: SocketAddr, _: PathBuf) -> Result<Exit> {
    anyhow::bail!(
        "this checkrail was built without the `http` feature; rebuild with `--features http`"
    )
}
