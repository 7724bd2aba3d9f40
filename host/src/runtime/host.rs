//! Per-check store state and the host imports a rule may call. The `host`
//! interface is the same in every API version, so one implementation serves
//! them all (see [`super::abi`]).

use std::sync::Arc;
use std::time::Instant;

use checkrail_sandbox::NativeWorkspace;
use checkrail_sandbox::exec::{self as sandbox_exec, ExecPolicy, Request};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Result};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::abi::v0_1::checkrail::rule::host::{
    self, Command, CommandOutput, Entry, EntryKind, ExecError, LogLevel, PathError,
};
use super::abi::{v0_1, v0_2};

/// Most paths a single `stat-many` call may ask about.
pub const STAT_MANY_MAX: usize = 100_000;
/// Most paths a single `glob` call may return.
pub const GLOB_MAX: u32 = 100_000;
/// Most resources (open files and directories, streams, pollables) one
/// check may hold at once through WASI, so one rule cannot use up the
/// process's descriptors and starve the checks running beside it.
pub const FILES_BUDGET: usize = 256;
/// Longest log line kept; the rest is cut.
pub const LOG_LINE_MAX: usize = 4096;
/// Most log bytes one check may write.
pub const LOG_BYTES_MAX: usize = 256 * 1024;
/// Log lines one check may write in a burst, and per second after that.
pub const LOG_BURST: f64 = 200.0;
/// Sustained log lines per second one check may write.
pub const LOG_RATE: f64 = 50.0;

/// Everything one check's store owns.
pub struct StoreState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) workspace: Option<Arc<NativeWorkspace>>,
    pub(crate) deadline: Instant,
    pub(crate) cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
    pub(crate) exec: Option<ExecContext>,
    pub(crate) rule: String,
    pub(crate) stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
    pub(crate) log: LogBudget,
    /// Prefix of a genuine panic report on stderr (see
    /// [`checkrail_sdk::PANIC_TOKEN_ENV`]).
    pub(crate) panic_token: String,
}

/// The trap raised when a check holds more than [`FILES_BUDGET`] WASI
/// resources at once.
#[derive(Debug)]
pub struct FilesBudget;

impl std::fmt::Display for FilesBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "held more than {FILES_BUDGET} open files at once")
    }
}

impl std::error::Error for FilesBudget {}

impl FilesBudget {
    /// A full resource table is this budget; anything else stays itself.
    pub(crate) fn from_table(e: wasmtime::component::ResourceTableError) -> wasmtime::Error {
        match e {
            wasmtime::component::ResourceTableError::Full => wasmtime::Error::new(FilesBudget),
            other => wasmtime::Error::new(other),
        }
    }

    /// [`FilesBudget::from_table`] for an error that may wrap one.
    pub(crate) fn from_error(e: wasmtime::Error) -> wasmtime::Error {
        match e.downcast_ref::<wasmtime::component::ResourceTableError>() {
            Some(wasmtime::component::ResourceTableError::Full) => {
                wasmtime::Error::new(FilesBudget)
            }
            _ => e,
        }
    }
}

/// Log volume and rate allowed to one check: a token bucket of lines plus a
/// total byte cap. What is over is dropped and counted, and the check's
/// report says so.
#[derive(Debug)]
pub struct LogBudget {
    tokens: f64,
    refilled: Instant,
    bytes: usize,
    /// Lines dropped so far.
    pub(crate) dropped: usize,
}

impl Default for LogBudget {
    fn default() -> Self {
        Self {
            tokens: LOG_BURST,
            refilled: Instant::now(),
            bytes: 0,
            dropped: 0,
        }
    }
}

