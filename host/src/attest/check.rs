//! Verifying an attestation against what a team requires of a commit: a
//! trusted signature, the commit as subject, the workflow completed with
//! its human gates. Each requirement is one [`Check`], so a refusal says
//! which one failed.

use serde::Serialize;

use super::dsse::{Envelope, Unopened};
use super::{PREDICATE_TYPE, STATEMENT_TYPE, Statement};
use crate::pack::PublicKey;

/// What a commit must have been through.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// The workflow id.
    pub workflow: String,
    /// The versions accepted (any when `None`).
    pub versions: Option<semver::VersionReq>,
    /// Phases a human must have approved, whatever the workflow said.
    pub gates: Vec<String>,
    /// Approval channels that count (any when empty).
    pub channels: Vec<String>,
    /// Whether the agent must have run confined (`checkrail run`).
    pub confined: bool,
}

impl Requirements {
    /// `WORKFLOW` or `WORKFLOW@RANGE` (a semver range: `1`, `^1.2`,
    /// `>=1, <3`).
    pub fn parse(require: &str) -> Result<Self, String> {
        let (workflow, range) = match require.split_once('@') {
            Some((id, range)) => (id, Some(range)),
            None => (require, None),
        };
        if workflow.trim().is_empty() {
            return Err(format!(
                "--require `{require}` names no workflow; write WORKFLOW or WORKFLOW@RANGE, e.g. `feature@^1`"
            ));
        }
        let versions = range
            .map(|r| {
                semver::VersionReq::parse(r).map_err(|e| {
                    format!("--require `{require}`: `{r}` is not a version range ({e}); e.g. `^1`, `>=1.2, <2`")
                })
            })
            .transpose()?;
        Ok(Self {
            workflow: workflow.trim().to_owned(),
            versions,
            ..Self::default()
        })
    }
}

/// One requirement, met or not.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Check {
    /// `attestation`, `signature`, `statement`, `subject`, `workflow`,
    /// `completed`, `human gates`, `confined` or `recheck`.
    pub name: String,
    /// Whether it is met.
    pub passed: bool,
    /// What was found.
    pub message: String,
}

/// What verifying found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The commit checked.
    pub commit: String,
    /// The signer's key id, when a trusted key signed.
    pub signer: Option<String>,
    /// The attestation is present but altered, malformed or signed by an
    /// untrusted key (exit 3, as a record that does not verify).
    pub tampered: bool,
    /// Each requirement in order.
    pub checks: Vec<Check>,
    /// The statement, when it opened.
    #[serde(skip)]
    pub statement: Option<Statement>,
}

impl Outcome {
    /// Whether every requirement is met.
    pub fn ok(&self) -> bool {
        !self.tampered && self.checks.iter().all(|c| c.passed)
    }

    fn push(&mut self, name: &str, passed: bool, message: impl Into<String>) {
        self.checks.push(Check {
            name: name.to_owned(),
            passed,
            message: message.into(),
        });
    }
}

/// Verifies the attestation `found` (none: no attestation for the commit)
/// for commit `commit` with tree `tree`.
pub fn verify(
    found: Option<&[u8]>,
    trusted: &[PublicKey],
    (commit, tree): (&str, &str),
    required: &Requirements,
) -> Outcome {
    let mut outcome = Outcome {
        commit: commit.to_owned(),
        signer: None,
        tampered: false,
        checks: Vec::new(),
        statement: None,
    };
    let Some(bytes) = found else {
        outcome.push(
            "attestation",
            false,
            format!("no attestation for commit {commit}: run `checkrail attest --git-note` where the session ran and push `refs/notes/checkrail`"),
        );
        return outcome;
    };
    if bytes.len() > super::notes::MAX_BYTES {
        outcome.tampered = true;
        outcome.push(
            "attestation",
            false,
            format!(
                "{} bytes, over the {} byte limit",
                bytes.len(),
                super::notes::MAX_BYTES
            ),
        );
        return outcome;
    }
    let opened = Envelope::parse(bytes).and_then(|e| e.open(trusted));
    let (body, key) = match opened {
        Ok(opened) => opened,
        Err(why) => {
            outcome.tampered = true;
            let name = match why {
                Unopened::Malformed(_) => "attestation",
                Unopened::Untrusted(_) | Unopened::Altered => "signature",
            };
            outcome.push(name, false, why.to_string());
            return outcome;
        }
    };
    outcome.signer = Some(key.id());
    outcome.push(
        "signature",
        true,
        format!("signed by trusted key {}", key.id()),
    );
    let statement = match serde_json::from_slice::<Statement>(&body) {
        Ok(s) if s.kind == STATEMENT_TYPE && s.predicate_type == PREDICATE_TYPE => s,
        Ok(s) => {
            outcome.tampered = true;
            outcome.push(
                "statement",
                false,
                format!(
                    "a `{}` statement about `{}`, not a checkrail session ({PREDICATE_TYPE})",
                    crate::error::clip(&s.kind),
                    crate::error::clip(&s.predicate_type)
                ),
            );
            return outcome;
        }
        Err(e) => {
            outcome.tampered = true;
            outcome.push(
                "statement",
                false,
                format!("signed, but not a statement this release reads: {e}"),
            );
            return outcome;
        }
    };
    check_subject(&mut outcome, &statement, commit, tree);
    check_workflow(&mut outcome, &statement, required);
    check_gates(&mut outcome, &statement, required);
    if required.confined {
        let confined = statement.predicate.session.confinement["confined"] == true;
        outcome.push(
            "confined",
            confined,
            if confined {
                "the agent ran confined (`checkrail run`)".to_owned()
            } else {
                "the agent did not run confined, and confinement is required: start it with `checkrail run -- <agent>`".to_owned()
            },
        );
    }
    outcome.statement = Some(statement);
    outcome
}

