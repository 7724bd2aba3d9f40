//! Markdown that holds whatever a rule says: its text with control
//! characters escaped, table cells on one line, code spans that fit any
//! backticks, and the anchors GitHub gives headings.

use crate::cli::output;

/// Text from a rule, safe to print: control characters escaped, line breaks
/// kept.
pub(super) fn text(s: &str) -> String {
    output::shown_lines(s, "").into_owned()
}

/// Text for one table cell or list item: one line, pipes escaped, paragraph
/// breaks kept as `<br>`.
pub(super) fn cell(s: &str) -> String {
    let paragraphs: Vec<String> = s
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    output::shown(&paragraphs.join("<br><br>")).replace('|', "\\|")
}

/// `code` as an inline code span, with enough backticks to hold any in it.
pub(super) fn inline_code(code: &str) -> String {
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

pub(super) fn code_list<S: AsRef<str>>(items: &[S]) -> String {
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
pub(super) fn anchor(heading: &str) -> String {
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
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_github() {
        assert_eq!(anchor("file-exists"), "file-exists");
        assert_eq!(
            anchor("What an agent cannot fake"),
            "what-an-agent-cannot-fake"
        );
        assert_eq!(anchor("`paths[].kind`"), "pathskind");
    }
}
