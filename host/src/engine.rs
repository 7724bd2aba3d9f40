//! The engine API: everything the CLI and the MCP server do goes through
//! [`Checkrail`], which owns the runtime, the rules and the workflows.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checkrail_sdk::Finding;
use serde_json::{Map, Value};

use crate::cache::key::CacheContext;
use crate::config::WorkspaceConfig;
use crate::frozen::{self, Snapshot};
use crate::report::{CheckpointReport, RuleReport, RuleStatus};
use crate::rules::{LoadedRule, Registry};
use crate::runtime::{
    CheckInput, ComponentCache, ExecEvent, Limits, MAX_MEMORY, MAX_TIMEOUT, RunResult, Runtime,
};
use crate::schema::{Schema, Violation};
use crate::workflow::read::{DEFAULT_MAX_BYTES, ReadLimits};
use crate::workflow::{Catalog, DoneWhen, Frozen, Phase, RuleUse, Severity, Workflow};
use crate::workspace::Workspace;
use crate::{Error, Result};

/// How to set up an engine.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra directories of rule components (`*.wasm`).
    pub rule_dirs: Vec<PathBuf>,
    /// Extra directories of workflow files.
    pub workflow_dirs: Vec<PathBuf>,
    /// Compile cache directory; `None` uses [`ComponentCache::default_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Do not use a compile cache at all.
    pub no_cache: bool,
    /// The project whose installed packs and `checkrail.lock` resolve
    /// `pack/rule` references.
    pub workspace: Option<PathBuf>,
    /// Largest workflow file read from a workflow directory; default 1 MiB.
    pub max_workflow_bytes: Option<u64>,
}

/// A request to run one rule outside any workflow.
#[derive(Debug, Clone)]
pub struct RuleRun<'a> {
    /// Rule reference.
    pub rule: &'a str,
    /// Its config.
    pub config: &'a Value,
    /// Workspace directory.
    pub workspace: &'a Path,
    /// Deadline; the rule's default when absent.
    pub timeout: Option<Duration>,
    /// Memory cap in bytes; the default when absent.
    pub memory: Option<usize>,
}

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
struct Emitter {
    progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
    /// Rule events delivered, program events since the last of them.
    counts: std::sync::Mutex<(usize, i32)>,
}

impl Emitter {
    fn new(progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>) -> Self {
        Self {
            progress,
            counts: std::sync::Mutex::new((0, 0)),
        }
    }

    /// Delivers the event `make` builds from its step. The lock is held
    /// while the observer runs, so steps reach it in increasing order.
    fn emit(&self, whole: bool, make: impl FnOnce(f64) -> Progress) {
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

/// A request to run one phase's checkpoint.
pub struct CheckpointRun<'a> {
    /// The workflow (a session's pinned copy, or as loaded).
    pub workflow: &'a Workflow,
    /// Id of the phase whose checkpoint runs.
    pub phase: &'a str,
    /// The workspace the rules check.
    pub workspace: &'a Workspace,
    /// Evidence submitted for the checkpoint.
    pub evidence: Option<&'a Value>,
    /// Grants and policy in force: the session's pinned copy, or the
    /// workspace's current `checkrail.toml` outside sessions.
    pub config: &'a WorkspaceConfig,
    /// Progress and cancellation.
    pub hooks: Hooks,
    /// Reuse (and store) cached outcomes.
    pub use_cache: bool,
    /// Facts rules recorded at earlier phases of the session: phase id →
    /// rule id → facts. Empty outside sessions.
    pub baselines: &'a Map<String, Value>,
    /// Checks the host makes besides the rules.
    pub guards: Guards<'a>,
}

/// Checks of a checkpoint that the host makes itself, on files that must
/// not change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Guards<'a> {
    /// Judging files as they were when the session started, the globs that
    /// found them, and the session id (for the hint).
    pub judging: Option<(&'a Snapshot, &'a [String], &'a str)>,
    /// The files of the checkpoint's `frozen` paths as they were when its
    /// `since` phase passed; `None` outside a session.
    pub frozen: Option<&'a Snapshot>,
    /// Warn about cargo `runner`/`rustc-wrapper` overrides (outside
    /// sessions, where judging files are not frozen).
    pub cargo_overrides: bool,
}

/// Optional observers of a checkpoint run.
#[derive(Default, Clone)]
pub struct Hooks {
    /// Called as rules and the programs they run start and finish.
    pub progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
    /// Set it to stop: the running rule is interrupted, the rest are skipped.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// The checkrail engine.
pub struct Checkrail {
    runtime: Runtime,
    rules: Registry,
    catalog: Catalog,
}

impl Checkrail {
    /// Starts the runtime and discovers rules and workflows.
    pub fn new(options: Options) -> Result<Self> {
        let cache_dir = if options.no_cache {
            None
        } else {
            options.cache_dir.or_else(ComponentCache::default_dir)
        };
        let runtime = Runtime::new(ComponentCache::new(cache_dir))
            .map_err(|e| Error::Runtime(e.into_boxed_dyn_error()))?;
        Ok(Self {
            runtime,
            rules: Registry::discover(&options.rule_dirs, options.workspace.as_deref())?,
            catalog: Catalog::load(
                &options.workflow_dirs,
                options.workspace.as_deref(),
                ReadLimits {
                    max_bytes: options.max_workflow_bytes.unwrap_or(DEFAULT_MAX_BYTES),
                },
            ),
        })
    }

