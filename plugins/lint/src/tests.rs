//! Native tests against the real tools (cargo/clippy, ruff, sh).

use super::*;
use checkrail_sdk::serde_json::json;
use checkrail_sdk::testing::{TestWorkspace, codes, config_schema_of, inputs_of, require_program};

mod since;

fn require_ruff() {
    require_program(
        "ruff",
        "install it (`pip install ruff`) and run the tests with it first on PATH (scripts/test.sh does this)",
    );
}

fn require_cargo() {
    require_program(
        "cargo",
        "install Rust with clippy (`rustup component add clippy`)",
    );
}

const MANIFEST: &str =
    "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";
const NEEDLESS_RETURN: &str = "pub fn f(x: i32) -> i32 {\n    return x + 1;\n}\n";

fn crate_ws(lib: &str) -> TestWorkspace {
    let ws = TestWorkspace::new().unwrap();
    ws.write("Cargo.toml", MANIFEST).unwrap();
    ws.write("src/lib.rs", lib).unwrap();
    ws
}

#[test]
fn clippy_warnings_report_block_by_config_and_clear_when_fixed() {
    require_cargo();
    let ws = crate_ws(NEEDLESS_RETURN);

    // A warn-level lint: reported where it is, but does not block.
    let out = ws
        .run_granting::<Lint>(json!({"linter": "clippy"}), &["cargo"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(out.summary, "cargo clippy: 1 warning");
    let f = &out.findings[0];
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.code.as_deref(), Some("clippy::needless_return"));
    assert_eq!(
        (f.path.as_deref(), f.line, f.column),
        (Some("src/lib.rs"), Some(2), Some(5))
    );
    assert!(f.message.contains("unneeded `return` statement"), "{f:?}");
    let hint = f.fix_hint.as_deref().unwrap();
    assert!(
        hint.contains("remove `return`") && hint.contains("with `x + 1`"),
        "{hint}"
    );

    // `max_warnings: 0`: the same warning now fails the check.
    let out = ws
        .run_granting::<Lint>(json!({"linter": "clippy", "max_warnings": 0}), &["cargo"])
        .unwrap();
    assert!(!out.passed);
    assert_eq!(
        codes(&out),
        ["clippy::needless_return", "too-many-warnings"]
    );
    assert_eq!(
        out.findings[1].message,
        "cargo clippy reported 1 non-blocking finding but `max_warnings` allows at most 0"
    );
    let out = ws
        .run_granting::<Lint>(json!({"linter": "clippy", "max_warnings": 1}), &["cargo"])
        .unwrap();
    assert!(out.passed, "{out:#?}");

    // `block_levels` with `warning`: every warning blocks.
    let out = ws
        .run_granting::<Lint>(
            json!({"linter": "clippy", "block_levels": ["error", "warning"]}),
            &["cargo"],
        )
        .unwrap();
    assert!(!out.passed);
    assert_eq!(out.findings.len(), 1, "{out:#?}");
    assert_eq!(out.findings[0].severity, Severity::Error);
    assert_eq!(out.summary, "cargo clippy: 1 error");

    // Fixed: green.
    ws.write("src/lib.rs", "pub fn f(x: i32) -> i32 {\n    x + 1\n}\n")
        .unwrap();
    let out = ws
        .run_granting::<Lint>(
            json!({"linter": "clippy", "max_warnings": 0, "args": ["--all-targets"]}),
            &["cargo"],
        )
        .unwrap();
    assert!(out.passed && out.findings.is_empty(), "{out:#?}");
    assert_eq!(out.summary, "cargo clippy: no problems found");
}

#[test]
fn clippy_deny_level_lints_block_once_despite_several_targets() {
    require_cargo();
    let ws = crate_ws(&format!(
        "#![deny(clippy::needless_return)]\n{NEEDLESS_RETURN}\n#[cfg(test)]\nmod tests {{\n    #[test]\n    fn t() {{\n        let unused = 1;\n    }}\n}}\n"
    ));
    ws.write("sub/.keep", "").unwrap();
    let out = ws
        .run_granting::<Lint>(
            json!({"linter": "clippy", "args": ["--all-targets"]}),
            &["cargo"],
        )
        .unwrap();
    assert!(!out.passed);
    let f = out
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("clippy::needless_return"))
        .unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert_eq!((f.path.as_deref(), f.line), (Some("src/lib.rs"), Some(3)));
    let needless = codes(&out)
        .iter()
        .filter(|c| **c == "clippy::needless_return")
        .count();
    assert_eq!(needless, 1, "deduplicated: {out:#?}");
    assert!(codes(&out).contains(&"unused_variables"), "{out:#?}");
    assert!(!codes(&out).contains(&"tool-failed"), "{out:#?}");
}

