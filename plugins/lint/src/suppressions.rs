//! Lint suppressions in the workspace's source (`#[allow(...)]`, `# noqa`,
//! `eslint-disable`, …): counted per file and normalized text as the rule's
//! facts, so a later phase can tell which ones were added since.
//!
//! Counts, not lines, are compared: lines shift whenever code above them
//! changes, while a suppression added to a file raises its count there.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::{Finding, Workspace};
use regex_lite::Regex;

/// Directories never searched: build output, VCS data, installed packages.
const SKIPPED_DIRS: &[&str] = &[
    "target",
    ".git",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
];

/// Most files one glob lists.
const GLOB_LIMIT: u32 = 100_000;

/// Most `new-suppression` findings listed one by one.
const MAX_LISTED: usize = 100;

/// A source language and how its suppressions are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Rust,
    Python,
    Script,
}

impl Lang {
    fn of(path: &str) -> Option<Self> {
        let ext = path.rsplit_once('.')?.1;
        match ext {
            "rs" => Some(Self::Rust),
            "py" | "pyi" => Some(Self::Python),
            "js" | "jsx" | "mjs" | "cjs" | "ts" | "tsx" | "mts" | "cts" => Some(Self::Script),
            _ => None,
        }
    }
}

/// One suppression in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// Workspace path of the file.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// Normalized text, one lint or code each: `#[allow(dead_code)]`,
    /// `# noqa: F401`, `# noqa`, `eslint-disable-next-line no-console`.
    pub text: String,
}

/// Per file, per normalized text: how many there are.
pub type Counts = BTreeMap<String, BTreeMap<String, u64>>;

/// The facts a run records.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
pub struct Facts {
    /// File → suppression text → count.
    pub suppressions: Counts,
}

/// Every suppression in the files under `cwd` whose names match `covered`
/// (the globs of the files the linter covers).
pub fn scan(ws: &Workspace, cwd: &str, covered: &[&str]) -> Vec<Suppression> {
    let mut found = Vec::new();
    for path in files_under(ws, cwd, covered) {
        let Some(lang) = Lang::of(&path) else {
            continue;
        };
        let Ok(text) = ws.read_to_string(&path) else {
            continue;
        };
        for (line, text) in in_text(&text, lang) {
            found.push(Suppression {
                path: path.clone(),
                line,
                text,
            });
        }
    }
    found
}

/// The counts of `found`.
pub fn counts(found: &[Suppression]) -> Counts {
    let mut counts = Counts::new();
    for s in found {
        *counts
            .entry(s.path.clone())
            .or_default()
            .entry(s.text.clone())
            .or_default() += 1;
    }
    counts
}

/// The suppressions in `found` beyond the counts of `then`, recorded at
/// `phase`.
pub fn new_since(phase: &str, then: &Facts, found: &[Suppression]) -> Vec<Finding> {
    let mut groups: BTreeMap<(&str, &str), Vec<u32>> = BTreeMap::new();
    for s in found {
        groups
            .entry((s.path.as_str(), s.text.as_str()))
            .or_default()
            .push(s.line);
    }
    let mut findings = Vec::new();
    for ((path, text), lines) in groups {
        let before = then
            .suppressions
            .get(path)
            .and_then(|f| f.get(text))
            .copied()
            .unwrap_or(0);
        let now = u64::try_from(lines.len()).unwrap_or(u64::MAX);
        if now <= before {
            continue;
        }
        let hint = format!(
            "fix the code the lint flags instead of silencing it, then remove `{text}`: suppressions added since phase `{phase}` are not allowed (`no_new_suppressions_since`)"
        );
        if before == 0 {
            for line in lines {
                findings.push(
                    Finding::error(format!(
                        "new lint suppression `{text}` in `{path}` (not there at phase `{phase}`)"
                    ))
                    .path(path)
                    .line(line)
                    .fix_hint(hint.clone())
                    .code("new-suppression"),
                );
            }
        } else {
            let added = now - before;
            let at: Vec<String> = lines.iter().map(u32::to_string).collect();
            findings.push(
                Finding::error(format!(
                    "`{path}` has {now} `{text}` now and had {before} at phase `{phase}`: {added} of the ones at lines {} {} new",
                    at.join(", "),
                    if added == 1 { "is" } else { "are" }
                ))
                .path(path)
                .line(lines[0])
                .fix_hint(hint)
                .code("new-suppression"),
            );
        }
    }
    if findings.len() > MAX_LISTED {
        let rest = findings.len() - MAX_LISTED;
        findings.truncate(MAX_LISTED);
        findings.push(
            Finding::error(format!(
                "{rest} more lint suppressions are new since phase `{phase}`"
            ))
            .fix_hint(
                "fix the lints listed above instead of silencing them, then run the check again",
            )
            .code("new-suppression"),
        );
    }
    findings
}

