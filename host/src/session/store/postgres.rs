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

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, IsolationLevel, NoTls, Transaction};

use super::backend::{Backend, Migrations, Records};
use super::{Deletion, Row, StoredEvent};
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

struct PgRecords<'a> {
    store: &'a Postgres,
    tx: &'a Transaction<'a>,
    /// Whether rows read are locked (a write transaction).
    lock: bool,
}

type Params<'p> = [(&'p (dyn ToSql + Sync), Type)];

impl PgRecords<'_> {
    fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<tokio_postgres::Row>> {
        self.store
            .block_on(self.tx.query_typed(sql, params))
            .map_err(self.store.fail())
    }

    fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64> {
        self.store
            .block_on(self.tx.execute_typed(sql, params))
            .map_err(self.store.fail())
    }

    fn ws(&self) -> (&(dyn ToSql + Sync), Type) {
        (&self.store.workspace, Type::TEXT)
    }
}

fn text(value: &(dyn ToSql + Sync)) -> (&(dyn ToSql + Sync), Type) {
    (value, Type::TEXT)
}

fn decode<T>(
    rows: Vec<tokio_postgres::Row>,
    read: impl Fn(&tokio_postgres::Row) -> std::result::Result<T, tokio_postgres::Error>,
    location: &str,
) -> Result<Vec<T>> {
    rows.iter()
        .map(|r| read(r).map_err(|e| pg_error(location, e)))
        .collect()
}

fn read_row(r: &tokio_postgres::Row) -> std::result::Result<Row, tokio_postgres::Error> {
    Ok(Row {
        id: r.try_get(0)?,
        workflow_id: r.try_get(1)?,
        workflow_version: r.try_get(2)?,
        workflow_digest: r.try_get(3)?,
        workflow_json: r.try_get(4)?,
        workflow_source: r.try_get(5)?,
        config_json: r.try_get(6)?,
        inputs: r.try_get(7)?,
        created_at: r.try_get(8)?,
        updated_at: r.try_get(9)?,
        status: r.try_get(10)?,
        state: r.try_get(11)?,
        event_count: r.try_get(12)?,
        head_hash: r.try_get(13)?,
        tag: r.try_get(14)?,
    })
}

fn read_event(r: &tokio_postgres::Row) -> std::result::Result<StoredEvent, tokio_postgres::Error> {
    Ok(StoredEvent {
        seq: r.try_get(0)?,
        n: r.try_get(1)?,
        at: r.try_get(2)?,
        kind: r.try_get(3)?,
        phase: r.try_get(4)?,
        data: r.try_get(5)?,
        state: r.try_get(6)?,
        prev_hash: r.try_get(7)?,
        hash: r.try_get(8)?,
        tag: r.try_get(9)?,
    })
}

fn read_entry(
    r: &tokio_postgres::Row,
) -> std::result::Result<(Deletion, String), tokio_postgres::Error> {
    Ok((
        Deletion {
            id: r.try_get(0)?,
            workflow_id: r.try_get(1)?,
            workflow_version: r.try_get(2)?,
            status: r.try_get(3)?,
            created_at: r.try_get(4)?,
            deleted_at: r.try_get(5)?,
            events: r.try_get(6)?,
            head_hash: r.try_get(7)?,
            deleted_by: r.try_get(8)?,
            reason: r.try_get(9)?,
            verified: false,
        },
        r.try_get(10)?,
    ))
}

