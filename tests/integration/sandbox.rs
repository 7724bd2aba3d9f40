//! Adversarial rules: each is stopped or refused with a clear reason, and the
//! same engine then still runs a good rule correctly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkrail::Checkrail;
use checkrail::engine::RuleRun;
use checkrail::report::{RuleReport, RuleStatus};
use checkrail::runtime::Limits;
use serde_json::json;

use crate::support::{
    WASM_DIR, Workspace, checkpoint, engine, one_phase, shared_cache, within_patience,
};

fn run(engine: &Checkrail, rule: &str, dir: &std::path::Path, limits: Limits) -> RuleReport {
    run_with(engine, rule, &json!({}), dir, limits)
}

fn run_with(
    engine: &Checkrail,
    rule: &str,
    config: &serde_json::Value,
    dir: &std::path::Path,
    limits: Limits,
) -> RuleReport {
    engine
        .run_rule(&RuleRun {
            rule,
            config,
            workspace: dir,
            timeout: Some(limits.timeout),
            memory: Some(limits.memory),
        })
        .unwrap_or_else(|e| panic!("{rule}: {e}"))
}

/// A good rule still gives the right answer, both ways.
fn good_rule_still_works(engine: &Checkrail) {
    let ws = Workspace::new().file("present.txt", "x").build();
    let config = json!({"paths": ["present.txt", "absent.txt"]});
    let report = engine
        .run_rule(&RuleRun {
            rule: "file-exists",
            config: &config,
            workspace: ws.path(),
            timeout: None,
            memory: None,
        })
        .unwrap();
    assert_eq!(report.status, RuleStatus::Failed);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].path.as_deref(), Some("absent.txt"));
}

#[test]
fn infinite_loop_is_stopped_at_its_deadline() {
    let engine = Arc::new(engine());
    engine.rule("fixture-looper").unwrap(); // compile outside the timed part
    let ws = Workspace::new().build();
    let deadline = Duration::from_millis(300);
    // The loop never ends by itself: that the run returns at all, with the
    // deadline as its reason, is the proof.
    let (report, took) = within_patience("the endless loop", {
        let (engine, dir) = (engine.clone(), ws.path().to_owned());
        move || {
            let started = Instant::now();
            let limits = Limits {
                timeout: deadline,
                ..Limits::default()
            };
            let report = run(&engine, "fixture-looper", &dir, limits);
            (report, started.elapsed())
        }
    });
    assert_eq!(report.status, RuleStatus::Error);
    assert!(
        report.summary.contains("ran past its deadline of 300 ms"),
        "{}",
        report.summary
    );
    assert!(took >= deadline, "stopped before its deadline: {took:?}");
    good_rule_still_works(&engine);
}

#[test]
fn unbounded_allocation_is_stopped_at_the_cap() {
    let engine = engine();
    let ws = Workspace::new().build();
    let report = run(
        &engine,
        "fixture-hog",
        ws.path(),
        Limits {
            memory: 32 << 20,
            ..Limits::default()
        },
    );
    assert_eq!(report.status, RuleStatus::Error);
    assert!(
        report.summary.contains("memory cap of 32 MiB"),
        "{}",
        report.summary
    );
    good_rule_still_works(&engine);
}

#[test]
fn reads_outside_the_workspace_are_denied() {
    let engine = engine();
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("outside.txt"), "secret").unwrap();
    std::fs::create_dir(outer.path().join("other")).unwrap();
    std::fs::write(outer.path().join("other/secret.txt"), "secret").unwrap();
    let ws = outer.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("inside.txt"), "hello").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outer.path().join("other"), ws.join("link-out")).unwrap();
        std::os::unix::fs::symlink(outer.path().join("outside.txt"), ws.join("link-file")).unwrap();
    }
    let report = run(&engine, "fixture-escaper", &ws, Limits::default());
    let leaks: Vec<&str> = report.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(leaks.is_empty(), "sandbox leaked: {leaks:?}");
    assert_eq!(report.status, RuleStatus::Passed);
    // The control read proves the fixture could read at all.
    assert!(
        report.summary.contains("control read 5 bytes"),
        "{}",
        report.summary
    );
    assert!(
        !ws.join("written.txt").exists(),
        "the workspace must be read-only"
    );
    good_rule_still_works(&engine);
}

