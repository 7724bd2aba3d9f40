//! The JavaScript and TypeScript toolchains through the host, with the
//! real tools on generated projects: `tsc` for the compile rule, ESLint for
//! the lint rule, node's test runner, Jest and Vitest for the test rule,
//! picked by `auto` from the project's files; findings at their file and
//! line; arguments that would run other code refused; and the bundled
//! `typescript-feature` and `javascript-bugfix` workflows walked end to end.
//!
//! The tools come from the prefix `scripts/test.sh` installs (its
//! `node_modules/.bin` on PATH); the projects have no `node_modules` of
//! their own, so their configs import nothing.

use checkrail::report::{CheckpointReport, RuleReport, RuleStatus};
use checkrail::session::Status;
use checkrail_sdk::{Finding, Severity};
use serde_json::json;

use crate::support::{Session, Workspace, check_phase, codes, one_phase, service};

fn require(program: &str) {
    checkrail_sdk::testing::require_program(
        program,
        "run scripts/test.sh once (it installs TypeScript, ESLint, Jest and Vitest into ~/.cache/checkrail/node-tools) and put that prefix's node_modules/.bin on PATH",
    );
}

fn run(dir: &std::path::Path, rules: &str) -> CheckpointReport {
    check_phase(dir, &one_phase(rules))
}

fn at<'a>(r: &'a RuleReport, path: &str, line: u32) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.path.as_deref() == Some(path) && f.line == Some(line))
        .unwrap_or_else(|| panic!("no finding at {path}:{line}: {r:#?}"))
}

fn with_code<'a>(r: &'a RuleReport, code: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.code.as_deref() == Some(code))
        .unwrap_or_else(|| panic!("no finding with code `{code}`: {r:#?}"))
}

/// An ESLint 9 flat config with its rules inline and no imports, for test
/// files that use the runners' globals.
const ESLINT_CONFIG: &str = r#"export default [
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { describe: "readonly", it: "readonly", test: "readonly", expect: "readonly", require: "readonly", module: "writable" },
    },
    rules: { "no-unused-vars": "error", "no-console": "warn", eqeqeq: "error" },
  },
];
"#;

const TS_PACKAGE: &str = r#"{
  "name": "calc",
  "version": "1.0.0",
  "private": true,
  "type": "module",
  "scripts": { "test": "vitest run", "lint": "eslint ." },
  "devDependencies": { "typescript": "^5", "eslint": "^9", "vitest": "^3" }
}
"#;

const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "strict": true,
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "Bundler",
    "allowImportingTsExtensions": true,
    "noEmit": true,
    "skipLibCheck": true
  },
  "include": ["src"]
}
"#;

const CALC_TS_BROKEN: &str = "export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function scale(value: number, factor: number): number {\n  const result: string = value * factor;\n  return Number(result);\n}\n";

const CALC_TS: &str = "export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function scale(value: number, factor: number): number {\n  return value * factor;\n}\n";

const CALC_TEST_BROKEN: &str = "import { add, scale } from \"../src/calc.ts\";\n\ndescribe(\"calc\", () => {\n  it(\"adds\", () => {\n    expect(add(2, 2)).toBe(4);\n  });\n  it(\"scales\", () => {\n    const unused = 1;\n    expect(scale(2, 3)).toBe(7);\n  });\n  it.skip(\"rounds\", () => {});\n});\n";

const CALC_TEST: &str = "import { add, scale } from \"../src/calc.ts\";\n\ndescribe(\"calc\", () => {\n  it(\"adds\", () => {\n    expect(add(2, 2)).toBe(4);\n  });\n  it(\"scales\", () => {\n    console.log(\"scaling\");\n    expect(scale(2, 3)).toBe(6);\n  });\n});\n";

/// A TypeScript package with its tsconfig, an ESLint config and Vitest
/// named in package.json; tsc, eslint and vitest granted.
fn typescript_project() -> Workspace {
    Workspace::new()
        .file("package.json", TS_PACKAGE)
        .file("tsconfig.json", TSCONFIG)
        .file("eslint.config.mjs", ESLINT_CONFIG)
        .grant("tsc")
        .grant("eslint")
        .grant("vitest")
}

