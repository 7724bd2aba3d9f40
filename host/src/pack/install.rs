//! Verifying and installing packs, and finding installed ones.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{
    Error, FORMAT, LockEntry, LockFile, LockedRule, LockedWorkflow, Manifest, OciPin, PackFile,
    PublicKey, Result, host_version, manifest_workflow, valid_name,
};
use crate::config::WorkspaceConfig;
use crate::grants::Granter;
use crate::runtime::{Runtime, api_version};

/// Where a pack is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallScope {
    /// `<workspace>/.checkrail/packs/`.
    Project,
    /// The user's data directory (`~/.local/share/checkrail/packs/`, or
    /// `$CHECKRAIL_DATA_DIR/packs/`).
    User,
}

impl InstallScope {
    /// The packs directory of this scope.
    pub fn dir(self, workspace: &Path) -> Option<PathBuf> {
        match self {
            InstallScope::Project => Some(workspace.join(".checkrail").join("packs")),
            InstallScope::User => user_packs_dir(),
        }
    }
}

fn user_packs_dir() -> Option<PathBuf> {
    match std::env::var_os("CHECKRAIL_DATA_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir).join("packs")),
        _ => dirs::data_dir().map(|d| d.join("checkrail").join("packs")),
    }
}

/// A verified pack, ready to install.
#[derive(Debug, Clone)]
pub struct Installed {
    /// Its manifest.
    pub manifest: Manifest,
    /// Where it now lives.
    pub dir: PathBuf,
    /// Who signed it, when signed.
    pub signer: Option<String>,
    /// Whether the same version was already installed with the same content.
    pub already: bool,
}

/// A pack found on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstalledPack {
    /// Project or user.
    pub scope: InstallScope,
    /// Its directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// sha256 of its manifest.json.
    pub manifest_sha256: String,
}

/// Checks a pack against the project's trust policy and the host: digests,
/// signature, API and host versions. Returns the manifest and the signer's
/// key id. `local` says the pack file lives inside the workspace (signatures
/// are then required only when the config says so).
pub fn verify(
    pack: &PackFile,
    config: &WorkspaceConfig,
    local: bool,
) -> Result<(Manifest, Option<String>)> {
    let manifest = pack.manifest()?;
    check_format(&manifest)?;
    check_contents(pack, &manifest)?;
    check_host(&manifest)?;
    let required = config.trust.require_signatures.unwrap_or(!local);
    let signer = check_signature(pack, &manifest, config, required)?;
    Ok((manifest, signer))
}

fn check_format(manifest: &Manifest) -> Result<()> {
    if manifest.format != FORMAT {
        return Err(Error::Refused(format!(
            "pack format {} is not supported; this checkrail reads format {FORMAT}",
            manifest.format
        )));
    }
    if !valid_name(&manifest.name) {
        return Err(Error::Refused(format!(
            "pack name `{}` is not valid",
            manifest.name
        )));
    }
    Ok(())
}

/// Every listed file is in the pack with the listed sha256, and the pack
/// holds nothing else.
fn check_contents(pack: &PackFile, manifest: &Manifest) -> Result<()> {
    let listed = manifest
        .rules
        .iter()
        .map(|r| ("component", &r.file, format!("rule `{}`", r.id), &r.sha256))
        .chain(manifest.workflows.iter().map(|w| {
            (
                "workflow file",
                &w.file,
                format!("workflow `{}`", w.id),
                &w.sha256,
            )
        }));
    for (kind, file, owner, sha256) in listed {
        let bytes = pack.entries.get(file).ok_or_else(|| {
            Error::Refused(format!("{owner} names `{file}`, which is not in the pack"))
        })?;
        let actual = hex::encode(Sha256::digest(bytes));
        if &actual != sha256 {
            return Err(Error::Refused(format!(
                "{kind} `{file}` of {owner} does not match the manifest (sha256 {actual}, manifest says {sha256}); the pack was tampered with or damaged"
            )));
        }
    }
    for name in pack.entries.keys() {
        let known = name == "manifest.json"
            || name == "signature.json"
            || manifest.rules.iter().any(|r| &r.file == name)
            || manifest.workflows.iter().any(|w| &w.file == name);
        if !known {
            return Err(Error::Refused(format!(
                "the pack holds `{name}`, which its manifest does not list"
            )));
        }
    }
    Ok(())
}

