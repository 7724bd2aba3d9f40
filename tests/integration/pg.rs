//! A real PostgreSQL server for the tests of this binary: initialized in a
//! temporary directory, listening on a unix socket there only (no port to
//! collide with), started once on first use and stopped when the process
//! exits. PostgreSQL refuses to run as root, so as root it runs as a system
//! user `checkrail-pg` (created if missing).
//!
//! Also compiled into the store benchmark (`host/benches/store.rs`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running server.
pub struct Server {
    dir: PathBuf,
    socket_dir: PathBuf,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static CHILD: Mutex<Option<Child>> = Mutex::new(None);
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The directory of PostgreSQL's programs (the newest version installed).
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|bin| bin.join("postgres").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().expect(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres); `apt-get install postgresql` (scripts/test.sh does)",
    )
}

/// The uid and gid to run the server as: ours, unless we are root.
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, "checkrail-pg"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .ok()
            })
    };
    if id("-u").is_none() {
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "checkrail-pg",
            ])
            .status()
            .expect("run useradd");
        assert!(
            status.success() || id("-u").is_some(),
            "useradd checkrail-pg failed"
        );
    }
    Some((
        id("-u").expect("uid of checkrail-pg"),
        id("-g").expect("gid of checkrail-pg"),
    ))
}

fn as_server_user(mut command: Command, user: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = user {
        // As root, std drops the supplementary groups before setuid.
        command.uid(uid).gid(gid);
        command.env("HOME", "/");
    }
    command
}

extern "C" fn stop_at_exit() {
    let child = CHILD.lock().ok().and_then(|mut child| child.take());
    if let Some(mut child) = child {
        // Fast shutdown: disconnects clients and exits.
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        let _ = child.wait();
    }
    if let Some(server) = SERVER.get() {
        let _ = std::fs::remove_dir_all(&server.dir);
    }
}

/// The server, started on first use.
pub fn server() -> &'static Server {
    SERVER.get_or_init(start)
}

fn start() -> Server {
    let bin = bin_dir();
    let user = server_user();
    let dir = tempfile::Builder::new()
        .prefix("checkrail-pg-")
        .tempdir()
        .expect("tempdir")
        .keep();
    let data = dir.join("data");
    let socket_dir = dir.join("socket");
    std::fs::create_dir(&socket_dir).unwrap();
    if let Some((uid, gid)) = user {
        for path in [&dir, &socket_dir] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
        }
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
        .args(["--no-locale", "--no-sync", "--pgdata"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = as_server_user(initdb, user).output().expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(dir.join("server.log"), Some(uid), Some(gid)).unwrap();
    }
    let mut postgres = Command::new(bin.join("postgres"));
    postgres
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&socket_dir)
        .args(["-c", "listen_addresses=", "-c", "max_connections=300"])
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let child = as_server_user(postgres, user)
        .spawn()
        .expect("start postgres");
    *CHILD.lock().unwrap() = Some(child);
    // SAFETY: registering a plain function with no captured state.
    unsafe { libc::atexit(stop_at_exit) };

    let server = Server { dir, socket_dir };
    // Ready when it accepts a connection; polled, not slept on blindly.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if server.try_execute("postgres", "SELECT 1").is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "postgres did not accept connections within 60 s; its log: {}",
            std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

impl Server {
    /// The connection URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@/{db}?host={}",
            self.socket_dir.display()
        )
    }

    fn try_execute(&self, db: &str, sql: &str) -> Result<(), String> {
        block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&self.url(db), tokio_postgres::NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            client
                .batch_execute(sql)
                .await
                .map_err(|e| format!("{e:?}"))
        })
    }

    /// Runs SQL statements in `db`, behind checkrail's back.
    pub fn execute(&self, db: &str, sql: &str) {
        if let Err(e) = self.try_execute(db, sql) {
            panic!("SQL failed in `{db}`: {e}\n{sql}");
        }
    }

    /// The first column of each row a query returns, as text.
    pub fn column(&self, db: &str, sql: &str) -> Vec<String> {
        block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&self.url(db), tokio_postgres::NoTls)
                    .await
                    .unwrap();
            tokio::spawn(connection);
            client
                .simple_query(sql)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => {
                        Some(row.get(0).unwrap_or_default().to_owned())
                    }
                    _ => None,
                })
                .collect()
        })
    }

    /// A new, empty database; returns its name.
    pub fn database(&self) -> String {
        let name = format!(
            "checkrail_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::SeqCst)
        );
        self.execute("postgres", &format!("CREATE DATABASE {name}"));
        name
    }
}

/// A new empty database on the shared server: its name and URL.
pub fn fresh_database() -> (String, String) {
    let server = server();
    let name = server.database();
    let url = server.url(&name);
    (name, url)
}

/// Runs a future on a runtime of its own, on a thread of its own, so that
/// async tests can call these helpers too.
fn block_on<F: std::future::Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(future)
            })
            .join()
            .unwrap()
    })
}
