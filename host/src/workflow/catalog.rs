//! The workflows a checkrail process knows: the bundled ones plus those in
//! workflow directories (a workspace's `.checkrail/workflows/`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::read::ReadLimits;
use super::{Workflow, parse, parse_file_in};
use crate::bundled::BUNDLED_WORKFLOWS;
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

/// Known workflows, by id. A workflow in a directory replaces a bundled one
/// with the same id.
#[derive(Debug, Default)]
pub struct Catalog {
    workflows: Vec<Workflow>,
    problems: Vec<Error>,
    /// Bundled workflows replaced by a workflow file: id → bundled digest.
    overridden: Vec<(String, String)>,
    limits: ReadLimits,
}

impl Catalog {
    /// The bundled workflows plus every `*.yaml`, `*.yml` and `*.json` in
    /// `dirs` (missing directories are skipped), read safely (see
    /// [`super::read`]): symlinks only within `root` (each directory itself
    /// when `None`). Files that fail to load are kept as problems, named and
    /// logged, never fatal.
    pub fn load(dirs: &[PathBuf], root: Option<&Path>, limits: ReadLimits) -> Self {
        let mut catalog = Self {
            limits,
            ..Self::default()
        };
        for (name, text) in BUNDLED_WORKFLOWS {
            match parse(text, &format!("bundled:{name}")) {
                Ok(wf) => catalog.insert(wf),
                Err(e) => catalog.problems.push(e),
            }
        }
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
                match parse_file_in(&file, Some(root.unwrap_or(dir)), limits) {
                    Ok(wf) => catalog.insert(wf),
                    Err(e) => {
                        tracing::warn!("workflow file skipped: {e}");
                        catalog.problems.push(e);
                    }
                }
            }
        }
        catalog
    }

    fn insert(&mut self, workflow: Workflow) {
        if let Some(old) = self.workflows.iter().find(|w| w.id == workflow.id)
            && old.source.starts_with("bundled:")
        {
            tracing::warn!(
                "workflow file `{}` overrides the bundled workflow `{}`",
                workflow.source,
                workflow.id
            );
            self.overridden
                .push((workflow.id.clone(), old.digest.clone()));
        }
        self.workflows.retain(|w| w.id != workflow.id);
        self.workflows.push(workflow);
        self.workflows.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// Where a workflow came from: `bundled`, `workspace` (a workflow file)
    /// or `file` (a path given on the command line), its source and digest,
    /// and the replaced bundled workflow's digest when a file overrides one.
    pub fn provenance(&self, workflow: &Workflow) -> serde_json::Value {
        let kind = if workflow.source.starts_with("bundled:") {
            "bundled"
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
    pub fn problems(&self) -> &[Error] {
        &self.problems
    }

    /// All workflows, sorted by id.
    pub fn workflows(&self) -> &[Workflow] {
        &self.workflows
    }

    /// Summaries, optionally filtered by category and tag.
    pub fn list(&self, category: Option<&str>, tag: Option<&str>) -> Vec<WorkflowSummary> {
        self.workflows
            .iter()
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

    fn by_id(&self, id: &str) -> Result<Workflow> {
        self.workflows
            .iter()
            .find(|w| w.id == id)
            .cloned()
            .ok_or_else(|| Error::UnknownWorkflow {
                id: id.to_owned(),
                known: self.workflows.iter().map(|w| w.id.clone()).collect(),
            })
    }

    /// A workflow by id, or by path when `id_or_path` names a file (for a
    /// human at the command line: any readable path).
    pub fn resolve(&self, id_or_path: &str) -> Result<Workflow> {
        let path = Path::new(id_or_path);
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
    is_workflow_file(Path::new(text)) || text.contains(['/', '\\'])
}

fn is_workflow_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}
