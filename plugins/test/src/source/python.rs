//! Finding a Python test function's source: its decorators, its `def` and
//! its body, the lines up to the next one at the same or lower indentation.

use std::ops::Range;

/// The lines (a range of `text.split('\n')`) of `def name` (or `async def
/// name`) inside the classes `classes` (outermost first; empty for a
/// module-level function), or the first `def name` anywhere when `classes`
/// is `None`.
pub fn function(text: &str, classes: Option<&[&str]>, name: &str) -> Option<Range<usize>> {
    let lines: Vec<&str> = text.split('\n').collect();
    let in_string = in_triple_string(&lines);
    let code = |i: usize| !in_string[i] && !is_blank_or_comment(lines[i]);
    let mut scope = 0..lines.len();
    let mut scope_indent: Option<usize> = None;
    for class in classes.unwrap_or(&[]) {
        let at = scope.clone().find(|&i| {
            code(i)
                && scope_indent.is_none_or(|outer| indent(lines[i]) > outer)
                && defines(lines[i], &["class"], class)
        })?;
        let class_indent = indent(lines[at]);
        scope = at + 1..block_end(&lines, &in_string, at + 1, class_indent).min(scope.end);
        scope_indent = Some(class_indent);
    }
    let at = scope.clone().find(|&i| {
        code(i)
            && match (classes, scope_indent) {
                // Directly in the innermost class, or at module level.
                (Some(_), Some(outer)) => indent(lines[i]) > outer,
                (Some(_), None) => indent(lines[i]) == 0,
                (None, _) => true,
            }
            && defines(lines[i], &["def", "async def"], name)
    })?;
    let def_indent = indent(lines[at]);
    let start = decorators_start(&lines, at, def_indent);
    let body = signature_end(&lines, at) + 1;
    let mut end = block_end(&lines, &in_string, body, def_indent);
    while end > body && is_blank_or_comment(lines[end - 1]) && !in_string[end - 1] {
        end -= 1;
    }
    Some(start..end.max(body))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Whether `line` is `<keyword> <name>` followed by `(` or `:`.
fn defines(line: &str, keywords: &[&str], name: &str) -> bool {
    let t = line.trim_start();
    keywords.iter().any(|k| {
        let Some(rest) = t.strip_prefix(k) else {
            return false;
        };
        let rest = rest.trim_start();
        if rest.len() == t.len() - k.len() {
            // No whitespace after the keyword.
            return false;
        }
        rest.strip_prefix(name)
            .is_some_and(|after| after.trim_start().starts_with(['(', ':']))
    })
}

/// The first line at or after `from` that is code at indentation
/// `indent` or less (or the end).
fn block_end(lines: &[&str], in_string: &[bool], from: usize, indent_of: usize) -> usize {
    (from..lines.len())
        .find(|&i| !in_string[i] && !is_blank_or_comment(lines[i]) && indent(lines[i]) <= indent_of)
        .unwrap_or(lines.len())
}

/// The first line of the decorators directly above line `at` (which may
/// span several lines each).
fn decorators_start(lines: &[&str], at: usize, def_indent: usize) -> usize {
    let mut start = at;
    let mut i = at;
    while i > 0 {
        i -= 1;
        let line = lines[i];
        let t = line.trim_start();
        if t.is_empty() {
            break;
        }
        let same = indent(line) == def_indent;
        if same && t.starts_with('@') {
            start = i;
        } else if !(indent(line) > def_indent || (same && t.starts_with([')', ']', '}']))) {
            // Neither a decorator nor the continuation of one.
            break;
        }
    }
    start
}

/// The line on which the signature starting at line `at` closes its
/// brackets.
fn signature_end(lines: &[&str], at: usize) -> usize {
    let mut depth = 0i32;
    for (i, line) in lines.iter().enumerate().skip(at) {
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '#') => break,
                (None, '(' | '[' | '{') => depth += 1,
                (None, ')' | ']' | '}') => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 {
            return i;
        }
    }
    lines.len().saturating_sub(1)
}

/// For each line, whether it starts inside a triple-quoted string.
fn in_triple_string(lines: &[&str]) -> Vec<bool> {
    let mut open: Option<&str> = None;
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        out.push(open.is_some());
        let mut rest = *line;
        loop {
            match open {
                Some(delim) => match rest.find(delim) {
                    Some(p) => {
                        rest = &rest[p + 3..];
                        open = None;
                    }
                    None => break,
                },
                None => {
                    let next = ["\"\"\"", "'''", "#", "\"", "'"]
                        .iter()
                        .filter_map(|d| rest.find(d).map(|p| (p, *d)))
                        .min_by_key(|(p, d)| (*p, std::cmp::Reverse(d.len())));
                    match next {
                        None | Some((_, "#")) => break,
                        Some((p, d @ ("\"\"\"" | "'''"))) => {
                            rest = &rest[p + 3..];
                            open = Some(d);
                        }
                        Some((p, d)) => {
                            // A one-line string: skip to its end.
                            let after = &rest[p + 1..];
                            let mut escaped = false;
                            let close = after.char_indices().find(|(_, c)| {
                                let hit = !escaped && d.starts_with(*c);
                                escaped = !escaped && *c == '\\';
                                hit
                            });
                            match close {
                                Some((q, _)) => rest = &after[q + 1..],
                                None => break,
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"import pytest


def helper():
    return 1


@pytest.mark.parametrize(
    "a",
    [1, 2],
)
def test_param(
    a,
):
    text = """
not the end
"""
# a comment at column 0 does not end it
    assert a > 0

    # trailing comment


class TestDiv:
    @pytest.mark.skip(reason="later")
    async def test_div(self):
        assert 1 / 1 == 1

    def test_other(self):
        pass


def test_div():
    assert True
"#;

    fn lines(range: Range<usize>) -> String {
        SOURCE.split('\n').collect::<Vec<_>>()[range].join("\n")
    }

    #[test]
    fn takes_decorators_signature_and_body() {
        let found = lines(function(SOURCE, Some(&[]), "test_param").unwrap());
        assert!(found.starts_with("@pytest.mark.parametrize(\n"), "{found}");
        assert!(found.ends_with("    assert a > 0"), "{found}");
        assert!(found.contains("not the end"));
    }

    #[test]
    fn classes_narrow_the_search() {
        let method = lines(function(SOURCE, Some(&["TestDiv"]), "test_div").unwrap());
        assert_eq!(
            method,
            "    @pytest.mark.skip(reason=\"later\")\n    async def test_div(self):\n        assert 1 / 1 == 1"
        );
        let module_level = lines(function(SOURCE, Some(&[]), "test_div").unwrap());
        assert_eq!(module_level, "def test_div():\n    assert True");
        let anywhere = lines(function(SOURCE, None, "test_div").unwrap());
        assert_eq!(anywhere, method);
        assert!(function(SOURCE, Some(&["TestNope"]), "test_div").is_none());
        assert!(function(SOURCE, Some(&[]), "test_other").is_none());
    }
}
