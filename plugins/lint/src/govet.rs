//! `go vet`: `file:line:col: message` lines on stderr, each of them
//! blocking by default.

use checkrail_sdk::tool::{Diag, Ran, Reading, Toolchain};
use checkrail_sdk::{Command, Result};

use crate::{Config, Level, LintTool, custom, globs};

/// Go: `go vet ./...` (or the packages in `args`).
pub struct Govet;

impl Toolchain<Config> for Govet {
    fn program(&self) -> &'static str {
        "go"
    }

    fn label(&self, _: &Config) -> String {
        "go vet".to_owned()
    }

    fn inputs(&self, config: &Config) -> Vec<String> {
        globs(config, &["**/*.go", "**/go.mod", "**/go.sum"], &[])
    }

    fn command(&self, config: &Config) -> Result<Command> {
        Ok(Command::new("go")
            .arg("vet")
            .args(config.args.iter().cloned())
            .args((!config.names_paths()).then_some("./...")))
    }

    fn read(&self, _: &Config, ran: &Ran) -> Result<Reading> {
        custom::read(ran)
    }
}

impl LintTool for Govet {
    // go vet reports only what is likely wrong: each of its reports blocks
    // unless `block_levels` says otherwise.
    fn blocks(&self) -> &'static [Level] {
        &[Level::Error, Level::Warning]
    }

    fn covers(&self) -> &'static [&'static str] {
        &["*.go"]
    }

    fn broke_hint(&self) -> &'static str {
        "make `go vet` run: fix what it prints (a broken go.mod, code that does not compile)"
    }

    fn hint(&self, _: &Diag, _: &str) -> String {
        "fix the code `go vet` points at (`go doc cmd/vet` lists its checks)".to_owned()
    }
}
