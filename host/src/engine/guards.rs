//! The host's own checks of a checkpoint, on files that must not change:
//! judging files unchanged since the session started, files frozen since an
//! earlier phase unchanged, cargo's own programs outside sessions, and files
//! that changed while the rules ran. Also the facts rules recorded at
//! earlier phases (baselines), handed to the rule that recorded them.

use std::sync::Arc;

use checkrail_sandbox::Capability;
use checkrail_sdk::Finding;
use serde_json::{Map, Value};

use super::checkpoint::{files_changed, host_report};
use super::{CheckpointRun, Checkrail};
use crate::frozen;
use crate::report::RuleReport;
use crate::rules::LoadedRule;
use crate::runtime::Limits;
use crate::workflow::{Frozen, RuleUse, Severity, Workflow};

impl Checkrail {
    /// The host's own checks, as rule reports: judging files and frozen
    /// paths unchanged, cargo overrides outside sessions.
    pub(super) fn guard_reports(
        &self,
        run: &CheckpointRun<'_>,
        frozen: Option<&Frozen>,
        prepared: &[(&RuleUse, Arc<LoadedRule>, Limits)],
        listing: &frozen::Listing,
    ) -> Vec<RuleReport> {
        let root = run.workspace.root();
        let mut reports = Vec::new();
        if let Some((before, globs, session)) = run.guards.judging {
            let now = listing.snapshot(globs);
            let changes = frozen::compare(before, &now, true);
            reports.push(host_report(
                "judging-files",
                "files that change how tools judge are unchanged since the session started",
                frozen::judging_findings(&changes, session),
                Severity::Block,
            ));
        }
        if let Some(frozen) = frozen {
            let findings = match run.guards.frozen {
                Some(before) => {
                    let now = listing.snapshot(&frozen.paths);
                    let changes = frozen::compare(before, &now, !frozen.allow_new);
                    frozen::frozen_findings(&changes, &frozen.since)
                }
                // In a session, the phase did not pass on this session's
                // path (a condition, branch or empty loop skipped it):
                // nothing can be compared, and that does not pass.
                None if run.guards.judging.is_some() => vec![
                    Finding::error(format!(
                        "files frozen since phase `{}` cannot be compared: that phase did not pass in this session (it was skipped), so nothing was recorded to compare with",
                        frozen.since
                    ))
                    .code("no-snapshot")
                    .fix_hint(format!(
                        "roll back to a phase before `{}` and take the path through it; the workflow's author should freeze files since a phase every path passes",
                        frozen.since
                    )),
                ],
                None => vec![
                    Finding::warning(format!(
                        "files frozen since phase `{}` were not compared: outside a session there is no snapshot of them",
                        frozen.since
                    ))
                    .code("no-snapshot"),
                ],
            };
            reports.push(host_report(
                "frozen-paths",
                &format!("files frozen since phase `{}` are unchanged", frozen.since),
                findings,
                Severity::Block,
            ));
        }
        let targets = frozen_from(run.workflow, run.phase);
        if !targets.is_empty() {
            reports.push(host_report(
                "frozen-targets",
                "the files later phases freeze from here on exist",
                unmatched_frozen_findings(root, &targets, run.phase),
                Severity::Block,
            ));
        }
        if let Some(changed) = run.guards.setup {
            reports.push(host_report(
                "hook-setup",
                "the agents' hooks and MCP registration are as `checkrail init` set them up",
                setup_findings(changed),
                Severity::Block,
            ));
        }
        let cargo = Capability::exec("cargo");
        let runs_cargo = prepared
            .iter()
            .any(|(_, rule, _)| rule.component.info.capabilities.contains(&cargo));
        if run.guards.cargo_overrides && runs_cargo {
            let findings = frozen::cargo_overrides(listing);
            if !findings.is_empty() {
                reports.push(host_report(
                    "cargo-overrides",
                    "cargo runs and compiles with its own programs",
                    findings,
                    Severity::Warn,
                ));
            }
        }
        reports
    }
}

/// The globs later phases freeze since `phase`, each with the phase that
/// freezes it.
pub(super) fn frozen_from<'w>(workflow: &'w Workflow, phase: &str) -> Vec<(&'w str, &'w str)> {
    workflow
        .phases
        .iter()
        .filter_map(|p| Some((p.id.as_str(), p.checkpoint.as_ref()?.frozen.as_ref()?)))
        .filter(|(_, frozen)| frozen.since == phase)
        .flat_map(|(by, frozen)| frozen.paths.iter().map(move |glob| (glob.as_str(), by)))
        .collect()
}

