//! `checkrail dashboard`: the web dashboard on its own, for people who use
//! the stdio server; `--set-password` sets the credential it signs in with.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use checkrail::Checkrail;
use checkrail::dashboard::{MIN_PASSWORD, login_file, set_password};
use checkrail::service::Service;
use checkrail::session::StoreTarget;
use checkrail::trusted::StateDir;

use super::Exit;

/// Arguments of `checkrail dashboard`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Workspace whose sessions to show.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: PathBuf,
    /// Loopback address to serve on (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8766")]
    addr: SocketAddr,
    /// Set the dashboard password (asked twice at the terminal), then exit.
    #[arg(long)]
    set_password: bool,
}

/// Serves the dashboard until Ctrl-C, or sets its password.
pub fn run(engine: Checkrail, state: &StateDir, store: &StoreTarget, args: &Args) -> Result<Exit> {
    if args.set_password {
        return password(state);
    }
    if !args.addr.ip().is_loopback() {
        anyhow::bail!(
            "serve the dashboard on a loopback address (e.g. 127.0.0.1:8766), not {}: its sign-in cookie travels in the clear; for a team, put `checkrail serve --http` behind TLS",
            args.addr
        );
    }
    let service = Arc::new(Service::open_in(
        Arc::new(engine),
        &args.workspace,
        state,
        store,
    )?);
    let login = login_file(state);
    if !login.is_file() {
        eprintln!(
            "checkrail: no dashboard password is set yet; set one with `checkrail dashboard --set-password`"
        );
    }
    serve(service, args.addr, login)?;
    Ok(Exit::Passed)
}

#[cfg(feature = "http")]
fn serve(service: Arc<Service>, addr: SocketAddr, login: PathBuf) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listen on {addr}"))?;
        let bound = listener.local_addr()?;
        let (hosts, origins) = checkrail::mcp::http::accepted_names(bound, &[], &[]);
        let app = checkrail::dashboard::router(
            service,
            checkrail::dashboard::DashboardOptions {
                login_file: login,
                hosts,
                origins,
            },
        );
        eprintln!("checkrail: dashboard at http://{bound}/ui");
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serve the dashboard")
    })
}

#[cfg(not(feature = "http"))]
fn serve(_: Arc<Service>, _: SocketAddr, _: PathBuf) -> Result<()> {
    anyhow::bail!(
        "this checkrail was built without the `http` feature; rebuild with `--features http`"
    )
}

/// Asks for the password twice, without echo, at a terminal.
fn password(state: &StateDir) -> Result<Exit> {
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        anyhow::bail!(
            "set the dashboard password at an interactive terminal (stdin and stdout must be a terminal): it is a human's credential, so run this command yourself"
        );
    }
    let first = hidden(&format!(
        "new dashboard password (at least {MIN_PASSWORD} characters): "
    ))?;
    let second = hidden("again: ")?;
    if first != second {
        anyhow::bail!("the two passwords differ; nothing was changed");
    }
    set_password(state, &first)?;
    println!(
        "dashboard password set ({}); sign in at /ui of `checkrail dashboard` or `checkrail serve --http`",
        login_file(state).display()
    );
    Ok(Exit::Passed)
}

/// Reads a line from the terminal with echo off.
fn hidden(prompt: &str) -> Result<String> {
    print!("{prompt}");
    std::io::stdout().flush()?;
    // SAFETY: termios calls on stdin's descriptor with a zeroed struct that
    // tcgetattr fills; echo is restored before returning.
    let saved = unsafe {
        let mut term: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(0, &mut term) != 0 {
            anyhow::bail!(
                "read the terminal settings: {}",
                std::io::Error::last_os_error()
            );
        }
        let saved = term;
        term.c_lflag &= !libc::ECHO;
        libc::tcsetattr(0, libc::TCSANOW, &term);
        saved
    };
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    // SAFETY: restores the settings read above.
    unsafe {
        libc::tcsetattr(0, libc::TCSANOW, &saved);
    }
    println!();
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
