//! `toolchain: gcc`: errors and warnings at their file, line and column.

use super::*;

#[test]
fn gcc_errors_and_warnings_at_their_file_line_and_column() {
    require("gcc", "gcc (e.g. `apt-get install gcc`)");
    let ws = TestWorkspace::new().unwrap();
    ws.write("include/util.h", "int twice(int x);\n").unwrap();
    ws.write(
        "src/main.c",
        "#include \"util.h\"\n\nint main(void) {\n    int unused;\n    return twice(y);\n}\n",
    )
    .unwrap();
    ws.write("src/ok.c", "int ok(void) { return 0; }\n")
        .unwrap();
    ws.write("build/gen.c", "int gen(void) { return 0 }\n")
        .unwrap();
    ws.write("target/skip.c", "not c at all\n").unwrap();
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "gcc", "files": ["src/**/*.c"], "args": ["-Iinclude", "-Wall"]}),
            &["gcc"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let error = out
        .findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .unwrap();
    assert_eq!(error.path.as_deref(), Some("src/main.c"));
    assert_eq!((error.line, error.column), (Some(5), Some(18)));
    assert!(error.message.contains('y'), "{error:?}");
    let warning = by_code(&out, "-Wunused-variable");
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(
        (warning.path.as_deref(), warning.line, warning.column),
        (Some("src/main.c"), Some(4), Some(9))
    );
    assert_eq!(
        out.summary,
        "1 error, 1 warning in gcc -fsyntax-only on 2 files"
    );

    // Default files: every .c file outside target/, .git/, ...; the fix-it
    // for the missing `;` becomes the hint.
    ws.write(
        "src/main.c",
        "#include \"util.h\"\n\nint main(void) {\n    return twice(1);\n}\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "gcc", "args": ["-Iinclude"]}), &["gcc"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.findings.len(), 1, "{out:#?}");
    let error = &out.findings[0];
    assert_eq!(error.path.as_deref(), Some("build/gen.c"));
    assert_eq!(error.line, Some(1));
    assert_eq!(
        error.fix_hint.as_deref(),
        Some("insert `;` at line 1, column 25")
    );

    ws.write("build/gen.c", "int gen(void) { return 0; }\n")
        .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "gcc", "args": ["-Iinclude"]}), &["gcc"])
        .unwrap();
    assert!(out.passed && out.findings.is_empty(), "{out:#?}");
    assert_eq!(
        out.summary,
        "gcc -fsyntax-only on 3 files: no errors or warnings"
    );
}
