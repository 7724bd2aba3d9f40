//! What the rule remembers across the phases of a session, and what
//! `no_regressions_since` makes of it: no test that existed then is gone or
//! skipped now, none that passed then fails now, and the `required` tests
//! are unchanged.

use checkrail_sdk::serde;
use std::collections::BTreeMap;

use checkrail_sdk::Finding;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde::de::{DeserializeOwned, IntoDeserializer};

use crate::model::{Kind, Status, TestCase, name_matches};
use crate::source::{Found, base_name};

/// Most findings of one code listed one by one; the rest share one.
const MAX_LISTED: usize = 50;

/// The facts a run records: how each test ended, and the fingerprint of
/// each `required` test's source.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(crate = "checkrail_sdk::serde")]
pub struct Facts {
    /// Full test name → `passed`, `failed`, `errored`, `ignored` (cargo),
    /// `skipped` or `xfail`.
    #[serde(default)]
    pub tests: BTreeMap<String, String>,
    /// Full name (without parameters) of each `required` test found in the
    /// source → SHA-256 hex of its normalized source.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
    /// Each file that holds a `required` test, or that such a file imports
    /// from beside it (for Go, each `_test.go` file of its package) →
    /// SHA-256 hex of its bytes: frozen whole.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// Statuses of tests that exist but did not run.
const NOT_RUN: &[&str] = &["ignored", "skipped", "xfail"];

impl Facts {
    /// The facts of a finished run (`skipped_word`: `ignored` for cargo).
    pub fn of(
        tests: &[TestCase],
        skipped_word: &str,
        sources: &BTreeMap<String, Found>,
        files: BTreeMap<String, String>,
    ) -> Self {
        let mut statuses: BTreeMap<String, String> = BTreeMap::new();
        for test in tests.iter().filter(|t| t.kind != Kind::Collection) {
            let word = match (test.kind, test.status) {
                (Kind::Xfail, _) => "xfail",
                (_, Status::Passed) => "passed",
                (_, Status::Failed) => "failed",
                (_, Status::Errored) => "errored",
                (_, Status::Skipped) => skipped_word,
            };
            // A name reported twice (two test binaries) keeps its worse end.
            let rank = |w: &str| match w {
                "failed" | "errored" => 2,
                "passed" => 0,
                _ => 1,
            };
            let slot = statuses.entry(test.name.clone()).or_default();
            if slot.is_empty() || rank(word) > rank(slot) {
                *slot = word.to_owned();
            }
        }
        Self {
            tests: statuses,
            sources: sources
                .iter()
                .map(|(name, found)| (name.clone(), found.hash.clone()))
                .collect(),
            files,
        }
    }

    /// The facts as the JSON value `Outcome::with_facts` takes (`T` is
    /// `serde_json::Value`, which this crate does not name: it is built
    /// through serde's own map deserializer).
    pub fn to_json<T: DeserializeOwned>(&self) -> Option<T> {
        let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        map.insert("tests".to_owned(), self.tests.clone());
        map.insert("sources".to_owned(), self.sources.clone());
        if !self.files.is_empty() {
            map.insert("files".to_owned(), self.files.clone());
        }
        let deserializer: serde::de::value::MapDeserializer<'_, _, serde::de::value::Error> =
            map.into_deserializer();
        T::deserialize(deserializer).ok()
    }
}

/// Names recorded in `then.sources` that a `required` pattern names now:
/// the tests frozen since that phase.
pub fn frozen<'a>(then: &'a Facts, required: &[String]) -> Vec<&'a str> {
    then.sources
        .keys()
        .filter(|name| required.iter().any(|p| name_matches(name, base_name(p))))
        .map(String::as_str)
        .collect()
}

