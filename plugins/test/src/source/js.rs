//! Finding a JavaScript or TypeScript test's source: the whole
//! `test("title", ...)` / `it("title", ...)` call (modifiers such as
//! `.skip` or `.only` included), inside the `describe` blocks its name
//! gives, with parentheses inside strings, template literals, comments and
//! regular expressions ignored.

use std::ops::Range;

/// Callees that declare a test.
const TESTS: &[&str] = &["test", "it", "specify", "xit", "fit", "xtest"];
/// Callees that declare a block of tests.
const BLOCKS: &[&str] = &["describe", "suite", "context", "xdescribe", "fdescribe"];

/// `text` with the insides of comments, string and template literals and
/// regular expressions replaced by spaces (newlines kept), so byte offsets
/// still point at the same place and only code delimiters are left.
pub fn mask(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut [u8], range: Range<usize>| {
        for byte in &mut out[range] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    // The last byte of code seen, to tell a regular expression from a
    // division.
    let mut last = b'(';
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let end = match c {
            b'/' if b.get(i + 1) == Some(&b'/') => find(b, i, b"\n").unwrap_or(b.len()),
            b'/' if b.get(i + 1) == Some(&b'*') => find(b, i + 2, b"*/").map_or(b.len(), |e| e + 2),
            b'"' | b'\'' | b'`' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != c && (c == b'`' || b[j] != b'\n') {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, i + 1..j.min(b.len()));
                last = c;
                i = (j + 1).min(b.len());
                continue;
            }
            b'/' if b"(,=:[!&|?{};+-*%<>~^".contains(&last) || last == b'\n' => {
                let mut j = i + 1;
                let mut class = false;
                while j < b.len() && b[j] != b'\n' && (class || b[j] != b'/') {
                    match b[j] {
                        b'\\' => j += 1,
                        b'[' => class = true,
                        b']' => class = false,
                        _ => {}
                    }
                    j += 1;
                }
                blank(&mut out, i + 1..j.min(b.len()));
                last = b'/';
                i = (j + 1).min(b.len());
                continue;
            }
            _ => {
                if !c.is_ascii_whitespace() {
                    last = c;
                }
                i += 1;
                continue;
            }
        };
        blank(&mut out, i..end);
        i = end;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A call with a string title: `callee("title", ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    /// The callee's first name (`test` for `test.skip`).
    head: String,
    title: String,
    /// From the callee to the closing parenthesis.
    span: Range<usize>,
}

/// Every `name(...)`/`name.mod(...)` call whose first argument is a plain
/// string literal, with its title and span.
fn calls(text: &str, masked: &str) -> Vec<Call> {
    let m = masked.as_bytes();
    let mut found = Vec::new();
    for (open, _) in masked.match_indices('(') {
        // The first argument: a string literal right after `(`.
        let arg = open + 1 + masked[open + 1..].len() - masked[open + 1..].trim_start().len();
        let Some(&quote) = text.as_bytes().get(arg) else {
            continue;
        };
        if !matches!(quote, b'"' | b'\'' | b'`') {
            continue;
        }
        let Some(close_quote) = masked[arg + 1..].find(quote as char).map(|p| p + arg + 1) else {
            continue;
        };
        let raw = &text[arg + 1..close_quote];
        if quote == b'`' && raw.contains("${") {
            continue;
        }
        // The callee: `a.b.c` right before `(`.
        let mut start = open;
        while start > 0 && m[start - 1].is_ascii_whitespace() && m[start - 1] != b'\n' {
            start -= 1;
        }
        let callee_end = start;
        while start > 0 && (m[start - 1].is_ascii_alphanumeric() || b"_$.".contains(&m[start - 1]))
        {
            start -= 1;
        }
        let callee = &masked[start..callee_end];
        let Some(head) = callee.split('.').next().filter(|h| !h.is_empty()) else {
            continue;
        };
        let Some(close) = matching(m, open) else {
            continue;
        };
        found.push(Call {
            head: head.to_owned(),
            title: unescape(raw),
            span: start..close + 1,
        });
    }
    found
}

/// The `)` that closes the `(` at `open`.
fn matching(m: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (k, &c) in m.iter().enumerate().skip(open) {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return (c == b')').then_some(k);
                }
            }
            _ => {}
        }
    }
    None
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The test titled `title` inside blocks titled `blocks` (outermost
/// first): its span, and how many of `blocks` enclose it (the best fit
/// wins; the first of equal fits). `None` when no test has that title.
pub fn test(text: &str, blocks: &[&str], title: &str) -> Option<(Range<usize>, usize)> {
    if !text.contains(title.split(['\'', '"', '`', '\\']).next().unwrap_or(title)) {
        return None;
    }
    let masked = mask(text);
    let all = calls(text, &masked);
    let mut best: Option<(Range<usize>, usize)> = None;
    for call in all
        .iter()
        .filter(|c| TESTS.contains(&c.head.as_str()) && c.title == title)
    {
        let enclosing: Vec<&str> = all
            .iter()
            .filter(|b| {
                BLOCKS.contains(&b.head.as_str())
                    && b.span.start < call.span.start
                    && call.span.end <= b.span.end
            })
            .map(|b| b.title.as_str())
            .collect();
        let fit = blocks.iter().filter(|t| enclosing.contains(t)).count()
            + usize::from(enclosing.len() == blocks.len());
        if best.as_ref().is_none_or(|(_, f)| fit > *f) {
            best = Some((call.span.clone(), fit));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"const { clamp } = require("../lib/clamp");
// test("commented out", () => {})
describe("clamp", () => {
  it("keeps values inside", () => {
    expect(clamp(5, 0, 10)).toBe(5); // a ) in a comment
  });
  describe('upper bound', () => {
    test.skip('clamps values above the maximum', () => {
      expect(String(clamp(42, 0, 10))).toMatch(/^1\)?0$/);
      expect(`${clamp(1, 0, 1)})`).toBe("1)");
    });
  });
});

test("clamps values above the maximum", () => {
  expect(clamp(42, 0, 10)).toBe(10);
});
"#;

    #[test]
    fn masks_strings_comments_templates_and_regexes() {
        let masked = mask(SOURCE);
        assert_eq!(masked.len(), SOURCE.len());
        assert!(!masked.contains("commented out"));
        assert!(!masked.contains("a ) in"));
        assert!(!masked.contains("^1"));
        assert_eq!(
            masked.matches('(').count(),
            masked.matches(')').count(),
            "{masked}"
        );
    }

    #[test]
    fn finds_the_test_in_its_blocks_with_its_modifiers() {
        let (span, fit) = test(
            SOURCE,
            &["clamp", "upper bound"],
            "clamps values above the maximum",
        )
        .unwrap();
        let text = &SOURCE[span];
        assert!(text.starts_with("test.skip('clamps values"), "{text}");
        assert!(text.ends_with("toBe(\"1)\");\n    })"), "{text}");
        assert_eq!(fit, 3);
        // Without blocks, the top-level one fits best.
        let (span, _) = test(SOURCE, &[], "clamps values above the maximum").unwrap();
        assert!(SOURCE[span].contains("toBe(10)"));
        let (span, _) = test(SOURCE, &["clamp"], "keeps values inside").unwrap();
        assert!(SOURCE[span].starts_with("it(\"keeps values inside\""));
        assert!(test(SOURCE, &[], "commented out").is_none());
        assert!(
            test(SOURCE, &[], "clamp").is_none(),
            "a block is not a test"
        );
    }
}