#[test]
fn panic_is_reported_with_its_message() {
    let engine = engine();
    let ws = Workspace::new().build();
    let report = run(&engine, "fixture-panicker", ws.path(), Limits::default());
    assert_eq!(report.status, RuleStatus::Error);
    assert!(report.summary.contains("panicked: fixture rule gave up on purpose (at tests/fixtures/plugins/panicker/src/lib.rs:25:9)"), "{}", report.summary);
    good_rule_still_works(&engine);
}

#[test]
fn unsupported_api_version_is_refused_naming_both() {
    let engine = engine();
    let error = engine
        .rule("fixture-wrong-api")
        .err()
        .map(|e| checkrail::error::chain(&e))
        .expect("refused");
    assert!(error.contains("checkrail rule API 9.0.0"), "{error}");
    assert!(error.contains("supports API ^0.1"), "{error}");
    good_rule_still_works(&engine);
}

#[test]
fn limits_out_of_range_are_refused() {
    let engine = engine();
    let ws = Workspace::new().build();
    let error = engine
        .run_rule(&RuleRun {
            rule: "file-exists",
            config: &json!({}),
            workspace: ws.path(),
            timeout: None,
            memory: Some(8 << 30),
        })
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("memory cap must be between 1 MiB and 1024 MiB"),
        "{error}"
    );
}

#[test]
fn cancelling_a_checkpoint_stops_a_running_rule() {
    use checkrail::Error;

    let engine = Arc::new(engine());
    engine.rule("fixture-looper").unwrap();
    let ws = Workspace::new().build();
    // The loop's deadline is the longest there is (an hour): only the
    // cancel can end it within the patience.
    let result = cancelled_once_running(
        &engine,
        ws.path(),
        "        - rule: fixture-looper\n          timeout_ms: 3600000\n",
    );
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    good_rule_still_works(&engine);
}

/// Runs a checkpoint of `rules` (one_phase's YAML) and cancels it as soon
/// as its first rule has started; what the checkpoint returned, which must
/// come within the patience.
fn cancelled_once_running(
    engine: &Arc<Checkrail>,
    dir: &std::path::Path,
    rules: &str,
) -> checkrail::Result<checkrail::report::CheckpointReport> {
    use std::sync::atomic::{AtomicBool, Ordering};

    let flow = one_phase(rules);
    let cancel = Arc::new(AtomicBool::new(false));
    let trigger = cancel.clone();
    let hooks = checkrail::engine::Hooks {
        progress: Some(Arc::new(move |p| {
            if matches!(p, checkrail::engine::progress::Progress::RuleStarted { .. }) {
                trigger.store(true, Ordering::SeqCst);
            }
        })),
        cancel: Some(cancel),
    };
    let (engine, dir) = (engine.clone(), dir.to_owned());
    within_patience("a cancelled checkpoint", move || {
        checkpoint(&engine, &flow, "p", &dir, None, hooks)
    })
}

/// An engine whose only extra rule is the component `file` (not one of the
/// shared `fixture_*` set), installed as `name`.
fn engine_with_only(file: &str, name: &str) -> (Checkrail, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        std::path::Path::new(WASM_DIR).join(file),
        dir.path().join(name),
    )
    .unwrap();
    let engine = Checkrail::new(checkrail::Options {
        rule_dirs: vec![dir.path().to_owned()],
        cache_dir: Some(shared_cache()),
        ..checkrail::Options::default()
    })
    .expect("engine starts");
    (engine, dir)
}

fn short(timeout_ms: u64) -> Limits {
    Limits {
        timeout: Duration::from_millis(timeout_ms),
        ..Limits::default()
    }
}

#[test]
fn a_directory_chain_deeper_than_the_cap_is_reported_not_recursed_into() {
    let engine = engine();
    let ws = Workspace::new().file("README.md", "# x\n").build();
    // Built through handles: the full path is far longer than PATH_MAX.
    let mut dir =
        cap_std::fs::Dir::open_ambient_dir(ws.path(), cap_std::ambient_authority()).unwrap();
    for _ in 0..5_000 {
        dir.create_dir("d").unwrap();
        dir = dir.open_dir("d").unwrap();
    }
    dir.write("deep.txt", "x").unwrap();
    drop(dir);
    let report = run_with(
        &engine,
        "file-exists",
        &json!({"globs": ["**/*.txt"]}),
        ws.path(),
        Limits::default(),
    );
    assert_eq!(report.status, RuleStatus::Error, "{report:?}");
    assert!(
        report.summary.contains("depth cap of 256 directory levels"),
        "{}",
        report.summary
    );
    good_rule_still_works(&engine);
    // `rm` walks without recursion; std's removal would recurse 5,000 deep.
    let removed = std::process::Command::new("rm")
        .arg("-rf")
        .arg(ws.path().join("d"))
        .status()
        .unwrap();
    assert!(removed.success());
}

