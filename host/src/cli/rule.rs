//! `checkrail rule list | run | new | docs`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use checkrail::Checkrail;
use checkrail::engine::RuleRun;
use serde::Serialize;

use super::{Exit, json_arg, output};

/// Rule subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List installed rules (bundled and from --rules-dir).
    List {
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run one rule with a config against a workspace.
    Run {
        /// Rule reference, e.g. `file-exists` or `file-exists@^0.1`.
        rule: String,
        /// The rule's config: JSON text, or @file.
        #[arg(long, value_name = "JSON|@FILE", default_value = "{}")]
        config: String,
        /// Workspace directory the rule checks.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Deadline in milliseconds.
        #[arg(long, value_name = "MS")]
        timeout_ms: Option<u64>,
        /// Memory cap in MiB.
        #[arg(long, value_name = "MIB")]
        memory_mb: Option<u32>,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Create a rule crate that tests, builds and runs as generated.
    New(super::rule_new::Args),
    /// Print the rule reference as Markdown, generated from each installed
    /// rule's description, capabilities and config schema.
    Docs(super::rule_docs::Args),
}

/// One line of `rule list`.
#[derive(Debug, Serialize)]
pub struct RuleSummary {
    /// Rule id.
    pub id: String,
    /// Version.
    pub version: String,
    /// What it checks.
    pub description: String,
    /// Capabilities it may ask for.
    pub capabilities: Vec<String>,
    /// API version it was built for.
    pub api_version: String,
    /// sha256 of the component.
    pub digest: String,
    /// Where it came from.
    pub origin: String,
    /// JSON Schema of its config.
    pub config_schema: serde_json::Value,
}

impl Command {
    /// The workspace this command looks at (packs and lock of `rule run`).
    pub fn workspace(&self) -> Option<&std::path::Path> {
        match self {
            Command::Run { workspace, .. } => Some(workspace),
            _ => None,
        }
    }
}

/// Runs a rule subcommand.
pub fn run(engine: &Checkrail, command: &Command) -> Result<Exit> {
    match command {
        Command::List { json } => {
            let mut rules = Vec::new();
            let mut failed = Vec::new();
            for name in engine.rule_names() {
                match engine.rule(&name) {
                    Ok(rule) => {
                        let c = &rule.component;
                        rules.push(RuleSummary {
                            id: c.info.id.clone(),
                            version: c.info.version.to_string(),
                            description: c.info.description.clone(),
                            capabilities: c
                                .info
                                .capabilities
                                .iter()
                                .map(ToString::to_string)
                                .collect(),
                            api_version: c.api_version.to_string(),
                            digest: c.digest.clone(),
                            origin: c.origin.clone(),
                            config_schema: c.info.config_schema.clone(),
                        });
                    }
                    Err(e) => failed.push(checkrail::error::chain(&e)),
                }
            }
            let skipped = engine.rule_warnings();
            if *json {
                output::json(&serde_json::json!({
                    "rules": rules,
                    "unusable": failed,
                    "skipped": skipped,
                }))?;
            } else {
                output::rule_list(&rules);
                for f in &failed {
                    eprintln!("warning: unusable {f}");
                }
            }
            Ok(Exit::Passed)
        }
        Command::Run {
            rule,
            config,
            workspace,
            timeout_ms,
            memory_mb,
            json,
        } => {
            let config = json_arg(config, "rule config")?;
            let report = engine.run_rule(&RuleRun {
                rule,
                config: &config,
                workspace,
                timeout: timeout_ms.map(Duration::from_millis),
                memory: memory_mb.map(|mb| (mb as usize) << 20),
            })?;
            if *json {
                output::json(&report)?;
            } else {
                output::rule_report(&report);
            }
            Ok(if report.status == checkrail::report::RuleStatus::Passed {
                Exit::Passed
            } else {
                Exit::Failed
            })
        }
        Command::New(args) => super::rule_new::run(args),
        Command::Docs(args) => super::rule_docs::run(engine, args),
    }
}
