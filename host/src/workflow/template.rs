//! References in workflows, filled into guidance, tasks and rule configs:
//!
//! - `{{inputs.NAME}}`: the value the session was started with, filled at
//!   start (the session pins the filled workflow);
//! - `{{evidence.PHASE.FIELD}}` (a path of fields, `.`-separated): what the
//!   agent submitted when an earlier phase passed, filled when the phase
//!   that uses it is shown or checked (inside a loop group, the evidence of
//!   the group's phases in the current iteration);
//! - `{{item}}` / `{{item.FIELD}}`: the current item of a `foreach` group,
//!   filled when the phase is shown or checked.

use serde_json::{Map, Value};

use super::{Phase, Workflow};

const OPEN: &str = "{{";
/// Where a phase's frozen paths sit, relative to the phase.
const FROZEN_PATHS: &str = "checkpoint/frozen/paths";
const CLOSE: &str = "}}";

/// One reference: its namespace (`inputs`, `evidence`) and the dotted path
/// after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `inputs`, `evidence` or `item`.
    pub namespace: String,
    /// The rest: an input name, or a phase id and fields.
    pub path: Vec<String>,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{{{{{}}}}}", self.namespace)
        } else {
            write!(f, "{{{{{}.{}}}}}", self.namespace, self.path.join("."))
        }
    }
}

/// References to `inputs` and `evidence` in `text`, in order; other
/// `{{...}}` text is left alone.
pub fn references(text: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    scan(text, |reference| {
        found.push(reference.clone());
        None
    });
    found
}

/// Walks `text`, offering each reference to `replace`; returns the text
/// with the replacements made (references it declines stay as written).
fn scan(text: &str, mut replace: impl FnMut(&Reference) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else { break };
        let inner = after[..end].trim();
        out.push_str(&rest[..start]);
        let parsed = if inner == "item" {
            Some(Reference {
                namespace: "item".to_owned(),
                path: Vec::new(),
            })
        } else {
            inner.split_once('.').and_then(|(ns, path)| {
                matches!(ns, "inputs" | "evidence" | "item").then(|| Reference {
                    namespace: ns.to_owned(),
                    path: path.split('.').map(|p| p.trim().to_owned()).collect(),
                })
            })
        };
        match parsed.as_ref().and_then(&mut replace) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + OPEN.len() + end + CLOSE.len()]),
        }
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    out
}

/// What references can be filled from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// Inputs (fills `{{inputs.*}}`).
    pub inputs: Option<&'a Map<String, Value>>,
    /// Evidence of passed phases (fills `{{evidence.*}}`).
    pub evidence: Option<&'a Map<String, Value>>,
    /// The current item of a `foreach` group (fills `{{item.*}}`).
    pub item: Option<&'a Value>,
}

/// `text` with every reference of a namespace in `scope` replaced; one
/// without a value is an error naming it.
pub fn fill(text: &str, scope: &Scope<'_>) -> Result<String, String> {
    let mut error = None;
    let out = scan(text, |reference| {
        let value = match reference.namespace.as_str() {
            "inputs" => {
                let inputs = scope.inputs?;
                let name = reference.path.join(".");
                match inputs.get(&name) {
                    Some(v) => Some(v.clone()),
                    None => {
                        error.get_or_insert(format!(
                            "input `{name}` has no value; give it when starting the workflow"
                        ));
                        None
                    }
                }
            }
            "item" => {
                let mut value = Some(scope.item?);
                for field in &reference.path {
                    value = value.and_then(|v| v.get(field.as_str()));
                }
                if value.is_none() {
                    error.get_or_insert(format!(
                        "{reference} has no value: the item of this iteration has no such field"
                    ));
                }
                value.cloned()
            }
            _ => {
                let evidence = scope.evidence?;
                let mut value = evidence.get(reference.path.first()?);
                for field in &reference.path[1..] {
                    value = value.and_then(|v| v.get(field.as_str()));
                }
                if value.is_none() {
                    error.get_or_insert(format!(
                        "{reference} has no value: phase `{}` recorded no such evidence field",
                        reference.path[0]
                    ));
                }
                value.cloned()
            }
        }?;
        Some(match value {
            Value::String(s) => s,
            other => other.to_string(),
        })
    });
    match error {
        Some(error) => Err(error),
        None => Ok(out),
    }
}

