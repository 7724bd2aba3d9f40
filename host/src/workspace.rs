//! A workspace, opened once per service: its canonical root, its private
//! state directory (outside the workspace), the key that authenticates that
//! state, and the caches kept there.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cache::fingerprints::Fingerprints;
use crate::cache::store::OutcomeCache;
use crate::cache::toolchains::Toolchains;
use crate::config::WorkspaceConfig;
use crate::trusted::{StateDir, StateKey};
use crate::{Error, Result};

/// One opened workspace.
pub struct Workspace {
    root: PathBuf,
    state_dir: PathBuf,
    key: StateKey,
    outcomes: OnceLock<Option<OutcomeCache>>,
    fingerprints: Fingerprints,
    toolchains: Toolchains,
}

impl Workspace {
    /// Opens the workspace at `path` with its state under `state`.
    pub fn open(path: &Path, state: &StateDir) -> Result<Self> {
        let root = canonical_dir(path)?;
        let state_dir = state.workspace_dir(&root)?;
        let key = state.key()?;
        Ok(Self {
            fingerprints: Fingerprints::new(Some(state_dir.join("fingerprints")), key.clone()),
            root,
            state_dir,
            key,
            outcomes: OnceLock::new(),
            toolchains: Toolchains::default(),
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This workspace's private state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The key that authenticates this workspace's state.
    pub fn key(&self) -> &StateKey {
        &self.key
    }

    /// The workspace's `checkrail.toml` as it is now, when a human allowed
    /// it as it is (see [`crate::allow`]); the defaults when there is none
    /// and none was allowed.
    pub fn config(&self) -> Result<WorkspaceConfig> {
        crate::allow::check(self, crate::config::FILE)?;
        WorkspaceConfig::load(&self.root)
    }

    /// The outcome cache, opened on first use; `None` when it cannot be.
    pub fn outcomes(&self) -> Option<&OutcomeCache> {
        self.outcomes
            .get_or_init(|| {
                OutcomeCache::open(&self.state_dir.join("outcomes.db"), self.key.clone())
            })
            .as_ref()
    }

    /// Content hashes of the workspace's files.
    pub fn fingerprints(&self) -> &Fingerprints {
        &self.fingerprints
    }

    /// Identities of toolchains and the environment programs get.
    pub fn toolchains(&self) -> &Toolchains {
        &self.toolchains
    }
}

/// `path` made canonical; it must be a directory.
pub fn canonical_dir(path: &Path) -> Result<PathBuf> {
    let canonical = path.canonicalize().map_err(|source| Error::Workspace {
        path: path.to_owned(),
        source,
    })?;
    if !canonical.is_dir() {
        return Err(Error::NotADirectory {
            path: path.to_owned(),
        });
    }
    Ok(canonical)
}
