//! `toolchain: custom`: a command's diagnostic lines become findings, and a
//! command that fails silently does not pass.

use super::*;

#[test]
fn custom_command_lines_become_findings() {
    require("sh", "a POSIX shell");
    let ws = TestWorkspace::new().unwrap();
    ws.write("src/a.c", "int a;\n").unwrap();
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "custom", "command": {"program": "sh", "args": ["-c", "echo src/a.c:3:5: error: boom; echo 'src/a.c:1: warning: meh [w1]' >&2; exit 1"]}}),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.findings.len(), 2, "{out:#?}");
    let boom = &out.findings[0];
    assert_eq!(boom.severity, Severity::Error);
    assert_eq!(boom.message, "boom");
    assert_eq!(
        (boom.path.as_deref(), boom.line, boom.column),
        (Some("src/a.c"), Some(3), Some(5))
    );
    assert!(
        boom.fix_hint
            .as_deref()
            .unwrap()
            .starts_with("fix the error at src/a.c:3:5 and run `sh -c 'echo src/a.c:3:5"),
        "{boom:?}"
    );
    let meh = by_code(&out, "w1");
    assert_eq!(meh.severity, Severity::Warning);

    // Not granted: refused with the fix, not run.
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "custom", "command": {"program": "sh", "args": ["-c", "true"]}}),
            &[],
        )
        .unwrap();
    assert_eq!(codes(&out), ["exec-not-granted"]);
}

#[test]
fn custom_command_failing_silently_does_not_pass() {
    require("sh", "a POSIX shell");
    let ws = TestWorkspace::new().unwrap();
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "custom", "command": {"program": "sh", "args": ["-c", "echo 'something broke' >&2; exit 3"]}}),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed);
    let failure = by_code(&out, "tool-failed");
    assert!(
        failure.message.contains("exit code 3") && failure.message.contains("something broke"),
        "{failure:?}"
    );

    // Only warnings and a non-zero exit: the warnings explain the exit.
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "custom", "command": {"program": "sh", "args": ["-c", "echo 'a.py:1: warning: style'; exit 1"]}}),
            &["sh"],
        )
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(out.findings.len(), 1);
}
