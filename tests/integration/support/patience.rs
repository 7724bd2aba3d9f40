//! How long a test waits, and for what.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// How long a test waits for something that is bound to happen before it
/// fails saying what never came. Only a guard against hangs on a loaded
/// machine: no test's claim rests on it, and what a broken feature would
/// make a test wait for (an endless loop, an hour-long sleep) is far longer.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Shell lines that wait until `file` exists (outside the workspace,
/// written by the test when it lets a rule's program go on), giving up
/// with exit status 1 after about a minute so that nothing outlives a
/// failed test for long.
pub fn sh_wait_for(file: &Path) -> String {
    format!(
        "i=0\nwhile [ ! -e '{}' ]; do i=$((i+1)); [ \"$i\" -le 600 ] || exit 1; sleep 0.1; done\n",
        file.display()
    )
}

/// Runs `work` on a thread of its own and returns what it returns; fails
/// the test, naming `what`, if it has not returned after [`PATIENCE`]. For
/// work that only ends because the feature under test stops it: broken,
/// it would run for an hour or forever.
pub fn within_patience<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} still ran after {PATIENCE:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
    }
}
