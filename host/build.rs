//! Builds the bundled rule plugins (and the test fixture plugins) for
//! `wasm32-wasip2` with a nested cargo, then generates the tables that embed
//! the bundled rules and workflows into the binary, so an installed
//! `checkrail` needs no files beside it. The bundled rules are also
//! precompiled here for the target being built (when it is this machine),
//! so that serving and checking never run the compiler for them.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/runtime/config.rs"]
mod engine_config;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "wasm";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits in the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    link_layout(&out_dir);
    let bundled = crate_dirs(&root.join("plugins"));
    let fixtures = crate_dirs(&root.join("tests/fixtures/plugins"));
    for dir in [
        root.join("plugin-sdk"),
        root.join("sandbox"),
        root.join("plugins"),
        root.join("tests/fixtures/plugins"),
        root.join("workflows"),
    ] {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=CHECKRAIL_PREBUILT_PLUGINS");

    let wasm_dir = match env::var_os("CHECKRAIL_PREBUILT_PLUGINS") {
        Some(dir) => PathBuf::from(dir),
        None => build_plugins(&root, &out_dir, bundled.iter().chain(&fixtures)),
    };
    println!(
        "cargo:rustc-env=CHECKRAIL_PLUGIN_WASM_DIR={}",
        wasm_dir.display()
    );

    let mut rules = String::from(
        "/// Bundled rule components: (rule id, component bytes).\npub static BUNDLED_RULES: &[(&str, &[u8])] = &[\n",
    );
    for (name, _) in &bundled {
        let file = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        assert!(
            file.exists(),
            "bundled rule `{name}` was not built: {} is missing",
            file.display()
        );
        rules.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            file.display().to_string()
        ));
    }
    rules.push_str("];\n");
    rules.push_str(&precompile(&bundled, &wasm_dir, &out_dir));

    let mut workflows = String::from(
        "/// Bundled workflows: (file name, YAML text).\npub static BUNDLED_WORKFLOWS: &[(&str, &str)] = &[\n",
    );
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("workflows"))
        .expect("workflows/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    for file in files {
        let name = file
            .file_name()
            .expect("file has a name")
            .to_string_lossy()
            .into_owned();
        workflows.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            file.display().to_string()
        ));
    }
    workflows.push_str("];\n");
    let sdk = embed_sdk(&root, &out_dir);
    fs::write(out_dir.join("bundled.rs"), rules + &workflows + &sdk).expect("write bundled.rs");
}

