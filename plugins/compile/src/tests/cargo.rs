//! `toolchain: cargo`: type errors and warnings at their place, a crate in a
//! subdirectory, the grant it needs, a failure without diagnostics.

use super::*;

#[test]
fn cargo_type_error_blocks_and_the_fix_turns_it_green_with_a_warning() {
    require("cargo", "Rust (https://rustup.rs)");
    let ws = TestWorkspace::new().unwrap();
    ws.write("Cargo.toml", MANIFEST).unwrap();
    ws.write(
        "src/lib.rs",
        "pub fn f() -> u32 {\n    let unused = 5;\n    let x: u32 = \"a\";\n    x\n}\n",
    )
    .unwrap();
    let config = json!({"toolchain": "cargo"});
    let out = ws
        .run_granting::<Compile>(config.clone(), &["cargo"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let error = by_code(&out, "E0308");
    assert_eq!(error.severity, Severity::Error);
    assert_eq!(error.path.as_deref(), Some("src/lib.rs"));
    assert_eq!((error.line, error.column), (Some(3), Some(18)));
    assert!(error.message.starts_with("mismatched types"), "{error:?}");
    assert!(
        error
            .fix_hint
            .as_deref()
            .unwrap()
            .contains("rustc --explain E0308"),
        "{error:?}"
    );
    assert_eq!(out.summary, "1 error in cargo build");

    // Fixed: only the unused variable is left, and it does not block.
    ws.write(
        "src/lib.rs",
        "pub fn f() -> u32 {\n    let unused = 5;\n    let x: u32 = 1;\n    x\n}\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Compile>(config.clone(), &["cargo"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
    let warning = by_code(&out, "unused_variables");
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(warning.path.as_deref(), Some("src/lib.rs"));
    assert_eq!((warning.line, warning.column), (Some(2), Some(9)));
    assert_eq!(
        warning.fix_hint.as_deref(),
        Some(
            "if this is intentional, prefix it with an underscore: replace `unused` with `_unused`"
        )
    );
    assert_eq!(out.summary, "1 warning in cargo build");

    // With warnings_block, the same warning blocks.
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "cargo", "warnings_block": true}),
            &["cargo"],
        )
        .unwrap();
    assert!(!out.passed);
    assert_eq!(by_code(&out, "unused_variables").severity, Severity::Error);
    assert_eq!(out.summary, "1 error in cargo build (warnings block)");

    // Clean code: green with no findings.
    ws.write("src/lib.rs", "pub fn f() -> u32 {\n    1\n}\n")
        .unwrap();
    let out = ws.run_granting::<Compile>(config, &["cargo"]).unwrap();
    assert!(out.passed && out.findings.is_empty(), "{out:#?}");
    assert_eq!(out.summary, "cargo build: no errors or warnings");
}

#[test]
fn cargo_in_a_subdirectory_reports_workspace_relative_paths() {
    require("cargo", "Rust (https://rustup.rs)");
    let ws = TestWorkspace::new().unwrap();
    ws.write("rust/Cargo.toml", MANIFEST).unwrap();
    ws.write("rust/src/main.rs", "fn main() {\n    let y = z;\n}\n")
        .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "cargo", "cwd": "rust"}), &["cargo"])
        .unwrap();
    assert!(!out.passed);
    let error = by_code(&out, "E0425");
    assert_eq!(error.path.as_deref(), Some("rust/src/main.rs"));
    assert_eq!((error.line, error.column), (Some(2), Some(13)));
}

#[test]
fn cargo_not_granted_is_a_failing_finding_naming_checkrail_toml() {
    let ws = TestWorkspace::new().unwrap();
    ws.write("Cargo.toml", MANIFEST).unwrap();
    ws.write("src/lib.rs", "pub fn f() {}\n").unwrap();
    let out = ws.run::<Compile>(json!({"toolchain": "cargo"})).unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["exec-not-granted"]);
    let hint = out.findings[0].fix_hint.as_deref().unwrap();
    assert!(hint.contains("checkrail.toml"), "{hint}");
    assert!(hint.contains("\"cargo\""), "{hint}");
    assert!(out.summary.contains("not granted"), "{}", out.summary);
}

#[test]
fn cargo_failing_without_diagnostics_quotes_its_output() {
    require("cargo", "Rust (https://rustup.rs)");
    let ws = TestWorkspace::new().unwrap();
    ws.write("Cargo.toml", "[package\nname = \"broken\"\n")
        .unwrap();
    ws.write("src/lib.rs", "pub fn f() {}\n").unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "cargo"}), &["cargo"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let failure = by_code(&out, "tool-failed");
    assert!(
        failure.message.contains("exit code 101") && failure.message.contains("Cargo.toml"),
        "{failure:?}"
    );
    assert!(
        failure
            .fix_hint
            .as_deref()
            .unwrap()
            .starts_with("fix what the output reports (first: `error:"),
        "{failure:?}"
    );
}
