//! `runner: go`: `go test` failures named, placed and required, then green.

use super::*;

#[test]
fn go_failing_test_is_named_placed_and_required_then_green() {
    require_program("go", "install Go (Debian: golang-go) to run this test");
    let ws = TestWorkspace::new().unwrap();
    ws.write("go.mod", "module demo\n\ngo 1.19\n").unwrap();
    ws.write(
        "calc/calc.go",
        "package calc\n\nfunc Add(a, b int) int { return a + b + 1 }\n",
    )
    .unwrap();
    ws.write(
        "calc/calc_test.go",
        "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif got := Add(2, 2); got != 4 {\n\t\tt.Errorf(\"Add(2, 2) = %d, want 4\", got)\n\t}\n}\n\nfunc TestSkipped(t *testing.T) { t.Skip(\"later\") }\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "auto", "required": ["TestAdd"]}), &["go"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let failed = errors(&out)
        .into_iter()
        .find(|f| f.message.contains("demo/calc::TestAdd"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(failed.path.as_deref(), Some("calc/calc_test.go"));
    assert_eq!(failed.line, Some(7));
    assert!(
        failed.message.contains("Add(2, 2) = 5, want 4"),
        "{failed:?}"
    );
    assert!(
        with_code(&out, "detected")
            .message
            .contains("runner: auto → go test")
    );

    ws.write(
        "calc/calc.go",
        "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "go", "required": ["TestAdd"]}), &["go"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(out.summary, "1 passed, 0 failed, 1 skipped (go test)");

    // A test that does not compile: nothing ran, the error is placed.
    ws.write(
        "calc/calc.go",
        "package calc\n\nfunc Add(a, b int) int { return a + c }\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "go"}), &["go"])
        .unwrap();
    assert!(!out.passed);
    let error = errors(&out)
        .into_iter()
        .find(|f| f.message.contains("undefined: c"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(error.path.as_deref(), Some("calc/calc.go"));
}
