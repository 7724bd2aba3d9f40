//! Signed session attestations: `checkrail attest` on the machine where a
//! session completed, `checkrail verify-attestation` where the pull request
//! is checked (a fresh clone, a state directory of its own), with real git.

use std::path::Path;
use std::process::Output;

use checkrail::config::ApprovalChannel;
use checkrail::service::Decision;
use checkrail::session::Status;

use crate::support::{Cli, DOCS_FLOW, Session, Workspace, service, text};

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=dev", "-c", "user.email=dev@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub(crate) fn commit_all(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A repository with the docs flow (README, then CHANGELOG behind a human
/// gate), committed.
fn repository() -> tempfile::TempDir {
    let ws = Workspace::new()
        .workflow(DOCS_FLOW)
        .file("README.md", "# Demo\n")
        .file("CHANGELOG.md", "- first\n")
        .build();
    git(ws.path(), &["init", "-q", "-b", "main"]);
    commit_all(ws.path(), "the project");
    ws
}

/// Runs the session to completion, approving each gate at the terminal.
pub(crate) fn complete(dir: &Path, workflow: &str) -> String {
    let svc = service(dir);
    let session = Session::start(&svc, workflow);
    for _ in 0..6 {
        let standing = svc.next(&session.id).unwrap();
        match standing.session.status {
            Status::Completed => return session.id,
            Status::AwaitingApproval => {
                svc.decide(
                    &session.id,
                    &Decision {
                        approve: true,
                        by: "owner".to_owned(),
                        channel: ApprovalChannel::Terminal,
                        detail: Some("/dev/pts/3".to_owned()),
                        note: None,
                    },
                )
                .unwrap();
            }
            _ => assert!(session.validate().passed, "a phase of {workflow} fails"),
        }
    }
    panic!("{workflow} did not complete");
}

pub(crate) fn public_key() -> String {
    let out = Cli::new(&["attest", "--public-key"]).output();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A clone of `dir` with its notes, as a CI job fetches it.
fn ci_clone(dir: &Path) -> tempfile::TempDir {
    let clone = tempfile::tempdir().unwrap();
    git(clone.path(), &["clone", "-q", dir.to_str().unwrap(), "."]);
    git(
        clone.path(),
        &[
            "fetch",
            "-q",
            "origin",
            "refs/notes/checkrail:refs/notes/checkrail",
        ],
    );
    clone
}

/// `verify-attestation` as CI runs it: its own state directory.
fn verify(clone: &Path, args: &[&str]) -> Output {
    let ci_state = tempfile::tempdir().unwrap();
    Cli::new(&["verify-attestation"])
        .workspace(clone)
        .state_dir(ci_state.path())
        .env_remove("CHECKRAIL_TRUSTED_KEYS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(args)
        .output()
}

#[test]
fn a_completed_session_attested_as_a_git_note_verifies_on_a_fresh_clone() {
    let repo = repository();
    let id = complete(repo.path(), "docs-flow");
    let out = Cli::new(&["attest", &id, "--git-note"])
        .workspace(repo.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("push it with `git push origin refs/notes/checkrail`"));
    let key = public_key();

    let clone = ci_clone(repo.path());
    let out = verify(
        clone.path(),
        &[
            "--require",
            "docs-flow@^1",
            "--trusted-key",
            &key,
            "--recheck",
        ],
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    for line in [
        "ok   signature: signed by trusted key",
        "ok   subject: attests commit",
        "ok   human gates: approved: changelog by owner via terminal",
        "ok   recheck: 2 checkpoint(s) pass again on a fresh checkout",
        "verified: commit",
    ] {
        assert!(said.contains(line), "{line:?} in {said}");
    }
    let json = verify(
        clone.path(),
        &[
            "--require",
            "docs-flow",
            "--trusted-key",
            &key,
            "--format",
            "json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["session"]["id"], id.as_str());
    assert_eq!(doc["session"]["confinement"]["confined"], false);

    // A commit after the attestation is not what was attested.
    std::fs::write(clone.path().join("README.md"), "# Demo\n\nmore\n").unwrap();
    commit_all(clone.path(), "after the session");
    git(
        clone.path(),
        &["notes", "--ref=checkrail", "copy", "HEAD~1", "HEAD"],
    );
    let out = verify(
        clone.path(),
        &["--require", "docs-flow", "--trusted-key", &key],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("FAIL subject: attests commit")
            && text(&out).contains("the change moved on after the session was attested"),
        "{}",
        text(&out)
    );
    // No note at all on a commit: not attested, nothing tampered.
    git(
        clone.path(),
        &["notes", "--ref=checkrail", "remove", "HEAD"],
    );
    let out = verify(
        clone.path(),
        &["--require", "docs-flow", "--trusted-key", &key],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no attestation for commit"));
}

#[test]
fn attest_refuses_a_commit_whose_files_no_checkpoint_saw() {
    let repo = repository();
    let id = complete(repo.path(), "docs-flow");
    // The agent edits after the last checkpoint and commits.
    std::fs::write(repo.path().join("CHANGELOG.md"), "").unwrap();
    commit_all(repo.path(), "emptied after the session");
    let out = Cli::new(&["attest", &id, "--git-note"])
        .workspace(repo.path())
        .output();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("but the session's last checkpoint passed on tree"),
        "{}",
        text(&out)
    );
    // The commit it did check can still be attested, by name.
    let out = Cli::new(&["attest", &id, "--commit", "HEAD~1"])
        .workspace(repo.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_tampered_foreign_or_insufficient_attestation_fails_and_says_which() {
    let repo = repository();
    let id = complete(repo.path(), "docs-flow");
    let file = repo.path().join("../attestation.json");
    let file = file.to_str().unwrap();
    let out = Cli::new(&["attest", &id, "--out", file])
        .workspace(repo.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
    let key = public_key();
    let dir = repo.path();
    let check = |args: &[&str]| {
        let mut all = vec![file, "--trusted-key", key.as_str()];
        all.extend_from_slice(args);
        let out = verify(dir, &all);
        (out.status.code(), text(&out))
    };
    assert_eq!(check(&["--require", "docs-flow"]).0, Some(0));

    let (code, said) = check(&["--require", "feature"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains(
            "FAIL workflow: the session ran `docs-flow` 1.0.0, but `feature` is required"
        ),
        "{said}"
    );
    let (code, said) = check(&["--require", "docs-flow@^2"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("but `docs-flow` ^2 is required"), "{said}");
    let (code, said) = check(&["--require", "docs-flow", "--require-gate", "readme"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("FAIL human gates: no human approved `readme`"),
        "{said}"
    );
    let (code, said) = check(&["--require", "docs-flow", "--gate-channel", "dashboard"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("not an accepted channel"), "{said}");
    let (code, said) = check(&["--require", "docs-flow", "--require-confined"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("FAIL confined: the agent did not run confined"),
        "{said}"
    );

    // Altered after signing: the workflow id rewritten in the payload.
    let mut envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let forged = String::from_utf8(payload)
        .unwrap()
        .replace("\"docs-flow\"", "\"feature\"");
    envelope["payload"] = b64.encode(forged).into();
    let forged_file = repo.path().join("../forged.json");
    std::fs::write(&forged_file, envelope.to_string()).unwrap();
    let out = verify(
        dir,
        &[
            forged_file.to_str().unwrap(),
            "--trusted-key",
            &key,
            "--require",
            "feature",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("FAIL signature: the signature does not match the content"));

    // Signed by a key CI does not trust.
    let keys = tempfile::tempdir().unwrap();
    let stranger = keys.path().join("stranger");
    let out = Cli::new(&["pack", "keygen", stranger.to_str().unwrap()]).output();
    assert!(out.status.success(), "{}", text(&out));
    let out = verify(
        dir,
        &[
            file,
            "--trusted-key",
            stranger.with_extension("pub").to_str().unwrap(),
            "--require",
            "docs-flow",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("which is not trusted"),
        "{}",
        text(&out)
    );

    // No trusted key at all is a usage error.
    let out = verify(dir, &[file, "--require", "docs-flow"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no trusted key"), "{}", text(&out));
}

/// One line of GitHub's workflow-command syntax: `::kind props::message`,
/// properties `name=value` joined by `,` with `:` and `,` escaped in
/// values, no raw newline anywhere.
fn is_workflow_command(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("::") else {
        return false;
    };
    let Some((head, _message)) = rest.split_once("::") else {
        return false;
    };
    let (kind, props) = head.split_once(' ').unwrap_or((head, ""));
    ["error", "warning", "notice"].contains(&kind)
        && (props.is_empty()
            || props.split(',').all(|p| {
                p.split_once('=').is_some_and(|(k, v)| {
                    ["file", "line", "title", "col", "endLine", "endColumn"].contains(&k)
                        && !v.contains(':')
                })
            }))
}

#[test]
fn the_github_format_annotates_what_fails_again_on_a_fresh_clone() {
    // The report exists on the developer's machine only: build/ is
    // ignored, so the commit does not hold it.
    let ws = Workspace::new()
        .workflow(
            "id: built
version: 1.2.0
name: Built
description: d
phases:
  - id: build
    name: Build
    guidance: build and write the report
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [README.md, build/report.txt] }
  - id: done
    name: Done
    guidance: done
",
        )
        .file("README.md", "# Demo\n")
        .file(".gitignore", "build/\n")
        .file("build/report.txt", "ok\n")
        .build();
    git(ws.path(), &["init", "-q", "-b", "main"]);
    commit_all(ws.path(), "the project");
    let id = complete(ws.path(), "built");
    let out = Cli::new(&["attest", &id, "--git-note"])
        .workspace(ws.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
    let key = public_key();
    let clone = ci_clone(ws.path());
    let summary = clone.path().join("../summary.md");
    let ci_state = tempfile::tempdir().unwrap();
    let out = Cli::new(&["verify-attestation"])
        .workspace(clone.path())
        .state_dir(ci_state.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(&[
            "--require",
            "built@1.2",
            "--trusted-key",
            &key,
            "--require-gate",
            "build",
            "--recheck",
            "--format",
            "github",
        ])
        .output();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.is_empty());
    for line in stdout.lines() {
        assert!(
            is_workflow_command(line),
            "not a workflow command: {line:?}"
        );
    }
    assert!(
        stdout.contains("::error file=build/report.txt,title=file-exists (build)::"),
        "{stdout}"
    );
    assert!(
        stdout.contains("::error title=checkrail%3A human gates::no human approved `build`"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("## checkrail: commit `"), "{md}");
    assert!(md.contains("not verified"), "{md}");
    assert!(md.contains("| recheck | ❌ |"), "{md}");
    assert!(md.contains("| build | file-exists "), "{md}");

    // The SARIF log carries the same: the finding at its file, the unmet
    // requirement without one.
    let out = Cli::new(&["verify-attestation"])
        .workspace(clone.path())
        .state_dir(ci_state.path())
        .args(&[
            "--require",
            "built",
            "--trusted-key",
            &key,
            "--recheck",
            "--format",
            "sarif",
        ])
        .output();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "build/report.txt"
    }));
}
