//! The compile cache: a second start loads from disk instead of compiling.

use checkrail::runtime::CacheStatus;
use checkrail::{Checkrail, Options};

fn engine_with(cache: &std::path::Path) -> Checkrail {
    Checkrail::new(Options {
        cache_dir: Some(cache.to_owned()),
        ..Options::default()
    })
    .unwrap()
}

#[test]
fn second_start_does_not_recompile() {
    let cache = tempfile::tempdir().unwrap();
    let first = engine_with(cache.path());
    assert_eq!(
        first.rule("file-exists").unwrap().component.cache,
        CacheStatus::Compiled
    );
    drop(first);
    let second = engine_with(cache.path());
    assert_eq!(
        second.rule("file-exists").unwrap().component.cache,
        CacheStatus::Cached
    );
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
    assert_eq!(rule.component.cache, CacheStatus::Compiled);
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
