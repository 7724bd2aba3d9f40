//! The records of one PostgreSQL transaction: session rows, their events,
//! the deletion audit and the store's notes, read and written as SQL.

use tokio_postgres::types::ToSql;

use super::super::backend::{Records, RowQuery};
use super::super::record::Version;
use super::super::{Deletion, Row, StoredEvent};
use super::pipeline::{Mode, Owned, Param, Tx};
use super::sql::{HEAD_EVENT_AT, HEAD_VERSIONS_AT, Sql};
use super::{Postgres, pg_error};
use crate::Result;

pub(super) struct PgRecords<'a> {
    pub(super) store: &'a Postgres,
    pub(super) tx: Tx<'a>,
}

impl PgRecords<'_> {
    /// Runs `reads` in one round trip (with what was queued before them).
    fn fetch(&mut self, reads: &[(Sql, &[Param<'_>])]) -> Result<Vec<Vec<tokio_postgres::Row>>> {
        self.store
            .block_on(self.tx.read(reads))
            .map_err(self.store.fail())
    }

    fn query(&mut self, sql: Sql, params: &[Param<'_>]) -> Result<Vec<tokio_postgres::Row>> {
        Ok(self.fetch(&[(sql, params)])?.pop().unwrap_or_default())
    }

    /// Queues a write: it goes out with the next read, or with `COMMIT`.
    fn write(&mut self, sql: Sql, params: Vec<Owned>) {
        self.tx.queue(sql, params);
    }

    fn ws(&self) -> Owned {
        owned(self.store.workspace.clone())
    }
}

fn owned<T: ToSql + Sync + 'static>(value: T) -> Owned {
    Box::new(value)
}

/// The parameters of [`Sql::Append`] and [`Sql::AppendWritten`].
pub(super) fn event_params(workspace: &str, id: &str, event: &StoredEvent) -> Vec<Owned> {
    vec![
        owned(workspace.to_owned()),
        owned(id.to_owned()),
        owned(event.n),
        owned(event.at.clone()),
        owned(event.kind.clone()),
        owned(event.phase.clone()),
        owned(event.data.clone()),
        owned(event.state.clone()),
        owned(event.prev_hash.clone()),
        owned(event.hash.clone()),
        owned(event.tag.clone()),
    ]
}

/// The parameters of [`Sql::Update`] (the first eight of
/// [`Sql::UpdateUnchanged`]).
pub(super) fn update_params(workspace: &str, row: &Row) -> Vec<Owned> {
    let mut params = vec![owned(workspace.to_owned()), owned(row.id.clone())];
    params.extend(changing_params(row));
    params
}

/// The columns a change writes, in the order every statement that writes
/// a row takes them last.
fn changing_params(row: &Row) -> [Owned; 6] {
    [
        owned(row.updated_at.clone()),
        owned(row.status.clone()),
        owned(row.state.clone()),
        owned(row.event_count),
        owned(row.head_hash.clone()),
        owned(row.tag.clone()),
    ]
}

/// [`Sql::UpdateUnchanged`]'s parameters: [`update_params`] and the
/// versions `seen` read.
pub(super) fn update_unchanged_params(workspace: &str, row: &Row, seen: &Version) -> Vec<Owned> {
    let mut params = update_params(workspace, row);
    params.extend([owned(seen.row), owned(seen.head_seq), owned(seen.head)]);
    params
}

/// The row and log head [`Sql::Head`] answered.
pub(super) fn joined_head(
    rows: &[tokio_postgres::Row],
    location: &str,
) -> Result<Option<(Row, Option<StoredEvent>)>> {
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let read = || {
        let mut row = read_row(r)?;
        let seq: Option<i64> = r.try_get(HEAD_EVENT_AT)?;
        let head = match seq {
            Some(_) => Some(read_event_at(r, HEAD_EVENT_AT)?),
            None => None,
        };
        let event: Option<i64> = r.try_get(HEAD_VERSIONS_AT)?;
        let written: Option<i64> = r.try_get(HEAD_VERSIONS_AT + 1)?;
        row.version = match (&head, event, written) {
            (Some(head), Some(event), Some(written)) => Some(Version {
                row: written,
                head_seq: head.seq,
                head: event,
            }),
            _ => None,
        };
        Ok((row, head))
    };
    read().map(Some).map_err(|e| pg_error(location, e))
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
        version: None,
    })
}