/// Each bundled rule's sha256 and, when the binary is built for the machine
/// building it, its code precompiled by wasmtime with the runtime's own
/// engine settings (`src/runtime/config.rs`), as `BUNDLED_BUILT`. The
/// runtime loads an artifact only when its engine id equals the engine's
/// own (same wasmtime, settings and CPU features) and compiles otherwise.
/// A cross build embeds no artifacts: the CPU features this script's
/// engine detects are the build machine's, not the target's.
fn precompile(bundled: &[(String, PathBuf)], wasm_dir: &Path, out_dir: &Path) -> String {
    use sha2::Digest;
    let native = env::var("TARGET").ok() == env::var("HOST").ok();
    let engine = native.then(|| {
        wasmtime::Engine::new(&engine_config::compile_config())
            .expect("a wasmtime engine to precompile the bundled rules")
    });
    let engine_id = engine.as_ref().map(engine_config::engine_id);
    let mut out = String::from(
        "/// The bundled rules as built: their sha256 and, for a native build, their precompiled code.\npub static BUNDLED_BUILT: &[Built] = &[\n",
    );
    for (name, _) in bundled {
        let file = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        let wasm = fs::read(&file).expect("read a bundled rule component");
        let digest = hex(&sha2::Sha256::digest(&wasm));
        let artifact = match (&engine, &engine_id) {
            (Some(engine), Some(id)) => {
                let compiled = engine
                    .precompile_component(&wasm)
                    .unwrap_or_else(|e| panic!("precompiling bundled rule `{name}`: {e}"));
                let path = out_dir.join(format!("{name}.cwasm"));
                fs::write(&path, compiled).expect("write a precompiled rule");
                format!(
                    "Some(Artifact {{ engine: {id:?}, code: include_bytes!({:?}) }})",
                    path.display().to_string()
                )
            }
            _ => "None".to_owned(),
        };
        out.push_str(&format!(
            "    Built {{ name: {name:?}, digest: {digest:?}, artifact: {artifact} }},\n"
        ));
    }
    out.push_str("];\n");
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SDK's source, for `checkrail rule new` outside a checkout: every file
/// under `plugin-sdk/src` and `plugin-sdk/wit`, its README, and a
/// `Cargo.toml` made standalone (the workspace's inherited fields written
/// out), as `SDK_SOURCE: &[(path, bytes)]`. The sandbox crate the SDK
/// depends on travels with it, in `sandbox/`, and the SDK's manifest points
/// there.
fn embed_sdk(root: &Path, out_dir: &Path) -> String {
    let workspace = fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    let sdk = root.join("plugin-sdk");
    let sandbox = root.join("sandbox");
    let version = workspace_value(&workspace, "workspace.package", "version");
    let carried = [(
        "checkrail-sandbox",
        format!("{{ path = \"sandbox\", version = {version} }}"),
    )];
    let mut files = Vec::new();
    for (krate, prefix, overrides) in [(&sdk, "", &carried[..]), (&sandbox, "sandbox/", &[])] {
        let manifest = standalone_manifest(
            &fs::read_to_string(krate.join("Cargo.toml")).expect("read a crate's Cargo.toml"),
            &workspace,
            overrides,
        );
        let name = krate
            .file_name()
            .expect("a crate directory")
            .to_string_lossy();
        let manifest_file = out_dir.join(format!("{name}-Cargo.toml"));
        fs::write(&manifest_file, manifest).expect("write a standalone Cargo.toml");
        files.push((format!("{prefix}Cargo.toml"), manifest_file));
        files.push((format!("{prefix}README.md"), krate.join("README.md")));
        let mut pending: Vec<PathBuf> = ["src", "wit"]
            .iter()
            .map(|sub| krate.join(sub))
            .filter(|dir| dir.is_dir())
            .collect();
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir)
                .expect("read a crate's source dir")
                .flatten()
            {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let rel = path
                        .strip_prefix(krate)
                        .expect("under the crate")
                        .to_string_lossy()
                        .replace('\\', "/");
                    files.push((format!("{prefix}{rel}"), path));
                }
            }
        }
    }
    files.sort();
    let mut out = String::from(
        "/// The SDK's source for scaffolds outside a checkout: (relative path, bytes).\npub static SDK_SOURCE: &[(&str, &[u8])] = &[\n",
    );
    for (rel, path) in files {
        out.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    out
}

/// The value of `key` in the `[table]` of the workspace manifest.
fn workspace_value(workspace: &str, table: &str, key: &str) -> String {
    workspace_table(workspace, table)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("workspace value `{key}` missing"))
}

/// The `key = value` lines of the `[name]` table of the workspace manifest.
fn workspace_table(workspace: &str, name: &str) -> Vec<(String, String)> {
    let header = format!("[{name}]");
    workspace
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// `manifest` (a member's) with every `x.workspace = true` replaced by the
/// workspace's value (or by its entry in `overrides`) and the `[lints]`
/// table dropped.
fn standalone_manifest(manifest: &str, workspace: &str, overrides: &[(&str, String)]) -> String {
    let package = workspace_table(workspace, "workspace.package");
    let deps = workspace_table(workspace, "workspace.dependencies");
    let lookup = |from: &[(String, String)], key: &str| {
        if let Some((_, value)) = overrides.iter().find(|(k, _)| *k == key) {
            return value.clone();
        }
        from.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("workspace value `{key}` missing"))
    };
    let mut out = String::new();
    let mut section = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_owned();
            if section == "[lints]" {
                continue;
            }
        }
        if section == "[lints]" {
            continue;
        }
        match trimmed.strip_suffix(".workspace = true") {
            Some(key) if section == "[package]" => {
                out.push_str(&format!("{key} = {}\n", lookup(&package, key)));
            }
            Some(key) => out.push_str(&format!("{key} = {}\n", lookup(&deps, key))),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// (package name, crate dir) of every crate directly under `dir`.
fn crate_dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name = ")
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
        found.push((name, entry.path()));
    }
    found.sort();
    found
}

