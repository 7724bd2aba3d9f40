//! The confinement `checkrail run` puts an agent in: Linux Landlock rules
//! that every process the agent starts inherits (its shell, its MCP
//! clients, its hooks) and cannot lift.
//!
//! - **Hidden**: checkrail's state directory (sessions, the key, the
//!   dashboard login, the outcome cache) can be neither read nor written.
//!   Landlock only grants, so "everything but the state" is granted as
//!   every entry of each directory on the way to it, other than the way
//!   itself. Directory listings stay possible everywhere (names, never
//!   contents).
//! - **Writable**: the workspace, the temporary directory, the terminal
//!   and null devices, the toolchain caches and agent homes that exist,
//!   and what the user adds (`--allow-write`). Everything else is
//!   read-only, checkrail's compile cache included.
//! - **Scoped**: a confined process cannot signal (ABI 6) or ptrace a
//!   process outside its domain, which also keeps it out of
//!   `/proc/<pid>/environ` and `/proc/<pid>/mem` of the supervisor.
//!
//! The network is not restricted. Landlock: <https://docs.kernel.org/userspace-api/landlock.html>;
//! the `landlock` crate: <https://docs.rs/landlock>.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The Landlock ABI the rules are written for (Linux 6.12); a newer
/// kernel enforces them as written, an older one as much as it can
/// (recorded: [`Confinement::abi`] is the kernel's).
const RULES_ABI: landlock::ABI = landlock::ABI::V6;

/// Where the rules were made for, and what they allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confinement {
    /// The kernel's Landlock ABI version.
    pub abi: u32,
    /// Paths neither readable nor writable.
    pub hidden: Vec<PathBuf>,
    /// Paths writable beneath.
    pub writable: Vec<PathBuf>,
}

/// Why confinement cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// The kernel has no Landlock (too old, disabled, another OS).
    #[error(
        "this system has no Landlock (Linux 5.13 or later with the `landlock` LSM enabled), so the agent cannot be confined; run it with `checkrail run --unconfined -- …` (its sessions are recorded as unconfined) or enable Landlock (`lsm=landlock,…` on the kernel command line)"
    )]
    Unavailable,
    /// A writable path would expose a hidden one.
    #[error(
        "`{writable}` is to be writable, but it holds checkrail's state `{hidden}`, which the agent must not reach; move the state directory out of it (--state-dir, CHECKRAIL_STATE_DIR) or do not allow writing there"
    )]
    Overlap {
        /// The writable path.
        writable: PathBuf,
        /// The hidden path inside it.
        hidden: PathBuf,
    },
    /// The kernel refused the rules.
    #[error("the kernel refused the confinement: {0}")]
    Refused(String),
}

/// The kernel's Landlock ABI version; `None` without Landlock.
pub fn kernel_abi() -> Option<u32> {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION takes no attribute: a null
    // pointer and size 0 only ask for the version.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    u32::try_from(version).ok().filter(|v| *v >= 1)
}

/// Writable by default, where they exist: devices a terminal program
/// writes, toolchains' download caches and coding agents' own homes.
const DEFAULT_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
    "/dev/shm",
];
const DEFAULT_HOME: &[&str] = &[
    ".cargo/registry",
    ".cargo/git",
    ".npm",
    ".cache/pip",
    ".cache/go-build",
    "go/pkg/mod",
    ".claude",
    ".claude.json",
    ".codex",
    ".gemini",
    ".cursor",
    ".config/github-copilot",
];

impl Confinement {
    /// The rules for an agent working in `workspace`, with checkrail's
    /// state at `hidden` (the state directory, a `--store` file) and the
    /// extra writable paths `allow_write`.
    pub fn plan(
        workspace: &Path,
        hidden: &[&Path],
        allow_write: &[PathBuf],
    ) -> Result<Self, ConfineError> {
        let abi = kernel_abi().ok_or(ConfineError::Unavailable)?;
        let hidden: Vec<PathBuf> = hidden.iter().map(|p| canonical(p)).collect();
        let mut writable = vec![canonical(workspace), canonical(&std::env::temp_dir())];
        writable.extend(DEFAULT_DEVICES.iter().map(PathBuf::from));
        if let Some(home) = dirs::home_dir() {
            writable.extend(DEFAULT_HOME.iter().map(|p| home.join(p)));
        }
        writable.extend(allow_write.iter().map(|p| canonical(p)));
        writable.retain(|p| p.exists());
        writable.sort();
        writable.dedup();
        for w in &writable {
            if let Some(h) = hidden.iter().find(|h| h.starts_with(w)) {
                return Err(ConfineError::Overlap {
                    writable: w.clone(),
                    hidden: h.clone(),
                });
            }
        }
        Ok(Self {
            abi,
            hidden,
            writable,
        })
    }

