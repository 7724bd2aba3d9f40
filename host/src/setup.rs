//! Setting a project up for enforcement (`checkrail init`) and checking
//! that setup (`checkrail doctor`). `init` detects the project's
//! toolchains, writes `checkrail.toml` (their grants and the enforce
//! policy) and registers the MCP server and the hooks in each chosen
//! agent's own files, merging into what is there: other keys stay (JSON
//! files come out with their keys sorted), and a second run changes
//! nothing. The file names and shapes follow each agent's reference (see
//! [`crate::hook`]).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::cache::key::digest_of;

use crate::hook::Agent;
use crate::{Error, Result};

/// One file `init` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The file, relative to the workspace.
    pub path: PathBuf,
    /// What it held (`None`: it is new).
    pub before: Option<String>,
    /// What it will hold.
    pub after: String,
}

/// What `init` sets up.
pub struct Plan<'a> {
    /// The workspace.
    pub root: &'a Path,
    /// The agents to register with.
    pub agents: &'a [Agent],
    /// The program the hooks and MCP clients run (`checkrail` on PATH).
    pub command: &'a str,
}

impl Plan<'_> {
    /// The files to write, each only if its content changes.
    pub fn changes(&self) -> Result<Vec<Change>> {
        let mut changes = Vec::new();
        let mut edit = |path: &str, make: &dyn Fn(Option<&str>) -> Result<String>| -> Result<()> {
            let full = self.root.join(path);
            // Two agents can share a file (`.mcp.json`): merge into what the
            // first one will write.
            if let Some(planned) = changes
                .iter_mut()
                .find(|c: &&mut Change| c.path == Path::new(path))
            {
                planned.after = make(Some(&planned.after))?;
                return Ok(());
            }
            let before = match std::fs::read_to_string(&full) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => {
                    return Err(Error::SetupFile {
                        what: "read",
                        path: full,
                        source,
                    });
                }
            };
            let after = make(before.as_deref())?;
            if before.as_deref() != Some(after.as_str()) {
                changes.push(Change {
                    path: PathBuf::from(path),
                    before,
                    after,
                });
            }
            Ok(())
        };
        let programs = programs(self.root);
        edit("checkrail.toml", &|text| config(text, &programs))?;
        let hook = |event: &str, agent: Agent| {
            format!("{} hook {event} --agent {}", self.command, agent.as_str())
        };
        let server = json!({ "command": self.command, "args": ["serve"] });
        for agent in self.agents {
            match agent {
                Agent::Claude => {
                    edit(".mcp.json", &|t| mcp_json(t, "mcpServers", &server))?;
                    edit(".claude/settings.json", &|t| {
                        grouped_hooks(
                            t,
                            &[
                                ("Stop", None, hook("stop", *agent), None),
                                ("SubagentStop", None, hook("stop", *agent), None),
                                (
                                    "PreToolUse",
                                    Some("Edit|Write|MultiEdit|NotebookEdit|Bash"),
                                    hook("pre-tool", *agent),
                                    None,
                                ),
                                ("SessionStart", None, hook("session-start", *agent), None),
                            ],
                        )
                    })?;
                }
                Agent::Codex => {
                    edit(".codex/config.toml", &|t| codex_mcp(t, self.command))?;
                    edit(".codex/hooks.json", &|t| {
                        grouped_hooks(
                            t,
                            &[
                                ("Stop", None, hook("stop", *agent), None),
                                (
                                    "PreToolUse",
                                    Some("Bash|apply_patch"),
                                    hook("pre-tool", *agent),
                                    None,
                                ),
                                ("SessionStart", None, hook("session-start", *agent), None),
                            ],
                        )
                    })?;
                }
                Agent::Gemini => {
                    edit(".gemini/settings.json", &|t| {
                        let text = mcp_json(t, "mcpServers", &server)?;
                        grouped_hooks(
                            Some(&text),
                            &[
                                (
                                    "AfterAgent",
                                    None,
                                    hook("stop", *agent),
                                    Some("checkrail-stop"),
                                ),
                                (
                                    "BeforeTool",
                                    Some("write_file|replace|run_shell_command"),
                                    hook("pre-tool", *agent),
                                    Some("checkrail-pre-tool"),
                                ),
                                (
                                    "SessionStart",
                                    None,
                                    hook("session-start", *agent),
                                    Some("checkrail-session-start"),
                                ),
                            ],
                        )
                    })?;
                }
                Agent::Cursor => {
                    edit(".cursor/mcp.json", &|t| mcp_json(t, "mcpServers", &server))?;
                    edit(".cursor/hooks.json", &|t| {
                        flat_hooks(
                            t,
                            "command",
                            &[
                                ("stop", hook("stop", *agent), json!({ "loop_limit": 5 })),
                                (
                                    "preToolUse",
                                    hook("pre-tool", *agent),
                                    json!({ "matcher": "Write|Delete|Shell" }),
                                ),
                                ("beforeShellExecution", hook("pre-tool", *agent), json!({})),
                                ("sessionStart", hook("session-start", *agent), json!({})),
                            ],
                        )
                    })?;
                }
                Agent::Copilot => {
                    edit(".mcp.json", &|t| mcp_json(t, "mcpServers", &server))?;
                    edit(".github/hooks/checkrail.json", &|t| {
                        flat_hooks(
                            t,
                            "bash",
                            &[
                                (
                                    "agentStop",
                                    hook("stop", *agent),
                                    json!({ "type": "command", "timeoutSec": 600 }),
                                ),
                                (
                                    "preToolUse",
                                    hook("pre-tool", *agent),
                                    json!({ "type": "command", "matcher": "bash|edit|create|apply_patch" }),
                                ),
                                (
                                    "sessionStart",
                                    hook("session-start", *agent),
                                    json!({ "type": "command" }),
                                ),
                            ],
                        )
                    })?;
                }
            }
        }
        Ok(changes)
    }
}

