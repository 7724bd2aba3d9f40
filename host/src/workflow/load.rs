//! Parsing and validating workflow files.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::DoneWhen;
use super::read::{self, ReadLimits};
use super::{RuleRef, Workflow};
use crate::bundled::WORKFLOW_SCHEMA;
use crate::schema::Schema;
use crate::{Error, Result};

fn workflow_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let value: Value = serde_json::from_str(WORKFLOW_SCHEMA).unwrap_or_default();
        // The bundled schema is tested to compile; see the tests below.
        Schema::compile(&value)
            .unwrap_or_else(|e| panic!("bundled workflow schema is invalid: {e}"))
    })
}

/// Reads and validates a workflow file (`.yaml`, `.yml` or `.json`) with the
/// default limits, following symlinks anywhere (a path a human gave).
pub fn parse_file(path: &Path) -> Result<Workflow> {
    parse_file_in(path, None, ReadLimits::default())
}

/// Reads and validates a workflow file safely: a regular file only, a
/// symlink only when it stays inside `root`, at most `limits.max_bytes`.
pub fn parse_file_in(path: &Path, root: Option<&Path>, limits: ReadLimits) -> Result<Workflow> {
    parse_file_remembered(path, root, limits, None)
}

/// Parses and validates workflow text; `source_name` names it in errors. JSON
/// is accepted as well as YAML.
pub fn parse(text: &str, source_name: &str) -> Result<Workflow> {
    parse_remembered(text, source_name, None)
}

/// [`parse_file_in`], remembering under `remember` (a cache directory)
/// the texts the workflow schema accepted: see [`parse_remembered`].
pub fn parse_file_remembered(
    path: &Path,
    root: Option<&Path>,
    limits: ReadLimits,
    remember: Option<&Path>,
) -> Result<Workflow> {
    let name = path.display().to_string();
    let text = read::read(path, root, limits).map_err(|problem| Error::InvalidWorkflow {
        source_name: name.clone(),
        problems: vec![problem],
    })?;
    parse_remembered(&text, &name, remember)
}

/// What a file under the cache directory `dir` is named after: the
/// workflow schema this checkrail carries and the text it accepted.
fn accepted_marker(dir: &Path, text: &str) -> std::path::PathBuf {
    let mut hash = Sha256::new();
    for part in [env!("CARGO_PKG_VERSION"), WORKFLOW_SCHEMA, text] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    dir.join(format!(
        "{}.workflow-accepted",
        hex::encode(hash.finalize())
    ))
}

