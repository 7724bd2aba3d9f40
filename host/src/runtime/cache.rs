//! On-disk cache of compiled components, keyed by the component's sha256 and
//! the engine's compatibility hash, so a second start does not recompile.
//!
//! Only artifacts this process family wrote are loaded: the cache directory
//! is created private to the user (0700) and refused if anyone else can
//! write to it, every artifact is written atomically beside a sha256 of its
//! bytes, and an artifact whose bytes do not match is recompiled.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from on this load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheStatus {
    /// Compiled now and stored.
    Compiled,
    /// Loaded from the cache.
    Cached,
    /// Compiled now; the cache is disabled or unusable.
    Uncached,
    /// Described from what the cache remembers; the code is read and
    /// linked only if the rule runs.
    Described,
    /// A bundled rule's code, precompiled when checkrail was built.
    Precompiled,
}

/// The compile cache.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

impl ComponentCache {
    /// A cache in `dir`, or no cache with `None`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        let dir = dir.and_then(|dir| match prepare(&dir) {
            Ok(()) => Some(dir),
            Err(reason) => {
                tracing::warn!("not using compile cache {}: {reason}", dir.display());
                None
            }
        });
        Self { dir }
    }

    /// The default location: `$CHECKRAIL_CACHE_DIR`, else the user's cache
    /// directory (`~/.cache/checkrail/components` on Linux).
    pub fn default_dir() -> Option<PathBuf> {
        match std::env::var_os("CHECKRAIL_CACHE_DIR") {
            Some(dir) if dir.is_empty() => None,
            Some(dir) => Some(PathBuf::from(dir)),
            None => dirs::cache_dir().map(|d| d.join("checkrail").join("components")),
        }
    }

    /// The directory in use, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Where the description of the component whose sha256 is `digest` is
    /// kept, beside its compiled artifacts; `None` without a cache. Named by
    /// the digest alone: what a component says about itself depends on its
    /// bytes, not on the engine, so reading it needs no engine.
    pub(crate) fn description_file(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{digest}.describe.json")))
    }

    /// Compiles `bytes` (whose sha256 is `digest`) or loads it from the cache.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: &str,
    ) -> wasmtime::Result<(Component, CacheStatus)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, bytes)?, CacheStatus::Uncached));
        };
        let stem = stem(engine, digest);
        let artifact = dir.join(format!("{stem}.cwasm"));
        let seal = dir.join(format!("{stem}.sha256"));

        if let (Ok(compiled), Ok(expected)) =
            (std::fs::read(&artifact), std::fs::read_to_string(&seal))
        {
            if hex::encode(Sha256::digest(&compiled)) == expected.trim() {
                // SAFETY: the artifact was produced by `precompile_component`
                // of an engine with the same compatibility hash, written by
                // this program into a directory only this user can write, and
                // its bytes match the sha256 recorded when it was written.
                match unsafe { Component::deserialize(engine, &compiled) } {
                    Ok(component) => return Ok((component, CacheStatus::Cached)),
                    Err(e) => tracing::warn!(
                        "recompiling {}: cached artifact unusable: {e}",
                        artifact.display()
                    ),
                }
            } else {
                tracing::warn!(
                    "recompiling {}: cached artifact does not match its seal",
                    artifact.display()
                );
            }
        }

        let compiled = engine.precompile_component(bytes)?;
        // SAFETY: these bytes were just produced by `precompile_component`
        // on this very engine.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        if let Err(e) = store(&artifact, &seal, &compiled) {
            tracing::warn!(
                "could not store compiled component in {}: {e}",
                dir.display()
            );
            return Ok((component, CacheStatus::Uncached));
        }
        Ok((component, CacheStatus::Compiled))
    }
}

/// The name of a component's files in the cache: its sha256 and the
/// engine's compatibility hash.
fn stem(engine: &Engine, digest: &str) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{digest}-{:016x}", hasher.finish())
}

fn store(artifact: &Path, seal: &Path, compiled: &[u8]) -> std::io::Result<()> {
    write_atomically(artifact, compiled)?;
    write_atomically(seal, hex::encode(Sha256::digest(compiled)).as_bytes())
}

/// Writes `bytes` to a temporary file beside `path`, synced, then renames
/// it over `path`: a reader sees the old file or the new one, whole.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let (tmp, mut file) = tempfile_in(dir)?;
    let written = std::io::Write::write_all(&mut file, bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let path = dir.join(format!(".tmp-{}-{:x}", std::process::id(), rand_suffix()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}

fn rand_suffix() -> u64 {
    let mut hasher = DefaultHasher::new();
    std::time::SystemTime::now().hash(&mut hasher);
    std::thread::current().id().hash(&mut hasher);
    hasher.finish()
}

/// Creates the directory private to the user, and refuses one that others
/// can write to or that belongs to someone else.
fn prepare(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create it: {e}"))?;
        let meta = std::fs::metadata(dir).map_err(|e| e.to_string())?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc_geteuid() };
        if meta.uid() != uid {
            return Err("it belongs to another user".to_owned());
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err("group or others can write to it; run `chmod go-w` on it".to_owned());
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create it: {e}"))?;
    Ok(())
}

#[cfg(unix)]
unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
