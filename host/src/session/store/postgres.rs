//! The shared backend: PostgreSQL, for several `checkrail serve` replicas
//! (and the session CLI) on one database. Rows are keyed by workspace (its
//! canonical path), so one database serves many workspaces.
//!
//! A change locks its session row with `SELECT … FOR UPDATE` in a READ
//! COMMITTED transaction: a second writer waits for the first to commit,
//! then reads the row it wrote, exactly as SQLite's IMMEDIATE transaction
//! serializes writers on one file. Reads run in a REPEATABLE READ, READ
//! ONLY transaction (one snapshot).
//!
//! The store's API is synchronous (the service runs on the blocking
//! pool); the driver is async. A small runtime owned by the store drives
//! the connections, and calls block on it from the caller's thread: inside
//! a multi-threaded runtime through `block_in_place`, so a worker is never
//! blocked without telling its scheduler.

use std::future::Future;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use tokio_postgres::{Client, Config, IsolationLevel, NoTls};

use super::backend::{Backend, Migrations, Records};
use crate::{Error, Result};

/// Written with `IF NOT EXISTS`, like SQLite's version 1, so that a
/// database whose version records were lost is adopted, not refused.
const V1: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    workspace TEXT NOT NULL,
    id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    workflow_digest TEXT NOT NULL,
    workflow_json TEXT NOT NULL,
    workflow_source TEXT NOT NULL,
    config_json TEXT NOT NULL,
    inputs TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    event_count BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (workspace, id)
);
CREATE INDEX IF NOT EXISTS sessions_by_status ON sessions (workspace, status, updated_at);
CREATE INDEX IF NOT EXISTS sessions_listed ON sessions (workspace, updated_at, id, status, workflow_id);
CREATE TABLE IF NOT EXISTS events (
    seq BIGSERIAL PRIMARY KEY,
    workspace TEXT NOT NULL,
    session_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    phase TEXT,
    data TEXT NOT NULL,
    state TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    tag TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_session ON events (workspace, session_id, seq);
CREATE TABLE IF NOT EXISTS deleted_sessions (
    workspace TEXT NOT NULL,
    id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT NOT NULL,
    event_count BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    deleted_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (workspace, id)
);
CREATE TABLE IF NOT EXISTS meta (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (workspace, name)
);
";

/// The schema versions, oldest first.
const MIGRATIONS: Migrations = Migrations {
    what: "session database",
    steps: &[V1],
};

/// Taken (per transaction) while migrating, so replicas starting together
/// migrate once: the ASCII of "ckrl".
const MIGRATION_LOCK: i64 = 0x636b_726c;

/// Connections one store keeps open at most.
const MAX_CONNECTIONS: usize = 8;

const ROW_COLUMNS: &str =
    "id, workflow_id, workflow_version, workflow_digest, workflow_json, workflow_source,
    config_json, inputs, created_at, updated_at, status, state, event_count, head_hash, tag";

const EVENT_COLUMNS: &str = "seq, n, at, kind, phase, data, state, prev_hash, hash, tag";

const AUDIT_COLUMNS: &str = "id, workflow_id, workflow_version, status, created_at, deleted_at, event_count, head_hash, deleted_by, reason, tag";

/// One workspace's sessions in a PostgreSQL database.
pub(super) struct Postgres {
    runtime: Option<tokio::runtime::Runtime>,
    config: Config,
    location: String,
    workspace: String,
    idle: Mutex<Pool>,
    freed: Condvar,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Client>,
    leased: usize,
}

/// The URL without its password, for messages.
pub(super) fn redact(url: &str) -> String {
    match url.parse::<Config>() {
        Ok(config) => describe(&config),
        Err(_) => "postgres (a connection string that does not parse)".to_owned(),
    }
}

fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            tokio_postgres::config::Host::Unix(dir) => format!("{}:{port}", dir.display()),
        })
        .collect();
    format!(
        "postgres://{}@{}/{}",
        config.get_user().unwrap_or("(default user)"),
        hosts.join(","),
        config.get_dbname().unwrap_or("(default database)")
    )
}

fn pg_error(location: &str, e: tokio_postgres::Error) -> Error {
    Error::Store {
        location: location.to_owned(),
        source: Box::new(e),
    }
}

