//! `checkrail hook` as the agents run it (the real binary, the event on
//! stdin, the answer on stdout), `checkrail init` and `doctor` on real
//! projects, and escalation.

use std::path::Path;

use checkrail::session::Status;
use serde_json::{Value, json};

use crate::support::{Cli, Session, Sessions, Workspace, at_terminal, codes, text};

/// Two phases: notes.md, then a test file frozen since the first phase
/// passed and product code to write.
const FLOW: &str = "id: notes-then-code
version: 1.0.0
name: Notes then code
description: d
phases:
  - id: notes
    name: Notes
    guidance: write notes.md and tests/spec.txt
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [notes.md, tests/spec.txt] }
  - id: code
    name: Code
    guidance: write src/lib.txt; the spec is frozen
    checkpoint:
      frozen: { since: notes, paths: [tests/spec.txt] }
      rules:
        - rule: file-exists
          config: { paths: [src/lib.txt] }
";

/// Runs `checkrail hook <event> --agent <agent>` in `dir` with `input`;
/// the JSON it printed (`Null` for nothing) after checking it exited 0.
fn hook(dir: &Path, agent: &str, event: &str, input: &Value) -> Value {
    let out = Cli::new(&["hook", event, "--agent", agent])
        .current_dir(dir)
        .output_with_input(input.to_string().as_bytes());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A Claude Code stop event of conversation `conv` in `dir`.
fn claude_stop(dir: &Path, conv: &str) -> Value {
    json!({"session_id": conv, "transcript_path": "/t.jsonl", "cwd": dir, "hook_event_name": "Stop",
           "stop_hook_active": false, "permission_mode": "default"})
}

fn claude_edit(dir: &Path, conv: &str, path: &str) -> Value {
    json!({"session_id": conv, "cwd": dir, "hook_event_name": "PreToolUse", "tool_name": "Edit",
           "tool_input": {"file_path": path, "old_string": "a", "new_string": "b"}, "tool_use_id": "t"})
}

#[test]
fn a_scripted_agent_is_held_at_its_stop_until_the_phase_is_done() {
    let ws = Workspace::new().workflow(FLOW).build();
    let dir = ws.path();
    let svc = Sessions::on(dir).open();
    // The conversation begins, then the agent starts a session.
    let context = hook(
        dir,
        "claude",
        "session-start",
        &json!({"session_id": "conv-1", "cwd": dir, "hook_event_name": "SessionStart", "source": "startup"}),
    );
    let text = context["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(text.contains("no workflow session is active"), "{text}");
    let session = Session::start(&svc, "notes-then-code");

    // It tries to stop with nothing done: blocked, with the finding.
    let blocked = hook(dir, "claude", "stop", &claude_stop(dir, "conv-1"));
    assert_eq!(blocked["decision"], "block", "{blocked}");
    let reason = blocked["reason"].as_str().unwrap();
    assert!(reason.contains("notes.md"), "{reason}");
    assert!(reason.contains("escalate"), "{reason}");

    // It writes the files: the checks pass, but the workflow is not done.
    std::fs::write(dir.join("notes.md"), "n").unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("tests/spec.txt"), "spec").unwrap();
    let still = hook(dir, "claude", "stop", &claude_stop(dir, "conv-1"));
    let reason = still["reason"].as_str().unwrap();
    assert!(reason.contains("pass now"), "{reason}");
    assert!(session.validate().advanced);

    // In the code phase the frozen spec cannot be edited; product code can.
    let refused = hook(
        dir,
        "claude",
        "pre-tool",
        &claude_edit(dir, "conv-1", "tests/spec.txt"),
    );
    assert_eq!(
        refused["hookSpecificOutput"]["permissionDecision"], "deny",
        "{refused}"
    );
    let why = refused["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("tests/spec.txt") && why.contains("frozen"),
        "{why}"
    );
    let allowed = hook(
        dir,
        "claude",
        "pre-tool",
        &claude_edit(dir, "conv-1", "src/lib.txt"),
    );
    assert_eq!(allowed, json!({}), "{allowed}");
    // So can checkrail's own config not, whatever the tool.
    let shell = json!({"session_id": "conv-1", "cwd": dir, "hook_event_name": "PreToolUse",
                       "tool_name": "Bash", "tool_input": {"command": "echo '[enforce]' >> checkrail.toml"}});
    let refused = hook(dir, "claude", "pre-tool", &shell);
    assert_eq!(refused["hookSpecificOutput"]["permissionDecision"], "deny");

    // It fixes the code and completes: let through.
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.txt"), "code").unwrap();
    assert_eq!(
        session.validate().standing.session.status,
        Status::Completed
    );
    let done = hook(dir, "claude", "stop", &claude_stop(dir, "conv-1"));
    assert!(done.get("decision").is_none(), "{done}");
    assert!(
        done["systemMessage"].as_str().unwrap().contains("complete"),
        "{done}"
    );
}

#[test]
fn each_agent_is_answered_in_its_own_form() {
    // Each agent's documented stop shape, in a workspace of its own with
    // one session whose first phase is not done.
    let dir = Path::new("/placeholder");
    let cases = [
        (
            "codex",
            json!({"session_id": "x", "turn_id": "t", "transcript_path": null, "cwd": dir, "hook_event_name": "Stop", "model": "m", "permission_mode": "default", "stop_hook_active": false, "last_assistant_message": "Done."}),
            "decision",
            "block",
        ),
        (
            "gemini",
            json!({"session_id": "x", "transcript_path": "/t", "cwd": dir, "hook_event_name": "AfterAgent", "timestamp": "2026-01-01T00:00:00Z", "prompt": "p", "prompt_response": "r", "stop_hook_active": false}),
            "decision",
            "deny",
        ),
        (
            "cursor",
            json!({"conversation_id": "x", "generation_id": "g", "model": "m", "hook_event_name": "stop", "cursor_version": "1", "workspace_roots": [dir], "user_email": null, "transcript_path": null, "status": "completed", "loop_count": 0}),
            "followup_message",
            "",
        ),
        (
            "copilot",
            json!({"sessionId": "x", "timestamp": 1_704_614_600_000u64, "cwd": dir, "transcriptPath": "/t", "stopReason": "end_turn", "stop_hook_active": false}),
            "decision",
            "block",
        ),
    ];
    for (agent, input, field, value) in cases {
        let ws = Workspace::new().workflow(FLOW).build();
        let dir = ws.path();
        let mut input = input;
        if input.get("cwd").is_some() {
            input["cwd"] = json!(dir);
        }
        if input.get("workspace_roots").is_some() {
            input["workspace_roots"] = json!([dir]);
        }
        let svc = Sessions::on(dir).open();
        Session::start(&svc, "notes-then-code");
        let answer = hook(dir, agent, "stop", &input);
        let got = &answer[field];
        assert!(!got.is_null(), "{agent}: {answer}");
        if !value.is_empty() {
            assert_eq!(got, value, "{agent}: {answer}");
        }
        let reason = answer
            .get("reason")
            .or_else(|| answer.get("followup_message"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(reason.contains("notes.md"), "{agent}: {reason}");
    }
}

#[test]
fn a_stop_blocked_max_blocks_times_escalates_to_a_human() {
    let ws = Workspace::new()
        .workflow(FLOW)
        .config("[enforce]\nmax_blocks = 2\n")
        .build();
    let dir = ws.path();
    let svc = Sessions::on(dir).open();
    let session = Session::start(&svc, "notes-then-code");
    for _ in 0..2 {
        let answer = hook(dir, "claude", "stop", &claude_stop(dir, "conv-9"));
        assert_eq!(answer["decision"], "block", "{answer}");
    }
    let third = hook(dir, "claude", "stop", &claude_stop(dir, "conv-9"));
    assert!(third.get("decision").is_none(), "{third}");
    let note = third["systemMessage"].as_str().unwrap();
    assert!(
        note.contains("escalated to a human after 2 blocked stops"),
        "{note}"
    );
    let (standing, _, _) = svc.store().get(&session.id).unwrap();
    assert_eq!(standing.status, Status::Escalated);
    let escalated = svc
        .events(&session.id)
        .unwrap()
        .into_iter()
        .find(|e| e.kind() == "escalated")
        .unwrap();
    assert_eq!(escalated.details()["by"], "stop hook");
    // The agent cannot validate its way out; a human sends it back.
    assert!(session.try_validate().is_err());
    let back = svc
        .decide(
            &session.id,
            &checkrail::service::Decision::at_terminal(Some("ana"), None, Some("keep going")),
        )
        .map(|s| s.session.status);
    // `at_terminal` is an approval; an escalation is not approved.
    assert!(back.is_err());
    let mut reject = checkrail::service::Decision::at_terminal(Some("ana"), None, Some("go on"));
    reject.approve = false;
    assert_eq!(
        svc.decide(&session.id, &reject).unwrap().session.status,
        Status::Active
    );
}

#[test]
fn an_agent_can_escalate_and_the_stop_waits_for_the_human() {
    let ws = Workspace::new().workflow(FLOW).build();
    let dir = ws.path();
    let svc = Sessions::on(dir).open();
    let session = Session::start(&svc, "notes-then-code");
    let refused = svc.escalate(&session.id, "  ", "agent").unwrap_err();
    assert!(refused.to_string().contains("needs `reason`"), "{refused}");
    let standing = svc
        .escalate(&session.id, "the spec contradicts the ticket", "agent")
        .unwrap();
    assert_eq!(standing.session.status, Status::Escalated);
    assert!(
        standing.next_step.contains("waits for a human"),
        "{}",
        standing.next_step
    );
    let stop = hook(dir, "claude", "stop", &claude_stop(dir, "conv-2"));
    assert!(stop.get("decision").is_none(), "{stop}");
    let listed = Cli::new(&["session", "list"]).workspace(dir).output();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("escalated"));
}

#[test]
fn without_a_session_the_workspace_policy_decides() {
    for (policy, blocks) in [("off", false), ("require-session", true)] {
        let ws = Workspace::new()
            .config(&format!("[enforce]\non_stop = \"{policy}\"\n"))
            .build();
        let dir = ws.path();
        let answer = hook(dir, "claude", "stop", &claude_stop(dir, "c"));
        assert_eq!(
            answer.get("decision").is_some(),
            blocks,
            "{policy}: {answer}"
        );
    }
    // A broken config: the hook still answers, as on_error says (block).
    let ws = Workspace::new().build();
    std::fs::write(ws.path().join("checkrail.toml"), "[enforce\n").unwrap();
    let answer = hook(ws.path(), "gemini", "stop", &claude_stop(ws.path(), "c"));
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("could not check"),
        "{answer}"
    );
}

#[test]
fn an_agent_that_switches_enforcement_off_in_checkrail_toml_is_still_blocked() {
    // The owner's policy: a session is required to stop; errors block.
    let ws = Workspace::new()
        .config("[enforce]\non_stop = \"require-session\"\non_error = \"block\"\n")
        .build();
    let dir = ws.path();
    let answer = hook(dir, "claude", "stop", &claude_stop(dir, "c"));
    assert_eq!(answer["decision"], "block", "{answer}");
    // The agent turns the gate off (and errors into passes) by a command
    // the pre-tool hook cannot read.
    std::fs::write(
        dir.join("checkrail.toml"),
        "[enforce]\non_stop = \"off\"\non_error = \"allow\"\n",
    )
    .unwrap();
    let answer = hook(dir, "claude", "stop", &claude_stop(dir, "c"));
    assert_eq!(answer["decision"], "block", "{answer}");
    let reason = answer["reason"].as_str().unwrap();
    assert!(
        reason.contains("`checkrail.toml` changed") && reason.contains("checkrail allow"),
        "{reason}"
    );
    // The owner allows it: now it is the policy.
    crate::support::allow(dir);
    let answer = hook(dir, "claude", "stop", &claude_stop(dir, "c"));
    assert!(answer.get("decision").is_none(), "{answer}");
}

#[test]
fn the_done_checks_run_when_the_policy_asks_for_them() {
    let ws = Workspace::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"d\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .file("src/lib.rs", "pub fn f() -> u32 { \"not a number\" }\n")
        .grant("cargo")
        .config("[enforce]\non_stop = \"check\"\n")
        .build();
    let dir = ws.path();
    let answer = hook(dir, "claude", "stop", &claude_stop(dir, "c"));
    let reason = answer["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("src/lib.rs:1"), "{answer}");
    std::fs::write(dir.join("src/lib.rs"), "pub fn f() -> u32 { 1 }\n").unwrap();
    let answer = hook(dir, "claude", "stop", &claude_stop(dir, "c"));
    assert!(answer.get("decision").is_none(), "{answer}");
}

/// Runs `checkrail init` in `dir`; what it printed.
fn init(dir: &Path, agents: &[&str]) -> String {
    let mut cli = Cli::new(&["init"]).workspace(dir);
    for agent in agents {
        cli = cli.arg("--agent").arg(agent);
    }
    let out = cli.output();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn init_sets_up_each_kind_of_project_once_and_merges_into_existing_files() {
    let projects: [(&str, &str, &str, &str); 4] = [
        (
            "Cargo.toml",
            "[package]\nname = \"r\"\nversion = \"0.1.0\"\n",
            "src/lib.rs",
            "cargo",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"p\"\n",
            "p.py",
            "python3",
        ),
        ("go.mod", "module example.com/g\n\ngo 1.21\n", "g.go", "go"),
        (
            "package.json",
            "{\"name\": \"j\", \"devDependencies\": {\"vitest\": \"1\"}}",
            "index.js",
            "vitest",
        ),
    ];
    let agents = ["claude", "codex", "gemini", "cursor", "copilot"];
    for (manifest, text, source, program) in projects {
        let ws = Workspace::new()
            .file(manifest, text)
            .file(source, "\n")
            .file(
                ".claude/settings.json",
                r#"{"permissions": {"allow": ["Bash(ls)"]}, "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "echo mine"}]}]}}"#,
            )
            .file(".codex/config.toml", "# mine\nmodel = \"m\"\n")
            .build();
        let dir = ws.path();
        let first = init(dir, &agents);
        assert!(first.contains("created checkrail.toml"), "{first}");
        assert!(first.contains("updated .claude/settings.json"), "{first}");
        let config = std::fs::read_to_string(dir.join("checkrail.toml")).unwrap();
        assert!(
            config.contains(&format!("\"{program}\"")),
            "{manifest}: {config}"
        );
        assert!(config.contains("on_stop = \"check\""), "{config}");
        // Existing keys stay.
        let claude: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(".claude/settings.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(claude["permissions"]["allow"][0], "Bash(ls)");
        let stops = claude["hooks"]["Stop"].to_string();
        assert!(
            stops.contains("echo mine") && stops.contains("checkrail hook stop --agent claude")
        );
        let codex = std::fs::read_to_string(dir.join(".codex/config.toml")).unwrap();
        assert!(codex.starts_with("# mine\nmodel = \"m\"\n"), "{codex}");
        assert!(codex.contains("[mcp_servers.checkrail]"), "{codex}");
        for file in [
            ".mcp.json",
            ".codex/hooks.json",
            ".gemini/settings.json",
            ".cursor/hooks.json",
            ".cursor/mcp.json",
            ".github/hooks/checkrail.json",
        ] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let _: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(text.contains("checkrail"), "{file}");
        }
        // The second run changes nothing.
        let before = snapshot(dir);
        let second = init(dir, &agents);
        assert!(second.contains("nothing to change"), "{second}");
        assert_eq!(snapshot(dir), before);
    }
}

fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = walk(dir)
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            (p.display().to_string(), text)
        })
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `claude mcp list` (Claude Code's own CLI, from npm) in `dir`, with a
/// home and a state directory of the test's own; what it printed.
fn claude_mcp_list(dir: &Path, home: &Path) -> String {
    let out = std::process::Command::new("claude")
        .args(["mcp", "list"])
        .current_dir(dir)
        .env("HOME", home)
        .env("CHECKRAIL_STATE_DIR", home.join("state"))
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "run `claude` ({e}); `scripts/setup.sh user` installs Claude Code's CLI from npm"
            )
        });
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn claude_code_reads_the_server_init_registers_and_waits_for_a_human_to_approve_it() {
    let ws = Workspace::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n",
        )
        .build();
    let dir = ws.path();
    // Claude Code reads a project's settings at the root of its repository.
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir)
        .status()
        .expect("run git");
    assert!(git.success());
    let bin = env!("CARGO_BIN_EXE_checkrail");
    let out = Cli::new(&["init", "--agent", "claude", "--command", bin])
        .workspace(dir)
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let home = tempfile::tempdir().unwrap();

    // Written by the project (and so by an agent): Claude Code does not
    // start it on its own.
    let listed = claude_mcp_list(dir, home.path());
    assert!(
        listed.contains(&format!("checkrail: {bin} serve")) && listed.contains("Pending approval"),
        "{listed}"
    );

    // A human approves it (their local settings): it starts and answers MCP.
    std::fs::write(
        dir.join(".claude/settings.local.json"),
        r#"{"enabledMcpjsonServers":["checkrail"]}"#,
    )
    .unwrap();
    let listed = claude_mcp_list(dir, home.path());
    assert!(listed.contains("Connected"), "{listed}");
}

