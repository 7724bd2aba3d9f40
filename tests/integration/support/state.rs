//! The trusted state of the tests' workspaces: one private state directory
//! for the run, and ways to reach a workspace's records behind checkrail's
//! back.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use checkrail::session::{SessionStore, StoreTarget};
use checkrail::trusted::StateDir;
use checkrail::workspace::Workspace;

/// A private state directory shared by the tests of this run (each
/// workspace gets its own corner of it).
pub fn state_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// The shared state directory, opened.
pub fn state() -> StateDir {
    StateDir::at(state_dir()).expect("state dir")
}

/// The session database of `dir`, opened behind checkrail's back.
pub fn raw_db(dir: &Path) -> rusqlite::Connection {
    let ws = Workspace::open(dir, &state()).unwrap();
    rusqlite::Connection::open(ws.state_dir().join("sessions.db")).unwrap()
}

/// The session store of `dir` in the shared state directory, opened the way
/// a server opens it.
pub fn session_store(dir: &Path) -> Arc<dyn SessionStore> {
    let ws = Workspace::open(dir, &state()).unwrap();
    checkrail::session::open_store(
        &StoreTarget::default(),
        &ws.state_dir().join("sessions.db"),
        ws.root(),
        ws.key().clone(),
    )
    .unwrap()
}
