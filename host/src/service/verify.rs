//! Verifying a session's record and, on request, running every passed
//! checkpoint again.

use schemars::JsonSchema;
use serde::Serialize;

use crate::engine::Hooks;
use crate::report::CheckpointReport;
use crate::session::{Outcome, Verification};
use crate::workflow::Workflow;
use crate::{Error, Result};

use super::{PhaseRun, Service};

/// One passed checkpoint run again by [`Service::verify`] with `recheck`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Recheck {
    /// Phase id.
    pub phase: String,
    /// Whether it still passes.
    pub passed: bool,
    /// The checkpoint's summary.
    pub summary: String,
    /// The full report.
    pub report: CheckpointReport,
}

/// What [`Service::verify`] found.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VerifyReport {
    /// The record check.
    pub record: Verification,
    /// Each passed checkpoint run again, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recheck: Option<Vec<Recheck>>,
    /// The record verifies and (when rechecked) every checkpoint still passes.
    pub ok: bool,
    /// How the agent ran, as the session recorded it (`{"confined":
    /// true, "landlock_abi", "writable", "hidden"}` or `{"confined":
    /// false}`); null when the record does not verify or predates it.
    pub confinement: serde_json::Value,
}

impl Service {
    /// Checks a session's whole record; with `recheck`, also runs every
    /// checkpoint it passed again, without the outcome cache, against the
    /// workspace as it is now (with the recorded evidence and the pinned
    /// config).
    pub fn verify(&self, id: &str, recheck: bool) -> Result<VerifyReport> {
        let record = self.store.verify(id)?;
        if !record.verified {
            return Ok(VerifyReport {
                ok: false,
                record,
                recheck: None,
                confinement: serde_json::Value::Null,
            });
        }
        let (session, workflow, pinned) = self.store.get(id)?;
        let confinement = session.provenance["confinement"].clone();
        if !recheck {
            return Ok(VerifyReport {
                ok: true,
                record,
                recheck: None,
                confinement,
            });
        }
        let results = self.recheck_path(&session, &workflow, &pinned)?;
        Ok(VerifyReport {
            ok: results.iter().all(|r| r.passed),
            record,
            recheck: Some(results),
            confinement,
        })
    }

    /// Runs every checkpoint an attested session passed again, here (a
    /// fresh checkout of the attested commit), with the workflow, config,
    /// evidence, facts and snapshots the attestation carries.
    pub fn recheck_attested(&self, statement: &crate::attest::Statement) -> Result<Vec<Recheck>> {
        let predicate = &statement.predicate;
        let replay = &predicate.replay;
        let unreadable = |what: &str, e: serde_json::Error| {
            Error::Refused(format!(
                "the attestation's {what} cannot be read by checkrail {}: {e}; verify with checkrail {}",
                env!("CARGO_PKG_VERSION"),
                predicate.checkrail
            ))
        };
        let mut workflow: Workflow = serde_json::from_value(replay.workflow.clone())
            .map_err(|e| unreadable("workflow", e))?;
        workflow.digest = predicate.workflow.digest.clone();
        workflow.source = predicate.workflow.source.clone();
        let mut session: crate::session::Session =
            serde_json::from_value(replay.session.clone()).map_err(|e| unreadable("session", e))?;
        session.snapshots = replay.snapshots.clone();
        session.judging = replay.judging.clone();
        let pinned = crate::session::Pinned {
            config: serde_json::from_value(replay.config.clone())
                .map_err(|e| unreadable("config", e))?,
            provenance: predicate.workflow.provenance.clone(),
            judging_globs: replay.judging_globs.clone(),
        };
        self.recheck_path(&session, &workflow, &pinned)
    }

    /// Each passed checkpoint on `session`'s path run again, without the
    /// outcome cache, against the workspace as it is now.
    fn recheck_path(
        &self,
        session: &crate::session::Session,
        workflow: &Workflow,
        pinned: &crate::session::Pinned,
    ) -> Result<Vec<Recheck>> {
        let mut results = Vec::new();
        let path = session.path_taken(workflow);
        for step in path.iter().filter(|s| s.outcome == Outcome::Passed) {
            let Some(index) = workflow.index_of(&step.phase) else {
                continue;
            };
            let phase = &workflow.phases[index];
            if phase.checkpoint.is_none() {
                continue;
            }
            // The session as it stood at that step: its iteration's item,
            // evidence and baselines.
            let mut then = session.clone();
            then.phase_index = index;
            then.iteration = step.iteration;
            if let (Some(group), Some(n)) = (workflow.group_of(index), step.iteration)
                && let Some(run) = then.loops.get_mut(&group.id)
            {
                run.iteration = n;
            }
            let key = crate::session::occurrence(&phase.id, step.iteration);
            let report = self.run_phase(
                (&then, workflow, pinned),
                PhaseRun {
                    phase,
                    evidence: session.evidence.get(&key),
                    hooks: &Hooks::default(),
                    use_cache: false,
                    setup: None,
                },
            )?;
            results.push(Recheck {
                phase: key,
                passed: report.passed,
                summary: report.summary.clone(),
                report,
            });
        }
        Ok(results)
    }

    /// Globs of the files that change how the workflow's rules judge: what
    /// each rule declares, the scripts their commands run, the modules the
    /// conftests load as pytest plugins, Go's `TestMain` files, the site
    /// files of the Pythons the rules may run, plus the workspace's
    /// `checkrail.toml`.
    pub(super) fn judging_globs(&self, workflow: &Workflow) -> Result<Vec<String>> {
        let mut globs = vec![crate::config::FILE.to_owned()];
        let mut capabilities = Vec::new();
        for phase in &workflow.phases {
            for rule_use in phase.checkpoint.iter().flat_map(|c| &c.rules) {
                let rule = self.engine.rule(&rule_use.rule)?;
                globs.extend(rule.component.info.judging_files.iter().cloned());
                capabilities.extend(rule.component.info.capabilities.iter().cloned());
                globs.extend(crate::frozen::command_scripts(
                    self.workspace.root(),
                    &rule_use.config,
                ));
            }
        }
        let root = self.workspace.root();
        let plugins = crate::frozen::pytest_plugin_files(root, &globs);
        globs.extend(plugins);
        globs.extend(crate::frozen::go_test_main_files(root));
        let config = self.workspace.config()?;
        let granter = crate::grants::Granter::new(&config.exec);
        let programs = granter.toolchain_programs(&capabilities);
        globs.extend(crate::cache::toolchains::interpreter_globs(
            root, granter, &programs,
        ));
        globs.sort();
        globs.dedup();
        Ok(globs)
    }
}
