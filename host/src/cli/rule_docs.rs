//! `checkrail rule docs`: the rule reference, generated as Markdown from what
//! each installed rule says about itself (`describe`: id, version,
//! description, capabilities, judging files and the JSON Schema of its
//! config).
//!
//! The reference is generated rather than written so it cannot drift from
//! the rules: a rule's doc comments become its config schema (schemars), and
//! the schema becomes this page. `docs/rules-reference.md` is this command's
//! output for the bundled rules; a test fails when the two differ.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use checkrail::Checkrail;
use checkrail::runtime::RuleInfo;
use serde_json::Value;

use super::{Exit, output};

/// The command that regenerates the repository's reference from a checkout,
/// named at the top of every page.
const REGENERATE: &str = "cargo run -p checkrail -- rule docs --out docs/rules-reference.md";

/// How deep nested objects are documented; deeper fields are left to the
/// schema in `rule list --json` (and a schema that refers to itself stops).
const MAX_DEPTH: usize = 6;

/// Arguments of `checkrail rule docs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the Markdown to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// One rule as the reference shows it.
pub struct RuleDoc<'a> {
    /// What the rule says about itself.
    pub info: &'a RuleInfo,
    /// The rule API version it was built for.
    pub api_version: &'a semver::Version,
}

/// Runs `checkrail rule docs`: every installed rule (bundled and from
/// `--rules-dir`), in name order. A rule that cannot be loaded fails the
/// command rather than leaving a silent gap in the reference.
pub fn run(engine: &Checkrail, args: &Args) -> Result<Exit> {
    let mut loaded = Vec::new();
    for name in engine.rule_names() {
        let rule = engine
            .rule(&name)
            .with_context(|| format!("load rule `{name}` to document it"))?;
        loaded.push(rule);
    }
    let docs: Vec<RuleDoc<'_>> = loaded
        .iter()
        .map(|rule| RuleDoc {
            info: &rule.component.info,
            api_version: &rule.component.api_version,
        })
        .collect();
    let page = render(&docs);
    match &args.out {
        Some(path) => {
            std::fs::write(path, &page)
                .with_context(|| format!("write the rule reference to `{}`", path.display()))?;
            println!(
                "wrote the reference of {} rules to {}",
                docs.len(),
                output::shown(&path.display().to_string())
            );
        }
        None => print!("{page}"),
    }
    Ok(Exit::Passed)
}

/// The whole reference page.
pub fn render(rules: &[RuleDoc<'_>]) -> String {
    let mut out = String::new();
    out.push_str("# Rule reference\n\n");
    let _ = writeln!(
        out,
        "**Generated** by `checkrail rule docs` from what each rule says about itself: \
         its id, version, description, capabilities, judging files and the JSON Schema \
         of its config, whose descriptions are the rule's own doc comments. Do not edit \
         it by hand: change the rule, rebuild, and regenerate the page; in a checkrail \
         checkout that is `{REGENERATE}`, and a test fails while this page and the \
         bundled rules disagree. The guide to the bundled rules, with examples, is \
         `docs/rules.md`; the full schemas are in `checkrail rule list --json`.\n"
    );
    out.push_str(
        "A capability `exec:<program>` means the rule may ask the host to run that \
         program; `exec:*` means any program, for a command the workflow names. \
         Nothing runs unless the workspace's `checkrail.toml` grants it. Judging files \
         are the files that change how the rule's tool judges: a session snapshots \
         them when it starts, and a change blocks until a human accepts it. A nested \
         field (`command.program`, `paths[].path`) marked required must be set \
         whenever the object holding it is given.\n\n",
    );
    let _ = writeln!(
        out,
        "Rules: {}\n",
        rules
            .iter()
            .map(|r| format!("[{0}](#{1})", text(&r.info.id), anchor(&r.info.id)))
            .collect::<Vec<_>>()
            .join(" · ")
    );
    for rule in rules {
        render_rule(&mut out, rule);
    }
    // One trailing newline, as editors and `git diff` expect.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn render_rule(out: &mut String, rule: &RuleDoc<'_>) {
    let info = rule.info;
    let _ = writeln!(out, "## {}\n", text(&info.id));
    let _ = writeln!(
        out,
        "Version {} · rule API {}\n",
        info.version, rule.api_version
    );
    let _ = writeln!(out, "{}\n", text(&info.description));
    let capabilities: Vec<String> = info.capabilities.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "**Capabilities:** {}\n", code_list(&capabilities));
    let _ = writeln!(
        out,
        "**Judging files:** {}\n",
        code_list(&info.judging_files)
    );
    let _ = writeln!(out, "### {} config\n", text(&info.id));
    let schema = &info.config_schema;
    let doc = Schema { root: schema };
    let top = doc.resolve(schema);
    if let Some(description) = top.get("description").and_then(Value::as_str) {
        let _ = writeln!(out, "{}\n", text(description));
    }
    let properties = top.get("properties").and_then(Value::as_object);
    let required = required_of(top);
    match properties {
        Some(properties) if !properties.is_empty() => {
            let mut line = String::new();
            if required.is_empty() {
                line.push_str("Every field is optional.");
            } else {
                let names: Vec<&str> = required.iter().map(String::as_str).collect();
                let _ = write!(line, "Required: {}.", code_list(&names));
            }
            if top.get("additionalProperties") == Some(&Value::Bool(false)) {
                line.push_str(" Any other field is refused.");
            }
            let _ = writeln!(out, "{line}\n");
            doc.fields(out, "", top, 0, &mut Walk::default());
        }
        _ if top.get("additionalProperties") == Some(&Value::Bool(false)) => {
            out.push_str("It takes no config: `{}`.\n\n");
        }
        _ => {
            let _ = writeln!(
                out,
                "Its schema declares no fields (type: {}).\n",
                doc.type_of(top, 0)
            );
        }
    }
}

