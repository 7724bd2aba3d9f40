//! Running a checkpoint's rules at the same time, at most [`parallelism`]
//! at once: a small scheduler (`Schedule`) hands out the earliest rule in
//! workflow order whose [`ExecLock`]s conflict with no running rule, so two
//! rules never run the same program in the same place at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use checkrail_sandbox::{Capability, Program};
use serde_json::Value;

use super::guards::baselines_of;
use super::progress::{Emitter, Progress, command_events};
use super::{CheckpointRun, Checkrail};
use crate::cache::key::CacheContext;
use crate::config::WorkspaceConfig;
use crate::grants::Granter;
use crate::report::{RuleReport, RuleStatus};
use crate::rules::LoadedRule;
use crate::runtime::{CheckInput, Limits};
use crate::workflow::RuleUse;
use crate::{Error, Result};

impl Checkrail {
    /// Runs prepared rules at the same time, at most [`parallelism`] at
    /// once, consulting the outcome cache. Rules that would run the same
    /// program in the same directory wait for each other (see
    /// [`exec_locks`]); among the rules free to start, the earliest in the
    /// workflow starts first. Reports keep the workflow's order.
    pub(super) fn run_rules(
        &self,
        run: &CheckpointRun<'_>,
        phase: &str,
        prepared: &[(&RuleUse, Arc<LoadedRule>, Limits)],
        listing: &crate::frozen::Listing,
    ) -> Result<Vec<RuleReport>> {
        let hooks = &run.hooks;
        let cancelled = || {
            hooks
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
        };
        let input = CheckInput {
            workspace: Some(run.workspace.root()),
            workflow: Some(&run.workflow.id),
            phase: Some(phase),
            evidence: run.evidence.map(Value::to_string),
            cancel: hooks.cancel.clone(),
            granter: Some(Granter::new(&run.config.exec)),
            ..CheckInput::default()
        };
        let cache = if run.use_cache {
            Some(CacheContext::new(run.workspace, run.config, listing))
        } else {
            None
        };
        let total = prepared.len();
        let emitter = Arc::new(Emitter::new(hooks.progress.clone()));
        let run_one = |index: usize| {
            let (rule_use, rule, limits) = &prepared[index];
            emitter.emit(true, |step| Progress::RuleStarted {
                index,
                total,
                rule: rule.label(),
                name: rule_use.name.clone(),
                step,
            });
            let mut input = input.clone();
            input.baselines = baselines_of(run.workflow, run.baselines, &rule.component.info.id);
            input.on_exec = hooks
                .progress
                .is_some()
                .then(|| command_events(emitter.clone(), index, total));
            let at_anchor = self.at_anchor(run, rule_use, rule);
            let known = at_anchor
                .as_ref()
                .and_then(|at| self.anchor_baseline(run, at));
            input.baselines.extend(known.clone().flatten());
            let judge = |input: &CheckInput<'_>| {
                let run_it = || {
                    self.execute(
                        rule,
                        &rule_use.config,
                        input,
                        limits,
                        rule_use.severity,
                        rule_use.name.clone(),
                    )
                };
                match &cache {
                    Some(cache) => {
                        cache.run(&self.runtime, (rule_use, rule, limits), input, run_it)
                    }
                    None => run_it(),
                }
            };
            let mut report = judge(&input);
            // A failure, and nothing learnt at the anchor yet: learn what
            // already failed there, and judge again knowing it.
            if let (Some(at), None) = (&at_anchor, known)
                && report.status == RuleStatus::Failed
                && let Some(entry) = self.learn_anchor(run, (rule_use, rule, limits), &input, at)
            {
                input.baselines.push(entry);
                report = judge(&input);
            }
            emitter.emit(true, |step| Progress::RuleFinished {
                index,
                total,
                rule: rule.label(),
                name: rule_use.name.clone(),
                status: report.status,
                step,
            });
            report
        };
        let workers = parallelism(run.config).min(total);
        let mut reports: Vec<Option<RuleReport>> = Vec::with_capacity(total);
        if workers <= 1 {
            for index in 0..total {
                if cancelled() {
                    return Err(Error::Cancelled);
                }
                reports.push(Some(run_one(index)));
            }
        } else {
            let locks: Vec<Vec<ExecLock>> = prepared
                .iter()
                .map(|(rule_use, rule, _)| exec_locks(rule_use, rule))
                .collect();
            let schedule = Schedule::new(locks);
            let slots: Vec<std::sync::Mutex<Option<RuleReport>>> =
                (0..total).map(|_| std::sync::Mutex::new(None)).collect();
            std::thread::scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|| {
                        while let Some(index) = schedule.take(&cancelled) {
                            // Released however the rule ends, a panic
                            // included, so no other worker waits forever.
                            let _held = Held(&schedule, index);
                            let report = run_one(index);
                            *slots[index].lock().unwrap_or_else(|e| e.into_inner()) = Some(report);
                        }
                    });
                }
            });
            reports.extend(
                slots
                    .into_iter()
                    .map(|slot| slot.into_inner().unwrap_or_else(|e| e.into_inner())),
            );
        }
        if cancelled() {
            return Err(Error::Cancelled);
        }
        // Every slot is filled unless the run was cancelled (checked
        // above); a missing report is an error, never a silent pass.
        reports
            .into_iter()
            .enumerate()
            .map(|(i, report)| {
                report.ok_or_else(|| {
                    Error::Internal(format!("rule {} of the checkpoint gave no report", i + 1))
                })
            })
            .collect()
    }
}

