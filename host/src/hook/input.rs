//! Each agent's hook input, read into one shape. The field names are the
//! ones each agent documents (see the module above for the references):
//! Claude Code, Codex and Gemini send `session_id`, `cwd`,
//! `stop_hook_active`, `tool_name` and `tool_input`; Cursor sends
//! `conversation_id`, `workspace_roots`, `loop_count` and, for shell
//! commands, `command` at the top; Copilot's camelCase events send
//! `sessionId`, `toolName` and `toolArgs` (an object, or the same as a JSON
//! string), its PascalCase events the snake_case names.

use std::path::PathBuf;

use serde_json::Value;

use super::{Agent, Event};

/// Largest hook input read, in bytes: a tool call carrying a whole file
/// is far below it.
pub const MAX_INPUT: usize = 16 << 20;

/// One hook call, whatever the agent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HookInput {
    /// The agent's conversation (its session or conversation id).
    pub conversation: Option<String>,
    /// The directory the agent works in.
    pub cwd: Option<PathBuf>,
    /// Whether this stop follows one checkrail (or another hook) already
    /// blocked.
    pub stop_active: bool,
    /// Cursor: follow-ups its stop hook already sent in this conversation.
    pub loop_count: Option<u32>,
    /// The tool about to be used (pre-tool).
    pub tool: Option<ToolCall>,
}

/// A tool call as the agent describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The agent's name for the tool (`Edit`, `apply_patch`, `replace`,
    /// `Shell`, `edit`, ...).
    pub name: String,
    /// Its arguments.
    pub input: Value,
}

/// Why a hook input cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("read the {agent} {event} hook input: {problem}")]
pub struct InputError {
    agent: &'static str,
    event: &'static str,
    problem: String,
}

impl HookInput {
    /// Reads what `agent` sent for `event`.
    pub fn parse(agent: Agent, event: Event, bytes: &[u8]) -> Result<Self, InputError> {
        let fail = |problem: String| InputError {
            agent: agent.as_str(),
            event: event.as_str(),
            problem,
        };
        if bytes.len() > MAX_INPUT {
            return Err(fail(format!(
                "it is {} bytes, more than the {MAX_INPUT} a hook reads",
                bytes.len()
            )));
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            fail(format!(
                "it is not JSON ({e}); a hook is run by the agent, which writes the event as JSON on stdin"
            ))
        })?;
        let Value::Object(_) = &value else {
            return Err(fail("it is not a JSON object".to_owned()));
        };
        let text = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| value.get(*k).and_then(Value::as_str))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let conversation = text(&["session_id", "conversation_id", "sessionId"]);
        let cwd = text(&["cwd"])
            .or_else(|| {
                value["workspace_roots"]
                    .as_array()
                    .and_then(|roots| roots.first())
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .map(PathBuf::from);
        let loop_count = value["loop_count"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok());
        let stop_active = value["stop_hook_active"].as_bool().unwrap_or(false)
            || loop_count.is_some_and(|n| n > 0);
        let tool = (event == Event::PreTool).then(|| tool_call(agent, &value));
        Ok(HookInput {
            conversation,
            cwd,
            stop_active,
            loop_count,
            tool: tool.flatten(),
        })
    }
}

