//! Every statement the store runs on its rows, prepared once per
//! connection: a change then sends only `Bind`/`Execute` for each, and the
//! server parses none of them again. "Prepared statements can be executed
//! repeatedly […] Prepared statements can only be used with the
//! connection that created them"
//! (<https://docs.rs/tokio-postgres/0.7/tokio_postgres/struct.Client.html#method.prepare>),
//! hence one set per pooled connection, prepared the first time it serves
//! records (after the migrations, which create the tables they name).

use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

use super::pipeline::pipelined;

/// The session row's columns, in the order [`super::records`] reads them.
macro_rules! row_columns {
    () => {
        "id, workflow_id, workflow_version, workflow_digest, workflow_json, workflow_source, \
         config_json, inputs, created_at, updated_at, status, state, event_count, head_hash, tag"
    };
}

/// An event's columns, in the order [`super::records`] reads them.
macro_rules! event_columns {
    () => {
        "seq, n, at, kind, phase, data, state, prev_hash, hash, tag"
    };
}

/// A deletion audit entry's columns, in the order [`super::records`] reads
/// them.
macro_rules! audit_columns {
    () => {
        "id, workflow_id, workflow_version, status, created_at, deleted_at, event_count, \
         head_hash, deleted_by, reason, tag"
    };
}

/// How many columns of a row come before the event's in [`Sql::Head`].
pub(super) const HEAD_EVENT_AT: usize = 15;

/// Where [`Sql::Head`] answers the versions read: the event's `xmin`,
/// then the row's.
pub(super) const HEAD_VERSIONS_AT: usize = HEAD_EVENT_AT + 10;

/// The store's statements; each is prepared on every connection, at the
/// index of its variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sql {
    /// A row and the last event of its log, in one statement (one
    /// snapshot). Not for a locked read: under `FOR UPDATE` a writer that
    /// waited would re-check the row it locked but not the log it joined.
    Head,
    Row,
    RowLocked,
    Rows,
    Count,
    CountByStatus,
    Events,
    LastEvent,
    Append,
    Put,
    /// What a change changes on an existing row.
    Update,
    /// [`Sql::Update`] only while the row and the last event of its log
    /// are the versions read (their `xmin`) and nothing follows that
    /// event; answers the row's new version when it wrote.
    UpdateUnchanged,
    /// [`Sql::Append`] only when this transaction's
    /// [`Sql::UpdateUnchanged`] wrote (the row's version is this
    /// transaction's: not its tag, which another writer making the very
    /// same change would have written too); answers the event's position
    /// and version.
    AppendWritten,
    RemoveEvents,
    RemoveRow,
    RetagEvent,
    RetagAuditEntry,
    AuditEntry,
    AuditEntries,
    AddAuditEntry,
    FinishedBefore,
    Meta,
    /// The values of several names.
    Metas,
    SetMeta,
    DeleteMeta,
    /// Inserts a name unless set; answers a row when it did.
    Claim,
}

impl Sql {
    pub(super) const ALL: [Sql; 26] = [
        Sql::Head,
        Sql::Row,
        Sql::RowLocked,
        Sql::Rows,
        Sql::Count,
        Sql::CountByStatus,
        Sql::Events,
        Sql::LastEvent,
        Sql::Append,
        Sql::Put,
        Sql::Update,
        Sql::UpdateUnchanged,
        Sql::AppendWritten,
        Sql::RemoveEvents,
        Sql::RemoveRow,
        Sql::RetagEvent,
        Sql::RetagAuditEntry,
        Sql::AuditEntry,
        Sql::AuditEntries,
        Sql::AddAuditEntry,
        Sql::FinishedBefore,
        Sql::Meta,
        Sql::Metas,
        Sql::SetMeta,
        Sql::DeleteMeta,
        Sql::Claim,
    ];