impl Postgres {
    /// Connects, applies the migrations the database lacks and returns the
    /// store of `workspace`'s sessions.
    pub(super) fn open(url: &str, workspace: &str) -> Result<Self> {
        let mut config: Config = url.parse().map_err(|e| Error::StoreUrl {
            store: redact(url),
            source: Box::new(e),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("checkrail");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("checkrail-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Store {
                location: redact(url),
                source: Box::new(e),
            })?;
        let store = Self {
            runtime: Some(runtime),
            location: describe(&config),
            config,
            workspace: workspace.to_owned(),
            idle: Mutex::new(Pool::default()),
            freed: Condvar::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn fail(&self) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
        |e| pg_error(&self.location, e)
    }

    /// Runs `future` to completion from synchronous code.
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        let handle = match &self.runtime {
            Some(runtime) => runtime.handle().clone(),
            None => unreachable!("the runtime is only taken when the store is dropped"),
        };
        match tokio::runtime::Handle::try_current() {
            Ok(current)
                if current.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
            {
                tokio::task::block_in_place(|| handle.block_on(future))
            }
            _ => handle.block_on(future),
        }
    }

    /// A connection from the pool, or a new one while fewer than
    /// [`MAX_CONNECTIONS`] are out.
    fn lease(&self) -> Result<Lease<'_>> {
        let mut pool = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while let Some(client) = pool.idle.pop() {
                if !client.is_closed() {
                    pool.leased += 1;
                    return Ok(Lease {
                        store: self,
                        client: Some(client),
                    });
                }
            }
            if pool.leased < MAX_CONNECTIONS {
                pool.leased += 1;
                break;
            }
            pool = self.freed.wait(pool).unwrap_or_else(|e| e.into_inner());
        }
        drop(pool);
        let mut lease = Lease {
            store: self,
            client: None,
        };
        let (client, connection) =
            self.block_on(self.config.connect(NoTls))
                .map_err(|e| Error::StoreUnreachable {
                    location: self.location.clone(),
                    source: Box::new(e),
                })?;
        if let Some(runtime) = &self.runtime {
            runtime.spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!("session database connection closed: {e}");
                }
            });
        }
        lease.client = Some(client);
        Ok(lease)
    }

    fn migrate(&self) -> Result<()> {
        let mut lease = self.lease()?;
        let client = lease.client()?;
        self.block_on(async move {
            let tx = client.transaction().await?;
            tx.query("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await?;
            let found: i32 = tx
                .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
                .await?
                .get(0);
            Ok::<_, tokio_postgres::Error>((tx, i64::from(found)))
        })
        .map_err(self.fail())
        .and_then(|(tx, found)| {
            let pending: Vec<_> = MIGRATIONS.pending(found, &self.location)?.collect();
            self.block_on(async {
                for (version, sql) in pending {
                    tx.batch_execute(sql).await?;
                    let version = i32::try_from(version).unwrap_or(i32::MAX);
                    tx.execute(
                        "INSERT INTO schema_version (version) VALUES ($1)",
                        &[&version],
                    )
                    .await?;
                }
                tx.commit().await
            })
            .map_err(self.fail())
        })
    }

    fn transaction<T>(
        &self,
        write: bool,
        work: impl FnOnce(&mut dyn Records) -> Result<T>,
    ) -> Result<T> {
        let mut lease = self.lease()?;
        let client = lease.client()?;
        let tx = self
            .block_on(async move {
                let builder = client.build_transaction();
                if write {
                    builder.start().await
                } else {
                    builder
                        .isolation_level(IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()
                        .await
                }
            })
            .map_err(self.fail())?;
        let value = work(&mut PgRecords {
            store: self,
            tx: &tx,
            lock: write,
        })?;
        self.block_on(tx.commit()).map_err(self.fail())?;
        Ok(value)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Not `drop(runtime)`: that blocks, which a runtime forbids when
        // the store is dropped from async code.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A pooled connection, back to the pool when dropped.
struct Lease<'a> {
    store: &'a Postgres,
    client: Option<Client>,
}

impl Lease<'_> {
    fn client(&mut self) -> Result<&mut Client> {
        self.client.as_mut().ok_or_else(|| {
            Error::Internal("a database connection was used after its release".to_owned())
        })
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = self.store.idle.lock().unwrap_or_else(|e| e.into_inner());
        pool.leased = pool.leased.saturating_sub(1);
        if let Some(client) = self.client.take()
            && !client.is_closed()
        {
            pool.idle.push(client);
        }
        drop(pool);
        self.store.freed.notify_one();
    }
}

impl Backend for Postgres {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn scope(&self) -> Option<&str> {
        Some(&self.workspace)
    }

    fn write<T>(&self, work: impl FnOnce(&mut dyn Records) -> Result<T>) -> Result<T> {
        self.transaction(true, work)
    }

    fn read<T>(&self, work: impl FnOnce(&mut dyn Records) -> Result<T>) -> Result<T> {
        self.transaction(false, work)
    }
}

mod records;
use records::PgRecords;
