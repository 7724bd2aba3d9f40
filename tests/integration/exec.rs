//! Granted programs through the real engine and the bundled compile rule:
//! nothing a command starts outlives the check, a daemon holding stdout
//! cannot blank the output, and arguments that make a tool run anything are
//! refused with the opt-out in the finding.

use checkrail::engine::Hooks;
use checkrail::report::CheckpointReport;

use crate::support::{checkpoint, engine, workspace};

fn run(dir: &std::path::Path, config: &str) -> CheckpointReport {
    let flow = checkrail::workflow::parse(
        &format!(
            "id: x\nversion: 0.1.0\nname: X\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: compile\n          config: {config}\n"
        ),
        "x.yaml",
    )
    .unwrap();
    checkpoint(&engine(), &flow, "p", dir, None, Hooks::default()).unwrap()
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
    let marker = format!("{}.{nanos:09}", 800 + std::process::id() % 97);
    let ws = workspace(&[
        (
            "check.sh",
            &format!(
                "echo 'src/x.txt:1: error: the real diagnostic'\nsetsid sleep {marker} &\n( setsid sleep {marker} >/dev/null 2>&1 & )\nexit 1\n"
            ),
        ),
        ("src/x.txt", "x"),
        ("checkrail.toml", "[exec]\nallow = [\"sh\"]\n"),
    ]);
    let started = std::time::Instant::now();
    let report = run(
        ws.path(),
        "{ toolchain: custom, command: { program: sh, args: [check.sh] } }",
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(processes_with(&marker), Vec::<String>::new());
    let text = serde_json::to_string(&report).unwrap();
    assert!(!report.passed, "{text}");
    assert!(text.contains("the real diagnostic"), "{text}");
    assert!(!text.contains("truncated"), "{text}");
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
    if checkrail_sdk::native::exec::find_on_path("cargo", &std::env::var_os("PATH").unwrap())
        .is_none()
    {
        eprintln!("skipped: cargo is not on PATH");
        return;
    }
    let ws = workspace(&[
        (
            "Cargo.toml",
            "[package]\nname = \"x\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("src/lib.rs", ""),
        ("checkrail.toml", "[exec]\nallow = [\"cargo\"]\n"),
    ]);
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
