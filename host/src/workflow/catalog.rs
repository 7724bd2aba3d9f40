//! The workflows a checkrail process knows: the bundled ones, those in
//! workflow directories (a workspace's `.checkrail/workflows/`), and those
//! of installed packs, known as `<pack>/<id>` and resolved by semver
//! (`team/release@^1`) against `checkrail.lock`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use sha2::{Digest, Sha256};

use super::read::{self, ReadLimits};
use super::{Workflow, parse, parse_file_in, parse_file_remembered};
use crate::bundled::BUNDLED_WORKFLOWS;
use crate::pack::{InstalledPack, LOCK_FILE, LockFile, ManifestWorkflow, installed_packs};
use crate::{Error, Result};

/// One line of `workflow list`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WorkflowSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Category.
    pub category: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Number of phases.
    pub phase_count: usize,
    /// How long it usually takes, in minutes (guidance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_minutes: Option<u32>,
    /// Who should do it and how (guidance, never enforced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hints: Option<super::Hints>,
    /// Where it was loaded from.
    pub source: String,
}

/// Longest description a compact listing keeps.
const BRIEF: usize = 140;

impl WorkflowSummary {
    /// The summary for a list that must stay small whatever the library:
    /// the description's first sentence (at most [`BRIEF`] characters, cut
    /// at a word), no hints, no estimate. `workflow_get` has the rest.
    pub fn compact(mut self) -> Self {
        let first = self
            .description
            .split_inclusive(". ")
            .next()
            .unwrap_or_default()
            .trim();
        let mut brief = first.to_owned();
        if brief.chars().count() > BRIEF {
            let cut: String = brief.chars().take(BRIEF).collect();
            let at = cut.rfind(' ').unwrap_or(cut.len());
            brief = format!("{}…", cut[..at].trim_end());
        }
        self.description = brief;
        self.hints = None;
        self.estimated_minutes = None;
        self
    }
}

/// Known workflows, by id. A workflow in a directory replaces a bundled one
/// with the same id; pack workflows live apart, under `<pack>/<id>`, every
/// installed version kept.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Bundled workflows, each parsed when first asked for: resolving one
    /// id (what a hook's check does) parses one, not all twenty.
    bundled: Vec<Bundled>,
    /// Workflows from the directories, sorted by id.
    workflows: Vec<Workflow>,
    packs: Vec<PackWorkflow>,
    problems: Vec<Error>,
    /// Bundled workflows replaced by a workflow file: id → bundled digest.
    overridden: Vec<(String, String)>,
    limits: ReadLimits,
    workspace: Option<PathBuf>,
}

/// A workflow of an installed pack: its id is `<pack>/<id>`, its source
/// `pack:<pack>@<version>`.
#[derive(Debug, Clone)]
struct PackWorkflow {
    pack: String,
    pack_version: semver::Version,
    /// The installed file.
    path: PathBuf,
    /// Its sha256 as the pack's manifest states it.
    manifest_sha256: String,
    workflow: Workflow,
}

/// A bundled workflow: its id is its file's stem (checked by a test).
#[derive(Debug)]
struct Bundled {
    id: &'static str,
    name: &'static str,
    text: &'static str,
    parsed: OnceLock<Result<Workflow>>,
}

impl Bundled {
    fn workflow(&self) -> std::result::Result<&Workflow, &Error> {
        self.parsed
            .get_or_init(|| parse(self.text, &format!("bundled:{}", self.name)))
            .as_ref()
    }
}

impl Catalog {
    /// The bundled workflows plus every `*.yaml`, `*.yml` and `*.json` in
    /// `dirs` (missing directories are skipped), read safely (see
    /// [`super::read`]): symlinks only within `root` (each directory itself
    /// when `None`). Files that fail to load are kept as problems, named and
    /// logged, never fatal.
    pub fn load(dirs: &[PathBuf], root: Option<&Path>, limits: ReadLimits) -> Self {
        Self::load_remembering(dirs, root, limits, None)
    }

