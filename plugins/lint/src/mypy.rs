//! `mypy`: `file:line:col: error: message  [code]` lines.

use checkrail_sdk::tool::{Diag, Ran, Reading, Toolchain};
use checkrail_sdk::{Command, Result};

use crate::{Config, LintTool, custom, globs};

/// Python type checking: `mypy .` (or the paths in `args`).
pub struct Mypy;

impl Toolchain<Config> for Mypy {
    fn program(&self) -> &'static str {
        "mypy"
    }

    fn inputs(&self, config: &Config) -> Vec<String> {
        globs(
            config,
            &["**/*.py", "**/*.pyi", "**/pyproject.toml"],
            &["mypy.ini", ".mypy.ini", "setup.cfg"],
        )
    }

    fn command(&self, config: &Config) -> Result<Command> {
        Ok(Command::new("mypy")
            .args([
                "--show-column-numbers",
                "--no-color-output",
                "--no-error-summary",
                "--hide-error-context",
                // No cache in the workspace: nothing written there.
                "--cache-dir=/dev/null",
            ])
            .args(config.args.iter().cloned())
            .args((!config.names_paths()).then_some("."))
            .env("NO_COLOR", "1"))
    }

    fn read(&self, _: &Config, ran: &Ran) -> Result<Reading> {
        custom::read(ran)
    }
}

impl LintTool for Mypy {
    fn covers(&self) -> &'static [&'static str] {
        &["*.py", "*.pyi"]
    }

    fn broke_hint(&self) -> &'static str {
        "make mypy run: fix what it prints (its configuration, or the paths in `args`)"
    }

    fn hint(&self, d: &Diag, _: &str) -> String {
        match d.code.as_deref() {
            Some(code) => format!(
                "fix the types mypy points at (error code `{code}`; silencing it with `# type: ignore[{code}]` needs a reason)"
            ),
            None => "fix the types mypy points at".to_owned(),
        }
    }
}