/// How many rules of one checkpoint may run at once: `[checks] parallel`
/// of the config in force, else the number of cores.
pub fn parallelism(config: &WorkspaceConfig) -> usize {
    match config.checks.parallel {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, usize::from),
    }
}

/// What a rule holds while it runs so that no other rule runs the same
/// program in the same place: one lock per program it declares
/// (`exec:<program>`; `exec:*` is the program of its config's
/// `command.program`, or any program when that is absent), in the
/// directory its config's `cwd` names (default the workspace root), with
/// the `--target-dir` its config's `args` name, if any (two cargo runs with
/// different target dirs do not share a build lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecLock {
    /// The program, or [`Program::Any`] for any.
    pub program: Program,
    /// Normalized workspace-relative directory.
    pub cwd: String,
    /// `--target-dir` given in the rule's `args`.
    pub target_dir: Option<String>,
}

impl ExecLock {
    /// Whether two rules holding these may not run at the same time.
    pub fn conflicts(&self, other: &ExecLock) -> bool {
        let same_program = match (&self.program, &other.program) {
            (Program::Named(a), Program::Named(b)) => a == b,
            _ => true,
        };
        self.cwd == other.cwd && self.target_dir == other.target_dir && same_program
    }
}

/// The locks a rule use needs; empty for rules that run no program.
pub fn exec_locks(rule_use: &RuleUse, rule: &LoadedRule) -> Vec<ExecLock> {
    let config = &rule_use.config;
    let cwd = normalize_cwd(config.get("cwd").and_then(Value::as_str).unwrap_or("."));
    let args: Vec<&str> = config
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let target_dir = target_dir_of(&args);
    let configured = config
        .pointer("/command/program")
        .and_then(Value::as_str)
        .map(|name| Program::Named(name.to_owned()));
    rule.component
        .info
        .capabilities
        .iter()
        .filter_map(Capability::program)
        .map(|program| ExecLock {
            program: match (program, &configured) {
                (Program::Any, Some(configured)) => configured.clone(),
                _ => program.clone(),
            },
            cwd: cwd.clone(),
            target_dir: target_dir.clone(),
        })
        .collect()
}

fn normalize_cwd(cwd: &str) -> String {
    let parts: Vec<&str> = cwd
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// The value of `--target-dir` among a command's own arguments (before `--`).
fn target_dir_of(args: &[&str]) -> Option<String> {
    let mut args = args.iter().take_while(|a| **a != "--");
    while let Some(arg) = args.next() {
        if let Some(dir) = arg.strip_prefix("--target-dir=") {
            return Some(normalize_cwd(dir));
        }
        if *arg == "--target-dir" {
            return args.next().map(|d| normalize_cwd(d));
        }
    }
    None
}

/// Marks a rule finished in its [`Schedule`] when dropped.
struct Held<'a>(&'a Schedule, usize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.finish(self.1);
    }
}

/// Which rules of a checkpoint run has started and which locks are held.
struct Schedule {
    locks: Vec<Vec<ExecLock>>,
    state: std::sync::Mutex<(Vec<bool>, Vec<usize>)>,
    changed: std::sync::Condvar,
}

impl Schedule {
    fn new(locks: Vec<Vec<ExecLock>>) -> Self {
        let total = locks.len();
        Self {
            locks,
            state: std::sync::Mutex::new((vec![false; total], Vec::new())),
            changed: std::sync::Condvar::new(),
        }
    }

    /// The next rule to run: the first not started whose locks no running
    /// rule holds. Waits while every remaining rule conflicts; `None` when
    /// all have started or the run is cancelled.
    fn take(&self, cancelled: &dyn Fn() -> bool) -> Option<usize> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if cancelled() {
                return None;
            }
            let (started, running) = &mut *state;
            if started.iter().all(|s| *s) {
                return None;
            }
            let free = (0..started.len()).find(|&i| {
                !started[i]
                    && !running.iter().any(|&r| {
                        self.locks[i]
                            .iter()
                            .any(|a| self.locks[r].iter().any(|b| a.conflicts(b)))
                    })
            });
            if let Some(index) = free {
                started[index] = true;
                running.push(index);
                return Some(index);
            }
            // Woken when a rule finishes; the timeout notices cancellation.
            state = self
                .changed
                .wait_timeout(state, Duration::from_millis(20))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn finish(&self, index: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1.retain(|&r| r != index);
        self.changed.notify_all();
    }
}
