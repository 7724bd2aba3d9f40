//! The shared backend: PostgreSQL, for several `checkrail serve` replicas
//! (and the session CLI) on one database. Rows are keyed by workspace (its
//! canonical path), so one database serves many workspaces.
//!
//! A change locks its session row with `SELECT … FOR UPDATE` in a READ
//! COMMITTED transaction: a second writer waits for the first to commit,
//! then reads the row it wrote, exactly as SQLite's IMMEDIATE transaction
//! serializes writers on one file. Reads run in a REPEATABLE READ, READ
//! ONLY transaction (one snapshot); a row with the head of its log, the
//! read every check and change starts with, is one statement (its own
//! snapshot) and needs no transaction.
//!
//! Round trips are what a change costs here, so each statement is
//! prepared once per connection ([`sql`]) and a transaction's statements
//! are pipelined ([`pipeline`]): a change is three round trips (the row
//! and its head to decide on; `BEGIN`, the locked row and the head again;
//! the events, the row and `COMMIT`).
//!
//! The store's API is synchronous (the service runs on the blocking
//! pool); the driver is async. The store owns a current-thread runtime
//! that calls drive from the caller's thread (`Runtime::block_on`): the
//! thread that waits for an answer also reads it off the socket, so a
//! round trip wakes no other thread (with a worker thread driving the
//! connections, each one cost two cross-thread wake-ups). Concurrent calls
//! take turns driving it. Inside a multi-threaded runtime a call goes
//! through `block_in_place`, so a worker is never blocked without telling
//! its scheduler.

use std::future::Future;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, Config, NoTls};

use super::backend::{Backend, Head, Migrations, Records};
use super::record::Version;
use super::{Row, StoredEvent};
use crate::{Error, Result};
use pipeline::{Mode, Tx};
use records::PgRecords;
use sql::{Prepared, Sql};

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

/// One workspace's sessions in a PostgreSQL database.
pub(super) struct Postgres {
    runtime: Option<tokio::runtime::Runtime>,
    config: Config,
    location: String,
    workspace: String,
    idle: Mutex<Pool>,
    freed: Condvar,
}

/// How long a pooled connection may sit idle and still be used without a
/// check. While idle nothing polls it (the runtime runs only inside a
/// call), so a connection the server closed meanwhile (a restart, an idle
/// timeout) is not yet known to be closed: after this long, an empty query
/// asks first. Connections in steady use never pay for it.
const TRUSTED_IDLE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Pool {
    idle: Vec<(Conn, Instant)>,
    leased: usize,
}

