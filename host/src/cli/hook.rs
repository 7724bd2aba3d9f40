//! `checkrail hook <event> --agent <agent>`: answers an agent's hook. It
//! reads the event on stdin, judges it (see [`checkrail::hook`]) and
//! prints the answer in the agent's form, always exiting 0 so that the
//! answer, never an exit status, says whether the agent may go on. When it
//! cannot judge (no state, a broken config, a locked store), it answers
//! as `[enforce] on_error` says, naming what failed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use checkrail::hook::decide::Hook;
use checkrail::hook::input::MAX_INPUT;
use checkrail::hook::{Agent, Event, HookInput, Verdict, answer};
use checkrail::service::Service;
use checkrail::session::StoreTarget;
use checkrail::trusted::StateDir;
use checkrail::{Checkrail, Options};

use super::Exit;

/// Arguments of `checkrail hook`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event: `stop` (the agent wants to stop), `pre-tool` (it is about
    /// to use a tool), `session-start` (a conversation begins).
    #[arg(value_enum)]
    pub event: Event,
    /// Which agent runs the hook: its input and answer forms differ.
    #[arg(long, value_enum, default_value = "claude")]
    pub agent: Agent,
    /// The workspace [default: the project directory the agent names, else
    /// the current directory].
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

/// What the hook takes from the global options.
pub struct Setup {
    /// Engine options, less the workspace.
    pub options: Options,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// `--store`.
    pub store: StoreTarget,
}

/// Answers one hook call.
pub fn run(context: Setup, args: &Args) -> Result<Exit> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut bytes)
        .context("read the hook input on stdin")?;
    // Inside `checkrail run` the state is out of reach: the supervisor
    // judges. When it cannot be reached, the stop is blocked (the policy
    // it would read is out of reach too).
    if let Some(endpoint) = super::connect::Endpoint::from_env() {
        let answer = super::connect::hook(&endpoint, (args.agent, args.event), &bytes)
            .unwrap_or_else(|e| {
                let what = format!(
                    "checkrail could not check this {}: {e:#}",
                    args.event.as_str()
                );
                let verdict = checkrail::hook::failed(args.event, Default::default(), &what);
                answer::render(args.agent, args.event, &verdict)
            });
        print!("{}", answer.stdout);
        eprint!("{}", answer.stderr);
        return Ok(Exit::Passed);
    }
    let input = HookInput::parse(args.agent, args.event, &bytes);
    let workspace = root(
        args.workspace
            .as_deref()
            .or_else(|| input.as_ref().ok().and_then(|i| i.cwd.as_deref())),
    );
    let verdict = match input {
        Ok(input) => judge(&context, args, &workspace, &input),
        Err(e) => Err(e.into()),
    }
    .unwrap_or_else(|e| on_error(&context, &workspace, args.event, &e));
    let answer = answer::render(args.agent, args.event, &verdict);
    print!("{}", answer.stdout);
    eprint!("{}", answer.stderr);
    Ok(Exit::Passed)
}

fn judge(context: &Setup, args: &Args, workspace: &Path, input: &HookInput) -> Result<Verdict> {
    let state =
        StateDir::resolve(context.state_dir.as_deref()).context("open the state directory")?;
    let options = Options {
        workflow_dirs: vec![workspace.join(".checkrail").join("workflows")],
        workspace: Some(workspace.to_owned()),
        short_lived: true,
        ..context.options.clone()
    };
    let engine = Arc::new(Checkrail::new(options).context("start checkrail")?);
    let service = Service::open_in(engine, workspace, &state, &context.store)?;
    let hook = Hook {
        service: &service,
        agent: args.agent,
        input,
        state: Some(state.root()),
    };
    Ok(match args.event {
        Event::Stop => hook.stop()?,
        Event::PreTool => hook.pre_tool()?,
        Event::SessionStart => hook.session_start()?,
    })
}

/// The answer when the hook could not judge: what `[enforce] on_error`
/// says as a human allowed it (blocking unless the workspace chose
/// otherwise; an agent's own edit of the policy does not decide how its
/// failure is answered), naming the cause.
fn on_error(context: &Setup, workspace: &Path, event: Event, error: &anyhow::Error) -> Verdict {
    let policy = StateDir::resolve(context.state_dir.as_deref())
        .ok()
        .and_then(|state| checkrail::workspace::Workspace::open(workspace, &state).ok())
        .and_then(|ws| ws.config().ok())
        .map(|c| c.enforce.on_error)
        .unwrap_or_default();
    let what = format!(
        "checkrail could not check this {} in `{}`: {error:#}",
        event.as_str(),
        workspace.display()
    );
    checkrail::hook::failed(event, policy, &what)
}

/// The workspace holding `dir`: the nearest directory upwards with a
/// `checkrail.toml` or `.checkrail/`, else one with `.git`, else `dir`.
fn root(dir: Option<&Path>) -> PathBuf {
    let start = dir
        .map(Path::to_owned)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    let up =
        |marker: &dyn Fn(&Path) -> bool| start.ancestors().find(|d| marker(d)).map(Path::to_owned);
    up(&|d| d.join("checkrail.toml").is_file() || d.join(".checkrail").is_dir())
        .or_else(|| up(&|d| d.join(".git").exists()))
        .unwrap_or(start)
}
