//! One transaction on one connection, in as few round trips as its reads
//! allow. `BEGIN` goes out with the first statement; writes wait in a
//! queue and go out with the next read, or with `COMMIT`, so a change
//! (lock the row and read the log's head; append the events, write the
//! row and commit) takes two round trips however many events it appends.
//!
//! This rests on the driver's pipelining: "the associated request is not
//! sent to the database until the future returned by the method is first
//! polled. Requests are executed in the order that they are first polled",
//! and "pipelining allows the client to send all of the queries to the
//! server up front, minimizing time spent by one side waiting for the
//! other to finish sending data"
//! (<https://docs.rs/tokio-postgres/0.7/tokio_postgres/#behavior>,
//! `#pipelining`). [`pipelined`] polls every request once, in order,
//! before it waits for any answer.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use super::sql::{Prepared, Sql};

/// Runs `requests` on one connection as one round trip: each is sent to
/// the server when first polled, and all are polled, in order, before
/// any answer is awaited. Answers come back in the same order.
pub(super) async fn pipelined<F: Future + ?Sized>(
    mut requests: Vec<Pin<Box<F>>>,
) -> Vec<F::Output> {
    let mut answers: Vec<Option<F::Output>> = requests.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (request, answer) in requests.iter_mut().zip(answers.iter_mut()) {
            if answer.is_none() {
                match request.as_mut().poll(cx) {
                    Poll::Ready(out) => *answer = Some(out),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    answers.into_iter().flatten().collect()
}

/// A parameter of a queued write, owned until the write is sent.
pub(super) type Owned = Box<dyn ToSql + Sync>;

/// A parameter of a read, borrowed for the round trip.
pub(super) type Param<'p> = &'p (dyn ToSql + Sync);

type Request<'a> = Pin<Box<dyn Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + 'a>>;

/// Whether a transaction writes (READ COMMITTED, rows read locked) or
/// reads one snapshot (REPEATABLE READ, READ ONLY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Write,
    Read,
}

/// Where one transaction stands on its connection.
pub(super) struct Tx<'c> {
    client: &'c Client,
    prepared: &'c Prepared,
    mode: Mode,
    /// `BEGIN` was sent, and neither `COMMIT` nor `ROLLBACK` answered yet.
    open: bool,
    /// A statement failed: the server rolls the transaction back, so it
    /// must not report a commit.
    failed: Option<String>,
    queued: Vec<(Sql, Vec<Owned>)>,
}

/// What a round trip answered: every statement's rows, or the first
/// error (later statements of a failed transaction only say that it
/// failed).
type Answers = Result<Vec<Vec<Row>>, tokio_postgres::Error>;

impl<'c> Tx<'c> {
    pub(super) fn new(client: &'c Client, prepared: &'c Prepared, mode: Mode) -> Self {
        Self {
            client,
            prepared,
            mode,
            open: false,
            failed: None,
            queued: Vec::new(),
        }
    }

    pub(super) fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether the connection is still inside this transaction (it must
    /// not serve anyone else then).
    pub(super) fn is_open(&self) -> bool {
        self.open
    }

    /// Queues a write; it is sent with the next round trip.
    pub(super) fn queue(&mut self, sql: Sql, params: Vec<Owned>) {
        self.queued.push((sql, params));
    }

    /// Runs `reads` in one round trip, after `BEGIN` when this is the
    /// transaction's first and after the writes queued so far; answers
    /// the rows of each read.
    pub(super) async fn read(&mut self, reads: &[(Sql, &[Param<'_>])]) -> Answers {
        self.send(reads, false).await
    }

    /// [`Tx::read`], with `COMMIT` in the same round trip: the whole
    /// transaction at once (after a failed statement, `COMMIT` rolls it
    /// back and the first error is answered).
    pub(super) async fn read_and_commit(&mut self, reads: &[(Sql, &[Param<'_>])]) -> Answers {
        self.send(reads, true).await
    }

    async fn send(&mut self, reads: &[(Sql, &[Param<'_>])], commit: bool) -> Answers {
        let queued = std::mem::take(&mut self.queued);
        let begin = self.begin();
        let mut requests: Vec<Request<'_>> = Vec::new();
        if let Some(begin) = begin {
            requests.push(self.simple(begin));
        }
        let writes = queued.len();
        for (sql, params) in &queued {
            requests.push(self.statement(*sql, params.iter().map(|p| &**p as Param<'_>).collect()));
        }
        for (sql, params) in reads {
            requests.push(self.statement(*sql, params.to_vec()));
        }
        if commit {
            requests.push(self.simple("COMMIT"));
        }
        let begun = usize::from(begin.is_some());
        let mut answers = pipelined(requests).await;
        let committed = if commit { answers.pop() } else { None };
        // Once `COMMIT` answered, the connection is out of the transaction
        // (a rollback when a statement before it failed).
        self.open = committed.as_ref().is_none_or(Result::is_err);
        let mut answers = self.checked(answers)?;
        if let Some(committed) = committed {
            self.checked(vec![committed])?;
        }
        Ok(answers.split_off(begun + writes))
    }

    /// Commits: sends the queued writes and `COMMIT` in one round trip
    /// (nothing when the transaction sent and queued nothing).
    pub(super) async fn commit(&mut self) -> Result<(), tokio_postgres::Error> {
        if !self.open && self.queued.is_empty() {
            return Ok(());
        }
        let queued = std::mem::take(&mut self.queued);
        let begin = self.begin();
        let mut requests: Vec<Request<'_>> = Vec::new();
        if let Some(begin) = begin {
            requests.push(self.simple(begin));
        }
        for (sql, params) in &queued {
            requests.push(self.statement(*sql, params.iter().map(|p| &**p as Param<'_>).collect()));
        }
        requests.push(self.simple("COMMIT"));
        let answers = pipelined(requests).await;
        // After a failed statement, COMMIT ends the transaction too (as a
        // rollback): the connection is out of it either way once COMMIT
        // answered.
        if answers.last().is_some_and(Result::is_ok) {
            self.open = false;
        }
        self.checked(answers).map(drop)
    }

    /// Rolls back what was sent (queued writes are dropped).
    pub(super) async fn rollback(&mut self) -> Result<(), tokio_postgres::Error> {
        self.queued.clear();
        if self.open {
            self.client.batch_execute("ROLLBACK").await?;
            self.open = false;
        }
        Ok(())
    }

    /// The first error of a round trip (or of an earlier one, which the
    /// server's rollback made this one's too).
    fn checked(&mut self, answers: Vec<Result<Vec<Row>, tokio_postgres::Error>>) -> Answers {
        let mut rows = Vec::with_capacity(answers.len());
        for answer in answers {
            match answer {
                Ok(answer) => rows.push(answer),
                Err(e) => {
                    self.failed.get_or_insert_with(|| e.to_string());
                    return Err(e);
                }
            }
        }
        Ok(rows)
    }

    /// Why a commit cannot be reported, when an earlier statement failed
    /// (and the caller went on regardless).
    pub(super) fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    fn begin(&self) -> Option<&'static str> {
        (!self.open).then_some(match self.mode {
            Mode::Write => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Mode::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        })
    }

    fn simple(&self, sql: &'static str) -> Request<'c> {
        let client = self.client;
        Box::pin(async move { client.batch_execute(sql).await.map(|()| Vec::new()) })
    }

    fn statement<'a>(&self, sql: Sql, params: Vec<Param<'a>>) -> Request<'a>
    where
        'c: 'a,
    {
        let (client, statement) = (self.client, self.prepared.get(sql));
        Box::pin(async move { client.query(statement, &params).await })
    }
}