#[test]
fn a_sleep_in_check_ends_at_the_deadline() {
    let engine = Arc::new(engine());
    engine.rule("fixture-sleeper").unwrap();
    let ws = Workspace::new().build();
    // An hour-long sleep: only the deadline ends it within the patience.
    let (report, took) = within_patience("the hour-long sleep in `check`", {
        let (engine, dir) = (engine.clone(), ws.path().to_owned());
        move || {
            let started = Instant::now();
            let config = json!({"sleep_ms": 3_600_000});
            let report = run_with(&engine, "fixture-sleeper", &config, &dir, short(500));
            (report, started.elapsed())
        }
    });
    assert_eq!(report.status, RuleStatus::Error);
    assert!(
        report.summary.contains("ran past its deadline of 500 ms"),
        "{}",
        report.summary
    );
    assert!(took >= Duration::from_millis(500), "{took:?}");
    // A short sleep still works: the deadline caps sleeps, it does not
    // cut them.
    let report = run_with(
        &engine,
        "fixture-sleeper",
        &json!({"sleep_ms": 50}),
        ws.path(),
        Limits::default(),
    );
    assert_eq!(report.status, RuleStatus::Passed, "{report:?}");
    assert_eq!(report.summary, "woke up");
    good_rule_still_works(&engine);
}

#[test]
fn a_sleep_in_inputs_ends_at_the_rules_deadline() {
    let engine = Arc::new(engine());
    let rule = engine.rule("fixture-sleeper").unwrap();
    // An hour-long sleep: only the deadline ends it within the patience.
    let answer = within_patience("the hour-long sleep in `inputs`", {
        let (engine, rule) = (engine.clone(), rule.clone());
        move || {
            let config = json!({"sleep_ms": 3_600_000, "in": "inputs"});
            rule.inputs_within(engine.runtime(), &config, &short(300))
        }
    });
    let error = answer.unwrap_err();
    assert!(error.contains("ran past its deadline of 300 ms"), "{error}");
    let quick = rule
        .inputs_within(engine.runtime(), &json!({}), &short(300))
        .unwrap();
    assert_eq!(quick, vec!["**".to_owned()]);
    good_rule_still_works(&engine);
}

#[test]
fn a_checkpoint_asks_inputs_under_its_own_deadline_and_says_why_it_did_not_cache() {
    // Through a checkpoint with the outcome cache on: `inputs` is asked
    // under the rule's `timeout_ms`, not the default 10 s, and the report
    // carries why the result was not cached.
    let ws = tempfile::tempdir().unwrap();
    let workflow = one_phase(
        "        - rule: fixture-sleeper\n          timeout_ms: 300\n          config: { sleep_ms: 3600000, in: inputs }\n",
    );
    // The hour-long sleep in `inputs` ends within the patience only by a
    // deadline; the finding names which one.
    let dir = ws.path().to_owned();
    let report = within_patience("a checkpoint asking a sleeping `inputs`", move || {
        checkpoint(&engine(), &workflow, "p", &dir, None, Default::default())
    })
    .unwrap();
    let rule = &report.rules[0];
    assert_eq!(rule.status, RuleStatus::Passed, "{rule:?}");
    let finding = rule
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some("inputs-failed"))
        .expect("the report says why it was not cached");
    assert!(
        finding.message.contains("ran past its deadline of 300 ms"),
        "{}",
        finding.message
    );
}

#[test]
fn a_sleep_in_describe_ends_at_the_describe_deadline() {
    let (engine, _dir) = engine_with_only("slow_describe.wasm", "slow_describe.wasm");
    let engine = Arc::new(engine);
    // `describe` sleeps an hour: only its deadline ends it within the
    // patience.
    let error = within_patience("the hour-long sleep in `describe`", {
        let engine = engine.clone();
        move || {
            engine
                .rule("slow-describe")
                .err()
                .map(|e| checkrail::error::chain(&e))
        }
    })
    .expect("refused");
    assert!(error.contains("failed in `describe`"), "{error}");
    assert!(
        error.contains("ran past its deadline of 5000 ms"),
        "{error}"
    );
    good_rule_still_works(&engine);
}

