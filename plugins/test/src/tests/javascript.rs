//! The JavaScript runners: node's own, Jest and Vitest, naming tests by
//! file, block and title.

use super::*;

fn require_node_tool(program: &str) {
    require_program(
        program,
        "install Node.js, and Jest 30 and Vitest 3 into ~/.cache/checkrail/node-tools (`npm install --prefix ~/.cache/checkrail/node-tools jest@30 vitest@3`, as scripts/test.sh does), with its node_modules/.bin on PATH",
    );
}

const CLAMP: &str = "function clamp(v, lo, hi) {\n  if (v < lo) return lo;\n  return v;\n}\n\nmodule.exports = { clamp };\n";

/// node's runner: a failing test in a block, a passing one, a skip and a
/// todo, and a file that does not load.
const NODE_TESTS: &str = "const test = require(\"node:test\");\nconst assert = require(\"node:assert/strict\");\nconst { clamp } = require(\"../lib/clamp\");\n\ntest(\"keeps values inside\", () => {\n  assert.equal(clamp(5, 0, 10), 5);\n});\n\ntest.describe(\"upper bound\", () => {\n  test(\"clamps values above the maximum\", () => {\n    assert.equal(clamp(42, 0, 10), 10);\n  });\n});\n\ntest.skip(\"clamps NaN\", () => {});\ntest.todo(\"clamps infinities\");\n";

fn js_workspace(package: &str, files: &[(&str, &str)]) -> TestWorkspace {
    let ws = TestWorkspace::new().unwrap();
    ws.write("package.json", package).unwrap();
    ws.write("lib/clamp.js", CLAMP).unwrap();
    for (path, text) in files {
        ws.write(path, text).unwrap();
    }
    ws
}

#[test]
fn node_runner_names_places_skips_and_expected_failures() {
    require_node_tool("node");
    let ws = js_workspace(
        "{\"name\":\"clamp\"}",
        &[("test/clamp.test.js", NODE_TESTS)],
    );
    let out = ws
        .run_granting::<TestRule>(json!({"runner": "node"}), &["node"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.summary, "1 passed, 1 failed, 2 skipped (node --test)");
    let failed = with_code(&out, "test-failed");
    assert!(
        failed
            .message
            .starts_with("test `upper bound::clamps values above the maximum` failed: Expected values to be strictly equal:\n42 !== 10"),
        "{failed:?}"
    );
    assert_eq!(
        (failed.path.as_deref(), failed.line, failed.column),
        (Some("test/clamp.test.js"), Some(11), Some(12))
    );
    assert!(
        failed.fix_hint.as_deref().unwrap().starts_with(
            "reproduce with `node --test --test-name-pattern 'clamps values above the maximum'`"
        ),
        "{failed:?}"
    );

    // expect: fail, with the skipped test and a todo required too.
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "node", "expect": "fail",
                   "required": ["clamps values above the maximum", "clamps NaN", "clamps infinities"]}),
            &["node"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(
        codes(&out),
        [
            "expected-failure",
            "required-test-not-run",
            "required-test-not-run"
        ],
        "{out:#?}"
    );
    let todo = out
        .findings
        .iter()
        .find(|f| f.message.contains("clamps infinities"))
        .unwrap();
    assert!(todo.message.contains("was skipped (todo)"), "{todo:?}");

    // A test file that does not load: named by its file, and it is no
    // failure at run time.
    ws.write("test/broken.test.js", "require(\"../lib/missing\");\n")
        .unwrap();
    let out = ws
        .run_granting::<TestRule>(
            json!({"runner": "node", "expect": "fail", "required": ["keeps values inside"]}),
            &["node"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert!(codes(&out).contains(&"required-test-passed"), "{out:#?}");
    let broken = out
        .findings
        .iter()
        .find(|f| f.message.contains("test/broken.test.js"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(broken.code.as_deref(), Some("test-error"), "{broken:?}");
}

const JEST_TESTS: &str = "const { clamp } = require(\"../lib/clamp\");\n\ndescribe(\"clamp\", () => {\n  test(\"keeps values inside\", () => {\n    expect(clamp(5, 0, 10)).toBe(5);\n  });\n  test(\"clamps values above the maximum\", () => {\n    expect(clamp(42, 0, 10)).toBe(10);\n  });\n  test.skip(\"clamps NaN\", () => {});\n});\n";

#[test]
fn jest_and_vitest_name_tests_by_file_block_and_title() {
    require_node_tool("jest");
    require_node_tool("vitest");
    for (runner, package) in [
        ("jest", "{\"devDependencies\":{\"jest\":\"^30\"}}"),
        ("vitest", "{\"devDependencies\":{\"vitest\":\"^3\"}}"),
    ] {
        let ws = js_workspace(package, &[("__tests__/clamp.test.js", JEST_TESTS)]);
        let out = ws
            .run_granting::<TestRule>(
                json!({"runner": "auto", "required": ["clamp::clamps values above the maximum"]}),
                &[runner],
            )
            .unwrap();
        assert!(!out.passed, "{runner}: {out:#?}");
        let note = with_code(&out, "detected");
        assert!(
            note.message.contains(&format!(
                "runner: auto → {runner} (`package.json` names {runner} in `devDependencies`"
            )),
            "{note:?}"
        );
        let failed = with_code(&out, "required-test-failed");
        assert!(
            failed.message.starts_with(
                "required test `__tests__/clamp.test.js::clamp::clamps values above the maximum` failed"
            ),
            "{runner}: {failed:?}"
        );
        assert_eq!(
            (failed.path.as_deref(), failed.line),
            (Some("__tests__/clamp.test.js"), Some(8)),
            "{runner}: {failed:?}"
        );
        assert!(
            out.summary.starts_with("1 passed, 1 failed, 1 skipped"),
            "{runner}: {}",
            out.summary
        );
        let facts = out.facts_value().unwrap();
        assert_eq!(
            facts["tests"]["__tests__/clamp.test.js::clamp::clamps NaN"],
            json!("skipped"),
            "{runner}: {facts}"
        );
        // The required test's whole call is fingerprinted.
        assert!(
            facts["sources"]["__tests__/clamp.test.js::clamp::clamps values above the maximum"]
                .is_string(),
            "{runner}: {facts}"
        );

        ws.write(
            "lib/clamp.js",
            CLAMP.replace("  return v;\n", "  if (v > hi) return hi;\n  return v;\n"),
        )
        .unwrap();
        let out = ws
            .run_granting::<TestRule>(json!({"runner": runner}), &[runner])
            .unwrap();
        assert!(out.passed, "{runner}: {out:#?}");
        // Nothing but the scratch directory was written.
        assert!(!ws.path().join("node_modules").exists(), "{runner}");
    }
}
