//! The engine API: everything the CLI and the MCP server do goes through
//! [`Checkrail`], which owns the runtime, the rules and the workflows.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::WorkspaceConfig;
use crate::outcomes::{self, OutcomeCache};
use crate::report::{CheckpointReport, RuleReport, RuleStatus};
use crate::rules::{LoadedRule, Registry};
use crate::runtime::{
    CheckInput, ComponentCache, ExecEvent, Limits, MAX_MEMORY, MAX_TIMEOUT, RunResult, Runtime,
};
use crate::schema::{Schema, Violation};
use crate::workflow::{Catalog, RuleUse, Severity, Workflow};
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
    },
}

impl Progress {
    /// Steps done so far out of [`Progress::steps`]: two per rule (start and
    /// finish), so the value grows with every event.
    ///
    /// Program events of a rule fall strictly between its start and finish.
    pub fn step(&self) -> f64 {
        match self {
            Progress::RuleStarted { index, .. } => (2 * index + 1) as f64,
            Progress::RuleFinished { index, .. } => (2 * index + 2) as f64,
            Progress::CommandStarted { index, seq, .. }
            | Progress::CommandFinished { index, seq, .. } => {
                (2 * index + 1) as f64 + 1.0 - 0.5f64.powi(*seq as i32)
            }
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
            } => {
                format!("rule {}/{total}: running {}", index + 1, label(rule, name))
            }
            Progress::RuleFinished {
                index,
                total,
                rule,
                name,
                status,
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
            .map_err(|e| Error::Other(format!("start the wasm runtime: {e}")))?;
        Ok(Self {
            runtime,
            rules: Registry::discover(&options.rule_dirs, options.workspace.as_deref())?,
            catalog: Catalog::load(&options.workflow_dirs),
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
            let Some(checkpoint) = &phase.checkpoint else {
                continue;
            };
            for (j, rule_use) in checkpoint.rules.iter().enumerate() {
                let at = format!("/phases/{i}/checkpoint/rules/{j}");
                if let Err(e) = self.prepare(rule_use, &at) {
                    problems.push(match e {
                        Error::InvalidRuleConfig { problems, rule } => problems
                            .iter()
                            .map(|p| format!("{p} (config of {rule})"))
                            .collect::<Vec<_>>()
                            .join("\n  "),
                        other => format!("{at}/rule: {other}"),
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
        let workspace = open_workspace(run.workspace)?;
        let config = WorkspaceConfig::load(&workspace)?;
        let rule = self.rule(run.rule)?;
        let mut limits = Limits::for_rule(&rule.component.info);
        limits.timeout = run.timeout.unwrap_or(limits.timeout);
        limits.memory = run.memory.unwrap_or(limits.memory);
        limits.validate().map_err(Error::Other)?;
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
    pub fn run_checkpoint(
        &self,
        workflow: &Workflow,
        phase_id: &str,
        workspace: &Path,
        evidence: Option<&Value>,
    ) -> Result<CheckpointReport> {
        self.run_checkpoint_with(workflow, phase_id, workspace, evidence, &Hooks::default())
    }

    /// [`Checkrail::run_checkpoint`] with progress reports and cancellation.
    pub fn run_checkpoint_with(
        &self,
        workflow: &Workflow,
        phase_id: &str,
        workspace: &Path,
        evidence: Option<&Value>,
        hooks: &Hooks,
    ) -> Result<CheckpointReport> {
        let started = Instant::now();
        let workspace = open_workspace(workspace)?;
        let config = WorkspaceConfig::load(&workspace)?;
        let phase = workflow
            .phase(phase_id)
            .ok_or_else(|| Error::UnknownPhase {
                workflow: workflow.id.clone(),
                phase: phase_id.to_owned(),
                known: workflow.phase_ids(),
            })?;
        let index = workflow
            .phases
            .iter()
            .position(|p| p.id == phase.id)
            .unwrap_or(0);
        let checkpoint = phase.checkpoint.clone().unwrap_or_default();

        let prepared = checkpoint
            .rules
            .iter()
            .enumerate()
            .map(|(j, rule_use)| {
                self.prepare(rule_use, &format!("/phases/{index}/checkpoint/rules/{j}"))
                    .map(|(rule, limits)| (rule_use, rule, limits))
            })
            .collect::<Result<Vec<_>>>()?;

        let evidence_violations = match &checkpoint.evidence_schema {
            Some(schema_value) => {
                let schema = Schema::compile(schema_value).map_err(|e| Error::InvalidWorkflow {
                    source_name: workflow.source.clone(),
                    problems: vec![format!("/phases/{index}/checkpoint/evidence_schema: {e}")],
                })?;
                match evidence {
                    Some(evidence) => schema.violations(evidence, ""),
                    None => vec![Violation {
                        pointer: String::new(),
                        message: format!(
                            "no evidence was given; this checkpoint needs evidence matching its evidence_schema{}",
                            required_fields(schema_value)
                        ),
                    }],
                }
            }
            None => Vec::new(),
        };

        let evidence_text = evidence.map(Value::to_string);
        let input = CheckInput {
            workspace: Some(&workspace),
            workflow: Some(&workflow.id),
            phase: Some(&phase.id),
            evidence: evidence_text,
            cancel: hooks.cancel.clone(),
            grants: Some(&config.exec),
            on_exec: None,
        };
        let total = prepared.len();
        let mut rules: Vec<RuleReport> = Vec::with_capacity(total);
        let mut outcomes: Option<Option<OutcomeCache>> = None;
        let grants_text = format!("{:?}", config.exec);
        for (index, (rule_use, rule, limits)) in prepared.iter().enumerate() {
            if hooks
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
            {
                return Err(Error::Cancelled);
            }
            if let Some(progress) = &hooks.progress {
                progress(Progress::RuleStarted {
                    index,
                    total,
                    rule: rule.label(),
                    name: rule_use.name.clone(),
                });
            }
            let mut input = input.clone();
            input.on_exec = hooks
                .progress
                .clone()
                .map(|progress| command_events(progress, index, total));
            let globs = match &rule_use.inputs {
                Some(globs) => globs.clone(),
                None => rule.inputs(&self.runtime, &rule_use.config),
            };
            let key = (!globs.is_empty())
                .then(|| {
                    outcomes::key(
                        &workspace,
                        &rule.component.digest,
                        &rule_use.config,
                        input.evidence.as_deref(),
                        &grants_text,
                        &globs,
                    )
                })
                .flatten();
            let cache = key.as_ref().and_then(|_| {
                outcomes
                    .get_or_insert_with(|| OutcomeCache::open(&workspace))
                    .as_ref()
            });
            let hit = match (cache, &key) {
                (Some(cache), Some(key)) => cache.get(key),
                _ => None,
            };
            let report = match hit {
                Some(mut report) => {
                    report.cached = true;
                    report.name = rule_use.name.clone();
                    report.severity = rule_use.severity;
                    report.duration_ms = 0.0;
                    report
                }
                None => {
                    let report = self.execute(
                        rule,
                        &rule_use.config,
                        &input,
                        limits,
                        rule_use.severity,
                        rule_use.name.clone(),
                    );
                    // Key the stored result by the inputs as the run left
                    // them: a tool may write its own inputs (cargo creates
                    // Cargo.lock), and the result describes that state.
                    if let Some(cache) = cache
                        && report.status != RuleStatus::Error
                        && let Some(after) = outcomes::key(
                            &workspace,
                            &rule.component.digest,
                            &rule_use.config,
                            input.evidence.as_deref(),
                            &grants_text,
                            &globs,
                        )
                    {
                        cache.put(&after, &report);
                    }
                    report
                }
            };
            if let Some(progress) = &hooks.progress {
                progress(Progress::RuleFinished {
                    index,
                    total,
                    rule: rule.label(),
                    name: rule_use.name.clone(),
                    status: report.status,
                });
            }
            rules.push(report);
        }
        if hooks
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(Error::Cancelled);
        }

        let blocking = rules.iter().filter(|r| r.blocks()).count();
        let passed = blocking == 0 && evidence_violations.is_empty();
        let summary = if passed && rules.is_empty() {
            "nothing to check in this phase".to_owned()
        } else if passed {
            format!(
                "{} of {} rules passed",
                rules
                    .iter()
                    .filter(|r| r.status == RuleStatus::Passed)
                    .count(),
                rules.len()
            )
        } else {
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
        };
        Ok(CheckpointReport {
            workflow: workflow.id.clone(),
            workflow_version: workflow.version.to_string(),
            phase: phase.id.clone(),
            passed,
            summary,
            evidence_violations,
            rules,
            approval_required: checkpoint.approval.map(|a| a.prompt),
            duration_ms: millis(started.elapsed()),
        })
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
        let (status, summary, findings) = match result {
            RunResult::Completed(outcome) => (
                if outcome.passed {
                    RuleStatus::Passed
                } else {
                    RuleStatus::Failed
                },
                outcome.summary,
                outcome.findings,
            ),
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
        }
    }
}

/// Turns a rule's program events into [`Progress`] for rule `index`.
fn command_events(
    progress: Arc<dyn Fn(Progress) + Send + Sync>,
    index: usize,
    total: usize,
) -> Arc<dyn Fn(ExecEvent) + Send + Sync> {
    let seq = std::sync::atomic::AtomicU32::new(0);
    Arc::new(move |event| {
        let seq = seq.fetch_add(1, Ordering::Relaxed) + 1;
        progress(match event {
            ExecEvent::Started(command) => Progress::CommandStarted {
                index,
                total,
                seq,
                command,
            },
            ExecEvent::Finished(command, exit_code, took) => Progress::CommandFinished {
                index,
                total,
                seq,
                command,
                exit_code,
                duration_ms: took.as_millis() as u64,
            },
        })
    })
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

fn open_workspace(path: &Path) -> Result<PathBuf> {
    let error = |reason: String| Error::Workspace {
        path: path.to_owned(),
        reason,
    };
    let canonical = path
        .canonicalize()
        .map_err(|e| error(format!("cannot be opened: {e}")))?;
    if !canonical.is_dir() {
        return Err(error("is not a directory".to_owned()));
    }
    Ok(canonical)
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
