//! The rule's config and what it asks of the host: its schema, the inputs
//! per runner, the grant a runner needs, and `runner: auto`.

use super::*;

#[test]
fn config_is_checked() {
    let ws = TestWorkspace::new().unwrap();
    let err = ws.run::<TestRule>(json!({"runner": "custom"})).unwrap_err();
    assert!(err.to_string().contains("needs `command`"), "{err}");
    let err = ws
        .run::<TestRule>(json!({"runner": "cargo", "report": "x.xml"}))
        .unwrap_err();
    assert!(
        err.to_string().contains("only to `runner: custom`"),
        "{err}"
    );
    let err = ws
        .run::<TestRule>(json!({"runner": "cargo", "requird": ["x"]}))
        .unwrap_err();
    assert!(err.to_string().contains("unknown field `requird`"), "{err}");
    let err = ws
        .run::<TestRule>(json!({"runner": "cargo", "cwd": "../x"}))
        .unwrap_err();
    assert!(err.to_string().contains("outside the workspace"), "{err}");

    let schema = config_schema_of::<TestRule>();
    let properties = schema["properties"].as_object().unwrap();
    for (name, property) in properties {
        assert!(
            property.get("description").is_some(),
            "config field `{name}` has no description"
        );
    }
    assert_eq!(schema["additionalProperties"], json!(false));
    assert_eq!(schema["required"], json!(["runner"]));
}

#[test]
fn inputs_per_runner() {
    assert_eq!(
        inputs_of::<TestRule>(json!({"runner": "cargo"})),
        ["**/*.rs", "**/Cargo.toml", "Cargo.lock"]
    );
    assert_eq!(
        inputs_of::<TestRule>(json!({"runner": "pytest", "cwd": "py"})),
        [
            "**/*.py",
            "pytest.ini",
            "py/pytest.ini",
            "pyproject.toml",
            "py/pyproject.toml",
            "setup.cfg",
            "py/setup.cfg",
            "conftest.py",
            "py/conftest.py"
        ]
    );
    assert!(
        inputs_of::<TestRule>(
            json!({"runner": "custom", "command": {"program": "make"}, "report": "r.xml"})
        )
        .is_empty()
    );
    assert_eq!(
        inputs_of::<TestRule>(json!({"runner": "cargo", "inputs": ["src/**"]})),
        ["src/**"]
    );
}

#[test]
fn no_grant_is_a_finding_naming_the_fix() {
    let (ws, _) = rust_workspace(FIXED, &[]);
    let out = ws.run::<TestRule>(json!({"runner": "cargo"})).unwrap();
    assert!(!out.passed);
    assert_eq!(codes(&out), ["exec-not-granted"]);
    assert_eq!(
        out.summary,
        "`cargo` did not run: it is not granted in checkrail.toml"
    );
    assert!(
        out.findings[0]
            .fix_hint
            .as_deref()
            .unwrap()
            .contains("allow = [\"cargo\"]")
    );
    let out = ws.run::<TestRule>(json!({"runner": "pytest"})).unwrap();
    assert_eq!(codes(&out), ["exec-not-granted"]);
}

#[test]
fn auto_runs_cargo_for_a_crate_and_says_why() {
    let (ws, _) = rust_workspace(BUGGY, &[]);
    let out = run_cargo_rule(&ws, json!({"runner": "auto"}));
    assert!(!out.passed, "{out:#?}");
    assert_eq!(out.summary, "1 passed, 1 failed, 1 ignored (cargo test)");
    let note = with_code(&out, "detected");
    assert!(
        note.message
            .contains("runner: auto → cargo (found Cargo.toml, a Rust project)"),
        "{note:?}"
    );
    let empty = TestWorkspace::new().unwrap();
    let err = empty
        .run_granting::<TestRule>(json!({"runner": "auto"}), &["cargo"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`runner: auto` recognized no project"),
        "{err}"
    );
    // A JavaScript package gets node's runner, which must be granted too.
    let js = TestWorkspace::new().unwrap();
    js.write("package.json", "{}").unwrap();
    let out = js
        .run_granting::<TestRule>(json!({"runner": "auto"}), &["cargo"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    assert!(
        with_code(&out, "detected").message.contains(
            "runner: auto → node --test (`package.json` names neither jest nor vitest, a JavaScript project)"
        ),
        "{out:#?}"
    );
    with_code(&out, "exec-not-granted");
}
