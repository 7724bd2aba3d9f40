//! Progress of a checkpoint run: the events it reports ([`Progress`]) and
//! the one `Emitter` that delivers them from every rule thread, numbering
//! steps in delivery order so the value a client sees always increases.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::report::RuleStatus;
use crate::runtime::ExecEvent;

/// What a checkpoint run reports while it goes.
///
/// Rules of one checkpoint run at the same time, so events of different
/// rules interleave; every event carries its `step`, assigned in the order
/// the events are delivered, so the value strictly increases.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// A rule is about to run.
    RuleStarted {
        /// 0-based position in the checkpoint.
        index: usize,
        /// Rules in the checkpoint.
        total: usize,
        /// `id@version`.
        rule: String,
        /// What this use of the rule checks, from the workflow.
        name: Option<String>,
        /// Progress so far, out of [`Progress::steps`].
        step: f64,
    },
    /// A rule finished.
    RuleFinished {
        /// 0-based position in the checkpoint.
        index: usize,
        /// Rules in the checkpoint.
        total: usize,
        /// `id@version`.
        rule: String,
        /// What this use of the rule checks, from the workflow.
        name: Option<String>,
        /// How it ended.
        status: RuleStatus,
        /// Progress so far, out of [`Progress::steps`].
        step: f64,
    },
    /// A rule started a program.
    CommandStarted {
        /// 0-based position of the rule.
        index: usize,
        /// Rules in the checkpoint.
        total: usize,
        /// Program events of this rule so far (1-based).
        seq: u32,
        /// The command line.
        command: String,
        /// Progress so far, out of [`Progress::steps`].
        step: f64,
    },
    /// A program a rule started has finished.
    CommandFinished {
        /// 0-based position of the rule.
        index: usize,
        /// Rules in the checkpoint.
        total: usize,
        /// Program events of this rule so far (1-based).
        seq: u32,
        /// The command line.
        command: String,
        /// Its exit code (none when killed).
        exit_code: Option<i32>,
        /// How long it ran, in milliseconds.
        duration_ms: u64,
        /// Progress so far, out of [`Progress::steps`].
        step: f64,
    },
}

impl Progress {
    /// Steps done so far out of [`Progress::steps`]: each rule start and
    /// finish is one whole step; program events fall strictly between two
    /// of them. The value grows with every event delivered.
    pub fn step(&self) -> f64 {
        match self {
            Progress::RuleStarted { step, .. }
            | Progress::RuleFinished { step, .. }
            | Progress::CommandStarted { step, .. }
            | Progress::CommandFinished { step, .. } => *step,
        }
    }

    /// Total steps of the checkpoint.
    pub fn steps(&self) -> usize {
        match self {
            Progress::RuleStarted { total, .. }
            | Progress::RuleFinished { total, .. }
            | Progress::CommandStarted { total, .. }
            | Progress::CommandFinished { total, .. } => 2 * total,
        }
    }

    /// One line for humans.
    pub fn message(&self) -> String {
        let label = |rule: &str, name: &Option<String>| match name {
            Some(name) => format!("{rule} ({name})"),
            None => rule.to_owned(),
        };
        match self {
            Progress::RuleStarted {
                index,
                total,
                rule,
                name,
                ..
            } => {
                format!("rule {}/{total}: running {}", index + 1, label(rule, name))
            }
            Progress::RuleFinished {
                index,
                total,
                rule,
                name,
                status,
                ..
            } => {
                let status = match status {
                    RuleStatus::Passed => "passed",
                    RuleStatus::Failed => "failed",
                    RuleStatus::Error => "could not run",
                };
                format!("rule {}/{total}: {} {status}", index + 1, label(rule, name))
            }
            Progress::CommandStarted {
                index,
                total,
                command,
                ..
            } => {
                format!("rule {}/{total}: running `{command}`", index + 1)
            }
            Progress::CommandFinished {
                index,
                total,
                command,
                exit_code,
                duration_ms,
                ..
            } => {
                let how = exit_code
                    .map_or_else(|| "was stopped".to_owned(), |c| format!("exited with {c}"));
                format!(
                    "rule {}/{total}: `{command}` {how} after {duration_ms} ms",
                    index + 1
                )
            }
        }
    }
}

/// Delivers [`Progress`] of one checkpoint run from every rule thread, one
/// event at a time, numbering the steps in delivery order: rule events are
/// whole steps, program events fall between the last rule event and the
/// next (`k + 1 - 2^-c` for the `c`-th program event since rule event `k`).
pub(super) struct Emitter {
    progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
    /// Rule events delivered, program events since the last of them.
    counts: std::sync::Mutex<(usize, i32)>,
}

impl Emitter {
    pub(super) fn new(progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>) -> Self {
        Self {
            progress,
            counts: std::sync::Mutex::new((0, 0)),
        }
    }

    /// Delivers the event `make` builds from its step. The lock is held
    /// while the observer runs, so steps reach it in increasing order.
    pub(super) fn emit(&self, whole: bool, make: impl FnOnce(f64) -> Progress) {
        let Some(progress) = &self.progress else {
            return;
        };
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let step = if whole {
            counts.0 += 1;
            counts.1 = 0;
            counts.0 as f64
        } else {
            counts.1 += 1;
            counts.0 as f64 + 1.0 - 0.5f64.powi(counts.1.min(1000))
        };
        progress(make(step));
    }
}

/// Turns a rule's program events into [`Progress`] for rule `index`.
pub(super) fn command_events(
    emitter: Arc<Emitter>,
    index: usize,
    total: usize,
) -> Arc<dyn Fn(ExecEvent) + Send + Sync> {
    let seq = std::sync::atomic::AtomicU32::new(0);
    Arc::new(move |event| {
        let seq = seq.fetch_add(1, Ordering::Relaxed) + 1;
        emitter.emit(false, |step| match event {
            ExecEvent::Started(command) => Progress::CommandStarted {
                index,
                total,
                seq,
                command,
                step,
            },
            ExecEvent::Finished(command, exit_code, took) => Progress::CommandFinished {
                index,
                total,
                seq,
                command,
                exit_code,
                duration_ms: took.as_millis() as u64,
                step,
            },
        })
    })
}
