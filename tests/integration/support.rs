//! What the tests set up, once: workspaces, the engine, session services
//! and sessions, the binary run once or as a server, and how long to wait.
//! A test reads as its scenario:
//!
//! ```ignore
//! let ws = Workspace::new().workflow(FLOW).file("README.md", "# hi").grant("sh").build();
//! let svc = service(ws.path());
//! let session = Session::start(&svc, "docs-flow");
//! assert!(session.validate().advanced);
//! ```

mod cli;
mod engine;
mod flows;
mod in_process;
mod paths;
mod patience;
mod raw;
mod server;
mod sessions;
mod state;
mod workspace;

pub use cli::{BIN, Cli, Listening, at_terminal, listen, text};
pub use engine::{check_phase, checkpoint, engine, one_phase};
pub use flows::{DOCS_FLOW, green};
pub use in_process::{Harness, duplex};
pub use paths::{WASM_DIR, fixture_rules, repo_root, shared_cache};
pub use patience::{PATIENCE, sh_wait_for, within_patience};
pub use raw::Raw;
pub use server::{Client, Http, HttpResponse, Server, call, http_request, kill_9};
pub use sessions::{Session, Sessions, codes, inputs, service};
pub use state::{raw_db, session_store, state, state_dir};
pub use workspace::{Workspace, allow, grant};
