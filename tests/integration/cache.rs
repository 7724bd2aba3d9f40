//! The compile cache: a second start loads from disk instead of compiling,
//! and describes a rule from what the cache remembers without loading it.

use checkrail::engine::RuleRun;
use checkrail::runtime::CacheStatus;
use checkrail::{Checkrail, Options};
use serde_json::json;

/// An engine whose compile cache is `cache`, compiling the bundled rules
/// through it as if they had no precompiled code.
fn engine_with(cache: &std::path::Path) -> Checkrail {
    Checkrail::new(Options {
        cache_dir: Some(cache.to_owned()),
        compile_bundled: true,
        ..Options::default()
    })
    .unwrap()
}

#[test]
fn bundled_rules_run_from_code_precompiled_at_build_without_compiling() {
    let cache = tempfile::tempdir().unwrap();
    let engine = Checkrail::new(Options {
        cache_dir: Some(cache.path().to_owned()),
        ..Options::default()
    })
    .unwrap();
    for name in engine.rule_names() {
        let rule = engine.rule(&name).unwrap();
        assert_eq!(
            rule.component.linked_from(),
            Some(CacheStatus::Precompiled),
            "{name} was not loaded from its precompiled code"
        );
    }
    assert!(file_exists_passes(&engine, "present"));
    assert!(!file_exists_passes(&engine, "absent"));
    let compiled: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert!(compiled.is_empty(), "compiled into the cache: {compiled:?}");
    // A second process describes them from the cache and links the
    // precompiled code when one runs.
    drop(engine);
    let engine = Checkrail::new(Options {
        cache_dir: Some(cache.path().to_owned()),
        ..Options::default()
    })
    .unwrap();
    let rule = engine.rule("file-exists").unwrap();
    assert_eq!(rule.component.cache, CacheStatus::Described);
    assert!(file_exists_passes(&engine, "present"));
    assert_eq!(rule.component.linked_from(), Some(CacheStatus::Precompiled));
}

/// Runs `file-exists` on a workspace holding `present`, and says whether it
/// passed.
fn file_exists_passes(engine: &Checkrail, path: &str) -> bool {
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("present"), "here").unwrap();
    let report = engine
        .run_rule(&RuleRun {
            rule: "file-exists",
            config: &json!({ "paths": [path] }),
            workspace: workspace.path(),
            timeout: None,
            memory: None,
        })
        .unwrap();
    report.status == checkrail::report::RuleStatus::Passed
}

fn description_file(cache: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".describe.json"))
        .expect("description written")
}

#[test]
fn second_start_describes_from_the_cache_and_loads_the_code_from_it_when_run() {
    let cache = tempfile::tempdir().unwrap();
    let first = engine_with(cache.path());
    let rule = first.rule("file-exists").unwrap();
    assert_eq!(rule.component.cache, CacheStatus::Compiled);
    assert_eq!(rule.component.linked_from(), Some(CacheStatus::Compiled));
    drop(first);
    let second = engine_with(cache.path());
    let rule = second.rule("file-exists").unwrap();
    assert_eq!(rule.component.cache, CacheStatus::Described);
    assert_eq!(
        rule.component.linked_from(),
        None,
        "not loaded until it runs"
    );
    assert!(file_exists_passes(&second, "present"));
    assert!(!file_exists_passes(&second, "absent"));
    assert_eq!(rule.component.linked_from(), Some(CacheStatus::Cached));
}

#[test]
fn a_described_rule_still_refuses_a_bad_config_and_remembers_good_ones() {
    let cache = tempfile::tempdir().unwrap();
    drop(engine_with(cache.path()).rule("file-exists").unwrap());
    let engine = engine_with(cache.path());
    let rule = engine.rule("file-exists").unwrap();
    assert!(
        !rule
            .config_violations(&json!({ "paths": 3 }), "")
            .is_empty()
    );
    assert!(
        rule.config_violations(&json!({ "paths": ["a"] }), "")
            .is_empty()
    );
    let remembered = std::fs::read_to_string(description_file(cache.path())).unwrap();
    let remembered: serde_json::Value = serde_json::from_str(&remembered).unwrap();
    assert_eq!(remembered["accepted"].as_array().map(Vec::len), Some(1));
    // The refused config was not remembered: a third process refuses it too.
    let third = engine_with(cache.path());
    let rule = third.rule("file-exists").unwrap();
    assert!(
        !rule
            .config_violations(&json!({ "paths": 3 }), "")
            .is_empty()
    );
}

#[test]
fn a_description_that_does_not_parse_or_breaks_the_rules_is_asked_again() {
    let cache = tempfile::tempdir().unwrap();
    drop(engine_with(cache.path()).rule("file-exists").unwrap());
    let file = description_file(cache.path());
    std::fs::write(&file, "{ not json").unwrap();
    let engine = engine_with(cache.path());
    assert_eq!(
        engine.rule("file-exists").unwrap().component.cache,
        CacheStatus::Cached
    );
    drop(engine);
    // A remembered capability the host does not know is refused as from
    // `describe` itself.
    let mut text: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    text["capabilities"] = json!(["network:anywhere"]);
    std::fs::write(&file, text.to_string()).unwrap();
    let engine = engine_with(cache.path());
    let refused = engine.rule("file-exists").err().expect("refused");
    let message = checkrail::error::chain(&refused);
    assert!(message.contains("declares the capability"), "{message}");
}

#[test]
fn a_tampered_artifact_is_recompiled_not_loaded() {
    let cache = tempfile::tempdir().unwrap();
    engine_with(cache.path()).rule("file-exists").unwrap();
    let artifact = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("artifact written");
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&artifact, bytes).unwrap();
    let engine = engine_with(cache.path());
    let rule = engine.rule("file-exists").unwrap();
    assert!(file_exists_passes(&engine, "present"));
    assert_eq!(rule.component.linked_from(), Some(CacheStatus::Compiled));
}

#[cfg(unix)]
#[test]
fn a_cache_others_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let engine = engine_with(cache.path());
    assert!(engine.runtime().cache().dir().is_none());
    assert_eq!(
        engine.rule("file-exists").unwrap().component.cache,
        CacheStatus::Uncached
    );
}
