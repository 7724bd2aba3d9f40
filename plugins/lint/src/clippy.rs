//! `cargo clippy`: rustc's JSON diagnostics on stdout, the lint's name
//! added to each message.

use checkrail_sdk::tool::{Diag, Ran, Reading, Toolchain, rustc};
use checkrail_sdk::{Command, Result};

use crate::{Config, LintTool, POINT_AT, globs};

/// Rust: `cargo clippy --message-format=json --color=never`.
pub struct Clippy;

impl Toolchain<Config> for Clippy {
    fn program(&self) -> &'static str {
        "cargo"
    }

    fn label(&self, _: &Config) -> String {
        "cargo clippy".to_owned()
    }

    fn judging_files(&self) -> &'static [&'static str] {
        &[
            ".cargo/config",
            ".cargo/config.toml",
            "rust-toolchain",
            "rust-toolchain.toml",
            "clippy.toml",
            ".clippy.toml",
        ]
    }

    fn inputs(&self, config: &Config) -> Vec<String> {
        globs(
            config,
            &["**/*.rs", "**/Cargo.toml"],
            &[
                "Cargo.lock",
                "clippy.toml",
                ".clippy.toml",
                "rust-toolchain.toml",
                "rust-toolchain",
                ".cargo/config.toml",
            ],
        )
    }

    fn command(&self, config: &Config) -> Result<Command> {
        Ok(Command::new("cargo")
            .args(["clippy", "--message-format=json", "--color=never"])
            .args(config.args.iter().cloned())
            .env("CARGO_TERM_COLOR", "never"))
    }

    fn read(&self, _: &Config, ran: &Ran) -> Result<Reading> {
        let read = rustc::read(&ran.output.stdout);
        Ok(Reading {
            anchors: read.anchors,
            ..Reading::of(read.diags)
        })
    }
}

impl LintTool for Clippy {
    fn reads_stderr(&self) -> bool {
        false
    }

    fn covers(&self) -> &'static [&'static str] {
        &["*.rs"]
    }

    // cargo exits 101 for compile errors and denied lints, which are
    // blocking findings already.
    fn broke(&self, blocking: usize, no_diags: bool) -> Option<&'static str> {
        (blocking == 0).then_some(if no_diags {
            POINT_AT
        } else {
            "reporting a blocking problem (per `block_levels`)"
        })
    }

    fn broke_hint(&self) -> &'static str {
        "make `cargo clippy` succeed: fix the error it prints (a broken Cargo.toml, a missing dependency, a denied lint)"
    }

    fn message(&self, d: &Diag) -> String {
        match &d.code {
            Some(code) => format!("{} [{code}]", d.message),
            None => d.message.clone(),
        }
    }

    fn hint(&self, d: &Diag, _: &str) -> String {
        match d.code.as_deref() {
            Some(code) if code.starts_with("clippy::") => format!(
                "see https://rust-lang.github.io/rust-clippy/master/index.html#{}",
                &code["clippy::".len()..]
            ),
            _ => "fix the code the compiler points at".to_owned(),
        }
    }
}