/// Tests that ran then and are gone, skipped or failing now. `missing_why`
/// says why tests may be missing from this run (a crash, a timeout,
/// modules that could not be collected), if anything.
pub fn compare_tests(
    phase: &str,
    then: &Facts,
    now: &Facts,
    missing_why: &[String],
) -> Vec<Finding> {
    let mut removed = Vec::new();
    let mut skipped = Vec::new();
    let mut regressed = Vec::new();
    for (name, before) in &then.tests {
        match now.tests.get(name).map(String::as_str) {
            None => removed.push(
                Finding::error(format!(
                    "test `{name}` existed at phase `{phase}` ({before}) but is not among the tests now: it was deleted, renamed, or no longer collected{}",
                    why_missing(missing_why)
                ))
                .fix_hint(format!(
                    "restore the test `{name}` under its old name: tests that existed at phase `{phase}` must keep running (`no_regressions_since`)"
                ))
                .code("test-removed"),
            ),
            Some(now) if NOT_RUN.contains(&now) && !NOT_RUN.contains(&before.as_str()) => skipped.push(
                Finding::error(format!(
                    "test `{name}` ran at phase `{phase}` ({before}) but is {} now, so it did not run",
                    if now == "xfail" { "marked xfail" } else { now }
                ))
                .fix_hint(format!(
                    "remove the `#[ignore]`, skip or xfail marker (or the condition that skips it) so `{name}` runs again, as it did at phase `{phase}`"
                ))
                .code("test-now-skipped"),
            ),
            Some(now @ ("failed" | "errored")) if before == "passed" => regressed.push(
                Finding::error(format!(
                    "test `{name}` passed at phase `{phase}` but {now} now: a change since then broke it"
                ))
                .fix_hint(format!(
                    "fix the code so `{name}` passes again (see its failure among the other findings); do not change or skip the test"
                ))
                .code("test-regressed"),
            ),
            Some(_) => {}
        }
    }
    let mut findings = capped(removed, "test-removed", phase);
    findings.extend(capped(skipped, "test-now-skipped", phase));
    findings.extend(capped(regressed, "test-regressed", phase));
    findings
}

fn why_missing(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(" (this run may be missing tests: {})", reasons.join("; "))
    }
}

/// The first [`MAX_LISTED`] findings, then one counting the rest.
fn capped(mut findings: Vec<Finding>, code: &str, phase: &str) -> Vec<Finding> {
    if findings.len() > MAX_LISTED {
        let rest = findings.len() - MAX_LISTED;
        findings.truncate(MAX_LISTED);
        findings.push(
            Finding::error(format!(
                "{rest} more tests as above ({code}) since phase `{phase}`"
            ))
            .fix_hint("fix the ones listed first, then run the check again")
            .code(code),
        );
    }
    findings
}

/// Each frozen `required` test whose source is gone or differs from its
/// fingerprint at `phase`.
pub fn compare_sources(
    phase: &str,
    then: &Facts,
    frozen: &[&str],
    now: &BTreeMap<String, Found>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for name in frozen {
        let Some(recorded) = then.sources.get(*name) else {
            continue;
        };
        match now.get(*name) {
            None => findings.push(
                Finding::error(format!(
                    "required test `{name}` cannot be found any more: its function is not in the source, where it was at phase `{phase}`"
                ))
                .fix_hint(format!(
                    "restore the test `{name}` exactly as it was at phase `{phase}`: it is frozen since that phase; fix the code under test instead"
                ))
                .code("required-test-removed"),
            ),
            Some(found) if found.hash != *recorded => findings.push(
                Finding::error(format!(
                    "required test `{name}` changed: its source is not what it was at phase `{phase}`"
                ))
                .path(&found.path)
                .line(found.line)
                .fix_hint(format!(
                    "restore the test `{name}` exactly as it was at phase `{phase}` (its attributes or decorators too): it is frozen since that phase; make it pass by fixing the code under test"
                ))
                .code("required-test-changed"),
            ),
            Some(_) => {}
        }
    }
    findings
}

/// Each file frozen with the required tests at `phase` (`then.files`) that
/// is gone or differs now, and each that joined them since (`now`: the
/// files frozen with the same tests now, path → SHA-256 hex), such as a
/// module beside a test that shadows the code under test.
pub fn compare_files(
    phase: &str,
    then: &Facts,
    now: &BTreeMap<String, String>,
    exists: impl Fn(&str) -> Option<String>,
) -> Vec<Finding> {
    if then.files.is_empty() {
        // Facts from before files were recorded, or no test-side file.
        return Vec::new();
    }
    let mut findings = Vec::new();
    let joined = now.keys().filter(|p| !then.files.contains_key(*p));
    let recorded = then.files.iter().map(|(p, h)| (p, Some(h)));
    for (path, recorded) in recorded.chain(joined.map(|p| (p, None))) {
        let what = match (recorded, exists(path)) {
            (Some(_), None) => "is gone",
            (Some(then), Some(hash)) if hash != *then => "changed",
            (None, Some(_)) => "is new beside the required tests",
            _ => continue,
        };
        findings.push(
            Finding::error(format!(
                "`{path}` {what} since phase `{phase}`: it holds a required test, or what such a test imports from beside it (for Go, any `_test.go` file of its package), and is frozen whole from that phase (a helper, fixture, import or `TestMain` next to a test changes what it checks)"
            ))
            .path(path.as_str())
            .fix_hint(format!(
                "restore `{path}` exactly as it was at phase `{phase}`, and make the required tests pass by fixing the code under test; add new tests in another file"
            ))
            .code("required-test-file-changed"),
        );
    }
    findings
}

