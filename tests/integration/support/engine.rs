//! The engine in this process: with the fixture rules, and checkpoints run
//! on a workspace outside any session, as `checkrail check` runs them.

use std::path::Path;

use checkrail::engine::{CheckpointRun, Guards, Hooks};
use checkrail::report::CheckpointReport;
use checkrail::workflow::Workflow;
use checkrail::workspace::Workspace;
use checkrail::{Checkrail, Options};

use super::{fixture_rules, shared_cache, state};

/// An engine with the fixture rules and the shared cache.
pub fn engine() -> Checkrail {
    Checkrail::new(Options {
        rule_dirs: vec![fixture_rules().to_owned()],
        cache_dir: Some(shared_cache()),
        ..Options::default()
    })
    .expect("engine starts")
}

/// Runs a checkpoint against `dir` with its current config and the
/// outcome cache, as `checkrail check` does.
pub fn checkpoint(
    engine: &Checkrail,
    workflow: &Workflow,
    phase: &str,
    dir: &Path,
    evidence: Option<&serde_json::Value>,
    hooks: Hooks,
) -> checkrail::Result<CheckpointReport> {
    let workspace = Workspace::open(dir, &state())?;
    let config = workspace.config()?;
    engine.run_checkpoint(&CheckpointRun {
        workflow,
        phase,
        workspace: &workspace,
        evidence,
        config: &config,
        hooks,
        use_cache: true,
        baselines: &serde_json::Map::new(),
        guards: Guards::default(),
    })
}

/// Phase `p` of `workflow` on `dir`, by a fresh [`engine`], watched by
/// no one: the report of a checkpoint that must run.
pub fn check_phase(dir: &Path, workflow: &Workflow) -> CheckpointReport {
    checkpoint(&engine(), workflow, "p", dir, None, Hooks::default()).expect("the checkpoint runs")
}

/// A workflow of one phase `p` whose checkpoint has these rules (YAML list
/// items, indented by 8).
pub fn one_phase(rules: &str) -> Workflow {
    checkrail::workflow::parse(
        &format!(
            "id: t\nversion: 0.1.0\nname: T\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n{rules}"
        ),
        "t.yaml",
    )
    .unwrap()
}
