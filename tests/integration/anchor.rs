//! The anchor a session is judged against: the commit a human allowed, or
//! the merge-base with an upstream ref. Tests that already failed there are
//! known failures; judging files are compared with the upstream's.

use std::path::Path;

use crate::support::{Session, Workspace, allow, codes, service};

/// A pytest project with a passing test and an unrelated failing one.
fn project(config: &str) -> Workspace {
    Workspace::new()
        .workflow(&crate::support::green("py-green", "{ runner: pytest, min_passed: 1 }"))
        .file(
            "pyproject.toml",
            "[tool.pytest.ini_options]\npythonpath = [\".\"]\n",
        )
        .file("calc.py", "def add(a, b):\n    return a + b\n")
        .file(
            "conftest.py",
            "import warnings\n\n\ndef pytest_configure(config):\n    warnings.simplefilter(\"error\")\n",
        )
        .file(
            "tests/test_calc.py",
            "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        )
        .file(
            "tests/test_flaky_service.py",
            "def test_reaches_the_service():\n    assert False, \"the service is down\"\n",
        )
        .grant("python3")
        .config(config)
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=owner",
            "-c",
            "user.email=owner@example.com",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

#[test]
fn a_test_that_already_failed_at_the_allowed_commit_does_not_block() {
    let ws = project("").build();
    let dir = ws.path();
    git(dir, &["init", "-q", "-b", "main"]);
    commit_all(dir, "the project, with a test that fails on this machine");
    // The owner allows the workspace as committed.
    allow(dir);
    let svc = service(dir);
    let session = Session::start(&svc, "py-green");
    // The honest agent changes nothing else: the failure it found was
    // there before it, so it is reported and does not block.
    let v = session.validate();
    assert!(v.passed, "{:?}", v.report);
    assert!(
        codes(&v).contains(&"known-failure".to_owned()),
        "{:?}",
        v.report
    );
    // A test that passed at the anchor and fails now blocks, whatever the
    // agent committed since.
    std::fs::write(dir.join("calc.py"), "def add(a, b):\n    return a - b\n").unwrap();
    commit_all(dir, "the agent's change");
    let session = Session::start(&svc, "py-green");
    let v = session.validate();
    assert!(
        !v.passed && codes(&v).contains(&"test-failed".to_owned()),
        "{:?}",
        v.report
    );
}

#[test]
fn a_judging_file_committed_on_the_agents_branch_is_judged_against_the_upstream() {
    let ws = project("[anchor]\nupstream = \"main\"\n").build();
    let dir = ws.path();
    // The known failure is fixed upstream, so only the conftest matters.
    std::fs::remove_file(dir.join("tests/test_flaky_service.py")).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    commit_all(dir, "reviewed");
    git(dir, &["checkout", "-q", "-b", "agent-work"]);
    // On its own branch, before any session and before the owner allows
    // the workspace, the agent loosens the conftest and commits it.
    std::fs::write(dir.join("conftest.py"), "# nothing to see\n").unwrap();
    commit_all(dir, "tidy up");
    allow(dir);
    let svc = service(dir);
    let session = Session::start(&svc, "py-green");
    let v = session.validate();
    assert!(
        !v.passed && codes(&v).contains(&"judging-file-changed".to_owned()),
        "{:?}",
        v.report
    );
    // As the upstream has it, the same session passes.
    git(dir, &["checkout", "-q", "main", "--", "conftest.py"]);
    let v = session.validate();
    assert!(v.passed && v.advanced, "{:?}", v.report);
}
