//! Trusted state out of the agent's reach: every record an agent could edit
//! with a shell (sessions, events, cached outcomes, approvals, config) is
//! either out of the workspace, authenticated, pinned, or all three; each
//! test here is one cheat, and each shows the honest path still works.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use checkrail::engine::Hooks;
use checkrail::service::Service;
use checkrail::session::Status;
use rusqlite::Connection;
use serde_json::{Map, Value, json};

use crate::support::{
    Cli, Session, Workspace, at_terminal, checkpoint, codes, duplex, engine, grant, one_phase,
    raw_db, service, state, state_dir, text,
};

use crate::support::DOCS_FLOW as FLOW;

/// `checkrail args… --workspace dir`, as the agent's shell runs it.
fn checkrail(dir: &Path, args: &[&str]) -> Output {
    Cli::new(args).workspace(dir).output()
}

/// A workspace with [`FLOW`] and its README.
fn docs_project() -> Workspace {
    Workspace::new().workflow(FLOW).file("README.md", "# hi")
}

/// A session that passed `readme` and failed `changelog` once.
fn session_with_history(dir: &Path) -> (Service, String) {
    let svc = service(dir);
    let session = Session::start(&svc, "docs-flow");
    assert!(session.validate().advanced);
    assert!(!session.validate().passed);
    assert!(svc.verify(&session.id, false).unwrap().ok);
    let id = session.id;
    (svc, id)
}

#[test]
fn state_lives_outside_the_workspace_and_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let ws = docs_project().build();
    let (_svc, _) = session_with_history(ws.path());
    assert!(!ws.path().join(".checkrail/sessions.db").exists());
    assert!(!ws.path().join(".checkrail/outcomes.db").exists());
    let opened = checkrail::workspace::Workspace::open(ws.path(), &state()).unwrap();
    assert!(!opened.state_dir().starts_with(ws.path()));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(opened.state_dir()), 0o700);
    assert_eq!(mode(&opened.state_dir().join("sessions.db")), 0o600);
    assert_eq!(mode(&state_dir().join("key")), 0o600);
}