/// What one rule's walk has seen: the objects being documented (a schema
/// that refers to itself stops there) and the value tables already written
/// (a second field of the same enumeration points at the first).
#[derive(Default)]
struct Walk {
    open: Vec<*const Value>,
    tables: Vec<(*const Value, String)>,
}

/// A config schema, with its `$defs` for resolving references.
struct Schema<'a> {
    root: &'a Value,
}

impl<'a> Schema<'a> {
    /// `schema` with local `$ref`s followed (a chain of at most a few).
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..MAX_DEPTH {
            let Some(target) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            match target
                .strip_prefix('#')
                .and_then(|pointer| self.root.pointer(pointer))
            {
                Some(found) => schema = found,
                None => break,
            }
        }
        schema
    }

    /// `schema` resolved, and unwrapped when it is "X or null" (an optional
    /// field: null means the same as leaving it out).
    fn essential(&self, schema: &'a Value) -> &'a Value {
        let mut schema = self.resolve(schema);
        for _ in 0..MAX_DEPTH {
            let alternatives = self.alternatives(schema);
            if alternatives.len() == 1 && schema.get("properties").is_none() {
                schema = self.resolve(alternatives[0]);
            } else {
                break;
            }
        }
        schema
    }

    /// The non-null alternatives of an `anyOf` or `oneOf`.
    fn alternatives(&self, schema: &'a Value) -> Vec<&'a Value> {
        schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
            .map(|alternatives| {
                alternatives
                    .iter()
                    .filter(|a| !is_null(self.resolve(a)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The values of an enumeration, each with its description: `enum`, or
    /// a `oneOf`/`anyOf` whose alternatives are all constants.
    fn values(&self, schema: &'a Value) -> Option<Vec<(String, Option<&'a str>)>> {
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return Some(
                values
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(|v| (scalar(v), None))
                    .collect(),
            );
        }
        let alternatives = self.alternatives(schema);
        if alternatives.is_empty() {
            return None;
        }
        alternatives
            .iter()
            .map(|a| {
                let a = self.resolve(a);
                let value = a.get("const")?;
                Some((scalar(value), a.get("description").and_then(Value::as_str)))
            })
            .collect()
    }

    /// How a reader would name the type: `string`, `array of string`, `one of
    /// `a`, `b``, `string or object`. Null is left out: every field that may
    /// be null may also be left out.
    fn type_of(&self, schema: &'a Value, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return "any value".to_owned();
        }
        let schema = self.resolve(schema);
        if let Some(value) = schema.get("const") {
            return format!("`{}`", scalar(value));
        }
        if let Some(values) = self.values(schema) {
            let values: Vec<String> = values
                .iter()
                .map(|(v, _)| format!("`{}`", text(v)))
                .collect();
            return format!("one of {}", values.join(", "));
        }
        let alternatives = self.alternatives(schema);
        if !alternatives.is_empty() && schema.get("type").is_none() {
            let mut names: Vec<String> = Vec::new();
            for alternative in alternatives {
                let name = self.type_of(alternative, depth + 1);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            return names.join(" or ");
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect(),
            _ if schema.get("properties").is_some() => vec!["object"],
            _ => vec![],
        };
        let names: Vec<String> = types
            .into_iter()
            .filter(|t| *t != "null")
            .map(|t| match t {
                "array" => match schema.get("items") {
                    Some(items) => format!("array of {}", self.type_of(items, depth + 1)),
                    None => "array".to_owned(),
                },
                "object" => match schema.get("additionalProperties") {
                    Some(values @ Value::Object(_)) => {
                        format!("map of name to {}", self.type_of(values, depth + 1))
                    }
                    _ => "object".to_owned(),
                },
                "integer" | "number" => format!("{t}{}", bounds(schema)),
                "string" => match schema.get("format").and_then(Value::as_str) {
                    Some(format) => format!("string ({})", text(format)),
                    None => "string".to_owned(),
                },
                other => text(other),
            })
            .collect();
        if names.is_empty() {
            "any value".to_owned()
        } else {
            names.join(" or ")
        }
    }

    /// Documents each field of `object`, required ones first, then by name.
    fn fields(
        &self,
        out: &mut String,
        prefix: &str,
        object: &'a Value,
        depth: usize,
        walk: &mut Walk,
    ) {
        let Some(properties) = object.get("properties").and_then(Value::as_object) else {
            return;
        };
        let required = required_of(object);
        let mut names: Vec<&String> = properties.keys().collect();
        names.sort_by_key(|name| (!required.contains(*name), name.as_str()));
        for name in names {
            let path = format!("{prefix}{name}");
            self.field(
                out,
                &path,
                &properties[name.as_str()],
                required.contains(name),
                depth,
                walk,
            );
        }
    }

    /// One field: its heading, type, default, description, values, and the
    /// fields of the objects it holds.
    fn field(
        &self,
        out: &mut String,
        path: &str,
        schema: &'a Value,
        required: bool,
        depth: usize,
        walk: &mut Walk,
    ) {
        let resolved = self.resolve(schema);
        let _ = writeln!(out, "#### `{}`\n", text(path));
        let mut line = String::from(if required { "Required" } else { "Optional" });
        let _ = write!(line, " · {}", self.type_of(schema, 0));
        match schema.get("default").or_else(|| resolved.get("default")) {
            Some(Value::Null) => line.push_str(" · not set by default"),
            Some(default) => {
                let _ = write!(line, " · default {}", inline_code(&compact(default)));
            }
            None => {}
        }
        let _ = writeln!(out, "{line}\n");
        let description = schema
            .get("description")
            .or_else(|| resolved.get("description"))
            .and_then(Value::as_str);
        if let Some(description) = description {
            let _ = writeln!(out, "{}\n", text(description));
        }

        // What one value of the field is: the field itself, or each item of
        // an array.
        let value = self.essential(schema);
        let (element, prefix) = match (value.get("type"), value.get("items")) {
            (Some(t), Some(items)) if has_type(t, "array") => {
                (self.essential(items), format!("{path}[]"))
            }
            _ => (value, path.to_owned()),
        };
        let each = if prefix.ends_with("[]") {
            "Each item is"
        } else {
            "It is"
        };
        if let Some(values) = self.values(element) {
            let key = element as *const Value;
            if let Some((_, first)) = walk.tables.iter().find(|(k, _)| *k == key) {
                let _ = writeln!(out, "Values as for `{}`.\n", text(first));
            } else if values.iter().any(|(_, d)| d.is_some()) {
                walk.tables.push((key, path.to_owned()));
                out.push_str("| value | meaning |\n| --- | --- |\n");
                for (value, description) in values {
                    let _ = writeln!(
                        out,
                        "| `{}` | {} |",
                        cell(&value),
                        description.map(cell).unwrap_or_default()
                    );
                }
                out.push('\n');
            }
            return;
        }
        if depth >= MAX_DEPTH || walk.open.contains(&(element as *const Value)) {
            return;
        }
        walk.open.push(element);
        let alternatives = self.alternatives(element);
        if alternatives.len() > 1 {
            let _ = writeln!(out, "{each} one of:\n");
            for alternative in &alternatives {
                let described = alternative
                    .get("description")
                    .or_else(|| self.resolve(alternative).get("description"))
                    .and_then(Value::as_str);
                let _ = writeln!(
                    out,
                    "- {}{}",
                    self.type_of(alternative, 0),
                    described
                        .map(|d| format!(": {}", cell(d)))
                        .unwrap_or_default()
                );
            }
            out.push('\n');
            for alternative in alternatives {
                let object = self.essential(alternative);
                self.fields(out, &format!("{prefix}."), object, depth + 1, walk);
            }
        } else {
            self.fields(out, &format!("{prefix}."), element, depth + 1, walk);
        }
        walk.open.pop();
    }
}

fn required_of(object: &Value) -> BTreeSet<String> {
    object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

fn has_type(types: &Value, name: &str) -> bool {
    match types {
        Value::String(t) => t == name,
        Value::Array(types) => types.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    }
}

/// ` ≥ 1`, ` ≤ 25`: the numeric bounds a schema states.
fn bounds(schema: &Value) -> String {
    let mut out = String::new();
    if let Some(min) = schema.get("minimum") {
        let _ = write!(out, " ≥ {}", compact(min));
    }
    if let Some(max) = schema.get("maximum") {
        let _ = write!(out, " ≤ {}", compact(max));
    }
    out
}

/// A constant as written in a config: strings bare, everything else as JSON.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => compact(other),
    }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Text from a rule, safe to print: control characters escaped, line breaks
/// kept.
fn text(s: &str) -> String {
    output::shown_lines(s, "").into_owned()
}

/// Text for one table cell or list item: one line, pipes escaped, paragraph
/// breaks kept as `<br>`.
fn cell(s: &str) -> String {
    let paragraphs: Vec<String> = s
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    output::shown(&paragraphs.join("<br><br>")).replace('|', "\\|")
}

/// `code` as an inline code span, with enough backticks to hold any in it.
fn inline_code(code: &str) -> String {
    let code = output::shown(code);
    let longest = code
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest + 1);
    if code.starts_with('`') || code.ends_with('`') {
        format!("{fence} {code} {fence}")
    } else {
        format!("{fence}{code}{fence}")
    }
}

fn code_list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(|i| inline_code(i.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The anchor GitHub gives a heading: lowercase, spaces as `-`, punctuation
/// but `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests;