    /// [`Catalog::load`], remembering under `remember` (a cache directory)
    /// which workflow files the schema accepted, so a later process skips
    /// compiling the schema for them (see [`super::load::parse_remembered`]).
    pub fn load_remembering(
        dirs: &[PathBuf],
        root: Option<&Path>,
        limits: ReadLimits,
        remember: Option<&Path>,
    ) -> Self {
        let mut catalog = Self {
            limits,
            workspace: root.map(Path::to_path_buf),
            ..Self::default()
        };
        catalog.bundled = BUNDLED_WORKFLOWS
            .iter()
            .map(|&(name, text)| Bundled {
                id: name.rsplit_once('.').map_or(name, |(stem, _)| stem),
                name,
                text,
                parsed: OnceLock::new(),
            })
            .collect();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| is_workflow_file(p))
                .collect();
            files.sort();
            for file in files {
                match parse_file_remembered(&file, Some(root.unwrap_or(dir)), limits, remember) {
                    Ok(wf) => catalog.insert(wf),
                    Err(e) => {
                        tracing::warn!("workflow file skipped: {}", crate::error::chain(&e));
                        catalog.problems.push(e);
                    }
                }
            }
        }
        for pack in installed_packs(root) {
            for entry in &pack.manifest.workflows {
                match load_pack_workflow(&pack, entry, limits) {
                    Ok(found) => catalog.packs.push(found),
                    Err(e) => {
                        tracing::warn!("pack workflow skipped: {}", crate::error::chain(&e));
                        catalog.problems.push(e);
                    }
                }
            }
        }
        catalog
    }

    fn insert(&mut self, workflow: Workflow) {
        if let Some(old) = self.bundled.iter().find(|b| b.id == workflow.id)
            && !self.overridden.iter().any(|(id, _)| *id == workflow.id)
        {
            tracing::warn!(
                "workflow file `{}` overrides the bundled workflow `{}`",
                workflow.source,
                workflow.id
            );
            self.overridden
                .push((workflow.id.clone(), super::load::digest(old.text)));
        }
        self.workflows.retain(|w| w.id != workflow.id);
        self.workflows.push(workflow);
        self.workflows.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// The bundled workflows no workflow file replaces.
    fn bundled(&self) -> impl Iterator<Item = &Bundled> {
        self.bundled
            .iter()
            .filter(|b| !self.workflows.iter().any(|w| w.id == b.id))
    }

    /// Where a workflow came from: `bundled`, `workspace` (a workflow file)
    /// or `file` (a path given on the command line), its source and digest,
    /// and the replaced bundled workflow's digest when a file overrides one.
    pub fn provenance(&self, workflow: &Workflow) -> serde_json::Value {
        let kind = if workflow.source.starts_with("bundled:") {
            "bundled"
        } else if workflow.source.starts_with("pack:") {
            "pack"
        } else if self.workflows.iter().any(|w| w.source == workflow.source) {
            "workspace"
        } else {
            "file"
        };
        let mut value = serde_json::json!({
            "kind": kind,
            "source": workflow.source,
            "digest": workflow.digest,
        });
        if kind == "workspace"
            && let Some((_, bundled)) = self.overridden.iter().find(|(id, _)| *id == workflow.id)
        {
            value["overrides_bundled"] = serde_json::json!({ "digest": bundled });
        }
        value
    }

    /// Workflow files that could not be loaded.
    pub fn problems(&self) -> Vec<&Error> {
        self.bundled()
            .filter_map(|b| b.workflow().err())
            .chain(&self.problems)
            .collect()
    }

    /// All workflows, sorted by id: of each pack workflow, the highest
    /// installed version.
    pub fn workflows(&self) -> Vec<&Workflow> {
        let mut all: Vec<&Workflow> = self.workflows.iter().collect();
        all.extend(self.bundled().filter_map(|b| b.workflow().ok()));
        for found in &self.packs {
            let newest = self
                .packs
                .iter()
                .filter(|p| p.workflow.id == found.workflow.id)
                .max_by(|a, b| newer(a, b))
                .is_some_and(|n| std::ptr::eq(n, found));
            if newest {
                all.push(&found.workflow);
            }
        }
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Summaries, optionally filtered by category and tag.
    pub fn list(&self, category: Option<&str>, tag: Option<&str>) -> Vec<WorkflowSummary> {
        self.workflows()
            .into_iter()
            .filter(|w| category.is_none_or(|c| w.category.as_deref() == Some(c)))
            .filter(|w| tag.is_none_or(|t| w.tags.iter().any(|x| x == t)))
            .map(|w| WorkflowSummary {
                id: w.id.clone(),
                name: w.name.clone(),
                version: w.version.to_string(),
                description: w.description.trim().to_owned(),
                category: w.category.clone(),
                tags: w.tags.clone(),
                phase_count: w.phases.len(),
                estimated_minutes: w.estimated_minutes,
                hints: w.hints.clone(),
                source: w.source.clone(),
            })
            .collect()
    }

    /// A workflow for an agent (MCP, untrusted): by id, or by a path
    /// relative to `root` that stays inside it. Nothing outside `root` is
    /// read, and errors quote at most a short prefix of the argument.
    pub fn resolve_in(&self, id_or_path: &str, root: &Path) -> Result<Workflow> {
        if !looks_like_path(id_or_path) {
            return self.by_id(id_or_path);
        }
        let outside = || {
            Error::BadRequest(format!(
                "workflow `{}` is not a workflow id nor a path inside the workspace; name a workflow by its id (see workflow_list) or by a workspace-relative path such as `.checkrail/workflows/x.yaml`",
                crate::error::clip(id_or_path)
            ))
        };
        let relative = Path::new(id_or_path);
        if relative.is_absolute()
            || id_or_path.starts_with('~')
            || relative
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(outside());
        }
        let root = root.canonicalize().map_err(|_| outside())?;
        let full = root.join(relative);
        let canonical = full.canonicalize().map_err(|_| Error::InvalidWorkflow {
            source_name: crate::error::clip(id_or_path).into_owned(),
            problems: vec!["no such file in the workspace".to_owned()],
        })?;
        if !canonical.starts_with(&root) {
            return Err(outside());
        }
        parse_file_in(&full, Some(&root), self.limits)
    }

    /// A workflow by `id` or `id@<semver requirement>`; a pack workflow
    /// (`pack/id`) is the highest installed version that matches, checked
    /// against `checkrail.lock`.
    fn by_id(&self, reference: &str) -> Result<Workflow> {
        let (id, requirement) = split_requirement(reference)?;
        let unknown = || Error::UnknownWorkflow {
            id: reference.to_owned(),
            known: self.workflows().iter().map(|w| w.id.clone()).collect(),
        };
        let matching = |w: &&Workflow| w.id == id && requirement.matches(&w.version);
        if id.contains('/') {
            let found = self
                .packs
                .iter()
                .filter(|p| p.workflow.id == id && requirement.matches(&p.workflow.version))
                .max_by(|a, b| newer(a, b))
                .ok_or_else(|| self.no_pack_match(id, &requirement).unwrap_or_else(unknown))?;
            self.check_pinned(found)?;
            return Ok(found.workflow.clone());
        }
        if let Some(bundled) = self.bundled().find(|b| b.id == id) {
            let workflow = bundled.workflow().map_err(|e| Error::InvalidWorkflow {
                source_name: format!("bundled:{}", bundled.name),
                problems: vec![crate::error::chain(e)],
            })?;
            return Some(workflow).filter(matching).cloned().ok_or_else(unknown);
        }
        self.workflows
            .iter()
            .find(matching)
            .cloned()
            .ok_or_else(unknown)
    }

    /// When some version of pack workflow `id` is installed but none
    /// matches: an error that lists the installed versions.
    fn no_pack_match(&self, id: &str, requirement: &semver::VersionReq) -> Option<Error> {
        let versions: Vec<String> = self
            .packs
            .iter()
            .filter(|p| p.workflow.id == id)
            .map(|p| {
                format!(
                    "{} (pack {} {})",
                    p.workflow.version, p.pack, p.pack_version
                )
            })
            .collect();
        (!versions.is_empty()).then(|| {
            Error::BadRequest(format!(
                "no installed version of workflow `{id}` matches `{requirement}`; installed: {}",
                versions.join(", ")
            ))
        })
    }

    /// A pack workflow is used only as `checkrail.lock` pins it: its pack
    /// version is locked with this workflow, and the file on disk still has
    /// the locked digest.
    fn check_pinned(&self, found: &PackWorkflow) -> Result<()> {
        let drift = |problem: String| Error::InvalidWorkflow {
            source_name: found.workflow.source.clone(),
            problems: vec![problem],
        };
        let workspace = self.workspace.as_deref().ok_or_else(|| {
            drift("pack workflows need a workspace (for its checkrail.lock)".to_owned())
        })?;
        let lock = LockFile::read(workspace).map_err(|e| drift(crate::error::chain(&e)))?;
        let short_id = found.workflow.id.split_once('/').map_or("", |(_, id)| id);
        let locked = lock
            .entry(&found.pack, &found.pack_version)
            .ok_or_else(|| {
                drift(format!(
                    "pack `{}` {} is installed but not pinned in {LOCK_FILE}; install it with `checkrail pack install` so the lockfile records it",
                    found.pack, found.pack_version
                ))
            })?
            .workflows
            .iter()
            .find(|w| w.id == short_id)
            .ok_or_else(|| {
                drift(format!(
                    "{LOCK_FILE} pins pack `{}` {} without workflow `{short_id}`; reinstall the pack",
                    found.pack, found.pack_version
                ))
            })?;
        let bytes = std::fs::read(&found.path)
            .map_err(|e| drift(format!("cannot read `{}`: {e}", found.path.display())))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if digest != locked.sha256
            || digest != found.manifest_sha256
            || digest != found.workflow.digest
        {
            return Err(drift(format!(
                "workflow `{}@{}` at `{}` has sha256 {digest}, but {LOCK_FILE} pins {} (manifest says {}); the installed file changed: reinstall the locked pack version (`checkrail pack remove {} {}`, then `checkrail pack install`)",
                found.workflow.id,
                found.workflow.version,
                found.path.display(),
                locked.sha256,
                found.manifest_sha256,
                found.pack,
                found.pack_version
            )));
        }
        Ok(())
    }

    /// A workflow by id, or by path when `id_or_path` names a file (for a
    /// human at the command line: any readable path).
    pub fn resolve(&self, id_or_path: &str) -> Result<Workflow> {
        let path = Path::new(id_or_path);
        // A file named like a pack workflow (`dir/flow`) is still that file.
        if is_pack_reference(id_or_path) && path.is_file() {
            return parse_file_in(path, None, self.limits);
        }
        if looks_like_path(id_or_path) {
            if path.exists() {
                return parse_file_in(path, None, self.limits);
            }
            return Err(Error::InvalidWorkflow {
                source_name: crate::error::clip(id_or_path).into_owned(),
                problems: vec!["no such file".to_owned()],
            });
        }
        self.by_id(id_or_path)
    }
}

