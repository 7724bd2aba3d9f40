//! Sessions: one agent's run through one workflow, persisted (in SQLite in
//! the workspace's private state directory, or in a shared PostgreSQL
//! database) as an authenticated, hash-chained
//! event log plus a current state row. A session pins its workflow (the
//! whole definition and its digest) and the workspace config at start, so
//! editing the YAML or `checkrail.toml` mid-session changes nothing for it.

mod errors;
pub mod event;
mod machine;
mod model;
mod store;

pub use errors::{ErrorsView, FailedRule, Failure, PhaseRate, RepeatedFinding, errors};
pub use event::{Event, EventData, NewEvent};
pub use machine::{Checked, Command, Cursor, occurrence};
pub use model::{CheckResult, Control, LoopRun, Outcome, RunningCheck, Session, Status, Step};
pub use store::{
    AfterOpen, Deletion, LegacyImport, Pinned, SessionQuery, SessionStore, StoreTarget, Transition,
    Verification, after, days_ago, now, open as open_store, open_on_first_use,
};