#[test]
fn cancelling_stops_a_sleeping_rule() {
    let engine = Arc::new(engine());
    engine.rule("fixture-sleeper").unwrap();
    let ws = Workspace::new().build();
    // An hour-long sleep under an hour-long deadline: only the cancel can
    // end it within the patience.
    let result = cancelled_once_running(
        &engine,
        ws.path(),
        "        - rule: fixture-sleeper\n          timeout_ms: 3600000\n          config: {sleep_ms: 3600000}\n",
    );
    assert!(
        matches!(result, Err(checkrail::Error::Cancelled)),
        "{result:?}"
    );
    good_rule_still_works(&engine);
}

/// Makes a FIFO at `path`; nothing ever writes to it.
fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
}

#[test]
fn a_fifo_in_the_workspace_is_refused_rather_than_waited_on() {
    let engine = Arc::new(engine());
    let ws = Workspace::new().file("plain.txt", "hello").build();
    mkfifo(&ws.path().join("README.md"));
    // Nothing ever writes to the FIFO: a read that waited on it would end
    // at the rule's deadline (an error), or never if the host blocked.
    let (report, control, bundled) = within_patience("reads of a FIFO", {
        let (engine, dir) = (engine.clone(), ws.path().to_owned());
        move || {
            let read = |rule: &str, config: serde_json::Value| {
                run_with(&engine, rule, &config, &dir, short(5_000))
            };
            (
                read("fixture-sleeper", json!({"read": "README.md"})),
                read("fixture-sleeper", json!({"read": "plain.txt"})),
                read(
                    "file-exists",
                    json!({"paths": [{"path": "README.md", "matches": "x"}]}),
                ),
            )
        }
    });
    let messages: Vec<&str> = report.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(report.status, RuleStatus::Passed, "{report:?}");
    assert_eq!(messages[0], "wasi: refused (Unsupported)", "{messages:?}");
    assert!(
        messages[1].starts_with("sdk: refused: `README.md` is not a regular file"),
        "{messages:?}"
    );
    // The same fixture reads a regular file, so the refusal above is the
    // FIFO's doing.
    let messages: Vec<&str> = control
        .findings
        .iter()
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(messages, ["wasi: read 5 bytes", "sdk: read 5 bytes"]);
    // The bundled rule asked to match a FIFO's text answers too: a finding
    // at the FIFO, not a deadline.
    assert_eq!(bundled.status, RuleStatus::Failed, "{bundled:?}");
    assert!(
        bundled
            .findings
            .iter()
            .any(|f| f.path.as_deref() == Some("README.md")),
        "{bundled:?}"
    );
    // The host's own reads refuse it too.
    let native = checkrail_sandbox::NativeWorkspace::open(ws.path()).unwrap();
    let refused = native.read("README.md").unwrap_err().to_string();
    assert!(
        refused.contains("is a FIFO, not a regular file"),
        "{refused}"
    );
    good_rule_still_works(&engine);
}

#[test]
fn floods_of_findings_text_and_logs_are_capped_and_said_so() {
    use checkrail::runtime::caps;

    let engine = engine();
    let ws = Workspace::new().build();
    let report = run_with(
        &engine,
        "fixture-flooder",
        &json!({
            "findings": 1_500,
            "message_bytes": 20_000,
            "summary_bytes": 1_000_000,
            "logs": 2_000,
        }),
        ws.path(),
        Limits::default(),
    );
    assert_eq!(report.status, RuleStatus::Failed, "{}", report.summary);
    assert!(
        report.summary.len() <= caps::TEXT_MAX,
        "{}",
        report.summary.len()
    );
    assert!(report.summary.ends_with("bytes cut]"));
    assert!(report.findings.len() <= caps::FINDINGS_MAX + 2);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.message.len() <= caps::TEXT_MAX)
    );
    let text: usize = report.findings.iter().map(|f| f.message.len()).sum();
    assert!(
        text <= caps::OUTCOME_TEXT_MAX + 2 * caps::TEXT_MAX,
        "{text}"
    );
    let capped = report
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some(caps::CODE_FINDINGS_CAPPED))
        .expect("a finding says findings were cut");
    assert_eq!(capped.severity, checkrail_sdk::Severity::Error);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code.as_deref() == Some(caps::CODE_LOGS_DROPPED)),
        "{:?}",
        report.findings.last()
    );
    // Many small findings: cut by count.
    let report = run_with(
        &engine,
        "fixture-flooder",
        &json!({"findings": 100_000}),
        ws.path(),
        Limits::default(),
    );
    assert_eq!(report.findings.len(), caps::FINDINGS_MAX + 1);
    assert!(
        report.findings[caps::FINDINGS_MAX]
            .message
            .starts_with("99000 more findings were not shown"),
        "{}",
        report.findings[caps::FINDINGS_MAX].message
    );
    good_rule_still_works(&engine);
}