/// Writes the changes.
pub fn apply(root: &Path, changes: &[Change]) -> Result<()> {
    for change in changes {
        let path = root.join(&change.path);
        let io = |what: &'static str, source| Error::SetupFile {
            what,
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create the folder of", e))?;
        }
        std::fs::write(&path, &change.after).map_err(|e| io("write", e))?;
    }
    Ok(())
}

/// The programs the project's toolchains run, to grant in `[exec] allow`.
pub fn programs(root: &Path) -> Vec<&'static str> {
    use checkrail_sdk::detect::{self, Project, js};
    let Ok(ws) = checkrail_sdk::Workspace::open(root) else {
        return Vec::new();
    };
    let mut programs = Vec::new();
    if let Ok(Some(found)) = detect::project(&ws, ".") {
        match found.project {
            Project::Rust => programs.push("cargo"),
            Project::Go => programs.push("go"),
            Project::Python => programs.extend(["python3", "ruff"]),
            Project::C => programs.push("gcc"),
            Project::JavaScript | Project::TypeScript => {
                programs.push("node");
                if found.project == Project::TypeScript {
                    programs.push("tsc");
                }
                match js::test_runner(&ws, ".") {
                    Ok((js::JsTestRunner::Jest, _)) => programs.push("jest"),
                    Ok((js::JsTestRunner::Vitest, _)) => programs.push("vitest"),
                    _ => {}
                }
                if js::eslint_config(&ws, ".").is_some() {
                    programs.push("eslint");
                }
            }
        }
    }
    programs
}