#[test]
fn typescript_package_tsc_eslint_and_vitest_at_their_lines() {
    for program in ["tsc", "eslint", "vitest"] {
        require(program);
    }
    let ws = typescript_project()
        .file("src/calc.ts", CALC_TS_BROKEN)
        .file("test/calc.test.js", CALC_TEST_BROKEN)
        .build();
    let dir = ws.path();
    let rules = "        - rule: compile\n          config: { toolchain: auto }\n        - rule: lint\n          config: { linter: auto }\n        - rule: test\n          config: { runner: auto }\n";
    let report = run(dir, rules);
    assert!(!report.passed);

    // tsc: the type error at its line and column, TS code as the code.
    let compile = &report.rules[0];
    assert_eq!(compile.status, RuleStatus::Failed, "{compile:#?}");
    let error = at(compile, "src/calc.ts", 6);
    assert_eq!(
        (error.severity, error.column, error.code.as_deref()),
        (Severity::Error, Some(9), Some("TS2322"))
    );
    assert!(
        error
            .message
            .contains("Type 'number' is not assignable to type 'string'"),
        "{error:?}"
    );
    assert!(
        with_code(compile, "detected")
            .message
            .contains("toolchain: auto → tsc (found package.json and tsconfig.json"),
        "{compile:#?}"
    );

    // ESLint: severity 2 blocks, severity 1 does not; the rule id is the code.
    let lint = &report.rules[1];
    assert_eq!(lint.status, RuleStatus::Failed, "{lint:#?}");
    let unused = at(lint, "test/calc.test.js", 8);
    assert_eq!(
        (unused.severity, unused.column, unused.code.as_deref()),
        (Severity::Error, Some(11), Some("no-unused-vars"))
    );
    assert!(
        with_code(lint, "detected")
            .message
            .contains("linter: auto → eslint (found eslint.config.mjs"),
        "{lint:#?}"
    );

    // Vitest, told by package.json: the failing test named by file, block
    // and title, at the failing line; the skipped one counted.
    let test = &report.rules[2];
    assert_eq!(test.status, RuleStatus::Failed, "{test:#?}");
    let failing = test
        .findings
        .iter()
        .find(|f| f.message.contains("test/calc.test.js::calc::scales"))
        .unwrap_or_else(|| panic!("{test:#?}"));
    assert_eq!(
        (
            failing.path.as_deref(),
            failing.line,
            failing.code.as_deref()
        ),
        (Some("test/calc.test.js"), Some(9), Some("test-failed"))
    );
    assert!(
        failing.message.contains("expected 6 to be 7"),
        "{failing:?}"
    );
    assert!(
        with_code(test, "detected")
            .message
            .contains("runner: auto → vitest"),
        "{test:#?}"
    );
    assert!(test.summary.contains("1 skipped"), "{}", test.summary);

    // Fixed: all three pass; the console.log is a warning that does not block.
    std::fs::write(dir.join("src/calc.ts"), CALC_TS).unwrap();
    std::fs::write(dir.join("test/calc.test.js"), CALC_TEST).unwrap();
    let report = run(dir, rules);
    assert!(report.passed, "{:#?}", report.rules);
    let warning = at(&report.rules[1], "test/calc.test.js", 8);
    assert_eq!(
        (warning.severity, warning.code.as_deref()),
        (Severity::Warning, Some("no-console"))
    );
    assert!(
        report.rules[2].summary.starts_with("2 passed, 0 failed"),
        "{}",
        report.rules[2].summary
    );
    // Nothing was written into the project (reports went to scratch).
    assert!(!dir.join("node_modules").exists());
    assert!(!dir.join(".eslintcache").exists());
}

const CLAMP_JS: &str = "function clamp(v, lo, hi) {\n  if (v < lo) return lo;\n  return v;\n}\n\nmodule.exports = { clamp };\n";

const CLAMP_JEST: &str = "const { clamp } = require(\"../lib/clamp\");\n\ndescribe(\"clamp\", () => {\n  test(\"keeps values inside\", () => {\n    expect(clamp(5, 0, 10)).toBe(5);\n  });\n  test(\"clamps values above the maximum\", () => {\n    expect(clamp(42, 0, 10)).toBe(10);\n  });\n  test.skip(\"clamps NaN\", () => {});\n  test.todo(\"clamps infinities\");\n});\n";

