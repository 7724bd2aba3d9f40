//! A [`Verdict`] in each agent's documented form. Every answer exits 0 with
//! one JSON object on stdout (or nothing, where empty output is the
//! documented "allow"): exit 2 blocks for some agents and not others
//! (Copilot's `agentStop` only warns), and any other non-zero exit lets
//! Claude Code and Codex go on, so a block is never left to an exit code.
//!
//! - Claude Code: stop `{"decision":"block","reason"}`; pre-tool
//!   `hookSpecificOutput.permissionDecision = "deny"`; session start
//!   `hookSpecificOutput.additionalContext`; `systemMessage` for the human.
//! - Codex: the same shapes, but it rejects fields it does not know, so an
//!   allow is empty output and nothing else is added.
//! - Gemini CLI: `{"decision":"deny","reason"}` for stop (AfterAgent) and
//!   pre-tool (BeforeTool); session start as Claude Code.
//! - Cursor: stop cannot block; `{"followup_message"}` sends the agent back
//!   to work (bounded by `loop_limit`); pre-tool `{"permission":"deny",
//!   "agent_message","user_message"}`; session start
//!   `{"additional_context"}`.
//! - Copilot: stop `{"decision":"block","reason"}`; pre-tool
//!   `{"permissionDecision":"deny","permissionDecisionReason"}`; session
//!   start `{"additionalContext"}`.

use serde_json::{Value, json};

use super::{Agent, Answer, Event, Verdict};

/// Most characters of text handed to an agent: Claude Code caps injected
/// text at 10,000.
pub const MAX_TEXT: usize = 9_000;

/// `verdict` for `event`, in `agent`'s form.
pub fn render(agent: Agent, event: Event, verdict: &Verdict) -> Answer {
    let json = match verdict {
        Verdict::Allow { note } => allow(agent, event, note.as_deref()),
        Verdict::Block { reason } => block(agent, event, &bounded(reason)),
        Verdict::Context { text } => context(agent, &bounded(text)),
    };
    Answer {
        code: 0,
        stdout: json.map(|j| format!("{j}\n")).unwrap_or_default(),
        stderr: String::new(),
    }
}

fn allow(agent: Agent, event: Event, note: Option<&str>) -> Option<Value> {
    let note = note.map(bounded);
    match (agent, event) {
        // Codex refuses unknown output fields; Copilot's stop ignores
        // messages: empty output is their documented allow.
        (Agent::Codex, _) | (Agent::Copilot, _) => None,
        (Agent::Cursor, Event::PreTool) => Some(json!({ "permission": "allow" })),
        (Agent::Cursor, _) => Some(json!({})),
        (Agent::Claude | Agent::Gemini, _) => {
            Some(note.map_or_else(|| json!({}), |n| json!({ "systemMessage": n })))
        }
    }
}

fn block(agent: Agent, event: Event, reason: &str) -> Option<Value> {
    Some(match (agent, event) {
        (Agent::Claude | Agent::Codex, Event::PreTool) => json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }
        }),
        (Agent::Gemini, _) => json!({ "decision": "deny", "reason": reason }),
        (Agent::Cursor, Event::PreTool) => json!({
            "permission": "deny",
            "agent_message": reason,
            "user_message": reason,
        }),
        (Agent::Cursor, _) => json!({ "followup_message": reason }),
        (Agent::Copilot, Event::PreTool) => json!({
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }),
        (Agent::Claude | Agent::Codex | Agent::Copilot, _) => {
            json!({ "decision": "block", "reason": reason })
        }
    })
}

fn context(agent: Agent, text: &str) -> Option<Value> {
    Some(match agent {
        Agent::Claude | Agent::Codex | Agent::Gemini => json!({
            "hookSpecificOutput": {
                "hookEventName": "SessionStart",
                "additionalContext": text,
            }
        }),
        Agent::Cursor => json!({ "additional_context": text }),
        Agent::Copilot => json!({ "additionalContext": text }),
    })
}

