//! Rules written in TypeScript, from source to another project's workflow:
//! the example `examples/rules/package-fields` (on `sdks/typescript`, the
//! `@checkrail/rule-sdk`) has its npm dev dependencies installed once into a
//! cache outside the repository, keyed by its package-lock; its `node
//! --test` suite runs; componentize-js builds its component from source;
//! the real binary lists and runs it on a good and a bad package.json; and
//! it is packed with a workflow, signed, installed into another project and
//! run there through that workflow.
//!
//! Needs `node` and `npm` on PATH and the npm registry reachable on the
//! first run (or a warm cache). The component embeds SpiderMonkey (~12 MiB),
//! so its first compile takes a while in a debug build; the shared compile
//! cache makes every later load cheap.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::packs::{env, file, text};
use crate::support::{Cli, repo_root};

const RULE_DIR: &str = "examples/rules/package-fields";
const SDK_DIR: &str = "sdks/typescript";

const CONFIG: &str = r#"{"required":["name","version","license"],"license_allowed":["MIT","Apache-2.0"],"require_engines":true}"#;

const GOOD: &str = r#"{
  "name": "app",
  "version": "1.0.0",
  "license": "MIT",
  "engines": { "node": ">=20" }
}
"#;

/// `version` empty on line 3, `license` not allowed on line 4, no `engines`.
const BAD: &str = r#"{
  "name": "app",
  "version": "",
  "license": "GPL-3.0"
}
"#;

fn require(program: &str) {
    checkrail_sdk::testing::require_program(
        program,
        "install Node.js 20 or newer with npm (scripts/setup.sh does)",
    );
}

/// `$XDG_CACHE_HOME/checkrail/ts-rules`, or `~/.cache/checkrail/ts-rules`.
fn cache_base() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        });
    base.join("checkrail").join("ts-rules")
}

/// Copies `from` into `to`, following symlinks (the SDK links to the one
/// copy of the WIT), leaving out what installs and builds leave behind.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "node_modules" || name == ".checkrail-rule" || name.ends_with(".wasm") {
            continue;
        }
        let path = entry.path();
        if std::fs::metadata(&path).unwrap().is_dir() {
            copy_tree(&path, &to.join(&*name));
        } else {
            std::fs::copy(&path, to.join(&*name)).unwrap();
        }
    }
}

/// Makes `to` a copy of `from`, keeping only its installed `node_modules`.
fn refresh(from: &Path, to: &Path) {
    if let Ok(entries) = std::fs::read_dir(to) {
        for entry in entries {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
    copy_tree(from, to);
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("failed to start {program}: {e}"));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "{program} {args:?} in {} failed: {all}",
        dir.display()
    );
    all
}

/// Runs `f` holding the cache's lock file: test processes share the
/// installed packages and the build's work directory.
fn locked<T>(root: &Path, f: impl FnOnce() -> T) -> T {
    let guard = std::fs::File::create(root.join(".lock")).unwrap();
    guard.lock().unwrap();
    let out = f();
    drop(guard);
    out
}

/// The rule package, its dependencies installed and its sources fresh from
/// the repository, in the cache: `<cache>/<lock digest>/examples/rules/package-fields`,
/// next to a copy of the SDK at the same relative path as in the repository
/// so that its `file:` dependency resolves.
fn rule_package() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        require("node");
        require("npm");
        let repo = repo_root();
        let lock = std::fs::read(repo.join(RULE_DIR).join("package-lock.json"))
            .expect("the example commits its package-lock.json");
        let digest = format!("{:x}", Sha256::digest(&lock));
        let root = cache_base().join(&digest[..16]);
        std::fs::create_dir_all(&root).unwrap();
        let dir = root.join(RULE_DIR);
        locked(&root, || {
            refresh(&repo.join(SDK_DIR), &root.join(SDK_DIR));
            refresh(&repo.join(RULE_DIR), &dir);
            if !dir.join("node_modules/.package-lock.json").exists() {
                run(&dir, "npm", &["ci", "--no-audit", "--no-fund"]);
            }
        });
        dir
    })
}