    /// Confines the calling process (and all it will start) with these
    /// rules. Call it in a process of one thread, right before `exec`.
    pub fn enforce(&self) -> Result<(), ConfineError> {
        use landlock::{
            Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
            path_beneath_rules,
        };
        let refused = |e: landlock::RulesetError| ConfineError::Refused(e.to_string());
        let read = AccessFs::from_read(RULES_ABI);
        let status = Ruleset::default()
            .handle_access(AccessFs::from_all(RULES_ABI))
            .map_err(refused)?
            .scope(Scope::Signal)
            .map_err(refused)?
            .scope(Scope::AbstractUnixSocket)
            .map_err(refused)?
            .create()
            .map_err(refused)?
            .add_rules(path_beneath_rules(readable_around(&self.hidden), read))
            .map_err(refused)?
            .add_rules(path_beneath_rules(
                ancestors(&self.hidden),
                AccessFs::ReadDir,
            ))
            .map_err(refused)?
            .add_rules(path_beneath_rules(
                &self.writable,
                AccessFs::from_all(RULES_ABI),
            ))
            .map_err(refused)?
            .restrict_self()
            .map_err(refused)?;
        if status.ruleset == RulesetStatus::NotEnforced {
            return Err(ConfineError::Unavailable);
        }
        Ok(())
    }

    /// [`Confinement::enforce`] after dropping the capabilities that reach
    /// past a Landlock domain (an agent run as root keeps the rest).
    pub fn enforce_dropping_capabilities(&self) -> Result<(), ConfineError> {
        drop_capabilities()
            .map_err(|e| ConfineError::Refused(format!("drop capabilities: {e}")))?;
        self.enforce()
    }

    /// One line for humans: the ABI and what is writable and hidden.
    pub fn describe(&self) -> String {
        let list = |paths: &[PathBuf]| {
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "confined with Landlock ABI {}: writable {}; hidden {}",
            self.abi,
            list(&self.writable),
            list(&self.hidden)
        )
    }
}

/// Capabilities that let a process reach past its Landlock domain: read
/// another process's memory and environment (`CAP_PERFMON`,
/// `CAP_SYS_ADMIN`: the kernel lets them read any `/proc/<pid>/environ`
/// whatever the LSMs say), trace it (`CAP_SYS_PTRACE`), or reach the
/// kernel (`CAP_BPF`, `CAP_SYS_RAWIO`, `CAP_SYS_MODULE`,
/// `CAP_CHECKPOINT_RESTORE`).
const DROPPED_CAPABILITIES: &[u32] = &[16, 17, 19, 21, 38, 39, 40];

/// Drops [`DROPPED_CAPABILITIES`] from the bounding, effective, permitted
/// and inheritable sets of this process (nothing to do for a process that
/// holds none, as an ordinary user's).
fn drop_capabilities() -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes two `Data` for version 3 into `data`.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let held = data
        .iter()
        .any(|d| d.effective | d.permitted | d.inheritable != 0);
    if !held {
        return Ok(());
    }
    for cap in DROPPED_CAPABILITIES {
        // SAFETY: PR_CAPBSET_DROP takes a capability number; an unknown
        // one (an older kernel) fails with EINVAL, which is ignored.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(*cap), 0, 0, 0) };
        let (word, bit) = ((*cap / 32) as usize, 1u32 << (cap % 32));
        data[word].effective &= !bit;
        data[word].permitted &= !bit;
        data[word].inheritable &= !bit;
    }
    // SAFETY: capset reads the header and two `Data`.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// Every path but those beneath `hidden`, as the fewest paths to grant:
/// each entry of each directory on the way from `/` to a hidden path,
/// other than the way itself.
fn readable_around(hidden: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, hidden: &[PathBuf], out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if hidden.contains(&path) {
                continue;
            }
            // A symlink is granted as what it names only through its
            // target's own place; it is never followed on the way.
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && hidden.iter().any(|h| h.starts_with(&path)) {
                walk(&path, hidden, out);
            } else {
                out.push(path);
            }
        }
    }
    if hidden.is_empty() {
        return vec![PathBuf::from("/")];
    }
    let mut out = Vec::new();
    walk(Path::new("/"), hidden, &mut out);
    out
}

/// The directories on the way to each hidden path (`/` included), listed
/// but not read through.
fn ancestors(hidden: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = hidden
        .iter()
        .flat_map(|h| h.ancestors().skip(1).map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_but_the_hidden_path_is_granted() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for path in ["state/checkrail/key", "state/other", "work/src/lib.rs"] {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), "x").unwrap();
        }
        let hidden = vec![root.join("state/checkrail")];
        let granted = readable_around(&hidden);
        assert!(granted.contains(&root.join("state/other")));
        assert!(granted.contains(&root.join("work")));
        assert!(
            !granted.iter().any(|g| hidden[0].starts_with(g)),
            "{granted:?}"
        );
        assert!(ancestors(&hidden).contains(&root.join("state")));
    }

    #[test]
    fn a_writable_path_that_holds_the_state_is_refused() {
        if kernel_abi().is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("ws/.state");
        std::fs::create_dir_all(&state).unwrap();
        let refused = Confinement::plan(&dir.path().join("ws"), &[&state], &[]);
        assert!(
            matches!(refused, Err(ConfineError::Overlap { .. })),
            "{refused:?}"
        );
    }
}