impl Records for PgRecords<'_> {
    fn row(&mut self, id: &str) -> Result<Option<Row>> {
        let lock = if self.lock { " FOR UPDATE" } else { "" };
        let rows = self.query(
            &format!("SELECT {ROW_COLUMNS} FROM sessions WHERE workspace = $1 AND id = $2{lock}"),
            &[self.ws(), text(&id)],
        )?;
        Ok(decode(rows, read_row, &self.store.location)?.pop())
    }

    fn rows(&mut self, status: Option<&str>) -> Result<Vec<Row>> {
        let rows = self.query(
            &format!(
                "SELECT {ROW_COLUMNS} FROM sessions WHERE workspace = $1 AND ($2::TEXT IS NULL OR status = $2) ORDER BY updated_at DESC, id"
            ),
            &[self.ws(), text(&status)],
        )?;
        decode(rows, read_row, &self.store.location)
    }

    fn events(&mut self, id: &str) -> Result<Vec<StoredEvent>> {
        let rows = self.query(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE workspace = $1 AND session_id = $2 ORDER BY seq"
            ),
            &[self.ws(), text(&id)],
        )?;
        decode(rows, read_event, &self.store.location)
    }

    fn last_event(&mut self, id: &str) -> Result<Option<StoredEvent>> {
        let rows = self.query(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE workspace = $1 AND session_id = $2 ORDER BY seq DESC LIMIT 1"
            ),
            &[self.ws(), text(&id)],
        )?;
        Ok(decode(rows, read_event, &self.store.location)?.pop())
    }

    fn append(&mut self, id: &str, event: &StoredEvent) -> Result<()> {
        self.execute(
            "INSERT INTO events (workspace, session_id, n, at, kind, phase, data, state, prev_hash, hash, tag)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                self.ws(),
                text(&id),
                (&event.n, Type::INT8),
                text(&event.at),
                text(&event.kind),
                text(&event.phase),
                text(&event.data),
                text(&event.state),
                text(&event.prev_hash),
                text(&event.hash),
                text(&event.tag),
            ],
        )?;
        Ok(())
    }

    fn put(&mut self, row: &Row) -> Result<()> {
        self.execute(
            &format!(
                "INSERT INTO sessions (workspace, {ROW_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (workspace, id) DO UPDATE SET
                    workflow_id = EXCLUDED.workflow_id, workflow_version = EXCLUDED.workflow_version,
                    workflow_digest = EXCLUDED.workflow_digest, workflow_json = EXCLUDED.workflow_json,
                    workflow_source = EXCLUDED.workflow_source, config_json = EXCLUDED.config_json,
                    inputs = EXCLUDED.inputs, created_at = EXCLUDED.created_at,
                    updated_at = EXCLUDED.updated_at, status = EXCLUDED.status, state = EXCLUDED.state,
                    event_count = EXCLUDED.event_count, head_hash = EXCLUDED.head_hash, tag = EXCLUDED.tag"
            ),
            &[
                self.ws(),
                text(&row.id),
                text(&row.workflow_id),
                text(&row.workflow_version),
                text(&row.workflow_digest),
                text(&row.workflow_json),
                text(&row.workflow_source),
                text(&row.config_json),
                text(&row.inputs),
                text(&row.created_at),
                text(&row.updated_at),
                text(&row.status),
                text(&row.state),
                (&row.event_count, Type::INT8),
                text(&row.head_hash),
                text(&row.tag),
            ],
        )?;
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<()> {
        self.execute(
            "DELETE FROM events WHERE workspace = $1 AND session_id = $2",
            &[self.ws(), text(&id)],
        )?;
        self.execute(
            "DELETE FROM sessions WHERE workspace = $1 AND id = $2",
            &[self.ws(), text(&id)],
        )?;
        Ok(())
    }

    fn audit_entry(&mut self, id: &str) -> Result<Option<(Deletion, String)>> {
        let rows = self.query(
            &format!(
                "SELECT {AUDIT_COLUMNS} FROM deleted_sessions WHERE workspace = $1 AND id = $2"
            ),
            &[self.ws(), text(&id)],
        )?;
        Ok(decode(rows, read_entry, &self.store.location)?.pop())
    }

    fn audit_entries(&mut self) -> Result<Vec<(Deletion, String)>> {
        let rows = self.query(
            &format!(
                "SELECT {AUDIT_COLUMNS} FROM deleted_sessions WHERE workspace = $1 ORDER BY deleted_at DESC, id"
            ),
            &[self.ws()],
        )?;
        decode(rows, read_entry, &self.store.location)
    }

    fn add_audit_entry(&mut self, entry: &Deletion, tag: &str) -> Result<()> {
        self.execute(
            &format!(
                "INSERT INTO deleted_sessions (workspace, {AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            &[
                self.ws(),
                text(&entry.id),
                text(&entry.workflow_id),
                text(&entry.workflow_version),
                text(&entry.status),
                text(&entry.created_at),
                text(&entry.deleted_at),
                (&entry.events, Type::INT8),
                text(&entry.head_hash),
                text(&entry.deleted_by),
                text(&entry.reason),
                text(&tag),
            ],
        )?;
        Ok(())
    }

    fn finished_before(&mut self, cutoff: &str) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT id FROM sessions WHERE workspace = $1 AND status IN ('completed', 'abandoned') AND updated_at < $2 ORDER BY updated_at",
            &[self.ws(), text(&cutoff)],
        )?;
        decode(rows, |r| r.try_get(0), &self.store.location)
    }

    fn meta(&mut self, name: &str) -> Result<Option<String>> {
        let rows = self.query(
            "SELECT value FROM meta WHERE workspace = $1 AND name = $2",
            &[self.ws(), text(&name)],
        )?;
        Ok(decode(rows, |r| r.try_get(0), &self.store.location)?.pop())
    }

    fn set_meta(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(value) => self.execute(
                "INSERT INTO meta (workspace, name, value) VALUES ($1, $2, $3) ON CONFLICT (workspace, name) DO UPDATE SET value = EXCLUDED.value",
                &[self.ws(), text(&name), text(&value)],
            )?,
            None => self.execute(
                "DELETE FROM meta WHERE workspace = $1 AND name = $2",
                &[self.ws(), text(&name)],
            )?,
        };
        Ok(())
    }

    fn claim(&mut self, name: &str, value: &str) -> Result<Option<String>> {
        // A concurrent claim of the same name waits on the unique key and
        // then inserts nothing; the value it then reads is the winner's.
        let inserted = self.execute(
            "INSERT INTO meta (workspace, name, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[self.ws(), text(&name), text(&value)],
        )?;
        if inserted == 1 {
            return Ok(None);
        }
        let rows = self.query(
            "SELECT value FROM meta WHERE workspace = $1 AND name = $2",
            &[self.ws(), text(&name)],
        )?;
        Ok(decode(rows, |r| r.try_get(0), &self.store.location)?.pop())
    }
}
