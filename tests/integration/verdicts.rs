//! Verdicts an agent cannot fake, with real toolchains: a cache that sees
//! every file a test reads and the toolchain itself, named regression tests
//! that flow from evidence, judging files frozen for the session, frozen
//! paths. Each cheat fails with a finding an agent can act on; the honest
//! path still passes.

mod cache;
mod judging;
mod regressions;

use crate::support::Workspace;

pub(crate) const CRATE_TOML: &str =
    "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
const BUILD_RS: &str = "fn main() {}\n";
const LIB_RS: &str = r#"pub fn answer() -> u32 { 42 }

#[cfg(test)]
mod tests {
    #[test]
    fn answer_matches_the_data_file() {
        let expected: u32 = include_str!("../data/expected.txt").trim().parse().unwrap();
        assert_eq!(super::answer(), expected);
    }

    #[test]
    fn fixture_is_read_at_run_time() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixture.txt");
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text.trim(), "ok");
    }
}
"#;

/// A crate whose tests read a data file through `include_str!` and a
/// fixture at run time, with a build script; cargo granted.
pub(crate) fn rust_crate() -> Workspace {
    Workspace::new()
        .file("Cargo.toml", CRATE_TOML)
        .file("build.rs", BUILD_RS)
        .file("src/lib.rs", LIB_RS)
        .file("data/expected.txt", "42\n")
        .file("tests/fixture.txt", "ok\n")
        .file(".gitignore", "/target\n")
        .grant("cargo")
}