/// [`parse`], skipping the JSON Schema check of a text the schema accepted
/// before, as a marker file under `remember` says (compiling the workflow
/// schema is most of what a hook's warm check spends on its workflow). Only
/// that check is skipped: the text is still read into the model and every
/// other check runs. A marker forged in the cache can at most let a text
/// the schema would refuse get as far as the model allows, and a workflow
/// file is used only once a human allowed it (`allow::check_workflow`).
pub fn parse_remembered(
    text: &str,
    source_name: &str,
    remember: Option<&Path>,
) -> Result<Workflow> {
    let invalid = |problems: Vec<String>| Error::InvalidWorkflow {
        source_name: source_name.to_owned(),
        problems,
    };
    let marker = remember.map(|dir| accepted_marker(dir, text));
    read::check_nesting(text).map_err(|e| invalid(vec![e]))?;
    let value: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| invalid(vec![format!("not valid JSON: {e}")]))?
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| invalid(vec![format!("not valid YAML: {e}")]))?
    };
    let accepted_before = marker.as_deref().is_some_and(Path::exists);
    if !accepted_before {
        let violations = workflow_schema().violations(&value, "");
        if !violations.is_empty() {
            return Err(invalid(
                violations.iter().map(ToString::to_string).collect(),
            ));
        }
    }
    let mut workflow: Workflow = serde_json::from_value(value)
        .map_err(|e| invalid(vec![format!("does not fit the workflow model: {e}")]))?;

    let mut problems = Vec::new();
    for (i, phase) in workflow.phases.iter().enumerate() {
        let at = workflow.pointer(i);
        if workflow.phases[..i].iter().any(|p| p.id == phase.id) {
            problems.push(format!(
                "{at}/id: phase id `{}` is used twice; phase ids must be unique",
                phase.id
            ));
        }
        let Some(checkpoint) = &phase.checkpoint else {
            continue;
        };
        if let Some(schema) = &checkpoint.evidence_schema
            && let Err(e) = Schema::compile(schema)
        {
            problems.push(format!(
                "{at}/checkpoint/evidence_schema: not a usable JSON Schema: {e}"
            ));
        }
        for (j, rule) in checkpoint.rules.iter().enumerate() {
            if let Err(e) = RuleRef::parse(&rule.rule) {
                problems.push(format!("{at}/checkpoint/rules/{j}/rule: {e}"));
            }
        }
        if let Some(frozen) = &checkpoint.frozen
            && !workflow.phases[..i].iter().any(|p| p.id == frozen.since)
        {
            problems.push(format!(
                "{at}/checkpoint/frozen/since: `{}` is not an earlier phase; files can only be frozen since a phase that comes before `{}`",
                frozen.since, phase.id
            ));
        }
    }
    problems.extend(workflow.task_and_artifact_problems());
    problems.extend(workflow.bad_references());
    problems.extend(workflow.flow_problems());
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    workflow.digest = digest(text);
    workflow.source = source_name.to_owned();
    if let (Some(marker), false) = (marker, accepted_before)
        && let Err(e) = std::fs::write(&marker, b"")
    {
        tracing::debug!("could not remember `{}`: {e}", marker.display());
    }
    Ok(workflow)
}