fn fill_value(value: &mut Value, scope: &Scope<'_>) -> Result<(), String> {
    match value {
        Value::String(s) => *s = fill(s, scope)?,
        Value::Array(items) => items.iter_mut().try_for_each(|v| fill_value(v, scope))?,
        Value::Object(map) => map.values_mut().try_for_each(|v| fill_value(v, scope))?,
        _ => {}
    }
    Ok(())
}

impl Phase {
    /// Every text of the phase that may hold references, with its pointer
    /// relative to the phase.
    fn texts(&self) -> Vec<(String, String)> {
        let mut texts = vec![("guidance".to_owned(), self.guidance.clone())];
        for (t, task) in self.tasks.iter().enumerate() {
            let text = match task {
                super::Task::Text(text) => text.clone(),
                detailed => serde_json::to_string(detailed).unwrap_or_default(),
            };
            texts.push((format!("tasks/{t}"), text));
        }
        if let Some(checkpoint) = &self.checkpoint {
            for (j, rule) in checkpoint.rules.iter().enumerate() {
                texts.push((
                    format!("checkpoint/rules/{j}/config"),
                    rule.config.to_string(),
                ));
            }
            if let Some(frozen) = &checkpoint.frozen {
                for (k, path) in frozen.paths.iter().enumerate() {
                    texts.push((format!("{FROZEN_PATHS}/{k}"), path.clone()));
                }
            }
        }
        texts
    }

    /// A copy with the references of `scope` filled.
    pub fn filled(&self, scope: &Scope<'_>) -> Result<Phase, String> {
        let mut phase = self.clone();
        phase.guidance = fill(&phase.guidance, scope)?;
        for task in &mut phase.tasks {
            let mut value = serde_json::to_value(&*task).map_err(|e| e.to_string())?;
            fill_value(&mut value, scope)?;
            *task = serde_json::from_value(value).map_err(|e| e.to_string())?;
        }
        if let Some(checkpoint) = &mut phase.checkpoint {
            for rule in &mut checkpoint.rules {
                fill_value(&mut rule.config, scope)?;
            }
            if let Some(frozen) = &mut checkpoint.frozen {
                for path in &mut frozen.paths {
                    *path = fill(path, scope)?;
                }
            }
        }
        Ok(phase)
    }
}

