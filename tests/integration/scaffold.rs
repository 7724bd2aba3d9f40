//! `checkrail rule new`: the scaffold builds, tests and runs without edits,
//! and goes from there through a signed pack and a registry into a project.
//!
//! The real binary generates a crate in a temporary directory outside the
//! repository, pointed at this checkout's SDK with the hidden `--sdk-path`;
//! real cargo then tests it natively and builds it for `wasm32-wasip2`, and
//! the real binary runs the component it built.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{BIN, Cli, Workspace, repo_root, shared_cache, state_dir};

fn checkrail(cwd: &Path, args: &[&str]) -> Output {
    Cli::new(args)
        .current_dir(cwd)
        .env(
            "CHECKRAIL_DATA_DIR",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scaffold-data"),
        )
        // No registry credentials: the loopback registry is anonymous.
        .env(
            "DOCKER_CONFIG",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scaffold-docker"),
        )
        .output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn both(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr))
}

/// A target directory for the generated crate's builds that survives between
/// runs, so a rerun only rebuilds the crate itself.
fn inner_target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target")
}

/// A plain `cargo` in `dir`: without what the outer cargo set for this test
/// process, offline (everything the crate needs is what this checkout's lock
/// file pins, already downloaded), with the stable inner target dir.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.args(args).arg("--offline").current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && !matches!(key.as_ref(), "CARGO_HOME" | "CARGO_NET_OFFLINE")
            || key.starts_with("RUSTC_")
            || matches!(
                key.as_ref(),
                "RUSTFLAGS" | "RUSTDOCFLAGS" | "RUSTC" | "RUSTDOC"
            )
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.env("CARGO_TARGET_DIR", inner_target_dir())
        .output()
        .expect("run cargo")
}

