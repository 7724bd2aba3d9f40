//! `toolchain: go`: build errors at their file and line, then green.

use super::*;

#[test]
fn go_build_errors_at_their_file_and_line_then_green() {
    require("go", "Go (Debian: golang-go)");
    let ws = TestWorkspace::new().unwrap();
    ws.write("go.mod", "module demo\n\ngo 1.19\n").unwrap();
    ws.write(
        "main.go",
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(undefinedName)\n}\n",
    )
    .unwrap();
    ws.write(
        "lib/lib.go",
        "package lib\n\nfunc Add(a, b int) int { return a + b }\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "go"}), &["go"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let error = out
        .findings
        .iter()
        .find(|f| f.message.contains("undefined: undefinedName"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(error.path.as_deref(), Some("main.go"));
    assert_eq!((error.line, error.column), (Some(6), Some(14)));
    assert!(!ws.path().join("demo").exists(), "no binary is left behind");

    ws.write(
        "main.go",
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(1)\n}\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "auto"}), &["go"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert!(
        by_code(&out, "detected")
            .message
            .contains("auto → go (found go.mod, a Go project)")
    );
}
