//! JSON Schema validation with problems phrased as `<pointer>: <message>`.

use serde_json::Value;

/// A compiled JSON Schema.
pub struct Schema {
    validator: jsonschema::Validator,
}

/// One violation: where (a JSON pointer into the instance) and what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
    pub fn compile(schema: &Value) -> Result<Self, String> {
        jsonschema::validator_for(schema)
            .map(|validator| Self { validator })
            .map_err(|e| shorten(&e.to_string()))
    }

    /// Every violation of `instance`, each pointer prefixed with `prefix`.
    pub fn violations(&self, instance: &Value, prefix: &str) -> Vec<Violation> {
        self.validator
            .iter_errors(instance)
            .map(|e| Violation {
                pointer: format!("{prefix}{}", e.instance_path()),
                message: shorten(&e.to_string()),
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