/// `text` cut to [`MAX_TEXT`] characters, saying so.
fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT) {
        None => text.to_owned(),
        Some((end, _)) => format!(
            "{}\n… (cut: {} more characters; run `checkrail session errors` for the rest)",
            &text[..end],
            text[end..].chars().count()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(agent: Agent, event: Event, verdict: &Verdict) -> Value {
        let answer = render(agent, event, verdict);
        assert_eq!(answer.code, 0);
        if answer.stdout.is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&answer.stdout).unwrap_or_else(|e| panic!("{e}: {}", answer.stdout))
    }

    #[test]
    fn a_stop_is_refused_in_each_agents_form() {
        let verdict = Verdict::Block {
            reason: "src/a.rs:3 broken".to_owned(),
        };
        let reason = "src/a.rs:3 broken";
        assert_eq!(
            out(Agent::Claude, Event::Stop, &verdict),
            json!({"decision": "block", "reason": reason})
        );
        assert_eq!(
            out(Agent::Codex, Event::Stop, &verdict),
            json!({"decision": "block", "reason": reason})
        );
        assert_eq!(
            out(Agent::Gemini, Event::Stop, &verdict),
            json!({"decision": "deny", "reason": reason})
        );
        assert_eq!(
            out(Agent::Cursor, Event::Stop, &verdict),
            json!({"followup_message": reason})
        );
        assert_eq!(
            out(Agent::Copilot, Event::Stop, &verdict),
            json!({"decision": "block", "reason": reason})
        );
    }

    #[test]
    fn a_tool_is_refused_in_each_agents_form() {
        let verdict = Verdict::Block {
            reason: "protected".to_owned(),
        };
        let claude = json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny", "permissionDecisionReason": "protected"}});
        assert_eq!(out(Agent::Claude, Event::PreTool, &verdict), claude);
        assert_eq!(out(Agent::Codex, Event::PreTool, &verdict), claude);
        assert_eq!(
            out(Agent::Gemini, Event::PreTool, &verdict),
            json!({"decision": "deny", "reason": "protected"})
        );
        assert_eq!(
            out(Agent::Cursor, Event::PreTool, &verdict),
            json!({"permission": "deny", "agent_message": "protected", "user_message": "protected"})
        );
        assert_eq!(
            out(Agent::Copilot, Event::PreTool, &verdict),
            json!({"permissionDecision": "deny", "permissionDecisionReason": "protected"})
        );
    }

    #[test]
    fn allows_and_context_follow_each_agents_rules() {
        let allow = Verdict::Allow {
            note: Some("checkrail: done".to_owned()),
        };
        // Codex refuses unknown fields and Copilot ignores them: nothing.
        assert_eq!(out(Agent::Codex, Event::Stop, &allow), Value::Null);
        assert_eq!(out(Agent::Copilot, Event::PreTool, &allow), Value::Null);
        assert_eq!(
            out(Agent::Claude, Event::Stop, &allow),
            json!({"systemMessage": "checkrail: done"})
        );
        assert_eq!(
            out(Agent::Cursor, Event::PreTool, &allow),
            json!({"permission": "allow"})
        );
        let context = Verdict::Context {
            text: "phase plan".to_owned(),
        };
        assert_eq!(
            out(Agent::Cursor, Event::SessionStart, &context),
            json!({"additional_context": "phase plan"})
        );
        assert_eq!(
            out(Agent::Gemini, Event::SessionStart, &context)["hookSpecificOutput"]["additionalContext"],
            "phase plan"
        );
        assert_eq!(
            out(Agent::Copilot, Event::SessionStart, &context),
            json!({"additionalContext": "phase plan"})
        );
    }

    #[test]
    fn long_reasons_are_cut_and_say_so() {
        let verdict = Verdict::Block {
            reason: "x".repeat(MAX_TEXT + 10),
        };
        let reason = out(Agent::Claude, Event::Stop, &verdict)["reason"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_default();
        assert!(
            reason.ends_with(
                "(cut: 10 more characters; run `checkrail session errors` for the rest)"
            )
        );
    }
}