fn build_plugins<'a>(
    root: &Path,
    out_dir: &Path,
    crates: impl Iterator<Item = &'a (String, PathBuf)>,
) -> PathBuf {
    // A target dir of its own, beside cargo's: the outer build holds the lock
    // on its own profile directory while this script runs. One per checkout,
    // so that two clones sharing a CARGO_TARGET_DIR never hand each other
    // components built from the other's sources.
    let checkout = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        root.hash(&mut hasher);
        hasher.finish()
    };
    let target_dir = target_dir_of(out_dir).join(format!("checkrail-wasm-{checkout:016x}"));
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
            "--target-dir",
        ])
        .arg(&target_dir);
    for (name, _) in crates {
        cmd.args(["-p", name]);
    }
    // Scrub what the outer cargo set for this build script and what wrappers
    // (clippy, coverage) inject, so the nested build is a plain one.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_")
            && !matches!(
                key.as_ref(),
                "CARGO_HOME" | "CARGO_NET_OFFLINE" | "CARGO_MAKEFLAGS"
            )
            || key.starts_with("RUSTC_")
            || key.starts_with("DEP_")
            || matches!(
                key.as_ref(),
                "RUSTFLAGS"
                    | "RUSTDOCFLAGS"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
                    | "NUM_JOBS"
                    | "RUSTC"
                    | "RUSTDOC"
            )
        {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd.status().expect("run cargo to build the wasm plugins");
    if !status.success() {
        let installed = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(TARGET))
            .unwrap_or(true);
        if !installed {
            panic!(
                "the {TARGET} target is not installed; run `rustup target add {TARGET}` and build again"
            );
        }
        panic!("building the wasm plugins failed (see the cargo output above)");
    }
    target_dir.join(TARGET).join(PROFILE)
}

/// The `target/` directory that holds `OUT_DIR` (`target/<profile>/build/<pkg>/out`).
fn target_dir_of(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent())
        .and_then(|profile| profile.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("target"))
}

/// Set to `1` to link the binaries position-independent (see
/// [`link_layout`]).
const PIE_VAR: &str = "CHECKRAIL_PIE";

/// How the binaries are linked, for what every process pays before `main`
/// (each hook call, each `checkrail check`, each server start).
///
/// By default the binary is linked at a fixed address (`-no-pie`): a
/// position-independent binary of this size has 1.2 MB of pointers in
/// `.data.rel.ro` (vtables, tables of strings) that the dynamic loader
/// rewrites at every start, copying each of those ~300 pages on a write
/// fault, which perf put at 40 % of `checkrail --version`. At a fixed
/// address the linker resolves them and the pages stay shared in the page
/// cache. `CHECKRAIL_PIE=1` keeps a position-independent executable
/// (address randomization of the binary itself) for a distribution whose
/// policy asks for one; it is then linked with packed relative relocations
/// (`DT_RELR`, ld's `-z pack-relative-relocs`, binutils 2.38 and glibc
/// 2.36 on; <https://sourceware.org/binutils/docs/ld/Options.html>), so the
/// loader reads 21 KB instead of 2 MB of `.rela.dyn`. Either is probed
/// with the C compiler cargo links through, so a toolchain without it
/// builds as before.
fn link_layout(out_dir: &Path) {
    println!("cargo:rerun-if-env-changed={PIE_VAR}");
    let target = env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") || env::var("HOST").ok().as_deref() != Some(&target) {
        return;
    }
    let pie = env::var(PIE_VAR).is_ok_and(|v| v == "1");
    let flag = if pie {
        "-Wl,-z,pack-relative-relocs"
    } else {
        "-no-pie"
    };
    if links_and_runs(out_dir, flag) {
        println!("cargo:rustc-link-arg-bins={flag}");
    }
}

/// Whether a tiny C program links with `flag` (warnings fatal) and runs.
fn links_and_runs(out_dir: &Path, flag: &str) -> bool {
    let source = out_dir.join("link-probe.c");
    let binary = out_dir.join("link-probe");
    if fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let linked = Command::new(env::var("CC").unwrap_or_else(|_| "cc".to_owned()))
        .arg(flag)
        .arg("-Wl,--fatal-warnings")
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .output()
        .is_ok_and(|out| out.status.success());
    linked && Command::new(&binary).status().is_ok_and(|s| s.success())
}