/// `checkrail.toml` with the programs granted and an `[enforce]` table,
/// keeping everything else (comments included).
fn config(text: Option<&str>, programs: &[&str]) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text
        .unwrap_or_default()
        .parse()
        .map_err(|e| Error::BadRequest(format!("read checkrail.toml to merge into it: {e}")))?;
    let exec = doc
        .entry("exec")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
    let exec = exec
        .as_table_like_mut()
        .ok_or_else(|| Error::BadRequest("checkrail.toml: `exec` is not a table".to_owned()))?;
    let allow = exec
        .entry("allow")
        .or_insert(toml_edit::value(toml_edit::Array::new()));
    let allow = allow.as_array_mut().ok_or_else(|| {
        Error::BadRequest("checkrail.toml: `exec.allow` is not a list of programs".to_owned())
    })?;
    for program in programs {
        if !allow.iter().any(|v| v.as_str() == Some(program)) {
            allow.push(*program);
        }
    }
    if !doc.contains_key("enforce") {
        let mut enforce = toml_edit::Table::new();
        enforce.insert("on_stop", toml_edit::value("check"));
        enforce.insert("max_blocks", toml_edit::value(5));
        enforce.insert("on_error", toml_edit::value("block"));
        doc.insert("enforce", toml_edit::Item::Table(enforce));
    }
    Ok(match text {
        Some(_) => doc.to_string(),
        None => format!(
            "# checkrail's settings for this workspace; `checkrail init` wrote the first ones.\n{doc}"
        ),
    })
}

/// A JSON object from `text` (an empty one when there is none).
fn object(text: Option<&str>) -> Result<Value> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(json!({})),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => Err(Error::BadRequest("it is not a JSON object".to_owned())),
            Err(e) => Err(Error::BadRequest(format!(
                "it is not valid JSON ({e}); fix it or move it away, then run `checkrail init` again"
            ))),
        },
    }
}

fn pretty(value: &Value) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(value).unwrap_or_default()
    )
}

/// `servers.checkrail` set when absent (a server of that name the user
/// configured is left as it is).
fn mcp_json(text: Option<&str>, servers: &str, server: &Value) -> Result<String> {
    let mut doc = object(text)?;
    let map = doc[servers].as_object().cloned().unwrap_or_default();
    if !map.contains_key("checkrail") {
        let mut map = map;
        map.insert("checkrail".to_owned(), server.clone());
        doc[servers] = Value::Object(map);
    }
    Ok(pretty(&doc))
}

/// Hooks in Claude Code's shape (Codex and Gemini share it): event →
/// groups `{matcher?, hooks: [{type, command, name?}]}`. A command already
/// registered for an event is not added again.
fn grouped_hooks(
    text: Option<&str>,
    entries: &[(&str, Option<&str>, String, Option<&str>)],
) -> Result<String> {
    let mut doc = object(text)?;
    for (event, matcher, command, name) in entries {
        let groups = doc["hooks"][*event].as_array().cloned().unwrap_or_default();
        let present = groups.iter().any(|g| {
            g["hooks"]
                .as_array()
                .is_some_and(|hs| hs.iter().any(|h| h["command"] == command.as_str()))
        });
        if present {
            continue;
        }
        let mut handler = json!({ "type": "command", "command": command });
        if let Some(name) = name {
            handler["name"] = json!(name);
        }
        let mut group = json!({ "hooks": [handler] });
        if let Some(matcher) = matcher {
            group["matcher"] = json!(matcher);
        }
        let mut groups = groups;
        groups.push(group);
        doc["hooks"][*event] = Value::Array(groups);
    }
    Ok(pretty(&doc))
}

/// Hooks in Cursor's and Copilot's shape: `{version: 1, hooks: {event:
/// [{<key>: command, ...}]}}`.
fn flat_hooks(text: Option<&str>, key: &str, entries: &[(&str, String, Value)]) -> Result<String> {
    let mut doc = object(text)?;
    if doc.get("version").is_none() {
        doc["version"] = json!(1);
    }
    for (event, command, extra) in entries {
        let mut list = doc["hooks"][*event].as_array().cloned().unwrap_or_default();
        if list.iter().any(|h| h[key] == command.as_str()) {
            continue;
        }
        let mut handler = extra.clone();
        handler[key] = json!(command);
        list.push(handler);
        doc["hooks"][*event] = Value::Array(list);
    }
    Ok(pretty(&doc))
}