    /// Known workflows.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The wasm runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Names of all installed rules.
    pub fn rule_names(&self) -> Vec<String> {
        self.rules.names()
    }

    /// Rule components skipped at start, each saying why.
    pub fn rule_warnings(&self) -> &[String] {
        self.rules.warnings()
    }

    /// Loads a rule by reference (`file-exists`, `file-exists@^0.1`).
    pub fn rule(&self, reference: &str) -> Result<Arc<LoadedRule>> {
        self.rules.resolve(&self.runtime, reference)
    }

    /// Everything wrong with a workflow beyond its schema: unknown rules,
    /// unsatisfied version requirements, configs that break a rule's schema,
    /// limits out of range. Each problem starts with the JSON pointer.
    pub fn lint(&self, workflow: &Workflow) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, phase) in workflow.phases.iter().enumerate() {
            let declared = phase
                .checkpoint
                .iter()
                .flat_map(|c| c.rules.iter().enumerate())
                .map(|(j, rule_use)| {
                    (
                        format!("{}/checkpoint/rules/{j}", workflow.pointer(i)),
                        rule_use.clone(),
                    )
                });
            let tasks = task_rules(phase)
                .into_iter()
                .map(|(at, rule_use)| (format!("{}/{at}", workflow.pointer(i)), rule_use));
            for (at, rule_use) in declared.chain(tasks) {
                if let Err(e) = self.prepare(&rule_use, &at) {
                    problems.push(match e {
                        Error::InvalidRuleConfig { problems, rule } => problems
                            .iter()
                            .map(|p| format!("{p} (config of {rule})"))
                            .collect::<Vec<_>>()
                            .join("\n  "),
                        other => format!("{at}/rule: {}", crate::error::chain(&other)),
                    });
                }
            }
        }
        problems
    }

    /// Resolves a rule use, checks its config and limits.
    fn prepare(&self, rule_use: &RuleUse, at: &str) -> Result<(Arc<LoadedRule>, Limits)> {
        let rule = self.rule(&rule_use.rule)?;
        let mut problems: Vec<String> = rule
            .config_violations(&rule_use.config, &format!("{at}/config"))
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut limits = Limits::for_rule(&rule.component.info);
        if let Some(ms) = rule_use.timeout_ms {
            limits.timeout = Duration::from_millis(ms);
            if limits.timeout > MAX_TIMEOUT {
                problems.push(format!(
                    "{at}/timeout_ms: at most {} ms",
                    MAX_TIMEOUT.as_millis()
                ));
            }
        }
        if let Some(mb) = rule_use.memory_mb {
            limits.memory = (mb as usize) << 20;
            if limits.memory > MAX_MEMORY {
                problems.push(format!("{at}/memory_mb: at most {} MiB", MAX_MEMORY >> 20));
            }
        }
        if problems.is_empty() {
            Ok((rule, limits))
        } else {
            Err(Error::InvalidRuleConfig {
                rule: rule.label(),
                problems,
            })
        }
    }

    /// Runs one rule with a config against a workspace.
    pub fn run_rule(&self, run: &RuleRun<'_>) -> Result<RuleReport> {
        let workspace = crate::workspace::canonical_dir(run.workspace)?;
        let config = WorkspaceConfig::load(&workspace)?;
        let rule = self.rule(run.rule)?;
        let mut limits = Limits::for_rule(&rule.component.info);
        limits.timeout = run.timeout.unwrap_or(limits.timeout);
        limits.memory = run.memory.unwrap_or(limits.memory);
        limits.validate().map_err(Error::BadRequest)?;
        let problems: Vec<String> = rule
            .config_violations(run.config, "")
            .iter()
            .map(ToString::to_string)
            .collect();
        if !problems.is_empty() {
            return Err(Error::InvalidRuleConfig {
                rule: rule.label(),
                problems,
            });
        }
        let input = CheckInput {
            workspace: Some(&workspace),
            grants: Some(&config.exec),
            ..CheckInput::default()
        };
        Ok(self.execute(&rule, run.config, &input, &limits, Severity::Block, None))
    }

