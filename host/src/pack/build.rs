//! `checkrail pack build`: components + `pack.toml` → a pack file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{FORMAT, Manifest, ManifestRule, PackFile, valid_name};
use crate::runtime::Runtime;

/// `pack.toml`: what goes into a pack.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSource {
    /// Pack name.
    pub name: String,
    /// Pack version (semver).
    pub version: semver::Version,
    /// What it is for.
    pub description: String,
    /// SPDX license.
    pub license: String,
    /// Oldest checkrail that can use it; default: this checkrail's version.
    #[serde(default)]
    pub min_host_version: Option<semver::Version>,
    /// Component files, relative to `pack.toml`.
    pub rules: Vec<PathBuf>,
}

/// The manifest entry of a component (and the API version it was built
/// for), from what the component itself says: every pack's manifest,
/// including the bundled `core` pack's, is made here.
pub fn manifest_rule(
    runtime: &Runtime,
    origin: &str,
    bytes: &[u8],
) -> Result<(ManifestRule, semver::Version), String> {
    let component = runtime
        .load(origin, bytes)
        .map_err(|e| format!("component `{origin}` {e}"))?;
    let info = &component.info;
    Ok((
        ManifestRule {
            id: info.id.clone(),
            version: info.version.clone(),
            file: format!("rules/{}.wasm", info.id.replace('-', "_")),
            sha256: hex::encode(Sha256::digest(bytes)),
            capabilities: info.capabilities.clone(),
        },
        component.api_version.clone(),
    ))
}

/// The manifest of the bundled `core` pack, made from the components
/// compiled into this binary.
pub fn core_manifest(runtime: &Runtime) -> Result<Manifest, String> {
    let mut rules = Vec::new();
    let mut api = semver::Version::new(0, 1, 0);
    for (name, bytes) in crate::bundled::BUNDLED_RULES {
        let (rule, version) = manifest_rule(runtime, &format!("bundled:{name}"), bytes)?;
        api = api.max(version);
        rules.push(rule);
    }
    let host = semver::Version::parse(env!("CARGO_PKG_VERSION")).map_err(|e| e.to_string())?;
    Ok(Manifest {
        format: FORMAT,
        name: "core".to_owned(),
        version: host.clone(),
        min_host_version: host,
        api_version: api,
        description: "The rules bundled with checkrail, built from its source tree; trusted as built locally.".to_owned(),
        license: env!("CARGO_PKG_LICENSE").to_owned(),
        rules,
    })
}

/// Builds the pack described by `<dir>/pack.toml` into `out` (default
/// `<dir>/<name>-<version>.crpack`). Every component is loaded (API version
/// checked, compiled, described) so the manifest states what the rules
/// themselves say.
pub fn build(
    runtime: &Runtime,
    dir: &Path,
    out: Option<&Path>,
) -> Result<(PathBuf, Manifest), String> {
    let source_path = dir.join("pack.toml");
    let text = std::fs::read_to_string(&source_path)
        .map_err(|e| format!("cannot read `{}`: {e}", source_path.display()))?;
    let source: PackSource =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", source_path.display()))?;
    if !valid_name(&source.name) {
        return Err(format!(
            "{}: name `{}` must be lowercase letters, digits and `-` (and not `core`, the bundled pack)",
            source_path.display(),
            source.name
        ));
    }
    if source.rules.is_empty() {
        return Err(format!(
            "{}: `rules` lists no component",
            source_path.display()
        ));
    }
    let mut pack = PackFile::default();
    let mut rules = Vec::new();
    let mut api_version: Option<semver::Version> = None;
    for file in &source.rules {
        let path = dir.join(file);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read component `{}`: {e}", path.display()))?;
        let (rule, api) = manifest_rule(runtime, &path.display().to_string(), &bytes)?;
        if rules.iter().any(|r: &ManifestRule| r.id == rule.id) {
            return Err(format!(
                "two components describe themselves as rule `{}`",
                rule.id
            ));
        }
        api_version = Some(match api_version {
            Some(v) if v >= api => v,
            _ => api,
        });
        pack.entries.insert(rule.file.clone(), bytes);
        rules.push(rule);
    }
    let manifest = Manifest {
        format: FORMAT,
        name: source.name.clone(),
        version: source.version.clone(),
        min_host_version: source.min_host_version.clone().unwrap_or_else(|| {
            semver::Version::parse(env!("CARGO_PKG_VERSION"))
                .unwrap_or(semver::Version::new(0, 1, 0))
        }),
        api_version: api_version.unwrap_or(semver::Version::new(0, 1, 0)),
        description: source.description.clone(),
        license: source.license.clone(),
        rules,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    pack.entries.insert("manifest.json".to_owned(), json);
    let out = out
        .map(Path::to_owned)
        .unwrap_or_else(|| dir.join(format!("{}-{}.crpack", source.name, source.version)));
    pack.write(&out)?;
    Ok((out, manifest))
}
