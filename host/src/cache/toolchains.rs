//! Toolchain identity: what reaches the programs a rule may run from
//! outside the workspace files, as one text for the outcome cache key:
//!
//! - **environment**: the values of every variable a granted program
//!   receives from the host;
//! - **toolchains**: for each program the rule may run, its resolved path,
//!   the file's identity, and what it says its version is (`cargo` also
//!   asks `rustc -vV`);
//! - **selectors**: the files that choose which toolchain a shim or proxy
//!   runs (`rust-toolchain.toml`, `.python-version`, `.tool-versions`, …,
//!   in the workspace and its parents; rustup's settings and installed
//!   toolchains; pyenv's global version).
//!
//! Asking a version costs a process (through a pyenv shim, a cascade of
//! them: tens of milliseconds), paid on every hook call. So the answer is
//! remembered in the outcome store, authenticated like an outcome, under
//! everything that could change it: the program's path and file identity,
//! the environment it gets, and the selectors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use checkrail_sandbox::Capability;
use checkrail_sandbox::exec::{self, BASE_ENV, Request};

use super::fingerprints::Fingerprint;
use super::store::OutcomeCache;
use crate::grants::Granter;

/// Files that choose a toolchain version, looked for in the workspace root
/// and each of its parents (rustup, pyenv, asdf/mise, nvm/fnm, goenv).
const SELECTOR_FILES: &[&str] = &[
    "rust-toolchain",
    "rust-toolchain.toml",
    ".python-version",
    ".tool-versions",
    ".mise.toml",
    ".nvmrc",
    ".node-version",
    ".go-version",
];

/// Identities of the programs a rule may run and the environment they get,
/// as one text for the cache key. Version answers are remembered per
/// program file identity, so a warm server asks each toolchain once.
#[derive(Default)]
pub struct Toolchains {
    versions: Mutex<HashMap<String, String>>,
}

impl Toolchains {
    /// What reaches the programs of a rule that declares `capabilities`
    /// from outside the workspace files, under `granter`, run from `root`.
    /// Version answers are looked up in (and added to) `memo`.
    pub fn identity(
        &self,
        root: &Path,
        capabilities: &[Capability],
        granter: Granter<'_>,
        memo: Option<&OutcomeCache>,
    ) -> String {
        let programs = granter.toolchain_programs(capabilities);
        let mut context = environment(granter);
        if programs.is_empty() {
            return context;
        }
        context.push_str(&selectors(root));
        let asked = Asked {
            root,
            granter,
            memo,
            context: &context,
        };
        let mut text = context.clone();
        for program in programs {
            text.push_str(&self.program(&asked, program));
            if program == "cargo" {
                text.push_str(&self.program(&asked, "rustc"));
            }
        }
        text
    }

    fn program(&self, asked: &Asked<'_>, program: &str) -> String {
        let root = asked.root;
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        let Some(found) = exec::find_on_path(program, &path_var) else {
            return format!("program {program} not found\n");
        };
        let resolved = found.canonicalize().unwrap_or(found);
        let file = std::fs::metadata(&resolved)
            .map(|m| format!("{:?}", Fingerprint::of(&m)))
            .unwrap_or_default();
        // rustup proxies stay the same file when the default toolchain
        // changes; its settings file does not.
        let rustup = rustup_settings()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| format!("{:?}", Fingerprint::of(&m)))
            .unwrap_or_default();
        let id = format!(
            "{}|{}|{file}|{rustup}|{}",
            root.display(),
            resolved.display(),
            asked.context
        );
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let version = versions
            .entry(id)
            .or_insert_with_key(|id| asked.version(id, program))
            .clone();
        format!(
            "program {program} at {} {file}: {version}\n",
            resolved.display()
        )
    }
}

/// What one identity is taken under: where, with which grants, the
/// stored answers, and the environment and selectors already read.
struct Asked<'a> {
    root: &'a Path,
    granter: Granter<'a>,
    memo: Option<&'a OutcomeCache>,
    context: &'a str,
}

impl Asked<'_> {
    /// The version answer of the program identified by `id`: stored, or
    /// asked and stored.
    fn version(&self, id: &str, program: &str) -> String {
        if let Some(known) = self.memo.and_then(|m| m.version(id)) {
            return known;
        }
        let answer = ask_version(self.root, program, self.granter);
        if let Some(memo) = self.memo {
            memo.put_version(id, &answer);
        }
        answer
    }
}

fn rustup_home() -> Option<PathBuf> {
    std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".rustup")))
}

fn rustup_settings() -> Option<PathBuf> {
    Some(rustup_home()?.join("settings.toml"))
}

