//! The rule's config: inputs per toolchain, errors that say what to change,
//! a schema that documents every field, excluded directories, and every
//! toolchain declared with its program.

use super::*;

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
