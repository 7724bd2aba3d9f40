//! Granted programs through the real engine and the bundled compile rule:
//! nothing a command starts outlives the check, a daemon holding stdout
//! cannot blank the output, and arguments that make a tool run anything are
//! refused with the opt-out in the finding.

use checkrail::report::{CheckpointReport, RuleStatus};
use checkrail_sdk::testing::require_program;
use checkrail_sdk::tool::codes;

use crate::support::{Workspace, check_phase, one_phase, within_patience};

/// The compile rule with `config` on `dir`.
fn run(dir: &std::path::Path, config: &str) -> CheckpointReport {
    check_phase(
        dir,
        &one_phase(&format!(
            "        - rule: compile\n          config: {config}\n"
        )),
    )
}

/// Processes on this machine whose command line holds `marker`.
#[cfg(target_os = "linux")]
fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let line = std::fs::read(e.path().join("cmdline")).ok()?;
            let line = String::from_utf8_lossy(&line).replace('\0', " ");
            line.contains(marker).then_some(line)
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn a_daemon_started_by_a_granted_program_ends_with_the_check_and_keeps_no_output_hostage() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    // An hour-long sleep, unique on this machine by its fraction.
    let marker = format!("{}.{nanos:09}", 3600 + std::process::id() % 97);
    let ws = Workspace::new()
        .file(
            "check.sh",
            format!(
                "echo 'src/x.txt:1: error: the real diagnostic'\nsetsid sleep {marker} &\n( setsid sleep {marker} >/dev/null 2>&1 & )\nexit 1\n"
            ),
        )
        .file("src/x.txt", "x")
        .grant("sh")
        .build();
    let dir = ws.path().to_owned();
    // A check that waited for its daemons would wait the hour.
    let report = within_patience("a check whose command left daemons", move || {
        run(
            &dir,
            "{ toolchain: custom, command: { program: sh, args: [check.sh] } }",
        )
    });
    assert_eq!(processes_with(&marker), Vec::<String>::new());
    let text = serde_json::to_string(&report).unwrap();
    assert!(!report.passed, "{text}");
    // The command's own exit ended it, not its deadline, and all its output
    // was read: the daemon holding stdout was killed, not waited out.
    assert_eq!(report.rules[0].status, RuleStatus::Failed, "{text}");
    assert!(text.contains("the real diagnostic"), "{text}");
    assert!(!text.contains("truncated"), "{text}");
    let codes: Vec<_> = report.rules[0]
        .findings
        .iter()
        .filter_map(|f| f.code.as_deref())
        .collect();
    assert!(
        !codes.contains(&codes::TIMEOUT) && !codes.contains(&codes::TOOL_KILLED),
        "{text}"
    );
    // The same engine still runs a good check afterwards.
    std::fs::write(ws.path().join("check.sh"), "exit 0\n").unwrap();
    let report = run(
        ws.path(),
        "{ toolchain: custom, command: { program: sh, args: [check.sh] } }",
    );
    assert!(report.passed, "{report:?}");
}

#[test]
fn cargo_config_from_a_workflow_is_refused_with_the_opt_out() {
    require_program("cargo", "install Rust with rustup (https://rustup.rs)");
    let ws = Workspace::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"x\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .file("src/lib.rs", "")
        .grant("cargo")
        .build();
    let config = "{ toolchain: cargo, args: ['--config', 'env.LD_PRELOAD=\"/tmp/evil.so\"'] }";
    let report = run(ws.path(), config);
    let text = serde_json::to_string(&report).unwrap();
    assert!(!report.passed, "{text}");
    assert!(
        text.contains("with the argument `--config`")
            && text.contains(r#"add `unchecked_args = [\"cargo\"]` under `[exec]`"#),
        "{text}"
    );
}