/// Codex's `[mcp_servers.checkrail]` in `.codex/config.toml`.
fn codex_mcp(text: Option<&str>, command: &str) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text
        .unwrap_or_default()
        .parse()
        .map_err(|e| Error::BadRequest(format!("read .codex/config.toml to merge into it: {e}")))?;
    let servers = doc
        .entry("mcp_servers")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_like_mut()
        .ok_or_else(|| {
            Error::BadRequest(".codex/config.toml: `mcp_servers` is not a table".to_owned())
        })?;
    if !servers.contains_key("checkrail") {
        let mut server = toml_edit::Table::new();
        server.insert("command", toml_edit::value(command));
        let mut args = toml_edit::Array::new();
        args.push("serve");
        server.insert("args", toml_edit::value(args));
        servers.insert("checkrail", toml_edit::Item::Table(server));
    }
    Ok(doc.to_string())
}

/// The files that register checkrail with `agent`.
pub fn files_of(agent: Agent) -> &'static [&'static str] {
    match agent {
        Agent::Claude => &[".mcp.json", ".claude/settings.json"],
        Agent::Codex => &[".codex/config.toml", ".codex/hooks.json"],
        Agent::Gemini => &[".gemini/settings.json"],
        Agent::Cursor => &[".cursor/mcp.json", ".cursor/hooks.json"],
        Agent::Copilot => &[".mcp.json", ".github/hooks/checkrail.json"],
    }
}

/// One thing `doctor` looked at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// Whether it is as it should be.
    pub ok: bool,
    /// What was checked, and what was found.
    pub what: String,
    /// What to do when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(what: String) -> Self {
        Check {
            ok: true,
            what,
            fix: None,
        }
    }

    fn fix(what: String, fix: String) -> Self {
        Check {
            ok: false,
            what,
            fix: Some(fix),
        }
    }
}

/// The name of the note that records an agent file's digest as `init`
/// wrote it (or a human last accepted it).
pub fn setup_note(path: &str) -> String {
    format!("setup:{path}")
}

/// An agent file that is no longer as `checkrail init` set it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupChange {
    /// The workspace-relative file.
    pub file: String,
    /// What happened to it ("changed", "is gone", …).
    pub what: &'static str,
}

/// Claude Code's project settings files: either can switch every hook off.
const CLAUDE_SETTINGS: [&str; 2] = [".claude/settings.json", ".claude/settings.local.json"];

/// Every agent file `init` may record, each once, sorted.
pub fn setup_files() -> Vec<&'static str> {
    let mut files: Vec<&str> = Agent::ALL
        .iter()
        .flat_map(|a| files_of(*a))
        .copied()
        .collect();
    files.sort_unstable();
    files.dedup();
    files
}

/// The agent files `checkrail init` recorded (`noted` gives a recorded
/// digest by file) that no longer hold what it recorded, and Claude Code
/// settings that switch every hook off (`disableAllHooks`, which a local
/// settings file can set without touching what `init` wrote). `None` when
/// `init` recorded nothing: there is no setup to compare with.
pub fn changed_since_init(
    root: &Path,
    noted: &dyn Fn(&str) -> Option<String>,
) -> Option<Vec<SetupChange>> {
    let recorded: Vec<(&str, String)> = setup_files()
        .into_iter()
        .filter_map(|file| Some((file, noted(file)?)))
        .collect();
    if recorded.is_empty() {
        return None;
    }
    let mut changes: Vec<SetupChange> = recorded
        .into_iter()
        .filter_map(|(file, digest)| {
            let what = match std::fs::read_to_string(root.join(file)) {
                Ok(text) if digest_of(&text) == digest => return None,
                Ok(_) => "changed",
                Err(_) => "is gone",
            };
            Some(SetupChange {
                file: file.to_owned(),
                what,
            })
        })
        .collect();
    for file in CLAUDE_SETTINGS {
        let off = std::fs::read_to_string(root.join(file))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|v| v["disableAllHooks"] == Value::Bool(true));
        if off {
            changes.push(SetupChange {
                file: file.to_owned(),
                what: "switches every hook off (`disableAllHooks`)",
            });
        }
    }
    Some(changes)
}