/// One `selector PATH FINGERPRINT` line for each file that chooses a
/// toolchain version and exists: [`SELECTOR_FILES`] in `root` and its
/// parents, rustup's installed toolchains (the directory changes when one
/// is installed or updated) and pyenv's global version file.
fn selectors(root: &Path) -> String {
    let mut paths: Vec<PathBuf> = root
        .ancestors()
        .flat_map(|dir| SELECTOR_FILES.iter().map(move |f| dir.join(f)))
        .collect();
    paths.extend(rustup_home().map(|h| h.join("toolchains")));
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".pyenv")));
    paths.extend(pyenv.map(|p| p.join("version")));
    let mut text = String::new();
    for path in paths {
        if let Ok(meta) = std::fs::metadata(&path) {
            text.push_str(&format!(
                "selector {} {:?}\n",
                path.display(),
                Fingerprint::of(&meta)
            ));
        }
    }
    text
}

/// `<program> --version` (`rustc -vV`), run like a granted program.
fn ask_version(root: &Path, program: &str, granter: Granter<'_>) -> String {
    let flag = if program == "rustc" {
        "-vV"
    } else {
        "--version"
    };
    let mut policy = granter.host_policy(program);
    policy.max_output = 64 * 1024;
    let args = [flag.to_owned()];
    let deadline = Instant::now() + Duration::from_secs(10);
    match exec::run(
        root,
        &policy,
        &Request::new(program, &args),
        deadline,
        &|| false,
    ) {
        Ok(out) => format!(
            "exit {:?} {}{}",
            out.exit_code,
            out.stdout.text.trim(),
            out.stderr.text.trim()
        ),
        Err(e) => format!("unknown ({e:?})"),
    }
}

/// The values of the variables a granted program receives from the host:
/// `exec`'s base variables and the workspace's `[exec] env`, one
/// `env NAME=value` line each, sorted by name.
fn environment(granter: Granter<'_>) -> String {
    let mut text = String::new();
    let mut names: Vec<&str> = BASE_ENV.to_vec();
    names.extend(granter.env().iter().map(String::as_str));
    names.sort_unstable();
    names.dedup();
    for name in names {
        let value = std::env::var_os(name).unwrap_or_default();
        text.push_str(&format!("env {name}={}\n", value.to_string_lossy()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grants that let rules run `sh`.
    fn sh_granted() -> crate::config::ExecGrants {
        crate::config::ExecGrants {
            allow: vec!["sh".to_owned()],
            ..Default::default()
        }
    }

    #[test]
    fn toolchain_identity_follows_the_program_file_and_granted_env() {
        let ws = tempfile::tempdir().unwrap();
        let grants = sh_granted();
        let granter = Granter::new(&grants);
        let tools = Toolchains::default();
        let with = tools.identity(ws.path(), &[Capability::exec("sh")], granter, None);
        assert!(with.contains("program sh at "), "{with}");
        let without = tools.identity(ws.path(), &[Capability::exec("cargo")], granter, None);
        assert!(!without.contains("program sh"), "{without}");
        assert!(with.contains("env PATH="));
    }

    #[test]
    fn a_version_selector_changes_the_identity() {
        let ws = tempfile::tempdir().unwrap();
        let grants = sh_granted();
        let granter = Granter::new(&grants);
        let tools = Toolchains::default();
        let caps = [Capability::exec("sh")];
        let before = tools.identity(ws.path(), &caps, granter, None);
        std::fs::write(ws.path().join(".python-version"), "3.11\n").unwrap();
        let after = tools.identity(ws.path(), &caps, granter, None);
        assert_ne!(before, after);
        assert!(after.contains(".python-version"), "{after}");
    }

    #[test]
    fn a_version_is_asked_once_across_processes_and_a_forged_one_is_not_believed() {
        let ws = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let grants = sh_granted();
        let granter = Granter::new(&grants);
        let caps = [Capability::exec("sh")];
        let path = state.path().join("outcomes.db");
        let memo = OutcomeCache::open(&path, crate::trusted::StateKey::from_bytes([5; 32]));
        let first = Toolchains::default().identity(ws.path(), &caps, granter, memo.as_ref());
        // A later process (a fresh memory) reads the stored answer.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let stored: i64 = conn
            .query_row("SELECT COUNT(*) FROM versions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 1);
        let again = Toolchains::default().identity(ws.path(), &caps, granter, memo.as_ref());
        assert_eq!(first, again);
        // An answer edited outside checkrail is asked again, not used.
        conn.execute("UPDATE versions SET version = 'sh 99'", [])
            .unwrap();
        let asked = Toolchains::default().identity(ws.path(), &caps, granter, memo.as_ref());
        assert_eq!(first, asked);
        assert!(!asked.contains("sh 99"));
    }
}