#[test]
fn an_edited_state_row_is_refused_and_named() {
    let ws = docs_project().build();
    let (svc, id) = session_with_history(ws.path());
    // The agent marks its session completed by hand.
    raw_db(ws.path())
        .execute(
            "UPDATE sessions SET status = 'completed', state = replace(state, '\"active\"', '\"completed\"') WHERE id = ?1",
            [&id],
        )
        .unwrap();
    let err = svc.next(&id).unwrap_err().to_string();
    assert!(
        err.contains("status is `completed` but the log says `active`"),
        "{err}"
    );
    assert!(Session::of(&svc, &id).try_validate().is_err());
    // A record that does not verify has its own exit code (3), apart from
    // usage errors (2) and failed checks (1).
    let out = checkrail(ws.path(), &["session", "show", &id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("does not verify"), "{}", text(&out));
    let out = checkrail(ws.path(), &["session", "verify", &id, "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert!(
        report["record"]["problems"]
            .to_string()
            .contains("state row was altered"),
        "{report}"
    );
}

#[test]
fn edited_removed_inserted_and_reordered_events_are_each_reported() {
    let ws = docs_project().build();
    let (svc, id) = session_with_history(ws.path());
    let db = raw_db(ws.path());
    let problems = |svc: &Service| {
        let v = svc.verify(&id, false).unwrap();
        assert!(!v.ok);
        v.record.problems.join("\n")
    };
    let seqs: Vec<i64> = {
        let mut stmt = db
            .prepare("SELECT seq FROM events WHERE session_id = ?1 ORDER BY seq")
            .unwrap();
        stmt.query_map([&id], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(seqs.len() >= 4, "{seqs:?}");
    let backup: Vec<(i64, String)> = {
        let mut stmt = db
            .prepare("SELECT seq, data FROM events WHERE session_id = ?1")
            .unwrap();
        stmt.query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };

    // Edit: the failed validation now claims to have passed.
    db.execute(
        "UPDATE events SET data = replace(data, '\"passed\":false', '\"passed\":true') WHERE seq = ?1",
        [seqs[3]],
    )
    .unwrap();
    let found = problems(&svc);
    assert!(
        found.contains("#4 (validation_failed) was altered"),
        "{found}"
    );
    let restore = |db: &Connection| {
        for (seq, data) in &backup {
            db.execute(
                "UPDATE events SET data = ?2 WHERE seq = ?1",
                rusqlite::params![seq, data],
            )
            .unwrap();
        }
    };
    restore(&db);
    assert!(svc.verify(&id, false).unwrap().ok);

    // Insert: a forged event between two real ones.
    db.execute(
        "INSERT INTO events (session_id, n, at, kind, phase, data, state, prev_hash, hash, tag)
         SELECT session_id, n, at, 'approved', phase, '{}', state, prev_hash, hash, 'ab' FROM events WHERE seq = ?1",
        [seqs[1]],
    )
    .unwrap();
    let found = problems(&svc);
    assert!(found.contains("was not written by checkrail"), "{found}");
    db.execute("DELETE FROM events WHERE kind = 'approved'", [])
        .unwrap();
    assert!(svc.verify(&id, false).unwrap().ok);

    // Reorder: swap two events' positions in the table.
    db.execute_batch(&format!(
        "UPDATE events SET seq = -1 WHERE seq = {a}; UPDATE events SET seq = {a} WHERE seq = {b}; UPDATE events SET seq = {b} WHERE seq = -1;",
        a = seqs[1],
        b = seqs[2]
    ))
    .unwrap();
    let found = problems(&svc);
    assert!(
        found.contains("reordered: #3 is stored before #2"),
        "{found}"
    );
    db.execute_batch(&format!(
        "UPDATE events SET seq = -1 WHERE seq = {a}; UPDATE events SET seq = {a} WHERE seq = {b}; UPDATE events SET seq = {b} WHERE seq = -1;",
        a = seqs[1],
        b = seqs[2]
    ))
    .unwrap();
    assert!(svc.verify(&id, false).unwrap().ok);

    // Remove: the failed attempt disappears from the history.
    db.execute("DELETE FROM events WHERE seq = ?1", [seqs[3]])
        .unwrap();
    let found = problems(&svc);
    assert!(found.contains("events #4 were removed"), "{found}");
    let err = svc.events(&id).unwrap_err().to_string();
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn approvals_need_a_terminal_and_record_their_channel() {
    let ws = docs_project().file("CHANGELOG.md", "# changes").build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "docs-flow");
    let id = &session.id;
    session.validate();
    let waiting = session.validate();
    assert_eq!(waiting.standing.session.status, Status::AwaitingApproval);

    // The agent's shell: no terminal.
    let out = checkrail(ws.path(), &["session", "approve", id]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("only a human at an interactive terminal"),
        "{}",
        text(&out)
    );
    assert_eq!(
        svc.next(id).unwrap().session.status,
        Status::AwaitingApproval
    );

    // A human at a (pseudo-)terminal reads the prompt and types `approve`.
    let transcript = at_terminal(
        ws.path(),
        &["session", "approve", id, "--by", "ana"],
        "approve",
    );
    assert!(transcript.contains("Ship it?"), "{transcript}");
    assert!(transcript.contains("approved; session"), "{transcript}");
    let standing = svc.next(id).unwrap();
    assert_eq!(standing.session.phase_id, "done");
    let approval = svc
        .events(id)
        .unwrap()
        .into_iter()
        .find(|e| e.kind() == "approved")
        .unwrap();
    assert_eq!(approval.details()["channel"], "terminal");
    assert_eq!(approval.details()["by"], "ana");
    assert!(
        approval.details()["detail"]
            .as_str()
            .is_some_and(|t| t.starts_with("/dev/pts/")),
        "{approval:?}"
    );
}

#[test]
fn a_mid_session_grant_changes_nothing_for_the_session() {
    let ws = Workspace::new()
        .workflow(
            "id: run-flow
version: 1.0.0
name: Run
description: d
phases:
  - id: build
    name: Build
    guidance: build
    checkpoint:
      rules:
        - rule: compile
          config: { toolchain: custom, command: { program: 'true' } }
  - id: done
    name: Done
    guidance: done
",
        )
        .build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "run-flow");
    let refused = session.validate();
    assert!(!refused.passed);
    assert!(
        serde_json::to_string(&refused.report)
            .unwrap()
            .contains("has not granted"),
        "{:?}",
        refused.report
    );
    // The agent grants itself the program.
    grant(ws.path(), &["true"]);
    let still = session.validate();
    assert!(
        !still.passed,
        "an edited checkrail.toml must not reach a running session"
    );
    // A session started after the owner's edit runs with it.
    assert!(Session::start(&svc, "run-flow").validate().passed);
}

#[test]
fn a_workspace_workflow_that_replaces_a_bundled_one_is_reported() {
    let local = FLOW.replace("id: docs-flow", "id: project-basics");
    let ws = Workspace::new()
        .workflow(&local)
        .file("README.md", "# hi")
        .build();
    let svc = service(ws.path());
    let started = svc.start("project-basics", Map::new()).unwrap();
    assert!(
        started
            .next_step
            .contains("overrides the bundled workflow `project-basics`"),
        "{}",
        started.next_step
    );
    let provenance = &started.session.provenance;
    assert_eq!(provenance["kind"], "workspace");
    assert!(provenance["overrides_bundled"]["digest"].is_string());
    assert_ne!(
        provenance["digest"],
        provenance["overrides_bundled"]["digest"]
    );
    let out = checkrail(ws.path(), &["session", "show", &started.session.id]);
    assert!(
        text(&out).contains("overrides the bundled"),
        "{}",
        text(&out)
    );
}

#[test]
fn recheck_catches_a_workspace_that_no_longer_passes() {
    let ws = docs_project().build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "docs-flow");
    let id = &session.id;
    assert!(session.validate().advanced);
    let ok = checkrail(ws.path(), &["session", "verify", id, "--recheck"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("phase readme: passes"), "{}", text(&ok));
    std::fs::remove_file(ws.path().join("README.md")).unwrap();
    let out = checkrail(ws.path(), &["session", "verify", id, "--recheck", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["record"]["verified"], true);
    assert_eq!(report["recheck"][0]["phase"], "readme");
    assert_eq!(report["recheck"][0]["passed"], false);
}

#[test]
fn a_rewritten_cached_outcome_is_ignored_and_the_rule_runs_again() {
    let ws = Workspace::new()
        .file(
            "check.sh",
            "grep -q fixed src/x.txt || echo 'src/x.txt:1: error: still broken'; grep -q fixed src/x.txt\n",
        )
        .file("src/x.txt", "broken")
        .grant("sh")
        .build();
    let flow = one_phase(
        "        - rule: compile\n          inputs: ['**']\n          config: { toolchain: custom, command: { program: sh, args: [check.sh] } }\n",
    );
    let engine = engine();
    let run = || checkpoint(&engine, &flow, "p", ws.path(), None, Hooks::default()).unwrap();
    let first = run();
    assert!(!first.passed && !first.rules[0].cached);
    assert!(
        run().rules[0].cached,
        "an unchanged workspace reuses the outcome"
    );
    // The agent rewrites the cached verdict.
    let opened = checkrail::workspace::Workspace::open(ws.path(), &state()).unwrap();
    let db = Connection::open(opened.state_dir().join("outcomes.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE outcomes SET report = replace(report, '\"status\":\"failed\"', '\"status\":\"passed\"')",
            [],
        )
        .unwrap();
    assert!(changed > 0);
    let again = run();
    assert!(!again.rules[0].cached, "a forged outcome must not be used");
    assert!(!again.passed);
    // The honest fix passes.
    std::fs::write(ws.path().join("src/x.txt"), "fixed").unwrap();
    assert!(run().passed);
}

/// Writes an old in-workspace database (as releases before the state
/// directory kept it) with one active session, `oldsession01`.
fn plant_legacy_database(dir: &Path) {
    let workflow_json =
        serde_json::to_string(&checkrail::workflow::parse(FLOW, "flow.yaml").unwrap()).unwrap();
    let old = Connection::open(dir.join(".checkrail/sessions.db")).unwrap();
    old.execute_batch(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, workflow_version TEXT NOT NULL,
            workflow_digest TEXT NOT NULL, workflow_json TEXT NOT NULL, workflow_source TEXT NOT NULL, status TEXT NOT NULL,
            phase_index INTEGER NOT NULL, paused_from TEXT, attempts INTEGER NOT NULL, inputs TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, revision INTEGER NOT NULL);
         CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, at TEXT NOT NULL,
            kind TEXT NOT NULL, phase TEXT, data TEXT NOT NULL);",
    )
    .unwrap();
    old.execute(
        "INSERT INTO sessions VALUES ('oldsession01', 'docs-flow', '1.0.0', 'abc', ?1, 'flow.yaml', 'active', 1, NULL, 2, '{}', '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', 5)",
        [&workflow_json],
    )
    .unwrap();
    for (kind, phase) in [
        ("started", "readme"),
        ("validated", "readme"),
        ("advanced", "changelog"),
    ] {
        old.execute(
            "INSERT INTO events (session_id, at, kind, phase, data) VALUES ('oldsession01', '2026-01-01T00:00:00.000Z', ?1, ?2, ?3)",
            [kind, phase, &json!({"summary": kind}).to_string()],
        )
        .unwrap();
    }
}

#[test]
fn an_old_in_workspace_database_is_imported_once() {
    let ws = docs_project().build();
    plant_legacy_database(ws.path());

    let out = checkrail(ws.path(), &["session", "list"]);
    assert!(
        text(&out).contains("imported 1 session(s)"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("oldsession01") && text(&out).contains("imported, not recorded here"),
        "{}",
        text(&out)
    );
    let shown = text(&checkrail(ws.path(), &["session", "show", "oldsession01"]));
    assert!(shown.contains("imported from `"), "{shown}");
    let svc = service(ws.path());
    let standing = svc.next("oldsession01").unwrap();
    assert_eq!(standing.session.phase_id, "changelog");
    assert_eq!(standing.session.attempts, 2);
    let kinds: Vec<String> = svc
        .events("oldsession01")
        .unwrap()
        .into_iter()
        .map(|e| e.kind().to_owned())
        .collect();
    assert_eq!(kinds, ["started", "validated", "advanced", "imported"]);
    assert!(svc.verify("oldsession01", false).unwrap().ok);
    // Once only: a second open imports nothing and loses nothing.
    let again = checkrail(ws.path(), &["session", "list"]);
    assert!(
        !text(&again).contains("imported 1 session"),
        "{}",
        text(&again)
    );
    assert!(ws.path().join(".checkrail/sessions.db").exists());
    assert_eq!(svc.events("oldsession01").unwrap().len(), 4);
}

#[test]
fn an_old_database_planted_beside_recorded_sessions_is_never_imported() {
    let ws = docs_project().build();
    let svc = service(ws.path());
    let started = Session::start(&svc, "docs-flow").id;
    drop(svc);
    plant_legacy_database(ws.path());
    let out = checkrail(ws.path(), &["session", "list"]);
    let listed = text(&out);
    assert!(listed.contains("not importing"), "{listed}");
    assert!(
        listed.contains(&started) && !listed.contains("oldsession01"),
        "{listed}"
    );
    // Nor on any later open.
    let again = checkrail(ws.path(), &["session", "list"]);
    assert!(!text(&again).contains("oldsession01"), "{}", text(&again));
    assert!(service(ws.path()).next("oldsession01").is_err());
}

#[test]
fn a_session_recorded_in_a_copy_of_the_workspace_does_not_verify_here() {
    let real = docs_project().build();
    let copy = docs_project().build();
    // The honest record of the real workspace verifies.
    let (svc, honest) = session_with_history(real.path());
    assert!(svc.verify(&honest, false).unwrap().ok);
    // In a copy, the agent completes the first phase, then moves that
    // session's rows, tags and all, into the real workspace's database.
    let (copied_svc, copied) = session_with_history(copy.path());
    drop(copied_svc);
    let from = checkrail::workspace::Workspace::open(copy.path(), &state()).unwrap();
    let db = raw_db(real.path());
    db.execute(
        "ATTACH DATABASE ?1 AS copy",
        [from.state_dir().join("sessions.db").to_string_lossy()],
    )
    .unwrap();
    db.execute_batch(
        "INSERT INTO sessions SELECT * FROM copy.sessions;
         INSERT INTO events (session_id, n, at, kind, phase, data, state, prev_hash, hash, tag)
            SELECT session_id, n, at, kind, phase, data, state, prev_hash, hash, tag FROM copy.events ORDER BY seq;",
    )
    .unwrap();
    let verdict = svc.verify(&copied, false).unwrap();
    assert!(!verdict.ok, "a copied session verified: {verdict:?}");
    assert!(Session::of(&svc, &copied).try_validate().is_err());
    let out = checkrail(real.path(), &["session", "verify", &copied]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // The workspace's own session is untouched.
    assert!(svc.verify(&honest, false).unwrap().ok);
}

/// A pytest project with one phase whose suite must pass (`py-green`), a
/// passing test and `conftest`.
fn py_project(conftest: &str) -> Workspace {
    Workspace::new()
        .workflow(&crate::support::green(
            "py-green",
            "{ runner: pytest, min_passed: 1 }",
        ))
        .file(
            "pyproject.toml",
            "[tool.pytest.ini_options]\npythonpath = [\".\"]\n",
        )
        .file("calc.py", "def add(a, b):\n    return a + b\n")
        .file("conftest.py", conftest)
        .file(
            "tests/test_calc.py",
            "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        )
        .grant("python3")
}

#[test]
fn a_judging_file_written_while_the_rules_run_voids_the_verdict_even_when_put_back() {
    // A test that rewrites `conftest.py` while pytest runs, and leaves it
    // as it was: its content at the end is what it was at the start.
    const SNEAKY: &str = "import pathlib\n\n\ndef test_put_back():\n    conftest = pathlib.Path(__file__).parent.parent / \"conftest.py\"\n    conftest.write_text(conftest.read_text())\n";
    let ws = py_project("# shared fixtures\n")
        .file("tests/test_sneaky.py", SNEAKY)
        .build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "py-green");
    let v = session.validate();
    let codes: Vec<String> = v
        .report
        .iter()
        .flat_map(|r| &r.rules)
        .flat_map(|r| &r.findings)
        .filter_map(|f| f.code.clone())
        .collect();
    assert!(
        !v.passed && codes.contains(&"changed-during-check".to_owned()),
        "{:?}",
        v.report
    );
    // Left alone while the rules run, the same suite passes.
    std::fs::remove_file(ws.path().join("tests/test_sneaky.py")).unwrap();
    let v = session.validate();
    assert!(v.passed && v.advanced, "{:?}", v.report);
}

#[test]
fn policy_the_agent_writes_before_any_session_is_not_used_until_a_human_allows_it() {
    let ws = docs_project().build();
    let dir = ws.path();
    // Before it starts anything, the agent grants itself a shell and plants
    // an easier workflow of its own.
    std::fs::write(dir.join("checkrail.toml"), "[exec]\nallow = [\"sh\"]\n").unwrap();
    std::fs::write(
        dir.join(".checkrail/workflows/easy.yaml"),
        FLOW.replace("id: docs-flow", "id: easy")
            .replace("README.md", "anything"),
    )
    .unwrap();
    let svc = service(dir);
    let refused = svc
        .start("docs-flow", Map::new())
        .expect_err("started on an unallowed checkrail.toml")
        .to_string();
    assert!(
        refused.contains("`checkrail.toml` is new") && refused.contains("checkrail allow"),
        "{refused}"
    );
    // The agent's shell cannot allow it, and says how a human can.
    let out = checkrail(dir, &["allow"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("interactive terminal"),
        "{}",
        text(&out)
    );
    let shown = text(&checkrail(dir, &["allow", "--show"]));
    assert!(
        shown.contains("`checkrail.toml` is new")
            && shown.contains("+ allow = [\"sh\"]")
            && shown.contains("`.checkrail/workflows/easy.yaml` is new"),
        "{shown}"
    );
    // A human at the terminal allows the grant but not the workflow: put
    // the workflow aside, allow, and plant it again.
    let easy = dir.join(".checkrail/workflows/easy.yaml");
    let planted = std::fs::read_to_string(&easy).unwrap();
    std::fs::remove_file(&easy).unwrap();
    let allowed = at_terminal(dir, &["allow"], "allow");
    assert!(allowed.contains("allowed 1 file(s)"), "{allowed}");
    assert!(svc.start("docs-flow", Map::new()).is_ok());
    std::fs::write(&easy, planted).unwrap();
    let refused = svc
        .start("easy", Map::new())
        .expect_err("started an unallowed workspace workflow")
        .to_string();
    assert!(
        refused.contains("`.checkrail/workflows/easy.yaml` is new"),
        "{refused}"
    );
    // An edit of the record itself allows nothing.
    let opened = checkrail::workspace::Workspace::open(dir, &state()).unwrap();
    let record = opened.state_dir().join("allowed.json");
    let forged = std::fs::read_to_string(&record).unwrap().replace(
        "\"files\": {",
        "\"files\": {\".checkrail/workflows/easy.yaml\": {\"sha256\": \"0\"},",
    );
    std::fs::write(&record, forged).unwrap();
    assert!(svc.start("docs-flow", Map::new()).is_err());
}

#[test]
fn a_judging_file_the_agent_changed_before_starting_is_judged_against_the_allow() {
    // The owner's conftest turns a warning into a failure.
    const STRICT: &str = "import warnings\n\n\ndef pytest_configure(config):\n    warnings.simplefilter(\"error\")\n";
    let ws = py_project(STRICT).build();
    let dir = ws.path();
    let allowed = at_terminal(dir, &["allow"], "allow");
    assert!(
        allowed.contains("`conftest.py` is new (it changes how the tools judge)"),
        "{allowed}"
    );
    // Before it starts a session, the agent loosens the conftest.
    std::fs::write(dir.join("conftest.py"), "# nothing to see\n").unwrap();
    let svc = service(dir);
    let session = Session::start(&svc, "py-green");
    let v = session.validate();
    let found = codes(&v);
    assert!(
        !v.passed && found.contains(&"judging-file-changed".to_owned()),
        "{found:?}: {:?}",
        v.report
    );
    // `allow --show` names it too.
    let shown = text(&checkrail(dir, &["allow", "--show"]));
    assert!(shown.contains("`conftest.py` changed"), "{shown}");
    // Put back as allowed, the same session passes.
    std::fs::write(dir.join("conftest.py"), STRICT).unwrap();
    let v = session.validate();
    assert!(v.passed && v.advanced, "{:?}", v.report);
}

#[test]
fn code_python_runs_before_any_test_is_a_judging_file() {
    let ws = py_project("pytest_plugins = [\"support.plugin\"]\n")
        .file("support/__init__.py", "")
        .file("support/plugin.py", "# the owner's fixtures\n")
        .build();
    let svc = service(ws.path());
    let session = Session::start(&svc, "py-green");
    // `sitecustomize` runs at interpreter start, before pytest; a test
    // package's `__init__.py` changes what the tests import; a module the
    // conftest loads as a plugin runs with every test.
    for (file, text) in [
        ("sitecustomize.py", "import builtins\n"),
        ("tests/__init__.py", ""),
        ("support/plugin.py", "# loosened\n"),
    ] {
        std::fs::write(ws.path().join(file), text).unwrap();
        let v = session.validate();
        assert!(
            !v.passed && codes(&v).contains(&"judging-file-changed".to_owned()),
            "{file}: {:?}",
            v.report
        );
        if file == "support/plugin.py" {
            std::fs::write(ws.path().join(file), "# the owner's fixtures\n").unwrap();
        } else {
            std::fs::remove_file(ws.path().join(file)).unwrap();
        }
    }
    let v = session.validate();
    assert!(v.passed && v.advanced, "{:?}", v.report);
}

#[test]
fn notes_written_outside_checkrail_are_ignored() {
    let ws = docs_project().build();
    let store = crate::support::session_store(ws.path());
    // Written by checkrail: read back.
    store
        .set_note("lease:honest", Some("{\"expires\":\"x\"}"))
        .unwrap();
    assert_eq!(
        store.note("lease:honest").unwrap().as_deref(),
        Some("{\"expires\":\"x\"}")
    );
    // A forged lease that would keep a dead check "running" until far in
    // the future, and a record of the agents' hook files rewritten to
    // match edited ones: neither is read.
    let db = raw_db(ws.path());
    db.execute(
        "INSERT INTO meta (name, value) VALUES ('note:lease:dead', '{\"expires\":\"9999-01-01T00:00:00.000Z\",\"checks\":[\"c1\"]}')",
        [],
    )
    .unwrap();
    assert_eq!(store.note("lease:dead").unwrap(), None);
    store
        .set_note("setup:.claude/settings.json", Some("aaaa"))
        .unwrap();
    db.execute(
        "UPDATE meta SET value = replace(value, ':aaaa', ':bbbb') WHERE name = 'note:setup:.claude/settings.json'",
        [],
    )
    .unwrap();
    assert_eq!(store.note("setup:.claude/settings.json").unwrap(), None);
    // A sealed note of one name does not pass for another.
    let honest: String = db
        .query_row(
            "SELECT value FROM meta WHERE name = 'note:lease:honest'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(
        "INSERT INTO meta (name, value) VALUES ('note:lease:other', ?1)",
        [&honest],
    )
    .unwrap();
    assert_eq!(store.note("lease:other").unwrap(), None);
}

/// An MCP client whose user answers every elicitation with `answer`, and
/// counts how often it was asked.
#[derive(Clone)]
struct Eliciting {
    answer: Value,
    asked: Arc<std::sync::atomic::AtomicUsize>,
}

impl rmcp::ClientHandler for Eliciting {
    async fn create_elicitation(
        &self,
        request: rmcp::model::ElicitRequestParams,
        _: rmcp::service::RequestContext<rmcp::RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction};
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        assert!(message.contains("Ship it?"), "{message}");
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(self.answer.clone()))
    }

    fn get_info(&self) -> rmcp::model::ClientConfig {
        rmcp::model::ClientConfig::new(
            rmcp::model::ClientCapabilities::builder()
                .enable_elicitation()
                .build(),
            rmcp::model::Implementation::new("gate-client", "1.2"),
        )
    }
}

/// Reaches the approval gate of `docs-flow` through an eliciting client;
/// returns the last validation's answer, how often the user was asked, and
/// the session's events.
async fn reach_gate_eliciting(
    config: &str,
    answer: Value,
) -> (Value, usize, Vec<checkrail::session::Event>) {
    let ws = docs_project()
        .file("CHANGELOG.md", "# changes")
        .config(config)
        .build();
    let dir = ws.path().to_owned();
    let svc = Arc::new(
        tokio::task::spawn_blocking(move || service(&dir))
            .await
            .unwrap(),
    );
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let eliciting = Eliciting {
        answer,
        asked: asked.clone(),
    };
    let client = duplex(svc.clone(), eliciting).await;
    let call = |tool: &str, args: Value| {
        let params = rmcp::model::CallToolRequestParams::new(tool.to_owned())
            .with_arguments(args.as_object().unwrap().clone());
        client.call_tool(params)
    };
    let started = call("workflow_start", json!({"workflow": "docs-flow"}))
        .await
        .unwrap();
    let id = started.structured_content.unwrap()["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call("workflow_validate", json!({"session": id}))
        .await
        .unwrap();
    let last = call("workflow_validate", json!({"session": id}))
        .await
        .unwrap();
    let events = {
        let id = id.clone();
        let svc = svc.clone();
        tokio::task::spawn_blocking(move || svc.events(&id).unwrap())
            .await
            .unwrap()
    };
    drop(ws);
    (
        last.structured_content.unwrap(),
        asked.load(std::sync::atomic::Ordering::SeqCst),
        events,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_can_opt_in_to_approvals_through_the_client() {
    let opted_in = "[approval]\nvia = [\"terminal\", \"elicitation\"]\n";
    let (v, asked, events) =
        reach_gate_eliciting(opted_in, json!({"approve": true, "note": "lgtm"})).await;
    assert_eq!(asked, 1, "{v}");
    assert_eq!(v["advanced"], true, "{v}");
    assert_eq!(v["standing"]["session"]["phase_id"], "done", "{v}");
    assert!(
        v["standing"]["next_step"]
            .as_str()
            .unwrap()
            .contains("approved the gate through gate-client 1.2")
    );
    let approval = events.iter().find(|e| e.kind() == "approved").unwrap();
    assert_eq!(approval.details()["channel"], "elicitation");
    assert_eq!(approval.details()["detail"], "gate-client 1.2");
    assert_eq!(approval.details()["note"], "lgtm");

    let (v, _, events) = reach_gate_eliciting(
        opted_in,
        json!({"approve": false, "note": "changelog is empty"}),
    )
    .await;
    assert_eq!(v["advanced"], false);
    assert_eq!(v["standing"]["session"]["status"], "active", "{v}");
    assert_eq!(v["standing"]["session"]["phase_id"], "changelog");
    assert!(
        events
            .iter()
            .any(|e| e.kind() == "rejected" && e.details()["channel"] == "elicitation")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_opt_in_the_client_is_never_asked() {
    let (v, asked, events) = reach_gate_eliciting("", json!({"approve": true})).await;
    assert_eq!(asked, 0);
    assert_eq!(
        v["standing"]["session"]["status"], "awaiting_approval",
        "{v}"
    );
    assert!(!events.iter().any(|e| e.kind() == "approved"));
}

#[test]
fn a_manifest_that_moves_the_library_is_a_judging_change_and_a_new_version_is_not() {
    const MANIFEST: &str =
        "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";
    const LIB: &str = "pub fn add(a: i32, b: i32) -> i32 {\n    a - b\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() {\n        assert_eq!(super::add(2, 2), 4);\n    }\n}\n";
    let ws = Workspace::new()
        .workflow(&crate::support::green(
            "rs-green",
            "{ runner: cargo, min_passed: 1 }",
        ))
        .file("Cargo.toml", MANIFEST)
        .file("src/lib.rs", LIB)
        // The library the agent points the manifest at: the same test, a
        // "fixed" function, and the product left broken.
        .file("src/shadow.rs", LIB.replace("a - b", "a + b"))
        .grant("cargo")
        .build();
    let dir = ws.path();
    let svc = service(dir);
    let session = Session::start(&svc, "rs-green");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("{MANIFEST}\n[lib]\npath = \"src/shadow.rs\"\n"),
    )
    .unwrap();
    let v = session.validate();
    assert!(
        !v.passed && codes(&v).contains(&"judging-file-changed".to_owned()),
        "{:?}",
        v.report
    );
    // Honest: the manifest back, the product fixed, its version moved.
    std::fs::write(dir.join("Cargo.toml"), MANIFEST.replace("0.1.0", "0.2.0")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), LIB.replace("a - b", "a + b")).unwrap();
    let v = session.validate();
    assert!(v.passed && v.advanced, "{:?}", v.report);
}

#[test]
fn a_go_test_main_planted_before_the_session_is_judged_against_the_allow() {
    let ws = Workspace::new()
        .workflow(&crate::support::green("go-green", "{ runner: go, min_passed: 1 }"))
        .file("go.mod", "module example.com/calc\n\ngo 1.19\n")
        .file("calc.go", "package calc\n\nfunc Add(a, b int) int { return a + b }\n")
        .file(
            "calc_test.go",
            "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 2) != 4 {\n\t\tt.Fatal(\"2+2\")\n\t}\n}\n",
        )
        .grant("go")
        .build();
    let dir = ws.path();
    let allowed = at_terminal(dir, &["allow"], "allow");
    assert!(allowed.contains("allowed"), "{allowed}");
    // Before it starts a session, the agent adds a TestMain: it runs before
    // every test of the package and decides how the binary exits.
    std::fs::write(
        dir.join("main_test.go"),
        "package calc\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestMain(m *testing.M) {\n\tm.Run()\n\tos.Exit(0)\n}\n",
    )
    .unwrap();
    let svc = service(dir);
    let session = Session::start(&svc, "go-green");
    let v = session.validate();
    assert!(
        !v.passed && codes(&v).contains(&"judging-file-changed".to_owned()),
        "{:?}",
        v.report
    );
    std::fs::remove_file(dir.join("main_test.go")).unwrap();
    let v = session.validate();
    assert!(v.passed && v.advanced, "{:?}", v.report);
}