fn read_event(r: &tokio_postgres::Row) -> std::result::Result<StoredEvent, tokio_postgres::Error> {
    read_event_at(r, 0)
}

/// An event whose columns start at `at`.
fn read_event_at(
    r: &tokio_postgres::Row,
    at: usize,
) -> std::result::Result<StoredEvent, tokio_postgres::Error> {
    Ok(StoredEvent {
        seq: r.try_get(at)?,
        n: r.try_get(at + 1)?,
        at: r.try_get(at + 2)?,
        kind: r.try_get(at + 3)?,
        phase: r.try_get(at + 4)?,
        data: r.try_get(at + 5)?,
        state: r.try_get(at + 6)?,
        prev_hash: r.try_get(at + 7)?,
        hash: r.try_get(at + 8)?,
        tag: r.try_get(at + 9)?,
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
    fn head(&mut self, id: &str) -> Result<Option<(Row, Option<StoredEvent>)>> {
        let store = self.store;
        let params: &[Param<'_>] = &[&store.workspace, &id];
        if self.tx.mode() == Mode::Read {
            let rows = self.query(Sql::Head, params)?;
            return joined_head(&rows, &store.location);
        }
        // Two statements, not the join: the second runs after the lock is
        // granted, so it sees the events of the writer it waited for.
        let mut answers = self
            .fetch(&[(Sql::RowLocked, params), (Sql::LastEvent, params)])?
            .into_iter();
        let (rows, last) = (
            answers.next().unwrap_or_default(),
            answers.next().unwrap_or_default(),
        );
        let Some(row) = decode(rows, read_row, &store.location)?.pop() else {
            return Ok(None);
        };
        Ok(Some((
            row,
            decode(last, read_event, &store.location)?.pop(),
        )))
    }

    fn row(&mut self, id: &str) -> Result<Option<Row>> {
        let store = self.store;
        let sql = match self.tx.mode() {
            Mode::Write => Sql::RowLocked,
            Mode::Read => Sql::Row,
        };
        let rows = self.query(sql, &[&store.workspace, &id])?;
        Ok(decode(rows, read_row, &store.location)?.pop())
    }

    fn rows(&mut self, query: &RowQuery<'_>) -> Result<Vec<Row>> {
        let store = self.store;
        let limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let rows = self.query(
            Sql::Rows,
            &[
                &store.workspace,
                &query.status,
                &query.workflow,
                &limit,
                &offset,
            ],
        )?;
        decode(rows, read_row, &store.location)
    }

    fn count(&mut self, query: &RowQuery<'_>) -> Result<u64> {
        let store = self.store;
        let rows = self.query(
            Sql::Count,
            &[&store.workspace, &query.status, &query.workflow],
        )?;
        let counted = decode(
            rows,
            |r| {
                let n: i64 = r.try_get(0)?;
                Ok(u64::try_from(n).unwrap_or(0))
            },
            &store.location,
        )?;
        Ok(counted.into_iter().next().unwrap_or(0))
    }

    fn count_by_status(&mut self) -> Result<Vec<(String, u64)>> {
        let store = self.store;
        let rows = self.query(Sql::CountByStatus, &[&store.workspace])?;
        decode(
            rows,
            |r| {
                let count: i64 = r.try_get(1)?;
                Ok((r.try_get(0)?, u64::try_from(count).unwrap_or(0)))
            },
            &store.location,
        )
    }

    fn events(&mut self, id: &str) -> Result<Vec<StoredEvent>> {
        let store = self.store;
        let rows = self.query(Sql::Events, &[&store.workspace, &id])?;
        decode(rows, read_event, &store.location)
    }

    fn last_event(&mut self, id: &str) -> Result<Option<StoredEvent>> {
        let store = self.store;
        let rows = self.query(Sql::LastEvent, &[&store.workspace, &id])?;
        Ok(decode(rows, read_event, &store.location)?.pop())
    }

    fn append(&mut self, id: &str, event: &StoredEvent) -> Result<()> {
        let params = event_params(&self.store.workspace, id, event);
        self.write(Sql::Append, params);
        Ok(())
    }

    fn put(&mut self, row: &Row) -> Result<()> {
        let mut params = vec![
            self.ws(),
            owned(row.id.clone()),
            owned(row.workflow_id.clone()),
            owned(row.workflow_version.clone()),
            owned(row.workflow_digest.clone()),
            owned(row.workflow_json.clone()),
            owned(row.workflow_source.clone()),
            owned(row.config_json.clone()),
            owned(row.inputs.clone()),
            owned(row.created_at.clone()),
        ];
        params.extend(changing_params(row));
        self.write(Sql::Put, params);
        Ok(())
    }

    fn update(&mut self, row: &Row) -> Result<()> {
        let params = update_params(&self.store.workspace, row);
        self.write(Sql::Update, params);
        Ok(())
    }

    fn remove(&mut self, id: &str) -> Result<()> {
        let params = || vec![self.ws(), owned(id.to_owned())];
        let (events, row) = (params(), params());
        self.write(Sql::RemoveEvents, events);
        self.write(Sql::RemoveRow, row);
        Ok(())
    }

    fn retag_event(&mut self, seq: i64, tag: &str) -> Result<()> {
        let params = vec![self.ws(), owned(tag.to_owned()), owned(seq)];
        self.write(Sql::RetagEvent, params);
        Ok(())
    }

    fn retag_audit_entry(&mut self, id: &str, tag: &str) -> Result<()> {
        let params = vec![self.ws(), owned(tag.to_owned()), owned(id.to_owned())];
        self.write(Sql::RetagAuditEntry, params);
        Ok(())
    }

    fn audit_entry(&mut self, id: &str) -> Result<Option<(Deletion, String)>> {
        let store = self.store;
        let rows = self.query(Sql::AuditEntry, &[&store.workspace, &id])?;
        Ok(decode(rows, read_entry, &store.location)?.pop())
    }

    fn audit_entries(&mut self) -> Result<Vec<(Deletion, String)>> {
        let store = self.store;
        let rows = self.query(Sql::AuditEntries, &[&store.workspace])?;
        decode(rows, read_entry, &store.location)
    }

    fn add_audit_entry(&mut self, entry: &Deletion, tag: &str) -> Result<()> {
        let params = vec![
            self.ws(),
            owned(entry.id.clone()),
            owned(entry.workflow_id.clone()),
            owned(entry.workflow_version.clone()),
            owned(entry.status.clone()),
            owned(entry.created_at.clone()),
            owned(entry.deleted_at.clone()),
            owned(entry.events),
            owned(entry.head_hash.clone()),
            owned(entry.deleted_by.clone()),
            owned(entry.reason.clone()),
            owned(tag.to_owned()),
        ];
        self.write(Sql::AddAuditEntry, params);
        Ok(())
    }

    fn finished_before(&mut self, cutoff: &str) -> Result<Vec<String>> {
        let store = self.store;
        let rows = self.query(Sql::FinishedBefore, &[&store.workspace, &cutoff])?;
        decode(rows, |r| r.try_get(0), &store.location)
    }

    fn meta(&mut self, name: &str) -> Result<Option<String>> {
        let store = self.store;
        let rows = self.query(Sql::Meta, &[&store.workspace, &name])?;
        Ok(decode(rows, |r| r.try_get(0), &store.location)?.pop())
    }

    fn set_meta(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(value) => {
                let params = vec![self.ws(), owned(name.to_owned()), owned(value.to_owned())];
                self.write(Sql::SetMeta, params);
            }
            None => {
                let params = vec![self.ws(), owned(name.to_owned())];
                self.write(Sql::DeleteMeta, params);
            }
        }
        Ok(())
    }

    fn claim(&mut self, name: &str, value: &str) -> Result<Option<String>> {
        // A concurrent claim of the same name waits on the unique key and
        // then inserts nothing; the value the next statement reads (a
        // snapshot taken after that wait) is the winner's.
        let store = self.store;
        let mut answers = self
            .fetch(&[
                (Sql::Claim, &[&store.workspace, &name, &value]),
                (Sql::Meta, &[&store.workspace, &name]),
            ])?
            .into_iter();
        let (inserted, found) = (
            answers.next().unwrap_or_default(),
            answers.next().unwrap_or_default(),
        );
        if !inserted.is_empty() {
            return Ok(None);
        }
        Ok(decode(found, |r| r.try_get(0), &store.location)?.pop())
    }
}
