//! Trusted state: the per-user directory that holds what judges a workspace
//! (sessions, the outcome cache, file fingerprints) and the key that
//! authenticates it. It lives outside every workspace, so an agent confined
//! to the project directory cannot reach it, and everything in it is
//! authenticated with a per-user key, so an edit by anyone else shows.
//!
//! Layout: `<root>/key` (32 random bytes, 0600) and one directory per
//! workspace, `<root>/workspaces/<sha256 of the canonical path, 16 hex>/`,
//! holding `sessions.db`, `outcomes.db`, `fingerprints` and `path` (the
//! workspace it belongs to, for humans). Directories are 0700, files 0600.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Environment variable that overrides the state directory.
pub const ENV: &str = "CHECKRAIL_STATE_DIR";

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No directory could be chosen (no `$HOME`).
    #[error(
        "find a state directory: neither --state-dir, ${ENV}, $XDG_STATE_HOME nor $HOME is set"
    )]
    NoHome,
    /// A filesystem operation failed.
    #[error("{what} `{}`", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The directory or key is not private to this user.
    #[error(
        "use state `{}`: {reason}; it must belong to you and be private (chmod 700 for directories, 600 for files)",
        path.display()
    )]
    NotPrivate {
        /// The offending path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Something other than a directory sits where the state directory
    /// keeps one: it was changed by something other than checkrail.
    #[error(
        "use state `{}`: it is not a directory, but checkrail keeps one there; move it away and run again",
        path.display()
    )]
    NotADirectory {
        /// The offending path.
        path: PathBuf,
    },
    /// The key file has the wrong size.
    #[error(
        "read the state key `{}`: it is {len} bytes, not 32; it was damaged — move it away to start a new key (existing records will then fail verification)",
        path.display()
    )]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
}

impl StateError {
    /// What kind of failure this is: where the directory is or who may use
    /// it is the user's to fix; a failed read or write, or a damaged key,
    /// is an I/O failure.
    pub fn kind(&self) -> crate::exit::Kind {
        use crate::exit::Kind;
        match self {
            StateError::NoHome | StateError::NotPrivate { .. } => Kind::Usage,
            StateError::Io { .. }
            | StateError::NotADirectory { .. }
            | StateError::BadKey { .. } => Kind::Io,
        }
    }
}

type Result<T, E = StateError> = std::result::Result<T, E>;

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// The per-user state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The directory to use: `explicit` (`--state-dir`), else
    /// `$CHECKRAIL_STATE_DIR`, else `$XDG_STATE_HOME/checkrail`, else
    /// `~/.local/state/checkrail`. Created private if missing.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self> {
        let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let root = match explicit {
            Some(dir) => dir.to_owned(),
            None => match non_empty(ENV) {
                Some(dir) => PathBuf::from(dir),
                None => match non_empty("XDG_STATE_HOME") {
                    Some(dir) => PathBuf::from(dir).join("checkrail"),
                    None => dirs::home_dir()
                        .ok_or(StateError::NoHome)?
                        .join(".local/state/checkrail"),
                },
            },
        };
        Self::at(&root)
    }

    /// Uses `root`, creating it (0700) if needed and refusing a directory
    /// that another user owns or others can write.
    pub fn at(root: &Path) -> Result<Self> {
        private_dir(root, false)?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The authentication key, created on first use.
    pub fn key(&self) -> Result<StateKey> {
        let path = self.root.join("key");
        match std::fs::symlink_metadata(&path) {
            Ok(meta) => {
                check_private(&path, &meta, 0o077)?;
                let bytes = std::fs::read(&path).map_err(io("read the state key", &path))?;
                let key: [u8; 32] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| StateError::BadKey {
                            path: path.clone(),
                            len: bytes.len(),
                        })?;
                Ok(StateKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.create_key(&path),
            Err(e) => Err(io("look at the state key", &path)(e)),
        }
    }

    fn create_key(&self, path: &Path) -> Result<StateKey> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| {
            io("make a random state key", path)(std::io::Error::other(e.to_string()))
        })?;
        // Written to a private temporary file and linked into place, so two
        // processes starting at once agree on one key.
        let tmp = self
            .root
            .join(format!(".key.{}", uuid::Uuid::new_v4().simple()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("write the state key", &tmp))?;
        file.write_all(&key)
            .and_then(|()| file.sync_all())
            .map_err(io("write the state key", &tmp))?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(StateKey(key)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => self.key(),
            Err(e) => Err(io("write the state key", path)(e)),
        }
    }

    /// The private directory of one workspace (by its canonical path).
    pub fn workspace_dir(&self, workspace: &Path) -> Result<PathBuf> {
        let digest = hex::encode(Sha256::digest(workspace.as_os_str().as_encoded_bytes()));
        let dir = self.root.join("workspaces").join(&digest[..16]);
        private_dir(&self.root.join("workspaces"), true)?;
        private_dir(&dir, true)?;
        let label = dir.join("path");
        if !label.exists() {
            write_private(&label, workspace.to_string_lossy().as_bytes())?;
        }
        Ok(dir)
    }
}