    /// Runs a phase's checkpoint: evidence against its schema, then every
    /// rule. Rule configs are all checked before any rule runs.
    pub fn run_checkpoint(&self, run: &CheckpointRun<'_>) -> Result<CheckpointReport> {
        let started = Instant::now();
        let workflow = run.workflow;
        let (index, phase) = workflow
            .phases
            .iter()
            .enumerate()
            .find(|(_, p)| p.id == run.phase)
            .ok_or_else(|| Error::UnknownPhase {
                workflow: workflow.id.clone(),
                phase: run.phase.to_owned(),
                known: workflow.phase_ids(),
            })?;
        let mut checkpoint = phase.checkpoint.clone().unwrap_or_default();
        let declared = checkpoint.rules.len();
        let mut pointers: Vec<String> = (0..checkpoint.rules.len())
            .map(|j| format!("{}/checkpoint/rules/{j}", workflow.pointer(index)))
            .collect();
        if checkpoint.require_tasks {
            // Every task that says how it is known to be done is checked
            // with the checkpoint, after its own rules.
            for (at, rule_use) in task_rules(phase) {
                pointers.push(format!("{}/{at}", workflow.pointer(index)));
                checkpoint.rules.push(rule_use);
            }
        }
        let prepared = checkpoint
            .rules
            .iter()
            .zip(&pointers)
            .map(|(rule_use, at)| {
                self.prepare(rule_use, at)
                    .map(|(rule, limits)| (rule_use, rule, limits))
            })
            .collect::<Result<Vec<_>>>()?;
        let evidence_violations = evidence_violations(
            workflow,
            index,
            checkpoint.evidence_schema.as_ref(),
            run.evidence,
        )?;
        let mut rules = self.run_rules(run, &phase.id, &prepared)?;
        // Facts are the checkpoint's own rules': a task's use of the same
        // rule (say, one test) must not become the phase's baseline.
        for report in rules.iter_mut().skip(declared) {
            report.facts = None;
        }
        rules.extend(self.guard_reports(run, checkpoint.frozen.as_ref(), &prepared));
        if checkpoint.require_tasks {
            rules.extend(evidence_tasks_report(phase, run.evidence));
        }
        let passed = evidence_violations.is_empty() && !rules.iter().any(RuleReport::blocks);
        let mut report = CheckpointReport {
            workflow: workflow.id.clone(),
            workflow_version: workflow.version.to_string(),
            phase: phase.id.clone(),
            passed,
            summary: summary(passed, &rules, &evidence_violations),
            evidence_violations,
            rules,
            approval_required: checkpoint.approval.map(|a| a.prompt),
            duration_ms: 0.0,
        };
        report.bound(crate::report::REPORT_MAX);
        report.duration_ms = millis(started.elapsed());
        Ok(report)
    }

