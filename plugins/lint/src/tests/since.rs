//! `no_new_suppressions_since`: the suppressions a run records, and a lint
//! silenced instead of fixed at a later phase.

use checkrail_sdk::serde_json::Value;
use checkrail_sdk::testing::run_with_context;

use super::*;

/// Runs the rule at phase `green` of a session whose phase `red` recorded
/// `red` (when given), granting `program`.
fn run_at_green(ws: &TestWorkspace, config: Value, program: &str, red: Option<&Value>) -> Outcome {
    let mut cx = ws
        .context_granting::<Lint>(&[program])
        .unwrap()
        .with_checkpoint("bugfix", "green");
    if let Some(red) = red {
        cx = cx.with_baseline("red", red.clone());
    }
    run_with_context::<Lint>(config, &cx).unwrap()
}

fn new_suppressions(out: &Outcome) -> Vec<&Finding> {
    out.findings
        .iter()
        .filter(|f| f.code.as_deref() == Some("new-suppression"))
        .collect()
}

const SUPPRESSED: &str =
    "#![allow(dead_code)]\n\nfn unused() {}\n\npub fn f(x: i32) -> i32 {\n    x + 1\n}\n";

#[test]
fn clippy_a_new_allow_is_named_where_it_is_and_moving_old_ones_is_not() {
    require_cargo();
    let ws = crate_ws(SUPPRESSED);
    ws.write("target/debug/generated.rs", "#[allow(unused)]\nfn g() {}\n")
        .unwrap();
    let red = ws
        .run_granting::<Lint>(json!({"linter": "clippy"}), &["cargo"])
        .unwrap();
    assert!(red.passed, "{red:#?}");
    let red = red.facts_value().expect("every run records facts");
    assert_eq!(
        red,
        json!({"suppressions": {"src/lib.rs": {"#![allow(dead_code)]": 1}}}),
        "counted per file and text, and never under target/"
    );

    let config = json!({"linter": "clippy", "no_new_suppressions_since": "red"});
    // Honest: the code changes and the old suppression moves down a line.
    ws.write("src/lib.rs", format!("// the crate\n{SUPPRESSED}"))
        .unwrap();
    let out = run_at_green(&ws, config.clone(), "cargo", Some(&red));
    assert!(out.passed, "{out:#?}");
    assert!(new_suppressions(&out).is_empty(), "{out:#?}");

    // Silencing the lint instead of fixing it.
    let cheat = format!(
        "{SUPPRESSED}\n#[allow(clippy::needless_return)]\npub fn g(x: i32) -> i32 {{\n    return x + 1;\n}}\n"
    );
    ws.write("src/lib.rs", &cheat).unwrap();
    let out = run_at_green(&ws, config.clone(), "cargo", Some(&red));
    assert!(!out.passed, "{out:#?}");
    let new = new_suppressions(&out);
    assert_eq!(new.len(), 1, "{out:#?}");
    assert_eq!(new[0].path.as_deref(), Some("src/lib.rs"));
    assert_eq!(
        new[0].line,
        Some(
            u32::try_from(
                cheat
                    .lines()
                    .position(|l| l.contains("needless_return"))
                    .unwrap()
                    + 1
            )
            .unwrap()
        )
    );
    assert!(
        new[0]
            .message
            .contains("`#[allow(clippy::needless_return)]`"),
        "{:?}",
        new[0]
    );
    assert!(
        new[0]
            .fix_hint
            .as_deref()
            .unwrap()
            .contains("instead of silencing it"),
        "{:?}",
        new[0]
    );
    assert!(
        out.summary.ends_with("; 1 new lint suppression"),
        "{}",
        out.summary
    );

    // Outside a session there is nothing to compare with.
    let out = ws.run_granting::<Lint>(config, &["cargo"]).unwrap();
    assert!(!out.passed);
    let codes: Vec<&str> = out
        .findings_of(Severity::Error)
        .filter_map(|f| f.code.as_deref())
        .collect();
    assert_eq!(codes, ["no-baseline"], "{out:#?}");
    assert!(
        out.findings
            .iter()
            .any(|f| f.message.contains("phase `red`"))
    );
}

#[test]
fn ruff_a_new_noqa_fails_and_an_unchanged_one_does_not() {
    require_ruff();
    let ws = TestWorkspace::new().unwrap();
    ws.write("app/mod.py", "import os  # noqa: F401\n\nprint(1)\n")
        .unwrap();
    ws.write(".venv/lib/site.py", "import sys  # noqa\n")
        .unwrap();
    let red = ws
        .run_granting::<Lint>(json!({"linter": "ruff", "args": ["app"]}), &["ruff"])
        .unwrap()
        .facts_value()
        .unwrap();
    assert_eq!(
        red,
        json!({"suppressions": {"app/mod.py": {"# noqa: F401": 1}}})
    );

    let config = json!({"linter": "ruff", "args": ["app"], "no_new_suppressions_since": "red"});
    let out = run_at_green(&ws, config.clone(), "ruff", Some(&red));
    assert!(out.passed, "{out:#?}");

    ws.write(
        "app/mod.py",
        "import os  # noqa: F401\nimport sys  # noqa\n\nprint(1)\n",
    )
    .unwrap();
    let out = run_at_green(&ws, config, "ruff", Some(&red));
    assert!(!out.passed, "{out:#?}");
    let new = new_suppressions(&out);
    assert_eq!(new.len(), 1, "{out:#?}");
    assert_eq!(
        (new[0].path.as_deref(), new[0].line),
        (Some("app/mod.py"), Some(2))
    );
    assert!(new[0].message.contains("`# noqa`"), "{:?}", new[0]);
}
