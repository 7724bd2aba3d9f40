//! A diagnostic as read from a tool's output, before its paths are made
//! workspace-relative and it becomes a [`Finding`](checkrail_sdk::Finding).

/// How serious a tool said a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fails the build.
    Error,
    /// Reported, does not fail the build.
    Warning,
    /// A note, purely informative.
    Info,
}

/// A place in a file, with the path exactly as the tool printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    /// Path as printed by the tool (relative to where it ran, or absolute).
    pub file: String,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column.
    pub column: Option<u32>,
}

/// A fix suggested by the tool itself, e.g. rustc's `help:` or gcc's fix-it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// What to do, e.g. "consider borrowing here: insert `&`".
    pub text: String,
    /// Where to do it; rendered as ` at <path>:<line>:<col>` after `text`.
    pub at: Option<Loc>,
}

/// One diagnostic a tool printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    /// Severity.
    pub level: Level,
    /// The tool's message (one line).
    pub message: String,
    /// Where, when the tool said.
    pub loc: Option<Loc>,
    /// Stable code: rustc's `E0308` / lint name, gcc's `-Wflag`, Python's
    /// exception class.
    pub code: Option<String>,
    /// The tool's own suggestion, if any.
    pub hint: Option<Hint>,
}

impl Diag {
    /// A diagnostic without location, code or hint.
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Self {
            level,
            message: message.into(),
            loc: None,
            code: None,
            hint: None,
        }
    }

    /// Sets the location.
    pub fn at(mut self, file: impl Into<String>, line: Option<u32>, column: Option<u32>) -> Self {
        self.loc = Some(Loc {
            file: file.into(),
            line: line.filter(|n| *n > 0),
            column: column.filter(|n| *n > 0),
        });
        self
    }

    /// Sets the code.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

/// The last `max_lines` lines of `text` (at most `max_chars` characters),
/// trimmed; for quoting a tool's output in a finding.
pub fn tail(text: &str, max_lines: usize, max_chars: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let joined = lines[start..].join("\n");
    let count = joined.chars().count();
    if count <= max_chars {
        joined
    } else {
        let skip = count - max_chars;
        format!("…{}", joined.chars().skip(skip).collect::<String>())
    }
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("a\nb\nc\n\n", 2, 100), "b\nc");
        assert_eq!(tail("abcdef", 5, 3), "…def");
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
