//! How many round trips PostgreSQL costs, counted on the wire: the store
//! talks to the server through a proxy that counts the client's turns (it
//! sends after it was answered) and its statements (`Sync` and simple
//! `Query` messages). The proxy holds every answer back for a while, so
//! requests the client pipelines always arrive before their answers do:
//! a turn is a request the client could only send after an answer.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkrail::engine::Hooks;
use checkrail::service::ValidateRequest;
use checkrail::session::{Command, Control, StoreTarget, Transition};

use super::Fixture;

/// How long each answer is held back: far longer than the client takes
/// between the requests of one pipeline, even on a loaded machine.
const HOLD: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Counts {
    turns: AtomicUsize,
    statements: AtomicUsize,
    /// What the client sent, turn by turn, for the failure messages.
    transcript: Mutex<String>,
}

impl Counts {
    /// Turns, statements and what was sent since the last call.
    fn take(&self) -> Taken {
        Taken {
            turns: self.turns.swap(0, Ordering::SeqCst),
            statements: self.statements.swap(0, Ordering::SeqCst),
            transcript: std::mem::take(&mut *self.transcript.lock().unwrap()),
        }
    }

    fn note(&self, line: &str) {
        let mut transcript = self.transcript.lock().unwrap();
        transcript.push_str(line);
        transcript.push('\n');
    }
}

/// What the client did between two [`Counts::take`]s.
struct Taken {
    turns: usize,
    statements: usize,
    transcript: String,
}

/// A counting proxy in front of the test server's socket.
struct Proxy {
    dir: tempfile::TempDir,
    counts: Arc<Counts>,
}

impl Proxy {
    fn start() -> Self {
        let server = crate::pg::server().url("postgres");
        let upstream = PathBuf::from(
            server
                .split_once("?host=")
                .map(|(_, dir)| dir)
                .expect("the test server's URL names its socket directory"),
        )
        .join(".s.PGSQL.5432");
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join(".s.PGSQL.5432")).unwrap();
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = UnixStream::connect(&upstream).unwrap();
                relay(client, server, shared.clone());
            }
        });
        Self { dir, counts }
    }

    /// The URL of database `db` through this proxy.
    fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@/{db}?host={}",
            self.dir.path().display()
        )
    }
}

/// Forwards one connection both ways, counting the client's turns and
/// statements.
fn relay(client: UnixStream, server: UnixStream, counts: Arc<Counts>) {
    // Whether the client was answered since it last sent: its next bytes
    // then begin a turn.
    let answered = Arc::new(AtomicBool::new(true));
    let (mut from_client, mut to_server) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut from_server, mut to_client) = (server, client);
    let up = answered.clone();
    std::thread::spawn(move || {
        let mut messages = Messages::default();
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if up.swap(false, Ordering::SeqCst) {
                counts.turns.fetch_add(1, Ordering::SeqCst);
                counts.note("-- turn");
            }
            for statement in messages.feed(&buf[..n]) {
                counts.statements.fetch_add(1, Ordering::SeqCst);
                counts.note(&statement);
            }
            if to_server.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    });
    std::thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match from_server.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            std::thread::sleep(HOLD);
            // Before the bytes go out: whatever the client sends once it
            // has them is a new turn.
            answered.store(true, Ordering::SeqCst);
            if to_client.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    });
}

/// The client's side of the protocol, cut into messages: untyped ones
/// until the startup message, then a type byte and a length each.
#[derive(Default)]
struct Messages {
    pending: Vec<u8>,
    started: bool,
    /// The prepared statement named by the last `Bind`.
    bound: String,
    /// Each prepared statement's text, by name.
    prepared: std::collections::HashMap<String, String>,
}

impl Messages {
    /// Takes more bytes; answers the statements they completed (a simple
    /// query's text, or the prepared statement a `Sync` ended).
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut statements = Vec::new();
        loop {
            let (at, header) = if self.started { (1, 5) } else { (0, 8) };
            if self.pending.len() < header {
                return statements;
            }
            let length = u32::from_be_bytes(self.pending[at..at + 4].try_into().unwrap()) as usize;
            let total = at + length;
            if self.pending.len() < total {
                return statements;
            }
            if self.started {
                let body = &self.pending[5..total];
                // A C string: the portal's name, then the statement's.
                let text = |at: usize| {
                    let rest = body.get(at..).unwrap_or_default();
                    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                    String::from_utf8_lossy(&rest[..end]).into_owned()
                };
                match self.pending[0] {
                    b'P' => {
                        let (name, sql) = (text(0), text(text(0).len() + 1));
                        let sql: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
                        self.bound = format!("prepare {sql:.60}");
                        self.prepared.insert(name, sql);
                    }
                    b'B' => {
                        let name = text(text(0).len() + 1);
                        self.bound = match self.prepared.get(&name) {
                            Some(sql) => format!("{sql:.60}"),
                            None => name,
                        };
                    }
                    b'Q' => statements.push(text(0)),
                    b'S' => statements.push(self.bound.clone()),
                    _ => {}
                }
            } else {
                let code = u32::from_be_bytes(self.pending[4..8].try_into().unwrap());
                // SSL and GSS encryption requests come before the startup.
                self.started = !matches!(code, 80_877_103 | 80_877_104);
            }
            self.pending.drain(..total);
        }
    }
}

