//! Native tests: real toolchains on small projects in a temporary workspace.
//! A missing toolchain fails the test with what to install.

use super::*;
use checkrail_sdk::serde_json::json;
use checkrail_sdk::testing::{
    TestWorkspace, codes, config_schema_of, finding as by_code, inputs_of, require_program,
};

fn require(program: &str, install: &str) {
    require_program(program, &format!("install {install} to run this test"));
}

const MANIFEST: &str =
    "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";

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

#[test]
fn custom_command_lines_become_findings() {
    require("sh", "a POSIX shell");
    let ws = TestWorkspace::new().unwrap();
    ws.write("src/a.c", "int a;\n").unwrap();
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "custom", "command": {"program": "sh", "args": ["-c", "echo src/a.c:3:5: error: boom; echo 'src/a.c:1: warning: meh [w1]' >&2; exit 1"]}}),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.findings.len(), 2, "{out:#?}");
    let boom = &out.findings[0];
    assert_eq!(boom.severity, Severity::Error);
    assert_eq!(boom.message, "boom");
    assert_eq!(
        (boom.path.as_deref(), boom.line, boom.column),
        (Some("src/a.c"), Some(3), Some(5))
    );
    assert!(
        boom.fix_hint
            .as_deref()
            .unwrap()
            .starts_with("fix the error at src/a.c:3:5 and run `sh -c 'echo src/a.c:3:5"),
        "{boom:?}"
    );
    let meh = by_code(&out, "w1");
    assert_eq!(meh.severity, Severity::Warning);

    // Not granted: refused with the fix, not run.
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "custom", "command": {"program": "sh", "args": ["-c", "true"]}}),
            &[],
        )
        .unwrap();
    assert_eq!(codes(&out), ["exec-not-granted"]);
}

#[test]
fn custom_command_failing_silently_does_not_pass() {
    require("sh", "a POSIX shell");
    let ws = TestWorkspace::new().unwrap();
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "custom", "command": {"program": "sh", "args": ["-c", "echo 'something broke' >&2; exit 3"]}}),
            &["sh"],
        )
        .unwrap();
    assert!(!out.passed);
    let failure = by_code(&out, "tool-failed");
    assert!(
        failure.message.contains("exit code 3") && failure.message.contains("something broke"),
        "{failure:?}"
    );

    // Only warnings and a non-zero exit: the warnings explain the exit.
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "custom", "command": {"program": "sh", "args": ["-c", "echo 'a.py:1: warning: style'; exit 1"]}}),
            &["sh"],
        )
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(out.findings.len(), 1);
}

#[test]
fn inputs_default_per_toolchain_and_can_be_overridden() {
    assert_eq!(
        inputs_of::<Compile>(json!({"toolchain": "cargo"})),
        ["**/*.rs", "**/Cargo.toml", "Cargo.lock"]
    );
    assert_eq!(
        inputs_of::<Compile>(json!({"toolchain": "cargo", "cwd": "rust"})),
        ["rust/**/*.rs", "rust/**/Cargo.toml", "rust/Cargo.lock"]
    );
    assert_eq!(
        inputs_of::<Compile>(json!({"toolchain": "python", "files": ["app/*.py"]})),
        ["app/*.py"]
    );
    assert_eq!(
        inputs_of::<Compile>(json!({"toolchain": "gcc", "cwd": "c"})),
        [
            "c/**/*.c",
            "c/**/*.cc",
            "c/**/*.cpp",
            "c/**/*.h",
            "c/**/*.hpp"
        ]
    );
    assert!(
        inputs_of::<Compile>(json!({"toolchain": "custom", "command": {"program": "make"}}))
            .is_empty()
    );
    assert_eq!(
        inputs_of::<Compile>(json!({"toolchain": "cargo", "inputs": ["src/**"]})),
        ["src/**"]
    );
}

#[test]
fn bad_configs_are_errors_that_say_what_to_change() {
    let ws = TestWorkspace::new().unwrap();
    let err = ws
        .run::<Compile>(json!({"toolchain": "cargo", "warnings_blocks": true}))
        .unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
    let err = ws
        .run::<Compile>(json!({"toolchain": "custom"}))
        .unwrap_err();
    assert!(err.to_string().contains("needs `command`"), "{err}");
    let err = ws
        .run::<Compile>(json!({"toolchain": "cargo", "files": ["*.rs"]}))
        .unwrap_err();
    assert!(
        err.to_string().contains("only applies to `python`"),
        "{err}"
    );
    let err = ws
        .run::<Compile>(json!({"toolchain": "gcc", "command": {"program": "make"}}))
        .unwrap_err();
    assert!(
        err.to_string().contains("only applies to `custom`"),
        "{err}"
    );
    let err = ws
        .run::<Compile>(json!({"toolchain": "python", "cwd": "../up"}))
        .unwrap_err();
    assert!(err.to_string().contains("outside the workspace"), "{err}");
    let err = ws
        .run::<Compile>(json!({"toolchain": "rustc"}))
        .unwrap_err();
    assert!(err.to_string().contains("unknown variant"), "{err}");
}

#[test]
fn schema_documents_every_field() {
    let schema = config_schema_of::<Compile>();
    let props = schema["properties"].as_object().unwrap();
    for field in [
        "toolchain",
        "cwd",
        "args",
        "files",
        "warnings_block",
        "command",
        "inputs",
    ] {
        assert!(
            props[field]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "`{field}` has no description: {}",
            props[field]
        );
    }
    assert_eq!(schema["additionalProperties"], json!(false));
    assert_eq!(schema["required"], json!(["toolchain"]));
}