#[test]
fn doctor_reports_a_hook_the_agent_removed() {
    let ws = Workspace::new().file("go.mod", "module m\n").build();
    let dir = ws.path();
    init(dir, &["claude"]);
    let bin_dir = Path::new(crate::support::BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let doctor = || {
        let out = Cli::new(&["doctor"])
            .workspace(dir)
            .env("PATH", &path)
            .output();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = doctor();
    assert_eq!(code, Some(0), "{text}");
    // The agent deletes its own stop hook.
    std::fs::write(dir.join(".claude/settings.json"), "{}\n").unwrap();
    let (code, text) = doctor();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FIX claude: no stop or pre-tool hook"),
        "{text}"
    );
    assert!(
        text.contains("changed since `checkrail init` set it up"),
        "{text}"
    );
    // Or it leaves that file alone and switches every hook off locally.
    at_terminal(dir, &["init", "--agent", "claude"], "accept");
    std::fs::write(
        dir.join(".claude/settings.local.json"),
        "{\"disableAllHooks\": true}\n",
    )
    .unwrap();
    let (code, text) = doctor();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("`.claude/settings.local.json` switches every hook off"),
        "{text}"
    );
}

#[test]
fn the_enforce_policy_is_pinned_when_the_session_starts() {
    let ws = Workspace::new().workflow(FLOW).build();
    let dir = ws.path();
    let svc = Sessions::on(dir).open();
    let session = Session::start(&svc, "notes-then-code");
    // The agent lowers the block budget to escape at its next stop.
    std::fs::write(dir.join("checkrail.toml"), "[enforce]\nmax_blocks = 0\n").unwrap();
    let answer = hook(dir, "claude", "stop", &claude_stop(dir, "conv-5"));
    assert_eq!(answer["decision"], "block", "{answer}");
    let (standing, _, _) = svc.store().get(&session.id).unwrap();
    assert_eq!(standing.status, Status::Active);
}

