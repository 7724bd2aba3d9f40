//! `checkrail pack build`: components + `pack.toml` → a pack file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{
    Error, FORMAT, Manifest, ManifestRule, ManifestWorkflow, PackFile, Result, host_version,
    valid_name,
};
use crate::runtime::Runtime;
use crate::workflow::Workflow;

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
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Workflow files (YAML or JSON), relative to `pack.toml`.
    #[serde(default)]
    pub workflows: Vec<PathBuf>,
}

/// The manifest entry of a component (and the API version it was built
/// for), from what the component itself says: every pack's manifest,
/// including the bundled `core` pack's, is made here.
pub fn manifest_rule(
    runtime: &Runtime,
    origin: &str,
    bytes: &[u8],
) -> Result<(ManifestRule, semver::Version)> {
    let component = runtime
        .load(origin, bytes)
        .map_err(|source| Error::Component {
            what: format!("component `{origin}`"),
            source,
        })?;
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
pub fn core_manifest(runtime: &Runtime) -> Result<Manifest> {
    let mut rules = Vec::new();
    let mut api = semver::Version::new(0, 1, 0);
    for (name, bytes) in crate::bundled::BUNDLED_RULES {
        let (rule, version) = manifest_rule(runtime, &format!("bundled:{name}"), bytes)?;
        api = api.max(version);
        rules.push(rule);
    }
    let host = host_version();
    Ok(Manifest {
        format: FORMAT,
        name: "core".to_owned(),
        version: host.clone(),
        min_host_version: host,
        api_version: api,
        description: "The rules bundled with checkrail, built from its source tree; trusted as built locally.".to_owned(),
        license: env!("CARGO_PKG_LICENSE").to_owned(),
        rules,
        workflows: Vec::new(),
    })
}

/// Checks a workflow file of a pack with the same loader as any workflow
/// and makes its manifest entry. `origin` names the file in errors.
pub fn manifest_workflow(origin: &str, bytes: &[u8]) -> Result<(ManifestWorkflow, Workflow)> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::Refused(format!("workflow `{origin}` is not UTF-8 text")))?;
    let workflow = crate::workflow::parse(text, origin).map_err(|e| Error::Load(Box::new(e)))?;
    Ok((
        ManifestWorkflow {
            id: workflow.id.clone(),
            version: workflow.version.clone(),
            file: format!("workflows/{}.yaml", workflow.id),
            sha256: workflow.digest.clone(),
        },
        workflow,
    ))
}

/// Builds the pack described by `<dir>/pack.toml` into `out` (default
/// `<dir>/<name>-<version>.crpack`). Every component is loaded (API version
/// checked, compiled, described) and every workflow validated, so the
/// manifest states what the rules and workflows themselves say.
pub fn build(runtime: &Runtime, dir: &Path, out: Option<&Path>) -> Result<(PathBuf, Manifest)> {
    let source_path = dir.join("pack.toml");
    let source = read_source(&source_path)?;
    let mut pack = PackFile::default();
    let (rules, api_version) = add_rules(runtime, dir, &source.rules, &mut pack)?;
    let workflows = add_workflows(dir, &source.workflows, &mut pack)?;
    let host = host_version();
    let manifest = Manifest {
        format: FORMAT,
        name: source.name.clone(),
        version: source.version.clone(),
        min_host_version: source.min_host_version.clone().unwrap_or(host),
        api_version: api_version.unwrap_or(semver::Version::new(0, 1, 0)),
        description: source.description.clone(),
        license: source.license.clone(),
        rules,
        workflows,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|source| Error::Json {
        file: "manifest.json",
        source,
    })?;
    pack.entries.insert("manifest.json".to_owned(), json);
    let out = out
        .map(Path::to_owned)
        .unwrap_or_else(|| dir.join(format!("{}-{}.crpack", source.name, source.version)));
    pack.write(&out)?;
    Ok((out, manifest))
}

fn read_source(path: &Path) -> Result<PackSource> {
    let text = std::fs::read_to_string(path).map_err(Error::io("read", path))?;
    let source: PackSource = toml::from_str(&text).map_err(|source| Error::Toml {
        path: path.to_owned(),
        source,
    })?;
    if !valid_name(&source.name) {
        return Err(Error::Refused(format!(
            "{}: name `{}` must be lowercase letters, digits and `-` (and not `core`, the bundled pack)",
            path.display(),
            source.name
        )));
    }
    if source.rules.is_empty() && source.workflows.is_empty() {
        return Err(Error::Refused(format!(
            "{}: the pack is empty; list components under `rules` or workflow files under `workflows`",
            path.display()
        )));
    }
    Ok(source)
}

/// Loads each component into `pack`; returns their manifest entries and the
/// highest rule API version among them.
fn add_rules(
    runtime: &Runtime,
    dir: &Path,
    files: &[PathBuf],
    pack: &mut PackFile,
) -> Result<(Vec<ManifestRule>, Option<semver::Version>)> {
    let mut rules: Vec<ManifestRule> = Vec::new();
    let mut api_version: Option<semver::Version> = None;
    for file in files {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).map_err(Error::io("read component", &path))?;
        let (rule, api) = manifest_rule(runtime, &path.display().to_string(), &bytes)?;
        if rules.iter().any(|r| r.id == rule.id) {
            return Err(Error::Refused(format!(
                "two components describe themselves as rule `{}`",
                rule.id
            )));
        }
        api_version = Some(api_version.map_or(api.clone(), |v| v.max(api)));
        pack.entries.insert(rule.file.clone(), bytes);
        rules.push(rule);
    }
    Ok((rules, api_version))
}

/// Validates each workflow file into `pack`; returns their manifest entries.
fn add_workflows(
    dir: &Path,
    files: &[PathBuf],
    pack: &mut PackFile,
) -> Result<Vec<ManifestWorkflow>> {
    let mut workflows: Vec<ManifestWorkflow> = Vec::new();
    for file in files {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).map_err(Error::io("read workflow", &path))?;
        let (entry, _) = manifest_workflow(&path.display().to_string(), &bytes)?;
        if let Some(other) = workflows.iter().find(|w| w.id == entry.id) {
            return Err(Error::Refused(format!(
                "two workflow files have the id `{}` (`{}` is the second); ids must be unique in a pack",
                other.id,
                path.display()
            )));
        }
        pack.entries.insert(entry.file.clone(), bytes);
        workflows.push(entry);
    }
    Ok(workflows)
}
