//! Checks that run apart from the request that asked for them
//! (`workflow_validate` with `wait: false`), and how any server instance
//! sharing the store tells a running one from one whose server is gone.
//!
//! The check is recorded (`check_started`) before it runs, under the id of
//! the server instance that runs it; its result event carries the check id
//! and clears it. While it runs, its instance keeps a lease in the store, a
//! note outside every session log naming the checks it runs and when the
//! lease expires; it renews it at a third of its length. A recorded check
//! counts as running while its owner's lease is unexpired and names it, and
//! its deadline (the checkpoint's rule deadlines added up, plus a margin)
//! has not passed; otherwise it was interrupted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::validate::{Admitted, Current, Found};
use super::{Service, ValidateRequest, Validation};
use crate::engine::Hooks;
use crate::engine::progress::Progress;
use crate::runtime::{Limits, MAX_TIMEOUT};
use crate::session::{Command, RunningCheck, Session, Status, Transition};
use crate::workflow::{Phase, Workflow};
use crate::{Error, Result};

/// How long a lease lasts unless `CHECKRAIL_CHECK_LEASE_MS` says otherwise.
const LEASE: Duration = Duration::from_secs(30);

/// Added to a checkpoint's rule deadlines: loading and compiling rules,
/// waiting for a free slot, recording the result.
const DEADLINE_MARGIN: Duration = Duration::from_secs(300);

/// How a check that ran apart from its request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Still running.
    Running,
    /// Its server instance stopped (or it ran past its deadline) before it
    /// reported; validate again.
    Interrupted,
    /// The checkpoint passed.
    Passed,
    /// The checkpoint failed.
    Failed,
    /// The check could not run; `summary` says why.
    Errored,
}

/// A check started with `wait: false`, as `workflow_next` reports it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckView {
    /// Check id.
    pub id: String,
    /// Where it stands.
    pub status: CheckStatus,
    /// The phase it checks.
    pub phase: String,
    /// The loop iteration it checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// When it began (while running or interrupted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The server instance running it (while running or interrupted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// What it is doing now, when this server instance runs it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Its result's summary, or why it was interrupted or could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// A server instance's lease, as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Lease {
    /// When it lapses unless renewed (RFC 3339, UTC).
    expires: String,
    /// The checks the instance runs.
    checks: Vec<String>,
}

/// The checks this server instance runs.
pub(super) struct Checks {
    /// This instance's id: host, process and a random part.
    instance: String,
    /// How long a lease lasts.
    lease: Duration,
    state: Arc<Mutex<Running>>,
}

#[derive(Default)]
struct Running {
    /// Check id → its latest progress message.
    checks: BTreeMap<String, Option<String>>,
    /// Whether a thread renews the lease.
    keeper: bool,
}

impl Checks {
    pub(super) fn new() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".to_owned());
        let random = uuid::Uuid::new_v4().simple().to_string();
        let lease = std::env::var("CHECKRAIL_CHECK_LEASE_MS")
            .ok()
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms >= 30)
            .map_or(LEASE, Duration::from_millis);
        Self {
            instance: format!("{host}/{}/{}", std::process::id(), &random[..8]),
            lease,
            state: Arc::new(Mutex::new(Running::default())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        lock(&self.state)
    }

    fn note_name(owner: &str) -> String {
        format!("lease:{owner}")
    }

    /// Writes this instance's lease as the running checks stand (removes it
    /// when none runs). Called with the state locked, so leases are written
    /// in the order the checks changed.
    fn write_lease(&self, service: &Service, running: &Running) -> Result<()> {
        let name = Self::note_name(&self.instance);
        if running.checks.is_empty() {
            return service.store.set_note(&name, None);
        }
        let lease = Lease {
            expires: crate::session::after(self.lease),
            checks: running.checks.keys().cloned().collect(),
        };
        let text = serde_json::to_string(&lease).map_err(|source| Error::Json {
            what: "encode a check lease",
            source,
        })?;
        service.store.set_note(&name, Some(&text))
    }
}

impl Service {
    /// The id of this server instance, as recorded with the checks it runs.
    pub fn instance(&self) -> &str {
        &self.checks.instance
    }