fn check_subject(outcome: &mut Outcome, statement: &Statement, commit: &str, tree: &str) {
    let subject = statement.subject.first().map(|s| &s.digest);
    let said = |name: &str| {
        subject
            .and_then(|d| d.get(name))
            .map_or("none", String::as_str)
            .to_owned()
    };
    let (their_commit, their_tree) = (said("gitCommit"), said("gitTree"));
    if their_commit == commit && their_tree == tree {
        outcome.push("subject", true, format!("attests commit {commit}"));
    } else if their_tree == tree {
        outcome.push(
            "subject",
            false,
            format!(
                "attests commit {their_commit}, not {commit} (the same files; attest this commit)"
            ),
        );
    } else {
        outcome.push(
            "subject",
            false,
            format!(
                "attests commit {their_commit}, not {commit}: the change moved on after the session was attested; complete the workflow on it and attest again"
            ),
        );
    }
}

fn check_workflow(outcome: &mut Outcome, statement: &Statement, required: &Requirements) {
    let predicate = &statement.predicate;
    let workflow = &predicate.workflow;
    let version_ok = match (
        &required.versions,
        semver::Version::parse(&workflow.version),
    ) {
        (None, _) => true,
        (Some(range), Ok(version)) => range.matches(&version),
        (Some(_), Err(_)) => false,
    };
    let wanted = match &required.versions {
        Some(range) => format!("`{}` {range}", required.workflow),
        None => format!("`{}`", required.workflow),
    };
    let passed = workflow.id == required.workflow && version_ok;
    outcome.push(
        "workflow",
        passed,
        if passed {
            format!(
                "`{}` {} from {} (sha256 {})",
                workflow.id,
                workflow.version,
                workflow.source,
                &workflow.digest.get(..12).unwrap_or(&workflow.digest)
            )
        } else {
            format!(
                "the session ran `{}` {}, but {wanted} is required",
                workflow.id, workflow.version
            )
        },
    );
    let completed = predicate.session.status == crate::session::Status::Completed;
    outcome.push(
        "completed",
        completed,
        if completed {
            format!(
                "session {} completed at {} with {} phase(s) passed",
                predicate.session.id,
                predicate.session.completed_at,
                predicate.phases.len()
            )
        } else {
            format!(
                "session {} is {}, not completed",
                predicate.session.id, predicate.session.status
            )
        },
    );
}

fn check_gates(outcome: &mut Outcome, statement: &Statement, required: &Requirements) {
    let phases = &statement.predicate.phases;
    let mut problems = Vec::new();
    let mut approved = Vec::new();
    let counts = |channel: Option<&String>| {
        required.channels.is_empty()
            || channel.is_some_and(|c| required.channels.iter().any(|r| r == c))
    };
    for phase in phases {
        let wanted = phase.approval_required
            || required
                .gates
                .iter()
                .any(|g| *g == phase.phase || phase.phase.split('#').next() == Some(g));
        if !wanted {
            continue;
        }
        match &phase.approval {
            Some(a) if counts(a.channel.as_ref()) => approved.push(format!(
                "{} by {} via {} at {}",
                phase.phase,
                a.by,
                a.channel.as_deref().unwrap_or("?"),
                a.at
            )),
            Some(a) => problems.push(format!(
                "`{}` was approved via {}, which is not an accepted channel ({})",
                phase.phase,
                a.channel.as_deref().unwrap_or("?"),
                required.channels.join(", ")
            )),
            None => problems.push(format!("no human approved `{}`", phase.phase)),
        }
    }
    for gate in &required.gates {
        let found = phases
            .iter()
            .any(|p| p.phase == *gate || p.phase.split('#').next() == Some(gate));
        if !found {
            problems.push(format!(
                "the required gate `{gate}` is not a phase the session passed"
            ));
        }
    }
    if problems.is_empty() {
        outcome.push(
            "human gates",
            true,
            if approved.is_empty() {
                "no human gate required".to_owned()
            } else {
                format!("approved: {}", approved.join("; "))
            },
        );
    } else {
        outcome.push("human gates", false, problems.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_read_a_workflow_and_a_range() {
        let r = Requirements::parse("feature@^1.2").unwrap();
        assert_eq!(r.workflow, "feature");
        assert!(r.versions.unwrap().matches(&semver::Version::new(1, 4, 0)));
        assert!(Requirements::parse("feature").unwrap().versions.is_none());
        assert!(
            Requirements::parse("feature@one")
                .unwrap_err()
                .contains("not a version range")
        );
        assert!(
            Requirements::parse("@1")
                .unwrap_err()
                .contains("names no workflow")
        );
    }

    #[test]
    fn no_attestation_fails_without_tampering() {
        let out = verify(None, &[], ("c", "t"), &Requirements::default());
        assert!(!out.ok() && !out.tampered);
        assert_eq!(out.checks[0].name, "attestation");
        let garbage = verify(Some(b"{]"), &[], ("c", "t"), &Requirements::default());
        assert!(garbage.tampered);
    }
}
