//! The workflows a checkrail process knows: the bundled ones plus those in
//! workflow directories (a workspace's `.checkrail/workflows/`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Workflow, parse, parse_file};
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
}

impl Catalog {
    /// The bundled workflows plus every `*.yaml`, `*.yml` and `*.json` in
    /// `dirs` (missing directories are skipped). Files that fail to load are
    /// kept as problems, not fatal.
    pub fn load(dirs: &[PathBuf]) -> Self {
        let mut catalog = Self::default();
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
                match parse_file(&file) {
                    Ok(wf) => catalog.insert(wf),
                    Err(e) => catalog.problems.push(e),
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
                source: w.source.clone(),
            })
            .collect()
    }

    /// A workflow by id, or by path when `id_or_path` names a file.
    pub fn resolve(&self, id_or_path: &str) -> Result<Workflow> {
        let path = Path::new(id_or_path);
        if is_workflow_file(path) || id_or_path.contains(std::path::MAIN_SEPARATOR) {
            if path.is_file() {
                return parse_file(path);
            }
            return Err(Error::InvalidWorkflow {
                source_name: id_or_path.to_owned(),
                problems: vec!["no such file".to_owned()],
            });
        }
        self.workflows
            .iter()
            .find(|w| w.id == id_or_path)
            .cloned()
            .ok_or_else(|| Error::UnknownWorkflow {
                id: id_or_path.to_owned(),
                known: self.workflows.iter().map(|w| w.id.clone()).collect(),
            })
    }
}

fn is_workflow_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}
