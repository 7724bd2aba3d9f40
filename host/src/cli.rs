//! Command-line interface: one file per subcommand, all thin adapters over
//! [`checkrail::Checkrail`].

mod allow;
mod attest;
mod check;
mod connect;
mod dashboard;
mod hook;
mod init;
mod output;
mod pack;
mod rule;
mod rule_docs;
mod rule_new;
mod run;
mod serve;
mod session;
mod stats;
mod workflow;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use checkrail::exit::Kind;
use checkrail::{Checkrail, Options};
use clap::{Parser, Subcommand};

/// Walks coding agents through workflows and checks every checkpoint itself
/// with sandboxed WebAssembly rules.
///
/// Exit codes: 0 passed, 1 failed, 2 usage or configuration error, 3 a
/// session record that does not verify, 70 internal error, 74 I/O error on
/// checkrail's state.
#[derive(Debug, Parser)]
#[command(name = "checkrail", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Directory of extra rule components (`*.wasm`); repeatable.
    #[arg(long = "rules-dir", global = true, value_name = "DIR")]
    rules_dirs: Vec<PathBuf>,
    /// Compile cache directory [default: $CHECKRAIL_CACHE_DIR or ~/.cache/checkrail/components].
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Where sessions, the outcome cache and the key that authenticates them
    /// live [default: $CHECKRAIL_STATE_DIR, $XDG_STATE_HOME/checkrail or
    /// ~/.local/state/checkrail]. Keep it out of the agent's reach.
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Where `serve` and `session` keep sessions: `sqlite` (sessions.db in
    /// the state directory), `sqlite:PATH`, or `postgres://USER@HOST/DB`,
    /// shared by replicas (the key still comes from the state directory).
    #[arg(
        long,
        global = true,
        env = "CHECKRAIL_STORE",
        value_name = "URL",
        default_value = "sqlite",
        hide_env_values = true
    )]
    store: checkrail::session::StoreTarget,
    /// Largest workflow file read from a workspace's `.checkrail/workflows/`,
    /// in bytes [default: 1048576].
    #[arg(long, global = true, value_name = "BYTES")]
    max_workflow_bytes: Option<u64>,
    /// Compile rules without reading or writing the compile cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); CHECKRAIL_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one phase's checkpoint against a workspace.
    Check(check::Args),
    /// List or lint workflows.
    #[command(subcommand)]
    Workflow(workflow::Command),
    /// List, run, scaffold or document rules.
    #[command(subcommand)]
    Rule(rule::Command),
    /// Build, sign, verify, install and list rule packs.
    #[command(subcommand)]
    Pack(pack::Command),
    /// Serve MCP: stdio by default, streamable HTTP (with the dashboard) with --http.
    Serve(serve::Args),
    /// Serve the web dashboard locally, or set its password (--set-password).
    Dashboard(dashboard::Args),
    /// Figures across the sessions: pass rates, attempts, time, failing rules, cache hits.
    Stats(stats::Args),
    /// List, show or approve sessions (approving is for humans only).
    #[command(subcommand)]
    Session(session::Command),
    /// Answer a coding agent's hook (Claude Code, Codex, Gemini CLI, Cursor,
    /// Copilot): the event on stdin, the answer in the agent's form on
    /// stdout, exit 0. Registered by `checkrail init`.
    Hook(hook::Args),
    /// Set a project up: grants for its toolchains and the enforce policy in
    /// checkrail.toml, the MCP server and the hooks in each agent's files.
    Init(init::InitArgs),
    /// Check a project's setup (config, state, each agent's hooks) and say
    /// what to fix.
    Doctor(init::DoctorArgs),
    /// Show what changed in checkrail.toml and the workspace's workflows
    /// since a human last allowed them, and allow them (at a terminal only):
    /// until then they are not used.
    Allow(allow::Args),
    /// Run a coding agent confined (Linux Landlock) under a supervisor: the
    /// MCP server, its hooks' endpoint and the dashboard run outside, the
    /// state directory is out of the agent's reach. `run -- claude`.
    Run(run::Args),
    /// Started by `run`: confines itself, then becomes the agent.
    #[command(hide = true)]
    ConfinedExec(run::ExecArgs),
    /// Sign a completed session as an in-toto attestation about its commit
    /// (a file, stdout, or a git note under refs/notes/checkrail).
    Attest(attest::AttestArgs),
    /// Check a commit's attestation for CI: a trusted signature, the commit
    /// as subject, the required workflow completed with its human gates;
    /// with --recheck every passed checkpoint runs again on a fresh
    /// checkout. Exit 0 verified, 1 a requirement not met, 3 an
    /// attestation altered or signed by an untrusted key.
    VerifyAttestation(attest::VerifyArgs),
}

