//! The process exit codes, said once: the codes, what each means, and the
//! kind of error behind each. A leaf module (it imports nothing of the
//! crate), so every module that classifies its errors can name a [`Kind`]
//! without depending on the crate's error type. The README's table is
//! checked against [`TABLE`] by the docs tests.

/// Everything checked passed.
pub const PASSED: u8 = 0;
/// A check failed: a rule failed or was stopped by the sandbox, or the
/// evidence breaks its schema.
pub const FAILED: u8 = 1;
/// Bad arguments or configuration.
pub const USAGE: u8 = 2;
/// A session record that does not verify.
pub const TAMPERED: u8 = 3;
/// checkrail itself broke (sysexits.h EX_SOFTWARE).
pub const INTERNAL: u8 = 70;
/// I/O error on checkrail's own state (sysexits.h EX_IOERR).
pub const IO: u8 = 74;

/// Every exit code with its meaning, in order, as the README documents it.
pub const TABLE: &[(u8, &str)] = &[
    (PASSED, "passed"),
    (
        FAILED,
        "failed: a rule failed, was stopped by the sandbox, or the evidence breaks its schema",
    ),
    (USAGE, "usage or configuration error"),
    (TAMPERED, "a session record that does not verify"),
    (INTERNAL, "internal error"),
    (IO, "I/O error on checkrail's own state"),
];

/// What kind of failure an error is: it decides the CLI's exit code. A rule
/// that fails or misbehaves is a result, not an error (exit code 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad arguments or configuration: an unknown workflow, phase, rule or
    /// session, an invalid workflow or config, a request the session's
    /// state refuses. The caller fixes it.
    Usage,
    /// A session's record does not verify: it was changed outside
    /// checkrail.
    Tampered,
    /// checkrail itself broke: its database, the wasm runtime, an invariant.
    Internal,
    /// A file checkrail keeps (the state directory) cannot be read or
    /// written, or is damaged or missing.
    Io,
}

impl Kind {
    /// The documented process exit code of this kind (see [`TABLE`]).
    pub const fn exit_code(self) -> u8 {
        match self {
            Kind::Usage => USAGE,
            Kind::Tampered => TAMPERED,
            Kind::Internal => INTERNAL,
            Kind::Io => IO,
        }
    }
}
