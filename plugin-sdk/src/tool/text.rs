//! Small text helpers for findings about tools.

use crate::Command;

/// `n` and `word`, with an `s` unless `n` is 1: `plural(3, "file")` is
/// `3 files`.
///
/// ```
/// use checkrail_sdk::tool::plural;
/// assert_eq!(plural(1, "test"), "1 test");
/// assert_eq!(plural(0, "error"), "0 errors");
/// ```
pub fn plural(n: impl std::fmt::Display, word: &str) -> String {
    let n = n.to_string();
    let s = if n == "1" { "" } else { "s" };
    format!("{n} {word}{s}")
}

/// `text` cut to at most `max` characters, the last of them `…` when cut.
///
/// ```
/// use checkrail_sdk::tool::clip;
/// assert_eq!(clip("abcdef", 4), "abc…");
/// assert_eq!(clip("abc", 3), "abc");
/// ```
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(max.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// The command line for messages, with an argument that is empty or holds
/// whitespace or quotes put in single quotes.
///
/// ```
/// use checkrail_sdk::{Command, tool::quoted};
/// let cmd = Command::new("make").args(["test", "JUNIT=a b.xml"]);
/// assert_eq!(quoted(&cmd), "make test 'JUNIT=a b.xml'");
/// ```
pub fn quoted(command: &Command) -> String {
    std::iter::once(&command.program)
        .chain(&command.args)
        .map(|part| word(part))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One shell word: as is when it needs no quotes.
pub(crate) fn word(part: &str) -> String {
    if !part.is_empty()
        && !part
            .chars()
            .any(|c| c.is_whitespace() || "'\"\\$`;&|<>(){}*?!#~".contains(c))
    {
        part.to_owned()
    } else {
        format!("'{}'", part.replace('\'', r"'\''"))
    }
}
