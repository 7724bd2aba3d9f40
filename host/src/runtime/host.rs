//! Per-check store state and the host imports a rule may call.

use std::sync::Arc;
use std::time::Instant;

use checkrail_sdk::native::NativeWorkspace;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Result};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::checkrail::rule::host::{self, Entry, EntryKind, LogLevel, PathError};
use super::bindings::checkrail::rule::types;

/// Most paths a single `stat-many` call may ask about.
pub const STAT_MANY_MAX: usize = 100_000;
/// Most paths a single `glob` call may return.
pub const GLOB_MAX: u32 = 100_000;

/// Everything one check's store owns.
pub struct StoreState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) workspace: Option<Arc<NativeWorkspace>>,
    pub(crate) deadline: Instant,
    pub(crate) cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
    pub(crate) rule: String,
    pub(crate) stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and remembers whether the cap was hit, so a guest
/// that aborts on a failed allocation is reported as out of memory.
pub struct Limiter {
    pub(crate) max_memory: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > self.max_memory {
            self.hit = true;
            return Ok(false);
        }
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

impl types::Host for StoreState {}

impl host::Host for StoreState {
    fn log(&mut self, level: LogLevel, message: String) -> Result<()> {
        let rule = self.rule.as_str();
        let message = truncate(&message, 4096);
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
        let Some(ws) = &self.workspace else {
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
        let answers = ws.stat_many(paths.iter().map(String::as_str));
        Ok(answers.into_iter().map(convert).collect())
    }

    fn glob(
        &mut self,
        pattern: String,
        limit: u32,
    ) -> Result<std::result::Result<Vec<String>, String>> {
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
}

fn convert(
    answer: std::result::Result<checkrail_sdk::Entry, checkrail_sdk::PathError>,
) -> std::result::Result<Entry, PathError> {
    match answer {
        Ok(entry) => Ok(Entry {
            kind: match entry.kind {
                checkrail_sdk::EntryKind::File => EntryKind::File,
                checkrail_sdk::EntryKind::Directory => EntryKind::Directory,
                checkrail_sdk::EntryKind::Symlink => EntryKind::Symlink,
                checkrail_sdk::EntryKind::Other => EntryKind::Other,
            },
            size: entry.size,
            is_symlink: entry.is_symlink,
        }),
        Err(checkrail_sdk::PathError::NotFound) => Err(PathError::NotFound),
        Err(checkrail_sdk::PathError::OutsideWorkspace) => Err(PathError::OutsideWorkspace),
        Err(checkrail_sdk::PathError::Io(reason)) => Err(PathError::Io(reason)),
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
