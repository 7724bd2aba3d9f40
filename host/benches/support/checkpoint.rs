//! Running one phase's checkpoint in a bench: a workspace opened with a
//! private state directory, and workflows of one phase `p`.

use std::path::Path;

use checkrail::Checkrail;
use checkrail::engine::{CheckpointRun, Guards, Hooks};
use checkrail::report::CheckpointReport;
use checkrail::trusted::StateDir;
use checkrail::workflow::{Workflow, parse};
use checkrail::workspace::Workspace;

/// A workspace opened once, with its state in a directory of its own.
pub struct Opened {
    workspace: Workspace,
    config: checkrail::config::WorkspaceConfig,
    _state: tempfile::TempDir,
}

impl Opened {
    /// Opens `dir` with a fresh state directory.
    pub fn new(dir: &Path) -> Self {
        let state_dir = tempfile::tempdir().expect("state dir");
        let state = StateDir::at(state_dir.path()).expect("state");
        let workspace = Workspace::open(dir, &state).expect("workspace");
        checkrail::allow::record(&workspace, &[]).expect("allow");
        let config = workspace.config().expect("config");
        Self {
            workspace,
            config,
            _state: state_dir,
        }
    }

    /// Runs phase `p` of `workflow`.
    pub fn run(
        &self,
        engine: &Checkrail,
        workflow: &Workflow,
        hooks: Hooks,
        use_cache: bool,
    ) -> checkrail::Result<CheckpointReport> {
        engine.run_checkpoint(&CheckpointRun {
            workflow,
            phase: "p",
            workspace: &self.workspace,
            evidence: None,
            config: &self.config,
            hooks,
            use_cache,
            baselines: &serde_json::Map::new(),
            guards: Guards::default(),
        })
    }
}

/// A workflow of one phase `p` whose checkpoint has these rules (YAML list
/// items, indented by 8).
pub fn one_phase(rules: &str) -> Workflow {
    parse(
        &format!(
            "id: b\nversion: 0.1.0\nname: B\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n{rules}"
        ),
        "b.yaml",
    )
    .expect("the workflow parses")
}