    fn text(self) -> &'static str {
        match self {
            Sql::Head => concat!(
                "SELECT ",
                row_columns!(),
                ", e.*, sessions.xmin::text::bigint AS row_xmin FROM sessions LEFT JOIN LATERAL (
                    SELECT seq, n, at, kind, phase, data, state AS event_state, prev_hash, hash, tag AS event_tag,
                        events.xmin::text::bigint AS event_xmin
                    FROM events WHERE events.workspace = sessions.workspace AND session_id = sessions.id
                    ORDER BY seq DESC LIMIT 1
                ) e ON TRUE
                WHERE sessions.workspace = $1 AND sessions.id = $2"
            ),
            Sql::Row => concat!(
                "SELECT ",
                row_columns!(),
                " FROM sessions WHERE workspace = $1 AND id = $2"
            ),
            Sql::RowLocked => concat!(
                "SELECT ",
                row_columns!(),
                " FROM sessions WHERE workspace = $1 AND id = $2 FOR UPDATE"
            ),
            Sql::Rows => concat!(
                "SELECT ",
                row_columns!(),
                " FROM sessions WHERE workspace = $1 AND id IN (
                    SELECT id FROM sessions WHERE workspace = $1
                    AND ($2::TEXT IS NULL OR status = $2)
                    AND ($3::TEXT IS NULL OR strpos(workflow_id, $3) > 0)
                    ORDER BY updated_at DESC, id LIMIT $4 OFFSET $5
                ) ORDER BY updated_at DESC, id"
            ),
            Sql::Count => {
                "SELECT COUNT(*) FROM sessions WHERE workspace = $1
                 AND ($2::TEXT IS NULL OR status = $2)
                 AND ($3::TEXT IS NULL OR strpos(workflow_id, $3) > 0)"
            }
            Sql::CountByStatus => {
                "SELECT status, COUNT(*) FROM sessions WHERE workspace = $1 GROUP BY status"
            }
            Sql::Events => concat!(
                "SELECT ",
                event_columns!(),
                " FROM events WHERE workspace = $1 AND session_id = $2 ORDER BY seq"
            ),
            Sql::LastEvent => concat!(
                "SELECT ",
                event_columns!(),
                " FROM events WHERE workspace = $1 AND session_id = $2 ORDER BY seq DESC LIMIT 1"
            ),
            Sql::Append => {
                "INSERT INTO events (workspace, session_id, n, at, kind, phase, data, state, prev_hash, hash, tag)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            }
            Sql::Put => concat!(
                "INSERT INTO sessions (workspace, ",
                row_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (workspace, id) DO UPDATE SET
                    workflow_id = EXCLUDED.workflow_id, workflow_version = EXCLUDED.workflow_version,
                    workflow_digest = EXCLUDED.workflow_digest, workflow_json = EXCLUDED.workflow_json,
                    workflow_source = EXCLUDED.workflow_source, config_json = EXCLUDED.config_json,
                    inputs = EXCLUDED.inputs, created_at = EXCLUDED.created_at,
                    updated_at = EXCLUDED.updated_at, status = EXCLUDED.status, state = EXCLUDED.state,
                    event_count = EXCLUDED.event_count, head_hash = EXCLUDED.head_hash, tag = EXCLUDED.tag"
            ),
            Sql::Update => {
                "UPDATE sessions SET updated_at = $3, status = $4, state = $5, event_count = $6,
                    head_hash = $7, tag = $8
                 WHERE workspace = $1 AND id = $2"
            }
            Sql::UpdateUnchanged => {
                "UPDATE sessions SET updated_at = $3, status = $4, state = $5, event_count = $6,
                    head_hash = $7, tag = $8
                 WHERE workspace = $1 AND id = $2 AND xmin::text::bigint = $9
                   AND EXISTS (SELECT 1 FROM events WHERE workspace = $1 AND session_id = $2
                       AND seq = $10 AND xmin::text::bigint = $11)
                   AND NOT EXISTS (SELECT 1 FROM events WHERE workspace = $1 AND session_id = $2
                       AND seq > $10)
                 RETURNING xmin::text::bigint"
            }
            Sql::AppendWritten => {
                "INSERT INTO events (workspace, session_id, n, at, kind, phase, data, state, prev_hash, hash, tag)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
                 WHERE EXISTS (SELECT 1 FROM sessions WHERE workspace = $1 AND id = $2
                     AND xmin::text::bigint = txid_current() % 4294967296)
                 RETURNING seq, xmin::text::bigint"
            }
            Sql::RemoveEvents => "DELETE FROM events WHERE workspace = $1 AND session_id = $2",
            Sql::RemoveRow => "DELETE FROM sessions WHERE workspace = $1 AND id = $2",
            Sql::RetagEvent => "UPDATE events SET tag = $2 WHERE workspace = $1 AND seq = $3",
            Sql::RetagAuditEntry => {
                "UPDATE deleted_sessions SET tag = $2 WHERE workspace = $1 AND id = $3"
            }
            Sql::AuditEntry => concat!(
                "SELECT ",
                audit_columns!(),
                " FROM deleted_sessions WHERE workspace = $1 AND id = $2"
            ),
            Sql::AuditEntries => concat!(
                "SELECT ",
                audit_columns!(),
                " FROM deleted_sessions WHERE workspace = $1 ORDER BY deleted_at DESC, id"
            ),
            Sql::AddAuditEntry => concat!(
                "INSERT INTO deleted_sessions (workspace, ",
                audit_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            Sql::FinishedBefore => {
                "SELECT id FROM sessions WHERE workspace = $1 AND status IN ('completed', 'abandoned')
                 AND updated_at < $2 ORDER BY updated_at"
            }
            Sql::Meta => "SELECT value FROM meta WHERE workspace = $1 AND name = $2",
            Sql::Metas => "SELECT name, value FROM meta WHERE workspace = $1 AND name = ANY($2)",
            Sql::SetMeta => {
                "INSERT INTO meta (workspace, name, value) VALUES ($1, $2, $3)
                 ON CONFLICT (workspace, name) DO UPDATE SET value = EXCLUDED.value"
            }
            Sql::DeleteMeta => "DELETE FROM meta WHERE workspace = $1 AND name = $2",
            Sql::Claim => {
                "INSERT INTO meta (workspace, name, value) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING RETURNING 1"
            }
        }
    }

    /// The parameters' types, declared so that nothing is inferred (and
    /// nothing asked of the server) at prepare time.
    fn types(self) -> &'static [Type] {
        const T: Type = Type::TEXT;
        const I: Type = Type::INT8;
        match self {
            Sql::Head
            | Sql::Row
            | Sql::RowLocked
            | Sql::Events
            | Sql::LastEvent
            | Sql::RemoveEvents
            | Sql::RemoveRow
            | Sql::AuditEntry
            | Sql::FinishedBefore
            | Sql::Meta
            | Sql::DeleteMeta => &[T, T],
            Sql::Rows => &[T, T, T, I, I],
            Sql::Count => &[T, T, T],
            Sql::CountByStatus | Sql::AuditEntries => &[T],
            Sql::Metas => &[T, Type::TEXT_ARRAY],
            Sql::Append => &[T, T, I, T, T, T, T, T, T, T, T],
            Sql::Put => &[T, T, T, T, T, T, T, T, T, T, T, T, T, I, T, T],
            Sql::Update => &[T, T, T, T, T, I, T, T],
            Sql::UpdateUnchanged => &[T, T, T, T, T, I, T, T, I, I, I],
            Sql::AppendWritten => &[T, T, I, T, T, T, T, T, T, T, T],
            Sql::RetagEvent => &[T, T, I],
            Sql::RetagAuditEntry | Sql::SetMeta | Sql::Claim => &[T, T, T],
            Sql::AddAuditEntry => &[T, T, T, T, T, T, T, I, T, T, T, T],
        }
    }
}

/// The statements prepared on one connection, by [`Sql`].
pub(super) struct Prepared(Vec<Statement>);

impl Prepared {
    /// Prepares every statement on `client`, all in one round trip.
    pub(super) async fn on(client: &Client) -> Result<Self, tokio_postgres::Error> {
        let requests = Sql::ALL
            .iter()
            .map(|sql| Box::pin(client.prepare_typed(sql.text(), sql.types())))
            .collect();
        let statements = pipelined(requests)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(statements))
    }

    pub(super) fn get(&self, sql: Sql) -> &Statement {
        &self.0[sql as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::Sql;

    #[test]
    fn every_statement_is_prepared_at_its_own_index() {
        for (index, sql) in Sql::ALL.iter().enumerate() {
            assert_eq!(*sql as usize, index, "{sql:?}");
        }
    }

    #[test]
    fn declared_types_match_the_placeholders() {
        for sql in Sql::ALL {
            let highest = (1..=20)
                .rev()
                .find(|n| sql.text().contains(&format!("${n}")))
                .unwrap_or(0);
            assert_eq!(sql.types().len(), highest, "{sql:?}");
        }
    }
}