/// Writes a file readable by this user only, atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", uuid::Uuid::new_v4().simple()));
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io("write", path))
}

/// Makes sure a database file (and its WAL companions) are 0600.
pub fn restrict_file(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600));
    }
}

/// `dir`, created private if missing. Not a directory: the user's mistake
/// for the root they named, damage to the state for one `inside` it.
fn private_dir(dir: &Path, inside: bool) -> Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() && inside {
                return Err(StateError::NotADirectory {
                    path: dir.to_owned(),
                });
            }
            if !meta.is_dir() {
                return Err(StateError::NotPrivate {
                    path: dir.to_owned(),
                    reason: "it is not a directory".to_owned(),
                });
            }
            check_private(dir, &meta, 0o022)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("create the state directory", dir)),
        Err(e) => Err(io("look at the state directory", dir)(e)),
    }
}

/// Refuses a path owned by someone else or with any of `forbidden` mode bits.
fn check_private(path: &Path, meta: &std::fs::Metadata, forbidden: u32) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(StateError::NotPrivate {
            path: path.to_owned(),
            reason: format!("it belongs to user {}, not to you ({me})", meta.uid()),
        });
    }
    if meta.mode() & forbidden != 0 {
        return Err(StateError::NotPrivate {
            path: path.to_owned(),
            reason: format!("its mode is {:o}", meta.mode() & 0o777),
        });
    }
    Ok(())
}

/// The per-user key that authenticates records (HMAC-SHA256).
#[derive(Clone)]
pub struct StateKey([u8; 32]);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(..)")
    }
}

impl StateKey {
    /// A key for tests and benchmarks.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn mac(&self, domain: &str, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in std::iter::once(domain.as_bytes()).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac
    }

    /// The tag of `parts` under `domain` (each part length-prefixed, so
    /// boundaries count), in hex.
    pub fn tag(&self, domain: &str, parts: &[&[u8]]) -> String {
        hex::encode(self.mac(domain, parts).finalize().into_bytes())
    }

    /// Whether `tag` is the tag of `parts`, compared in constant time.
    pub fn verify(&self, domain: &str, parts: &[&[u8]], tag: &str) -> bool {
        hex::decode(tag).is_ok_and(|tag| self.mac(domain, parts).verify_slice(&tag).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_directories_and_one_key() {
        let base = tempfile::tempdir().unwrap();
        let state = StateDir::at(&base.path().join("state")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(state.root()), 0o700);
        let key = state.key().unwrap();
        assert_eq!(mode(&state.root().join("key")), 0o600);
        let again = state.key().unwrap();
        assert_eq!(key.tag("t", &[b"x"]), again.tag("t", &[b"x"]));
        let ws = state.workspace_dir(Path::new("/some/project")).unwrap();
        assert_eq!(mode(&ws), 0o700);
        assert_eq!(mode(&ws.join("path")), 0o600);
        assert_ne!(ws, state.workspace_dir(Path::new("/other")).unwrap());
    }

    #[test]
    fn refuses_shared_directories_and_keys() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("state");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = StateDir::at(&root).unwrap_err().to_string();
        assert!(err.contains("mode is 777"), "{err}");
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
        let state = StateDir::at(&root).unwrap();
        state.key().unwrap();
        std::fs::set_permissions(root.join("key"), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(state.key().unwrap_err().to_string().contains("mode is 644"));
    }

    #[test]
    fn tags_bind_every_part_and_its_boundaries() {
        let key = StateKey::from_bytes([7; 32]);
        let tag = key.tag("d", &[b"ab", b"c"]);
        assert!(key.verify("d", &[b"ab", b"c"], &tag));
        assert!(!key.verify("d", &[b"a", b"bc"], &tag));
        assert!(!key.verify("e", &[b"ab", b"c"], &tag));
        assert!(!StateKey::from_bytes([8; 32]).verify("d", &[b"ab", b"c"], &tag));
        assert!(!key.verify("d", &[b"ab", b"c"], "zz"));
    }
}
