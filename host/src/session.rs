//! Sessions: one agent's run through one workflow, persisted in SQLite under
//! the workspace's `.checkrail/` as an append-only event log plus a current
//! state row. A session pins its workflow (the whole definition and its
//! digest) at start, so editing the YAML mid-session changes nothing for it.

mod model;
mod store;

pub use model::{Control, Event, Session, Status};
pub use store::{SessionStore, Transition, now};
