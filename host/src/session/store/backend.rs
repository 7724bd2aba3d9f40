//! What a backend does: persist and read rows inside transactions. It
//! computes no hash and checks no tag; [`super::Store`] does, the same way
//! over every backend.

use super::record::Version;
use super::{Deletion, Row, StoredEvent};
use crate::{Error, Result};

/// A session's row and the last event of its log, as read together
/// (`None`: no such session).
pub(super) type Head = Option<(Row, Option<StoredEvent>)>;

/// A database that holds sessions.
pub(super) trait Backend: Send + Sync + 'static {
    /// Where the records live, for messages (never a password).
    fn location(&self) -> String;

    /// The workspace key of this store's rows when the database is shared
    /// by several workspaces; tags then bind it.
    fn scope(&self) -> Option<&str>;

    /// Runs `work` in a write transaction, committed when it returns `Ok`
    /// and rolled back otherwise. A row read with [`Records::row`] stays
    /// locked against other writers until then, so what `work` decides
    /// from it cannot be decided twice.
    fn write<T>(&self, work: impl FnOnce(&mut dyn Records) -> Result<T>) -> Result<T>;

    /// Runs `work` on one consistent snapshot (a row and its log read
    /// together never straddle another process's commit).
    fn read<T>(&self, work: impl FnOnce(&mut dyn Records) -> Result<T>) -> Result<T>;

    /// A session row and the last event of its log, read together: the
    /// read every check and change starts with. A backend that can read
    /// both in one statement (one snapshot) spares the transaction.
    fn head(&self, id: &str) -> Result<Option<(Row, Option<StoredEvent>)>> {
        self.read(|records| records.head(id))
    }

    /// The value of `name` in the store's notes, read on its own.
    fn meta(&self, name: &str) -> Result<Option<String>> {
        self.read(|records| records.meta(name))
    }

    /// The values of `names` in the store's notes, in their order, read
    /// together.
    fn metas(&self, names: &[String]) -> Result<Vec<Option<String>>> {
        self.read(|records| names.iter().map(|name| records.meta(name)).collect())
    }

    /// Writes a change (`row` as it is to be, `events` appended to its
    /// log) only if the session's row and the last event of its log are
    /// still the versions `seen` names and nothing follows that event,
    /// all in one transaction. `Some`: written, with the versions it
    /// wrote; `None`: something changed and nothing was written, or the
    /// backend cannot tell versions (the default), and the change takes
    /// the way of [`Backend::write`].
    fn write_unchanged(
        &self,
        seen: &Version,
        row: &Row,
        events: &[StoredEvent],
    ) -> Result<Option<Version>> {
        let _ = (seen, row, events);
        Ok(None)
    }

    /// [`Backend::head`] and [`Backend::metas`] at once (on PostgreSQL in
    /// one round trip); each is read as it would be on its own.
    fn head_and_metas(&self, id: &str, names: &[String]) -> Result<(Head, Vec<Option<String>>)> {
        Ok((self.head(id)?, self.metas(names)?))
    }
}

/// Which session rows to read: of one status, of workflows whose id holds
/// some text, one page of them (`limit` none: all from `offset`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RowQuery<'a> {
    pub status: Option<&'a str>,
    pub workflow: Option<&'a str>,
    pub limit: Option<u64>,
    pub offset: u64,
}

/// The rows of one workspace, inside a transaction.
pub(super) trait Records {
    /// A session row; in a write transaction, locked until it ends.
    fn row(&mut self, id: &str) -> Result<Option<Row>>;
    /// A session row (locked as [`Records::row`] locks it) and the last
    /// event of its log, read after the row.
    fn head(&mut self, id: &str) -> Result<Option<(Row, Option<StoredEvent>)>> {
        let Some(row) = self.row(id)? else {
            return Ok(None);
        };
        let head = self.last_event(id)?;
        Ok(Some((row, head)))
    }
    /// Session rows matching `query`, newest change first, the page it
    /// asks for.
    fn rows(&mut self, query: &RowQuery<'_>) -> Result<Vec<Row>>;
    /// How many session rows match `query` (its page aside).
    fn count(&mut self, query: &RowQuery<'_>) -> Result<u64>;
    /// How many session rows there are of each status, counted by the
    /// database (nothing decoded or verified).
    fn count_by_status(&mut self) -> Result<Vec<(String, u64)>>;
    /// A session's events in stored order.
    fn events(&mut self, id: &str) -> Result<Vec<StoredEvent>>;
    /// The last stored event of a session.
    fn last_event(&mut self, id: &str) -> Result<Option<StoredEvent>>;
    /// Appends an event (its stored order is assigned by the database).
    fn append(&mut self, id: &str, event: &StoredEvent) -> Result<()>;
    /// Writes a session row, inserting or replacing it.
    fn put(&mut self, row: &Row) -> Result<()>;
    /// Writes what a change changes on a row read in this transaction:
    /// its time, status, state, head and tag (what the session pinned at
    /// its start never changes).
    fn update(&mut self, row: &Row) -> Result<()> {
        self.put(row)
    }
    /// Removes a session's row and events.
    fn remove(&mut self, id: &str) -> Result<()>;
    /// The audit entry of a deleted session and its tag.
    fn audit_entry(&mut self, id: &str) -> Result<Option<(Deletion, String)>>;
    /// Every audit entry and its tag, newest first.
    fn audit_entries(&mut self) -> Result<Vec<(Deletion, String)>>;
    /// Records an audit entry.
    fn add_audit_entry(&mut self, entry: &Deletion, tag: &str) -> Result<()>;
    /// Completed or abandoned sessions last changed before `cutoff`,
    /// oldest first.
    fn finished_before(&mut self, cutoff: &str) -> Result<Vec<String>>;
    /// Sets `name` to `value` unless it is set; returns the value it
    /// already had.
    fn claim(&mut self, name: &str, value: &str) -> Result<Option<String>>;
    /// The value of `name`.
    fn meta(&mut self, name: &str) -> Result<Option<String>>;
    /// Sets `name` to `value`, or removes it with `None`.
    fn set_meta(&mut self, name: &str, value: Option<&str>) -> Result<()>;
    /// Replaces the tag of the event stored at `seq`.
    fn retag_event(&mut self, seq: i64, tag: &str) -> Result<()>;
    /// Replaces the tag of a deleted session's audit entry.
    fn retag_audit_entry(&mut self, id: &str, tag: &str) -> Result<()>;
}

/// Numbered schema changes, applied in order at open; `steps[0]` brings a
/// database from version 0 (nothing) to 1.
pub(super) struct Migrations {
    /// Which database, for messages.
    pub what: &'static str,
    /// The SQL of each version.
    pub steps: &'static [&'static str],
}

impl Migrations {
    /// The newest version this binary knows.
    pub fn latest(&self) -> i64 {
        self.steps.len() as i64
    }

    /// The steps to bring a database at `found` to the latest version, or
    /// a refusal when it is newer than this binary.
    pub fn pending(
        &self,
        found: i64,
        location: &str,
    ) -> Result<impl Iterator<Item = (i64, &'static str)>> {
        if found > self.latest() {
            return Err(Error::StoreRefused(format!(
                "open the {} `{location}`: its schema is version {found}, newer than this checkrail knows (version {}); it was upgraded by a newer checkrail, so use that one (every replica sharing a database needs it), or point --store at another database",
                self.what,
                self.latest()
            )));
        }
        let start = usize::try_from(found.max(0)).unwrap_or_default();
        Ok(self.steps[start..]
            .iter()
            .enumerate()
            .map(move |(i, sql)| (found.max(0) + 1 + i as i64, *sql)))
    }
}
