//! `toolchain: python`: syntax errors at their file and line, virtual
//! environments skipped, no files is no pass.

use super::*;

#[test]
fn python_syntax_errors_at_their_file_and_line_and_venvs_are_skipped() {
    require("python3", "Python 3");
    let ws = TestWorkspace::new().unwrap();
    ws.write("app/main.py", "import os\n\nprint(os.name)\n")
        .unwrap();
    ws.write(
        "app/broken.py",
        "def f():\n    return 1\n\ndef g(:\n    pass\n",
    )
    .unwrap();
    ws.write("app/indent.py", "def f():\nreturn 1\n").unwrap();
    ws.write(".venv/lib/bad.py", "this is not python\n")
        .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "python"}), &["python3"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.findings.len(), 2, "{out:#?}");
    let syntax = by_code(&out, "SyntaxError");
    assert_eq!(syntax.path.as_deref(), Some("app/broken.py"));
    assert_eq!(syntax.line, Some(4));
    assert!(
        syntax.fix_hint.as_deref().unwrap().contains("def g(:"),
        "{syntax:?}"
    );
    let indent = by_code(&out, "IndentationError");
    assert_eq!(
        (indent.path.as_deref(), indent.line),
        (Some("app/indent.py"), Some(2))
    );
    assert_eq!(out.summary, "2 errors in python3 compile() of 3 files");
    // Nothing was written next to the sources.
    assert!(!ws.path().join("app/__pycache__").exists());

    // Fixed, and with `cwd` + `files` relative to it.
    ws.write("app/broken.py", "def g():\n    pass\n").unwrap();
    ws.write("app/indent.py", "def f():\n    return 1\n")
        .unwrap();
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "python", "cwd": "app", "files": ["*.py"]}),
            &["python3"],
        )
        .unwrap();
    assert!(out.passed && out.findings.is_empty(), "{out:#?}");
    assert_eq!(
        out.summary,
        "python3 compile() of 3 files: no errors or warnings"
    );
}

#[test]
fn python_with_no_files_does_not_pass() {
    let ws = TestWorkspace::new().unwrap();
    ws.write("venv/x.py", "x = 1\n").unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "python"}), &["python3"])
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["no-files"]);
}