fn looks_like_path(text: &str) -> bool {
    !is_pack_reference(text) && (is_workflow_file(Path::new(text)) || text.contains(['/', '\\']))
}

/// `pack/id` or `pack/id@<requirement>`: two names of lowercase letters,
/// digits and `-`, which no workflow file path looks like.
fn is_pack_reference(text: &str) -> bool {
    let name = text.split_once('@').map_or(text, |(name, _)| name);
    let valid = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    name.split_once('/')
        .is_some_and(|(pack, id)| valid(pack) && valid(id))
}

fn split_requirement(reference: &str) -> Result<(&str, semver::VersionReq)> {
    match reference.split_once('@') {
        None => Ok((reference, semver::VersionReq::STAR)),
        Some((id, req)) => semver::VersionReq::parse(req)
            .map(|r| (id, r))
            .map_err(|e| {
                Error::BadRequest(format!(
                    "`{}` is not a semver requirement ({e}); write e.g. `{id}@^1`",
                    crate::error::clip(req)
                ))
            }),
    }
}

/// Orders pack workflows by workflow version, then pack version.
fn newer(a: &PackWorkflow, b: &PackWorkflow) -> std::cmp::Ordering {
    a.workflow
        .version
        .cmp(&b.workflow.version)
        .then(a.pack_version.cmp(&b.pack_version))
}

