//! Toolchain identity: what reaches the programs a rule may run from
//! outside the workspace files, as one text for the outcome cache key:
//!
//! - **environment**: the values of every variable a granted program
//!   receives from the host;
//! - **toolchains**: for each program the rule may run, its resolved path,
//!   the file's identity, and what it says its version is (`cargo` also
//!   asks `rustc -vV`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use checkrail_sandbox::Capability;
use checkrail_sandbox::exec::{self, BASE_ENV, Request};

use super::fingerprints::Fingerprint;
use crate::grants::Granter;

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
    pub fn identity(
        &self,
        root: &Path,
        capabilities: &[Capability],
        granter: Granter<'_>,
    ) -> String {
        let mut text = environment(granter);
        for program in granter.toolchain_programs(capabilities) {
            text.push_str(&self.program(root, program, granter));
            if program == "cargo" {
                text.push_str(&self.program(root, "rustc", granter));
            }
        }
        text
    }

    fn program(&self, root: &Path, program: &str, granter: Granter<'_>) -> String {
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
        let id = format!("{}|{}|{file}|{rustup}", root.display(), resolved.display());
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let version = versions
            .entry(id)
            .or_insert_with(|| ask_version(root, program, granter))
            .clone();
        format!(
            "program {program} at {} {file}: {version}\n",
            resolved.display()
        )
    }
}

fn rustup_settings() -> Option<PathBuf> {
    let home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".rustup")))?;
    Some(home.join("settings.toml"))
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

    #[test]
    fn toolchain_identity_follows_the_program_file_and_granted_env() {
        let ws = tempfile::tempdir().unwrap();
        let grants = crate::config::ExecGrants {
            allow: vec!["sh".to_owned()],
            ..Default::default()
        };
        let granter = Granter::new(&grants);
        let tools = Toolchains::default();
        let with = tools.identity(ws.path(), &[Capability::exec("sh")], granter);
        assert!(with.contains("program sh at "), "{with}");
        let without = tools.identity(ws.path(), &[Capability::exec("cargo")], granter);
        assert!(!without.contains("program sh"), "{without}");
        assert!(with.contains("env PATH="));
    }
}
