//! JSON Schema validation with problems phrased as `<pointer>: <message>`.

use serde_json::Value;

/// Name of the format for paths that must stay inside the workspace.
pub const WORKSPACE_PATH: &str = "workspace-path";

/// A compiled JSON Schema.
pub struct Schema {
    validator: jsonschema::Validator,
}

/// One violation: where (a JSON pointer into the instance) and what.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Violation {
    /// JSON pointer of the offending value (`""` for the whole document).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

impl Schema {
    /// Compiles a schema; the error says why it is not a usable schema.
    ///
    /// Besides the standard formats, `"format": "workspace-path"` accepts only
    /// workspace-relative paths that do not climb out with `..`.
    pub fn compile(schema: &Value) -> Result<Self, String> {
        jsonschema::options()
            .should_validate_formats(true)
            .with_format(WORKSPACE_PATH, |s: &str| {
                checkrail_sdk::normalize_path(s).is_ok()
            })
            .build(schema)
            .map(|validator| Self { validator })
            .map_err(|e| shorten(&e.to_string()))
    }

    /// Every violation of `instance`, each pointer prefixed with `prefix`.
    pub fn violations(&self, instance: &Value, prefix: &str) -> Vec<Violation> {
        self.validator
            .iter_errors(instance)
            .map(|e| {
                let mut message = shorten(&e.to_string());
                if message.ends_with(&format!("is not a \"{WORKSPACE_PATH}\"")) {
                    message = format!(
                        "{} leads outside the workspace; give a path relative to the workspace root without `..`",
                        e.instance()
                    );
                }
                Violation {
                    pointer: format!("{prefix}{}", e.instance_path()),
                    message,
                }
            })
            .collect()
    }
}

/// Keeps messages readable when the schema library quotes a large value.
fn shorten(message: &str) -> String {
    const MAX: usize = 300;
    if message.len() <= MAX {
        return message.to_owned();
    }
    let mut end = MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}
