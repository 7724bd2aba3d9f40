//! An outside client: the official Python MCP SDK spawns the real
//! `checkrail serve` over stdio and walks a bundled workflow to completion,
//! restarting the server half way (tests/e2e/agent_roundtrip.py).
//!
//! The Python interpreter comes from `CHECKRAIL_E2E_PYTHON` (scripts/test.sh
//! creates a venv with the SDK and sets it), else `python3`.

use std::process::Command;

use crate::support::{BIN, repo_root, shared_cache, state_dir};

#[test]
fn python_sdk_client_runs_a_workflow_across_a_restart() {
    let python = std::env::var("CHECKRAIL_E2E_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = Command::new(&python).args(["-c", "import mcp"]).output();
    let available = probe.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        available,
        "the Python MCP SDK is not importable with `{python}`; run scripts/test.sh (it installs it) or \
         `pip install -r tests/requirements.txt` and set CHECKRAIL_E2E_PYTHON"
    );
    let out = Command::new(&python)
        .arg(repo_root().join("tests/e2e/agent_roundtrip.py"))
        .arg(BIN)
        .env("CHECKRAIL_CACHE_DIR", shared_cache())
        .env("CHECKRAIL_STATE_DIR", state_dir())
        .output()
        .expect("run the e2e script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "e2e client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("legal-and-history"), "{stdout}");
}
