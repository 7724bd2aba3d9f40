//! `checkrail stats`: figures across a workspace's sessions.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use checkrail::Checkrail;
use checkrail::service::Service;
use checkrail::session::StoreTarget;
use checkrail::trusted::StateDir;

use super::Exit;

/// Arguments of `checkrail stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Workspace whose sessions to read.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Prints per workflow and phase: sessions, first-try pass rate, attempts,
/// median time, top failing rules and findings, cache hit rate.
pub fn run(engine: Checkrail, state: &StateDir, store: &StoreTarget, args: &Args) -> Result<Exit> {
    let service = Service::open_in(Arc::new(engine), &args.workspace, state, store)?;
    let sessions = service.list(None)?;
    let stats = checkrail::stats::compute(&sessions, |id| service.events(id));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        print!("{}", checkrail::stats::render(&stats));
    }
    Ok(Exit::Passed)
}
