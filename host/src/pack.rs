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

use serde::{Deserialize, Serialize};

pub use archive::PackFile;
pub use build::{PackSource, build, core_manifest, manifest_rule, manifest_workflow};
pub use install::{
    InstallScope, Installed, InstalledPack, Origin, install, install_pack, installed_packs, remove,
    verify,
};
pub use keys::{KeyPair, PublicKey, generate, sign};
pub use lock::{LOCK_FILE, LockEntry, LockFile, LockedRule, LockedWorkflow, OciPin};

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
    /// Capabilities the rule declares.
    pub capabilities: Vec<String>,
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
