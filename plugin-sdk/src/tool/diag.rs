//! A diagnostic as a tool printed it, before its path is mapped into the
//! workspace, and the finding it becomes.

use std::collections::{HashMap, HashSet};

use crate::{Finding, Severity};

/// How serious the tool said a diagnostic is; the rule decides what blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// An error: the build, test or lint failed on it.
    Error,
    /// A warning.
    Warning,
    /// A note, purely informative.
    Info,
}

/// A place in a file, with the path as the tool printed it (relative to
/// where it ran, to an ancestor of that, or absolute).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The path as printed.
    pub path: String,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column.
    pub column: Option<u32>,
}

impl Location {
    /// A location; a line or column of 0 counts as unknown.
    pub fn new(path: impl Into<String>, line: Option<u32>, column: Option<u32>) -> Self {
        Self {
            path: path.into(),
            line: line.filter(|n| *n > 0),
            column: column.filter(|n| *n > 0),
        }
    }

    /// `path:line:col` (as much as is known), for messages.
    pub fn display(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.path),
            (Some(l), None) => format!("{}:{l}", self.path),
            _ => self.path.clone(),
        }
    }
}

/// One diagnostic a tool printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    /// Severity, as the tool said.
    pub level: Level,
    /// The message (one line, or a few).
    pub message: String,
    /// The tool's code for it: rustc's `E0308` or lint name, ruff's `F401`,
    /// gcc's `-Wunused-variable`.
    pub code: Option<String>,
    /// Where, best first: the first that maps into the workspace is
    /// reported (rustc: the primary span, then the call sites of the macros
    /// it came from).
    pub locations: Vec<Location>,
    /// The tool's own suggestion, when it made one.
    pub hint: Option<String>,
}

impl Diag {
    /// A diagnostic without location, code or hint.
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Self {
            level,
            message: message.into(),
            code: None,
            locations: Vec::new(),
            hint: None,
        }
    }

    /// Adds a candidate location.
    pub fn at(mut self, location: Location) -> Self {
        self.locations.push(location);
        self
    }

    /// Sets the code.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the tool's suggestion.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The finding: at the first location whose printed path is a key of
    /// `paths` (printed path → workspace path), else with the first
    /// location named in the message (`… (at /usr/include/x.h:3)`); the
    /// tool's code and hint carried over. A rule adds its own hint where
    /// the tool gave none.
    pub fn to_finding(&self, severity: Severity, paths: &HashMap<String, String>) -> Finding {
        let placed = self
            .locations
            .iter()
            .find_map(|l| paths.get(&l.path).map(|p| (l, p)));
        let mut message = self.message.clone();
        if placed.is_none()
            && let Some(first) = self.locations.first()
        {
            message = format!("{message} (at {})", first.display());
        }
        let mut finding = Finding::new(severity, message);
        if let Some((location, path)) = placed {
            finding = finding.path(path);
            if let Some(line) = location.line {
                finding = finding.line(line);
            }
            if let Some(column) = location.column {
                finding = finding.column(column);
            }
        }
        if let Some(code) = &self.code {
            finding = finding.code(code);
        }
        if let Some(hint) = &self.hint {
            finding = finding.fix_hint(hint);
        }
        finding
    }

    /// The printed paths of every location, for the path resolvers.
    pub fn printed_paths(diags: &[Diag]) -> Vec<&str> {
        diags
            .iter()
            .flat_map(|d| d.locations.iter().map(|l| l.path.as_str()))
            .collect()
    }

    fn key(&self) -> (Level, Option<&str>, Option<&Location>, &str) {
        (
            self.level,
            self.code.as_deref(),
            self.locations.first(),
            &self.message,
        )
    }
}

/// `diags` without repeats (same level, code, first location and message),
/// in order: cargo repeats a diagnostic for every target that shows it.
pub fn dedup(diags: Vec<Diag>) -> Vec<Diag> {
    let mut seen = HashSet::new();
    let keep: Vec<bool> = diags.iter().map(|d| seen.insert(d.key())).collect();
    diags
        .into_iter()
        .zip(keep)
        .filter_map(|(d, keep)| keep.then_some(d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_at_the_first_mapped_location_or_names_the_printed_one() {
        let diag = Diag::new(Level::Warning, "boom")
            .at(Location::new("/rustc/x/macros.rs", Some(3), Some(0)))
            .at(Location::new("src/main.rs", Some(4), Some(9)))
            .code("W1")
            .hint("do less");
        let paths = HashMap::from([("src/main.rs".to_owned(), "app/src/main.rs".to_owned())]);
        let f = diag.to_finding(Severity::Warning, &paths);
        assert_eq!(
            (f.path.as_deref(), f.line, f.column),
            (Some("app/src/main.rs"), Some(4), Some(9))
        );
        assert_eq!(f.message, "boom");
        assert_eq!(
            (f.code.as_deref(), f.fix_hint.as_deref()),
            (Some("W1"), Some("do less"))
        );
        let f = diag.to_finding(Severity::Error, &HashMap::new());
        assert_eq!(f.path, None);
        assert_eq!(f.message, "boom (at /rustc/x/macros.rs:3)");
        assert_eq!(Diag::printed_paths(&[diag]).len(), 2);
    }

    #[test]
    fn dedup_keeps_the_first_of_each() {
        let a = Diag::new(Level::Error, "x").at(Location::new("a.rs", Some(1), None));
        let b = Diag::new(Level::Warning, "x").at(Location::new("a.rs", Some(1), None));
        let out = dedup(vec![a.clone(), b.clone(), a.clone()]);
        assert_eq!(out, [a, b]);
    }
}
