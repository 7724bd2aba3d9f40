//! `checkrail init` sets a project up for enforcement; `checkrail doctor`
//! checks that setup and says what to fix (see [`checkrail::setup`]).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use checkrail::hook::Agent;
use checkrail::service::Service;
use checkrail::session::StoreTarget;
use checkrail::setup::{self, Plan};
use checkrail::trusted::StateDir;
use checkrail::{Checkrail, Options};

use super::{Exit, output};

/// Arguments of `checkrail init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The agents to register the MCP server and hooks with (repeatable)
    /// [default: those whose folder the project has, else claude].
    #[arg(long = "agent", value_enum, value_name = "AGENT")]
    pub agents: Vec<Agent>,
    /// The workspace to set up.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: PathBuf,
    /// Print what would change without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// The program the hooks and MCP clients run.
    #[arg(long, value_name = "PROGRAM", default_value = "checkrail")]
    pub command: String,
}

/// Arguments of `checkrail doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// The workspace to check.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: PathBuf,
    /// The program the hooks should run.
    #[arg(long, value_name = "PROGRAM", default_value = "checkrail")]
    pub command: String,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What both commands need besides their arguments.
pub struct Setup {
    /// Engine options for the workspace.
    pub options: Options,
    /// The state directory.
    pub state: StateDir,
    /// `--store`.
    pub store: StoreTarget,
}

fn service(setup: &Setup, workspace: &std::path::Path) -> Result<Service> {
    let engine = Arc::new(Checkrail::new(setup.options.clone()).context("start checkrail")?);
    Ok(Service::open_in(
        engine,
        workspace,
        &setup.state,
        &setup.store,
    )?)
}

/// Sets the project up.
pub fn init(setup: &Setup, args: &InitArgs) -> Result<Exit> {
    let root = std::fs::canonicalize(&args.workspace)
        .with_context(|| format!("open the workspace `{}`", args.workspace.display()))?;
    let agents = if args.agents.is_empty() {
        let found: Vec<Agent> = Agent::ALL
            .into_iter()
            .filter(|a| root.join(folder(*a)).is_dir())
            .collect();
        if found.is_empty() {
            vec![Agent::Claude]
        } else {
            found
        }
    } else {
        args.agents.clone()
    };
    let plan = Plan {
        root: &root,
        agents: &agents,
        command: &args.command,
    };
    let changes = plan.changes()?;
    let names: Vec<&str> = agents.iter().map(|a| a.as_str()).collect();
    if changes.is_empty() {
        println!(
            "{} is set up for {}; nothing to change",
            root.display(),
            names.join(", ")
        );
    }
    for change in &changes {
        let verb = if change.before.is_some() {
            "update"
        } else {
            "create"
        };
        let verb = match (args.dry_run, change.before.is_some()) {
            (true, _) => format!("would {verb}"),
            (false, true) => "updated".to_owned(),
            (false, false) => "created".to_owned(),
        };
        println!(
            "{verb} {}",
            output::shown(&change.path.display().to_string())
        );
    }
    if args.dry_run {
        return Ok(Exit::Passed);
    }
    let service = service(setup, &root)?;
    let noted = |file: &str| {
        service
            .store()
            .note(&setup::setup_note(file))
            .ok()
            .flatten()
    };
    if let Some(changed) = setup::changed_since_init(&root, &noted).filter(|c| !c.is_empty())
        && !accepted_at_terminal(&changed)?
    {
        println!("cancelled; nothing was written or recorded");
        return Ok(Exit::Failed);
    }
    // What init writes into checkrail.toml is checkrail's own (grants for
    // the toolchains it found, the enforce policy), so it is allowed with
    // it, but only when every policy file was as a human last allowed it:
    // otherwise init would put an agent's own edits in effect.
    let allowed_before = checkrail::allow::changes(service.opened()).is_empty();
    setup::apply(&root, &changes)?;
    if allowed_before {
        checkrail::allow::record(service.opened(), &service.engine().all_judging_globs(&root))?;
    } else {
        println!(
            "checkrail.toml or the workspace's workflows changed since a human last allowed them: run `checkrail allow` at a terminal to put them in effect"
        );
    }
    // Record what the agents' files hold now, so that `doctor` tells a
    // later change (an agent removing its own hook) from this setup.
    for agent in &agents {
        for file in setup::files_of(*agent) {
            if let Ok(text) = std::fs::read_to_string(root.join(file)) {
                service.store().set_note(
                    &setup::setup_note(file),
                    Some(&checkrail::cache::key::digest_of(&text)),
                )?;
            }
        }
    }
    println!(
        "set up for {}; run `checkrail doctor` to check the setup",
        names.join(", ")
    );
    Ok(Exit::Passed)
}