/// `no_new_suppressions_since` names a phase this session has no facts
/// from.
pub fn no_baseline(phase: &str, unreadable: bool) -> Finding {
    let why = if unreadable {
        format!(
            "the facts the `lint` rule recorded at phase `{phase}` are not in a form this version of the rule reads"
        )
    } else {
        format!("this session has no facts of the `lint` rule from phase `{phase}`")
    };
    Finding::error(format!(
        "`no_new_suppressions_since: {phase}` has nothing to compare with: {why}"
    ))
    .fix_hint(format!(
        "the comparison needs a session that passed phase `{phase}` with this rule: run the session's checkpoints in order (a check outside a session has no earlier phase), or remove `no_new_suppressions_since`"
    ))
    .code("no-baseline")
}

/// Files under `dir` whose name matches one of `patterns`, without
/// descending into [`SKIPPED_DIRS`].
fn files_under(ws: &Workspace, dir: &str, patterns: &[&str]) -> Vec<String> {
    ws.files_named(dir, patterns, SKIPPED_DIRS, GLOB_LIMIT)
}

/// Each suppression in `text`: its 1-based line and normalized text.
fn in_text(text: &str, lang: Lang) -> Vec<(u32, String)> {
    match lang {
        Lang::Rust => rust(text),
        Lang::Python | Lang::Script => {
            let mut out = Vec::new();
            for (i, line) in text.lines().enumerate() {
                let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
                let texts = if lang == Lang::Python {
                    python_line(line)
                } else {
                    script_line(line)
                };
                out.extend(texts.into_iter().map(|t| (n, t)));
            }
            out
        }
    }
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).unwrap_or_else(|e| panic!("pattern `{pattern}`: {e}")))
}

/// Splits a list at top-level commas (outside brackets and strings).
fn split_top(list: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut current = String::new();
    let mut prev = ' ';
    for c in list.chars() {
        match c {
            '"' if prev != '\\' => in_string = !in_string,
            '(' | '[' | '{' if !in_string => depth += 1,
            ')' | ']' | '}' if !in_string => depth -= 1,
            ',' if !in_string && depth == 0 => {
                parts.push(std::mem::take(&mut current));
                prev = c;
                continue;
            }
            _ => {}
        }
        current.push(c);
        prev = c;
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| p.split_whitespace().collect::<String>())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The text from `open` (an opening bracket) to its matching close, which
/// may be lines further; `None` when it never closes.
fn bracketed(text: &str, open: usize) -> Option<&str> {
    let mut depth = 0i32;
    let mut in_string = false;
    let mut prev = ' ';
    for (offset, c) in text[open..].char_indices() {
        match c {
            '"' if prev != '\\' => in_string = !in_string,
            '(' | '[' if !in_string => depth += 1,
            ')' | ']' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[open..open + offset + 1]);
                }
            }
            _ => {}
        }
        prev = c;
    }
    None
}

/// `#[allow(...)]`, `#![allow(...)]` and `#[expect(...)]`, also inside
/// `#[cfg_attr(..., allow(...))]`: one text per lint named.
fn rust(text: &str) -> Vec<(u32, String)> {
    static ATTRIBUTE: OnceLock<Regex> = OnceLock::new();
    static LEVEL: OnceLock<Regex> = OnceLock::new();
    let attribute = regex(&ATTRIBUTE, r"#\s*(!?)\s*\[");
    let level = regex(&LEVEL, r"\b(allow|expect)\s*\(");
    let mut out = Vec::new();
    for m in attribute.captures_iter(text) {
        let (Some(whole), inner) = (m.get(0), m.get(1).is_some_and(|g| !g.as_str().is_empty()))
        else {
            continue;
        };
        let line_start = text[..whole.start()].rfind('\n').map_or(0, |p| p + 1);
        if text[line_start..whole.start()].contains("//") {
            continue;
        }
        let open = whole.end() - 1;
        let Some(attr) = bracketed(text, open) else {
            continue;
        };
        let line =
            u32::try_from(text[..whole.start()].matches('\n').count() + 1).unwrap_or(u32::MAX);
        let bang = if inner { "!" } else { "" };
        for l in level.captures_iter(attr) {
            let (Some(all), Some(kind)) = (l.get(0), l.get(1)) else {
                continue;
            };
            let Some(args) = bracketed(attr, all.end() - 1) else {
                continue;
            };
            let args = &args[1..args.len() - 1];
            for lint in split_top(args) {
                if lint.starts_with("reason=") {
                    continue;
                }
                out.push((line, format!("#{bang}[{}({lint})]", kind.as_str())));
            }
        }
    }
    out
}

