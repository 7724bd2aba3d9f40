//! The sandbox: a wasmtime engine that loads the bundled rules as code
//! precompiled when checkrail was built and compiles other components once
//! (with an on-disk cache), keeps an `InstancePre` per rule, and runs every
//! check in a fresh store with a memory cap, an epoch deadline, the
//! workspace preopened read-only, and no environment, network or inherited
//! stdio.
//!
//! The engine, its linker and the epoch ticker are made when a rule first
//! needs them, not when the runtime is: a server answering `tools/list`, or
//! a check whose outcomes all come from the outcome cache, never makes them.

mod abi;
pub mod api_version;
pub mod cache;
pub mod caps;
mod component;
pub mod config;
mod host;
mod stop;
mod wasi;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use checkrail_sandbox::NativeWorkspace;
use checkrail_sandbox::exec::ExecPolicy;
use checkrail_sdk::Outcome;
use serde::Serialize;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::grants::Granter;
use abi::wit;
pub use cache::{CacheStatus, ComponentCache};
pub use component::{RuleComponent, RuleInfo};
pub use host::FILES_BUDGET;
use host::{ExecContext, Limiter, LogBudget, StoreState};
pub use stop::Stop;
use stop::{Cancelled, classify};

/// How often the epoch advances; deadlines are enforced at this granularity.
pub const TICK: Duration = Duration::from_millis(5);
/// Largest memory cap a rule may be given.
pub const MAX_MEMORY: usize = 1 << 30;
/// Longest deadline a rule may be given.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Bytes of a rule's stderr kept for error reports (panic messages).
const STDERR_CAPTURE: usize = 64 * 1024;
/// Limits of `describe`, which runs when a rule is loaded, before any
/// checkpoint could configure it: it only returns constants.
pub const DESCRIBE_LIMITS: Limits = Limits {
    timeout: Duration::from_secs(5),
    memory: 128 << 20,
};

/// Resource limits of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Wall-clock deadline.
    #[serde(rename = "timeout_ms", serialize_with = "as_millis")]
    pub timeout: Duration,
    /// Cap on each linear memory, in bytes.
    #[serde(rename = "memory_bytes")]
    pub memory: usize,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Limits {
    /// Defaults for a rule: rules that may run programs (builds, test
    /// suites) get 10 minutes instead of 10 seconds.
    pub fn for_rule(info: &RuleInfo) -> Self {
        let mut limits = Self::default();
        if info.capabilities.iter().any(|c| c.program().is_some()) {
            limits.timeout = Duration::from_secs(600);
        }
        limits
    }

    /// Refuses limits outside what the sandbox allows, naming the bound.
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(format!(
                "timeout must be between 1 ms and {} ms",
                MAX_TIMEOUT.as_millis()
            ));
        }
        if self.memory < (1 << 20) || self.memory > MAX_MEMORY {
            return Err(format!(
                "memory cap must be between 1 MiB and {} MiB",
                MAX_MEMORY >> 20
            ));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            memory: 128 << 20,
        }
    }
}

/// Where and why one check runs.
#[derive(Clone, Default)]
pub struct CheckInput<'a> {
    /// Workspace directory (preopened read-only).
    pub workspace: Option<&'a Path>,
    /// Workflow id.
    pub workflow: Option<&'a str>,
    /// Phase id.
    pub phase: Option<&'a str>,
    /// Evidence, as JSON text.
    pub evidence: Option<String>,
    /// Facts this rule recorded at earlier phases of the session, oldest
    /// first: (phase id, facts as JSON text). Rules built against API 0.1
    /// are not given them.
    pub baselines: Vec<(String, String)>,
    /// Set to stop the check early (the caller gave up on it).
    pub cancel: Option<Arc<AtomicBool>>,
    /// What the workspace lets rules run (nothing when absent).
    pub granter: Option<Granter<'a>>,
    /// Told when a granted program starts and finishes.
    pub on_exec: Option<Arc<dyn Fn(ExecEvent) + Send + Sync>>,
}

