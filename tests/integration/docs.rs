//! The docs hold together: the generated rule reference is what the real
//! binary generates from the bundled rules today, every relative link in the
//! README and the guides leads to a file (and heading) that exists, and the
//! README stays a front door that links every guide.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::{Cli, repo_root};

/// How the reference is regenerated, as its own header says.
const REGENERATE: &str = "cargo run -p checkrail -- rule docs --out docs/rules-reference.md";

#[test]
fn the_rule_reference_is_what_the_rules_generate() {
    let out = Cli::new(&["rule", "docs"])
        .current_dir(&repo_root())
        .output();
    let generated = String::from_utf8(out.stdout).expect("the reference is UTF-8");
    assert!(
        out.status.success(),
        "`checkrail rule docs` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every bundled rule is documented, with its fields.
    for rule in [
        "benchmark",
        "compile",
        "coverage",
        "file-exists",
        "lint",
        "security",
        "test",
    ] {
        assert!(
            generated.contains(&format!("\n## {rule}\n")),
            "no section for `{rule}` in:\n{generated}"
        );
    }
    assert!(generated.contains("#### `runner`"), "{generated}");

    let path = repo_root().join("docs/rules-reference.md");
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    if written != generated {
        let first = written
            .lines()
            .zip(generated.lines())
            .position(|(w, g)| w != g)
            .unwrap_or_else(|| written.lines().count().min(generated.lines().count()));
        panic!(
            "docs/rules-reference.md is not what the rules generate (first difference at line \
             {}: the file has {:?}, the rules give {:?}); regenerate it with `{REGENERATE}`",
            first + 1,
            written.lines().nth(first).unwrap_or("<end of file>"),
            generated.lines().nth(first).unwrap_or("<end of output>"),
        );
    }
}

#[test]
fn relative_links_in_the_docs_lead_somewhere() {
    let root = repo_root();
    let docs = doc_files(&root);
    let mut headings: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &docs {
        let text = std::fs::read_to_string(file).unwrap();
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let shown = file.strip_prefix(&root).unwrap().display();
            if !resolved.exists() {
                broken.push(format!("{shown}: `{target}`: no such file"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if resolved.extension().is_some_and(|e| e == "md") {
                let known = headings.entry(resolved.clone()).or_insert_with(|| {
                    anchors(&std::fs::read_to_string(&resolved).unwrap_or_default())
                });
                if !known.contains(anchor) {
                    broken.push(format!("{shown}: `{target}`: no heading with that anchor"));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} relative links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_is_a_front_door_to_every_guide() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; move detail into a guide under docs/"
    );
    let linked: BTreeSet<String> = links(&readme).into_iter().collect();
    for file in doc_files(&root) {
        let relative = file.strip_prefix(&root).unwrap().to_string_lossy();
        if relative == "README.md" {
            continue;
        }
        assert!(
            linked
                .iter()
                .any(|l| l.split('#').next() == Some(relative.as_ref())),
            "README.md does not link {relative}"
        );
    }
}

/// README.md and every Markdown file directly under docs/.
/// The README's exit-code table lists the codes of the one table in the
/// code, in order, each row opening with that code's meaning.
#[test]
fn the_readme_exit_codes_are_the_ones_the_code_uses() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let rows: Vec<(u8, String)> = readme
        .lines()
        .skip_while(|l| !l.starts_with("### Exit codes"))
        .skip_while(|l| !l.starts_with("| ---"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let mut cells = l.trim_matches('|').split('|').map(str::trim);
            Some((cells.next()?.parse().ok()?, cells.next()?.to_owned()))
        })
        .collect();
    let documented: Vec<u8> = rows.iter().map(|(code, _)| *code).collect();
    let table: Vec<u8> = checkrail::exit::TABLE
        .iter()
        .map(|(code, _)| *code)
        .collect();
    assert_eq!(
        documented, table,
        "README.md's exit codes differ from checkrail::exit::TABLE"
    );
    for ((code, meaning), (_, said)) in checkrail::exit::TABLE.iter().zip(&rows) {
        assert!(
            said.starts_with(meaning),
            "README.md says exit code {code} means `{said}`; the code says `{meaning}`"
        );
    }
}

fn doc_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut guides: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    assert!(guides.len() > 5, "docs/ holds {guides:?}");
    files.extend(guides);
    files
}

/// The text outside fenced code blocks, with inline code spans removed.
fn prose(text: &str) -> String {
    let mut outside = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            outside.push_str(line);
            outside.push('\n');
        }
    }
    // A code span opens with a run of backticks and closes at the next run
    // of the same length, across line breaks too.
    let chars: Vec<char> = outside.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        let mut j = i + run;
        let mut closed = None;
        while j < chars.len() {
            let here = chars[j..].iter().take_while(|c| **c == '`').count();
            if here == run {
                closed = Some(j + run);
                break;
            }
            j += here.max(1);
        }
        match closed {
            Some(end) => i = end,
            None => {
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// Targets of inline links (`[text](target)`) and link definitions
/// (`[label]: target`).
fn links(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut targets = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        let target = after[..end].split_whitespace().next().unwrap_or("");
        targets.push(target.trim_matches(['<', '>']).to_owned());
        rest = &after[end..];
    }
    for line in prose.lines() {
        let line = line.trim_start();
        if let Some((label, target)) = line.split_once("]:")
            && label.starts_with('[')
            && !label.contains(']')
        {
            targets.push(target.trim().to_owned());
        }
    }
    targets
}

/// The anchors GitHub gives a file's headings: lowercase, punctuation but
/// `-` and `_` dropped, spaces as `-`, repeats numbered.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if fenced || !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug: String = line[hashes..]
            .trim()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .flat_map(char::to_lowercase)
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        anchors.insert(if *count == 0 {
            slug.clone()
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    anchors
}

#[test]
fn the_link_reader_sees_links_but_not_code() {
    let text = "See [a](a.md#x) and `[b](b.md)`.\n```\n[c](c.md)\n```\n[d]: d.md\n\
                ``code with ` and [e](e.md)`` then ![f](f.png \"title\")\n";
    assert_eq!(links(text), ["a.md#x", "f.png", "d.md"]);
    let anchors = anchors("# `compile`, `test`, `lint`\n## Cwd\n## cwd\n```\n# not\n```\n");
    assert_eq!(
        anchors.into_iter().collect::<Vec<_>>(),
        ["compile-test-lint", "cwd", "cwd-1"]
    );
}