#[test]
fn clippy_compile_errors_and_a_broken_manifest_fail() {
    require_cargo();
    let ws = crate_ws("pub fn g() {\n    let _y: i32 = \"s\";\n}\n");
    let out = ws
        .run_granting::<Lint>(json!({"linter": "clippy"}), &["cargo"])
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["E0308"], "{out:#?}");
    let f = &out.findings[0];
    assert_eq!((f.path.as_deref(), f.line), (Some("src/lib.rs"), Some(2)));
    assert!(f.message.contains("expected `i32`, found `&str`"), "{f:?}");
    assert!(
        f.fix_hint
            .as_deref()
            .unwrap()
            .contains("rustc --explain E0308")
    );

    // cargo itself fails: no diagnostics, but the check still fails, quoting it.
    ws.write("Cargo.toml", "[package\nname = ").unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "clippy"}), &["cargo"])
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["tool-failed"]);
    assert!(
        out.findings[0].message.contains("Cargo.toml"),
        "{:?}",
        out.findings[0]
    );
}

#[test]
fn clippy_in_a_subdirectory_reports_workspace_paths() {
    require_cargo();
    let ws = TestWorkspace::new().unwrap();
    ws.write("rust/Cargo.toml", MANIFEST).unwrap();
    ws.write("rust/src/lib.rs", NEEDLESS_RETURN).unwrap();
    let config = json!({"linter": "clippy", "cwd": "rust"});
    let out = ws.run_granting::<Lint>(config.clone(), &["cargo"]).unwrap();
    assert_eq!(
        out.findings[0].path.as_deref(),
        Some("rust/src/lib.rs"),
        "{out:#?}"
    );
    assert!(inputs_of::<Lint>(config).contains(&"rust/Cargo.lock".to_owned()));
}

#[test]
fn nothing_granted_is_a_finding_not_a_pass() {
    let ws = crate_ws(NEEDLESS_RETURN);
    for config in [
        json!({"linter": "clippy"}),
        json!({"linter": "ruff"}),
        json!({"linter": "custom", "command": {"program": "sh", "args": ["-c", "true"]}}),
    ] {
        let out = ws.run::<Lint>(config).unwrap();
        assert!(!out.passed);
        assert_eq!(codes(&out), ["exec-not-granted"]);
        assert!(
            out.summary
                .ends_with("did not run: it is not granted in checkrail.toml"),
            "{}",
            out.summary
        );
        assert!(
            out.findings[0]
                .fix_hint
                .as_deref()
                .unwrap()
                .contains("allow = ["),
            "{out:#?}"
        );
    }
}

#[test]
fn ruff_reports_violations_at_workspace_paths() {
    require_ruff();
    let ws = TestWorkspace::new().unwrap();
    ws.write(
        "app/pkg/mod.py",
        "import os\nimport sys\n\nprint(sys.argv)\n",
    )
    .unwrap();
    ws.write("app/ok.py", "print('hi')\n").unwrap();
    ws.write("pkg/mod.py", "print('same name, no problem')\n")
        .unwrap();

    let out = ws
        .run_granting::<Lint>(json!({"linter": "ruff"}), &["ruff"])
        .unwrap();
    assert!(out.passed, "warnings do not block by default: {out:#?}");
    assert_eq!(out.summary, "ruff: 1 warning");
    let f = &out.findings[0];
    assert_eq!(f.code.as_deref(), Some("F401"));
    assert_eq!(
        (f.path.as_deref(), f.line, f.column),
        (Some("app/pkg/mod.py"), Some(1), Some(8))
    );
    let hint = f.fix_hint.as_deref().unwrap();
    assert!(hint.contains("Remove unused import: `os`"), "{hint}");
    assert!(
        hint.contains("https://docs.astral.sh/ruff/rules/unused-import"),
        "{hint}"
    );

    // Run inside `app`: paths stay workspace-relative.
    let out = ws
        .run_granting::<Lint>(json!({"linter": "ruff", "cwd": "app"}), &["ruff"])
        .unwrap();
    assert_eq!(out.findings[0].path.as_deref(), Some("app/pkg/mod.py"));

    // error_codes makes a code block; so does max_warnings: 0.
    let out = ws
        .run_granting::<Lint>(json!({"linter": "ruff", "error_codes": ["F4"]}), &["ruff"])
        .unwrap();
    assert!(!out.passed);
    assert_eq!(out.findings[0].severity, Severity::Error);
    let out = ws
        .run_granting::<Lint>(json!({"linter": "ruff", "max_warnings": 0}), &["ruff"])
        .unwrap();
    assert_eq!(codes(&out), ["F401", "too-many-warnings"]);

    // Fixed: green.
    ws.write("app/pkg/mod.py", "import sys\n\nprint(sys.argv)\n")
        .unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "ruff", "max_warnings": 0}), &["ruff"])
        .unwrap();
    assert!(out.passed && out.findings.is_empty(), "{out:#?}");
}

