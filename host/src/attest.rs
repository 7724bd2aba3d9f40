//! Session attestations: what a completed session proves about a commit,
//! as an in-toto Statement (v1) in a DSSE envelope signed with ed25519.
//!
//! - **Subject**: the git commit and its tree. `checkrail attest` refuses
//!   unless the tree is the one the session's last passed checkpoint saw
//!   (each passed checkpoint records the working tree's git id), so the
//!   attestation never covers content no checkpoint checked.
//! - **Predicate** ([`PREDICATE_TYPE`]): the workflow (id, version, source,
//!   digest), the base commit, each passed phase with its rules (id,
//!   version, digest, config digest), verdict, evidence digest, iteration
//!   and human approval, every human decision and escalation, whether the
//!   agent ran confined, the checkrail version; and what a verifier needs
//!   to run every passed checkpoint again on a fresh clone
//!   ([`Replay`]: the pinned workflow and config, evidence, facts and the
//!   snapshots the frozen and judging files are compared with).
//!
//! Statement format: <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>;
//! digest names `gitCommit` and `gitTree` from the spec's digest set.

pub mod check;
pub mod dsse;
pub mod notes;
pub mod tree;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::service::Service;
use crate::session::{EventData, Outcome, Status, Step};
use crate::{Error, Result};

/// The statement type this writes and reads.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of a checkrail session.
pub const PREDICATE_TYPE: &str = "https://checkrail.dev/attestation/session/v1";
/// Where attestations are kept as git notes.
pub const NOTES_REF: &str = "refs/notes/checkrail";

/// An in-toto statement about one commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    /// [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub kind: String,
    /// The commit (one subject).
    pub subject: Vec<Subject>,
    /// [`PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// What the session did.
    pub predicate: Predicate,
}

/// A commit named by its ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subject {
    /// `git+commit:<id>`, for people.
    pub name: String,
    /// `gitCommit` and `gitTree`.
    pub digest: BTreeMap<String, String>,
}

/// A completed session, as attested.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Predicate {
    /// The checkrail version that signed.
    pub checkrail: String,
    /// The session.
    pub session: SessionFacts,
    /// The workflow it pinned.
    pub workflow: WorkflowFacts,
    /// The commit judging files were anchored to, when there was one.
    #[serde(default)]
    pub base: Option<crate::anchor::Anchor>,
    /// Each phase passed, in path order.
    pub phases: Vec<PhaseFacts>,
    /// Every human decision and escalation, in order.
    pub decisions: Vec<Decision>,
    /// What a verifier needs to run the passed checkpoints again.
    pub replay: Replay,
}

/// The session an attestation speaks of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionFacts {
    /// Session id.
    pub id: String,
    /// Its status (an attestation is only made of a completed session).
    pub status: Status,
    /// When it started.
    pub started_at: String,
    /// When it completed.
    pub completed_at: String,
    /// How the agent ran (`{"confined": true, …}` under `checkrail run`).
    pub confinement: Value,
}

/// The workflow a session pinned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkflowFacts {
    /// Workflow id.
    pub id: String,
    /// Its version.
    pub version: String,
    /// Where it came from (`bundled:…`, a workspace file, `pack:…`).
    pub source: String,
    /// sha256 of its source.
    pub digest: String,
    /// Its provenance as the session recorded it.
    pub provenance: Value,
}

/// One passed phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseFacts {
    /// Phase id (`phase#n` inside a loop).
    pub phase: String,
    /// Loop iteration.
    #[serde(default)]
    pub iteration: Option<u32>,
    /// When its checkpoint passed (absent for a phase without one).
    #[serde(default)]
    pub passed_at: Option<String>,
    /// The working tree's git id when it passed.
    #[serde(default)]
    pub tree: Option<String>,
    /// The checkpoint's summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// sha256 of the evidence it passed with.
    pub evidence_sha256: String,
    /// Each rule that ran.
    pub rules: Vec<RuleFacts>,
    /// Whether its checkpoint waited for a human.
    pub approval_required: bool,
    /// The human approval it got.
    #[serde(default)]
    pub approval: Option<Decision>,
}

/// One rule of a passed checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleFacts {
    /// Rule id.
    pub rule: String,
    /// Its version.
    pub version: String,
    /// sha256 of its component.
    pub digest: String,
    /// sha256 of its config in the workflow.
    pub config_sha256: String,
    /// How it ended (`passed`, `skipped`, …).
    pub status: String,
}

/// A human decision or an escalation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    /// `approved`, `rejected`, `judging_changes_accepted` or `escalated`.
    pub kind: String,
    /// The phase it concerns.
    #[serde(default)]
    pub phase: Option<String>,
    /// When.
    pub at: String,
    /// Who (the escalating party for an escalation).
    pub by: String,
    /// The human channel (`terminal`, `dashboard`, `elicitation`).
    #[serde(default)]
    pub channel: Option<String>,
    /// Channel details.
    #[serde(default)]
    pub detail: Option<String>,
    /// The note or reason given.
    #[serde(default)]
    pub note: Option<String>,
}