#[test]
fn a_checkpoint_fails_once_the_agent_edits_its_own_hooks_until_a_human_sets_them_up_again() {
    let ws = Workspace::new()
        .workflow(FLOW)
        .file("notes.md", "n")
        .file("tests/spec.txt", "spec")
        .build();
    let dir = ws.path();
    init(dir, &["claude"]);
    let svc = Sessions::on(dir).open();
    let session = Session::start(&svc, "notes-then-code");
    let first = session.validate();
    assert!(first.advanced, "{first:?}");
    let intact = first.report.as_ref().expect("a report");
    let setup = intact
        .rules
        .iter()
        .find(|r| r.rule == "checkrail/hook-setup")
        .expect("the hook setup is checked in a session");
    assert_eq!(setup.status, checkrail::report::RuleStatus::Passed);

    // The agent takes its stop hook out, then does the phase's work.
    std::fs::write(dir.join(".claude/settings.json"), "{\"hooks\": {}}\n").unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.txt"), "code").unwrap();
    let refused = session.validate();
    assert!(!refused.advanced);
    assert!(
        codes(&refused).contains(&"hook-setup-changed".to_owned()),
        "{refused:?}"
    );

    // The agent cannot record its version by running `init` itself.
    let out = Cli::new(&["init", "--agent", "claude"])
        .workspace(dir)
        .output();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("only a human at an interactive terminal"));
    assert!(!session.validate().advanced);

    // A human looks and sets the hooks up again: the phase passes.
    let typed = at_terminal(dir, &["init", "--agent", "claude"], "accept");
    assert!(typed.contains(".claude/settings.json"), "{typed}");
    assert!(session.validate().advanced);
}