/// A digest of the files under `dir` that a build reads (what
/// [`copy_tree`] copies), in path order.
fn digest_tree(dir: &Path, hasher: &mut Sha256) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if ["node_modules", ".checkrail-rule", "built"].contains(&name.as_str())
            || name.ends_with(".wasm")
        {
            continue;
        }
        hasher.update(name.as_bytes());
        if path.is_dir() {
            digest_tree(&path, hasher);
        } else {
            hasher.update(std::fs::read(&path).unwrap());
        }
    }
}

/// The component, built from source by `npm run build` (componentize-js).
/// Its build is not reproducible (the engine snapshot differs run to run),
/// so one build per state of the sources is kept under
/// `built/<sources digest>/package-fields.wasm`: every test process then
/// loads the same bytes, compiled once into the shared compile cache.
fn component() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = rule_package();
        let root = dir.ancestors().nth(3).unwrap();
        let mut hasher = Sha256::new();
        digest_tree(&root.join(SDK_DIR), &mut hasher);
        digest_tree(dir, &mut hasher);
        let sources = format!("{:x}", hasher.finalize());
        let own = root.join("built").join(&sources[..16]);
        let wasm = own.join("package-fields.wasm");
        locked(root, || {
            if !wasm.exists() {
                let built = run(dir, "npm", &["run", "build"]);
                assert!(built.contains("built package-fields.wasm"), "{built}");
                std::fs::create_dir_all(&own).unwrap();
                std::fs::rename(dir.join("package-fields.wasm"), &wasm).unwrap();
            }
        });
        wasm
    })
}

fn workspace(package_json: &str) -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("package.json"), package_json).unwrap();
    ws
}

fn rule_run(ws: &Path) -> (Option<i32>, Value) {
    let rules_dir = component().parent().unwrap();
    let out = Cli::new(&[
        "rule",
        "run",
        "package-fields",
        "--rules-dir",
        file(rules_dir),
        "--config",
        CONFIG,
        "--workspace",
        file(ws),
        "--json",
    ])
    .output();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "`rule run --json` printed no JSON ({e}): {}{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    (out.status.code(), json)
}

