//! Inputs in workflows: `{{inputs.NAME}}` in guidance, tasks and rule
//! configs is replaced by the value the session was started with.

use serde_json::{Map, Value};

use super::Workflow;

const OPEN: &str = "{{inputs.";
const CLOSE: &str = "}}";

/// Names of the inputs referenced in `text`, in order.
pub fn references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else { break };
        names.push(after[..end].trim().to_owned());
        rest = &after[end + CLOSE.len()..];
    }
    names
}

/// `text` with every reference replaced; an input without a value is an
/// error naming it.
pub fn fill(text: &str, inputs: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else { break };
        let name = after[..end].trim();
        let value = inputs.get(name).ok_or_else(|| {
            format!("input `{name}` has no value; give it when starting the workflow")
        })?;
        out.push_str(&rest[..start]);
        match value {
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

fn fill_value(value: &mut Value, inputs: &Map<String, Value>) -> Result<(), String> {
    match value {
        Value::String(s) => *s = fill(s, inputs)?,
        Value::Array(items) => items.iter_mut().try_for_each(|v| fill_value(v, inputs))?,
        Value::Object(map) => map.values_mut().try_for_each(|v| fill_value(v, inputs))?,
        _ => {}
    }
    Ok(())
}

impl Workflow {
    /// Every `{{inputs.NAME}}` in the workflow whose NAME is not a declared
    /// input, with the JSON pointer of where it appears.
    pub fn undeclared_inputs(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |text: &str, at: String| {
            for name in references(text) {
                if !self.inputs.contains_key(&name) {
                    problems.push(format!("{at}: refers to `{{{{inputs.{name}}}}}`, but the workflow declares no input `{name}`"));
                }
            }
        };
        for (i, phase) in self.phases.iter().enumerate() {
            check(&phase.guidance, format!("/phases/{i}/guidance"));
            for (t, task) in phase.tasks.iter().enumerate() {
                check(task, format!("/phases/{i}/tasks/{t}"));
            }
            if let Some(checkpoint) = &phase.checkpoint {
                for (j, rule) in checkpoint.rules.iter().enumerate() {
                    check(
                        &rule.config.to_string(),
                        format!("/phases/{i}/checkpoint/rules/{j}/config"),
                    );
                }
            }
        }
        problems
    }

    /// A copy with every input reference filled from `inputs`.
    pub fn instantiate(&self, inputs: &Map<String, Value>) -> Result<Workflow, String> {
        let mut workflow = self.clone();
        for phase in &mut workflow.phases {
            phase.guidance = fill(&phase.guidance, inputs)?;
            for task in &mut phase.tasks {
                *task = fill(task, inputs)?;
            }
            if let Some(checkpoint) = &mut phase.checkpoint {
                for rule in &mut checkpoint.rules {
                    fill_value(&mut rule.config, inputs)?;
                }
            }
        }
        Ok(workflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_and_names_what_is_missing() {
        let inputs: Map<String, Value> = json!({"module": "src/parser.rs", "n": 3})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            fill("cover {{inputs.module}} with {{inputs.n}} tests", &inputs).unwrap(),
            "cover src/parser.rs with 3 tests"
        );
        assert_eq!(references("a {{inputs.x}} b {{inputs.y}}"), ["x", "y"]);
        assert!(
            fill("{{inputs.nope}}", &inputs)
                .unwrap_err()
                .contains("input `nope` has no value")
        );
        assert_eq!(fill("no references", &inputs).unwrap(), "no references");
    }
}
