//! The wall clock, read in one place. Fingerprints compare a file's
//! modification time with the time its content hash was taken (git's
//! racy-timestamp rule), both as nanoseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in nanoseconds since the Unix epoch (0 for a clock set before it).
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or_default()
}