/// Process exit codes, as documented in README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything checked passed.
    Passed,
    /// A check failed.
    Failed,
    /// An error of this kind stopped the command.
    Error(Kind),
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(match exit {
            Exit::Passed => checkrail::exit::PASSED,
            Exit::Failed => checkrail::exit::FAILED,
            Exit::Error(kind) => kind.exit_code(),
        })
    }
}

/// The kind of the first error in the chain that knows its kind; an error
/// the command line made itself (a malformed argument, an unreadable
/// `@file`) is a usage error.
pub fn kind_of(error: &anyhow::Error) -> Kind {
    error
        .chain()
        .find_map(|cause| {
            if let Some(e) = cause.downcast_ref::<checkrail::Error>() {
                Some(e.kind())
            } else if let Some(e) = cause.downcast_ref::<checkrail::trusted::StateError>() {
                Some(e.kind())
            } else if let Some(e) = cause.downcast_ref::<checkrail::pack::Error>() {
                Some(e.kind())
            } else {
                cause
                    .downcast_ref::<checkrail::pack::oci::Error>()
                    .map(|e| e.kind())
            }
        })
        .unwrap_or(Kind::Usage)
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Exit> {
    let options = |workspace: Option<&std::path::Path>| Options {
        rule_dirs: cli.rules_dirs.clone(),
        workflow_dirs: workspace
            .map(|w| vec![w.join(".checkrail").join("workflows")])
            .unwrap_or_default(),
        cache_dir: cli.cache_dir.clone(),
        no_cache: cli.no_cache,
        workspace: workspace.map(std::path::Path::to_path_buf),
        max_workflow_bytes: cli.max_workflow_bytes,
        // Only servers check again and again.
        short_lived: !matches!(
            cli.command,
            Command::Serve(_) | Command::Dashboard(_) | Command::Run(_)
        ),
        compile_bundled: false,
    };
    match &cli.command {
        Command::Check(args) => check::run(
            &engine(options(Some(&args.workspace)))?,
            &state(&cli)?,
            args,
        ),
        Command::Workflow(command) => {
            workflow::run(&engine(options(command.workspace()))?, command)
        }
        // Scaffolding needs no engine (nor a usable --rules-dir).
        Command::Rule(rule::Command::New(args)) => rule_new::run(args),
        Command::Rule(command) => rule::run(&engine(options(command.workspace()))?, command),
        Command::Pack(command) => pack::run(
            &engine(options(command.workspace()))?,
            &state(&cli)?,
            command,
        ),
        Command::Serve(args) if serve::relays(args) => {
            let endpoint = connect::Endpoint::from_env().context(
                "`serve --connect` relays to the supervisor of `checkrail run`, but CHECKRAIL_URL is not set: start the agent with `checkrail run -- <agent>`",
            )?;
            connect::bridge(&endpoint)?;
            Ok(Exit::Passed)
        }
        Command::Serve(args) => {
            let engine = engine(options(Some(&args.workspace)))?;
            serve::run(engine, &state(&cli)?, &cli.store, args)
        }
        Command::Stats(args) => stats::run(
            engine(options(Some(&args.workspace)))?,
            &state(&cli)?,
            &cli.store,
            args,
        ),
        Command::Dashboard(args) => {
            let engine = engine(options(Some(&args.workspace)))?;
            dashboard::run(engine, &state(&cli)?, &cli.store, args)
        }
        Command::Hook(args) => hook::run(
            hook::Setup {
                options: options(None),
                state_dir: cli.state_dir.clone(),
                store: cli.store.clone(),
            },
            args,
        ),
        Command::Init(args) => init::init(
            &init::Setup {
                options: options(Some(&args.workspace)),
                state: state(&cli)?,
                store: cli.store.clone(),
            },
            args,
        ),
        Command::Doctor(args) => init::doctor(
            &init::Setup {
                options: options(Some(&args.workspace)),
                state: state(&cli)?,
                store: cli.store.clone(),
            },
            args,
        ),
        Command::Allow(args) => allow::run(
            &engine(options(Some(&args.workspace)))?,
            &state(&cli)?,
            args,
        ),
        Command::Run(args) => {
            let engine = engine(options(Some(&args.workspace)))?;
            run::run(engine, &state(&cli)?, &cli.store, args)
        }
        Command::ConfinedExec(args) => run::confined_exec(args),
        Command::Attest(args) => attest::attest(
            engine(options(Some(&args.workspace)))?,
            &state(&cli)?,
            &cli.store,
            args,
        ),
        Command::VerifyAttestation(args) => {
            attest::verify(|| engine(options(Some(&args.workspace))), args)
        }
        Command::Session(command) => session::run(
            engine(options(Some(command.workspace())))?,
            &state(&cli)?,
            &cli.store,
            command,
        ),
    }
}

/// Whether `error` is a refusal to reach something, in a process `checkrail
/// run` confines.
pub fn confined_out_of_reach(error: &anyhow::Error) -> bool {
    std::env::var_os(connect::CONFINED_VAR).is_some()
        && error.chain().any(|cause| {
            let text = cause.to_string();
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
                || text.contains("Permission denied")
                || text.contains("permission denied")
        })
}

fn state(cli: &Cli) -> Result<checkrail::trusted::StateDir> {
    checkrail::trusted::StateDir::resolve(cli.state_dir.as_deref())
        .context("open the state directory")
}

fn engine(options: Options) -> Result<Checkrail> {
    Checkrail::new(options).context("start checkrail")
}

/// Logs go to stderr only; stdout carries results (and MCP).
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHECKRAIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

/// Reads a JSON argument given inline or as `@file`.
fn json_arg(text: &str, what: &str) -> Result<serde_json::Value> {
    let (source, body) = match text.strip_prefix('@') {
        Some(path) => (
            format!("file `{path}`"),
            std::fs::read_to_string(path).with_context(|| format!("read {what} from `{path}`"))?,
        ),
        None => ("argument".to_owned(), text.to_owned()),
    };
    serde_json::from_str(&body).with_context(|| format!("parse {what} ({source}) as JSON"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn the_exit_code_comes_from_the_first_error_that_has_a_kind() {
        use anyhow::Context;
        use checkrail::exit::Kind;

        let made_here = anyhow::anyhow!("--input `x` must be NAME=VALUE");
        assert_eq!(super::kind_of(&made_here), Kind::Usage);

        // Under a context line, inside a pack error: still found.
        let database = checkrail::Error::Database {
            path: "sessions.db".into(),
            source: rusqlite::Error::QueryReturnedNoRows,
        };
        let wrapped = Err::<(), _>(checkrail::pack::Error::Load(Box::new(database)))
            .context("install the pack")
            .unwrap_err();
        assert_eq!(super::kind_of(&wrapped), Kind::Internal);
        assert_eq!(
            std::process::ExitCode::from(super::Exit::Error(super::kind_of(&wrapped))),
            std::process::ExitCode::from(70)
        );

        let state = anyhow::Error::new(checkrail::trusted::StateError::NoHome);
        assert_eq!(super::kind_of(&state), Kind::Usage);
        let tampered = anyhow::Error::new(checkrail::Error::Tampered {
            id: "s".into(),
            problems: vec![],
        });
        assert_eq!(super::kind_of(&tampered), Kind::Tampered);
    }
}
