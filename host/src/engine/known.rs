//! Known failures: a rule use whose config schema takes `known_failures`
//! (and does not set it to `false`) is handed what it reported at the
//! workspace's anchor commit, as the baseline [`anchor::BASELINE`], so
//! that a test that already failed there is reported without blocking
//! (see [`crate::anchor`]).

use serde_json::Value;

use super::{CheckpointRun, Checkrail};
use crate::anchor;
use crate::report::{RuleReport, RuleStatus};
use crate::rules::LoadedRule;
use crate::runtime::{CheckInput, Limits};
use crate::workflow::RuleUse;

/// Whether `rule_use` takes known failures.
fn takes_known_failures(rule_use: &RuleUse, rule: &LoadedRule) -> bool {
    let schema = &rule.component.info.config_schema;
    schema["properties"].get("known_failures").is_some()
        && rule_use.config.get("known_failures") != Some(&Value::Bool(false))
}

/// What a rule use's facts at the anchor are keyed by, when it takes them
/// and the workspace has an anchor.
pub(super) struct AtAnchor {
    commit: String,
    key: String,
}

impl Checkrail {
    /// Where `rule_use` would find its facts at the anchor; `None` when it
    /// does not take them or there is no anchor.
    pub(super) fn at_anchor(
        &self,
        run: &CheckpointRun<'_>,
        rule_use: &RuleUse,
        rule: &LoadedRule,
    ) -> Option<AtAnchor> {
        if !takes_known_failures(rule_use, rule) {
            return None;
        }
        let commit = anchor::of(run.workspace)?.commit;
        let key = anchor::facts_key(&commit, &rule.component.digest, &rule_use.config);
        Some(AtAnchor { commit, key })
    }

    /// The facts remembered at the anchor, as a baseline entry.
    pub(super) fn anchor_baseline(
        &self,
        run: &CheckpointRun<'_>,
        at: &AtAnchor,
    ) -> Option<Option<(String, String)>> {
        let facts = anchor::remembered(run.workspace, &at.key)?;
        Some(facts.map(|f| (anchor::BASELINE.to_owned(), f.to_string())))
    }

    /// Runs the rule use on a copy of the anchor commit's files and
    /// remembers what it reported there; the baseline entry, if it
    /// reported facts. A copy that cannot be made is logged and nothing
    /// is remembered (the next check tries again).
    pub(super) fn learn_anchor(
        &self,
        run: &CheckpointRun<'_>,
        (rule_use, rule, limits): (&RuleUse, &LoadedRule, &Limits),
        input: &CheckInput<'_>,
        at: &AtAnchor,
    ) -> Option<(String, String)> {
        let copy = match tempfile::Builder::new()
            .prefix("checkrail-anchor-")
            .tempdir()
        {
            Ok(dir) => dir,
            Err(e) => {
                tracing::warn!("no room for a copy of the anchor commit: {e}");
                return None;
            }
        };
        if let Err(e) = anchor::checkout(run.workspace.root(), &at.commit, copy.path()) {
            tracing::warn!("could not copy anchor commit {}: {e}", at.commit);
            return None;
        }
        let mut there = input.clone();
        there.workspace = Some(copy.path());
        there.baselines = Vec::new();
        there.on_exec = None;
        let report: RuleReport = self.execute(
            rule,
            &rule_use.config,
            &there,
            limits,
            rule_use.severity,
            rule_use.name.clone(),
        );
        let facts = match report.status {
            RuleStatus::Passed | RuleStatus::Failed => report.facts,
            _ => None,
        };
        anchor::remember(run.workspace, &at.key, facts.clone());
        facts.map(|f| (anchor::BASELINE.to_owned(), f.to_string()))
    }
}