/// `# noqa`, `# noqa: CODES`, `# ruff: noqa[: CODES]`, `# flake8: noqa`,
/// `# type: ignore[...]`, `# pyright: ignore[...]`, `# pylint:
/// disable=...`: one text per code.
fn python_line(line: &str) -> Vec<String> {
    static NOQA: OnceLock<Regex> = OnceLock::new();
    static IGNORE: OnceLock<Regex> = OnceLock::new();
    static PYLINT: OnceLock<Regex> = OnceLock::new();
    let noqa = regex(
        &NOQA,
        r"(?i)#\s*(?:(ruff|flake8)\s*:\s*)?noqa\b(?:\s*:\s*([a-z]+[0-9]+(?:[\s,]+[a-z]+[0-9]+)*))?",
    );
    let ignore = regex(
        &IGNORE,
        r"#\s*(type|pyright)\s*:\s*ignore\b(?:\[([^\]]*)\])?",
    );
    let pylint = regex(
        &PYLINT,
        r"#\s*pylint\s*:\s*(disable|disable-next)\s*=\s*([\w\-,\s]+)",
    );
    let mut out = Vec::new();
    for c in noqa.captures_iter(line) {
        let head = match c.get(1) {
            Some(tool) => format!("# {}: noqa", tool.as_str().to_lowercase()),
            None => "# noqa".to_owned(),
        };
        let codes: Vec<String> = c
            .get(2)
            .map(|g| {
                g.as_str()
                    .split([',', ' ', '\t'])
                    .filter(|s| !s.is_empty())
                    .map(str::to_uppercase)
                    .collect()
            })
            .unwrap_or_default();
        if codes.is_empty() {
            out.push(head);
        } else {
            out.extend(codes.into_iter().map(|code| format!("{head}: {code}")));
        }
    }
    for c in ignore.captures_iter(line) {
        let tool = c.get(1).map_or("type", |g| g.as_str());
        let codes: Vec<&str> = c
            .get(2)
            .map(|g| {
                g.as_str()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if codes.is_empty() {
            out.push(format!("# {tool}: ignore"));
        }
        out.extend(
            codes
                .into_iter()
                .map(|code| format!("# {tool}: ignore[{code}]")),
        );
    }
    for c in pylint.captures_iter(line) {
        let directive = c.get(1).map_or("disable", |g| g.as_str());
        let names = c.get(2).map_or("", |g| g.as_str());
        out.extend(
            names
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|name| format!("# pylint: {directive}={name}")),
        );
    }
    out
}

/// `eslint-disable`, `eslint-disable-line`, `eslint-disable-next-line`
/// (one text per rule named), inline configs that turn a rule off or down
/// to a warning (`/* eslint no-console: "off" */`, one text per rule),
/// `@ts-ignore`, `@ts-expect-error`, `@ts-nocheck`.
fn script_line(line: &str) -> Vec<String> {
    static ESLINT: OnceLock<Regex> = OnceLock::new();
    static INLINE: OnceLock<Regex> = OnceLock::new();
    static TS: OnceLock<Regex> = OnceLock::new();
    let eslint = regex(
        &ESLINT,
        r"(?:/[/*])\s*(eslint-disable(?:-next-line|-line)?)\b",
    );
    let ts = regex(&TS, r"(?://|/\*)\s*(@ts-(?:ignore|expect-error|nocheck))\b");
    let mut out = Vec::new();
    for c in eslint.captures_iter(line) {
        let Some(directive) = c.get(1) else { continue };
        let mut rest = &line[directive.end()..];
        if let Some(end) = rest.find("*/") {
            rest = &rest[..end];
        }
        if let Some(end) = rest.find(" --") {
            rest = &rest[..end];
        }
        let rules: Vec<&str> = rest
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if rules.is_empty() {
            out.push(directive.as_str().to_owned());
        }
        out.extend(
            rules
                .into_iter()
                .map(|rule| format!("{} {rule}", directive.as_str())),
        );
    }
    let inline = regex(&INLINE, r"/\*\s*eslint\s+([^*]*?)\s*\*/");
    for c in inline.captures_iter(line) {
        let Some(body) = c.get(1) else { continue };
        for entry in split_top(body.as_str()) {
            let Some((rule, setting)) = entry.split_once(':') else {
                continue;
            };
            let level = setting
                .trim_start_matches('[')
                .trim_matches(|ch| ch == '"' || ch == '\'');
            let level = level.split([',', ']', '"', '\'']).next().unwrap_or("");
            let weakened = match level {
                "off" | "0" => "off",
                "warn" | "1" => "warn",
                _ => continue,
            };
            out.push(format!("eslint {rule}: {weakened}"));
        }
    }
    for c in ts.captures_iter(line) {
        if let Some(directive) = c.get(1) {
            out.push(directive.as_str().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str, lang: Lang) -> Vec<(u32, String)> {
        in_text(text, lang)
    }

    fn at(items: &[(u32, &str)]) -> Vec<(u32, String)> {
        items.iter().map(|(l, t)| (*l, (*t).to_owned())).collect()
    }

    #[test]
    fn rust_attributes_one_per_lint() {
        let source = "#![allow(dead_code)]\n// #[allow(unused)] is a comment\n#[allow(clippy::needless_return, unused_variables)]\nfn f() {}\n#[expect(\n    clippy::unwrap_used,\n    reason = \"tests, (really)\"\n)]\nfn g() {}\n#[cfg_attr(test, allow(clippy::all))]\nfn h() {}\n#[derive(Debug)]\nstruct S;\n";
        assert_eq!(
            texts(source, Lang::Rust),
            at(&[
                (1, "#![allow(dead_code)]"),
                (3, "#[allow(clippy::needless_return)]"),
                (3, "#[allow(unused_variables)]"),
                (5, "#[expect(clippy::unwrap_used)]"),
                (10, "#[allow(clippy::all)]"),
            ])
        );
    }

    #[test]
    fn python_comments_one_per_code() {
        let source = "import os  # noqa\nimport sys  # NOQA: f401, E402\n# ruff: noqa: F841\nx = 1  # type: ignore[assignment]\ny = 2  # type: ignore\n# pylint: disable=unused-import, invalid-name\nz = 3  # a comment\n";
        assert_eq!(
            texts(source, Lang::Python),
            at(&[
                (1, "# noqa"),
                (2, "# noqa: F401"),
                (2, "# noqa: E402"),
                (3, "# ruff: noqa: F841"),
                (4, "# type: ignore[assignment]"),
                (5, "# type: ignore"),
                (6, "# pylint: disable=unused-import"),
                (6, "# pylint: disable=invalid-name"),
            ])
        );
    }

    #[test]
    fn script_comments() {
        let source = "/* eslint-disable */\n// eslint-disable-next-line no-console, no-alert -- debugging\nconsole.log(1); // eslint-disable-line\n// @ts-ignore\n// @ts-expect-error: wrong type\nconst s = \"eslint-disable\";\n/* eslint eqeqeq: \"off\", no-console: [1, {allow: [\"warn\"]}], curly: \"error\" */\n/* eslint-enable */\n";
        assert_eq!(
            texts(source, Lang::Script),
            at(&[
                (1, "eslint-disable"),
                (2, "eslint-disable-next-line no-console"),
                (2, "eslint-disable-next-line no-alert"),
                (3, "eslint-disable-line"),
                (4, "@ts-ignore"),
                (5, "@ts-expect-error"),
                (7, "eslint eqeqeq: off"),
                (7, "eslint no-console: warn"),
            ])
        );
    }

    #[test]
    fn only_counts_beyond_the_baseline_are_new() {
        let found = |lines: &[u32]| -> Vec<Suppression> {
            lines
                .iter()
                .map(|l| Suppression {
                    path: "a.py".to_owned(),
                    line: *l,
                    text: "# noqa".to_owned(),
                })
                .collect()
        };
        let then = Facts {
            suppressions: counts(&found(&[3])),
        };
        // Moved to another line: not new.
        assert!(new_since("red", &then, &found(&[9])).is_empty());
        let findings = new_since("red", &then, &found(&[4, 9]));
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0]
                .message
                .contains("1 of the ones at lines 4, 9 is new"),
            "{findings:?}"
        );
        let findings = new_since("red", &Facts::default(), &found(&[4, 9]));
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[1].line, Some(9));
    }
}
