//! `checkrail session list | show | approve | reject | verify | delete |
//! prune`: what a human (or CI) does with sessions. Deciding on a gate is only possible here, at
//! an interactive terminal, or through MCP elicitation where the workspace
//! owner opted in; never through an MCP tool.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use checkrail::Checkrail;
use std::io::{IsTerminal, Write};

use checkrail::exit::Kind;
use checkrail::service::{Decision, Service, VerifyReport};
use checkrail::session::{ErrorsView, Status, StoreTarget};
use checkrail::trusted::StateDir;

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
        /// Most sessions listed, newest first (0: all).
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u64,
        /// Sessions skipped before the list (for the next page).
        #[arg(long, value_name = "N", default_value_t = 0)]
        offset: u64,
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
    /// Approve the checkpoint a session is waiting on. A human decision:
    /// stdin and stdout must be a terminal, and you type `approve` at the
    /// prompt.
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
    /// Reject the checkpoint a session is waiting on, or its escalation: the
    /// agent must work on the phase and validate it again. Needs a terminal,
    /// like approve.
    Reject {
        /// Session id.
        id: String,
        /// Workspace the session belongs to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Who rejects [default: $USER].
        #[arg(long)]
        by: Option<String>,
        /// Why, recorded and shown to the agent.
        #[arg(long)]
        note: Option<String>,
    },
    /// Abandon a session for good, for instance one the agent escalated
    /// that should not go on. Needs a terminal, like approve.
    Abandon {
        /// Session id.
        id: String,
        /// Workspace the session belongs to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
    },
    /// Accept the changes made during a session to files that change how the
    /// tools judge (`.cargo/config.toml`, `conftest.py`, linter settings,
    /// `checkrail.toml`): they become the session's reference. Needs a
    /// terminal, like approve.
    AcceptChanges {
        /// Session id.
        id: String,
        /// Workspace the session belongs to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Who accepts [default: $USER].
        #[arg(long)]
        by: Option<String>,
        /// Why, recorded with the acceptance.
        #[arg(long)]
        note: Option<String>,
    },
    /// What went wrong in a session: each failed validation (phase,
    /// iteration, attempt, rules, when), the findings with how often they
    /// came back, and each phase's first-try pass rate.
    Errors {
        /// Session id.
        id: String,
        /// Workspace the session belongs to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// The latest findings of each phase the session validated, as SARIF
    /// 2.1.0 on stdout (for code scanning).
    Sarif {
        /// Session id.
        id: String,
        /// Workspace the session belongs to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
    },
    /// Delete a completed or abandoned session. Its record must verify; an
    /// audit entry (workflow, final status, log length and head hash, who,
    /// when) stays.
    Delete {
        /// Session id.
        id: String,
        /// Workspace the session belongs to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Apply the `[retention]` policy of checkrail.toml now (it is also
    /// applied whenever a server or session command opens the workspace),
    /// and list the audit entries of deleted sessions.
    Prune {
        /// Workspace to clean up.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Check that a session's record is exactly as checkrail wrote it: exit
    /// 0 if it is (and, with --recheck, every passed checkpoint still
    /// passes), 3 if the record does not verify, 1 if a rechecked
    /// checkpoint fails.
    Verify {
        /// Session id.
        id: String,
        /// Workspace the session belongs to.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Also run every passed checkpoint again, without the outcome
        /// cache, against the workspace as it is now.
        #[arg(long)]
        recheck: bool,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// The workspace this command looks at.
    pub fn workspace(&self) -> &Path {
        match self {
            Command::List { workspace, .. }
            | Command::Show { workspace, .. }
            | Command::Approve { workspace, .. }
            | Command::Reject { workspace, .. }
            | Command::Abandon { workspace, .. }
            | Command::AcceptChanges { workspace, .. }
            | Command::Errors { workspace, .. }
            | Command::Sarif { workspace, .. }
            | Command::Delete { workspace, .. }
            | Command::Prune { workspace, .. }
            | Command::Verify { workspace, .. } => workspace,
        }
    }
}

fn parse_status(text: &str) -> Result<Status, String> {
    Status::parse(text)
        .ok_or_else(|| format!("`{text}` is not a status; use active, awaiting_approval, paused, escalated, completed or abandoned"))
}

/// Runs a session subcommand.
pub fn run(
    engine: Checkrail,
    state: &StateDir,
    store: &StoreTarget,
    command: &Command,
) -> Result<Exit> {
    let service = Service::open_in(Arc::new(engine), command.workspace(), state, store)?;
    match command {
        Command::List {
            status,
            limit,
            offset,
            json,
            ..
        } => {
            let page = service.page(&checkrail::session::SessionQuery {
                status: *status,
                workflow: None,
                limit: (*limit > 0).then_some(*limit),
                offset: *offset,
            })?;
            if *json {
                output::json(&page)?;
            } else if page.sessions.is_empty() {
                println!("no sessions");
            } else {
                let shown = page.sessions.len();
                for s in &page.sessions {
                    println!(
                        "{}  {:<17} {} {} · phase {} · updated {}{}",
                        s.id,
                        s.status,
                        s.workflow_id,
                        s.workflow_version,
                        s.phase_id,
                        s.updated_at,
                        if imported(&s.provenance) {
                            " · imported, not recorded here"
                        } else {
                            ""
                        }
                    );
                }
                if let Some(next) = page.next_offset {
                    println!(
                        "… {} more of {} (newest first): --offset {next} for the next {shown}",
                        page.total - next,
                        page.total
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
                print_provenance(&s.provenance);
                println!();
                for e in events {
                    let phase = e
                        .phase
                        .as_deref()
                        .map(|p| format!(" [{p}]"))
                        .unwrap_or_default();
                    let detail = match e.data.verdict() {
                        Some((_, verdict)) => format!(" — {}", verdict.report.summary),
                        None => String::new(),
                    };
                    println!(
                        "  {}  {}{}{}",
                        e.at,
                        e.kind(),
                        output::shown(&phase),
                        output::shown(&detail)
                    );
                }
            }
        }
        Command::Approve { id, by, note, .. } => {
            return decide(&service, id, true, by.as_deref(), note.as_deref());
        }
        Command::Reject { id, by, note, .. } => {
            return decide(&service, id, false, by.as_deref(), note.as_deref());
        }
        Command::Abandon { id, .. } => {
            let decision = at_terminal(id, "abandon", None, None, || {
                let (session, _, _) = service.store().get(id)?;
                println!(
                    "session {} · {} · {} at phase {}",
                    session.id, session.workflow_id, session.status, session.phase_id
                );
                Ok(())
            })?;
            if decision.is_none() {
                return Ok(Exit::Failed);
            }
            let standing = service.control(id, checkrail::session::Control::Abandon, None)?;
            println!(
                "abandoned; session {} is now {}",
                standing.session.id, standing.session.status
            );
            return Ok(Exit::Passed);
        }
        Command::AcceptChanges { id, by, note, .. } => {
            let decision = at_terminal(id, "accept", by.as_deref(), note.as_deref(), || {
                println!("  the files that change how tools judge were edited during this session");
                Ok(())
            })?;
            let Some(decision) = decision else {
                return Ok(Exit::Failed);
            };
            for change in service.accept_changes(id, &decision)? {
                println!("  accepted: {}", output::shown(&change));
            }
            return Ok(Exit::Passed);
        }
        Command::Errors { id, json, .. } => {
            let view = service.errors(id)?;
            if *json {
                output::json(&view)?;
            } else {
                print_errors(&view);
            }
        }
        Command::Sarif { id, .. } => {
            let reports = service.latest_reports(id)?;
            let labelled: Vec<(String, &checkrail::report::CheckpointReport)> =
                reports.iter().map(|(l, r)| (l.clone(), r)).collect();
            let provenance = service.next(id)?.session.provenance;
            output::json(&checkrail::sarif::session_log(
                &labelled,
                &provenance["confinement"],
            ))?;
        }
        Command::Delete { id, json, .. } => {
            let by = format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
            );
            let deletion = service.delete(id, &by)?;
            if *json {
                output::json(&deletion)?;
            } else {
                println!(
                    "deleted session {} ({} {}, {}, {} events); its audit entry remains",
                    deletion.id,
                    deletion.workflow_id,
                    deletion.workflow_version,
                    deletion.status,
                    deletion.events
                );
            }
        }
        Command::Prune { json, .. } => {
            let pruned = service.prune()?;
            let deletions = service.deletions()?;
            if *json {
                output::json(&serde_json::json!({
                    "pruned": pruned,
                    "deleted_sessions": deletions,
                }))?;
            } else {
                println!(
                    "deleted {} session(s) and {} cached outcome(s) now",
                    pruned.sessions.len(),
                    pruned.outcomes
                );
                for d in deletions {
                    let forged = if d.verified {
                        ""
                    } else {
                        " (this entry does NOT verify)"
                    };
                    println!(
                        "  {}  {} {} {} · deleted {} by {} · {}{forged}",
                        d.id,
                        d.workflow_id,
                        d.workflow_version,
                        d.status,
                        d.deleted_at,
                        output::shown(&d.deleted_by),
                        output::shown(&d.reason)
                    );
                }
            }
        }
        Command::Verify {
            id, recheck, json, ..
        } => {
            let report = service.verify(id, *recheck)?;
            if *json {
                output::json(&report)?;
            } else {
                print_verification(&report);
            }
            return Ok(if !report.record.verified {
                Exit::Error(Kind::Tampered)
            } else if report.ok {
                Exit::Passed
            } else {
                Exit::Failed
            });
        }
    }
    Ok(Exit::Passed)
}

fn print_errors(view: &ErrorsView) {
    println!("first-try pass rate:");
    for rate in &view.phases {
        println!(
            "  {:<24} {}/{} runs passed at once ({:.0} %), {} failed validation(s)",
            output::shown(&rate.phase),
            rate.passed_first_try,
            rate.runs,
            rate.first_try_rate * 100.0,
            rate.failed_validations
        );
    }
    if view.failures.is_empty() {
        println!("no failed validations");
        return;
    }
    println!("failed validations:");
    for f in &view.failures {
        let iteration = f
            .iteration
            .map(|n| format!(" (iteration {n})"))
            .unwrap_or_default();
        println!(
            "  {}  {}{iteration} attempt {} — {}",
            f.at,
            output::shown(&f.phase),
            f.attempt,
            output::shown(&f.summary)
        );
        for rule in &f.rules {
            println!(
                "      {} {}: {}",
                output::shown(&rule.rule),
                rule.status,
                output::shown(&rule.summary)
            );
        }
    }
    println!("findings, most frequent first:");
    for f in &view.findings {
        let place = match (&f.path, f.line) {
            (Some(path), Some(line)) => format!("{path}:{line}: "),
            (Some(path), None) => format!("{path}: "),
            _ => String::new(),
        };
        println!(
            "  {}× [{} {}] {}{}",
            f.count,
            output::shown(&f.phase),
            output::shown(&f.rule),
            output::shown(&place),
            output::shown(&f.message)
        );
    }
}

fn print_verification(report: &VerifyReport) {
    let record = &report.record;
    if record.verified {
        println!(
            "session {}: record verifies ({} events, chain and authentication intact)",
            record.session, record.events
        );
    } else {
        println!(
            "session {}: record does NOT verify; it was changed outside checkrail:",
            record.session
        );
        for problem in &record.problems {
            println!("  - {}", output::shown(problem));
        }
    }
    match report.confinement["confined"].as_bool() {
        Some(true) => println!(
            "  the agent ran confined (`checkrail run`, Landlock ABI {})",
            report.confinement["landlock_abi"]
        ),
        Some(false) => println!(
            "  the agent ran unconfined: a human decision on this record is only as sure as the user account it ran under"
        ),
        None => {}
    }
    for recheck in report.recheck.iter().flatten() {
        let mark = if recheck.passed { "passes" } else { "FAILS" };
        println!(
            "  phase {}: {mark} — {}",
            recheck.phase,
            output::shown(&recheck.summary)
        );
        if !recheck.passed {
            output::checkpoint(&recheck.report);
        }
    }
}

/// Approves or rejects a gate at an interactive terminal: shows what the
/// human decides on and asks them to type the decision.
fn decide(
    service: &Service,
    id: &str,
    approve: bool,
    by: Option<&str>,
    note: Option<&str>,
) -> Result<Exit> {
    let verb = if approve { "approve" } else { "reject" };
    let decision = at_terminal(id, verb, by, note, || {
        let (session, prompt, passed) = service.gate(id)?;
        println!(
            "session {} · {} {} · phase {}",
            session.id, session.workflow_id, session.workflow_version, session.phase_id
        );
        let checks = if session.status == Status::Escalated {
            "the latest check"
        } else {
            "the checks passed"
        };
        println!("  {checks}: {}", output::shown(&passed));
        println!("  question: {}", output::shown(&prompt));
        Ok(())
    })?;
    let Some(mut decision) = decision else {
        return Ok(Exit::Failed);
    };
    decision.approve = approve;
    let standing = service.decide(id, &decision)?;
    println!(
        "{verb}d; session {} is now {} at phase {}",
        standing.session.id, standing.session.status, standing.session.phase_id
    );
    Ok(Exit::Passed)
}

/// A decision typed by a human at a terminal: refuses unless stdin and
/// stdout are a terminal, shows what `show` prints, and asks for `verb`.
/// `None` when the human typed anything else.
fn at_terminal(
    id: &str,
    verb: &str,
    by: Option<&str>,
    note: Option<&str>,
    show: impl FnOnce() -> Result<()>,
) -> Result<Option<Decision>> {
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        anyhow::bail!(
            "{verb} for session `{id}`: only a human at an interactive terminal can decide this (stdin and stdout must be a terminal); run this command yourself in a terminal"
        );
    }
    show()?;
    print!("type `{verb}` to {verb} (anything else cancels): ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != verb {
        println!("cancelled; nothing was recorded");
        return Ok(None);
    }
    Ok(Some(Decision::at_terminal(by, terminal_name(), note)))
}

/// The terminal device of stdin, recorded with the decision.
fn terminal_name() -> Option<String> {
    std::fs::read_link("/proc/self/fd/0")
        .ok()
        .map(|p| p.display().to_string())
}

/// How the agent ran: confined by `checkrail run` (with its rules) or not.
/// Sessions recorded before confinement existed say nothing.
fn print_confinement(provenance: &serde_json::Value) {
    let confinement = &provenance["confinement"];
    match confinement["confined"].as_bool() {
        Some(true) => {
            let list = |key: &str| {
                confinement[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!(
                "  the agent ran confined (`checkrail run`, Landlock ABI {}): it could write only {}; it could not reach {}",
                confinement["landlock_abi"],
                list("writable"),
                list("hidden")
            );
        }
        Some(false) => println!(
            "  the agent ran unconfined: it could reach checkrail's state as its user (see `checkrail run`)"
        ),
        None => {}
    }
}

/// Whether a session was imported from an old in-workspace database.
fn imported(provenance: &serde_json::Value) -> bool {
    provenance["kind"] == "imported"
}

/// Where the pinned workflow came from; an override of a bundled workflow
/// is called out with both digests.
fn print_provenance(provenance: &serde_json::Value) {
    let field = |key: &str| provenance[key].as_str().unwrap_or("?").to_owned();
    if provenance.is_null() {
        return;
    }
    if imported(provenance) {
        println!(
            "  imported from `{}`: recorded by an older checkrail in a file the workspace held, not here; its events up to the import are as that file said",
            field("from")
        );
    }
    println!(
        "  workflow from {} `{}` (sha256 {})",
        field("kind"),
        field("source"),
        field("digest")
    );
    print_confinement(provenance);
    if let Some(bundled) = provenance.get("overrides_bundled") {
        println!(
            "  note: it overrides the bundled workflow of the same id (bundled sha256 {})",
            bundled["digest"].as_str().unwrap_or("?")
        );
    }
}
