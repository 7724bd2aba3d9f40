//! `checkrail run -- <agent…>`: a supervisor the agent cannot leave. The
//! MCP server (with the hooks' endpoint and the dashboard) runs here,
//! outside any sandbox, on loopback with a fresh token; the agent runs
//! confined by Landlock (see [`checkrail::confine`]), with the state
//! directory out of its reach, and reaches the server through
//! `CHECKRAIL_URL` and `CHECKRAIL_TOKEN`. Humans decide from outside: a
//! terminal that is not the agent's, or the dashboard.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use checkrail::Checkrail;
use checkrail::confine::Confinement;
use checkrail::service::Service;
use checkrail::session::StoreTarget;
use checkrail::trusted::StateDir;

use super::Exit;
use super::connect::{CONFINED_VAR, TOKEN_VAR, URL_VAR};

/// The variable carrying the rules from `run` to the confining child.
const RULES_VAR: &str = "CHECKRAIL_CONFINEMENT";

/// Arguments of `checkrail run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workspace the agent works in (writable to it).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: PathBuf,
    /// Another path the agent may write beneath (a toolchain cache, say);
    /// repeatable.
    #[arg(long = "allow-write", value_name = "PATH")]
    allow_write: Vec<PathBuf>,
    /// Run the agent without confinement where Landlock is missing; its
    /// sessions are recorded as unconfined.
    #[arg(long)]
    unconfined: bool,
    /// The agent's command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Arguments of the hidden `checkrail confined-exec`: the child `run`
/// starts, which confines itself and becomes the agent.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The agent's command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

/// Runs the agent under supervision until it exits; exits as it did.
pub fn run(engine: Checkrail, state: &StateDir, store: &StoreTarget, args: &Args) -> Result<Exit> {
    let workspace = args
        .workspace
        .canonicalize()
        .with_context(|| format!("open the workspace {}", args.workspace.display()))?;
    let confinement = if args.unconfined {
        None
    } else {
        let mut hidden = vec![state.root()];
        if let StoreTarget::Sqlite(path) = store {
            hidden.push(path.as_path());
        }
        Some(Confinement::plan(&workspace, &hidden, &args.allow_write)?)
    };
    let mut service = Service::open_in(Arc::new(engine), &workspace, state, store)?;
    // The policy must be as a human allowed it before anything runs.
    service.opened().config()?;
    if let Some(confinement) = &confinement {
        service = service.with_confinement(confinement.clone());
    }
    let token = fresh_token()?;
    let server = Supervisor::start(Arc::new(service), state, &token)?;
    let url = format!("http://{}", server.addr);
    eprintln!(
        "checkrail: supervising `{}` in {} ({}); MCP at {url}/mcp; approve from another terminal with `checkrail session approve`, or from the dashboard at {url}/",
        args.command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        workspace.display(),
        confinement
            .as_ref()
            .map_or_else(|| "unconfined".to_owned(), Confinement::describe)
    );
    let mut command = match &confinement {
        Some(confinement) => {
            let exe = std::env::current_exe().context("find the checkrail executable")?;
            let mut command = std::process::Command::new(exe);
            command
                .arg("confined-exec")
                .arg("--")
                .args(&args.command)
                .env(RULES_VAR, serde_json::to_string(confinement)?)
                .env(CONFINED_VAR, "1");
            command
        }
        None => {
            let mut command = std::process::Command::new(&args.command[0]);
            command.args(&args.command[1..]);
            command
        }
    };
    command
        .env(URL_VAR, &url)
        .env(TOKEN_VAR, &token)
        // The agent's MCP clients and hooks find the supervisor, not a
        // state directory or session database of their own.
        .env_remove("CHECKRAIL_STATE_DIR")
        .env_remove("CHECKRAIL_STORE");
    // Ctrl-C is the agent's to handle; the supervisor stays until the
    // agent is gone.
    let _ignored = IgnoreInterrupt::new();
    let status = command
        .status()
        .with_context(|| format!("start {}", args.command[0].to_string_lossy()))?;
    drop(server);
    Ok(match status.code() {
        Some(0) => Exit::Passed,
        _ => Exit::Failed,
    })
}

/// Confines this process with the rules `run` handed over, then becomes
/// the agent. Never returns on success.
pub fn confined_exec(args: &ExecArgs) -> Result<Exit> {
    let rules = std::env::var(RULES_VAR)
        .context("confined-exec is started by `checkrail run`, which hands it the rules")?;
    let confinement: Confinement =
        serde_json::from_str(&rules).context("read the rules `checkrail run` handed over")?;
    // SAFETY: resetting a signal disposition to its default has no
    // preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
    confinement.enforce_dropping_capabilities()?;
    let mut command = std::process::Command::new(&args.command[0]);
    command.args(&args.command[1..]).env_remove(RULES_VAR);
    let error = command.exec();
    bail!("start {}: {error}", args.command[0].to_string_lossy())
}

/// A random bearer token for this run.
fn fresh_token() -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("draw a token: {e}"))?;
    Ok(hex::encode(bytes))
}

/// SIGINT ignored while it lives (the terminal sends it to the agent and
/// to us; the agent decides).
struct IgnoreInterrupt;

impl IgnoreInterrupt {
    fn new() -> Self {
        // SAFETY: setting a signal to be ignored has no preconditions.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
        }
        Self
    }
}

impl Drop for IgnoreInterrupt {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
        }
    }
}

/// The server, on a thread of its own until dropped.
struct Supervisor {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Supervisor {
    #[cfg(feature = "http")]
    fn start(service: Arc<Service>, state: &StateDir, token: &str) -> Result<Self> {
        use checkrail::mcp::http::{HttpOptions, serve};
        let options = HttpOptions {
            addr: "127.0.0.1:0".parse()?,
            token: Some(token.to_owned()),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            dashboard_login: Some(checkrail::dashboard::login_file(state)),
            hooks_state: Some(state.root().to_owned()),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("checkrail-run")
            .build()
            .context("start the async runtime")?;
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let server = tokio::spawn(serve(service, options, tx, async {
                    let _ = stopped.await;
                }));
                match rx.await {
                    Ok(addr) => {
                        let _ = bound_tx.send(Ok(addr));
                    }
                    Err(_) => {
                        let failed = match server.await {
                            Ok(Err(e)) => e.to_string(),
                            _ => "the server stopped before it listened".to_owned(),
                        };
                        let _ = bound_tx.send(Err(failed));
                        return;
                    }
                }
                if let Ok(Err(e)) = server.await {
                    tracing::error!("the supervisor's server stopped: {e}");
                }
            });
            runtime.shutdown_timeout(std::time::Duration::from_millis(200));
        });
        let addr = bound_rx
            .recv()
            .context("start the supervisor's server")?
            .map_err(|e| anyhow::anyhow!("start the supervisor's server: {e}"))?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    #[cfg(not(feature = "http"))]
    fn start(_: Arc<Service>, _: &StateDir, _: &str) -> Result<Self> {
        bail!("this checkrail was built without the `http` feature; rebuild with `--features http`")
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