fn tool_call(agent: Agent, value: &Value) -> Option<ToolCall> {
    let name = ["tool_name", "toolName"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str));
    let input = ["tool_input", "toolArgs"]
        .iter()
        .find_map(|k| value.get(*k))
        .cloned();
    match (name, input) {
        (Some(name), input) => Some(ToolCall {
            name: name.to_owned(),
            // Copilot may send its arguments as a JSON string.
            input: match input {
                Some(Value::String(text)) => {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                }
                Some(other) => other,
                None => Value::Null,
            },
        }),
        // Cursor's beforeShellExecution: the command at the top.
        (None, _) if agent == Agent::Cursor => {
            let command = value.get("command")?.as_str()?;
            Some(ToolCall {
                name: "Shell".to_owned(),
                input: serde_json::json!({ "command": command }),
            })
        }
        (None, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(agent: Agent, event: Event, json: &str) -> HookInput {
        HookInput::parse(agent, event, json.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn each_agents_stop_input_is_read() {
        let claude = parse(
            Agent::Claude,
            Event::Stop,
            r#"{"session_id":"abc123","transcript_path":"/t.jsonl","cwd":"/repo","permission_mode":"default","hook_event_name":"Stop","stop_hook_active":true,"last_assistant_message":"done"}"#,
        );
        assert_eq!(claude.conversation.as_deref(), Some("abc123"));
        assert_eq!(claude.cwd, Some(PathBuf::from("/repo")));
        assert!(claude.stop_active);
        let codex = parse(
            Agent::Codex,
            Event::Stop,
            r#"{"session_id":"s","turn_id":"t","transcript_path":null,"cwd":"/repo","hook_event_name":"Stop","model":"gpt-5","permission_mode":"default","stop_hook_active":false,"last_assistant_message":"Done."}"#,
        );
        assert!(!codex.stop_active);
        let gemini = parse(
            Agent::Gemini,
            Event::Stop,
            r#"{"session_id":"g","transcript_path":"/t","cwd":"/repo","hook_event_name":"AfterAgent","timestamp":"2026-08-21T12:00:00Z","prompt":"fix","prompt_response":"Done.","stop_hook_active":false}"#,
        );
        assert_eq!(gemini.conversation.as_deref(), Some("g"));
        let cursor = parse(
            Agent::Cursor,
            Event::Stop,
            r#"{"conversation_id":"c1","generation_id":"g1","model":"m","hook_event_name":"stop","cursor_version":"1","workspace_roots":["/repo"],"user_email":null,"transcript_path":"/t","status":"completed","loop_count":2}"#,
        );
        assert_eq!(
            (cursor.conversation.as_deref(), cursor.loop_count),
            (Some("c1"), Some(2))
        );
        assert_eq!(cursor.cwd, Some(PathBuf::from("/repo")));
        assert!(cursor.stop_active);
        let copilot = parse(
            Agent::Copilot,
            Event::Stop,
            r#"{"sessionId":"p1","timestamp":1704614600000,"cwd":"/repo","transcriptPath":"/t","stopReason":"end_turn","stop_hook_active":false}"#,
        );
        assert_eq!(copilot.conversation.as_deref(), Some("p1"));
    }

    #[test]
    fn each_agents_tool_call_is_read() {
        let claude = parse(
            Agent::Claude,
            Event::PreTool,
            r#"{"session_id":"a","cwd":"/repo","hook_event_name":"PreToolUse","tool_name":"Edit","tool_input":{"file_path":"/repo/tests/test_a.py","old_string":"x","new_string":"y"},"tool_use_id":"t"}"#,
        );
        let tool = claude.tool.unwrap_or_else(|| panic!("a tool"));
        assert_eq!(tool.name, "Edit");
        assert_eq!(tool.input["file_path"], "/repo/tests/test_a.py");
        // Copilot: arguments as a JSON string.
        let copilot = parse(
            Agent::Copilot,
            Event::PreTool,
            r#"{"sessionId":"p","timestamp":1,"cwd":"/repo","toolName":"bash","toolArgs":"{\"command\":\"rm -rf dist\",\"description\":\"clean\"}"}"#,
        );
        let tool = copilot.tool.unwrap_or_else(|| panic!("a tool"));
        assert_eq!(
            (tool.name.as_str(), &tool.input["command"]),
            ("bash", &Value::from("rm -rf dist"))
        );
        // Cursor's beforeShellExecution has no tool name.
        let cursor = parse(
            Agent::Cursor,
            Event::PreTool,
            r#"{"conversation_id":"c","hook_event_name":"beforeShellExecution","workspace_roots":["/repo"],"command":"echo x > checkrail.toml","cwd":"/repo","sandbox":false}"#,
        );
        let tool = cursor.tool.unwrap_or_else(|| panic!("a tool"));
        assert_eq!(tool.input["command"], "echo x > checkrail.toml");
    }

    #[test]
    fn what_is_not_a_hook_input_is_refused_with_the_reason() {
        let err = HookInput::parse(Agent::Claude, Event::Stop, b"not json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("read the claude stop hook input: it is not JSON"),
            "{err}"
        );
        let err = HookInput::parse(Agent::Gemini, Event::Stop, b"[1]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a JSON object"), "{err}");
    }
}