/// The session's state as a recheck needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replay {
    /// The pinned workflow, inputs filled.
    pub workflow: Value,
    /// The pinned `checkrail.toml` (as a human allowed it).
    pub config: Value,
    /// Globs of the judging files.
    pub judging_globs: Vec<String>,
    /// Judging files as accepted: path → sha256.
    pub judging: Map<String, Value>,
    /// The session's state: inputs, evidence, facts, loops, path, artifacts.
    pub session: Value,
    /// Files frozen since each phase: phase → path → sha256.
    pub snapshots: Map<String, Value>,
}

fn sha256_of(value: &Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

/// A checkpoint's result as found in the log.
struct Passed {
    at: String,
    tree: Option<String>,
    report: crate::report::CheckpointReport,
}

/// What the log says of each phase occurrence: its last applied passing
/// verdict, and the approvals after it.
#[derive(Default)]
struct Log {
    passed: BTreeMap<String, Passed>,
    approvals: BTreeMap<String, Decision>,
    decisions: Vec<Decision>,
    /// The tree of the last applied passing verdict.
    last_tree: Option<Option<String>>,
    completed_at: Option<String>,
}

fn read_log(events: &[crate::session::Event]) -> Log {
    let mut log = Log::default();
    let mut iteration: Option<u32> = None;
    for (n, event) in events.iter().enumerate() {
        let phase = event.phase.clone();
        let human = |kind: &str, d: &crate::session::event::HumanDecision| Decision {
            kind: kind.to_owned(),
            phase: phase.clone(),
            at: event.at.clone(),
            by: d.by.clone(),
            channel: Some(d.channel.as_str().to_owned()),
            detail: d.detail.clone(),
            note: d.note.clone(),
        };
        match &event.data {
            EventData::Advanced(moved) | EventData::RolledBack(moved) => {
                iteration = moved.iteration;
            }
            EventData::IterationStarted(started) => iteration = Some(started.iteration),
            EventData::Validated(verdict) => {
                let stale = events
                    .get(n + 1)
                    .is_some_and(|e| matches!(e.data, EventData::StaleValidationIgnored));
                if !stale && let Some(phase) = &phase {
                    let key = crate::session::occurrence(phase, iteration);
                    log.approvals.remove(&key);
                    log.last_tree = Some(verdict.tree.clone());
                    log.passed.insert(
                        key,
                        Passed {
                            at: event.at.clone(),
                            tree: verdict.tree.clone(),
                            report: verdict.report.clone(),
                        },
                    );
                }
            }
            EventData::Approved(decision) => {
                let d = human("approved", decision);
                if let Some(phase) = &phase {
                    log.approvals
                        .insert(crate::session::occurrence(phase, iteration), d.clone());
                }
                log.decisions.push(d);
            }
            EventData::Rejected(decision) => log.decisions.push(human("rejected", decision)),
            EventData::JudgingChangesAccepted(accepted) => {
                let mut d = human("judging_changes_accepted", &accepted.decision);
                d.note = Some(accepted.changes.join("; "));
                log.decisions.push(d);
            }
            EventData::Escalated(escalation) => log.decisions.push(Decision {
                kind: "escalated".to_owned(),
                phase: phase.clone(),
                at: event.at.clone(),
                by: escalation.by.clone(),
                channel: None,
                detail: None,
                note: Some(escalation.reason.clone()),
            }),
            EventData::Completed => log.completed_at = Some(event.at.clone()),
            _ => {}
        }
    }
    log
}

/// The statement `checkrail attest` signs for session `id` of `service`'s
/// workspace, about the commit `rev` names.
pub fn statement(service: &Service, id: &str, rev: &str) -> Result<Statement> {
    let verification = service.store().verify(id)?;
    if !verification.verified {
        return Err(Error::Tampered {
            id: id.to_owned(),
            problems: verification.problems,
        });
    }
    let (session, workflow, pinned) = service.store().get(id)?;
    if session.status != Status::Completed {
        return Err(Error::Refused(format!(
            "session {id} is {}; only a completed session can be attested (finish its phases first)",
            session.status
        )));
    }
    if session.provenance["kind"] == "imported" {
        return Err(Error::Refused(format!(
            "session {id} was imported from an old database, not recorded here; it cannot be attested"
        )));
    }
    let root = service.workspace();
    let (commit, tree) = tree::commit_and_tree(root, rev).ok_or_else(|| {
        Error::BadRequest(format!(
            "`{}` names no commit in `{}` (is it a git repository?)",
            crate::error::clip(rev),
            root.display()
        ))
    })?;
    let events = service.events(id)?;
    let log = read_log(&events);
    match &log.last_tree {
        Some(Some(checked)) if *checked == tree => {}
        Some(Some(checked)) => {
            return Err(Error::Refused(format!(
                "commit {} holds tree {tree}, but the session's last checkpoint passed on tree {checked}: commit exactly the files it checked (`git add -A && git commit`), or validate again",
                &commit[..12]
            )));
        }
        _ => {
            return Err(Error::Refused(format!(
                "session {id} recorded no git tree at its last passed checkpoint (the workspace was not a git repository then, or the session predates attestations); run the workflow again in the repository"
            )));
        }
    }
    let phases = phases(&session.path_taken(&workflow), &workflow, &session, &log);
    let mut state = serde_json::to_value(&session)
        .map_err(|e| Error::Internal(format!("encode the session: {e}")))?;
    for dropped in ["running_check", "last_check"] {
        if let Some(fields) = state.as_object_mut() {
            fields.remove(dropped);
        }
    }
    let replay = Replay {
        workflow: serde_json::to_value(&workflow)
            .map_err(|e| Error::Internal(format!("encode the workflow: {e}")))?,
        config: serde_json::to_value(&pinned.config)
            .map_err(|e| Error::Internal(format!("encode the config: {e}")))?,
        judging_globs: pinned.judging_globs.clone(),
        judging: session.judging.clone(),
        session: state,
        snapshots: session.snapshots.clone(),
    };
    Ok(Statement {
        kind: STATEMENT_TYPE.to_owned(),
        subject: vec![Subject {
            name: format!("git+commit:{commit}"),
            digest: BTreeMap::from([
                ("gitCommit".to_owned(), commit),
                ("gitTree".to_owned(), tree),
            ]),
        }],
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: Predicate {
            checkrail: env!("CARGO_PKG_VERSION").to_owned(),
            session: SessionFacts {
                id: session.id.clone(),
                status: session.status,
                started_at: session.created_at.clone(),
                completed_at: log
                    .completed_at
                    .clone()
                    .unwrap_or_else(|| session.updated_at.clone()),
                confinement: session.provenance["confinement"].clone(),
            },
            workflow: WorkflowFacts {
                id: workflow.id.clone(),
                version: workflow.version.to_string(),
                source: workflow.source.clone(),
                digest: workflow.digest.clone(),
                provenance: pinned.provenance.clone(),
            },
            base: crate::anchor::of(service.opened()),
            phases,
            decisions: log.decisions,
            replay,
        },
    })
}

/// Each passed phase of the path, with what the log recorded of it.
fn phases(
    path: &[Step],
    workflow: &crate::workflow::Workflow,
    session: &crate::session::Session,
    log: &Log,
) -> Vec<PhaseFacts> {
    path.iter()
        .filter(|step| step.outcome == Outcome::Passed)
        .map(|step| {
            let key = crate::session::occurrence(&step.phase, step.iteration);
            let passed = log.passed.get(&key);
            let uses: Vec<&crate::workflow::RuleUse> = workflow
                .phase(&step.phase)
                .and_then(|p| p.checkpoint.as_ref())
                .map(|c| c.rules.iter().collect())
                .unwrap_or_default();
            let rules = passed
                .map(|p| {
                    p.report
                        .rules
                        .iter()
                        .enumerate()
                        .map(|(n, r)| {
                            let names = |u: &&&crate::workflow::RuleUse| {
                                u.rule.split('@').next() == Some(r.rule.as_str())
                            };
                            let config = uses
                                .get(n)
                                .filter(names)
                                .or_else(|| uses.iter().find(names))
                                .map_or(Value::Null, |u| u.config.clone());
                            RuleFacts {
                                rule: r.rule.clone(),
                                version: r.version.clone(),
                                digest: r.digest.clone(),
                                config_sha256: sha256_of(&config),
                                status: serde_json::to_value(r.status)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_owned))
                                    .unwrap_or_default(),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            PhaseFacts {
                phase: key.clone(),
                iteration: step.iteration,
                passed_at: passed.map(|p| p.at.clone()),
                tree: passed.and_then(|p| p.tree.clone()),
                summary: passed.map(|p| p.report.summary.clone()),
                evidence_sha256: sha256_of(session.evidence.get(&key).unwrap_or(&Value::Null)),
                rules,
                approval_required: passed.is_some_and(|p| p.report.approval_required.is_some()),
                approval: log.approvals.get(&key).cloned(),
            }
        })
        .collect()
}

/// Signs `statement` with `key` into the envelope that is stored.
pub fn seal(statement: &Statement, key: &crate::pack::KeyPair) -> Result<dsse::Envelope> {
    let body = serde_json::to_vec(statement)
        .map_err(|e| Error::Internal(format!("encode the statement: {e}")))?;
    Ok(dsse::Envelope::seal(&body, key))
}

/// The key attestations are signed with by default: made on first use in
/// the state directory (out of a confined agent's reach), `attest/signing`.
pub fn default_key(state: &std::path::Path) -> Result<crate::pack::KeyPair> {
    let dir = state.join("attest");
    let stem = dir.join("signing");
    let secret = stem.with_extension("key");
    if !secret.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::Refused(format!(
                "create `{}` for the signing key: {e}",
                dir.display()
            ))
        })?;
        crate::pack::generate(&stem).map_err(|e| Error::Refused(crate::error::chain(&e)))?;
    }
    crate::pack::KeyPair::read(&secret).map_err(|e| Error::Refused(crate::error::chain(&e)))
}
