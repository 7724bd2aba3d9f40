//! The records of one PostgreSQL transaction: session rows, their events,
//! the deletion audit and the store's notes, read and written as SQL.

use tokio_postgres::Transaction;
use tokio_postgres::types::{ToSql, Type};

use super::super::backend::{Records, RowQuery};
use super::super::{Deletion, Row, StoredEvent};
use super::{AUDIT_COLUMNS, EVENT_COLUMNS, Postgres, ROW_COLUMNS, pg_error};
use crate::Result;

pub(super) struct PgRecords<'a> {
    pub(super) store: &'a Postgres,
    pub(super) tx: &'a Transaction<'a>,
    /// Whether rows read are locked (a write transaction).
    pub(super) lock: bool,
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

    fn rows(&mut self, query: &RowQuery<'_>) -> Result<Vec<Row>> {
        let limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let rows = self.query(
            &format!(
                "SELECT {ROW_COLUMNS} FROM sessions WHERE workspace = $1 AND id IN (SELECT id FROM sessions WHERE workspace = $1 AND ($2::TEXT IS NULL OR status = $2) AND ($3::TEXT IS NULL OR strpos(workflow_id, $3) > 0) ORDER BY updated_at DESC, id LIMIT $4 OFFSET $5) ORDER BY updated_at DESC, id"
            ),
            &[
                self.ws(),
                text(&query.status),
                text(&query.workflow),
                (&limit, Type::INT8),
                (&offset, Type::INT8),
            ],
        )?;
        decode(rows, read_row, &self.store.location)
    }

    fn count(&mut self, query: &RowQuery<'_>) -> Result<u64> {
        let rows = self.query(
            "SELECT COUNT(*) FROM sessions WHERE workspace = $1 AND ($2::TEXT IS NULL OR status = $2) AND ($3::TEXT IS NULL OR strpos(workflow_id, $3) > 0)",
            &[self.ws(), text(&query.status), text(&query.workflow)],
        )?;
        let counted = decode(
            rows,
            |r| {
                let n: i64 = r.try_get(0)?;
                Ok(u64::try_from(n).unwrap_or(0))
            },
            &self.store.location,
        )?;
        Ok(counted.into_iter().next().unwrap_or(0))
    }

    fn count_by_status(&mut self) -> Result<Vec<(String, u64)>> {
        let rows = self.query(
            "SELECT status, COUNT(*) FROM sessions WHERE workspace = $1 GROUP BY status",
            &[self.ws()],
        )?;
        decode(
            rows,
            |r| {
                let count: i64 = r.try_get(1)?;
                Ok((r.try_get(0)?, u64::try_from(count).unwrap_or(0)))
            },
            &self.store.location,
        )
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

    fn retag_event(&mut self, seq: i64, tag: &str) -> Result<()> {
        self.execute(
            "UPDATE events SET tag = $2 WHERE workspace = $1 AND seq = $3",
            &[self.ws(), text(&tag), (&seq, Type::INT8)],
        )?;
        Ok(())
    }

    fn retag_audit_entry(&mut self, id: &str, tag: &str) -> Result<()> {
        self.execute(
            "UPDATE deleted_sessions SET tag = $2 WHERE workspace = $1 AND id = $3",
            &[self.ws(), text(&tag), text(&id)],
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