/// `no_regressions_since` names a phase this session has no facts from.
pub fn no_baseline(phase: &str, unreadable: bool) -> Finding {
    let why = if unreadable {
        format!(
            "the facts the `test` rule recorded at phase `{phase}` are not in a form this version of the rule reads"
        )
    } else {
        format!("this session has no facts of the `test` rule from phase `{phase}`")
    };
    Finding::error(format!(
        "`no_regressions_since: {phase}` has nothing to compare with: {why}"
    ))
    .fix_hint(format!(
        "the comparison needs a session that passed phase `{phase}` with this rule: run the session's checkpoints in order (a check outside a session has no earlier phase), or remove `no_regressions_since`"
    ))
    .code("no-baseline")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(tests: &[(&str, &str)]) -> Facts {
        Facts {
            tests: tests
                .iter()
                .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
                .collect(),
            sources: BTreeMap::new(),
            files: BTreeMap::new(),
        }
    }

    fn codes(findings: &[Finding]) -> Vec<&str> {
        findings.iter().filter_map(|f| f.code.as_deref()).collect()
    }

    #[test]
    fn test_changes_since_a_phase() {
        let then = facts(&[
            ("a", "passed"),
            ("b", "passed"),
            ("c", "failed"),
            ("d", "ignored"),
            ("e", "passed"),
        ]);
        let now = facts(&[
            ("a", "passed"),
            ("b", "failed"),
            ("c", "passed"),
            ("d", "ignored"),
        ]);
        let findings = compare_tests("red", &then, &now, &[]);
        assert_eq!(codes(&findings), ["test-removed", "test-regressed"]);
        assert!(findings[0].message.contains("`e`"), "{findings:#?}");
        assert!(findings[1].message.contains("`b` passed at phase `red`"));

        let now = facts(&[
            ("a", "xfail"),
            ("b", "passed"),
            ("c", "skipped"),
            ("d", "ignored"),
            ("e", "passed"),
        ]);
        let findings = compare_tests("red", &then, &now, &[]);
        assert_eq!(codes(&findings), ["test-now-skipped", "test-now-skipped"]);
        assert!(findings[0].message.contains("marked xfail"));
    }

    #[test]
    fn many_findings_of_a_kind_are_capped() {
        let names: Vec<String> = (0..60).map(|i| format!("t{i}")).collect();
        let then = Facts {
            tests: names
                .iter()
                .map(|n| (n.clone(), "passed".to_owned()))
                .collect(),
            sources: BTreeMap::new(),
            files: BTreeMap::new(),
        };
        let findings = compare_tests(
            "red",
            &then,
            &Facts::default(),
            &["it timed out".to_owned()],
        );
        assert_eq!(findings.len(), MAX_LISTED + 1);
        assert!(findings[0].message.contains("it timed out"));
        assert!(findings[MAX_LISTED].message.starts_with("10 more tests"));
    }

    #[test]
    fn facts_round_trip_through_json() {
        let mut f = facts(&[("a", "passed")]);
        f.sources.insert("a".to_owned(), "00ff".to_owned());
        let value: checkrail_sdk::serde_json::Value = f.to_json().unwrap();
        assert_eq!(
            value,
            checkrail_sdk::serde_json::json!({"tests": {"a": "passed"}, "sources": {"a": "00ff"}})
        );
        assert_eq!(Facts::deserialize(&value).unwrap(), f);
        f.files
            .insert("tests/test_a.py".to_owned(), "ee".to_owned());
        let value: checkrail_sdk::serde_json::Value = f.to_json().unwrap();
        assert_eq!(value["files"]["tests/test_a.py"], "ee");
        assert_eq!(Facts::deserialize(&value).unwrap(), f);
    }
}