#[test]
fn scaffold_tests_builds_and_runs_as_generated() {
    let parent = tempfile::tempdir().unwrap();
    let name = "scaffolded-rule";
    let sdk = repo_root().join("plugin-sdk");
    let out = checkrail(
        parent.path(),
        &["rule", "new", name, "--sdk-path", sdk.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let created = text(&out.stdout);
    for expected in [
        "Cargo.toml",
        "src/lib.rs",
        "README.md",
        "cargo test",
        "cargo build --release --target wasm32-wasip2",
        "rule run scaffolded-rule",
    ] {
        assert!(created.contains(expected), "{expected}: {created}");
    }
    let dir = parent.path().join(name);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("checkrail-sdk = { path = \""),
        "{manifest}"
    );
    // The SDK re-exports serde, serde_json and schemars: it is the only
    // dependency, for the rule and its tests alike.
    let deps: Vec<&str> = manifest
        .lines()
        .skip_while(|l| *l != "[dependencies]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(deps.len(), 1, "{manifest}");
    assert!(deps[0].starts_with("checkrail-sdk = "), "{manifest}");
    assert!(!manifest.contains("[dev-dependencies]"), "{manifest}");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("scaffolded_rule.wasm"), "{readme}");

    // Same dependency versions as this checkout, so `--offline` never has to
    // resolve anything new; cargo drops the entries the crate does not use.
    std::fs::copy(repo_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let out = cargo(&dir, &["test"]);
    assert!(out.status.success(), "cargo test: {}", both(&out));
    assert!(
        text(&out.stdout).contains("fails_until_the_file_exists ... ok"),
        "{}",
        both(&out)
    );

    let out = cargo(&dir, &["build", "--release", "--target", "wasm32-wasip2"]);
    assert!(out.status.success(), "cargo build: {}", both(&out));

    // Only this component in the rules directory, named as the README says.
    let built = inner_target_dir()
        .join("wasm32-wasip2/release")
        .join("scaffolded_rule.wasm");
    let rules = tempfile::tempdir().unwrap();
    std::fs::copy(&built, rules.path().join("scaffolded_rule.wasm"))
        .unwrap_or_else(|e| panic!("{} was not built: {e}", built.display()));
    let rules_dir = rules.path().to_str().unwrap();

    let ws = Workspace::new().file("README.md", "# hi\n").build();
    let ws_dir = ws.path().to_str().unwrap();
    let run = |config: &str| {
        checkrail(
            parent.path(),
            &[
                "--rules-dir",
                rules_dir,
                "rule",
                "run",
                name,
                "--config",
                config,
                "--workspace",
                ws_dir,
            ],
        )
    };

    let out = run(r#"{"path":"README.md"}"#);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(text(&out.stdout).contains(name), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("`README.md` exists"),
        "{}",
        both(&out)
    );

    // The last of the printed steps works as printed, in the crate's
    // folder, with checkrail on no PATH: it names the binary that printed it.
    let step = created
        .lines()
        .map(str::trim)
        .find(|l| l.contains(" rule run "))
        .unwrap_or_else(|| panic!("no `rule run` step: {created}"));
    let printed_rules = dir.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&printed_rules).unwrap();
    std::fs::copy(&built, printed_rules.join("scaffolded_rule.wasm")).unwrap();
    let out = std::process::Command::new("sh")
        .args(["-c", step])
        .current_dir(&dir)
        .env("PATH", "/usr/bin:/bin")
        .env("CHECKRAIL_CACHE_DIR", shared_cache())
        .env("CHECKRAIL_STATE_DIR", state_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "`{step}`: {}", both(&out));
    assert!(
        text(&out.stdout).contains("`README.md` exists"),
        "{}",
        both(&out)
    );

    let out = run(r#"{"path":"CHANGELOG.md"}"#);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(name), "{}", both(&out));
    assert!(
        stdout.contains("`CHANGELOG.md` does not exist"),
        "{}",
        both(&out)
    );

    // The text list outlines the config; the JSON list carries the schema,
    // which comes from the documented field.
    let out = checkrail(parent.path(), &["--rules-dir", rules_dir, "rule", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("    config: path (string, required)"),
        "{}",
        both(&out)
    );
    let out = checkrail(
        parent.path(),
        &["--rules-dir", rules_dir, "rule", "list", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rule = list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == name)
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(rule["api_version"], checkrail_sdk::API_VERSION);
    assert_eq!(
        rule["config_schema"]["properties"]["path"]["description"],
        "Workspace-relative path of a file that must exist."
    );

    // The rest of the README's flow: pack the rule with a workflow that
    // uses it, sign it, push it to a registry, install it from there into a
    // project that trusts the key, and run the workflow's checkpoint.
    let studio = tempfile::tempdir().unwrap();
    std::fs::copy(&built, studio.path().join("scaffolded_rule.wasm")).unwrap();
    std::fs::write(
        studio.path().join("release.yaml"),
        format!(
            "id: release\nversion: 0.1.0\nname: Release\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: authors/{name}@^0.1\n          config: {{ path: README.md }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        studio.path().join("pack.toml"),
        "name = \"authors\"\nversion = \"0.1.0\"\ndescription = \"d\"\nlicense = \"MIT\"\nrules = [\"scaffolded_rule.wasm\"]\nworkflows = [\"release.yaml\"]\n",
    )
    .unwrap();
    let studio_dir = studio.path().to_str().unwrap();
    let ok = |args: &[&str]| {
        let out = checkrail(parent.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", both(&out));
        text(&out.stdout)
    };
    ok(&["pack", "build", studio_dir]);
    let pack = studio.path().join("authors-0.1.0.crpack");
    let key = studio.path().join("author");
    ok(&["pack", "keygen", key.to_str().unwrap()]);
    ok(&[
        "pack",
        "sign",
        pack.to_str().unwrap(),
        "--key",
        key.with_extension("key").to_str().unwrap(),
    ]);
    let registry = crate::registry::Registry::start(None);
    let tag = registry.reference("authors/rules:0.1.0");
    ok(&["pack", "push", pack.to_str().unwrap(), &tag]);
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(
        ws.path().join("checkrail.toml"),
        format!("[trust]\nkeys = [\"{}\"]\n", public.trim()),
    )
    .unwrap();
    crate::support::allow(ws.path());
    ok(&["pack", "install", &tag, "--workspace", ws_dir]);
    let listed = ok(&["workflow", "list", "--workspace", ws_dir]);
    assert!(listed.contains("authors/release 0.1.0"), "{listed}");
    ok(&[
        "check",
        "--workflow",
        "authors/release",
        "--phase",
        "p",
        "--workspace",
        ws_dir,
    ]);

    let flow = ws.path().join("flow.yaml");
    let write_flow = |path: &str| {
        std::fs::write(
            &flow,
            format!(
                "id: authored\nversion: 0.1.0\nname: A\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: authors/{name}@^0.1\n          config: {{ path: {path} }}\n"
            ),
        )
        .unwrap();
    };
    let check = || {
        checkrail(
            parent.path(),
            &[
                "check",
                "--workflow",
                flow.to_str().unwrap(),
                "--phase",
                "p",
                "--workspace",
                ws_dir,
            ],
        )
    };
    write_flow("README.md");
    let out = check();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the packed rule passes in a checkpoint: {}",
        both(&out)
    );
    write_flow("CHANGELOG.md");
    let out = check();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("`CHANGELOG.md` does not exist"),
        "{}",
        both(&out)
    );
}

#[test]
fn with_registry_the_sdk_is_the_crates_io_release() {
    let parent = tempfile::tempdir().unwrap();
    let out = checkrail(
        parent.path(),
        &[
            "rule",
            "new",
            "from-registry",
            "--dir",
            "nested/rules",
            "--registry",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let manifest =
        std::fs::read_to_string(parent.path().join("nested/rules/from-registry/Cargo.toml"))
            .unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let major_minor = &version[..version.rfind('.').unwrap()];
    assert!(
        manifest.contains(&format!("checkrail-sdk = \"{major_minor}\"")),
        "{manifest}"
    );
    assert!(
        text(&out.stdout).contains("from crates.io"),
        "{}",
        both(&out)
    );
}

#[test]
fn refuses_a_non_empty_target_and_an_invalid_name() {
    let parent = tempfile::tempdir().unwrap();
    std::fs::create_dir(parent.path().join("taken")).unwrap();
    std::fs::write(parent.path().join("taken/notes.txt"), "mine").unwrap();
    let out = checkrail(parent.path(), &["rule", "new", "taken"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("already exists and is not empty"),
        "{}",
        both(&out)
    );
    assert_eq!(
        std::fs::read_to_string(parent.path().join("taken/notes.txt")).unwrap(),
        "mine"
    );
    assert!(!parent.path().join("taken/Cargo.toml").exists());

    // An empty directory is fine.
    std::fs::create_dir(parent.path().join("empty")).unwrap();
    let out = checkrail(parent.path(), &["rule", "new", "empty"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(parent.path().join("empty/src/lib.rs").exists());

    let out = checkrail(parent.path(), &["rule", "new", "Has_Changelog"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid rule name `Has_Changelog`")
            && stderr.contains("lowercase words")
            && stderr.contains("did you mean `has-changelog`?"),
        "{stderr}"
    );
    assert!(!parent.path().join("Has_Changelog").exists());

    let out = checkrail(parent.path(), &["rule", "new", "file-exists"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(text(&out.stderr).contains("bundled rule"), "{}", both(&out));
}

/// Outside any checkout, with no flags: the scaffold depends on the SDK
/// source the binary carries, installed under the user's data directory, and
/// tests, builds for wasm and runs offline. The binary is copied out of the
/// target directory first, so nothing can lead it back to this checkout.
#[test]
fn scaffold_works_anywhere_with_the_sdk_the_binary_carries() {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("checkrail");
    std::fs::copy(BIN, &bin).unwrap();
    let data = home.path().join("data");
    let name = "carried-sdk-rule";
    let run = |args: &[&str]| {
        Cli::binary(&bin, args)
            .current_dir(home.path())
            .env("CHECKRAIL_DATA_DIR", &data)
            .output()
    };
    let out = run(&["rule", "new", name]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("this checkrail's copy"),
        "{}",
        both(&out)
    );
    let dir = home.path().join(name);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let sdk_dir = data.join("sdk");
    assert!(
        manifest.contains(&format!(
            "checkrail-sdk = {{ path = \"{}",
            sdk_dir.display()
        )),
        "{manifest}"
    );
    let installed = std::fs::read_dir(&sdk_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "wit/since_v0.1.0/rule.wit",
        "wit/since_v0.2.0/rule.wit",
    ] {
        assert!(
            installed.join(file).is_file(),
            "{file} missing in {}",
            installed.display()
        );
    }
    let sdk_manifest = std::fs::read_to_string(installed.join("Cargo.toml")).unwrap();
    assert!(!sdk_manifest.contains(".workspace"), "{sdk_manifest}");

    // `--registry` keeps the crates.io form for when the SDK is published.
    let out = run(&["rule", "new", "registry-rule", "--registry"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let registry = std::fs::read_to_string(home.path().join("registry-rule/Cargo.toml")).unwrap();
    assert!(registry.contains("checkrail-sdk = \"0."), "{registry}");

    std::fs::copy(repo_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let out = cargo(&dir, &["test"]);
    assert!(out.status.success(), "cargo test: {}", both(&out));
    let out = cargo(&dir, &["build", "--release", "--target", "wasm32-wasip2"]);
    assert!(out.status.success(), "cargo build: {}", both(&out));
    let rules = tempfile::tempdir().unwrap();
    std::fs::copy(
        inner_target_dir().join("wasm32-wasip2/release/carried_sdk_rule.wasm"),
        rules.path().join("carried_sdk_rule.wasm"),
    )
    .unwrap();
    let ws = Workspace::new().file("README.md", "# hi\n").build();
    let out = run(&[
        "--rules-dir",
        rules.path().to_str().unwrap(),
        "rule",
        "run",
        name,
        "--config",
        r#"{"path":"README.md"}"#,
        "--workspace",
        ws.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}