/// A connection and, once it has served records, the statements prepared
/// on it.
struct Conn {
    client: Client,
    prepared: Option<Prepared>,
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
        let runtime = tokio::runtime::Builder::new_current_thread()
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
        let Some(runtime) = &self.runtime else {
            unreachable!("the runtime is only taken when the store is dropped")
        };
        match tokio::runtime::Handle::try_current() {
            Ok(current)
                if current.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
            {
                tokio::task::block_in_place(|| runtime.block_on(future))
            }
            _ => runtime.block_on(future),
        }
    }

    /// A connection from the pool, or a new one while fewer than
    /// [`MAX_CONNECTIONS`] are out.
    fn lease(&self) -> Result<Lease<'_>> {
        loop {
            let pooled = {
                let mut pool = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(idle) = pool.idle.pop() {
                        pool.leased += 1;
                        break Some(idle);
                    }
                    if pool.leased < MAX_CONNECTIONS {
                        pool.leased += 1;
                        break None;
                    }
                    pool = self.freed.wait(pool).unwrap_or_else(|e| e.into_inner());
                }
            };
            // Counted as leased from here: dropped without a connection,
            // it only frees its place.
            let mut lease = Lease {
                store: self,
                conn: None,
                in_transaction: false,
            };
            match pooled {
                Some((conn, since)) => {
                    if self.alive(&conn, since) {
                        lease.conn = Some(conn);
                        return Ok(lease);
                    }
                }
                None => {
                    lease.conn = Some(self.connect()?);
                    return Ok(lease);
                }
            }
        }
    }

    /// Whether a pooled connection can serve: not closed, and when it sat
    /// idle longer than [`TRUSTED_IDLE`], answering an empty query.
    fn alive(&self, conn: &Conn, idle_since: Instant) -> bool {
        !conn.client.is_closed()
            && (idle_since.elapsed() < TRUSTED_IDLE
                || self.block_on(conn.client.batch_execute("")).is_ok())
    }

    fn connect(&self) -> Result<Conn> {
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
        Ok(Conn {
            client,
            prepared: None,
        })
    }

    fn migrate(&self) -> Result<()> {
        let mut lease = self.lease()?;
        let client = &mut lease.conn()?.client;
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

    /// Runs `work` in a transaction of `mode`, committed when it returns
    /// `Ok`. Nothing is sent until `work` reads; what it writes is sent
    /// with its next read or with `COMMIT` ([`pipeline`]).
    /// Rolls back what `tx` left open; a rollback that fails leaves the
    /// connection inside the transaction, so it is not pooled again.
    fn roll_back(&self, tx: &mut Tx<'_>) {
        if let Err(e) = self.block_on(tx.rollback()) {
            tracing::debug!("rolling back on the session database failed: {e}");
        }
    }

    fn transaction<T>(
        &self,
        mode: Mode,
        work: impl FnOnce(&mut dyn Records) -> Result<T>,
    ) -> Result<T> {
        let mut lease = self.lease()?;
        // Until the transaction is seen to end, the connection must not
        // go back to the pool (a panic in `work` included).
        lease.in_transaction = true;
        let (client, prepared) = lease.ready()?;
        let mut records = PgRecords {
            store: self,
            tx: Tx::new(client, prepared, mode),
        };
        let worked = work(&mut records);
        let tx = &mut records.tx;
        let ended = worked.and_then(|value| match tx.failed() {
            // `work` went on after a statement failed: the server rolled
            // the transaction back, so nothing it wrote is stored.
            Some(failed) => Err(Error::Internal(format!(
                "a change to `{}` was abandoned after a statement failed: {failed}",
                self.location
            ))),
            None => self
                .block_on(tx.commit())
                .map_err(self.fail())
                .map(|()| value),
        });
        if ended.is_err() {
            self.roll_back(tx);
        }
        let open = tx.is_open();
        drop(records);
        lease.in_transaction = open;
        ended
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

/// A pooled connection, back to the pool when dropped (unless it was
/// left inside a transaction).
struct Lease<'a> {
    store: &'a Postgres,
    conn: Option<Conn>,
    in_transaction: bool,
}

impl Lease<'_> {
    fn conn(&mut self) -> Result<&mut Conn> {
        self.conn.as_mut().ok_or_else(|| {
            Error::Internal("a database connection was used after its release".to_owned())
        })
    }

    /// The connection with its statements prepared (once per connection:
    /// one round trip when it first serves records).
    fn ready(&mut self) -> Result<(&Client, &Prepared)> {
        let store = self.store;
        let conn = self.conn()?;
        let prepared = match conn.prepared.take() {
            Some(prepared) => prepared,
            None => store
                .block_on(Prepared::on(&conn.client))
                .map_err(store.fail())?,
        };
        let prepared = conn.prepared.insert(prepared);
        Ok((&conn.client, prepared))
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = self.store.idle.lock().unwrap_or_else(|e| e.into_inner());
        pool.leased = pool.leased.saturating_sub(1);
        if let Some(conn) = self.conn.take()
            && !conn.client.is_closed()
            && !self.in_transaction
        {
            pool.idle.push((conn, Instant::now()));
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
        self.transaction(Mode::Write, work)
    }

    fn read<T>(&self, work: impl FnOnce(&mut dyn Records) -> Result<T>) -> Result<T> {
        self.transaction(Mode::Read, work)
    }

    /// One statement, one round trip, no transaction: a statement sees
    /// one snapshot of both tables.
    fn head(&self, id: &str) -> Result<Option<(Row, Option<StoredEvent>)>> {
        let rows = self.statement(Sql::Head, &[&self.workspace, &id])?;
        records::joined_head(&rows, &self.location)
    }

    fn meta(&self, name: &str) -> Result<Option<String>> {
        let rows = self.statement(Sql::Meta, &[&self.workspace, &name])?;
        rows.first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(self.fail())
    }

    fn metas(&self, names: &[String]) -> Result<Vec<Option<String>>> {
        let rows = self.statement(Sql::Metas, &[&self.workspace, &names])?;
        self.metas_of(&rows, names)
    }

    /// One round trip: `BEGIN`, the row written only while it and the
    /// log's last event are the versions read ([`Sql::UpdateUnchanged`]),
    /// each event appended only when the row was ([`Sql::AppendWritten`]),
    /// `COMMIT`.
    fn write_unchanged(
        &self,
        seen: &Version,
        row: &Row,
        events: &[StoredEvent],
    ) -> Result<Option<Version>> {
        let Some(last) = events.last() else {
            return Ok(None);
        };
        let update = records::update_unchanged_params(&self.workspace, row, seen);
        let appends: Vec<Vec<pipeline::Owned>> = events
            .iter()
            .map(|event| records::event_params(&self.workspace, &row.id, event))
            .collect();
        let update = borrowed(&update);
        let appends: Vec<Vec<pipeline::Param<'_>>> = appends.iter().map(|p| borrowed(p)).collect();
        let mut statements = vec![(Sql::UpdateUnchanged, update.as_slice())];
        statements.extend(appends.iter().map(|p| (Sql::AppendWritten, p.as_slice())));

        let mut lease = self.lease()?;
        lease.in_transaction = true;
        let (client, prepared) = lease.ready()?;
        let mut tx = Tx::new(client, prepared, Mode::Write);
        let answered = self.block_on(tx.read_and_commit(&statements));
        self.roll_back(&mut tx);
        let open = tx.is_open();
        drop(tx);
        lease.in_transaction = open;
        let answers = answered.map_err(self.fail())?;
        let version = |at: usize, column: usize| -> Result<Option<i64>> {
            answers
                .get(at)
                .and_then(|rows| rows.first())
                .map(|r| r.try_get(column))
                .transpose()
                .map_err(self.fail())
        };
        let Some(written) = version(0, 0)? else {
            return Ok(None);
        };
        match (version(events.len(), 0)?, version(events.len(), 1)?) {
            (Some(head_seq), Some(head)) => Ok(Some(Version {
                row: written,
                head_seq,
                head,
            })),
            _ => Err(Error::Internal(format!(
                "the session `{}` was written without its event `{}`",
                row.id, last.kind
            ))),
        }
    }

    /// The two statements pipelined on one connection: one round trip.
    fn head_and_metas(&self, id: &str, names: &[String]) -> Result<(Head, Vec<Option<String>>)> {
        let mut lease = self.lease()?;
        let (client, prepared) = lease.ready()?;
        let head: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&self.workspace, &id];
        let metas: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&self.workspace, &names];
        let requests = vec![
            Box::pin(client.query(prepared.get(Sql::Head), &head)),
            Box::pin(client.query(prepared.get(Sql::Metas), &metas)),
        ];
        let mut answers = self.block_on(pipeline::pipelined(requests)).into_iter();
        let (Some(head), Some(metas)) = (answers.next(), answers.next()) else {
            return Err(Error::Internal(
                "a pipelined read came back without its two answers".to_owned(),
            ));
        };
        let head = records::joined_head(&head.map_err(self.fail())?, &self.location)?;
        let metas = self.metas_of(&metas.map_err(self.fail())?, names)?;
        Ok((head, metas))
    }
}

/// Owned parameters as the borrowed ones a statement takes.
fn borrowed(params: &[pipeline::Owned]) -> Vec<pipeline::Param<'_>> {
    params.iter().map(|p| &**p as pipeline::Param<'_>).collect()
}

impl Postgres {
    /// The values of `names` in the rows a [`Sql::Metas`] read returned,
    /// in their order (`None` for a name without a row).
    fn metas_of(
        &self,
        rows: &[tokio_postgres::Row],
        names: &[String],
    ) -> Result<Vec<Option<String>>> {
        let mut found = std::collections::HashMap::new();
        for row in rows {
            let (name, value): (String, String) = (
                row.try_get(0).map_err(self.fail())?,
                row.try_get(1).map_err(self.fail())?,
            );
            found.insert(name, value);
        }
        Ok(names.iter().map(|name| found.get(name).cloned()).collect())
    }

    /// Runs one statement outside any transaction: one round trip.
    fn statement(
        &self,
        sql: Sql,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let mut lease = self.lease()?;
        let (client, prepared) = lease.ready()?;
        self.block_on(client.query(prepared.get(sql), params))
            .map_err(self.fail())
    }
}

mod pipeline;
mod records;
mod sql;
