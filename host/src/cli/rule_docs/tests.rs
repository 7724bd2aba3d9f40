//! The reference as a reader sees it: names, versions and capabilities,
//! fields spelled out, schemas that refer to themselves, hostile text.

use super::*;
use serde_json::json;

fn info(schema: Value) -> RuleInfo {
    RuleInfo {
        id: "demo".to_owned(),
        version: semver::Version::new(1, 2, 3),
        description: "Demo rule.".to_owned(),
        config_schema: schema,
        capabilities: vec![checkrail_sandbox::Capability::exec("cargo")],
        judging_files: vec![],
    }
}

fn page(schema: Value) -> String {
    let info = info(schema);
    let api = semver::Version::new(0, 2, 0);
    render(&[RuleDoc {
        info: &info,
        api_version: &api,
    }])
}

#[test]
fn a_rule_is_named_with_its_version_capabilities_and_fields() {
    let text = page(json!({
        "type": "object",
        "description": "What to check.",
        "additionalProperties": false,
        "required": ["runner"],
        "properties": {
            "args": {"type": "array", "items": {"type": "string"}, "default": [],
                     "description": "Extra\narguments."},
            "runner": {"$ref": "#/$defs/Runner", "description": "The runner."},
            "fallback": {"$ref": "#/$defs/Runner"},
            "limit": {"type": ["integer", "null"], "minimum": 1, "default": null}
        },
        "$defs": {"Runner": {"oneOf": [
            {"const": "cargo", "type": "string", "description": "`cargo test`."},
            {"const": "custom", "type": "string", "description": "A | command\nof yours."}
        ]}}
    }));
    assert!(text.starts_with("# Rule reference\n"), "{text}");
    assert!(text.contains("Rules: [demo](#demo)"), "{text}");
    assert!(
        text.contains("## demo\n\nVersion 1.2.3 · rule API 0.2.0"),
        "{text}"
    );
    assert!(text.contains("**Capabilities:** `exec:cargo`"), "{text}");
    assert!(text.contains("**Judging files:** none"), "{text}");
    assert!(
        text.contains("Required: `runner`. Any other field is refused."),
        "{text}"
    );
    // Required fields first, then by name.
    let runner = text.find("#### `runner`").unwrap();
    let args = text.find("#### `args`").unwrap();
    let limit = text.find("#### `limit`").unwrap();
    assert!(runner < args && args < limit, "{text}");
    assert!(
        text.contains("Required · one of `cargo`, `custom`\n\nThe runner."),
        "{text}"
    );
    assert!(
        text.contains("| `custom` | A \\| command of yours. |"),
        "{text}"
    );
    assert!(
        text.contains("Optional · array of string · default `[]`\n\nExtra\narguments."),
        "{text}"
    );
    assert!(
        text.contains("Optional · integer ≥ 1 · not set by default"),
        "{text}"
    );
    // The same enumeration twice: one table.
    assert!(
        text.contains(
            "#### `fallback`\n\nOptional · one of `cargo`, `custom`\n\nValues as for `runner`.\n"
        ),
        "{text}"
    );
    assert_eq!(text.matches("| value | meaning |").count(), 1, "{text}");
    assert!(text.ends_with("not set by default\n"), "{text:?}");
}

#[test]
fn nested_objects_and_alternatives_are_spelled_out() {
    let text = page(json!({
        "type": "object",
        "properties": {
            "paths": {"type": "array", "items": {"$ref": "#/$defs/PathRule"}},
            "command": {"anyOf": [{"$ref": "#/$defs/Command"}, {"type": "null"}]}
        },
        "$defs": {
            "PathRule": {"anyOf": [
                {"type": "string", "description": "Just the path."},
                {"$ref": "#/$defs/PathSpec", "description": "The path and more."}
            ]},
            "PathSpec": {"type": "object", "required": ["path"], "properties": {
                "path": {"type": "string"},
                "kind": {"enum": ["file", "dir"]}
            }},
            "Command": {"type": "object", "required": ["program"], "properties": {
                "program": {"type": "string", "description": "Program name."}
            }}
        }
    }));
    assert!(text.contains("Every field is optional."), "{text}");
    assert!(
        text.contains("Optional · array of string or object"),
        "{text}"
    );
    assert!(
        text.contains(
            "Each item is one of:\n\n- string: Just the path.\n- object: The path and more.\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("#### `paths[].path`\n\nRequired · string"),
        "{text}"
    );
    assert!(
        text.contains("#### `paths[].kind`\n\nOptional · one of `file`, `dir`"),
        "{text}"
    );
    assert!(
        text.contains("#### `command`\n\nOptional · object"),
        "{text}"
    );
    assert!(
        text.contains("#### `command.program`\n\nRequired · string\n\nProgram name."),
        "{text}"
    );
}

#[test]
fn a_schema_that_refers_to_itself_ends() {
    let text = page(json!({
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {
            "next": {"$ref": "#/$defs/Node"}
        }}}
    }));
    assert!(text.contains("#### `node.next`"), "{text}");
    assert!(!text.contains("node.next.next"), "{text}");
}

#[test]
fn rules_without_fields_say_so_and_hostile_text_is_escaped() {
    let text = page(json!({"type": "object", "additionalProperties": false}));
    assert!(text.contains("It takes no config: `{}`."), "{text}");
    let text = page(json!(true));
    assert!(text.contains("Its schema declares no fields"), "{text}");

    let mut hostile = info(json!({"type": "object"}));
    hostile.description = "bell\u{7} and `tick`".to_owned();
    hostile.capabilities = vec![checkrail_sandbox::Capability::exec("a`b")];
    let api = semver::Version::new(0, 2, 0);
    let text = render(&[RuleDoc {
        info: &hostile,
        api_version: &api,
    }]);
    assert!(text.contains(r"bell\u{7} and `tick`"), "{text}");
    assert!(text.contains("``exec:a`b``"), "{text}");
}

#[test]
fn anchors_follow_github() {
    assert_eq!(anchor("file-exists"), "file-exists");
    assert_eq!(
        anchor("What an agent cannot fake"),
        "what-an-agent-cannot-fake"
    );
    assert_eq!(anchor("`paths[].kind`"), "pathskind");
}