/// A program run for a rule.
#[derive(Debug, Clone)]
pub enum ExecEvent {
    /// About to run (the command line).
    Started(String),
    /// Finished: the command line, its exit code, and how long it took.
    Finished(String, Option<i32>, Duration),
}

/// How one check ended.
#[derive(Debug, Clone)]
pub enum RunResult {
    /// The rule ran and returned an outcome; its
    /// [`facts`](Outcome::facts), if any, are valid JSON text.
    Completed(Outcome),
    /// The rule ran and said it could not check (`err` from `check`).
    RuleError(String),
    /// The sandbox stopped the rule.
    Stopped(Stop),
}

/// Why a rule component cannot be loaded. Each message reads after the
/// component's origin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The component file could not be read.
    #[error("cannot be read")]
    Read(#[source] std::io::Error),
    /// The component breaks a rule of this host (API version stamp, caps on
    /// what `describe` may answer, judging globs); the message says which.
    #[error("{0}")]
    Refused(String),
    /// Cranelift refused it, or the compile cache could not be used.
    #[error("does not compile")]
    Compile(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Its imports or exports are not those of the rule world.
    #[error("does not fit the checkrail:rule@{api_version} world")]
    World {
        /// The API version it is stamped with.
        api_version: semver::Version,
        /// The linker's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No sandbox could be made to run `describe` in.
    #[error("cannot get a sandbox to describe it")]
    Sandbox(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// `describe` trapped or was stopped.
    #[error("failed in `describe`: {0}")]
    Describe(Stop),
    /// The version it describes is not semver.
    #[error("describes a version `{version}` that is not semver")]
    Version {
        /// The version as described.
        version: String,
        /// The parser's error.
        #[source]
        source: semver::Error,
    },
    /// The config schema it describes is not JSON.
    #[error("describes a config schema that is not JSON")]
    ConfigSchema(#[source] serde_json::Error),
    /// The config schema it describes is JSON but not a usable schema.
    #[error("publishes a config schema that does not compile: {0}")]
    BadConfigSchema(String),
    /// It describes itself under another name than the one it is installed as.
    #[error(
        "describes itself as rule `{id}`, but is installed as `{name}`; name the file `{}.wasm`",
        id.replace('-', "_")
    )]
    Misnamed {
        /// The id it describes.
        id: String,
        /// The name it is installed as.
        name: String,
    },
}

/// How rule instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// From a pool reserved up front (when the machine allows it): fast
    /// instantiation for a server that checks again and again.
    Pooled,
    /// Each instance on its own: no reservation to make and release, for a
    /// process that answers one request (a hook).
    OnDemand,
}

/// The wasm runtime shared by all checks of a process.
pub struct Runtime {
    core: OnceLock<Result<Core, String>>,
    allocation: Allocation,
    cache: ComponentCache,
    /// Whether bundled rules are compiled like any other component instead
    /// of loaded from the code precompiled when checkrail was built.
    compile_bundled: bool,
    ticker_stop: Arc<AtomicBool>,
}

/// What running rules needs, made on first use.
struct Core {
    engine: Engine,
    /// [`config::engine_id`] of `engine`.
    engine_id: String,
    linker: Linker<StoreState>,
}

impl Runtime {
    /// A runtime whose engine (pooling allocator when the machine allows
    /// it), linker with WASI p2 and the host imports, and epoch ticker are
    /// made when a rule first needs them.
    pub fn new(cache: ComponentCache) -> wasmtime::Result<Self> {
        Self::with_allocation(cache, Allocation::Pooled)
    }

    /// [`Runtime::new`] with the allocation strategy chosen. Both produce
    /// the same compiled code, so the compile cache serves either.
    pub fn with_allocation(
        cache: ComponentCache,
        allocation: Allocation,
    ) -> wasmtime::Result<Self> {
        Ok(Self {
            core: OnceLock::new(),
            allocation,
            cache,
            compile_bundled: false,
            ticker_stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Compiles the bundled rules (through the compile cache) rather than
    /// loading the code precompiled when checkrail was built: how a binary
    /// whose artifacts do not fit its engine runs, made reachable on
    /// purpose for tests.
    pub fn compile_bundled(mut self, compile: bool) -> Self {
        self.compile_bundled = compile;
        self
    }

    /// The engine and linker, made on first use; the error says why they
    /// cannot be.
    fn core(&self) -> Result<&Core, String> {
        self.core
            .get_or_init(|| {
                let started = Instant::now();
                let core = self.make_core().map_err(|e| format!("{e:#}"));
                tracing::debug!("wasm engine ready in {:?}", started.elapsed());
                core
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn make_core(&self) -> wasmtime::Result<Core> {
        let allocation = self.allocation;
        let pooled = match allocation {
            Allocation::Pooled => Engine::new(&engine_config(true))
                .inspect_err(|e| {
                    tracing::debug!(
                        "pooling allocator unavailable ({e}); using on-demand allocation"
                    );
                })
                .ok(),
            Allocation::OnDemand => None,
        };
        let engine = match pooled {
            Some(engine) => engine,
            None => Engine::new(&engine_config(false))?,
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        wasi::add_to_linker(&mut linker)?;
        abi::add_to_linker(&mut linker)?;
        raise_open_files_limit();

        let (weak, stop) = (engine.weak(), self.ticker_stop.clone());
        std::thread::Builder::new()
            .name("checkrail-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| wasmtime::format_err!("start epoch ticker: {e}"))?;
        Ok(Core {
            engine_id: config::engine_id(&engine),
            engine,
            linker,
        })
    }

    /// The compile cache in use.
    pub fn cache(&self) -> &ComponentCache {
        &self.cache
    }

    /// Runs `check` in a fresh store. Never fails: whatever the rule does,
    /// the answer is a [`RunResult`].
    pub fn check(
        &self,
        rule: &RuleComponent,
        config: &str,
        input: &CheckInput<'_>,
        limits: &Limits,
    ) -> RunResult {
        // Linked before the store exists: a first compile must not eat
        // into the rule's deadline.
        let pre = match self.linked(rule) {
            Ok(pre) => pre,
            Err(e) => return RunResult::RuleError(format!("could not be loaded: {e}")),
        };
        let mut store =
            match self.store(input.workspace, input.cancel.clone(), &rule.info.id, limits) {
                Ok(store) => store,
                Err(e) => {
                    return RunResult::RuleError(format!("could not prepare the sandbox: {e}"));
                }
            };
        if let Some(root) = input.workspace {
            let (id, capabilities) = (&rule.info.id, &rule.info.capabilities);
            let policy = match input.granter {
                Some(granter) => granter.policy(id, rule.pack.as_deref(), capabilities),
                None => ExecPolicy::for_rule(id, capabilities),
            };
            store.data_mut().exec = Some(ExecContext {
                root: root.to_owned(),
                policy,
                on_exec: input.on_exec.clone(),
                scratch: None,
            });
        }
        let context = wit::CheckContext {
            workspace: ".".to_owned(),
            workflow: input.workflow.map(str::to_owned),
            phase: input.phase.map(str::to_owned),
            evidence: input.evidence.clone(),
            baselines: input
                .baselines
                .iter()
                .map(|(phase, facts)| wit::Baseline {
                    phase: phase.clone(),
                    facts: facts.clone(),
                })
                .collect(),
        };
        let answer = pre.check(&mut store, config, &context);
        store.data_mut().remove_scratch();
        match answer {
            Ok(Ok(outcome)) => {
                match caps::check_facts_size(&outcome).and_then(|()| check_facts(&outcome)) {
                    Ok(()) => {
                        RunResult::Completed(caps::cap_outcome(outcome, store.data().log.dropped))
                    }
                    Err(message) => RunResult::RuleError(message),
                }
            }
            Ok(Err(mut message)) => {
                caps::truncate_in_place(&mut message, caps::TEXT_MAX);
                RunResult::RuleError(message)
            }
            Err(e) => RunResult::Stopped(classify(e, &store, limits)),
        }
    }

    /// The input globs a rule declares for a config (empty: do not cache),
    /// under the rule's own limits. An error says why the rule's answer
    /// cannot be used: it was stopped, or named more than the caps allow.
    pub fn inputs(
        &self,
        rule: &RuleComponent,
        config: &str,
        limits: &Limits,
    ) -> Result<Vec<String>, String> {
        let pre = self
            .linked(rule)
            .map_err(|e| format!("could not be loaded: {e}"))?;
        let mut store = self
            .store(None, None, &rule.info.id, limits)
            .map_err(|e| format!("could not prepare the sandbox: {e}"))?;
        let globs = pre
            .inputs(&mut store, config)
            .map_err(|e| format!("`inputs` {}", classify(e, &store, limits)))?;
        caps::check_inputs(&globs).map_err(|e| format!("`inputs` {e}"))?;
        Ok(globs)
    }

    fn store(
        &self,
        workspace: Option<&Path>,
        cancel: Option<Arc<AtomicBool>>,
        rule: &str,
        limits: &Limits,
    ) -> wasmtime::Result<Store<StoreState>> {
        let core = self.core().map_err(wasmtime::Error::msg)?;
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let panic_token = format!("checkrail-panic-{}:", uuid::Uuid::new_v4().simple());
        let mut builder = WasiCtxBuilder::new();
        // Must precede the preopen, which copies the flag when created.
        builder
            .allow_blocking_current_thread(true)
            .env(checkrail_sdk::PANIC_TOKEN_ENV, &panic_token)
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let workspace = match workspace {
            Some(dir) => {
                builder.preopened_dir(dir, ".", FsPerms::ReadOnly)?;
                Some(Arc::new(NativeWorkspace::open(dir)?))
            }
            None => None,
        };
        let mut table = ResourceTable::new();
        table.set_max_capacity(FILES_BUDGET);
        let state = StoreState {
            wasi: builder.build(),
            table,
            limiter: Limiter {
                max_memory: limits.memory,
                refused: false,
            },
            workspace,
            deadline: Instant::now() + limits.timeout,
            cancel: cancel.clone(),
            exec: None,
            rule: rule.to_owned(),
            stderr,
            log: LogBudget::default(),
            panic_token,
        };
        let mut store = Store::new(&core.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Wake every tick: stop on cancellation at once, and on the deadline
        // measured by the wall clock rather than by counted ticks.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            let state = ctx.data();
            if state
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
            {
                return Err(wasmtime::Error::new(Cancelled));
            }
            if Instant::now() >= state.deadline {
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Continue(1))
        });
        Ok(store)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn engine_config(pooling: bool) -> Config {
    let mut config = config::compile_config();
    if pooling {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(256)
            .total_core_instances(512)
            .total_memories(512)
            .total_tables(512)
            .max_memory_size(MAX_MEMORY);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Refuses an outcome whose facts are not JSON: they are stored with the
/// session and handed back to the rule, which must be able to read them.
fn check_facts(outcome: &Outcome) -> Result<(), String> {
    match &outcome.facts {
        Some(text) => serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map(drop)
            .map_err(|e| {
                format!(
                    "returned facts that are not JSON ({e}); record them with `Outcome::with_facts`"
                )
            }),
        None => Ok(()),
    }
}

/// Raises the soft limit on open files to the hard limit: checks run side by
/// side, each may hold up to [`FILES_BUDGET`] files through WASI plus the
/// host's own walks, and the pooling allocator needs descriptors for new
/// memories. The per-check budget is what keeps one rule from taking them
/// all.
fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max.min(1 << 20);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}
