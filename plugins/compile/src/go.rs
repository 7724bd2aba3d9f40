//! `go build`: `file:line:col: message` lines, read like a custom
//! command's.

use checkrail_sdk::tool::{Ran, Reading, Toolchain};
use checkrail_sdk::{Command, Result};

use crate::{Compiler, Job, both, custom, under_cwd};

/// `go build ./...` (or the packages in `args`), output thrown away.
pub struct Go;

impl Toolchain<Job<'_>> for Go {
    fn program(&self) -> &'static str {
        "go"
    }

    fn label(&self, _: &Job) -> String {
        "go build".to_owned()
    }

    fn inputs(&self, job: &Job) -> Vec<String> {
        under_cwd(job.config, ["**/*.go", "**/go.mod", "**/go.sum"])
    }

    fn command(&self, job: &Job) -> Result<Command> {
        let args = &job.config.args;
        // Arguments that name packages replace `./...`.
        let packages = (!args.iter().any(|a| !a.starts_with('-'))).then_some("./...");
        Ok(Command::new("go")
            .args(["build", "-o", "/dev/null"])
            .args(args.iter().cloned())
            .args(packages))
    }

    fn read(&self, _: &Job, ran: &Ran) -> Result<Reading> {
        Ok(Reading::of(both(
            custom::parse,
            &ran.output.stderr,
            &ran.output.stdout,
        )))
    }
}

impl Compiler for Go {
    fn again(&self, _: &str) -> String {
        "build again".to_owned()
    }
}