/// `(code, path, line)` of each finding of a JSON report.
fn places(findings: &Value) -> Vec<(String, String, u64)> {
    findings
        .as_array()
        .unwrap_or_else(|| panic!("findings are a list: {findings}"))
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("-").to_owned(),
                f["path"].as_str().unwrap_or("-").to_owned(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Every finding anywhere in a report, wherever the report nests them.
fn all_findings(report: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match report {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "findings" && value.is_array() {
                    out.extend(value.as_array().unwrap().iter().cloned());
                } else {
                    out.extend(all_findings(value));
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| out.extend(all_findings(v))),
        _ => {}
    }
    out
}

#[test]
fn the_typescript_example_passes_its_native_tests() {
    let dir = rule_package();
    let root = dir.ancestors().nth(3).unwrap();
    let (out, sdk) = locked(root, || {
        let out = run(dir, "npm", &["test"]);
        // The SDK's own suite, with the example's tools.
        let sdk = run(
            dir,
            "npx",
            &["checkrail-rule", "test", "../../../sdks/typescript/test"],
        );
        (out, sdk)
    });
    assert!(out.contains("# fail 0"), "{out}");
    assert!(!out.contains("# pass 0"), "the suite ran no test: {out}");
    assert!(
        sdk.contains("# fail 0") && !sdk.contains("# pass 0"),
        "{sdk}"
    );
}

#[test]
fn a_typescript_rule_runs_in_the_host_with_findings_at_their_lines() {
    let wasm = component();
    let listed = Cli::new(&["rule", "list", "--rules-dir", file(wasm.parent().unwrap())]).output();
    let listed_text = text(&listed.stdout);
    assert!(
        listed.status.success() && listed_text.contains("package-fields@0.1.0"),
        "{listed_text}{}",
        text(&listed.stderr)
    );
    assert!(listed_text.contains("api 0.2.0"), "{listed_text}");

    let good = workspace(GOOD);
    let (code, report) = rule_run(good.path());
    assert_eq!(code, Some(0), "{report:#}");
    assert!(all_findings(&report).is_empty(), "{report:#}");

    let bad = workspace(BAD);
    let (code, report) = rule_run(bad.path());
    assert_eq!(code, Some(1), "{report:#}");
    let found = places(&Value::Array(all_findings(&report)));
    let path = "package.json".to_owned();
    assert_eq!(
        found,
        vec![
            ("empty-field".to_owned(), path.clone(), 3),
            ("license-not-allowed".to_owned(), path.clone(), 4),
            ("missing-engines".to_owned(), path, 1),
        ],
        "{report:#}"
    );
    assert!(
        all_findings(&report).iter().any(|f| f["fix_hint"]
            .as_str()
            .is_some_and(|h| h.contains("`MIT`, `Apache-2.0`"))),
        "{report:#}"
    );
}

#[test]
fn a_typescript_rule_travels_in_a_signed_pack_to_another_project() {
    let wasm = component();
    let e = env();
    let pack = e.studio.join("ts-pack");
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::copy(wasm, pack.join("package-fields.wasm")).unwrap();
    std::fs::write(
        pack.join("package-hygiene.yaml"),
        format!(
            "id: package-hygiene\nversion: 1.0.0\nname: Package hygiene\ndescription: package.json says what the project is.\nphases:\n  - id: p\n    name: Describe the package\n    guidance: Fill in package.json.\n    checkpoint:\n      rules:\n        - rule: ts/package-fields@^0.1\n          config: {CONFIG}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        pack.join("pack.toml"),
        "name = \"ts\"\nversion = \"1.0.0\"\ndescription = \"Rules written in TypeScript\"\nlicense = \"Apache-2.0\"\nrules = [\"package-fields.wasm\"]\nworkflows = [\"package-hygiene.yaml\"]\n",
    )
    .unwrap();
    let built = e.ok(&["pack", "build", file(&pack)]);
    let crpack = pack.join("ts-1.0.0.crpack");
    assert!(crpack.exists(), "{built}");
    let (key, public) = e.keygen();
    e.ok(&["pack", "sign", file(&crpack), "--key", file(&key)]);

    let other = e.second_project();
    other.trust(&public, "");
    std::fs::write(other.ws.join("package.json"), BAD).unwrap();
    other.ok(&["pack", "install", file(&crpack)]);
    assert!(
        other
            .ok(&["workflow", "list"])
            .contains("ts/package-hygiene")
    );

    let out = other.check_workflow("ts/package-hygiene");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = places(&Value::Array(all_findings(&report)));
    assert!(
        found.contains(&(
            "license-not-allowed".to_owned(),
            "package.json".to_owned(),
            4
        )),
        "{report:#}"
    );

    std::fs::write(other.ws.join("package.json"), GOOD).unwrap();
    let out = other.check_workflow("ts/package-hygiene");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn rule_new_lang_typescript_tests_builds_and_runs_as_generated() {
    // The example's install fills npm's cache first: the scaffold's own
    // install then reads the pinned packages from it.
    rule_package();
    let dir = tempfile::tempdir().unwrap();
    let out = Cli::new(&["rule", "new", "has-notes", "--lang", "typescript", "--dir"])
        .arg(dir.path())
        .output();
    assert!(out.status.success(), "{}", crate::support::text(&out));
    let project = dir.path().join("has-notes");
    // The project carries the SDK, WIT included as a real file.
    assert!(
        project
            .join("checkrail-rule-sdk/wit/checkrail-rule/rule.wit")
            .is_file()
    );
    run(
        &project,
        "npm",
        &["install", "--prefer-offline", "--no-audit", "--no-fund"],
    );
    let tested = run(&project, "npm", &["test"]);
    assert!(
        tested.contains("# pass 1") && tested.contains("# fail 0"),
        "{tested}"
    );
    let built = run(&project, "npm", &["run", "build"]);
    assert!(built.contains("built has-notes.wasm"), "{built}");
    let ws = tempfile::tempdir().unwrap();
    let check = |ws: &Path| {
        Cli::new(&[
            "rule",
            "run",
            "has-notes",
            "--config",
            r#"{"path": "NOTES.md"}"#,
        ])
        .arg("--rules-dir")
        .arg(&project)
        .workspace(ws)
        .output()
    };
    let out = check(ws.path());
    assert_eq!(out.status.code(), Some(1), "{}", crate::support::text(&out));
    assert!(crate::support::text(&out).contains("`NOTES.md` does not exist"));
    std::fs::write(ws.path().join("NOTES.md"), "notes\n").unwrap();
    assert_eq!(check(ws.path()).status.code(), Some(0));
}