/// This checkrail can run the pack's rules.
fn check_host(manifest: &Manifest) -> Result<()> {
    api_version::check(&manifest.api_version)
        .map_err(|e| Error::Refused(format!("pack `{}` {e}", manifest.name)))?;
    let host = host_version();
    if manifest.min_host_version > host {
        return Err(Error::Refused(format!(
            "pack `{}` needs checkrail {} or newer; this is {host}",
            manifest.name, manifest.min_host_version
        )));
    }
    Ok(())
}

/// A signature, when present, must verify; when `required`, it must be
/// there and made by a key the project trusts. Returns the signer's key id.
fn check_signature(
    pack: &PackFile,
    manifest: &Manifest,
    config: &WorkspaceConfig,
    required: bool,
) -> Result<Option<String>> {
    let Some(signature) = pack.signature()? else {
        if required {
            return Err(Error::Refused(format!(
                "pack `{}` is not signed, and this project requires signatures for packs from outside it; sign it with `checkrail pack sign`, or set `require_signatures = false` under `[trust]` in checkrail.toml",
                manifest.name
            )));
        }
        return Ok(None);
    };
    let key = PublicKey::parse(&signature.public_key)
        .map_err(|e| Error::Refused(format!("signature.json: {}", crate::error::chain(&e))))?;
    if signature.algorithm != "ed25519"
        || !key.verifies(pack.manifest_bytes()?, &signature.signature)
    {
        return Err(Error::Refused(format!(
            "the signature of pack `{}` does not verify (manifest changed after signing, or a bad signature)",
            manifest.name
        )));
    }
    let trusted = config
        .trust
        .keys
        .iter()
        .any(|k| PublicKey::parse(k).is_ok_and(|t| t == key));
    if !trusted && required {
        return Err(Error::Refused(format!(
            "pack `{}` is signed by key {} ({}), which this project does not trust; to trust it, add `keys = [\"{}\"]` under `[trust]` in checkrail.toml",
            manifest.name,
            key.id(),
            key.to_text(),
            key.to_text()
        )));
    }
    Ok(Some(key.id()))
}

/// How a pack reached this machine.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A pack file; `local` when it lives inside the workspace (signatures
    /// are then required only when the config says so).
    File {
        /// Whether the file is inside the workspace.
        local: bool,
    },
    /// Pulled from an OCI registry (always from outside the workspace).
    Oci(OciPin),
}

/// Verifies and installs a pack file, then records it in `checkrail.lock`.
/// Nothing is installed unless every check passes.
pub fn install(
    runtime: &Runtime,
    file: &Path,
    workspace: &Path,
    scope: InstallScope,
) -> Result<Installed> {
    let pack = PackFile::read(file)?;
    let local = file
        .canonicalize()
        .ok()
        .zip(workspace.canonicalize().ok())
        .is_some_and(|(f, w)| f.starts_with(w));
    install_pack(runtime, &pack, Origin::File { local }, workspace, scope)
}

