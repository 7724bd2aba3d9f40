//! Rule packs: versioned bundles of rule components with a manifest,
//! optionally signed (ed25519), installed per project or per user, resolved
//! by semver and pinned in `checkrail.lock`.
//!
//! A pack file is a tar archive holding `manifest.json`, `rules/<id>.wasm`,
//! `workflows/<id>.yaml` and, once signed, `signature.json` (a signature over
//! the exact bytes of `manifest.json`, which lists each component's and each
//! workflow's sha256).

mod archive;
mod build;
mod install;
mod keys;
mod lock;
pub mod oci;

use std::path::PathBuf;

use checkrail_sandbox::Capability;
use serde::{Deserialize, Serialize};

pub use archive::PackFile;
pub use build::{PackSource, build, core_manifest, manifest_rule, manifest_workflow};
pub use install::{
    InstallScope, Installed, InstalledPack, Origin, install, install_pack, installed_packs, remove,
    verify,
};
pub use keys::{KeyPair, PublicKey, generate, sign};
pub use lock::{LOCK_FILE, LockEntry, LockFile, LockedRule, LockedWorkflow, OciPin};

/// What can go wrong building, signing, verifying, installing or finding a
/// pack. Each message reads after "failed to" is implied, names the file or
/// the pack, and says what to do where there is something to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read, written, created or renamed.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// `read`, `write`, `create`, `remove`...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A pack is not a tar archive checkrail can read.
    #[error("{what} is not a pack (tar)")]
    Archive {
        /// The file, or `the download`.
        what: String,
        /// The tar reader's error.
        #[source]
        source: std::io::Error,
    },
    /// `manifest.json` or `signature.json` does not parse.
    #[error("{file} is invalid")]
    Json {
        /// The entry.
        file: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// `pack.toml` or `checkrail.lock` does not parse.
    #[error("{} is invalid", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: toml::de::Error,
    },
    /// A workflow of the pack does not pass the workflow loader, or the
    /// workspace's config does not load.
    #[error(transparent)]
    Load(Box<crate::Error>),
    /// A public key is 32 bytes but not a point of ed25519.
    #[error("not an ed25519 public key")]
    Key(#[source] ed25519_dalek::SignatureError),
    /// A rule component of the pack cannot be loaded.
    #[error("{what}")]
    Component {
        /// The component, e.g. ``component `rules/x.wasm` `` or
        /// ``rule `x` of pack `team` ``.
        what: String,
        /// Why it cannot be loaded.
        #[source]
        source: crate::runtime::LoadError,
    },
    /// The pack (or a key, or a request) breaks a rule of the format, the
    /// project's trust policy or this host; the message says which and what
    /// to do.
    #[error("{0}")]
    Refused(String),
}

/// Result of pack operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// What kind of failure this is: a pack, key, path or request the user
    /// gave is a usage error (exit code 2); a workflow or config that does
    /// not load keeps its own kind.
    pub fn kind(&self) -> crate::exit::Kind {
        use crate::exit::Kind;
        match self {
            Error::Load(inner) => inner.kind(),
            Error::Io { .. }
            | Error::Archive { .. }
            | Error::Json { .. }
            | Error::Toml { .. }
            | Error::Key(_)
            | Error::Component { .. }
            | Error::Refused(_) => Kind::Usage,
        }
    }

    fn io(action: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}

/// This checkrail's version (what `min_host_version` is compared with).
pub fn host_version() -> semver::Version {
    // Cargo only accepts semver package versions, so this always parses.
    semver::Version::parse(env!("CARGO_PKG_VERSION"))
        .expect("the crate version is semver, as Cargo requires")
}

/// Version of the pack format this host writes and reads.
pub const FORMAT: u32 = 1;

/// What a pack contains, as written in its `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Pack format version.
    pub format: u32,
    /// Pack name: lowercase words joined by `-`.
    pub name: String,
    /// Pack version.
    pub version: semver::Version,
    /// Oldest checkrail that can use it.
    pub min_host_version: semver::Version,
    /// The checkrail rule API its components were built for.
    pub api_version: semver::Version,
    /// What the pack is for.
    pub description: String,
    /// SPDX license of the pack.
    pub license: String,
    /// The rules.
    pub rules: Vec<ManifestRule>,
    /// The workflows (absent from packs that carry none, so their manifests
    /// read as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workflows: Vec<ManifestWorkflow>,
}

/// One rule of a pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestRule {
    /// Rule id.
    pub id: String,
    /// Rule version.
    pub version: semver::Version,
    /// Path of the component inside the pack.
    pub file: String,
    /// sha256 of the component.
    pub sha256: String,
    /// Capabilities the rule declares (strings in the manifest, parsed as
    /// it is read).
    pub capabilities: Vec<Capability>,
}

/// One workflow of a pack; installed, it is known as `<pack>/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestWorkflow {
    /// Workflow id, as the workflow file states it.
    pub id: String,
    /// Workflow version, as the workflow file states it.
    pub version: semver::Version,
    /// Path of the workflow file inside the pack.
    pub file: String,
    /// sha256 of the workflow file (equal to the workflow's digest).
    pub sha256: String,
}

/// The signature of a pack, in `signature.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Always `ed25519`.
    pub algorithm: String,
    /// The signer's public key, as `checkrail-ed25519:<base64>`.
    pub public_key: String,
    /// Base64 signature over the bytes of `manifest.json`.
    pub signature: String,
}

/// Whether `name` is a valid pack name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name != "core"
}