    /// Starts validating the current phase's checkpoint apart from the
    /// caller: records `check_started` and answers at once; the rules run
    /// on a thread of their own and their result is recorded as any
    /// validation's, with the check id. When a check of the same phase and
    /// iteration is already running, answers with that one instead (the
    /// evidence of this call is not used).
    pub fn validate_detached(self: &Arc<Self>, request: ValidateRequest) -> Result<Validation> {
        if request.task.is_some() {
            return Err(Error::BadRequest(
                "`wait: false` applies to checkpoint validations; a task check answers in its request, so leave `wait` out with `task`"
                    .to_owned(),
            ));
        }
        if request.dry_run {
            return Err(Error::BadRequest(
                "`wait: false` records its result for workflow_next, and a dry run records nothing; leave `wait` out with `dry_run`"
                    .to_owned(),
            ));
        }
        let Current {
            session,
            workflow,
            pinned,
            ..
        } = match self.admit(&request)? {
            Admitted::Go(current) => *current,
            Admitted::Answered(validation) => return Ok(*validation),
        };
        let (id, evidence) = (request.session.as_str(), request.evidence);
        let (session, view) = self.settle(session);
        if let Some(view) = view.filter(|v| {
            v.status == CheckStatus::Running
                && v.phase == session.phase_id
                && v.iteration == session.iteration
        }) {
            let note = format!(
                "check `{}` of this phase is already running (since {}); nothing new was started and the evidence of this call was not used (validate again once it has ended to check other evidence).",
                view.id,
                view.started_at.as_deref().unwrap_or("?")
            );
            let found = Found {
                check: Some(view),
                ..Found::default()
            };
            return Ok(self.answer(session, &workflow, found, Some(note)));
        }
        let at = session.cursor();
        let current = workflow.phases[session.phase_index].clone();
        let budget = self.budget(&workflow, &current, &session);
        let check = RunningCheck {
            id: format!("chk-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            phase: current.id.clone(),
            iteration: session.iteration,
            owner: self.checks.instance.clone(),
            started_at: crate::session::now(),
            deadline: crate::session::after(budget),
        };
        let check_id = check.id.clone();
        // The lease names the check before the record does, so no other
        // instance ever reads the record without it.
        self.register(&check_id)?;
        let started = self.store.update(id, |s, wf| {
            let events = s.apply(
                Command::StartCheck {
                    at,
                    check: check.clone(),
                },
                wf,
            )?;
            Ok((Transition::from(events), ()))
        });
        let session = match started {
            Ok((session, ())) => session,
            Err(e) => {
                self.unregister(&check_id);
                return Err(e);
            }
        };
        let service = Arc::clone(self);
        let shown = workflow.clone();
        // Queued for the server's check workers: a flood adds no threads.
        let spawned = self.pool.submit(&check_id, {
            let check_id = check_id.clone();
            let session = session.clone();
            // The setup notes are read when the check runs, not now.
            let current = Current {
                session,
                workflow,
                pinned,
                setup: None,
            };
            Box::new(move || service.run_detached(&check_id, current, evidence))
        });
        if let Err(e) = spawned {
            let error = format!("start a thread for the check: {e}");
            self.record_error(id, &check_id, &error);
            self.unregister(&check_id);
            return Err(Error::Internal(error));
        }
        let (session, _, _) = self.store.get(id)?;
        let view = self.view(&session, None);
        let note = format!(
            "check `{check_id}` of phase `{}` started and runs in the server; call workflow_next with session `{id}` to see it running and then its result (the full report is then in workflow_state).",
            check.phase
        );
        let found = Found {
            check: view,
            ..Found::default()
        };
        Ok(self.answer(session, &shown, found, Some(note)))
    }

    /// The rules of a check started by [`Service::validate_detached`], on
    /// its own thread; the result is recorded with the check id, or, when
    /// nothing could be recorded, why.
    fn run_detached(&self, check_id: &str, current: Current, evidence: Option<Value>) {
        let progress = {
            let id = check_id.to_owned();
            let state = Arc::clone(&self.checks.state);
            move |p: Progress| {
                let mut state = lock(&state);
                if let Some(slot) = state.checks.get_mut(&id) {
                    *slot = Some(p.message());
                }
            }
        };
        let hooks = Hooks {
            progress: Some(Arc::new(progress)),
            cancel: None,
        };
        let id = current.session.id.clone();
        let began = std::time::Instant::now();
        let result =
            self.check_and_record(current, evidence.as_ref(), false, &hooks, Some(check_id));
        if let Ok(validation) = &result {
            crate::metrics::global().validated(began.elapsed(), validation.report.as_ref());
        }
        if let Err(e) = result {
            let error = crate::error::chain(&e);
            tracing::warn!("check `{check_id}` of session `{id}` did not finish: {error}");
            self.record_error(&id, check_id, &error);
        }
        self.unregister(check_id);
    }

    /// Records that a check could not run (logged when even that fails).
    fn record_error(&self, id: &str, check_id: &str, error: &str) {
        let recorded = self.store.update(id, |s, wf| {
            let events = s.apply(
                Command::CheckErrored {
                    check: check_id.to_owned(),
                    error: error.to_owned(),
                },
                wf,
            )?;
            Ok((Transition::from(events), ()))
        });
        if let Err(e) = recorded {
            tracing::warn!(
                "recording that check `{check_id}` of session `{id}` did not finish failed: {}",
                crate::error::chain(&e)
            );
        }
    }

    /// Longest the checkpoint of `phase` may take: its rules' deadlines
    /// added up (they may run one after another), plus a margin.
    fn budget(&self, workflow: &Workflow, phase: &Phase, session: &Session) -> Duration {
        let filled = self
            .phase_for(workflow, phase, session)
            .unwrap_or_else(|_| phase.clone());
        filled
            .checkpoint
            .iter()
            .flat_map(|c| &c.rules)
            .map(|rule_use| match rule_use.timeout_ms {
                Some(ms) => Duration::from_millis(ms).min(MAX_TIMEOUT),
                None => self
                    .engine
                    .rule(&rule_use.rule)
                    .map_or(MAX_TIMEOUT, |rule| {
                        Limits::for_rule(&rule.component.info).timeout
                    }),
            })
            .sum::<Duration>()
            + DEADLINE_MARGIN
    }

    /// Adds a check to this instance's running ones and writes the lease,
    /// starting the thread that renews it when none does.
    fn register(self: &Arc<Self>, check_id: &str) -> Result<()> {
        let mut state = self.checks.lock();
        state.checks.insert(check_id.to_owned(), None);
        if let Err(e) = self.checks.write_lease(self, &state) {
            state.checks.remove(check_id);
            return Err(e);
        }
        if !state.keeper {
            state.keeper = true;
            let service = Arc::downgrade(self);
            let every = self.checks.lease / 3;
            let spawned = std::thread::Builder::new()
                .name("checkrail-lease".to_owned())
                .spawn(move || keep_lease(service, every));
            if spawned.is_err() {
                // Renewed on every change instead; a long check may then
                // read as interrupted to other instances.
                state.keeper = false;
                tracing::warn!("could not start the thread that renews check leases");
            }
        }
        Ok(())
    }

    /// Removes a check from this instance's running ones and rewrites the
    /// lease.
    fn unregister(&self, check_id: &str) {
        let mut state = self.checks.lock();
        state.checks.remove(check_id);
        if let Err(e) = self.checks.write_lease(self, &state) {
            tracing::warn!(
                "updating the check lease failed: {}",
                crate::error::chain(&e)
            );
        }
    }

    /// Whether a recorded check still runs, and if not, why.
    fn liveness(&self, running: &RunningCheck) -> std::result::Result<Option<String>, String> {
        let now = crate::session::now();
        if now > running.deadline {
            return Err(format!(
                "it ran past its deadline ({}) without reporting",
                running.deadline
            ));
        }
        if running.owner == self.checks.instance {
            if let Some(ahead) = self.pool.ahead_of(&running.id) {
                return Ok(Some(format!(
                    "queued: {ahead} check(s) ahead of it; this server runs {} at once ([checks] max_running)",
                    self.pool.max()
                )));
            }
            let state = self.checks.lock();
            return match state.checks.get(&running.id) {
                Some(progress) => Ok(progress.clone()),
                None => Err("this server stopped running it without recording a result".to_owned()),
            };
        }
        let lease = self
            .store
            .note(&Checks::note_name(&running.owner))
            .map_err(|e| format!("its lease could not be read: {}", crate::error::chain(&e)))?
            .and_then(|text| serde_json::from_str::<Lease>(&text).ok());
        match lease {
            Some(lease) if lease.expires > now && lease.checks.contains(&running.id) => Ok(None),
            Some(lease) if lease.expires > now => {
                Err(format!("server `{}` no longer runs it", running.owner))
            }
            Some(lease) => Err(format!(
                "server `{}` stopped renewing its lease (it lapsed at {})",
                running.owner, lease.expires
            )),
            None => Err(format!("server `{}` is gone", running.owner)),
        }
    }

    /// The session with its check interpreted: a check that reads as no
    /// longer running is read again once, since it may just have reported.
    pub(super) fn settle(&self, session: Session) -> (Session, Option<CheckView>) {
        let Some(running) = session.running_check.clone() else {
            let view = self.view(&session, None);
            return (session, view);
        };
        let alive = self.liveness(&running);
        if alive.is_err()
            && let Ok((again, _, _)) = self.store.get(&session.id)
            && again.running_check.as_ref().map(|r| &r.id) != Some(&running.id)
        {
            let view = self.view(&again, None);
            return (again, view);
        }
        let view = self.view(&session, Some(alive));
        (session, view)
    }

    /// The view of the session's latest check; `alive` is the liveness of
    /// its running check, when known.
    fn view(
        &self,
        session: &Session,
        alive: Option<std::result::Result<Option<String>, String>>,
    ) -> Option<CheckView> {
        if let Some(running) = &session.running_check {
            let alive = alive.unwrap_or_else(|| self.liveness(running));
            let (status, progress, summary) = match alive {
                Ok(progress) => (CheckStatus::Running, progress, None),
                Err(why) => (CheckStatus::Interrupted, None, Some(why)),
            };
            return Some(CheckView {
                id: running.id.clone(),
                status,
                phase: running.phase.clone(),
                iteration: running.iteration,
                started_at: Some(running.started_at.clone()),
                owner: Some(running.owner.clone()),
                progress,
                summary,
            });
        }
        let last = session.last_check.as_ref()?;
        Some(CheckView {
            id: last.id.clone(),
            status: match (&last.error, last.passed) {
                (Some(_), _) => CheckStatus::Errored,
                (None, true) => CheckStatus::Passed,
                (None, false) => CheckStatus::Failed,
            },
            phase: last.phase.clone(),
            iteration: last.iteration,
            started_at: None,
            owner: None,
            progress: None,
            summary: Some(last.summary.clone()),
        })
    }

    /// A sentence about the session's latest check for `next_step`, when
    /// it concerns where the session stands: running or interrupted at the
    /// current phase, or just ended there (or passed the phase the session
    /// just left).
    pub(super) fn check_note(session: &Session, view: &CheckView) -> Option<String> {
        let here = view.phase == session.phase_id && view.iteration == session.iteration;
        let at = match view.iteration {
            Some(n) => format!("phase `{}` (iteration {n})", view.phase),
            None => format!("phase `{}`", view.phase),
        };
        let summary = view.summary.as_deref().unwrap_or_default();
        match view.status {
            CheckStatus::Running => Some(format!(
                "Check `{}` of {at} is running (since {}{}); call workflow_next again to see its result rather than validating again.",
                view.id,
                view.started_at.as_deref().unwrap_or("?"),
                view.progress
                    .as_deref()
                    .map(|p| format!(", now: {p}"))
                    .unwrap_or_default()
            )),
            CheckStatus::Interrupted if here && session.status == Status::Active => Some(format!(
                "Check `{}` of {at} was interrupted: {summary}. Its result will not come; call workflow_validate again.",
                view.id
            )),
            CheckStatus::Interrupted => None,
            CheckStatus::Errored if here => Some(format!(
                "Check `{}` of {at} could not run: {summary}.",
                view.id
            )),
            CheckStatus::Failed if here => Some(format!(
                "Check `{}` of {at} failed: {summary} (the full report is in workflow_state); fix the findings and validate again.",
                view.id
            )),
            CheckStatus::Passed
                if here
                    || session
                        .path
                        .iter()
                        .rev()
                        .find(|s| s.outcome == crate::session::Outcome::Passed)
                        .is_some_and(|s| {
                            s.phase == view.phase && s.iteration == view.iteration
                        }) =>
            {
                Some(format!("Check `{}` of {at} passed: {summary}.", view.id))
            }
            _ => None,
        }
    }
}

/// Renews the lease of the instance's running checks until none runs (or
/// the service is gone).
fn keep_lease(service: std::sync::Weak<Service>, every: Duration) {
    loop {
        std::thread::sleep(every);
        let Some(service) = service.upgrade() else {
            return;
        };
        let mut state = service.checks.lock();
        if state.checks.is_empty() {
            state.keeper = false;
            return;
        }
        if let Err(e) = service.checks.write_lease(&service, &state) {
            tracing::warn!(
                "renewing the check lease failed: {}",
                crate::error::chain(&e)
            );
        }
    }
}

fn lock(state: &Mutex<Running>) -> std::sync::MutexGuard<'_, Running> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}
