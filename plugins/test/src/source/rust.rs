//! Finding a Rust function's source: its attributes and its body, with
//! braces inside comments, strings and char literals ignored.

use std::ops::Range;

use super::scan::{
    blank, find_from, ident_after, is_ident, keyword_positions, line_start, matching_close,
};

/// `text` with the insides of comments, string literals and char literals
/// replaced by spaces (newlines kept), so every byte offset still points at
/// the same place and only code delimiters are left to match.
pub fn mask(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = find_from(b, i, b"\n").unwrap_or(b.len());
                blank(&mut out, i..end);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                let mut j = i;
                while j < b.len() {
                    if b[j..].starts_with(b"/*") {
                        depth += 1;
                        j += 2;
                    } else if b[j..].starts_with(b"*/") {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                let end = j.min(b.len());
                blank(&mut out, i..end);
                i = end;
            }
            b'r' if !after_ident(b, i) && raw_string_start(b, i + 1).is_some() => {
                let (hashes, open) = raw_string_start(b, i + 1).unwrap_or((0, i + 1));
                let mut closing = vec![b'"'];
                closing.extend(std::iter::repeat_n(b'#', hashes));
                let end = find_from(b, open + 1, &closing).unwrap_or(b.len());
                blank(&mut out, open + 1..end);
                i = (end + closing.len()).min(b.len());
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                blank(&mut out, i + 1..end);
                i = end + 1;
            }
            b'\'' => match char_literal_end(text, i) {
                Some(end) => {
                    blank(&mut out, i + 1..end);
                    i = end + 1;
                }
                // A lifetime or a label.
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn after_ident(b: &[u8], i: usize) -> bool {
    i > 0 && is_ident(b[i - 1]) && !(b[i - 1] == b'b' && (i < 2 || !is_ident(b[i - 2])))
}

/// After the `r` of a raw string: the number of `#` and the offset of the
/// opening quote.
fn raw_string_start(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let hashes = b.get(from..)?.iter().take_while(|c| **c == b'#').count();
    (b.get(from + hashes) == Some(&b'"')).then_some((hashes, from + hashes))
}

/// The offset of the closing quote of a char literal opening at `i`, or
/// `None` for a lifetime.
fn char_literal_end(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(i + 1) == Some(&b'\\') {
        let mut j = i + 3;
        while j < b.len() && b[j] != b'\'' && b[j] != b'\n' {
            j += 1;
        }
        return (b.get(j) == Some(&b'\'')).then_some(j);
    }
    let c = text.get(i + 1..)?.chars().next()?;
    let end = i + 1 + c.len_utf8();
    (c != '\'' && b.get(end) == Some(&b'\'')).then_some(end)
}

/// One function with the wanted name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// From the start of the line of its first attribute to its closing
    /// brace.
    pub span: Range<usize>,
    /// Carries `#[test]` or another test attribute (`#[tokio::test]`,
    /// `#[rstest]`, `#[test_case(...)]`).
    pub is_test: bool,
    /// Names of the inline `mod name { … }` blocks around it, outermost
    /// first.
    pub modules: Vec<String>,
}

/// Every `fn name` with a body in the source that `masked` is [`mask`] of.
pub fn functions(masked: &str, name: &str) -> Vec<Function> {
    let m = masked.as_bytes();
    let modules = module_blocks(masked);
    let mut found = Vec::new();
    for at in keyword_positions(masked, "fn") {
        let Some((ident, after)) = ident_after(m, at + 2) else {
            continue;
        };
        if ident != name {
            continue;
        }
        let Some(open) = body_open(m, after) else {
            continue;
        };
        let Some(close) = matching_close(m, open) else {
            continue;
        };
        let (start, attributes) = attributes_before(m, line_start(m, at));
        let is_test = attributes
            .iter()
            .any(|a| is_test_attribute(&masked[a.clone()]));
        found.push(Function {
            span: start..close + 1,
            is_test,
            modules: modules
                .iter()
                .filter(|(_, block)| block.start < at && at < block.end)
                .map(|(name, _)| name.clone())
                .collect(),
        });
    }
    found
}

/// The `{` opening a function body after its name, skipping the signature;
/// `None` for a declaration without a body.
fn body_open(m: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (offset, byte) in m.get(from..)?.iter().enumerate() {
        match byte {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b'{' if depth == 0 => return Some(from + offset),
            b';' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// Walks back from `start` over outer attributes (and the comments between
/// them): the new start and each attribute's range.
fn attributes_before(m: &[u8], mut start: usize) -> (usize, Vec<Range<usize>>) {
    let mut attributes = Vec::new();
    loop {
        let mut end = start;
        while end > 0 && m[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        if end == 0 || m[end - 1] != b']' {
            break;
        }
        let mut depth = 0usize;
        let mut open = None;
        for i in (0..end).rev() {
            match m[i] {
                b']' => depth += 1,
                b'[' => {
                    depth -= 1;
                    if depth == 0 {
                        open = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(open) = open else { break };
        if open == 0 || m[open - 1] != b'#' {
            break;
        }
        attributes.push(open - 1..end);
        start = line_start(m, open - 1);
    }
    (start, attributes)
}

fn is_test_attribute(attribute: &str) -> bool {
    let inner = attribute.trim_start_matches('#').trim_start_matches('[');
    let path: String = inner
        .chars()
        .take_while(|c| !matches!(c, '(' | ']' | '='))
        .filter(|c| !c.is_whitespace())
        .collect();
    let last = path.rsplit("::").next().unwrap_or("");
    matches!(last, "test" | "rstest" | "test_case")
}

/// Each inline `mod name { … }` block: its name and byte range.
fn module_blocks(masked: &str) -> Vec<(String, Range<usize>)> {
    let m = masked.as_bytes();
    let mut blocks = Vec::new();
    for at in keyword_positions(masked, "mod") {
        let Some((name, after)) = ident_after(m, at + 3) else {
            continue;
        };
        let open = after
            + m[after..]
                .iter()
                .take_while(|c| c.is_ascii_whitespace())
                .count();
        if m.get(open) != Some(&b'{') {
            continue;
        }
        if let Some(close) = matching_close(m, open) {
            blocks.push((name, open..close));
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r##"
pub fn parse(s: &str) -> Option<u32> { s.parse().ok() }

#[cfg(test)]
mod tests {
    use super::*;

    // A comment with a brace { that must not count.
    #[test]
    #[should_panic(expected = "}")]
    fn handles_empty() {
        let s = "}}}";
        let c = '}';
        let r = r#"{"#;
        /* nested /* { */ } */
        assert_eq!(parse(""), None, "{s}{c}{r}");
    }

    fn helper<'a>(x: &'a str) -> &'a str { x }
}
"##;

    #[test]
    fn masks_comments_strings_and_chars_but_keeps_offsets() {
        let masked = mask(SOURCE);
        assert_eq!(masked.len(), SOURCE.len());
        assert!(!masked.contains("must not count"));
        assert!(!masked.contains("}}}"));
        assert!(masked.contains("fn helper<'a>(x: &'a str)"), "{masked}");
    }

    #[test]
    fn finds_the_function_with_its_attributes_and_whole_body() {
        let masked = mask(SOURCE);
        let found = functions(&masked, "handles_empty");
        assert_eq!(found.len(), 1);
        let f = &found[0];
        let text = &SOURCE[f.span.clone()];
        assert!(
            text.starts_with("    #[test]\n    #[should_panic"),
            "{text}"
        );
        assert!(text.ends_with("\"{s}{c}{r}\");\n    }"), "{text}");
        assert!(f.is_test);
        assert_eq!(f.modules, ["tests"]);

        let parse = functions(&masked, "parse");
        assert_eq!(parse.len(), 1);
        assert!(!parse[0].is_test);
        assert!(parse[0].modules.is_empty());
        assert!(functions(&masked, "missing").is_empty());
    }
}
