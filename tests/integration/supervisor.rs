//! `checkrail run`: an agent confined with Landlock tries every shortcut to
//! the record that judges it, and does honest work; the same agent run
//! unconfined shows the limit the README states.

use std::path::Path;

use serde_json::Value;

use crate::support::{BIN, Cli, Workspace, at_terminal, repo_root, state_dir};

use crate::support::DOCS_FLOW as FLOW;

fn landlock() -> bool {
    checkrail::confine::kernel_abi().is_some()
}

/// `checkrail run [extra…] -- python confined_agent.py …` in `dir`; the
/// agent's report.
fn run_agent(dir: &Path, extra: &[&str], agent_args: &[&str]) -> (Value, String) {
    let python = std::env::var("CHECKRAIL_E2E_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = repo_root().join("tests/e2e/confined_agent.py");
    // The agent's temporary files go where the state is not.
    let tmp = dir.join(".agent-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cli = Cli::new(&["run"])
        .workspace(dir)
        .current_dir(dir)
        .env("TMPDIR", &tmp);
    for arg in extra {
        cli = cli.arg(arg);
    }
    cli = cli
        .arg("--")
        .arg(python)
        .arg(script)
        .arg(state_dir())
        .arg(BIN);
    for arg in agent_args {
        cli = cli.arg(arg);
    }
    let out = cli.output();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| panic!("no report from the agent: {stdout}\n{stderr}"));
    (report, stderr)
}

#[test]
fn a_confined_agent_cannot_reach_the_record_and_honest_work_passes() {
    if !landlock() {
        eprintln!("skipped: this kernel has no Landlock");
        return;
    }
    let ws = Workspace::new().workflow(FLOW).build();
    let dir = ws.path();
    let (report, stderr) = run_agent(dir, &[], &[]);
    assert!(stderr.contains("confined with Landlock ABI"), "{stderr}");

    // Every attack was refused by the kernel or by checkrail.
    let attacks = report["attacks"].as_array().unwrap();
    assert_eq!(attacks.len(), 10, "{report:#}");
    for attack in attacks {
        assert_eq!(attack["refused"], true, "not refused: {attack}");
    }
    let detail = |name: &str| {
        attacks
            .iter()
            .find(|a| a["attack"] == name)
            .map(|a| a["detail"].as_str().unwrap_or("").to_owned())
            .unwrap()
    };
    assert!(
        detail("approve its own gate at a terminal").contains("confined"),
        "{report:#}"
    );
    assert!(
        detail("edit the approval policy").contains("checkrail allow"),
        "{report:#}"
    );

    // Honest work inside: every tool listed, both checkpoints ran, the
    // second waits for a human.
    assert_eq!(report["tools"].as_array().unwrap().len(), 7, "{report:#}");
    for (call, ok) in report["calls"].as_object().unwrap() {
        assert_eq!(ok, true, "{call} failed inside: {report:#}");
    }
    assert_eq!(report["pytest"]["code"], 0, "{report:#}");
    assert_eq!(report["readme"]["passed"], true, "{report:#}");
    assert_eq!(report["changelog"]["passed"], true, "{report:#}");
    let session = report["session"].as_str().unwrap();
    // The hook was answered by the supervisor, in Claude Code's form.
    let hook = &report["hook"];
    assert_eq!(hook["code"], 0, "{hook}");
    assert!(
        !hook["stderr"].as_str().unwrap().contains("could not check"),
        "{hook}"
    );

    // Outside, the record is whole, says the agent was confined, and a
    // human approves at a real terminal.
    assert!(state_dir().join("key").is_file());
    assert!(!checkrail::dashboard::login_file(&crate::support::state()).exists());
    let shown = Cli::new(&["session", "show", session])
        .workspace(dir)
        .output();
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("awaiting_approval"), "{shown}");
    assert!(shown.contains("the agent ran confined"), "{shown}");
    let verified = Cli::new(&["session", "verify", session, "--json"])
        .workspace(dir)
        .output();
    let verified: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(verified["ok"], true, "{verified:#}");
    assert_eq!(verified["confinement"]["confined"], true, "{verified:#}");
    let approved = at_terminal(dir, &["session", "approve", session], "approve");
    assert!(approved.contains("approved"), "{approved}");
}

#[test]
fn unconfined_the_agent_can_read_the_key_and_its_session_says_so() {
    let ws = Workspace::new().workflow(FLOW).build();
    let dir = ws.path();
    let (report, stderr) = run_agent(dir, &["--unconfined"], &["--only-read-key"]);
    assert!(stderr.contains("(unconfined)"), "{stderr}");
    // The README's stated limit: as the same user, nothing stops it.
    assert_eq!(report["attacks"][0]["refused"], false, "{report:#}");
    let session = report["session"].as_str().unwrap();
    let shown = Cli::new(&["session", "show", session])
        .workspace(dir)
        .output();
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("the agent ran unconfined"), "{shown}");
}

#[test]
fn a_writable_path_that_holds_the_state_is_refused_before_the_agent_starts() {
    if !landlock() {
        return;
    }
    let ws = Workspace::new().workflow(FLOW).build();
    let parent = state_dir().parent().unwrap().to_owned();
    let out = Cli::new(&["run"])
        .workspace(ws.path())
        .arg("--allow-write")
        .arg(&parent)
        .arg("--")
        .arg("true")
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds checkrail's state"), "{stderr}");
}