/// A workflow's digest: the sha256 of its text.
pub(super) fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Workflow {
    /// Tasks with unique ids whose `done_when` can work, checkpoints that
    /// require tasks having some to check, and artifacts frozen only since
    /// a phase that records them.
    fn task_and_artifact_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, phase) in self.phases.iter().enumerate() {
            let at = self.pointer(i);
            let checkpoint = phase.checkpoint.as_ref();
            for (t, task) in phase.tasks.iter().enumerate() {
                let Some(id) = task.id() else { continue };
                if phase.tasks[..t].iter().any(|other| other.id() == Some(id)) {
                    problems.push(format!(
                        "{at}/tasks/{t}/id: task id `{id}` is used twice in phase `{}`",
                        phase.id
                    ));
                }
                match task.done_when() {
                    Some(DoneWhen::Rule { rule, .. }) => {
                        if let Err(e) = RuleRef::parse(rule) {
                            problems.push(format!("{at}/tasks/{t}/done_when/rule: {e}"));
                        }
                    }
                    Some(DoneWhen::Evidence { evidence }) => {
                        let field = evidence
                            .trim_start_matches('/')
                            .split('/')
                            .next()
                            .unwrap_or("");
                        let properties = checkpoint
                            .and_then(|c| c.evidence_schema.as_ref())
                            .and_then(|s| s.get("properties"))
                            .and_then(|p| p.as_object());
                        match properties {
                            None => problems.push(format!(
                                "{at}/tasks/{t}/done_when/evidence: phase `{}` takes no evidence; give its checkpoint an evidence_schema with `{field}`",
                                phase.id
                            )),
                            Some(properties) if !properties.contains_key(field) => problems.push(format!(
                                "{at}/tasks/{t}/done_when/evidence: the evidence_schema of phase `{}` has no property `{field}`",
                                phase.id
                            )),
                            Some(_) => {}
                        }
                    }
                    None => {}
                }
            }
            let Some(checkpoint) = checkpoint else {
                continue;
            };
            if checkpoint.require_tasks && !phase.tasks.iter().any(|t| t.done_when().is_some()) {
                problems.push(format!(
                    "{at}/checkpoint/require_tasks: no task of phase `{}` has a `done_when`, so there is nothing to require",
                    phase.id
                ));
            }
            if let Some(frozen) = &checkpoint.frozen {
                if frozen.paths.is_empty() && !frozen.artifacts {
                    problems.push(format!(
                        "{at}/checkpoint/frozen: freeze `paths`, or the `artifacts: true` of phase `{}`",
                        frozen.since
                    ));
                }
                let records = self
                    .phase(&frozen.since)
                    .and_then(|p| p.checkpoint.as_ref())
                    .is_some_and(|c| !c.artifacts.is_empty());
                if frozen.artifacts && !records {
                    problems.push(format!(
                        "{at}/checkpoint/frozen/artifacts: phase `{}` records no artifacts (its checkpoint has no `artifacts`)",
                        frozen.since
                    ));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse(text, "w.yaml") {
            Err(Error::InvalidWorkflow { problems, .. }) => problems,
            other => panic!("expected invalid workflow, got {other:?}"),
        }
    }

    const MINIMAL: &str = "id: w\nversion: 1.0.0\nname: W\ndescription: d\nphases:\n  - id: a\n    name: A\n    guidance: g\n";

    #[test]
    fn bundled_workflows_and_schema_are_valid() {
        for (name, text) in crate::bundled::BUNDLED_WORKFLOWS {
            let workflow = parse(text, name).unwrap_or_else(|e| panic!("{e}"));
            // The catalog finds a bundled workflow by its file's stem.
            assert_eq!(Some(workflow.id.as_str()), name.strip_suffix(".yaml"));
        }
        let wf = parse(MINIMAL, "w.yaml").unwrap();
        assert_eq!(wf.digest.len(), 64);
    }

    #[test]
    fn a_text_the_schema_accepted_is_remembered_and_nothing_else() {
        let cache = tempfile::tempdir().expect("cache");
        let remembered = |text: &str| parse_remembered(text, "w.yaml", Some(cache.path()));
        let markers = || std::fs::read_dir(cache.path()).expect("dir").count();
        let first = remembered(MINIMAL).expect("valid");
        assert_eq!(markers(), 1, "an accepted text is remembered");
        assert_eq!(
            remembered(MINIMAL).expect("still valid").digest,
            first.digest
        );
        assert_eq!(markers(), 1);
        // A text the schema refuses is refused every time and never marked.
        let bad = MINIMAL.replace("version: 1.0.0", "version: one");
        for _ in 0..2 {
            assert!(remembered(&bad).is_err());
        }
        assert_eq!(markers(), 1);
        // The marker is the schema's word on that text alone: any other
        // text, however close, is checked again.
        let other = MINIMAL.replace("name: W", "name: W2");
        assert!(!accepted_marker(cache.path(), &other).exists());
        assert!(accepted_marker(cache.path(), MINIMAL).exists());
    }

    #[test]
    fn errors_name_the_field() {
        let p = problems(&MINIMAL.replace("version: 1.0.0", "version: one"));
        assert!(p[0].starts_with("/version:"), "{p:?}");
        let p = problems(&format!(
            "{MINIMAL}    checkpoint:\n      rules:\n        - rule: file-exists\n          sevrity: warn\n"
        ));
        assert!(
            p[0].starts_with("/phases/0/checkpoint/rules/0:") && p[0].contains("sevrity"),
            "{p:?}"
        );
        let p = problems(&format!(
            "{MINIMAL}  - id: a\n    name: again\n    guidance: g\n"
        ));
        assert!(
            p[0].contains("/phases/1/id: phase id `a` is used twice"),
            "{p:?}"
        );
        let p = problems("id: [unclosed");
        assert!(p[0].starts_with("not valid YAML"), "{p:?}");
        let p = problems(&format!(
            "{MINIMAL}    checkpoint:\n      rules:\n        - rule: file-exists@nope\n"
        ));
        assert!(
            p[0].contains("/phases/0/checkpoint/rules/0/rule: `nope` is not a semver requirement"),
            "{p:?}"
        );
    }

    #[test]
    fn accepts_json() {
        let wf = parse(
            r#"{"id":"j","version":"0.1.0","name":"J","description":"d","phases":[{"id":"p","name":"P","guidance":"g"}]}"#,
            "j.json",
        )
        .unwrap();
        assert_eq!(wf.phases[0].id, "p");
    }
}
