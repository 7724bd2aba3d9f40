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

/// What Python prints to name its site directories: each line one.
const SITE_DIRS: &str = "import site\nfor d in [*getattr(site, 'getsitepackages', lambda: [])(), site.getusersitepackages()]: print(d)";

/// Whether `program` (a name or path) is a Python interpreter.
fn is_python(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program);
    name.strip_prefix("python")
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Globs of the files in the site directories of the Pythons among
/// `programs` that run before any test does: `.pth` files (Python runs
/// their `import` lines at every start, whatever the script) and installed
/// packages' entry points (pytest loads every `pytest11` plugin they name).
/// They judge as much as a `conftest.py`, and they live outside the
/// workspace, so the globs are absolute (see `frozen`). Each Python is asked
/// where its site directories are, as a granted program runs; one that
/// does not answer adds nothing.
pub fn interpreter_globs(root: &Path, granter: Granter<'_>, programs: &[&str]) -> Vec<String> {
    let mut globs = Vec::new();
    for program in programs.iter().filter(|p| is_python(p)) {
        let mut policy = granter.host_policy(program);
        policy.max_output = 64 * 1024;
        let args = ["-c".to_owned(), SITE_DIRS.to_owned()];
        let deadline = Instant::now() + Duration::from_secs(10);
        let Ok(out) = exec::run(
            root,
            &policy,
            &Request::new(program, &args),
            deadline,
            &|| false,
        ) else {
            continue;
        };
        for glob in site_globs(&out.stdout.text) {
            if !globs.contains(&glob) {
                globs.push(glob);
            }
        }
    }
    globs
}

/// The globs of the judging files in the site directories Python printed
/// (one per line; those that do not exist are left out).
fn site_globs(printed: &str) -> Vec<String> {
    let mut globs = Vec::new();
    for dir in printed.lines().map(str::trim).filter(|d| !d.is_empty()) {
        let Ok(dir) = Path::new(dir).canonicalize() else {
            continue;
        };
        let dir = crate::frozen::literal_glob(&dir.to_string_lossy());
        for pattern in ["*.pth", "*.dist-info/entry_points.txt"] {
            globs.push(format!("{dir}/{pattern}"));
        }
    }
    globs
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
    fn a_pth_file_planted_in_the_interpreter_is_a_judging_change() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let made = std::process::Command::new("python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipped: python3 cannot make a venv here");
            return;
        }
        // Asked as `interpreter_globs` asks a granted Python on PATH.
        let printed = std::process::Command::new(venv.join("bin/python3"))
            .args(["-c", SITE_DIRS])
            .output()
            .unwrap();
        let globs = site_globs(&String::from_utf8_lossy(&printed.stdout));
        assert!(
            globs.iter().any(|g| g.ends_with("site-packages/*.pth")),
            "{globs:?}"
        );
        let before = crate::frozen::snapshot(dir.path(), &globs);
        let site = std::fs::read_dir(venv.join("lib"))
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path()
            .join("site-packages");
        // Runs at every interpreter start, whatever the test.
        let planted = site.join("zz_tests_pass.pth");
        std::fs::write(&planted, "import os\n").unwrap();
        let stats = crate::frozen::stats(dir.path(), &globs);
        let now = crate::frozen::snapshot(dir.path(), &globs);
        let key = planted
            .canonicalize()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(
            crate::frozen::compare(&before, &now, true),
            [crate::frozen::Change::Added(key.clone())]
        );
        assert!(stats.contains_key(&key), "{stats:?}");
        // A package whose entry points name a pytest plugin.
        let dist = site.join("evil-1.0.dist-info");
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("entry_points.txt"), "[pytest11]\nevil = evil\n").unwrap();
        let later = crate::frozen::snapshot(dir.path(), &globs);
        assert_eq!(later.len(), now.len() + 1, "{later:?}");
        // The Python on PATH is asked as a granted program; `cargo` is not
        // a Python and is not asked.
        let grants = crate::config::ExecGrants::default();
        let asked = interpreter_globs(dir.path(), Granter::new(&grants), &["python3", "cargo"]);
        assert!(asked.iter().all(|g| g.starts_with('/')), "{asked:?}");
        assert!(!asked.is_empty());
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