#[test]
fn ruff_syntax_errors_block_and_a_broken_config_fails() {
    require_ruff();
    let ws = TestWorkspace::new().unwrap();
    ws.write("bad.py", "def f(:\n    pass\n").unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "ruff"}), &["ruff"])
        .unwrap();
    assert!(!out.passed);
    assert!(
        codes(&out).iter().all(|c| *c == "invalid-syntax"),
        "{out:#?}"
    );
    assert_eq!(out.findings[0].path.as_deref(), Some("bad.py"));

    ws.write("bad.py", "x = 1\n").unwrap();
    ws.write("ruff.toml", "[lint\n").unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "ruff"}), &["ruff"])
        .unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["tool-failed"]);
    assert!(out.findings[0].message.contains("ruff.toml"), "{out:#?}");
}

#[test]
fn custom_command_lines_become_findings() {
    require_program("sh", "install a POSIX shell");
    let ws = TestWorkspace::new().unwrap();
    ws.write("src/a.txt", "one\ntwo\n").unwrap();
    let script = "echo 'checking...'; echo 'src/a.txt:2:3: X100 too loud'; \
                  echo 'src/a.txt:1: error: broken' >&2; echo 'gone.txt:4:1: old news'; exit 1";
    let config = json!({"linter": "custom", "command": {"program": "sh", "args": ["-c", script]}});
    let out = ws.run_granting::<Lint>(config.clone(), &["sh"]).unwrap();
    assert!(!out.passed, "the `error` line blocks");
    assert_eq!(out.summary, "`sh`: 1 error, 2 warnings");
    assert_eq!(codes(&out), ["X100", "-", "-"]);
    let [loud, gone, broken] = &out.findings[..] else {
        panic!("{out:#?}")
    };
    assert_eq!(
        (loud.path.as_deref(), loud.line, loud.column, loud.severity),
        (Some("src/a.txt"), Some(2), Some(3), Severity::Warning)
    );
    assert_eq!(loud.message, "too loud");
    assert_eq!(gone.path, None);
    assert_eq!(gone.message, "old news (at gone.txt:4:1)");
    assert_eq!(
        (broken.path.as_deref(), broken.line, broken.severity),
        (Some("src/a.txt"), Some(1), Severity::Error)
    );
    assert!(
        inputs_of::<Lint>(config).is_empty(),
        "custom is not cached by default"
    );

    // Non-zero exit with nothing to point at: a failure quoting the output.
    let config = json!({"linter": "custom", "command": {"program": "sh", "args": ["-c", "echo 'linter crashed' >&2; exit 3"]}});
    let out = ws.run_granting::<Lint>(config, &["sh"]).unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["tool-failed"]);
    assert!(
        out.findings[0].message.contains("exit code 3")
            && out.findings[0].message.contains("linter crashed"),
        "{out:#?}"
    );

    // Exit 0 and no lines: passes.
    let config =
        json!({"linter": "custom", "command": {"program": "sh"}, "args": ["-c", "echo all good"]});
    let out = ws.run_granting::<Lint>(config, &["sh"]).unwrap();
    assert!(out.passed && out.findings.is_empty(), "{out:#?}");
}