/// Checks a workspace's setup: its config, the program the hooks run, and
/// each agent's registration, compared with what `init` recorded (`noted`
/// gives a recorded digest by file).
pub fn doctor(root: &Path, command: &str, noted: &dyn Fn(&str) -> Option<String>) -> Vec<Check> {
    let mut checks = Vec::new();
    match crate::config::WorkspaceConfig::load(root) {
        Ok(config) => {
            let name = |v: serde_json::Result<Value>| {
                v.ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            checks.push(Check::ok(format!(
                "checkrail.toml reads; [enforce] on_stop = \"{}\", max_blocks = {}, on_error = \"{}\"",
                name(serde_json::to_value(config.enforce.on_stop)),
                config.enforce.max_blocks,
                name(serde_json::to_value(config.enforce.on_error)),
            )));
        }
        Err(e) => checks.push(Check::fix(
            format!("checkrail.toml: {e:#}"),
            "fix the file as the message says".to_owned(),
        )),
    }
    match which(command) {
        Some(path) => checks.push(Check::ok(format!(
            "the hooks run `{command}`: {}",
            path.display()
        ))),
        None => checks.push(Check::fix(
            format!("the hooks run `{command}`, which is not on PATH"),
            "put checkrail on PATH (`cargo install --path host`), or run `checkrail init --command /full/path/to/checkrail`".to_owned(),
        )),
    }
    for agent in Agent::ALL {
        checks.extend(agent_checks(root, agent));
    }
    for change in changed_since_init(root, noted).unwrap_or_default() {
        let file = &change.file;
        checks.push(Check::fix(
            format!("`{file}` {} since `checkrail init` set it up", change.what),
            format!(
                "look at the change (`git diff {file}`); if a human made it, run `checkrail init` again to record it"
            ),
        ));
    }
    checks
}

fn agent_checks(root: &Path, agent: Agent) -> Vec<Check> {
    let files = files_of(agent);
    let texts: Vec<(&str, Option<String>)> = files
        .iter()
        .map(|f| (*f, std::fs::read_to_string(root.join(f)).ok()))
        .collect();
    let name = agent.as_str();
    // The hooks file is the last one of each agent.
    let hooks = texts
        .last()
        .and_then(|(_, t)| t.clone())
        .unwrap_or_default();
    // An agent is set up once its hooks file is there (`.mcp.json` is
    // shared by Claude Code and Copilot).
    if texts.last().is_none_or(|(_, t)| t.is_none()) {
        return vec![Check::ok(format!(
            "{name}: not set up (run `checkrail init --agent {name}` to enforce workflows there)"
        ))];
    }
    let mut checks = Vec::new();
    let missing: Vec<&str> = ["stop", "pre-tool"]
        .into_iter()
        .filter(|event| !hooks.contains(&format!("hook {event} --agent {name}")))
        .collect();
    if missing.is_empty() {
        checks.push(Check::ok(format!(
            "{name}: the stop and pre-tool hooks are registered"
        )));
    } else {
        checks.push(Check::fix(
            format!(
                "{name}: no {} hook in `{}`: the agent can stop or edit without being checked",
                missing.join(" or "),
                files.last().copied().unwrap_or_default()
            ),
            format!("run `checkrail init --agent {name}`"),
        ));
    }
    checks
}

/// Where `program` is found on PATH (or itself, when it is a path).
fn which(program: &str) -> Option<PathBuf> {
    let candidate = Path::new(program);
    if candidate.components().count() > 1 {
        return candidate.is_file().then(|| candidate.to_owned());
    }
    checkrail_sandbox::exec::find_on_path(program, &std::env::var_os("PATH")?)
}
