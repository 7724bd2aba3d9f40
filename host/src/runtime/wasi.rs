//! WASI functions replaced so that nothing a rule asks of WASI can outlive
//! its deadline or a cancellation.
//!
//! Epoch interruption only stops wasm code; a guest blocked inside a host
//! call never reaches the next epoch check. Of what the stock WASI p2
//! implementation offers a rule (network, sockets and name lookup are off,
//! stdin is empty, stdout/stderr are memory pipes), two things can block:
//!
//! - a clock pollable (`std::thread::sleep`, a `poll` with a timeout): here
//!   it becomes ready at the earlier of its own time, the rule's deadline and
//!   a cancellation, checked every tick. The guest then runs on and the
//!   epoch callback stops it at its next function entry or loop edge;
//! - opening a FIFO (which waits for a writer) and then reading it or a
//!   device: here `open-at` opens non-blocking, looks at what it opened, and
//!   refuses anything but regular files and directories.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cap_std::fs::OpenOptionsExt;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::OpenMode;
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::filesystem::{Descriptor, Dir as WasiDir, File as WasiFile};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use super::TICK;
use super::host::{FilesBudget, StoreState};

/// The WASI package versions `wasmtime-wasi` registers; guests importing any
/// 0.2.x version are served by these.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Replaces the stock definitions that could block. Call after
/// `wasmtime_wasi::p2::add_to_linker_sync`.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store, (nanos,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            let until = Instant::now().checked_add(Duration::from_nanos(nanos));
            Ok((sleep(store.data_mut(), until)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store, (when,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            let state = store.data_mut();
            let now = monotonic_clock::Host::now(&mut state.clocks())?;
            let until = Instant::now().checked_add(Duration::from_nanos(when.saturating_sub(now)));
            Ok((sleep(state, until)?,))
        },
    )?;
    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    types.func_wrap(
        "[method]descriptor.open-at",
        |mut store,
         (fd, path_flags, path, open_flags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )|
         -> wasmtime::Result<(Result<Resource<Descriptor>, ErrorCode>,)> {
            Ok((open_at(
                store.data_mut(),
                fd,
                path_flags,
                &path,
                open_flags,
                flags,
            )?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A clock pollable that is also ready at the rule's deadline or on
/// cancellation.
struct Sleep {
    /// When the guest asked to wake (`None`: too far to represent).
    until: Option<Instant>,
    deadline: Instant,
    cancel: Option<Arc<AtomicBool>>,
}

#[wasmtime_wasi::async_trait]
impl Pollable for Sleep {
    async fn ready(&mut self) {
        let end = self.until.map_or(self.deadline, |u| u.min(self.deadline));
        loop {
            let now = Instant::now();
            let cancelled = self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed));
            if now >= end || cancelled {
                return;
            }
            tokio::time::sleep((end - now).min(TICK)).await;
        }
    }
}

fn sleep(
    state: &mut StoreState,
    until: Option<Instant>,
) -> wasmtime::Result<Resource<DynPollable>> {
    let sleep = Sleep {
        until,
        deadline: state.deadline,
        cancel: state.cancel.clone(),
    };
    let resource = state.table.push(sleep).map_err(FilesBudget::from_table)?;
    subscribe(&mut state.table, resource).map_err(FilesBudget::from_error)
}

/// `open-at` on the read-only workspace preopen, refusing what could block.
///
/// The file is opened with `O_NONBLOCK` (a FIFO without a writer opens at
/// once instead of waiting) and looked at through the opened descriptor, so
/// there is no window between the check and the open. Only regular files and
/// directories are handed to the guest; the rest is `unsupported`. Writes are
/// `not-permitted`, as the stock implementation answers on a read-only
/// preopen (the only kind the sandbox makes).
fn open_at(
    state: &mut StoreState,
    fd: Resource<Descriptor>,
    path_flags: PathFlags,
    path: &str,
    open_flags: OpenFlags,
    flags: DescriptorFlags,
) -> wasmtime::Result<Result<Resource<Descriptor>, ErrorCode>> {
    let parent = match state.table.get(&fd)? {
        Descriptor::Dir(dir) => dir,
        Descriptor::File(_) => return Ok(Err(ErrorCode::NotDirectory)),
    };
    let writes = open_flags
        .intersects(OpenFlags::CREATE | OpenFlags::EXCLUSIVE | OpenFlags::TRUNCATE)
        || flags.intersects(
            DescriptorFlags::WRITE
                | DescriptorFlags::MUTATE_DIRECTORY
                | DescriptorFlags::FILE_INTEGRITY_SYNC
                | DescriptorFlags::DATA_INTEGRITY_SYNC
                | DescriptorFlags::REQUESTED_WRITE_SYNC,
        );
    if writes {
        return Ok(Err(ErrorCode::NotPermitted));
    }
    let perms = parent.perms;
    let dir = match parent.dir.try_clone() {
        Ok(file) => cap_std::fs::Dir::from_std_file(file),
        Err(e) => return Ok(Err(e.into())),
    };
    if !path_flags.contains(PathFlags::SYMLINK_FOLLOW)
        && dir.symlink_metadata(path).is_ok_and(|m| m.is_symlink())
    {
        // What `O_NOFOLLOW` answers for a symlink.
        return Ok(Err(ErrorCode::Loop));
    }
    let mut options = cap_std::fs::OpenOptions::new();
    options.read(true).custom_flags(libc::O_NONBLOCK);
    let opened = match dir.open_with(path, &options) {
        Ok(file) => file,
        Err(e) => return Ok(Err(e.into())),
    };
    let meta = match opened.metadata() {
        Ok(meta) => meta,
        Err(e) => return Ok(Err(e.into())),
    };
    let file = opened.into_std();
    let descriptor = if meta.is_dir() {
        Descriptor::Dir(WasiDir::new(file, perms, OpenMode::READ, true))
    } else if open_flags.contains(OpenFlags::DIRECTORY) {
        return Ok(Err(ErrorCode::NotDirectory));
    } else if meta.is_file() {
        Descriptor::File(WasiFile::new(file, perms, OpenMode::READ, true))
    } else {
        return Ok(Err(ErrorCode::Unsupported));
    };
    Ok(Ok(state
        .table
        .push(descriptor)
        .map_err(FilesBudget::from_table)?))
}