impl LogBudget {
    /// Whether a line of `len` bytes may be written; counts it either way.
    fn admit(&mut self, len: usize) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * LOG_RATE;
        self.tokens = (self.tokens + earned).min(LOG_BURST);
        self.refilled = now;
        if self.tokens < 1.0 || self.bytes + len > LOG_BYTES_MAX {
            self.dropped += 1;
            return false;
        }
        self.tokens -= 1.0;
        self.bytes += len;
        true
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// What a check may run, and where.
pub struct ExecContext {
    pub(crate) root: std::path::PathBuf,
    pub(crate) policy: ExecPolicy,
    pub(crate) on_exec: Option<Arc<dyn Fn(super::ExecEvent) + Send + Sync>>,
    /// Workspace-relative scratch directory, once created.
    pub(crate) scratch: Option<String>,
}

impl StoreState {
    /// Removes the check's scratch directory, if one was made.
    pub(crate) fn remove_scratch(&mut self) {
        if let Some(exec) = &mut self.exec
            && let Some(rel) = exec.scratch.take()
        {
            let _ = std::fs::remove_dir_all(exec.root.join(rel));
        }
    }
}

/// Caps linear memory and remembers a refused growth until the guest shows
/// it went on (a later growth succeeds, or it calls the host), so that only
/// a stop that follows the refusal is reported as out of memory.
pub struct Limiter {
    pub(crate) max_memory: usize,
    pub(crate) refused: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > self.max_memory {
            self.refused = true;
            return Ok(false);
        }
        self.refused = false;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

// `types` holds no functions; its traits only complete each world.
impl v0_1::checkrail::rule::types::Host for StoreState {}
impl v0_2::checkrail::rule::types::Host for StoreState {}

impl host::Host for StoreState {
    fn log(&mut self, level: LogLevel, message: String) -> Result<()> {
        self.limiter.refused = false;
        let message = truncate(&message, LOG_LINE_MAX);
        if !self.log.admit(message.len()) {
            if self.log.dropped == 1 {
                tracing::warn!(
                    rule = self.rule.as_str(),
                    "rule exceeded its log budget ({LOG_BYTES_MAX} bytes, {LOG_RATE} lines/s after a burst of {LOG_BURST}); dropping its further log lines"
                );
            }
            return Ok(());
        }
        let rule = self.rule.as_str();
        match level {
            LogLevel::Trace => tracing::trace!(rule, "{message}"),
            LogLevel::Debug => tracing::debug!(rule, "{message}"),
            LogLevel::Info => tracing::info!(rule, "{message}"),
            LogLevel::Warn => tracing::warn!(rule, "{message}"),
            LogLevel::Error => tracing::error!(rule, "{message}"),
        }
        Ok(())
    }

    fn stat_many(
        &mut self,
        paths: Vec<String>,
    ) -> Result<Vec<std::result::Result<Entry, PathError>>> {
        self.limiter.refused = false;
        let Some(ws) = self.workspace.clone() else {
            return Ok(paths
                .iter()
                .map(|_| {
                    Err(PathError::Io(
                        "no workspace is open while describing a rule".into(),
                    ))
                })
                .collect());
        };
        if paths.len() > STAT_MANY_MAX {
            return Ok(paths
                .iter()
                .map(|_| {
                    Err(PathError::Io(format!(
                        "stat-many takes at most {STAT_MANY_MAX} paths per call"
                    )))
                })
                .collect());
        }
        let mut stopped = false;
        let answers = ws.stat_many_until(paths.iter().map(String::as_str), &mut || {
            stopped = self.should_stop();
            stopped
        });
        if stopped {
            // Epoch interruption cannot stop host code, so stop here; the
            // classification names the deadline or the cancellation.
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(answers.into_iter().map(convert).collect())
    }

    fn glob(
        &mut self,
        pattern: String,
        limit: u32,
    ) -> Result<std::result::Result<Vec<String>, String>> {
        self.limiter.refused = false;
        let Some(ws) = self.workspace.clone() else {
            return Ok(Err("no workspace is open while describing a rule".into()));
        };
        let deadline = self.deadline;
        let cancel = self.cancel.clone();
        let mut out_of_time = false;
        let mut should_stop = || {
            out_of_time = Instant::now() >= deadline
                || cancel
                    .as_ref()
                    .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed));
            out_of_time
        };
        let result = ws.glob(&pattern, limit.min(GLOB_MAX) as usize, &mut should_stop);
        if out_of_time {
            // Epoch interruption cannot stop host code, so stop here; the
            // next epoch check in the guest reports deadline or cancellation.
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(result)
    }

