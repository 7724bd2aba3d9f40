//! `toolchain: auto`: the toolchain the workspace calls for, with the reason,
//! and a refusal to guess when its markers change.

use super::*;

#[test]
fn auto_picks_the_toolchain_the_workspace_calls_for_and_says_why() {
    require("cargo", "Rust (https://rustup.rs)");
    require("python3", "Python 3");
    let rust = TestWorkspace::new().unwrap();
    rust.write("Cargo.toml", MANIFEST).unwrap();
    rust.write("src/lib.rs", "pub fn f() -> u32 { \"a\" }\n")
        .unwrap();
    let out = rust
        .run_granting::<Compile>(json!({"toolchain": "auto"}), &["cargo", "python3"])
        .unwrap();
    let note = by_code(&out, "detected");
    assert!(
        note.message.contains("auto → cargo (found Cargo.toml"),
        "{note:?}"
    );
    assert_eq!(by_code(&out, "E0308").path.as_deref(), Some("src/lib.rs"));

    let python = TestWorkspace::new().unwrap();
    python.write("app/main.py", "def broken(:\n").unwrap();
    let out = python
        .run_granting::<Compile>(json!({"toolchain": "auto"}), &["cargo", "python3"])
        .unwrap();
    assert!(!out.passed);
    assert!(
        by_code(&out, "detected")
            .message
            .contains("auto → python (found Python sources (`app/main.py`)"),
        "{out:#?}"
    );

    let js = TestWorkspace::new().unwrap();
    js.write("package.json", "{}").unwrap();
    let err = js
        .run_granting::<Compile>(json!({"toolchain": "auto"}), &["cargo"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("found package.json: a JavaScript project"),
        "{err}"
    );

    let empty = TestWorkspace::new().unwrap();
    empty.write("notes.txt", "hi").unwrap();
    let err = empty
        .run_granting::<Compile>(json!({"toolchain": "auto"}), &["cargo"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("recognized no project in `.`"), "{err}");
}

#[test]
fn auto_refuses_to_guess_when_markers_are_added_or_removed() {
    require("python3", "Python 3");
    // An honest Python project compiles under auto.
    let ws = TestWorkspace::new().unwrap();
    ws.write("pyproject.toml", "[project]\nname = \"demo\"\n")
        .unwrap();
    ws.write("app/main.py", "def broken(:\n").unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "auto"}), &["python3", "go"])
        .unwrap();
    assert!(!out.passed, "the syntax error is caught: {out:#?}");
    // A go.mod added beside it would switch to a toolchain with nothing to
    // build; instead the check refuses to choose.
    ws.write("go.mod", "module demo\n").unwrap();
    let err = ws
        .run_granting::<Compile>(json!({"toolchain": "auto"}), &["python3", "go"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot choose") && err.contains("go.mod") && err.contains("pyproject.toml"),
        "{err}"
    );
    // A crate whose Cargo.toml was removed is not judged by its Python
    // scripts.
    let crate_ws = TestWorkspace::new().unwrap();
    crate_ws
        .write("src/lib.rs", "pub fn f() -> u32 { \"a\" }\n")
        .unwrap();
    crate_ws.write("scripts/gen.py", "print('ok')\n").unwrap();
    let err = crate_ws
        .run_granting::<Compile>(json!({"toolchain": "auto"}), &["python3", "cargo"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Rust sources") && err.contains("no Cargo.toml"),
        "{err}"
    );
}