#[test]
fn oversized_facts_inputs_and_schemas_are_refused_naming_the_cap() {
    let engine = engine();
    let ws = Workspace::new().build();
    let report = run_with(
        &engine,
        "fixture-flooder",
        &json!({"facts_bytes": 2 << 20}),
        ws.path(),
        Limits::default(),
    );
    assert_eq!(report.status, RuleStatus::Error);
    assert!(
        report
            .summary
            .contains("bytes of facts; the limit is 1024 KiB"),
        "{}",
        report.summary
    );
    let rule = engine.rule("fixture-flooder").unwrap();
    let error = rule
        .inputs_within(
            engine.runtime(),
            &json!({"inputs": 10_000}),
            &Limits::default(),
        )
        .unwrap_err();
    assert!(
        error.contains("named 10000 input globs; the limit is 256"),
        "{error}"
    );
    assert!(
        rule.inputs(engine.runtime(), &json!({"inputs": 10_000}))
            .is_empty()
    );
    good_rule_still_works(&engine);

    let (engine, _dir) = engine_with_only("huge_schema.wasm", "huge_schema.wasm");
    let error = engine
        .rule("huge-schema")
        .err()
        .map(|e| checkrail::error::chain(&e))
        .expect("refused");
    assert!(error.contains("publishes a config schema of"), "{error}");
    assert!(error.contains("the limit is 1024 KiB"), "{error}");
    good_rule_still_works(&engine);
}

#[test]
fn holding_too_many_files_stops_the_rule_and_spares_the_others() {
    let engine = engine();
    let ws = Workspace::new().file("data.txt", "x").build();
    let report = run_with(
        &engine,
        "fixture-flooder",
        &json!({"open_files": 20_000}),
        ws.path(),
        Limits::default(),
    );
    assert_eq!(report.status, RuleStatus::Error);
    assert!(
        report.summary.contains(&format!(
            "held more than {} open files at once",
            checkrail::runtime::FILES_BUDGET
        )),
        "{}",
        report.summary
    );
    // Within the budget, files open.
    let report = run_with(
        &engine,
        "fixture-flooder",
        &json!({"open_files": 100}),
        ws.path(),
        Limits::default(),
    );
    assert_eq!(report.status, RuleStatus::Passed, "{}", report.summary);
    good_rule_still_works(&engine);
}

#[test]
fn panic_text_on_stderr_is_not_taken_for_a_panic() {
    let engine = engine();
    let ws = Workspace::new().build();
    let report = run_with(
        &engine,
        "fixture-panicker",
        &json!({"forge": true}),
        ws.path(),
        Limits::default(),
    );
    assert_eq!(report.status, RuleStatus::Error);
    assert!(
        report.summary.contains("crashed (wasm trap)"),
        "{}",
        report.summary
    );
    assert!(!report.summary.contains("forged"), "{}", report.summary);
    good_rule_still_works(&engine);
}

#[test]
fn a_panic_after_a_refused_growth_is_a_panic_not_memory() {
    let engine = engine();
    let ws = Workspace::new().build();
    let report = run_with(
        &engine,
        "fixture-panicker",
        &json!({"after_refused_growth": true}),
        ws.path(),
        Limits {
            memory: 32 << 20,
            ..Limits::default()
        },
    );
    assert_eq!(report.status, RuleStatus::Error);
    assert!(
        report
            .summary
            .contains("panicked: fixture panicked after a refused growth (true)"),
        "{}",
        report.summary
    );
    good_rule_still_works(&engine);
}

#[test]
fn a_component_reusing_a_bundled_id_is_skipped_and_nothing_else_breaks() {
    // The looper installed under the bundled rule's name: if it were used,
    // the good rule below would spin to its deadline instead of answering.
    let (engine, _dir) = engine_with_only("fixture_looper.wasm", "file_exists.wasm");
    good_rule_still_works(&engine);
    let info = &engine.rule("file-exists").unwrap().component;
    assert!(info.origin.starts_with("bundled:"), "{}", info.origin);
}