    /// The host's own checks, as rule reports: judging files and frozen
    /// paths unchanged, cargo overrides outside sessions.
    fn guard_reports(
        &self,
        run: &CheckpointRun<'_>,
        frozen: Option<&Frozen>,
        prepared: &[(&RuleUse, Arc<LoadedRule>, Limits)],
    ) -> Vec<RuleReport> {
        let root = run.workspace.root();
        let mut reports = Vec::new();
        if let Some((before, globs, session)) = run.guards.judging {
            let now = frozen::snapshot(root, globs);
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
                    let now = frozen::snapshot(root, &frozen.paths);
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
        let runs_cargo = prepared.iter().any(|(_, rule, _)| {
            rule.component
                .info
                .capabilities
                .iter()
                .any(|c| c == "exec:cargo")
        });
        if run.guards.cargo_overrides && runs_cargo {
            let findings = frozen::cargo_overrides(root);
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

    /// Runs prepared rules at the same time, at most [`parallelism`] at
    /// once, consulting the outcome cache. Rules that would run the same
    /// program in the same directory wait for each other (see
    /// [`exec_locks`]); among the rules free to start, the earliest in the
    /// workflow starts first. Reports keep the workflow's order.
    fn run_rules(
        &self,
        run: &CheckpointRun<'_>,
        phase: &str,
        prepared: &[(&RuleUse, Arc<LoadedRule>, Limits)],
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
            grants: Some(&run.config.exec),
            ..CheckInput::default()
        };
        let cache = if run.use_cache {
            Some(CacheContext::new(run.workspace, run.config))
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
            let run_it = || {
                self.execute(
                    rule,
                    &rule_use.config,
                    &input,
                    limits,
                    rule_use.severity,
                    rule_use.name.clone(),
                )
            };
            let report = match &cache {
                Some(cache) => cache.run(&self.runtime, (rule_use, rule, limits), &input, run_it),
                None => run_it(),
            };
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

    fn execute(
        &self,
        rule: &LoadedRule,
        config: &Value,
        input: &CheckInput<'_>,
        limits: &Limits,
        severity: Severity,
        name: Option<String>,
    ) -> RuleReport {
        let started = Instant::now();
        let result = self
            .runtime
            .check(&rule.component, &config.to_string(), input, limits);
        let duration_ms = millis(started.elapsed());
        let info = &rule.component.info;
        let mut facts = None;
        let (status, summary, findings) = match result {
            RunResult::Completed(outcome) => {
                facts = outcome.facts_value();
                (
                    if outcome.passed {
                        RuleStatus::Passed
                    } else {
                        RuleStatus::Failed
                    },
                    outcome.summary,
                    outcome.findings,
                )
            }
            RunResult::RuleError(message) => (
                RuleStatus::Error,
                format!("rule {} could not check: {message}", rule.label()),
                Vec::new(),
            ),
            RunResult::Stopped(stop) => {
                tracing::warn!(rule = %rule.label(), "sandbox stopped the rule: {stop}");
                (
                    RuleStatus::Error,
                    format!("rule {} {stop}", rule.label()),
                    Vec::new(),
                )
            }
        };
        RuleReport {
            rule: info.id.clone(),
            version: info.version.to_string(),
            digest: rule.component.digest.clone(),
            name,
            severity,
            status,
            summary,
            findings,
            duration_ms,
            cached: false,
            facts,
        }
    }
}

/// The facts rule `rule` recorded at the phases before this one, oldest
/// first, as (phase, JSON text).
fn baselines_of(
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

/// The rules that tell a phase's tasks are done (`done_when: {rule,
/// config}`), each with the pointer of its `done_when` relative to the
/// phase.
pub fn task_rules(phase: &Phase) -> Vec<(String, RuleUse)> {
    phase
        .tasks
        .iter()
        .enumerate()
        .filter_map(|(t, task)| match task.done_when()? {
            DoneWhen::Rule { rule, config } => Some((
                format!("tasks/{t}/done_when"),
                RuleUse {
                    rule: rule.clone(),
                    name: Some(format!(
                        "task `{}` is done: {}",
                        task.id().unwrap_or_default(),
                        task.title()
                    )),
                    severity: Severity::Block,
                    config: if config.is_null() {
                        Value::Object(Map::new())
                    } else {
                        config.clone()
                    },
                    timeout_ms: None,
                    memory_mb: None,
                    inputs: None,
                },
            )),
            DoneWhen::Evidence { .. } => None,
        })
        .collect()
}

/// The tasks whose `done_when` names an evidence field, checked against
/// the evidence submitted; `None` when the phase has none.
fn evidence_tasks_report(phase: &Phase, evidence: Option<&Value>) -> Option<RuleReport> {
    let mut checked = 0;
    let findings: Vec<Finding> = phase
        .tasks
        .iter()
        .filter_map(|task| match task.done_when()? {
            DoneWhen::Evidence { evidence: field } => {
                checked += 1;
                (!DoneWhen::set_in(field, evidence)).then(|| {
                    Finding::error(format!(
                        "task `{}` ({}) is not done: the evidence does not set `{field}`",
                        task.id().unwrap_or_default(),
                        task.title()
                    ))
                    .code("task-not-done")
                    .fix_hint(format!(
                        "finish the task, then submit evidence with `{field}` set"
                    ))
                })
            }
            DoneWhen::Rule { .. } => None,
        })
        .collect();
    if checked == 0 {
        return None;
    }
    let missing = findings.len();
    let mut report = host_report(
        "tasks",
        "tasks done, by the evidence",
        findings,
        Severity::Block,
    );
    report.summary = if missing == 0 {
        format!("all {checked} task(s) done")
    } else {
        format!("{missing} of {checked} task(s) not done")
    };
    Some(report)
}

/// The report of a checkpoint whose files frozen since it (by a later
/// checkpoint) changed while its rules ran.
pub fn changed_during_check(
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
) -> RuleReport {
    let (then, now) = (
        before.cloned().unwrap_or_default(),
        after.cloned().unwrap_or_default(),
    );
    let mut changed: Vec<String> = Vec::new();
    for path in then.keys().chain(now.keys()) {
        if then.get(path) != now.get(path) && !changed.contains(path) {
            changed.push(path.clone());
        }
    }
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
        "the files frozen since this phase did not change while its rules ran",
        findings,
        Severity::Block,
    );
    report.summary = format!("{} file(s) changed during the check", changed.len());
    report
}

/// A report of one of the host's own checks.
fn host_report(id: &str, name: &str, findings: Vec<Finding>, severity: Severity) -> RuleReport {
    let errors = findings
        .iter()
        .filter(|f| f.severity == checkrail_sdk::Severity::Error)
        .count();
    RuleReport {
        rule: format!("checkrail/{id}"),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        digest: String::new(),
        name: Some(name.to_owned()),
        severity,
        status: if errors == 0 {
            RuleStatus::Passed
        } else {
            RuleStatus::Failed
        },
        summary: if errors == 0 {
            "unchanged".to_owned()
        } else {
            format!("{errors} file(s) changed")
        },
        findings,
        duration_ms: 0.0,
        cached: false,
        facts: None,
    }
}

/// Turns a rule's program events into [`Progress`] for rule `index`.
fn command_events(
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
    /// Program name, or `*` for any.
    pub program: String,
    /// Normalized workspace-relative directory.
    pub cwd: String,
    /// `--target-dir` given in the rule's `args`.
    pub target_dir: Option<String>,
}

impl ExecLock {
    /// Whether two rules holding these may not run at the same time.
    pub fn conflicts(&self, other: &ExecLock) -> bool {
        self.cwd == other.cwd
            && self.target_dir == other.target_dir
            && (self.program == other.program || self.program == "*" || other.program == "*")
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
    rule.component
        .info
        .capabilities
        .iter()
        .filter_map(|c| c.strip_prefix("exec:"))
        .map(|program| {
            let program = if program == "*" {
                config
                    .pointer("/command/program")
                    .and_then(Value::as_str)
                    .unwrap_or("*")
            } else {
                program
            };
            ExecLock {
                program: program.to_owned(),
                cwd: cwd.clone(),
                target_dir: target_dir.clone(),
            }
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

/// ` (required: a, b)` from a schema's top-level `required`, or nothing.
fn required_fields(schema: &Value) -> String {
    match schema.get("required").and_then(Value::as_array) {
        Some(fields) if !fields.is_empty() => {
            let names: Vec<&str> = fields.iter().filter_map(Value::as_str).collect();
            format!(" (required: {})", names.join(", "))
        }
        _ => String::new(),
    }
}

/// Where the evidence breaks the phase's evidence schema.
fn evidence_violations(
    workflow: &Workflow,
    index: usize,
    schema: Option<&Value>,
    evidence: Option<&Value>,
) -> Result<Vec<Violation>> {
    let Some(schema_value) = schema else {
        return Ok(Vec::new());
    };
    let schema = Schema::compile(schema_value).map_err(|e| Error::InvalidWorkflow {
        source_name: workflow.source.clone(),
        problems: vec![format!(
            "{}/checkpoint/evidence_schema: {e}",
            workflow.pointer(index)
        )],
    })?;
    Ok(match evidence {
        Some(evidence) => schema.violations(evidence, ""),
        None => vec![Violation {
            pointer: String::new(),
            message: format!(
                "no evidence was given; this checkpoint needs evidence matching its evidence_schema{}",
                required_fields(schema_value)
            ),
        }],
    })
}

/// One line for the whole checkpoint.
fn summary(passed: bool, rules: &[RuleReport], evidence_violations: &[Violation]) -> String {
    if passed && rules.is_empty() {
        return "nothing to check in this phase".to_owned();
    }
    if passed {
        let ok = rules
            .iter()
            .filter(|r| r.status == RuleStatus::Passed)
            .count();
        return format!("{ok} of {} rules passed", rules.len());
    }
    let blocking = rules.iter().filter(|r| r.blocks()).count();
    let mut parts = Vec::new();
    if blocking > 0 {
        parts.push(format!("{blocking} of {} rules failed", rules.len()));
    }
    if !evidence_violations.is_empty() {
        parts.push(format!(
            "evidence breaks its schema in {} place(s)",
            evidence_violations.len()
        ));
    }
    parts.join("; ")
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
