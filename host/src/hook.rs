//! `checkrail hook`: the agents' own hooks ask checkrail before the agent
//! may stop or use a tool, so an agent that never calls the MCP tools is
//! still checked. Each agent documents its own stdin shape and its own way
//! to refuse; [`input`] reads the first into one [`HookInput`], [`answer`]
//! writes a [`Verdict`] in the second, and [`decide`] judges with the same
//! service, engine and outcome cache as `workflow_validate`.
//!
//! The agents' references, as read for this module:
//! - Claude Code: <https://code.claude.com/docs/en/hooks>
//! - Codex: <https://developers.openai.com/codex/hooks>
//! - Gemini CLI: <https://geminicli.com/docs/hooks/reference>
//! - Cursor: <https://cursor.com/docs/hooks>
//! - GitHub Copilot: <https://docs.github.com/en/copilot/reference/hooks-reference>

pub mod answer;
pub mod decide;
pub mod input;
pub mod protect;
pub mod writes;

use serde::{Deserialize, Serialize};

pub use input::{HookInput, ToolCall};

/// The coding agents whose hooks checkrail answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    /// Claude Code.
    Claude,
    /// OpenAI Codex CLI.
    Codex,
    /// Google Gemini CLI.
    Gemini,
    /// Cursor.
    Cursor,
    /// GitHub Copilot (CLI and cloud agent).
    Copilot,
}

impl Agent {
    /// Every agent, in the order `init` and the docs list them.
    pub const ALL: [Agent; 5] = [
        Agent::Claude,
        Agent::Codex,
        Agent::Gemini,
        Agent::Cursor,
        Agent::Copilot,
    ];

    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
            Agent::Cursor => "cursor",
            Agent::Copilot => "copilot",
        }
    }
}

/// What the agent is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// The agent wants to stop (Stop, SubagentStop, AfterAgent, agentStop,
    /// stop).
    Stop,
    /// The agent is about to use a tool (PreToolUse, BeforeTool,
    /// preToolUse, beforeShellExecution).
    PreTool,
    /// A conversation begins (SessionStart, sessionStart).
    SessionStart,
}

impl Event {
    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Stop => "stop",
            Event::PreTool => "pre-tool",
            Event::SessionStart => "session-start",
        }
    }
}

/// What checkrail decided, before it is written in the agent's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on. `note` is shown to the human where the agent can show it.
    Allow {
        /// A message for the human, if any.
        note: Option<String>,
    },
    /// Refuse: the agent must keep working (stop) or not use the tool
    /// (pre-tool). `reason` is what the agent is told.
    Block {
        /// Why, with the findings and the way out.
        reason: String,
    },
    /// Context for the agent at the start of a conversation.
    Context {
        /// What the agent is told.
        text: String,
    },
}

/// The process's answer: its exit status and what it prints.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Answer {
    /// Exit status.
    pub code: u8,
    /// Printed on stdout.
    pub stdout: String,
    /// Printed on stderr.
    pub stderr: String,
}

/// The verdict when a hook could not judge (`what` says why): as
/// `[enforce] on_error` (`policy`) says, as a human allowed it; a session
/// start always goes on.
pub fn failed(event: Event, policy: crate::config::OnError, what: &str) -> Verdict {
    match (event, policy) {
        (Event::SessionStart, _) | (_, crate::config::OnError::Allow) => Verdict::Allow {
            note: Some(format!(
                "{what}. Let through ([enforce] on_error = \"allow\"); run `checkrail doctor` to see what to fix."
            )),
        },
        (_, crate::config::OnError::Block) => Verdict::Block {
            reason: format!(
                "{what}. Blocked ([enforce] on_error = \"block\"): tell the user; a human runs `checkrail doctor` in the workspace to see what to fix."
            ),
        },
    }
}

/// Answers one hook call (`bytes`, the agent's stdin) with the sessions of
/// `service`, as the server `checkrail run` supervises does for the hooks
/// of its confined agent. The call must come from the service's
/// workspace (or below it). `state` is protected from writes.
pub fn answer_with(
    service: &crate::service::Service,
    state: Option<&std::path::Path>,
    (agent, event): (Agent, Event),
    bytes: &[u8],
) -> Answer {
    let root = service.opened().root();
    let judged = HookInput::parse(agent, event, bytes)
        .map_err(|e| e.to_string())
        .and_then(|input| {
            if let Some(cwd) = &input.cwd {
                let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.clone());
                if !cwd.starts_with(root) {
                    return Err(format!(
                        "the hook ran in `{}`, outside the workspace `{}` this checkrail supervises",
                        cwd.display(),
                        root.display()
                    ));
                }
            }
            let hook = decide::Hook {
                service,
                agent,
                input: &input,
                state,
            };
            match event {
                Event::Stop => hook.stop(),
                Event::PreTool => hook.pre_tool(),
                Event::SessionStart => hook.session_start(),
            }
            .map_err(|e| e.to_string())
        });
    let verdict = judged.unwrap_or_else(|e| {
        let policy = service
            .opened()
            .config()
            .map(|c| c.enforce.on_error)
            .unwrap_or_default();
        let what = format!(
            "checkrail could not check this {} in `{}`: {e}",
            event.as_str(),
            root.display()
        );
        failed(event, policy, &what)
    });
    answer::render(agent, event, &verdict)
}
