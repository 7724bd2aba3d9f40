//! `checkrail check`: run one checkpoint.

use std::path::PathBuf;

use anyhow::Result;
use checkrail::Checkrail;

use super::{Exit, json_arg, output};

/// Arguments of `checkrail check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Workflow id (bundled or in <workspace>/.checkrail/workflows) or path to a workflow file.
    #[arg(long, value_name = "ID|PATH")]
    workflow: String,
    /// Id of the phase whose checkpoint to run.
    #[arg(long, value_name = "ID")]
    phase: String,
    /// Workspace directory the rules check.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: PathBuf,
    /// Evidence for the checkpoint: JSON text, or @file.
    #[arg(long, value_name = "JSON|@FILE")]
    evidence: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs the checkpoint and prints the report.
pub fn run(engine: &Checkrail, args: &Args) -> Result<Exit> {
    let workflow = engine.catalog().resolve(&args.workflow)?;
    let evidence = args
        .evidence
        .as_deref()
        .map(|e| json_arg(e, "evidence"))
        .transpose()?;
    let report =
        engine.run_checkpoint(&workflow, &args.phase, &args.workspace, evidence.as_ref())?;
    if args.json {
        output::json(&report)?;
    } else {
        output::checkpoint(&report);
    }
    Ok(if report.passed {
        Exit::Passed
    } else {
        Exit::Failed
    })
}