/// Agent files changed since `init` recorded them: recording them again
/// makes the change the new reference (an agent could weaken a hook it
/// keeps registered and run `init` itself), so a human at a terminal
/// looks at the list and types `accept`. `false` when they typed anything
/// else.
fn accepted_at_terminal(changed: &[setup::SetupChange]) -> Result<bool> {
    use std::io::{IsTerminal, Write};
    let list: Vec<String> = changed
        .iter()
        .map(|c| format!("`{}` {}", c.file, c.what))
        .collect();
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        anyhow::bail!(
            "agent files changed since `checkrail init` recorded them ({}); only a human at an interactive terminal can record them again: look at the change (`git diff`), then run `checkrail init` yourself in a terminal",
            list.join(", ")
        );
    }
    println!("changed since `checkrail init` recorded them:");
    for item in &list {
        println!("  {item}");
    }
    print!(
        "type `accept` to set the hooks up again and record the files as they will be (anything else cancels): "
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "accept")
}

/// Checks the setup.
pub fn doctor(setup: &Setup, args: &DoctorArgs) -> Result<Exit> {
    let root = std::fs::canonicalize(&args.workspace)
        .with_context(|| format!("open the workspace `{}`", args.workspace.display()))?;
    let service = service(setup, &root);
    let noted = |file: &str| {
        service
            .as_ref()
            .ok()
            .and_then(|s| s.store().note(&setup::setup_note(file)).ok().flatten())
    };
    let mut checks = setup::doctor(&root, &args.command, &noted);
    if let Ok(service) = &service {
        let pending = checkrail::allow::changes(service.opened());
        checks.insert(
            0,
            if pending.is_empty() {
                setup::Check {
                    ok: true,
                    what: "checkrail.toml and the workspace's workflows are as a human last allowed them".to_owned(),
                    fix: None,
                }
            } else {
                let list: Vec<String> =
                    pending.iter().map(|c| format!("`{}` {}", c.file, c.what)).collect();
                setup::Check {
                    ok: false,
                    what: format!(
                        "policy not in effect until allowed: {}",
                        list.join(", ")
                    ),
                    fix: Some(
                        "look at the changes (`checkrail allow --show`), then run `checkrail allow` at a terminal".to_owned(),
                    ),
                }
            },
        );
    }
    if let Err(e) = &service {
        checks.insert(
            0,
            setup::Check {
                ok: false,
                what: format!("the state directory and session store: {e:#}"),
                fix: Some(
                    "fix what the message names; the hooks cannot judge without them".to_owned(),
                ),
            },
        );
    }
    if args.json {
        output::json(&serde_json::json!({ "checks": checks }))?;
    } else {
        for check in &checks {
            let mark = if check.ok { "ok  " } else { "FIX " };
            println!("{mark}{}", output::shown(&check.what));
            if let Some(fix) = &check.fix {
                println!("      → {}", output::shown(fix));
            }
        }
    }
    Ok(if checks.iter().all(|c| c.ok) {
        Exit::Passed
    } else {
        Exit::Failed
    })
}

/// The folder that shows a project uses `agent`.
fn folder(agent: Agent) -> &'static str {
    match agent {
        Agent::Claude => ".claude",
        Agent::Codex => ".codex",
        Agent::Gemini => ".gemini",
        Agent::Cursor => ".cursor",
        Agent::Copilot => ".github/hooks",
    }
}
