//! What checkrail answers a hook, judged through the same [`Service`] as
//! the MCP tools: the stop hook checks the current phase of the
//! conversation's session (or, with none, applies `[enforce] on_stop`), the
//! pre-tool hook refuses writes of what judges the agent, and the
//! session-start hook tells the agent where it stands.
//!
//! A conversation is bound to a session in the store's notes (which live
//! in the state directory, out of a confined agent's reach): the first hook
//! of a conversation that finds an unbound session of the workspace, not
//! final and started after the conversation began, takes it; one session
//! serves one conversation.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::config::{Enforce, OnStop};
use crate::report::{CheckpointReport, RuleStatus};
use crate::service::{Service, ValidateRequest};
use crate::session::{Session, Status};
use crate::{Error, Result};

use super::protect::Protected;
use super::writes::written;
use super::{Agent, HookInput, Verdict};

/// The "done" checkpoint of `[enforce] on_stop = "check"`: the project
/// builds, its tests pass and its linter is content, each toolchain told
/// by the workspace.
const DONE: &str = include_str!("done.yaml");

/// Most findings listed in one block reason.
const MAX_LISTED: usize = 20;

/// What the agent is told about the honest way out.
const WAY_OUT: &str = "If the work cannot be done without changing what judges it (a test that contradicts the spec, a check the plan forbids you to satisfy), call workflow_control with action `escalate` and your reason: a human decides. Never weaken a test or a check to get past it.";

/// One hook call against one workspace.
pub struct Hook<'a> {
    /// The workspace's sessions.
    pub service: &'a Service,
    /// The agent asking.
    pub agent: Agent,
    /// What it sent.
    pub input: &'a HookInput,
    /// The state directory (protected from writes).
    pub state: Option<&'a Path>,
}