fn pause_or_resume(
    paused: bool,
) -> impl FnMut(
    &mut checkrail::session::Session,
    &checkrail::workflow::Workflow,
) -> checkrail::Result<(Transition, ())> {
    move |s, wf| {
        let action = if paused {
            Control::Resume
        } else {
            Control::Pause
        };
        let events = s.apply(
            Command::Control {
                action,
                to_phase: None,
                iteration: None,
            },
            wf,
        )?;
        Ok((Transition::from(events), ()))
    }
}

/// A change of a session this store last read or wrote is one round trip
/// (`BEGIN`, the row written while it and its log's head are the versions
/// read, the event appended, `COMMIT`); a read of a session with the
/// notes a validation needs is one, and a validation two.
#[test]
fn postgres_changes_a_session_in_one_round_trip() {
    let proxy = Proxy::start();
    let (name, _) = crate::pg::fresh_database();
    let f = Fixture::with(StoreTarget::Postgres(proxy.url(&name)), Some(name));
    let svc = f.service();
    let id = f.start();
    // Connections open and statements are prepared once, not per change.
    svc.store().update(&id, pause_or_resume(false)).unwrap();
    svc.store().update(&id, pause_or_resume(true)).unwrap();
    proxy.counts.take();

    for paused in [false, true] {
        svc.store().update(&id, pause_or_resume(paused)).unwrap();
        let change = proxy.counts.take();
        assert!(
            change.turns <= 1 && change.statements <= 4,
            "a change took {} round trips and {} statements (BEGIN, the row, the event, COMMIT):\n{}",
            change.turns,
            change.statements,
            change.transcript
        );
    }

    // Changed by another replica: not written (the row is another version
    // now), read again, decided again and written.
    f.service()
        .store()
        .update(&id, pause_or_resume(false))
        .unwrap();
    proxy.counts.take();
    svc.store().update(&id, pause_or_resume(true)).unwrap();
    let stale = proxy.counts.take();
    assert!(
        stale.turns <= 1 + 1 + 1,
        "a change after another replica's took {} round trips:\n{}",
        stale.turns,
        stale.transcript
    );

    svc.store().get(&id).unwrap();
    let read = proxy.counts.take();
    assert_eq!(
        (read.turns, read.statements),
        (1, 1),
        "reading a session:\n{}",
        read.transcript
    );
    svc.store().get_with_notes(&id, &["a", "b", "c"]).unwrap();
    let read = proxy.counts.take();
    assert_eq!(
        (read.turns, read.statements),
        (1, 2),
        "reading a session and notes:\n{}",
        read.transcript
    );

    // A validation: the session read with the notes of the agents' files
    // `init` recorded, one change decided on that read.
    let validation = svc
        .validate(&ValidateRequest::new(&id), &Hooks::default())
        .unwrap();
    assert!(!validation.passed, "README.md does not exist yet");
    let validated = proxy.counts.take();
    assert!(
        validated.turns <= 1 + 1,
        "a validation took {} round trips:\n{}",
        validated.turns,
        validated.transcript
    );

    // Every change is on record, and the record verifies.
    assert!(svc.verify(&id, false).unwrap().ok);
}

/// Notes read together are one round trip, however many; each reads as
/// it does alone (one not written by checkrail as absent).
#[test]
fn postgres_reads_notes_together_in_one_round_trip() {
    let proxy = Proxy::start();
    let (name, _) = crate::pg::fresh_database();
    let f = Fixture::with(StoreTarget::Postgres(proxy.url(&name)), Some(name));
    let svc = f.service();
    let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    for name in &names[..6] {
        svc.store()
            .set_note(name, Some(&format!("value of {name}")))
            .unwrap();
    }
    f.sql("UPDATE meta SET value = 'forged:value' WHERE name = 'note:b'");
    proxy.counts.take();
    let read = svc.store().notes(&names).unwrap();
    let counted = proxy.counts.take();
    assert_eq!(
        (counted.turns, counted.statements),
        (1, 1),
        "reading {} notes:\n{}",
        names.len(),
        counted.transcript
    );
    let one_by_one: Vec<Option<String>> = names
        .iter()
        .map(|name| svc.store().note(name).unwrap())
        .collect();
    assert_eq!(read, one_by_one);
    assert_eq!(read[0].as_deref(), Some("value of a"));
    assert_eq!(read[1], None, "a forged note reads as absent");
    assert_eq!(read[7], None, "never written");
}

/// The proxy counts what it should: a pipeline is one turn, requests
/// that wait for each other are one turn each.
#[test]
fn the_proxy_counts_turns_not_requests() {
    let proxy = Proxy::start();
    let (name, _) = crate::pg::fresh_database();
    let url = proxy.url(&name);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        proxy.counts.take();
        for _ in 0..3 {
            client.simple_query("SELECT 1").await.unwrap();
        }
        let sequential = proxy.counts.take();
        assert_eq!(
            (sequential.turns, sequential.statements),
            (3, 3),
            "one after another:\n{}",
            sequential.transcript
        );
        let (a, b, c) = tokio::join!(
            client.simple_query("SELECT 1"),
            client.simple_query("SELECT 2"),
            client.simple_query("SELECT 3"),
        );
        for answer in [a, b, c] {
            answer.unwrap();
        }
        let pipelined = proxy.counts.take();
        assert_eq!(
            (pipelined.turns, pipelined.statements),
            (1, 3),
            "pipelined:\n{}",
            pipelined.transcript
        );
    });
}