impl Workflow {
    /// Every reference that cannot work, with the JSON pointer of where it
    /// appears: an undeclared input, evidence of an unknown phase, or of a
    /// phase that does not come earlier.
    pub fn bad_references(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, phase) in self.phases.iter().enumerate() {
            let group = self.group_of(i);
            for (at, text) in phase.texts() {
                let at = format!("{}/{at}", self.pointer(i));
                for reference in references(&text) {
                    let first = reference.path.first().cloned().unwrap_or_default();
                    if at.contains(FROZEN_PATHS) && reference.namespace != "inputs" {
                        problems.push(format!(
                            "{at}: refers to `{reference}`, but frozen paths can only use inputs: they are snapshotted when phase `since` passes, before later evidence or items exist"
                        ));
                        continue;
                    }
                    match reference.namespace.as_str() {
                        "inputs" if !self.inputs.contains_key(&reference.path.join(".")) => {
                            let name = reference.path.join(".");
                            problems.push(format!("{at}: refers to `{reference}`, but the workflow declares no input `{name}`"));
                        }
                        "item" if group.is_none_or(|g| g.foreach.is_none()) => problems.push(format!(
                            "{at}: refers to `{reference}`, but only phases of a `foreach` group have an item"
                        )),
                        "evidence" => match self.index_of(&first) {
                            None => problems.push(format!(
                                "{at}: refers to `{reference}`, but the workflow has no phase `{first}`"
                            )),
                            Some(j) if j >= i => problems.push(format!(
                                "{at}: refers to `{reference}`, but phase `{first}` does not come before phase `{}`; only evidence of earlier phases exists",
                                phase.id
                            )),
                            Some(j) if self.group_of(j).is_some_and(|theirs| group.is_none_or(|g| g.id != theirs.id)) => problems.push(format!(
                                "{at}: refers to `{reference}`, but phase `{first}` runs once per iteration of its group; only phases of that group can refer to its evidence"
                            )),
                            Some(_) if reference.path.len() < 2 => problems.push(format!(
                                "{at}: `{reference}` names no field; write `{{{{evidence.{first}.FIELD}}}}`"
                            )),
                            Some(_) => {}
                        },
                        _ => {}
                    }
                }
            }
        }
        problems
    }

    /// A copy with `phase` in place of the phase with the same id.
    pub fn with_phase(&self, phase: Phase) -> Workflow {
        let mut workflow = self.clone();
        if let Some(slot) = workflow.phases.iter_mut().find(|p| p.id == phase.id) {
            *slot = phase;
        }
        workflow
    }

    /// A copy with every input reference filled from `inputs` (evidence
    /// references stay until their phase is reached).
    pub fn instantiate(&self, inputs: &Map<String, Value>) -> Result<Workflow, String> {
        let scope = Scope {
            inputs: Some(inputs),
            ..Scope::default()
        };
        let mut workflow = self.clone();
        for phase in &mut workflow.phases {
            *phase = phase.filled(&scope)?;
        }
        Ok(workflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn fills_inputs_and_names_what_is_missing() {
        let inputs = map(json!({"module": "src/parser.rs", "n": 3}));
        let scope = Scope {
            inputs: Some(&inputs),
            ..Scope::default()
        };
        assert_eq!(
            fill("cover {{inputs.module}} with {{inputs.n}} tests", &scope).unwrap(),
            "cover src/parser.rs with 3 tests"
        );
        let names: Vec<String> = references("a {{inputs.x}} b {{evidence.p.f}} {{other}}")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["{{inputs.x}}", "{{evidence.p.f}}"]);
        assert!(
            fill("{{inputs.nope}}", &scope)
                .unwrap_err()
                .contains("input `nope` has no value")
        );
        // Evidence is not in scope: left for later.
        assert_eq!(
            fill("run {{evidence.p.test}}", &scope).unwrap(),
            "run {{evidence.p.test}}"
        );
    }

    #[test]
    fn fills_evidence_fields_of_earlier_phases() {
        let evidence = map(json!({"reproduce": {"test_name": "parses_empty", "meta": {"n": 2}}}));
        let scope = Scope {
            evidence: Some(&evidence),
            ..Scope::default()
        };
        assert_eq!(
            fill(
                "{{evidence.reproduce.test_name}} x{{evidence.reproduce.meta.n}}",
                &scope
            )
            .unwrap(),
            "parses_empty x2"
        );
        let err = fill("{{evidence.reproduce.nope}}", &scope).unwrap_err();
        assert!(err.contains("no such evidence field"), "{err}");
    }

    #[test]
    fn lint_refuses_evidence_of_unknown_or_later_phases() {
        let workflow = crate::workflow::parse(
            "id: w\nversion: 0.1.0\nname: W\ndescription: d\nphases:\n  - id: a\n    name: A\n    guidance: '{{evidence.b.x}} {{evidence.a.x}}'\n  - id: b\n    name: B\n    guidance: '{{evidence.a.x}} {{evidence.nope.x}} {{evidence.a}}'\n",
            "w.yaml",
        );
        let err = workflow.unwrap_err().to_string();
        assert!(err.contains("/phases/0/guidance: refers to `{{evidence.b.x}}`, but phase `b` does not come before phase `a`"), "{err}");
        assert!(
            err.contains("phase `a` does not come before phase `a`"),
            "{err}"
        );
        assert!(err.contains("/phases/1/guidance: refers to `{{evidence.nope.x}}`, but the workflow has no phase `nope`"), "{err}");
        assert!(err.contains("names no field"), "{err}");
    }

    #[test]
    fn frozen_paths_take_inputs_only() {
        let text = |reference: &str| {
            format!(
                "id: w\nversion: 0.1.0\nname: W\ndescription: d\ninputs:\n  bench: {{ description: b }}\nphases:\n  - id: a\n    name: A\n    guidance: g\n    checkpoint:\n      evidence_schema: {{ type: object, properties: {{ x: {{ type: string }} }} }}\n  - id: b\n    name: B\n    guidance: g\n    checkpoint:\n      frozen: {{ since: a, paths: [\"{reference}\"] }}\n"
            )
        };
        let workflow = crate::workflow::parse(&text("{{inputs.bench}}/**"), "w.yaml").unwrap();
        let filled = workflow
            .instantiate(&map(json!({"bench": "benches"})))
            .unwrap();
        let frozen = filled.phases[1]
            .checkpoint
            .as_ref()
            .unwrap()
            .frozen
            .as_ref();
        assert_eq!(frozen.unwrap().paths, ["benches/**"]);
        let err = crate::workflow::parse(&text("{{evidence.a.x}}"), "w.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/phases/1/checkpoint/frozen/paths/0: refers to `{{evidence.a.x}}`, but frozen paths can only use inputs"),
            "{err}"
        );
    }
}
