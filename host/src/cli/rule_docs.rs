//! `checkrail rule docs`: the rule reference, generated as Markdown from what
//! each installed rule says about itself (`describe`: id, version,
//! description, capabilities, judging files and the JSON Schema of its
//! config).
//!
//! The reference is generated rather than written so it cannot drift from
//! the rules: a rule's doc comments become its config schema (schemars), and
//! the schema becomes this page. `docs/rules-reference.md` is this command's
//! output for the bundled rules; a test fails when the two differ.

mod markdown;
mod schema;

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use checkrail::Checkrail;
use checkrail::runtime::RuleInfo;
use serde_json::Value;

use super::{Exit, output};
use markdown::{anchor, code_list, text};
use schema::{Schema, Walk, required_of};

/// The command that regenerates the repository's reference from a checkout,
/// named at the top of every page.
const REGENERATE: &str = "cargo run -p checkrail -- rule docs --out docs/rules-reference.md";

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
    let doc = Schema::new(schema);
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

#[cfg(test)]
mod tests;