    fn exec(&mut self, command: Command) -> Result<std::result::Result<CommandOutput, ExecError>> {
        let Some(exec) = &self.exec else {
            return Ok(Err(ExecError::Failed(
                "no workspace is open while describing a rule".into(),
            )));
        };
        let request = Request {
            program: &command.program,
            args: &command.args,
            cwd: command.cwd.as_deref(),
            env: &command.env,
            timeout: command
                .timeout_ms
                .map(|ms| std::time::Duration::from_millis(u64::from(ms))),
        };
        let line = request.line();
        if let Some(on_exec) = &exec.on_exec {
            on_exec(super::ExecEvent::Started(line.clone()));
        }
        let deadline = self.deadline;
        let cancel = self.cancel.clone();
        let should_stop = move || {
            cancel
                .as_ref()
                .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        };
        let result = sandbox_exec::run(&exec.root, &exec.policy, &request, deadline, &should_stop);
        if let Some(on_exec) = &exec.on_exec {
            let (code, took) = match &result {
                Ok(out) => (out.exit_code, out.duration),
                Err(_) => (None, std::time::Duration::ZERO),
            };
            on_exec(super::ExecEvent::Finished(line, code, took));
        }
        if self.should_stop() {
            // The deadline or a cancellation ended the command; end the rule.
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(match result {
            Ok(out) => Ok(CommandOutput {
                exit_code: out.exit_code,
                timed_out: out.timed_out,
                stdout: out.stdout.text,
                stderr: out.stderr.text,
                stdout_truncated: out.stdout.truncated,
                stderr_truncated: out.stderr.truncated,
                duration_ms: out.duration.as_millis() as u64,
            }),
            Err(sandbox_exec::ExecError::NotDeclared(m)) => Err(ExecError::NotDeclared(m)),
            Err(sandbox_exec::ExecError::NotGranted(m)) => Err(ExecError::NotGranted(m)),
            Err(sandbox_exec::ExecError::NotFound(m)) => Err(ExecError::NotFound(m)),
            Err(sandbox_exec::ExecError::Failed(m)) => Err(ExecError::Failed(m)),
        })
    }

    fn scratch_dir(&mut self) -> Result<std::result::Result<String, String>> {
        self.limiter.refused = false;
        let Some(exec) = &mut self.exec else {
            return Ok(Err("no workspace is open while describing a rule".into()));
        };
        if let Some(rel) = &exec.scratch {
            return Ok(Ok(rel.clone()));
        }
        let rel = format!(".checkrail/scratch/{}", uuid::Uuid::new_v4().simple());
        match std::fs::create_dir_all(exec.root.join(&rel)) {
            Ok(()) => {
                exec.scratch = Some(rel.clone());
                Ok(Ok(rel))
            }
            Err(e) => Ok(Err(format!("cannot create scratch directory `{rel}`: {e}"))),
        }
    }
}

impl StoreState {
    fn should_stop(&self) -> bool {
        Instant::now() >= self.deadline
            || self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// One answer of the confined workspace, in the WIT's types.
fn convert(
    answer: std::result::Result<checkrail_sandbox::Entry, checkrail_sandbox::PathError>,
) -> std::result::Result<Entry, PathError> {
    match answer {
        Ok(entry) => Ok(Entry {
            kind: match entry.kind {
                checkrail_sandbox::EntryKind::File => EntryKind::File,
                checkrail_sandbox::EntryKind::Directory => EntryKind::Directory,
                checkrail_sandbox::EntryKind::Symlink => EntryKind::Symlink,
                checkrail_sandbox::EntryKind::Other => EntryKind::Other,
            },
            size: entry.size,
            is_symlink: entry.is_symlink,
        }),
        Err(checkrail_sandbox::PathError::NotFound) => Err(PathError::NotFound),
        Err(checkrail_sandbox::PathError::OutsideWorkspace) => Err(PathError::OutsideWorkspace),
        Err(checkrail_sandbox::PathError::Io(reason)) => Err(PathError::Io(reason)),
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
