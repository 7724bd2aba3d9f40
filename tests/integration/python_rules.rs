//! Rules written in Python: the SDK's and the example's own tests (pytest,
//! natively), the example built into a component with componentize-py from
//! its sources and run by the real host in its sandbox, packed, signed and
//! installed into another project; and `rule new --lang python` from
//! scaffold to a running component.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use crate::support::{Cli, repo_root, text};

fn python() -> String {
    std::env::var("CHECKRAIL_E2E_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn sdk() -> PathBuf {
    repo_root().join("sdks/python")
}

fn example() -> PathBuf {
    repo_root().join("examples/rules/changelog-entry")
}

fn run(command: &mut Command) -> Output {
    let out = command.output().expect("python starts");
    assert!(
        out.status.success(),
        "{command:?}: {}\n(install the tools with scripts/setup.sh user and set CHECKRAIL_E2E_PYTHON)",
        text(&out)
    );
    out
}

/// sha256 over the Python sources and the WIT under `dirs`.
fn sources_digest(dirs: &[&Path]) -> String {
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|dir| {
            walk(dir)
                .into_iter()
                .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("py" | "wit")))
        })
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).unwrap());
    }
    hex::encode(hasher.finalize())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".venv" || name == ".pytest_cache" {
            continue;
        }
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Builds the Python rule project `project` (its `app.py`) into
/// `<name>.wasm` with the SDK's build (componentize-py, then the stamp),
/// once per content of its sources: the build takes tens of seconds.
fn build(project: &Path, sdk_dir: Option<&Path>, name: &str) -> PathBuf {
    let mut dirs = vec![project];
    if let Some(sdk) = sdk_dir {
        dirs.push(sdk);
    }
    let key = sources_digest(&dirs);
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("python-rules")
        .join(&key[..16]);
    let wasm = out_dir.join(format!("{name}.wasm"));
    if wasm.is_file() {
        return out_dir;
    }
    std::fs::create_dir_all(&out_dir).unwrap();
    let partial = out_dir.join(format!("{name}.wasm.part"));
    let mut command = Command::new(python());
    command
        .args(["-m", "checkrail_rule.build", "app", "-o"])
        .arg(&partial)
        .current_dir(project)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(sdk) = sdk_dir {
        command.env("PYTHONPATH", sdk);
    }
    run(&mut command);
    std::fs::rename(&partial, &wasm).unwrap();
    out_dir
}

fn pytest(project: &Path, sdk_dir: Option<&Path>) {
    let mut command = Command::new(python());
    command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(project)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let mut path = vec![project.to_owned()];
    path.extend(sdk_dir.map(Path::to_owned));
    command.env("PYTHONPATH", std::env::join_paths(path).unwrap());
    let out = run(&mut command);
    assert!(text(&out).contains("passed"), "{}", text(&out));
}

#[test]
fn the_python_sdk_and_the_example_rule_pass_their_own_tests() {
    pytest(&sdk(), Some(&sdk()));
    pytest(&example(), Some(&sdk()));
}

const GOOD: &str = "# Changelog\n\n## [Unreleased]\n\n### Added\n- attestations\n\n## [0.1.0] - 2026-11-30\n\n### Fixed\n- a crash\n";

fn rule_run(rules: &Path, rule: &str, config: &str, workspace: &Path) -> Output {
    Cli::new(&["rule", "run", rule, "--config", config])
        .arg("--rules-dir")
        .arg(rules)
        .workspace(workspace)
        .output()
}

#[test]
fn a_python_rule_runs_in_the_sandbox_and_ships_in_a_signed_pack() {
    let rules = build(&example(), Some(&sdk()), "changelog-entry");
    let listed = Cli::new(&["rule", "list", "--json"])
        .arg("--rules-dir")
        .arg(&rules)
        .output();
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(
        text(&listed).contains("\"changelog-entry\""),
        "{}",
        text(&listed)
    );

    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("CHANGELOG.md"), GOOD).unwrap();
    let out = rule_run(&rules, "changelog-entry", "{}", ws.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("1 entries under [Unreleased]"),
        "{}",
        text(&out)
    );

    std::fs::write(
        ws.path().join("CHANGELOG.md"),
        GOOD.replace("### Added", "### Improvements"),
    )
    .unwrap();
    let out = rule_run(&rules, "changelog-entry", "{}", ws.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("CHANGELOG.md:5: `Improvements` is not a kind of change"),
        "{}",
        text(&out)
    );
    // The host validates the config against the rule's schema first.
    let out = rule_run(
        &rules,
        "changelog-entry",
        r#"{"min_entries": "two"}"#,
        ws.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // Packed with a workflow, signed, installed into another project.
    let team = tempfile::tempdir().unwrap();
    std::fs::copy(
        rules.join("changelog-entry.wasm"),
        team.path().join("changelog-entry.wasm"),
    )
    .unwrap();
    std::fs::write(
        team.path().join("release.yaml"),
        "id: release\nversion: 1.0.0\nname: Release\ndescription: d\nphases:\n  - id: notes\n    name: Notes\n    guidance: write the change down\n    checkpoint:\n      rules:\n        - rule: team/changelog-entry@^0.1\n",
    )
    .unwrap();
    std::fs::write(
        team.path().join("pack.toml"),
        "name = \"team\"\nversion = \"1.0.0\"\ndescription = \"Release rules\"\nlicense = \"MIT\"\nrules = [\"changelog-entry.wasm\"]\nworkflows = [\"release.yaml\"]\n",
    )
    .unwrap();
    let in_team = |args: &[&str]| {
        let out = Cli::new(args).current_dir(team.path()).output();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        text(&out)
    };
    in_team(&["pack", "build", "."]);
    in_team(&["pack", "keygen", "team"]);
    in_team(&["pack", "sign", "team-1.0.0.crpack", "--key", "team.key"]);
    let public = std::fs::read_to_string(team.path().join("team.pub")).unwrap();

    let project = crate::support::Workspace::new()
        .config(&format!("[trust]\nkeys = [\"{}\"]\n", public.trim()))
        .file("CHANGELOG.md", GOOD)
        .build();
    let out = Cli::new(&["pack", "install"])
        .arg(team.path().join("team-1.0.0.crpack"))
        .workspace(project.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
    let check = |project: &Path| {
        Cli::new(&["check", "--workflow", "team/release", "--phase", "notes"])
            .workspace(project)
            .output()
    };
    let out = check(project.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::write(project.path().join("CHANGELOG.md"), "# Changelog\n").unwrap();
    let out = check(project.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no `## [Unreleased]` section"),
        "{}",
        text(&out)
    );
}

#[test]
fn rule_new_lang_python_tests_builds_and_runs_as_generated() {
    let dir = tempfile::tempdir().unwrap();
    let out = Cli::new(&["rule", "new", "has-notes", "--lang", "python", "--dir"])
        .arg(dir.path())
        .output();
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("python -m checkrail_rule.build app -o has-notes.wasm"),
        "{said}"
    );
    let project = dir.path().join("has-notes");
    // The project carries the SDK: no path to checkrail's sources.
    pytest(&project, None);
    let rules = build(&project, None, "has-notes");
    let ws = tempfile::tempdir().unwrap();
    let out = rule_run(&rules, "has-notes", r#"{"path": "NOTES.md"}"#, ws.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("`NOTES.md` does not exist"),
        "{}",
        text(&out)
    );
    std::fs::write(ws.path().join("NOTES.md"), "notes\n").unwrap();
    let out = rule_run(&rules, "has-notes", r#"{"path": "NOTES.md"}"#, ws.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
