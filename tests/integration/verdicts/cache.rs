//! The outcome cache sees every file a test reads (data files, fixtures,
//! the build script, `.gitignore`), the toolchain itself, and the judging
//! files a project ignores: a change to any of them runs the rule again.

use std::process::Command;

use serde_json::Value;

use super::rust_crate;
use crate::support::{Cli, Workspace, check_phase, one_phase};

#[test]
fn the_cache_reruns_when_any_file_a_test_reads_changes() {
    let ws = rust_crate().build();
    let dir = ws.path();
    let flow = one_phase("        - rule: test\n          config: { runner: cargo }\n");
    let first = check_phase(dir, &flow);
    assert!(first.passed, "{first:?}");
    assert!(check_phase(dir, &flow).rules[0].cached, "unchanged: reused");

    // A file pulled in with include_str!, not a .rs file.
    std::fs::write(dir.join("data/expected.txt"), "43\n").unwrap();
    let changed = check_phase(dir, &flow);
    assert!(!changed.rules[0].cached && !changed.passed, "{changed:?}");
    std::fs::write(dir.join("data/expected.txt"), "42\n").unwrap();
    assert!(check_phase(dir, &flow).passed);

    // A file the test opens at run time.
    std::fs::write(dir.join("tests/fixture.txt"), "broken\n").unwrap();
    let changed = check_phase(dir, &flow);
    assert!(!changed.rules[0].cached && !changed.passed, "{changed:?}");
    std::fs::write(dir.join("tests/fixture.txt"), "ok\n").unwrap();

    // The build script.
    assert!(check_phase(dir, &flow).passed);
    std::fs::write(
        dir.join("build.rs"),
        "fn main() { println!(\"cargo:rerun-if-changed=build.rs\"); }\n",
    )
    .unwrap();
    let rebuilt = check_phase(dir, &flow);
    assert!(!rebuilt.rules[0].cached && rebuilt.passed, "{rebuilt:?}");

    // Ignored files do not count: build output and .gitignore'd paths.
    std::fs::write(dir.join("notes.log"), "x").unwrap();
    std::fs::write(dir.join(".gitignore"), "/target\n*.log\n").unwrap();
    assert!(
        !check_phase(dir, &flow).rules[0].cached,
        ".gitignore itself is an input"
    );
    std::fs::write(dir.join("notes.log"), "y").unwrap();
    assert!(
        check_phase(dir, &flow).rules[0].cached,
        "an ignored file changed nothing"
    );
}

#[test]
fn the_cache_reruns_when_a_pytest_data_file_changes() {
    let ws = Workspace::new()
        .file(
            "tests/test_data.py",
            "from pathlib import Path\n\ndef test_data():\n    assert (Path(__file__).parent / 'data.txt').read_text().strip() == 'ok'\n",
        )
        .file("tests/data.txt", "ok\n")
        .grant("python3")
        .build();
    let dir = ws.path();
    let flow = one_phase("        - rule: test\n          config: { runner: pytest }\n");
    assert!(check_phase(dir, &flow).passed);
    assert!(check_phase(dir, &flow).rules[0].cached);
    std::fs::write(dir.join("tests/data.txt"), "no\n").unwrap();
    let changed = check_phase(dir, &flow);
    assert!(!changed.rules[0].cached && !changed.passed, "{changed:?}");
}

#[test]
fn a_new_toolchain_runs_the_check_again() {
    let ws = rust_crate()
        .workflow("id: build-it\nversion: 0.1.0\nname: T\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: compile\n          config: { toolchain: cargo }\n")
        .build();
    let dir = ws.path();
    // A cargo of its own on PATH: "upgrading" it replaces the file.
    let real = Command::new("sh")
        .args(["-c", "command -v cargo"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_owned();
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("cargo");
    let install = |version: &str| {
        std::fs::write(
            &fake,
            format!("#!/bin/sh\n# toolchain {version}\nexec {real} \"$@\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    install("1.0");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let check = || {
        let out = Cli::new(&["check", "--workflow", "build-it", "--phase", "p", "--json"])
            .workspace(dir)
            .env("PATH", &path)
            .output();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(report["passed"], true, "{report}");
        report["rules"][0]["cached"].as_bool().unwrap()
    };
    assert!(!check());
    assert!(check(), "same toolchain, same files: reused");
    install("2.0");
    assert!(!check(), "a changed toolchain must run the rule again");
}

#[test]
fn an_ignored_judging_file_still_changes_the_cached_answer() {
    // `.checkrail/` is ignored by the project, yet the allow-list in it
    // changes how the security rule judges: editing it must not let a
    // cached answer stand.
    let ws = Workspace::new()
        .file(".gitignore", ".checkrail/\n")
        .file(
            "config.py",
            format!(
                "TOKEN = \"{}{}\"\n",
                "ghp_", "x7Rk2Lq9Zt4Wm8Nc3Vb6Hs1Jd5Fg0Py2Ea7Q"
            ),
        )
        .file(".checkrail/secrets-allow", "config.py\n")
        .build();
    let workflow = one_phase("        - rule: security\n          config: {}\n");
    let first = check_phase(ws.path(), &workflow);
    assert!(first.passed, "allowed: {first:#?}");
    assert!(
        check_phase(ws.path(), &workflow).rules[0].cached,
        "unchanged: cached"
    );
    std::fs::write(
        ws.path().join(".checkrail/secrets-allow"),
        "# nothing allowed\n",
    )
    .unwrap();
    let second = check_phase(ws.path(), &workflow);
    assert!(
        !second.rules[0].cached,
        "the allow-list changed: {second:#?}"
    );
    assert!(!second.passed, "{second:#?}");
}
