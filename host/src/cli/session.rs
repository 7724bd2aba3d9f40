//! `checkrail session list | show | approve`: what a human does with
//! sessions. Approving a gate is only possible here, never over MCP.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use checkrail::Checkrail;
use checkrail::service::Service;
use checkrail::session::Status;

use super::{Exit, output};

/// Session subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the workspace's sessions, newest first.
    List {
        /// Workspace whose sessions to list.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Only sessions with this status (active, awaiting_approval, paused, completed, abandoned).
        #[arg(long, value_parser = parse_status)]
        status: Option<Status>,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show a session and its timeline of events.
    Show {
        /// Session id.
        id: String,
        /// Workspace the session belongs to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Approve the checkpoint a session is waiting on (a human decision).
    Approve {
        /// Session id.
        id: String,
        /// Workspace the session belongs to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Who approves [default: $USER].
        #[arg(long)]
        by: Option<String>,
        /// A note recorded with the approval.
        #[arg(long)]
        note: Option<String>,
    },
}

impl Command {
    /// The workspace this command looks at.
    pub fn workspace(&self) -> &Path {
        match self {
            Command::List { workspace, .. }
            | Command::Show { workspace, .. }
            | Command::Approve { workspace, .. } => workspace,
        }
    }
}

fn parse_status(text: &str) -> Result<Status, String> {
    Status::parse(text)
        .ok_or_else(|| format!("`{text}` is not a status; use active, awaiting_approval, paused, completed or abandoned"))
}

/// Runs a session subcommand.
pub fn run(engine: Checkrail, command: &Command) -> Result<Exit> {
    let service = Service::open(Arc::new(engine), command.workspace())?;
    match command {
        Command::List { status, json, .. } => {
            let sessions = service.list(*status)?;
            if *json {
                output::json(&serde_json::json!({ "sessions": sessions }))?;
            } else if sessions.is_empty() {
                println!("no sessions");
            } else {
                for s in sessions {
                    println!(
                        "{}  {:<17} {} {} · phase {} · updated {}",
                        s.id, s.status, s.workflow_id, s.workflow_version, s.phase_id, s.updated_at
                    );
                }
            }
        }
        Command::Show { id, json, .. } => {
            let standing = service.next(id)?;
            let events = service.events(id)?;
            if *json {
                output::json(
                    &serde_json::json!({ "session": standing.session, "next_step": standing.next_step, "events": events }),
                )?;
            } else {
                let s = &standing.session;
                println!(
                    "session {} · {} {} · {} · phase {}",
                    s.id, s.workflow_id, s.workflow_version, s.status, s.phase_id
                );
                println!("  {}", standing.next_step);
                println!();
                for e in events {
                    let phase = e
                        .phase
                        .as_deref()
                        .map(|p| format!(" [{p}]"))
                        .unwrap_or_default();
                    let detail = match e.data.get("summary").and_then(|v| v.as_str()) {
                        Some(summary) => format!(" — {summary}"),
                        None => String::new(),
                    };
                    println!("  {}  {}{phase}{detail}", e.at, e.kind);
                }
            }
        }
        Command::Approve { id, by, note, .. } => {
            let approver = by
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "human".to_owned());
            let standing = service.approve(id, &approver, note.as_deref())?;
            println!(
                "approved; session {} is now {} at phase {}",
                standing.session.id, standing.session.status, standing.session.phase_id
            );
        }
    }
    Ok(Exit::Passed)
}
