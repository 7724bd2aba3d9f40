//! The engine API: everything the CLI and the MCP server do goes through
//! [`Checkrail`], which owns the runtime, the rules and the workflows. This
//! file holds the engine itself and its requests ([`RuleRun`],
//! [`CheckpointRun`]); what one checkpoint run does is in the modules below.

pub mod checkpoint;
pub mod guards;
mod known;
pub mod progress;
pub mod schedule;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::config::WorkspaceConfig;
use crate::frozen::Snapshot;
use crate::grants::Granter;
use crate::report::{RuleReport, RuleStatus};
use crate::rules::{LoadedRule, Registry};
use crate::runtime::{
    Allocation, CheckInput, ComponentCache, Limits, MAX_MEMORY, MAX_TIMEOUT, RunResult, Runtime,
};
use crate::workflow::read::{DEFAULT_MAX_BYTES, ReadLimits};
use crate::workflow::{Catalog, RuleUse, Severity, Workflow};
use crate::workspace::Workspace;
use crate::{Error, Result};
use checkpoint::task_rules;
use progress::Progress;

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
    /// The process answers one request and exits (a hook): rule instances
    /// are allocated on demand rather than from a pool reserved (and later
    /// released) up front.
    pub short_lived: bool,
    /// Compile the bundled rules (through the compile cache) instead of
    /// loading the code precompiled when checkrail was built: the path a
    /// binary takes when its artifacts do not fit its engine, for tests.
    pub compile_bundled: bool,
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
    /// The agents' hook and MCP files that are no longer as `checkrail
    /// init` set them up; `None` when it recorded none.
    pub setup: Option<&'a [crate::setup::SetupChange]>,
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
    /// Workflows, read on first use: a session's check runs its pinned
    /// copy and never needs them (a hook call saves ~12 ms).
    catalog: OnceLock<Catalog>,
    /// Where the catalog is read from.
    workflow_dirs: Vec<PathBuf>,
    workspace: Option<PathBuf>,
    limits: ReadLimits,
}

impl Checkrail {
    /// Starts the runtime and discovers rules and workflows.
    pub fn new(options: Options) -> Result<Self> {
        let cache_dir = if options.no_cache {
            None
        } else {
            options.cache_dir.or_else(ComponentCache::default_dir)
        };
        let allocation = if options.short_lived {
            Allocation::OnDemand
        } else {
            Allocation::Pooled
        };
        let runtime = Runtime::with_allocation(ComponentCache::new(cache_dir), allocation)
            .map_err(|e| Error::Runtime(e.into_boxed_dyn_error()))?
            .compile_bundled(options.compile_bundled);
        Ok(Self {
            runtime,
            rules: Registry::discover(&options.rule_dirs, options.workspace.as_deref())?,
            catalog: OnceLock::new(),
            workflow_dirs: options.workflow_dirs,
            workspace: options.workspace,
            limits: ReadLimits {
                max_bytes: options.max_workflow_bytes.unwrap_or(DEFAULT_MAX_BYTES),
            },
        })
    }

    /// Known workflows (read on the first call).
    pub fn catalog(&self) -> &Catalog {
        self.catalog.get_or_init(|| {
            Catalog::load_remembering(
                &self.workflow_dirs,
                self.workspace.as_deref(),
                self.limits,
                self.runtime.cache().dir(),
            )
        })
    }

    /// The wasm runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Names of all installed rules.
    pub fn rule_names(&self) -> Vec<String> {
        self.rules.names()
    }

    /// The judging-file globs of every installed rule that loads, with
    /// `checkrail.toml`, the site files of every Python that
    /// `checkrail.toml` in `root` grants (read as it is: this is what a
    /// human is about to allow), Go's `TestMain` files and the modules the
    /// conftests load: what `checkrail allow` anchors.
    pub fn all_judging_globs(&self, root: &std::path::Path) -> Vec<String> {
        let mut globs = vec![crate::config::FILE.to_owned()];
        let exec = crate::config::WorkspaceConfig::load(root)
            .map(|c| c.exec)
            .unwrap_or_default();
        let granter = crate::grants::Granter::new(&exec);
        let any = [checkrail_sandbox::Capability::Exec(
            checkrail_sandbox::Program::Any,
        )];
        globs.extend(crate::cache::toolchains::interpreter_globs(
            root,
            granter,
            &granter.toolchain_programs(&any),
        ));

        self.load_side_by_side(self.rules.names().iter().map(String::as_str));
        for name in self.rules.names() {
            if let Ok(rule) = self.rule(&name) {
                globs.extend(rule.component.info.judging_files.iter().cloned());
            }
        }
        globs.extend(crate::frozen::go_test_main_files(root));
        let plugins = crate::frozen::pytest_plugin_files(root, &globs);
        globs.extend(plugins);
        globs.sort();
        globs.dedup();
        globs
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

    /// Loads the distinct rules `references` name on threads of their own
    /// (reading a compiled component, linking it and asking `describe`
    /// take a few milliseconds each, which a hook pays on every call).
    /// What fails to load is reported when the rule is prepared.
    fn load_side_by_side<'r>(&self, references: impl Iterator<Item = &'r str>) {
        let mut distinct: Vec<&str> = references.collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 2 {
            return;
        }
        std::thread::scope(|scope| {
            for reference in distinct {
                scope.spawn(move || {
                    let _ = self.rule(reference);
                });
            }
        });
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
            granter: Some(Granter::new(&config.exec)),
            ..CheckInput::default()
        };
        Ok(self.execute(&rule, run.config, &input, &limits, Severity::Block, None))
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

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
