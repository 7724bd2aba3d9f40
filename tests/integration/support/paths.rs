//! Where things are: the components the build script built, the shared
//! compile cache, the fixture rules and the repository.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the build script put the wasm components it built.
pub const WASM_DIR: &str = env!("CHECKRAIL_PLUGIN_WASM_DIR");

/// A compile cache shared by the tests of this run, so each component is
/// compiled once.
pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("checkrail-test-cache")
}

/// A directory holding only the fixture rule components (the bundled rules
/// are already in the binary; listing them twice is an error).
pub fn fixture_rules() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(WASM_DIR).expect("wasm dir exists") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("fixture_") && name.ends_with(".wasm") && !name.contains("greeter")
            {
                std::fs::copy(&path, dir.path().join(&name)).expect("copy fixture");
            }
        }
        dir
    })
    .path()
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}
