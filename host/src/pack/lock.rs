//! `checkrail.lock`: the exact pack versions, component and workflow
//! digests a project uses, and for packs from a registry the manifest
//! digest they were pulled by. Written on install; checked whenever a pack
//! rule or workflow is resolved, so a file that changed on disk is refused.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Error, Result};

/// File name of the lockfile, at the workspace root.
pub const LOCK_FILE: &str = "checkrail.lock";

/// The lockfile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// Locked packs, by name then version.
    #[serde(default, rename = "pack")]
    pub packs: Vec<LockEntry>,
}

/// One locked pack version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// Pack name.
    pub name: String,
    /// Exact version.
    pub version: semver::Version,
    /// sha256 of the pack's manifest.json.
    pub manifest_sha256: String,
    /// Where it was pulled from, for a pack installed from an OCI registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciPin>,
    /// Its rules.
    #[serde(default, rename = "rule")]
    pub rules: Vec<LockedRule>,
    /// Its workflows.
    #[serde(default, rename = "workflow", skip_serializing_if = "Vec::is_empty")]
    pub workflows: Vec<LockedWorkflow>,
}

/// The registry manifest a pack version was installed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciPin {
    /// The reference it was installed by (`oci://host/repo:tag`).
    pub reference: String,
    /// Digest of the OCI manifest (`sha256:<hex>`): install by
    /// `oci://host/repo@<digest>` to get exactly this pack again.
    pub manifest_digest: String,
}

/// One locked workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedWorkflow {
    /// Workflow id inside the pack.
    pub id: String,
    /// Workflow version.
    pub version: semver::Version,
    /// sha256 of the workflow file.
    pub sha256: String,
}

/// One locked rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedRule {
    /// Rule id.
    pub id: String,
    /// Rule version.
    pub version: semver::Version,
    /// Component sha256.
    pub sha256: String,
}

impl LockFile {
    /// Reads `<workspace>/checkrail.lock` (empty when absent).
    pub fn read(workspace: &Path) -> Result<Self> {
        let path = workspace.join(LOCK_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|source| Error::Toml { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::io("read", &path)(e)),
        }
    }

    /// Writes it atomically.
    pub fn write(&self, workspace: &Path) -> Result<()> {
        let path = workspace.join(LOCK_FILE);
        // Plain data with string keys always serializes.
        let body = toml::to_string_pretty(self)
            .map_err(|e| Error::Refused(format!("cannot write {LOCK_FILE}: {e}")))?;
        let text = format!(
            "# Written by `checkrail pack install`; commit it. Pins pack versions and the digests of their rules and workflows.\n\n{body}"
        );
        let tmp = workspace.join(format!("{LOCK_FILE}.tmp"));
        std::fs::write(&tmp, text).map_err(Error::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(Error::io("write", &path))
    }

    /// The entry for one pack version.
    pub fn entry(&self, name: &str, version: &semver::Version) -> Option<&LockEntry> {
        self.packs
            .iter()
            .find(|p| p.name == name && &p.version == version)
    }

    /// Adds or replaces the entry for its pack version.
    pub fn upsert(&mut self, entry: LockEntry) {
        self.packs
            .retain(|p| !(p.name == entry.name && p.version == entry.version));
        self.packs.push(entry);
        self.packs
            .sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_install_with_workflows_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut lock = LockFile::default();
        lock.upsert(LockEntry {
            name: "team".into(),
            version: semver::Version::new(1, 0, 0),
            manifest_sha256: "ab".repeat(32),
            oci: Some(OciPin {
                reference: "oci://localhost:5000/team/rules:1.0.0".into(),
                manifest_digest: format!("sha256:{}", "cd".repeat(32)),
            }),
            rules: vec![LockedRule {
                id: "greeter".into(),
                version: semver::Version::new(1, 0, 0),
                sha256: "ef".repeat(32),
            }],
            workflows: vec![LockedWorkflow {
                id: "release".into(),
                version: semver::Version::new(1, 0, 0),
                sha256: "01".repeat(32),
            }],
        });
        lock.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(
            text.contains("[pack.oci]") && text.contains("[[pack.workflow]]"),
            "{text}"
        );
        assert_eq!(LockFile::read(dir.path()).unwrap(), lock);
    }

    #[test]
    fn a_lock_without_workflows_or_registry_reads_as_before() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LOCK_FILE),
            "[[pack]]\nname = \"team\"\nversion = \"1.0.0\"\nmanifest_sha256 = \"x\"\n\n[[pack.rule]]\nid = \"greeter\"\nversion = \"1.0.0\"\nsha256 = \"y\"\n",
        )
        .unwrap();
        let lock = LockFile::read(dir.path()).unwrap();
        let entry = lock.entry("team", &semver::Version::new(1, 0, 0)).unwrap();
        assert!(entry.oci.is_none() && entry.workflows.is_empty());
        assert_eq!(entry.rules.len(), 1);
    }
}
