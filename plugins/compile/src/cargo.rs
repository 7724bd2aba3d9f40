//! `cargo build`: rustc's JSON diagnostics on stdout.

use checkrail_sdk::tool::{Ran, Reading, Toolchain, rustc};
use checkrail_sdk::{Command, Result};

use crate::{Compiler, Job, under_cwd};

/// `cargo build --message-format=json`.
pub struct Cargo;

impl Toolchain<Job<'_>> for Cargo {
    fn program(&self) -> &'static str {
        "cargo"
    }

    fn label(&self, _: &Job) -> String {
        "cargo build".to_owned()
    }

    fn judging_files(&self) -> &'static [&'static str] {
        &[
            ".cargo/config",
            ".cargo/config.toml",
            "rust-toolchain",
            "rust-toolchain.toml",
        ]
    }

    fn inputs(&self, job: &Job) -> Vec<String> {
        under_cwd(job.config, ["**/*.rs", "**/Cargo.toml", "Cargo.lock"])
    }

    fn command(&self, job: &Job) -> Result<Command> {
        Ok(Command::new("cargo")
            .args(["build", "--message-format=json", "--color=never"])
            .args(job.config.args.iter().cloned())
            .env("CARGO_TERM_COLOR", "never"))
    }

    fn read(&self, _: &Job, ran: &Ran) -> Result<Reading> {
        Ok(Reading::of(rustc::read(&ran.output.stdout).diags))
    }
}

impl Compiler for Cargo {
    fn again(&self, _: &str) -> String {
        "build again".to_owned()
    }
}
