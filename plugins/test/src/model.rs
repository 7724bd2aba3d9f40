//! What the parsers produce: tests with a status, a detail and candidate
//! source locations, and the counts a run reports.

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It ran and passed.
    Passed,
    /// It ran and an assertion failed (or it panicked).
    Failed,
    /// It could not run properly (setup/teardown or collection error).
    Errored,
    /// It was ignored or skipped.
    Skipped,
}

impl Status {
    /// Failed or errored.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Errored)
    }
}

/// What a reported entry stands for, beyond its status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Kind {
    /// An ordinary test: its status is what its body did.
    #[default]
    Plain,
    /// A test marked as expected to fail (pytest `xfail`): whatever it did,
    /// it shows neither a pass nor a failure of the code under test.
    Xfail,
    /// Not a test: a module the runner could not collect (an import error),
    /// so none of the tests in it ran.
    Collection,
}

/// A place in a source file, as the tool printed it (not yet resolved to a
/// workspace path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Path as printed (relative to wherever the tool considers its root).
    pub path: String,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column.
    pub column: Option<u32>,
    /// The source line at that place, when the tool showed it.
    pub source: Option<String>,
}

impl Location {
    /// A location with a path and an optional line and column.
    pub fn new(path: impl Into<String>, line: Option<u32>, column: Option<u32>) -> Self {
        Self {
            path: path.into(),
            line,
            column,
            source: None,
        }
    }
}

/// One test the tool reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// Full name: `module::test` for cargo, `file.py::Class::test` for
    /// pytest, `classname::name` for other JUnit producers.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// What the entry stands for.
    pub kind: Kind,
    /// What went wrong (panic message, assertion), for failures; why it was
    /// skipped, when the runner said.
    pub detail: Option<String>,
    /// Where it went wrong, best guess first.
    pub locations: Vec<Location>,
}

impl TestCase {
    /// A test with a name and status and nothing else.
    pub fn new(name: impl Into<String>, status: Status) -> Self {
        Self {
            name: name.into(),
            status,
            kind: Kind::Plain,
            detail: None,
            locations: Vec::new(),
        }
    }

    /// The test ran and its own body failed (an assertion, a panic): the
    /// only failure that shows a bug is reproduced. Errors in setup,
    /// teardown or collection, and tests marked xfail, do not.
    pub fn failed_at_run_time(&self) -> bool {
        self.status == Status::Failed && self.kind == Kind::Plain
    }
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests that errored (JUnit `<error>`).
    pub errored: u64,
    /// Tests ignored or skipped.
    pub skipped: u64,
}

impl Counts {
    /// Adds another run's totals.
    pub fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.errored += other.errored;
        self.skipped += other.skipped;
    }

    /// Counts a list of tests.
    pub fn of(tests: &[TestCase]) -> Counts {
        let mut counts = Counts::default();
        for test in tests {
            match test.status {
                Status::Passed => counts.passed += 1,
                Status::Failed => counts.failed += 1,
                Status::Errored => counts.errored += 1,
                Status::Skipped => counts.skipped += 1,
            }
        }
        counts
    }

    /// Every test counted.
    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.errored + self.skipped
    }

    /// `12 passed, 1 failed, 2 ignored`, naming skipped tests `skipped_word`.
    pub fn describe(&self, skipped_word: &str) -> String {
        let mut parts = vec![
            format!("{} passed", self.passed),
            format!("{} failed", self.failed),
        ];
        if self.errored > 0 {
            parts.push(format!(
                "{} error{}",
                self.errored,
                if self.errored == 1 { "" } else { "s" }
            ));
        }
        if self.skipped > 0 {
            parts.push(format!("{} {skipped_word}", self.skipped));
        }
        parts.join(", ")
    }
}

/// Whether the test `name` is the one a config entry `pattern` names: the
/// same full name, or a suffix of it after `::` or `/`
/// (`parser::handles_empty` and `handles_empty` both name
/// `tests::parser::handles_empty`; `test_io.py::test_read` names
/// `tests/test_io.py::test_read`). A pattern without `[` also names every
/// parametrized case of a test (`test_add` names `test_add[1-2]`).
pub fn name_matches(name: &str, pattern: &str) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return false;
    }
    let suffix_match = |name: &str| {
        name == pattern
            || name
                .strip_suffix(pattern)
                .is_some_and(|head| head.ends_with("::") || head.ends_with('/'))
    };
    if suffix_match(name) {
        return true;
    }
    if !pattern.contains('[')
        && let Some(open) = name.find('[')
        && name.ends_with(']')
    {
        return suffix_match(&name[..open]);
    }
    false
}

/// The last `max_lines` non-blank lines of `text`, at most `max_chars` long.
pub fn tail(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = lines.len().saturating_sub(max_lines);
    checkrail_sdk::tool::clip(&lines[start..].join("\n"), 3000)
}

/// Splits `path:line:col` (column optional) at the end of `text`.
pub fn split_location(text: &str) -> Option<Location> {
    let text = text.trim();
    let (head, last) = text.rsplit_once(':')?;
    let last_num: u32 = last.parse().ok()?;
    if let Some((path, line)) = head.rsplit_once(':')
        && let Ok(line) = line.parse::<u32>()
        && !path.is_empty()
    {
        return Some(Location::new(path, Some(line), Some(last_num)));
    }
    if head.is_empty() {
        return None;
    }
    Some(Location::new(head, Some(last_num), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_by_full_name_or_suffix() {
        assert!(name_matches(
            "tests::parser::handles_empty",
            "parser::handles_empty"
        ));
        assert!(name_matches(
            "tests::parser::handles_empty",
            "handles_empty"
        ));
        assert!(!name_matches("tests::parser::handles_empty", "empty"));
        assert!(!name_matches("tests::parser::handles_empty", "s_empty"));
        assert!(name_matches(
            "tests/test_io.py::test_read",
            "test_io.py::test_read"
        ));
        assert!(name_matches(
            "tests/test_io.py::TestX::test_read",
            "test_read"
        ));
        assert!(name_matches("t.py::test_add[1-2]", "test_add"));
        assert!(!name_matches("t.py::test_add[1-2]", "test_add[3]"));
        assert!(name_matches("t.py::test_add[1-2]", "test_add[1-2]"));
        assert!(!name_matches("a", ""));
    }

    #[test]
    fn locations_split_from_the_end() {
        assert_eq!(
            split_location("src/lib.rs:17:9"),
            Some(Location::new("src/lib.rs", Some(17), Some(9)))
        );
        assert_eq!(
            split_location("tests/t.py:6"),
            Some(Location::new("tests/t.py", Some(6), None))
        );
        assert_eq!(split_location("nothing here"), None);
    }

    #[test]
    fn counts_describe_themselves() {
        let counts = Counts {
            passed: 12,
            failed: 1,
            errored: 0,
            skipped: 2,
        };
        assert_eq!(counts.describe("ignored"), "12 passed, 1 failed, 2 ignored");
        assert_eq!(Counts::default().describe("skipped"), "0 passed, 0 failed");
    }
}
