//! `checkrail check`: run one checkpoint.

use std::path::PathBuf;

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Result;
use checkrail::Checkrail;
use checkrail::engine::progress::Progress;
use checkrail::engine::{CheckpointRun, Guards, Hooks};
use checkrail::trusted::StateDir;
use checkrail::workspace::Workspace;

use super::{Exit, json_arg, output};

/// How `checkrail check` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// The report as JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

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
    /// Print the report as JSON on stdout (same as `--format json`).
    #[arg(long)]
    json: bool,
    /// How to print the report: `human` (default), `json`, or `sarif`
    /// (SARIF 2.1.0, for code scanning).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// A workflow input, as NAME=VALUE (repeatable); fills `{{inputs.NAME}}` in the workflow.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    inputs: Vec<String>,
    /// Show progress (rules and the programs they run) on stderr even when it is not a terminal.
    #[arg(long)]
    progress: bool,
}

/// Runs the checkpoint and prints the report.
pub fn run(engine: &Checkrail, state: &StateDir, args: &Args) -> Result<Exit> {
    let workflow = engine.catalog().resolve(&args.workflow)?;
    let mut inputs = serde_json::Map::new();
    for pair in &args.inputs {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--input `{pair}` must be NAME=VALUE"))?;
        inputs.insert(name.to_owned(), serde_json::Value::String(value.to_owned()));
    }
    for (name, spec) in &workflow.inputs {
        if let (false, Some(default)) = (inputs.contains_key(name), &spec.default) {
            inputs.insert(name.clone(), serde_json::Value::String(default.clone()));
        }
    }
    let workflow = workflow
        .instantiate(&inputs)
        .map_err(|e| anyhow::anyhow!("{e} (pass it with --input NAME=VALUE)"))?;
    let evidence = args
        .evidence
        .as_deref()
        .map(|e| json_arg(e, "evidence"))
        .transpose()?;
    let hooks = Hooks {
        progress: (std::io::stderr().is_terminal() || args.progress).then(|| {
            Arc::new(|p: Progress| eprintln!("  … {}", p.message()))
                as Arc<dyn Fn(Progress) + Send + Sync>
        }),
        cancel: None,
    };
    let workspace = Workspace::open(&args.workspace, state)?;
    checkrail::allow::check_workflow(&workspace, &workflow.source)?;
    let config = workspace.config()?;
    let report = engine.run_checkpoint(&CheckpointRun {
        workflow: &workflow,
        phase: &args.phase,
        workspace: &workspace,
        evidence: evidence.as_ref(),
        config: &config,
        hooks,
        use_cache: true,
        baselines: &serde_json::Map::new(),
        guards: Guards {
            cargo_overrides: true,
            ..Guards::default()
        },
    })?;
    match (args.format, args.json) {
        (Some(Format::Sarif), _) => output::json(&checkrail::sarif::log(&[(
            format!("{}/{}", report.workflow, report.phase),
            &report,
        )]))?,
        (Some(Format::Json), _) | (None, true) => output::json(&report)?,
        _ => output::checkpoint(&report),
    }
    Ok(if report.passed {
        Exit::Passed
    } else {
        Exit::Failed
    })
}