#[test]
fn config_mistakes_are_errors_and_inputs_have_defaults() {
    let ws = TestWorkspace::new().unwrap();
    for (config, says) in [
        (json!({"linter": "custom"}), "needs `command:"),
        (
            json!({"linter": "ruff", "command": {"program": "x"}}),
            "only for `linter: custom`",
        ),
        (
            json!({"linter": "clippy", "error_codes": ["F"]}),
            "only for `linter: ruff`",
        ),
        (
            json!({"linter": "clippy", "cwd": "../x"}),
            "outside the workspace",
        ),
        (json!({"linter": "clippy", "bogus": 1}), "unknown field"),
        (json!({"linter": "pylint"}), "unknown variant"),
    ] {
        let err = ws.run::<Lint>(config).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    assert_eq!(
        inputs_of::<Lint>(json!({"linter": "ruff"})),
        [
            "**/*.py",
            "**/*.pyi",
            "**/pyproject.toml",
            "**/ruff.toml",
            "**/.ruff.toml"
        ]
    );
    assert!(inputs_of::<Lint>(json!({"linter": "clippy"})).contains(&"Cargo.lock".to_owned()));
    assert_eq!(
        inputs_of::<Lint>(json!({"linter": "clippy", "inputs": ["x/**"]})),
        ["x/**"]
    );
    let schema = config_schema_of::<Lint>().to_string();
    for field in ["max_warnings", "block_levels", "error_codes", "command"] {
        assert!(schema.contains(field), "{field}");
    }
    assert!(schema.contains("Most non-blocking findings"), "{schema}");
}

#[test]
fn auto_lints_python_with_ruff_and_says_why() {
    require_ruff();
    let ws = TestWorkspace::new().unwrap();
    ws.write(
        "pyproject.toml",
        "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    ws.write("app/mod.py", "import os\n").unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "auto"}), &["ruff", "cargo"])
        .unwrap();
    let f401 = out
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("F401"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(f401.path.as_deref(), Some("app/mod.py"));
    let note = out
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("detected"))
        .unwrap();
    assert!(
        note.message
            .contains("linter: auto → ruff (found pyproject.toml, a Python project)"),
        "{note:?}"
    );
}

#[test]
fn go_vet_reports_block_at_their_file_and_line() {
    require_program("go", "Go (Debian: golang-go)");
    let ws = TestWorkspace::new().unwrap();
    ws.write("go.mod", "module demo\n\ngo 1.19\n").unwrap();
    ws.write(
        "main.go",
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tname := \"x\"\n\tfmt.Printf(\"%d\\n\", name)\n}\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "auto"}), &["go"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let vet = out
        .findings
        .iter()
        .find(|f| {
            f.message
                .contains("Printf format %d has arg name of wrong type string")
        })
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(vet.path.as_deref(), Some("main.go"));
    assert_eq!((vet.line, vet.column), (Some(7), Some(2)));
    assert_eq!(vet.severity, Severity::Error);
    assert!(
        out.findings
            .iter()
            .any(|f| f.message.contains("linter: auto → go vet (found go.mod"))
    );

    ws.write(
        "main.go",
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Printf(\"%s\\n\", \"x\")\n}\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "govet"}), &["go"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
}

#[test]
fn mypy_type_errors_block_at_their_file_line_and_column() {
    require_program(
        "mypy",
        "install it (`pip install mypy`) and run the tests with it first on PATH (scripts/test.sh does this)",
    );
    let ws = TestWorkspace::new().unwrap();
    ws.write(
        "pkg/calc.py",
        "def add(a: int, b: int) -> int:\n    return a + b\n\n\ntotal: str = add(1, 2)\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "mypy"}), &["mypy"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let f = out
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("assignment"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(
        (f.path.as_deref(), f.line, f.column),
        (Some("pkg/calc.py"), Some(5), Some(14))
    );
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.starts_with("Incompatible types in assignment"),
        "{f:?}"
    );
    assert!(!ws.path().join(".mypy_cache").exists(), "nothing written");

    ws.write(
        "pkg/calc.py",
        "def add(a: int, b: int) -> int:\n    return a + b\n\n\ntotal: int = add(1, 2)\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "mypy"}), &["mypy"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
}

fn require_eslint() {
    require_program(
        "eslint",
        "install ESLint 9 (`npm install --prefix ~/.cache/checkrail/node-tools eslint@9`, as scripts/test.sh does) and put its node_modules/.bin on PATH",
    );
}

/// A flat config with its rules inline: it imports nothing, so it loads
/// without the project's own `node_modules`.
const ESLINT_CONFIG: &str = "export default [\n  {\n    files: [\"**/*.js\"],\n    languageOptions: { ecmaVersion: 2022, sourceType: \"module\", globals: { console: \"readonly\" } },\n    rules: { \"no-unused-vars\": \"error\", \"no-console\": \"warn\", eqeqeq: \"error\" },\n  },\n];\n";

fn eslint_ws() -> TestWorkspace {
    let ws = TestWorkspace::new().unwrap();
    ws.write("package.json", "{\"name\":\"demo\",\"type\":\"module\"}\n")
        .unwrap();
    ws.write("eslint.config.js", ESLINT_CONFIG).unwrap();
    ws
}

#[test]
fn eslint_errors_block_warnings_do_not_and_auto_picks_it() {
    require_eslint();
    let ws = eslint_ws();
    ws.write(
        "src/a.js",
        "const unused = 1;\nconsole.log(\"x\");\nexport function f(a) {\n  return a == 1;\n}\n",
    )
    .unwrap();
    ws.write("src/bad.js", "export const x = ;\n").unwrap();
    // A file in a scratch directory is never linted.
    ws.write(".checkrail/scratch/x/gen.js", "const zz = 1;\n")
        .unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "auto"}), &["eslint"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let at = |path: &str, line: u32| {
        out.findings
            .iter()
            .find(|f| f.path.as_deref() == Some(path) && f.line == Some(line))
            .unwrap_or_else(|| panic!("nothing at {path}:{line}: {out:#?}"))
    };
    let unused = at("src/a.js", 1);
    assert_eq!(
        (unused.severity, unused.column, unused.code.as_deref()),
        (Severity::Error, Some(7), Some("no-unused-vars"))
    );
    assert!(
        unused
            .fix_hint
            .as_deref()
            .is_some_and(|h| h.contains("Remove unused variable 'unused'.")),
        "{unused:?}"
    );
    let console = at("src/a.js", 2);
    assert_eq!(
        (console.severity, console.code.as_deref()),
        (Severity::Warning, Some("no-console"))
    );
    assert_eq!(at("src/a.js", 4).code.as_deref(), Some("eqeqeq"));
    let parse = at("src/bad.js", 1);
    assert_eq!((parse.severity, parse.column), (Severity::Error, Some(18)));
    assert!(parse.message.starts_with("Parsing error"), "{parse:?}");
    assert!(
        !out.findings.iter().any(|f| f
            .path
            .as_deref()
            .is_some_and(|p| p.starts_with(".checkrail"))),
        "{out:#?}"
    );
    assert_eq!(out.summary, "eslint: 3 errors, 1 warning");
    assert!(
        codes(&out).contains(&"detected")
            && out.findings.iter().any(|f| f
                .message
                .contains("linter: auto → eslint (found eslint.config.js, a JavaScript project)")),
        "{out:#?}"
    );

    // Fixed, with a warning left and one error silenced by a comment.
    ws.write(
        "src/a.js",
        "console.log(\"x\");\nexport function f(a) {\n  // eslint-disable-next-line eqeqeq\n  return a == 1;\n}\n",
    )
    .unwrap();
    ws.write("src/bad.js", "export const x = 1;\n").unwrap();
    let out = ws
        .run_granting::<Lint>(json!({"linter": "eslint"}), &["eslint"])
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(
        out.summary,
        "eslint: 1 warning (1 more silenced by `eslint-disable` comments)"
    );
    assert_eq!(
        out.facts_value(),
        Some(json!({"suppressions": {"src/a.js": {"eslint-disable-next-line eqeqeq": 1}}}))
    );
    let out = ws
        .run_granting::<Lint>(json!({"linter": "eslint", "max_warnings": 0}), &["eslint"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert!(codes(&out).contains(&"too-many-warnings"), "{out:#?}");
}

#[test]
fn eslint_without_a_config_fails_and_auto_says_what_is_missing() {
    require_eslint();
    let ws = TestWorkspace::new().unwrap();
    ws.write("package.json", "{\"name\":\"demo\"}\n").unwrap();
    ws.write("a.js", "const a = 1;\n").unwrap();
    let err = ws
        .run_granting::<Lint>(json!({"linter": "auto"}), &["eslint"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("found package.json, a JavaScript project, but no ESLint config"),
        "{err}"
    );
    let out = ws
        .run_granting::<Lint>(json!({"linter": "eslint"}), &["eslint"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let failed = out
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("tool-failed"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert!(
        failed.message.contains("couldn't find an eslint.config"),
        "{failed:?}"
    );
    assert!(
        inputs_of::<Lint>(json!({"linter": "eslint"})).contains(&"**/eslint.config.*".to_owned())
    );
}

#[test]
fn every_linter_is_declared_with_its_program_and_settings() {
    let all = [
        Linter::Clippy,
        Linter::Ruff,
        Linter::Govet,
        Linter::Mypy,
        Linter::Eslint,
        Linter::Custom,
    ];
    for linter in all {
        let tool = toolchain(linter).unwrap();
        let exec = format!("exec:{}", tool.program());
        assert!(
            Lint::CAPABILITIES.contains(&exec.as_str()),
            "{linter:?}: {exec}"
        );
        for file in tool.judging_files() {
            assert!(Lint::JUDGING_FILES.contains(file), "{linter:?}: {file}");
        }
    }
    assert!(toolchain(Linter::Auto).is_none());
}
