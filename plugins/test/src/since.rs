//! `no_regressions_since`: the facts of the earlier phase and what this
//! run is compared with.

use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::tool::plural;
use checkrail_sdk::{Context, Finding};

use crate::Config;
use crate::model::{Kind, TestCase, name_matches};
use crate::regressions::{self, Facts};
use crate::runner::Run;
use crate::source::{self, Wanted, base_name};
use crate::verdict::Resolver;

/// The facts `no_regressions_since` compares with.
pub(crate) enum Since {
    /// Not set.
    Off,
    /// Set, and the session recorded facts at that phase.
    Found { phase: String, facts: Facts },
    /// Set, but there is nothing (`unreadable`: nothing usable) to compare
    /// with.
    Missing { phase: String, unreadable: bool },
}

impl Since {
    pub(crate) fn load(config: &Config, cx: &Context) -> Self {
        let Some(phase) = config.no_regressions_since.clone() else {
            return Self::Off;
        };
        match cx.baseline(&phase).map(Facts::deserialize) {
            Some(Ok(facts)) => Self::Found { phase, facts },
            Some(Err(_)) => Self::Missing {
                phase,
                unreadable: true,
            },
            None => Self::Missing {
                phase,
                unreadable: false,
            },
        }
    }

    pub(crate) fn facts(&self) -> Option<&Facts> {
        match self {
            Self::Found { facts, .. } => Some(facts),
            _ => None,
        }
    }

    /// Frozen `required` tests that changed or are gone; `no-baseline` when
    /// there is nothing to compare with.
    pub(crate) fn source_findings(
        &self,
        ws: &checkrail_sdk::Workspace,
        required: &[String],
        now: &std::collections::BTreeMap<String, source::Found>,
        files: &std::collections::BTreeMap<String, String>,
    ) -> Vec<Finding> {
        match self {
            Self::Off => Vec::new(),
            Self::Missing { phase, unreadable } => {
                vec![regressions::no_baseline(phase, *unreadable)]
            }
            Self::Found { phase, facts } => {
                let frozen = regressions::frozen(facts, required);
                let mut findings = regressions::compare_sources(phase, facts, &frozen, now);
                findings.extend(regressions::compare_files(phase, facts, files, |path| {
                    source::file_hash(ws, path)
                }));
                findings
            }
        }
    }

    /// Tests gone, skipped or failing since the phase.
    pub(crate) fn test_findings(&self, now: &Facts, run: &Run) -> Vec<Finding> {
        let Self::Found { phase, facts } = self else {
            return Vec::new();
        };
        let mut why = run.incomplete.clone();
        let uncollected = run
            .tests
            .iter()
            .filter(|t| t.kind == Kind::Collection)
            .count();
        if uncollected > 0 {
            why.push(format!(
                "{} could not collect {}",
                run.tool,
                plural(uncollected, "module")
            ));
        }
        if run.filtered > 0 {
            why.push(format!(
                "{} left out by the arguments",
                plural(run.filtered, "test")
            ));
        }
        regressions::compare_tests(phase, facts, now, &why)
    }
}

/// The tests whose source to fingerprint: those the `required` names match
/// in this run, and those frozen at the `no_regressions_since` phase.
pub(crate) fn wanted_sources(
    config: &Config,
    tests: &[TestCase],
    then: Option<&Facts>,
    resolver: &Resolver,
) -> Vec<Wanted> {
    let mut wanted: Vec<Wanted> = Vec::new();
    for test in tests.iter().filter(|t| t.kind != Kind::Collection) {
        if !config.required.iter().any(|p| name_matches(&test.name, p)) {
            continue;
        }
        let name = base_name(&test.name);
        if wanted.iter().any(|w| w.name == name) {
            continue;
        }
        wanted.push(Wanted {
            name: name.to_owned(),
            files: resolver
                .pick(&test.locations)
                .map(|(path, _)| path)
                .into_iter()
                .collect(),
        });
    }
    if let Some(then) = then {
        for name in regressions::frozen(then, &config.required) {
            if !wanted.iter().any(|w| w.name == name) {
                wanted.push(Wanted {
                    name: name.to_owned(),
                    files: Vec::new(),
                });
            }
        }
    }
    wanted
}

/// The tests that failed at the workspace's anchor commit, as the host
/// hands them over (baseline `@anchor`); none when `known_failures` is off
/// or there is no anchor.
pub(crate) fn known_failures(config: &Config, cx: &Context) -> std::collections::BTreeSet<String> {
    if !config.known_failures {
        return Default::default();
    }
    let Some(Ok(facts)) = cx.baseline(ANCHOR).map(Facts::deserialize) else {
        return Default::default();
    };
    facts
        .tests
        .into_iter()
        .filter(|(_, status)| matches!(status.as_str(), "failed" | "errored"))
        .map(|(name, _)| name)
        .collect()
}

/// The baseline the host names the anchor commit's facts by.
const ANCHOR: &str = "@anchor";
