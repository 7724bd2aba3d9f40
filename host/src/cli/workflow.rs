//! `checkrail workflow list | lint`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use checkrail::{Checkrail, Error};

use super::{Exit, output};

/// Workflow subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List known workflows: bundled, the workspace's .checkrail/workflows, and those of installed packs (as <pack>/<id>, highest version).
    List {
        /// Workspace whose .checkrail/workflows to include.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Only workflows of this category.
        #[arg(long)]
        category: Option<String>,
        /// Only workflows with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Check workflow files: schema, rule references, rule configs.
    Lint {
        /// Workflow files (YAML or JSON).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// The workspace this command looks at, if any.
    pub fn workspace(&self) -> Option<&Path> {
        match self {
            Command::List { workspace, .. } => Some(workspace),
            Command::Lint { .. } => None,
        }
    }
}

#[derive(serde::Serialize)]
struct LintResult {
    file: String,
    ok: bool,
    problems: Vec<String>,
}

/// Runs a workflow subcommand.
pub fn run(engine: &Checkrail, command: &Command) -> Result<Exit> {
    match command {
        Command::List {
            category,
            tag,
            json,
            ..
        } => {
            let list = engine.catalog().list(category.as_deref(), tag.as_deref());
            for problem in engine.catalog().problems() {
                eprintln!("warning: skipped {}", checkrail::error::chain(problem));
            }
            if *json {
                output::json(&serde_json::json!({ "workflows": list }))?;
            } else {
                output::workflow_list(&list);
            }
            Ok(Exit::Passed)
        }
        Command::Lint { files, json } => {
            let results: Vec<LintResult> = files.iter().map(|file| lint(engine, file)).collect();
            let ok = results.iter().all(|r| r.ok);
            if *json {
                output::json(&serde_json::json!({ "ok": ok, "files": results }))?;
            } else {
                for r in &results {
                    if r.ok {
                        println!("ok    {}", r.file);
                    } else {
                        println!("FAIL  {}", r.file);
                        for p in &r.problems {
                            println!("      {p}");
                        }
                    }
                }
            }
            Ok(if ok { Exit::Passed } else { Exit::Failed })
        }
    }
}

fn lint(engine: &Checkrail, file: &Path) -> LintResult {
    let name = file.display().to_string();
    let problems = match checkrail::workflow::parse_file(file) {
        Ok(workflow) => engine.lint(&workflow),
        Err(Error::InvalidWorkflow { problems, .. }) => problems,
        Err(other) => vec![other.to_string()],
    };
    LintResult {
        file: name,
        ok: problems.is_empty(),
        problems,
    }
}