impl Hook<'_> {
    /// The agent wants to stop.
    pub fn stop(&self) -> Result<Verdict> {
        let Some(session) = self.session()? else {
            let enforce = self.service.workspace_config()?.enforce;
            return self.stop_without_session(&enforce);
        };
        // The policy pinned when the session started: an agent that edits
        // `[enforce]` mid-session changes nothing for it.
        let enforce = self.service.store().get(&session.id)?.2.config.enforce;
        let reason = match session.status {
            Status::Completed => {
                return Ok(allow(format!(
                    "checkrail: workflow `{}` of session `{}` is complete.",
                    session.workflow_id, session.id
                )));
            }
            status if status.waits_for_human() => {
                return Ok(allow(format!(
                    "checkrail: session `{}` is {status} at phase `{}` and waits for a human.",
                    session.id, session.phase_id
                )));
            }
            Status::Paused => format!(
                "Session `{}` ({}) is paused at phase `{}`; the workflow is not done. Resume it with workflow_control and finish the phase.",
                session.id, session.workflow_id, session.phase_id
            ),
            _ => match self.phase_findings(&session)? {
                None => return Ok(Verdict::Allow { note: None }),
                Some(reason) => reason,
            },
        };
        self.block_or_escalate(Some(&session), &enforce, reason)
    }

    /// The agent is about to use a tool.
    pub fn pre_tool(&self) -> Result<Verdict> {
        let Some(tool) = &self.input.tool else {
            return Ok(Verdict::Allow { note: None });
        };
        let root = self.service.workspace();
        let cwd = self.input.cwd.as_deref().unwrap_or(root);
        let session = self.session()?.filter(|s| !s.status.is_final());
        let pinned = match &session {
            Some(s) => Some(self.service.store().get(&s.id)?.2),
            None => None,
        };
        let protected = Protected::new(root, self.state, session.as_ref().zip(pinned.as_ref()));
        let way_out = match &session {
            Some(s) => format!(
                "{WAY_OUT} A human can then accept the change (`checkrail session accept-changes {}`).",
                s.id
            ),
            None => "Ask the user to make this change.".to_owned(),
        };
        for path in written(tool) {
            if let Some(why) = protected.refusal(cwd, &path) {
                return Ok(Verdict::Block {
                    reason: format!(
                        "checkrail refuses this `{}` call: {why}. A change there needs a human. {way_out}",
                        tool.name
                    ),
                });
            }
        }
        Ok(Verdict::Allow { note: None })
    }

    /// A conversation begins: note when, and tell the agent where it stands.
    pub fn session_start(&self) -> Result<Verdict> {
        if let Some(key) = self.key("started") {
            let store = self.service.store();
            if store.note(&key)?.is_none() {
                store.set_note(&key, Some(&crate::session::now()))?;
            }
        }
        let enforce = self.service.workspace_config()?.enforce;
        let text = match self.session()? {
            Some(session) if !session.status.is_final() => {
                let standing = self.service.next(&session.id)?;
                format!(
                    "checkrail: this conversation works in session `{}` of workflow `{}`, at phase `{}` ({}). {} When you want to stop, checkrail checks the phase and sends you back with its findings until it passes. {WAY_OUT}",
                    session.id,
                    session.workflow_id,
                    session.phase_id,
                    session.status,
                    standing.next_step
                )
            }
            _ => {
                let policy = match enforce.on_stop {
                    OnStop::Off => "Stops are not checked without a session.",
                    OnStop::RequireSession => {
                        "This workspace requires a session: you cannot stop until you started one and its workflow is complete or waits for a human."
                    }
                    OnStop::Check => {
                        "Without a session, every stop runs the \"done\" checks (build, tests, lint) and sends you back with their findings."
                    }
                };
                format!(
                    "checkrail: no workflow session is active for this conversation. workflow_list shows the workflows; workflow_start begins one. {policy}"
                )
            }
        };
        Ok(Verdict::Context { text })
    }

    /// A stop with no session: the workspace's policy.
    fn stop_without_session(&self, enforce: &Enforce) -> Result<Verdict> {
        let reason = match enforce.on_stop {
            OnStop::Off => return Ok(Verdict::Allow { note: None }),
            OnStop::RequireSession => {
                "This workspace requires a workflow session before you stop: call workflow_list, then workflow_start with the workflow that fits your task, and work through its phases.".to_owned()
            }
            OnStop::Check => {
                let report = self.done_checks()?;
                if report.passed {
                    return Ok(Verdict::Allow { note: None });
                }
                format!(
                    "The \"done\" checks of this workspace fail; fix these before you stop:\n{}",
                    findings(&report)
                )
            }
        };
        self.block_or_escalate(None, enforce, reason)
    }

    /// The "done" checks. The first of a conversation runs phase `start`
    /// and keeps how each test ended (the test rule's facts, in the
    /// store's notes); every later one runs phase `done`, which also fails
    /// on a test removed, newly skipped or passing then and failing now.
    fn done_checks(&self) -> Result<CheckpointReport> {
        let workflow = crate::workflow::parse(DONE, "checkrail hook (done checks)")?;
        let store = self.service.store();
        let key = self.key("tests");
        let known = match &key {
            Some(key) => store.note(key)?,
            None => None,
        };
        let Some(facts) = known.and_then(|text| serde_json::from_str::<Value>(&text).ok()) else {
            let report = self.service.check(&workflow, "start", &Map::new())?;
            let facts = report
                .rules
                .iter()
                .find(|r| r.rule == "test")
                .and_then(|r| r.facts.as_ref());
            if let (Some(key), Some(facts)) = (&key, facts) {
                store.set_note(key, Some(&facts.to_string()))?;
            }
            return Ok(report);
        };
        let mut baselines = Map::new();
        baselines.insert("start".to_owned(), json!({ "test": facts }));
        self.service.check(&workflow, "done", &baselines)
    }

    /// The findings of the session's current phase, or `None` when the
    /// agent may stop: checked as `workflow_validate` would, with nothing
    /// recorded.
    fn phase_findings(&self, session: &Session) -> Result<Option<String>> {
        let request = ValidateRequest::new(&session.id).dry_run();
        let validation = self
            .service
            .validate(&request, &crate::engine::Hooks::default())?;
        let Some(report) = validation.report else {
            return Ok(None);
        };
        let reason = if report.passed {
            format!(
                "The checks of phase `{}` in session `{}` pass now, but the workflow is not done: call workflow_validate with session `{}` and phase `{}` (with its evidence) to record them and go on.",
                session.phase_id, session.id, session.id, session.phase_id
            )
        } else {
            format!(
                "Phase `{}` of session `{}` ({}) is not done; its checkpoint fails:\n{}",
                session.phase_id,
                session.id,
                session.workflow_id,
                findings(&report)
            )
        };
        Ok(Some(reason))
    }

    /// Blocks, unless this conversation's stops were blocked `max_blocks`
    /// times already: then its session is escalated to a human (or, with
    /// none, the stop is let through), and the human is told.
    fn block_or_escalate(
        &self,
        session: Option<&Session>,
        enforce: &Enforce,
        reason: String,
    ) -> Result<Verdict> {
        let store = self.service.store();
        let key = self.key(&format!(
            "blocks:{}",
            session.map_or("-", |s| s.id.as_str())
        ));
        let blocks: u32 = match &key {
            Some(key) => store.note(key)?.and_then(|n| n.parse().ok()).unwrap_or(0),
            None => 0,
        };
        if blocks >= enforce.max_blocks {
            let first = reason.lines().next().unwrap_or_default();
            return Ok(match session {
                Some(session) => {
                    let why = format!(
                        "the stop hook blocked {blocks} times ([enforce] max_blocks); last: {first}"
                    );
                    self.service.escalate(&session.id, &why, "stop hook")?;
                    allow(format!(
                        "checkrail: session `{}` was escalated to a human after {blocks} blocked stops: {first} Decide with `checkrail session reject|accept-changes|abandon {}`.",
                        session.id, session.id
                    ))
                }
                None => allow(format!(
                    "checkrail: let the agent stop after {blocks} blocked stops ([enforce] max_blocks) though: {first}"
                )),
            });
        }
        if let Some(key) = &key {
            store.set_note(key, Some(&(blocks + 1).to_string()))?;
        }
        let reason = match session {
            Some(_) => format!("{reason}\n\n{WAY_OUT}"),
            None => reason,
        };
        Ok(Verdict::Block { reason })
    }

    /// The session this conversation works in: the one bound to it, else
    /// the newest unbound session of the workspace that is not final (and
    /// began after the conversation, when its start is known), now bound.
    fn session(&self) -> Result<Option<Session>> {
        let store = self.service.store();
        let bound_key = self.key("session");
        if let Some(key) = &bound_key
            && let Some(id) = store.note(key)?
        {
            match store.get(&id) {
                Ok((session, _, _)) if session.status != Status::Abandoned => {
                    return Ok(Some(session));
                }
                Ok(_) | Err(Error::UnknownSession { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let started = match self.key("started") {
            Some(key) => store.note(&key)?,
            None => None,
        };
        let mut candidates = Vec::new();
        for session in self.service.list(None)? {
            if session.status.is_final()
                || started
                    .as_deref()
                    .is_some_and(|t| session.created_at.as_str() < t)
                || store.note(&format!("bound:{}", session.id))?.is_some()
            {
                continue;
            }
            candidates.push(session);
        }
        // Newest first.
        candidates.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        let Some(session) = candidates.into_iter().next() else {
            return Ok(None);
        };
        if let Some(key) = &bound_key {
            store.set_note(key, Some(&session.id))?;
            store.set_note(&format!("bound:{}", session.id), Some(key))?;
        }
        Ok(Some(session))
    }

    /// A note's name for this agent's conversation (`None` when the agent
    /// sent no conversation id).
    fn key(&self, what: &str) -> Option<String> {
        let conversation = self.input.conversation.as_deref()?;
        Some(format!(
            "conversation:{}:{conversation}:{what}",
            self.agent.as_str()
        ))
    }
}

fn allow(note: String) -> Verdict {
    Verdict::Allow { note: Some(note) }
}

/// A report's blocking results as lines: each rule that did not pass,
/// then its findings at file:line with their fix.
pub fn findings(report: &CheckpointReport) -> String {
    let mut lines = Vec::new();
    let mut listed = 0;
    let mut left = 0;
    for violation in &report.evidence_violations {
        lines.push(format!("- evidence: {}", violation.message));
    }
    for rule in report.rules.iter().filter(|r| r.blocks()) {
        let name = rule.name.as_deref().unwrap_or(&rule.rule);
        let status = if rule.status == RuleStatus::Error {
            "could not run"
        } else {
            "failed"
        };
        lines.push(format!(
            "- {name} ({}) {status}: {}",
            rule.rule, rule.summary
        ));
        for f in rule
            .findings
            .iter()
            .filter(|f| f.severity != checkrail_sdk::Severity::Info)
        {
            if listed == MAX_LISTED {
                left += 1;
                continue;
            }
            listed += 1;
            let place = match (&f.path, f.line) {
                (Some(path), Some(line)) => format!("{path}:{line}: "),
                (Some(path), None) => format!("{path}: "),
                _ => String::new(),
            };
            let fix = f
                .fix_hint
                .as_deref()
                .map(|h| format!(" (fix: {h})"))
                .unwrap_or_default();
            lines.push(format!("    {place}{}{fix}", f.message));
        }
    }
    if left > 0 {
        lines.push(format!("    … and {left} more findings"));
    }
    lines.join("\n")
}
