//! Shared helpers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use checkrail::engine::{CheckpointRun, Guards, Hooks};
use checkrail::report::CheckpointReport;
use checkrail::state::StateDir;
use checkrail::workflow::Workflow;
use checkrail::workspace::Workspace;
use checkrail::{Checkrail, Options};

/// Where the build script put the wasm components it built.
pub const WASM_DIR: &str = env!("CHECKRAIL_PLUGIN_WASM_DIR");

/// A compile cache shared by the tests of this run, so each component is
/// compiled once.
pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("checkrail-test-cache")
}

/// A directory holding only the fixture rule components (the bundled rules
/// are already in the binary; listing them twice is an error).
pub fn fixture_rules() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(WASM_DIR).expect("wasm dir exists") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("fixture_") && name.ends_with(".wasm") && !name.contains("greeter")
            {
                std::fs::copy(&path, dir.path().join(&name)).expect("copy fixture");
            }
        }
        dir
    })
    .path()
}

/// An engine with the fixture rules and the shared cache.
pub fn engine() -> Checkrail {
    Checkrail::new(Options {
        rule_dirs: vec![fixture_rules().to_owned()],
        cache_dir: Some(shared_cache()),
        ..Options::default()
    })
    .expect("engine starts")
}

/// A temporary workspace with files.
pub fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    dir
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A private state directory shared by the tests of this run (each
/// workspace gets its own corner of it).
pub fn state_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// The shared state directory, opened.
pub fn state() -> StateDir {
    StateDir::at(state_dir()).expect("state dir")
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

/// A session service over `dir` with its `.checkrail/workflows/`, the
/// shared compile cache and the shared state directory.
pub fn service(dir: &Path) -> checkrail::service::Service {
    let engine = Checkrail::new(Options {
        workflow_dirs: vec![dir.join(".checkrail/workflows")],
        cache_dir: Some(shared_cache()),
        ..Options::default()
    })
    .expect("engine starts");
    checkrail::service::Service::open(std::sync::Arc::new(engine), dir, &state())
        .expect("service opens")
}

/// Validates the current phase of session `id` with `evidence`.
pub fn validate(
    svc: &checkrail::service::Service,
    id: &str,
    evidence: Option<serde_json::Value>,
) -> checkrail::service::Validation {
    svc.validate(id, None, evidence.as_ref(), false, &Hooks::default())
        .expect("validation runs")
}
