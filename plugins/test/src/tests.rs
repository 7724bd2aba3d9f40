//! Native tests against real tools: small cargo crates, Python packages,
//! Go modules and Node projects in temporary workspaces, one module per
//! runner. The crate and package fixtures more than one of them runs live
//! here.

use super::*;
use checkrail_sdk::serde_json::{Value, json};
use checkrail_sdk::testing::{
    TestWorkspace, codes, config_schema_of, finding as with_code, inputs_of, require_program,
};

mod cargo;
mod config;
mod custom;
mod go;
mod javascript;
mod pytest;
mod since;

fn errors(outcome: &Outcome) -> Vec<&Finding> {
    outcome.findings_of(Severity::Error).collect()
}

fn run_cargo_rule(ws: &TestWorkspace, config: Value) -> Outcome {
    ws.run_granting::<TestRule>(config, &["cargo"]).unwrap()
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    let index = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in the text"));
    u32::try_from(index + 1).unwrap()
}

const MANIFEST: &str =
    "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";

/// A crate whose `add` is `body`, with a test that passes either way, one
/// that passes only when negatives are added right, one ignored test, and
/// one more test per name in `extra`.
fn crate_source(body: &str, extra: &[&str]) -> String {
    let mut source = format!(
        r#"pub fn add(a: i32, b: i32) -> i32 {{
    {body}
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn adds_small_numbers() {{
        assert_eq!(add(1, 2), 3);
    }}

    #[test]
    fn adds_negative_numbers() {{
        assert_eq!(add(-1, -2), -3, "negatives must add up");
    }}

    #[test]
    #[ignore]
    fn slow() {{}}
"#
    );
    for name in extra {
        source.push_str(&format!(
            "\n    #[test]\n    fn {name}() {{\n        assert_eq!(add(-2, -2), -4, \"{name}\");\n    }}\n"
        ));
    }
    source.push_str("}\n");
    source
}

const BUGGY: &str = "if a < 0 { a + b - 1 } else { a + b }";
const FIXED: &str = "a + b";

fn rust_workspace(body: &str, extra: &[&str]) -> (TestWorkspace, String) {
    let ws = TestWorkspace::new().unwrap();
    ws.write("Cargo.toml", MANIFEST).unwrap();
    let source = crate_source(body, extra);
    ws.write("src/lib.rs", &source).unwrap();
    (ws, source)
}

/// pytest must be importable by the `python3` on PATH; the CI script puts a
/// venv with it first on PATH.
fn require_pytest() {
    let ok = std::process::Command::new("python3")
        .args(["-m", "pytest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "these tests need pytest importable by the `python3` on PATH: install it (`python3 -m pip install pytest`) or run scripts/test.sh, which puts a venv with pytest and ruff first on PATH"
    );
}

const PY_CALC: &str = "def add(a, b):\n    if a < 0:\n        return a + b - 1\n    return a + b\n";
const PY_TESTS: &str = "import pytest\n\nfrom calc import add\n\n\ndef test_small():\n    assert add(1, 2) == 3\n\n\ndef test_negative():\n    total = add(-1, -2)\n    assert total == -3\n\n\n@pytest.mark.skip(reason=\"later\")\ndef test_later():\n    pass\n";

fn run_pytest_rule(ws: &TestWorkspace, config: Value) -> Outcome {
    ws.run_granting::<TestRule>(config, &["python3"]).unwrap()
}
