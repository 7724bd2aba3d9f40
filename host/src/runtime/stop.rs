//! Why the sandbox stopped a rule, told from what actually happened in the
//! store rather than guessed from the error's text.

use std::sync::atomic::Ordering;
use std::time::Duration;

use wasmtime::{Store, Trap};

use super::Limits;
use super::caps;
use super::host::{FILES_BUDGET, FilesBudget, StoreState};

/// Why the sandbox stopped a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// It ran past its deadline.
    Deadline(Duration),
    /// It tried to grow memory past its cap.
    Memory(usize),
    /// It panicked, with the panic message (as reported by the SDK's panic
    /// hook, with the token the host gave this call).
    Panic(String),
    /// It held more than [`FILES_BUDGET`] open files at once.
    Files(usize),
    /// The caller cancelled the check.
    Cancelled,
    /// It trapped for another reason.
    Trap(String),
}

/// The trap raised when a check is cancelled.
#[derive(Debug)]
pub(super) struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("check cancelled")
    }
}

impl std::error::Error for Cancelled {}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Deadline(limit) => write!(
                f,
                "ran past its deadline of {} ms and was stopped; make it faster or raise `timeout_ms` for it in the checkpoint",
                limit.as_millis()
            ),
            Stop::Memory(limit) => write!(
                f,
                "tried to use more than its memory cap of {} MiB and was stopped; raise `memory_mb` for it in the checkpoint if it really needs more",
                limit >> 20
            ),
            Stop::Panic(message) => write!(f, "panicked: {message}"),
            Stop::Files(limit) => write!(
                f,
                "held more than {limit} open files at once and was stopped; close files it no longer reads"
            ),
            Stop::Cancelled => f.write_str("was cancelled before it finished"),
            Stop::Trap(message) => write!(f, "crashed (wasm trap): {message}"),
        }
    }
}

/// Says what ended a call, from what actually happened: the caller's
/// cancellation, the deadline, a panic the SDK's hook reported with this
/// call's token, a memory growth the limiter refused just before, the open
/// files budget; anything else is a trap, named as wasmtime names it.
pub(super) fn classify(error: wasmtime::Error, store: &Store<StoreState>, limits: &Limits) -> Stop {
    let state = store.data();
    if error.downcast_ref::<Cancelled>().is_some()
        || state
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    {
        return Stop::Cancelled;
    }
    let trap = error.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return Stop::Deadline(limits.timeout);
    }
    if error.downcast_ref::<FilesBudget>().is_some()
        || matches!(
            error.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    {
        return Stop::Files(FILES_BUDGET);
    }
    // A panic ends in `abort`, which is an `unreachable` instruction.
    if trap == Some(Trap::UnreachableCodeReached) {
        let stderr = state.stderr.contents();
        if let Some(message) = panic_report(&String::from_utf8_lossy(&stderr), &state.panic_token) {
            return Stop::Panic(message);
        }
    }
    if state.limiter.refused {
        return Stop::Memory(limits.memory);
    }
    Stop::Trap(format!("{error:#}"))
}

/// The message and location of the last panic the SDK's hook reported on
/// `stderr` with `token` (`{token}{"message": …, "location": …}` on a line
/// of its own). Text without this call's token is not believed: a rule may
/// relay anything to its stderr, including a test's "panicked at" output.
fn panic_report(stderr: &str, token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Report {
        message: String,
        location: String,
    }
    let start = stderr.rfind(token)? + token.len();
    let line = stderr[start..].lines().next()?;
    let report: Report = serde_json::from_str(line).ok()?;
    let mut message = report.message;
    caps::truncate_in_place(&mut message, caps::TEXT_MAX);
    let mut location = report.location;
    caps::truncate_in_place(&mut location, caps::SHORT_TEXT_MAX);
    Some(if location.is_empty() {
        message
    } else {
        format!("{message} (at {location})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn believes_only_panic_reports_with_the_token() {
        let token = "checkrail-panic-abc:";
        let stderr = "noise\nthread 'main' panicked at src/fake.rs:1:1:\nforged\n\ncheckrail-panic-abc:{\"message\":\"gave up\\nfor real\",\"location\":\"src/lib.rs:12:9\"}\n";
        assert_eq!(
            panic_report(stderr, token).unwrap(),
            "gave up\nfor real (at src/lib.rs:12:9)"
        );
        assert_eq!(
            panic_report("thread 'main' panicked at src/lib.rs:1:1:\nforged", token),
            None
        );
        assert_eq!(
            panic_report(
                "checkrail-panic-other:{\"message\":\"m\",\"location\":\"\"}",
                token
            ),
            None
        );
    }
}