/// Verifies and installs a pack held in memory, then records it (and, for
/// a registry pull, the manifest digest) in `checkrail.lock`. Every check
/// runs before anything is written; the files land in a staging directory
/// renamed into place, so a refused or failed install leaves what was
/// installed before as it was.
pub fn install_pack(
    runtime: &Runtime,
    pack: &PackFile,
    origin: Origin,
    workspace: &Path,
    scope: InstallScope,
) -> Result<Installed> {
    let config = WorkspaceConfig::load(workspace).map_err(|e| Error::Load(Box::new(e)))?;
    let local = matches!(origin, Origin::File { local: true });
    let (manifest, signer) = verify(pack, &config, local)?;
    check_grants(&manifest, &config)?;
    check_components(runtime, pack, &manifest)?;
    check_workflows(pack, &manifest)?;

    let root = scope.dir(workspace).ok_or_else(no_data_dir)?;
    let dest = root.join(&manifest.name).join(manifest.version.to_string());
    let manifest_sha256 = hex::encode(Sha256::digest(pack.manifest_bytes()?));
    let already = place(pack, &manifest, &root, &dest, &manifest_sha256)?;

    let mut lock = LockFile::read(workspace)?;
    lock.upsert(LockEntry {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        manifest_sha256,
        oci: match origin {
            Origin::Oci(pin) => Some(pin),
            Origin::File { .. } => None,
        },
        rules: manifest
            .rules
            .iter()
            .map(|r| LockedRule {
                id: r.id.clone(),
                version: r.version.clone(),
                sha256: r.sha256.clone(),
            })
            .collect(),
        workflows: manifest
            .workflows
            .iter()
            .map(|w| LockedWorkflow {
                id: w.id.clone(),
                version: w.version.clone(),
                sha256: w.sha256.clone(),
            })
            .collect(),
    });
    lock.write(workspace)?;
    Ok(Installed {
        manifest,
        dir: dest,
        signer,
        already,
    })
}

/// Every program a pack's rules may ask for must be granted to the pack.
fn check_grants(manifest: &Manifest, config: &WorkspaceConfig) -> Result<()> {
    let granter = Granter::new(&config.exec);
    let mut missing = Vec::new();
    for rule in &manifest.rules {
        for capability in granter.missing(&rule.id, Some(&manifest.name), &rule.capabilities) {
            missing.push(format!("{capability} (rule `{}`)", rule.id));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "pack `{name}` has rules that request capabilities this project has not granted: {}; grant them to the pack first, under `[exec.rules.\"{name}/*\"]` (or one rule's `[exec.rules.\"{name}/<rule>\"]`) `allow = [...]` in checkrail.toml (`[exec] allow` grants programs to the bundled rules only)",
        missing.join(", "),
        name = manifest.name,
    )))
}

/// Every component loads and describes itself as its manifest entry says.
fn check_components(runtime: &Runtime, pack: &PackFile, manifest: &Manifest) -> Result<()> {
    for rule in &manifest.rules {
        let bytes = &pack.entries[&rule.file];
        let component = runtime
            .load(&format!("{}/{}", manifest.name, rule.id), bytes)
            .map_err(|source| Error::Component {
                what: format!("rule `{}` of pack `{}`", rule.id, manifest.name),
                source,
            })?;
        let info = &component.info;
        if info.id != rule.id
            || info.version != rule.version
            || info.capabilities != rule.capabilities
        {
            return Err(Error::Refused(format!(
                "rule `{}` of pack `{}` describes itself as `{}@{}` with capabilities {:?}, unlike its manifest entry",
                rule.id,
                manifest.name,
                info.id,
                info.version,
                info.capabilities
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            )));
        }
    }
    Ok(())
}

/// Every workflow passes the workflow loader again (this checkrail may
/// check more than the one that built the pack) and states the id and
/// version its manifest entry says.
fn check_workflows(pack: &PackFile, manifest: &Manifest) -> Result<()> {
    for entry in &manifest.workflows {
        let origin = format!("`{}` of pack `{}`", entry.file, manifest.name);
        let (found, _) = manifest_workflow(&origin, &pack.entries[&entry.file])?;
        if found.id != entry.id || found.version != entry.version {
            return Err(Error::Refused(format!(
                "workflow {origin} states `{}@{}`, but its manifest entry says `{}@{}`",
                found.id, found.version, entry.id, entry.version
            )));
        }
    }
    Ok(())
}