#[test]
fn the_done_checks_refuse_a_test_removed_or_skipped_since_the_first_stop() {
    const TESTS: &str = "\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn two() {\n        assert_eq!(super::f(), 2);\n    }\n\n    #[test]\n    fn positive() {\n        assert!(super::f() > 0);\n    }\n}\n";
    let ws = Workspace::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"d\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .file("src/lib.rs", format!("pub fn f() -> u32 {{ 1 }}\n{TESTS}"))
        .grant("cargo")
        .config("[enforce]\non_stop = \"check\"\nmax_blocks = 100\n")
        .build();
    let dir = ws.path();
    let stop = || {
        let answer = hook(dir, "claude", "stop", &claude_stop(dir, "conv-t"));
        answer["reason"].as_str().unwrap_or_default().to_owned()
    };
    // The first stop: a failing test; how each test ended is kept.
    let reason = stop();
    assert!(reason.contains("two"), "{reason}");

    // Deleting the failing test does not get the agent out.
    let without = "pub fn f() -> u32 { 1 }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn positive() {\n        assert!(super::f() > 0);\n    }\n}\n";
    std::fs::write(dir.join("src/lib.rs"), without).unwrap();
    let reason = stop();
    assert!(
        reason.contains("two") && reason.contains("removed"),
        "{reason}"
    );

    // Nor does skipping it.
    let skipped = format!(
        "pub fn f() -> u32 {{ 1 }}\n{}",
        TESTS.replace("#[test]\n    fn two", "#[test]\n    #[ignore]\n    fn two")
    );
    std::fs::write(dir.join("src/lib.rs"), skipped).unwrap();
    let reason = stop();
    assert!(
        reason.contains("two") && reason.contains("skipped"),
        "{reason}"
    );

    // Fixing the code does.
    std::fs::write(
        dir.join("src/lib.rs"),
        format!("pub fn f() -> u32 {{ 2 }}\n{TESTS}"),
    )
    .unwrap();
    let answer = hook(dir, "claude", "stop", &claude_stop(dir, "conv-t"));
    assert!(answer.get("decision").is_none(), "{answer}");
}