#[test]
fn excluded_directories_unless_the_glob_names_them() {
    assert!(excluded(".venv/lib/x.py", "**/*.py"));
    assert!(excluded("a/target/x.c", "**/*.c"));
    assert!(!excluded("target/x.c", "target/*.c"));
    assert!(!excluded("src/venv_tools.py", "**/*.py"));
    assert!(!excluded("venv", "*"));
}

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

const TS_PACKAGE: &str = "{\"name\":\"demo\",\"version\":\"1.0.0\",\"private\":true}\n";
const TSCONFIG: &str = "{\"compilerOptions\":{\"strict\":true,\"target\":\"ES2022\",\"noEmit\":true},\"include\":[\"src\"]}\n";

#[test]
fn tsc_type_errors_at_their_file_line_and_column_then_green() {
    require(
        "tsc",
        "TypeScript 5 (`npm install --prefix ~/.cache/checkrail/node-tools typescript@5`, as scripts/test.sh does, with its node_modules/.bin on PATH)",
    );
    let ws = TestWorkspace::new().unwrap();
    ws.write("web/package.json", TS_PACKAGE).unwrap();
    ws.write("web/tsconfig.json", TSCONFIG).unwrap();
    ws.write(
        "web/src/calc.ts",
        "export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport const f: (a: number) => void = (a: string) => {};\nexport const bad = add(1, \"2\");\n",
    )
    .unwrap();
    let config = json!({"toolchain": "auto", "cwd": "web"});
    let out = ws
        .run_granting::<Compile>(config.clone(), &["tsc"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert!(
        by_code(&out, "detected").message.contains(
            "toolchain: auto → tsc (found web/package.json and tsconfig.json, a TypeScript project)"
        ),
        "{out:#?}"
    );
    let chain = by_code(&out, "TS2322");
    assert_eq!(
        (chain.path.as_deref(), chain.line, chain.column),
        (Some("web/src/calc.ts"), Some(5), Some(14))
    );
    assert!(
        chain
            .message
            .ends_with("Type 'number' is not assignable to type 'string'."),
        "the chain of reasons is kept: {chain:?}"
    );
    assert_eq!(
        chain.fix_hint.as_deref(),
        Some("fix the error at web/src/calc.ts:5:14 and type-check again")
    );
    let argument = by_code(&out, "TS2345");
    assert_eq!((argument.line, argument.column), (Some(6), Some(27)));
    assert_eq!(out.summary, "2 errors in tsc --noEmit");

    ws.write(
        "web/src/calc.ts",
        "export function add(a: number, b: number): number {\n  return a + b;\n}\n",
    )
    .unwrap();
    let out = ws.run_granting::<Compile>(config, &["tsc"]).unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["detected"]);
    // tsc reads what tsconfig includes, the package and the settings.
    let inputs = inputs_of::<Compile>(json!({"toolchain": "tsc", "cwd": "web"}));
    assert!(inputs.contains(&"web/**/*.ts".to_owned()), "{inputs:?}");
    assert!(
        inputs.contains(&"web/**/tsconfig*.json".to_owned()),
        "{inputs:?}"
    );
}

#[test]
fn tsc_without_a_tsconfig_says_so_and_a_broken_one_is_placed() {
    require(
        "tsc",
        "TypeScript 5 (`npm install --prefix ~/.cache/checkrail/node-tools typescript@5`, with its node_modules/.bin on PATH)",
    );
    let ws = TestWorkspace::new().unwrap();
    ws.write("package.json", TS_PACKAGE).unwrap();
    ws.write("src/a.ts", "export const a: number = 1;\n")
        .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "tsc"}), &["tsc"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["no-tsconfig"]);
    // Files on the command line need no tsconfig.
    let out = ws
        .run_granting::<Compile>(
            json!({"toolchain": "tsc", "args": ["--strict", "src/a.ts"]}),
            &["tsc"],
        )
        .unwrap();
    assert!(out.passed, "{out:#?}");
    // A tsconfig.json that does not parse is reported at its line.
    ws.write(
        "tsconfig.json",
        "{\"compilerOptions\": {\"strict\": true,, }}\n",
    )
    .unwrap();
    let out = ws
        .run_granting::<Compile>(json!({"toolchain": "tsc"}), &["tsc"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let broken = out
        .findings
        .iter()
        .find(|f| f.path.as_deref() == Some("tsconfig.json"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(broken.line, Some(1));
    assert!(broken.code.as_deref().is_some_and(|c| c.starts_with("TS")));
}

#[test]
fn every_toolchain_is_declared_with_its_program_and_settings() {
    let all = [
        Toolchain::Cargo,
        Toolchain::Python,
        Toolchain::Gcc,
        Toolchain::Clang,
        Toolchain::Go,
        Toolchain::Tsc,
        Toolchain::Custom,
    ];
    for toolchain in all {
        let compiler = compiler(toolchain).unwrap();
        let exec = format!("exec:{}", compiler.program());
        assert!(
            Compile::CAPABILITIES.contains(&exec.as_str()),
            "{toolchain:?}: {exec}"
        );
        for file in compiler.judging_files() {
            assert!(
                Compile::JUDGING_FILES.contains(file),
                "{toolchain:?}: {file}"
            );
        }
    }
    assert!(compiler(Toolchain::Auto).is_none());
}