/// A finding for each glob frozen from `phase` on that matches no file: a
/// freeze of nothing protects nothing (an agent that names the files to
/// freeze could name none), so the phase does not pass until it does.
fn unmatched_frozen_findings(
    root: &std::path::Path,
    targets: &[(&str, &str)],
    phase: &str,
) -> Vec<Finding> {
    targets
        .iter()
        .filter(|(glob, _)| !frozen::matches_any(root, glob))
        .map(|(glob, by)| {
            Finding::error(format!(
                "`{glob}` matches no file, yet phase `{by}` freezes it from phase `{phase}` on: a freeze of nothing protects nothing"
            ))
            .code("frozen-matches-nothing")
            .fix_hint("name the files that exist and must not change (the workflow's inputs decide the glob: start a new session with one that matches them)")
        })
        .collect()
}

impl Checkrail {
    /// The globs of the files a checkpoint's verdict rests on besides the
    /// rules' cache keys, watched while its rules run: the judging files
    /// (in a session), this checkpoint's frozen paths and those frozen from
    /// here on, and what the workflow or each rule that runs no program
    /// says it reads (a whole-workspace `**` is left out: walking it twice
    /// per check would cost more than the files it adds).
    pub(super) fn watched_globs(
        &self,
        run: &CheckpointRun<'_>,
        frozen: Option<&Frozen>,
        prepared: &[(&RuleUse, Arc<LoadedRule>, Limits)],
    ) -> Vec<String> {
        let mut globs: Vec<String> = Vec::new();
        if let Some((_, judging, _)) = run.guards.judging {
            globs.extend(judging.iter().cloned());
        }
        globs.extend(frozen.iter().flat_map(|f| f.paths.iter().cloned()));
        globs.extend(
            frozen_from(run.workflow, run.phase)
                .into_iter()
                .map(|(glob, _)| glob.to_owned()),
        );
        for (rule_use, rule, limits) in prepared {
            match &rule_use.inputs {
                Some(declared) => globs.extend(declared.iter().cloned()),
                None if !rule.runs_programs() => globs.extend(
                    rule.inputs_within(&self.runtime, &rule_use.config, limits)
                        .unwrap_or_default(),
                ),
                None => {}
            }
        }
        globs.retain(|glob| glob != "**");
        globs.sort();
        globs.dedup();
        globs
    }
}

/// A finding for each agent file that changed since `checkrail init`: an
/// agent that removed its own stop hook has left the gate.
fn setup_findings(changed: &[crate::setup::SetupChange]) -> Vec<Finding> {
    changed
        .iter()
        .map(|change| {
            Finding::error(format!(
                "`{}` {} since `checkrail init` set up the agents' hooks: the stop and pre-tool checks may no longer run",
                change.file, change.what
            ))
            .path(change.file.clone())
            .code("hook-setup-changed")
            .fix_hint("do not edit the agents' hook or MCP files; a human looks at the change and runs `checkrail init` again (which records the files as they are), then the phase is validated again")
        })
        .collect()
}

/// The report of a checkpoint whose files changed while its rules ran
/// (`changed`, from [`frozen::changed_paths`]): what the rules judged is
/// not what would be recorded.
pub fn changed_during_check(changed: &[String]) -> RuleReport {
    let findings = changed
        .iter()
        .map(|path| {
            Finding::error(format!(
                "`{path}` changed while the checks ran, so what they judged is not what would be recorded"
            ))
            .path(path.clone())
            .code("changed-during-check")
            .fix_hint("leave the files alone while a validation runs, then validate again")
        })
        .collect();
    let mut report = host_report(
        "stable-files",
        "the files this checkpoint's verdict rests on did not change while its rules ran",
        findings,
        Severity::Block,
    );
    report.summary = format!("{} during the check", files_changed(changed.len()));
    report
}

/// The facts rule `rule` recorded at the phases before this one, oldest
/// first, as (phase, JSON text).
pub(super) fn baselines_of(
    workflow: &Workflow,
    baselines: &Map<String, Value>,
    rule: &str,
) -> Vec<(String, String)> {
    workflow
        .phases
        .iter()
        .filter_map(|phase| {
            let facts = baselines.get(&phase.id)?.get(rule)?;
            Some((phase.id.clone(), facts.to_string()))
        })
        .collect()
}