/// Writes the pack into `dest` through a staging directory renamed into
/// place. Returns whether the same version was already there with the same
/// manifest (nothing is written then).
fn place(
    pack: &PackFile,
    manifest: &Manifest,
    root: &Path,
    dest: &Path,
    manifest_sha256: &str,
) -> Result<bool> {
    if dest.exists() {
        let existing = std::fs::read(dest.join("manifest.json")).unwrap_or_default();
        if hex::encode(Sha256::digest(&existing)) != manifest_sha256 {
            return Err(Error::Refused(format!(
                "pack `{}` {} is already installed at `{}` with different content; remove it first (`checkrail pack remove {} {}`)",
                manifest.name,
                manifest.version,
                dest.display(),
                manifest.name,
                manifest.version
            )));
        }
        return Ok(true);
    }
    let parent = dest
        .parent()
        .ok_or_else(|| Error::Refused(format!("`{}` has no parent", dest.display())))?;
    std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
    let staging = root.join(format!(
        ".staging-{}-{}",
        manifest.name,
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| -> std::io::Result<()> {
        for (name, bytes) in &pack.entries {
            let path = staging.join(name);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, bytes)?;
        }
        std::fs::rename(&staging, dest)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(Error::io("install into", dest)(e));
    }
    Ok(false)
}

/// Removes an installed pack version from `scope` and its entry from
/// `checkrail.lock`. Workflows that still name it stop resolving, with an
/// error that lists what is installed.
pub fn remove(
    workspace: &Path,
    scope: InstallScope,
    name: &str,
    version: &semver::Version,
) -> Result<PathBuf> {
    let root = scope.dir(workspace).ok_or_else(no_data_dir)?;
    let dir = root.join(name).join(version.to_string());
    if !dir.join("manifest.json").is_file() {
        let installed: Vec<String> = installed_packs(Some(workspace))
            .iter()
            .filter(|p| p.scope == scope)
            .map(|p| format!("{} {}", p.manifest.name, p.manifest.version))
            .collect();
        return Err(Error::Refused(format!(
            "pack `{name}` {version} is not installed here; installed: {}",
            if installed.is_empty() {
                "none".to_owned()
            } else {
                installed.join(", ")
            }
        )));
    }
    std::fs::remove_dir_all(&dir).map_err(Error::io("remove", &dir))?;
    // Drop the now empty pack directory, if this was its last version.
    let _ = std::fs::remove_dir(root.join(name));
    let mut lock = super::LockFile::read(workspace)?;
    lock.packs
        .retain(|p| !(p.name == name && &p.version == version));
    lock.write(workspace)?;
    Ok(dir)
}

/// Every installed pack: the project's, then the user's.
pub fn installed_packs(workspace: Option<&Path>) -> Vec<InstalledPack> {
    let mut found = Vec::new();
    let scopes = [
        (
            InstallScope::Project,
            workspace.and_then(|w| InstallScope::Project.dir(w)),
        ),
        (InstallScope::User, user_packs_dir()),
    ];
    for (scope, root) in scopes {
        let Some(root) = root else { continue };
        let Ok(names) = std::fs::read_dir(&root) else {
            continue;
        };
        for name in names.flatten().filter(|e| e.path().is_dir()) {
            let Ok(versions) = std::fs::read_dir(name.path()) else {
                continue;
            };
            for version in versions.flatten() {
                let dir = version.path();
                let Ok(bytes) = std::fs::read(dir.join("manifest.json")) else {
                    continue;
                };
                let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
                    continue;
                };
                found.push(InstalledPack {
                    scope,
                    dir,
                    manifest,
                    manifest_sha256: hex::encode(Sha256::digest(&bytes)),
                });
            }
        }
    }
    found.sort_by(|a, b| {
        a.manifest
            .name
            .cmp(&b.manifest.name)
            .then(b.manifest.version.cmp(&a.manifest.version))
    });
    found
}

fn no_data_dir() -> Error {
    Error::Refused("no user data directory to install into; set CHECKRAIL_DATA_DIR".to_owned())
}