/// Reads an installed pack's workflow through the workflow loader; it must
/// still match the pack's manifest. Its id becomes `<pack>/<id>` and its
/// source `pack:<pack>@<version>`.
fn load_pack_workflow(
    pack: &InstalledPack,
    entry: &ManifestWorkflow,
    limits: ReadLimits,
) -> Result<PackWorkflow> {
    let path = pack.dir.join(&entry.file);
    let name = path.display().to_string();
    let invalid = |problem: String| Error::InvalidWorkflow {
        source_name: name.clone(),
        problems: vec![problem],
    };
    let text = read::read(&path, Some(&pack.dir), limits).map_err(invalid)?;
    let mut workflow = parse(&text, &name)?;
    // A changed file stays listed: resolving it is refused, naming the
    // digests (see `Catalog::check_pinned`).
    if workflow.id != entry.id {
        return Err(invalid(format!(
            "states id `{}`, but the manifest of pack `{}` {} lists it as `{}`; reinstall the pack",
            workflow.id, pack.manifest.name, pack.manifest.version, entry.id
        )));
    }
    workflow.id = format!("{}/{}", pack.manifest.name, workflow.id);
    workflow.source = format!("pack:{}@{}", pack.manifest.name, pack.manifest.version);
    Ok(PackWorkflow {
        pack: pack.manifest.name.clone(),
        pack_version: pack.manifest.version.clone(),
        path,
        manifest_sha256: entry.sha256.clone(),
        workflow,
    })
}

fn is_workflow_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_references_are_not_paths() {
        for reference in ["team/release", "team/release@^1", "t2/r-1@>=1, <3"] {
            assert!(is_pack_reference(reference), "{reference}");
            assert!(!looks_like_path(reference), "{reference}");
        }
        for path in [
            ".checkrail/workflows/x.yaml",
            "flows/x.yml",
            "/abs/flow",
            "Team/release",
            "team/release.yaml",
            "a/b/c",
        ] {
            assert!(!is_pack_reference(path), "{path}");
            assert!(looks_like_path(path), "{path}");
        }
    }

    #[test]
    fn requirements_split_off_and_bad_ones_are_named() {
        let (id, req) = split_requirement("team/release@^1.2").unwrap();
        assert_eq!(id, "team/release");
        assert!(req.matches(&semver::Version::new(1, 4, 0)));
        assert!(!req.matches(&semver::Version::new(2, 0, 0)));
        assert_eq!(
            split_requirement("plain").unwrap().1,
            semver::VersionReq::STAR
        );
        let e = split_requirement("team/release@soon")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`soon` is not a semver requirement") && e.contains("team/release@^1"),
            "{e}"
        );
    }
}
