//! What the brace-language parsers (Rust, Go) share: blanking out the
//! insides of literals and comments, and finding keywords, identifiers and
//! matching delimiters in the masked text that is left.

use std::ops::Range;

/// Replaces the bytes of `range` in `out` with spaces, newlines kept, so
/// that offsets and line numbers still hold.
pub fn blank(out: &mut [u8], range: Range<usize>) {
    for byte in &mut out[range] {
        if *byte != b'\n' {
            *byte = b' ';
        }
    }
}

/// The offset of the first `needle` in `b` at or after `from`.
pub fn find_from(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Whether `byte` can be part of an identifier.
pub fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Offsets of `word` standing alone as a keyword (not inside an
/// identifier, followed by whitespace).
pub fn keyword_positions<'a>(masked: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let m = masked.as_bytes();
    masked
        .match_indices(word)
        .map(|(i, _)| i)
        .filter(move |&i| {
            let before = i == 0 || !is_ident(m[i - 1]);
            let after = m.get(i + word.len()).is_some_and(u8::is_ascii_whitespace);
            before && after
        })
}

/// The identifier after whitespace from `from`, and the offset after it.
pub fn ident_after(m: &[u8], from: usize) -> Option<(String, usize)> {
    let start = skip_space(m, from);
    let len = m.get(start..)?.iter().take_while(|c| is_ident(**c)).count();
    if len == 0 {
        return None;
    }
    let ident = String::from_utf8_lossy(&m[start..start + len]).into_owned();
    Some((ident, start + len))
}

/// The first offset at or after `from` that is not whitespace.
pub fn skip_space(m: &[u8], from: usize) -> usize {
    from + m
        .get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_whitespace())
        .count()
}

/// The `}`, `)` or `]` that closes the delimiter at `open`.
pub fn matching_close(m: &[u8], open: usize) -> Option<usize> {
    let (opener, closer) = match m.get(open)? {
        b'(' => (b'(', b')'),
        b'[' => (b'[', b']'),
        _ => (b'{', b'}'),
    };
    let mut depth = 0usize;
    for (offset, byte) in m.get(open..)?.iter().enumerate() {
        if *byte == opener {
            depth += 1;
        } else if *byte == closer {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(open + offset);
            }
        }
    }
    None
}

/// The offset of the start of the line holding `at`.
pub fn line_start(m: &[u8], at: usize) -> usize {
    m[..at]
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |p| p + 1)
}