#[test]
fn jest_runs_zero_config_with_required_skipped_and_missing_tests() {
    require("jest");
    let ws = Workspace::new()
        .file(
            "package.json",
            r#"{"name":"clamp","version":"1.0.0","devDependencies":{"jest":"^30"}}"#,
        )
        .file("lib/clamp.js", CLAMP_JS)
        .file("__tests__/clamp.test.js", CLAMP_JEST)
        .grant("jest")
        .build();
    let dir = ws.path();
    let rules = "        - rule: test\n          config: { runner: auto, required: [\"clamps values above the maximum\", \"clamps NaN\", \"clamps zero\"] }\n";
    let report = run(dir, rules);
    let r = &report.rules[0];
    assert_eq!(r.status, RuleStatus::Failed, "{r:#?}");
    assert!(
        with_code(r, "detected")
            .message
            .contains("runner: auto → jest (`package.json` names jest in `devDependencies`"),
        "{r:#?}"
    );
    let failed = with_code(r, "required-test-failed");
    assert!(
        failed
            .message
            .contains("__tests__/clamp.test.js::clamp::clamps values above the maximum"),
        "{failed:?}"
    );
    assert_eq!(
        (failed.path.as_deref(), failed.line),
        (Some("__tests__/clamp.test.js"), Some(8))
    );
    assert!(failed.message.contains("Received: 42"), "{failed:?}");
    let skipped = with_code(r, "required-test-not-run");
    assert!(skipped.message.contains("clamps NaN"), "{skipped:?}");
    assert_eq!(
        (skipped.path.as_deref(), skipped.line),
        (Some("__tests__/clamp.test.js"), Some(10))
    );
    assert!(
        with_code(r, "required-test-missing")
            .message
            .contains("clamps zero"),
        "{r:#?}"
    );
    assert!(
        r.summary.starts_with("1 passed, 1 failed, 2 skipped"),
        "{}",
        r.summary
    );
    // Jest's cache went to the scratch directory, which is gone.
    assert!(
        !dir.join(".checkrail/scratch").exists()
            || std::fs::read_dir(dir.join(".checkrail/scratch"))
                .unwrap()
                .next()
                .is_none()
    );

    // A test file that does not load is named, at its line, and is not a
    // test failing at run time.
    std::fs::write(
        dir.join("__tests__/broken.test.js"),
        "const { nope } = require(\"../lib/missing\");\ntest(\"never\", () => {});\n",
    )
    .unwrap();
    let report = run(
        dir,
        "        - rule: test\n          config: { runner: jest, expect: fail, required: [\"never\"] }\n",
    );
    let r = &report.rules[0];
    assert_eq!(r.status, RuleStatus::Failed, "{r:#?}");
    let not_run = with_code(r, "required-test-not-run");
    assert!(
        not_run.message.contains("__tests__/broken.test.js"),
        "{not_run:?}"
    );
    assert_eq!(not_run.path.as_deref(), Some("__tests__/broken.test.js"));
}

const NODE_TEST: &str = "const test = require(\"node:test\");\nconst assert = require(\"node:assert/strict\");\nconst { clamp } = require(\"../lib/clamp\");\n\ntest(\"keeps values inside\", () => {\n  assert.equal(clamp(5, 0, 10), 5);\n});\n\ntest.describe(\"upper bound\", () => {\n  test(\"clamps values above the maximum\", () => {\n    assert.equal(clamp(42, 0, 10), 10);\n  });\n});\n";

#[test]
fn node_test_runner_by_default_for_a_package_and_refusals_when_unsure() {
    require("node");
    let ws = Workspace::new()
        .file(
            "package.json",
            r#"{"name":"clamp","version":"1.0.0","scripts":{"test":"node --test"}}"#,
        )
        .file("lib/clamp.js", CLAMP_JS)
        .file("test/clamp.test.js", NODE_TEST)
        .grant("node")
        .grant("eslint")
        .build();
    let dir = ws.path();
    let report = run(
        dir,
        "        - rule: test\n          config: { runner: auto, expect: fail, required: [\"upper bound::clamps values above the maximum\"] }\n",
    );
    let r = &report.rules[0];
    assert_eq!(r.status, RuleStatus::Passed, "{r:#?}");
    assert!(
        with_code(r, "detected")
            .message
            .contains("runner: auto → node --test (`package.json` names neither jest nor vitest"),
        "{r:#?}"
    );
    let expected = with_code(r, "expected-failure");
    assert_eq!(
        (expected.path.as_deref(), expected.line),
        (Some("test/clamp.test.js"), Some(11))
    );
    assert!(expected.message.contains("42 !== 10"), "{expected:?}");

    // No ESLint config: `linter: auto` says so rather than guessing.
    let report = run(
        dir,
        "        - rule: lint\n          config: { linter: auto }\n",
    );
    let r = &report.rules[0];
    assert_eq!(r.status, RuleStatus::Error, "{r:#?}");
    assert!(
        r.summary.contains("eslint.config.js")
            || r.findings
                .iter()
                .any(|f| f.message.contains("eslint.config.js")),
        "{r:#?}"
    );

    // Jest named and a Vitest config present: refused, both named.
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"clamp","devDependencies":{"jest":"^30"}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("vitest.config.js"), "export default {};\n").unwrap();
    let report = run(
        dir,
        "        - rule: test\n          config: { runner: auto }\n",
    );
    let r = &report.rules[0];
    assert_eq!(r.status, RuleStatus::Error, "{r:#?}");
    let said = format!("{} {:?}", r.summary, r.findings);
    assert!(
        said.contains("cannot choose")
            && said.contains("jest")
            && said.contains("vitest.config.js"),
        "{r:#?}"
    );
}

#[test]
fn arguments_that_would_rewrite_or_run_other_code_are_refused() {
    require("eslint");
    let ws = Workspace::new()
        .file("package.json", r#"{"name":"x","type":"module"}"#)
        .file("eslint.config.js", ESLINT_CONFIG)
        .file("a.js", "const a = 1 == 2;\nexport { a };\n")
        .grant("eslint")
        .grant("vitest")
        .grant("node")
        .build();
    let dir = ws.path();
    let report = run(
        dir,
        "        - rule: lint\n          config: { linter: eslint, args: [\"--fix\"] }\n        - rule: test\n          config: { runner: node, args: [\"--require\", \"/tmp/elsewhere.js\"] }\n",
    );
    for r in &report.rules {
        assert_eq!(r.status, RuleStatus::Failed, "{r:#?}");
        let refusal = &r.findings[0];
        assert_eq!(refusal.code.as_deref(), Some("exec-not-granted"), "{r:#?}");
        let text = format!(
            "{} {}",
            refusal.message,
            refusal.fix_hint.as_deref().unwrap_or("")
        );
        assert!(text.contains("unchecked_args"), "{text}");
    }
    assert!(report.rules[0].findings[0].message.contains("--fix"));
    // The file is as it was: nothing was rewritten.
    assert_eq!(
        std::fs::read_to_string(dir.join("a.js")).unwrap(),
        "const a = 1 == 2;\nexport { a };\n"
    );
}

const NODE_BUGGY_TESTS: &str = "const test = require(\"node:test\");\nconst assert = require(\"node:assert/strict\");\nconst { clamp } = require(\"../lib/clamp\");\n\ntest(\"keeps values inside\", () => {\n  assert.equal(clamp(5, 0, 10), 5);\n});\n\ntest(\"keeps values below the minimum at it\", () => {\n  assert.equal(clamp(-3, 0, 10), 0);\n});\n";

const NODE_REGRESSION: &str = "\ntest(\"clamps values above the maximum\", () => {\n  assert.equal(clamp(42, 0, 10), 10);\n});\n";

#[test]
fn javascript_bugfix_walks_end_to_end_with_node_and_eslint() {
    require("node");
    require("eslint");
    let ws = Workspace::new()
        .file(
            "package.json",
            r#"{"name":"clamp","version":"1.0.0","scripts":{"test":"node --test","lint":"eslint ."}}"#,
        )
        .file(
            "eslint.config.js",
            ESLINT_CONFIG.replace("export default", "module.exports ="),
        )
        .file("lib/clamp.js", CLAMP_JS)
        .file("test/clamp.test.js", NODE_BUGGY_TESTS)
        .grant("node")
        .grant("eslint")
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start_with(
        &svc,
        "javascript-bugfix",
        &[("bug", "clamp(42, 0, 10) returns 42")],
    );
    let v = session.validate_with(json!({
        "root_cause": "clamp never compares the value with the upper bound",
        "test_name": "clamps values above the maximum"
    }));
    assert!(v.advanced, "{:?}", v.report);

    // No regression test yet.
    let v = session.validate();
    assert!(
        !v.passed && codes(&v).contains(&"required-test-missing".to_owned()),
        "{:?}",
        codes(&v)
    );
    // A skipped one does not count either.
    std::fs::write(
        dir.join("test/clamp.test.js"),
        format!(
            "{NODE_BUGGY_TESTS}{}",
            NODE_REGRESSION.replace("test(", "test.skip(")
        ),
    )
    .unwrap();
    let v = session.validate();
    assert!(
        !v.passed && codes(&v).contains(&"required-test-not-run".to_owned()),
        "{:?}",
        codes(&v)
    );
    // It runs and fails: the phase passes.
    std::fs::write(
        dir.join("test/clamp.test.js"),
        format!("{NODE_BUGGY_TESTS}{NODE_REGRESSION}"),
    )
    .unwrap();
    let v = session.validate();
    assert!(
        v.advanced,
        "the regression test fails before the fix: {:?}",
        v.report
    );

    // The fix phase names the failing test at its line until it is fixed.
    let v = session.validate();
    assert!(!v.passed);
    let report = v.report.unwrap();
    let failing = report.rules[0]
        .findings
        .iter()
        .find(|f| f.message.contains("clamps values above the maximum"))
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert_eq!(
        (failing.path.as_deref(), failing.line),
        (Some("test/clamp.test.js"), Some(14))
    );

    // Deleting a test that passed, and silencing ESLint, are both caught.
    let fixed = CLAMP_JS.replace(
        "  return v;\n",
        "  if (v > hi) return hi;\n  // eslint-disable-next-line eqeqeq\n  return v == v ? v : lo;\n",
    );
    std::fs::write(dir.join("lib/clamp.js"), &fixed).unwrap();
    std::fs::write(
        dir.join("test/clamp.test.js"),
        format!("{NODE_BUGGY_TESTS}{NODE_REGRESSION}").replace(
            "test(\"keeps values below the minimum at it\", () => {\n  assert.equal(clamp(-3, 0, 10), 0);\n});\n",
            "",
        ),
    )
    .unwrap();
    let v = session.validate();
    assert!(!v.passed);
    let codes = codes(&v);
    assert!(
        codes.contains(&"test-removed".to_owned()) && codes.contains(&"new-suppression".to_owned()),
        "{codes:?}"
    );
    let report = v.report.unwrap();
    let suppression = report.rules[1]
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("new-suppression"))
        .unwrap();
    assert_eq!(
        (suppression.path.as_deref(), suppression.line),
        (Some("lib/clamp.js"), Some(4))
    );

    // The honest fix passes and the workflow ends.
    std::fs::write(
        dir.join("lib/clamp.js"),
        CLAMP_JS.replace("  return v;\n", "  if (v > hi) return hi;\n  return v;\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("test/clamp.test.js"),
        format!("{NODE_BUGGY_TESTS}{NODE_REGRESSION}"),
    )
    .unwrap();
    let v = session.validate();
    assert!(v.advanced, "{:?}", v.report);
    assert_eq!(
        session.validate().standing.session.status,
        Status::Completed
    );
}

#[test]
fn typescript_feature_walks_end_to_end_with_tsc_eslint_and_vitest() {
    for program in ["tsc", "eslint", "vitest"] {
        require(program);
    }
    let ws = typescript_project()
        .file(
            "src/calc.ts",
            "export function add(a: number, b: number): number {\n  return a + b;\n}\n",
        )
        .file(
            "test/calc.test.js",
            "import { add } from \"../src/calc.ts\";\n\ntest(\"adds\", () => {\n  expect(add(2, 2)).toBe(4);\n});\n",
        )
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start_with(&svc, "typescript-feature", &[("feature", "scale numbers")]);
    let v = session.validate_with(json!({
        "plan": "add a scale function next to add, with its own vitest test",
        "tasks": [{"title": "scale"}]
    }));
    assert!(v.advanced, "{:?}", v.report);

    // The task: a type error blocks at its line.
    std::fs::write(dir.join("src/calc.ts"), CALC_TS_BROKEN).unwrap();
    std::fs::write(
        dir.join("test/calc.test.js"),
        "import { add, scale } from \"../src/calc.ts\";\n\ntest(\"adds\", () => {\n  expect(add(2, 2)).toBe(4);\n});\n\ntest(\"scales\", () => {\n  expect(scale(2, 3)).toBe(6);\n});\n",
    )
    .unwrap();
    let v = session.validate();
    assert!(!v.passed);
    let report = v.report.unwrap();
    let error = at(&report.rules[0], "src/calc.ts", 6);
    assert_eq!(error.code.as_deref(), Some("TS2322"));
    std::fs::write(dir.join("src/calc.ts"), CALC_TS).unwrap();
    let v = session.validate();
    assert!(v.advanced, "{:?}", v.report);

    // Final: a weakened ESLint config is a judging file changed mid-session.
    std::fs::write(
        dir.join("eslint.config.mjs"),
        ESLINT_CONFIG.replace(
            "\"no-unused-vars\": \"error\"",
            "\"no-unused-vars\": \"off\"",
        ),
    )
    .unwrap();
    let v = session.validate();
    assert!(!v.passed, "{:?}", v.report);
    let report = v.report.unwrap();
    assert!(
        report
            .rules
            .iter()
            .any(|r| r.rule == "checkrail/judging-files"
                && r.findings
                    .iter()
                    .any(|f| f.message.contains("eslint.config.mjs"))),
        "{report:#?}"
    );
    std::fs::write(dir.join("eslint.config.mjs"), ESLINT_CONFIG).unwrap();
    let v = session.validate();
    assert!(v.advanced, "{:?}", v.report);
    assert_eq!(
        session.validate().standing.session.status,
        Status::Completed
    );
}
