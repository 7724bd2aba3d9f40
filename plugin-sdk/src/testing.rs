//! Running a rule natively, without wasm, against a temporary directory.

use std::io;
use std::path::{Path, PathBuf};

use crate::rule::{config_schema, inputs, run};
use crate::{Context, Outcome, Result, Rule, Workspace};

/// A temporary workspace directory, removed when dropped.
pub struct TestWorkspace {
    dir: tempfile::TempDir,
}

impl TestWorkspace {
    /// Creates an empty workspace.
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            dir: tempfile::tempdir()?,
        })
    }

    /// The workspace's directory on this machine.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating parent directories); `path` is relative.
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> io::Result<PathBuf> {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, contents)?;
        Ok(full)
    }

    /// Creates a directory and its parents; `path` is relative.
    pub fn mkdir(&self, path: &str) -> io::Result<PathBuf> {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(&full)?;
        Ok(full)
    }

    /// A [`Context`] for this workspace, to add a checkpoint, evidence or
    /// baselines to and run a rule with through [`run_with_context`].
    ///
    /// ```
    /// use checkrail_sdk::testing::{run_with_context, TestWorkspace};
    /// use checkrail_sdk::{Context, Outcome, Result, Rule};
    /// use serde_json::json;
    ///
    /// /// Passes once the phase's facts show fewer failures than the last.
    /// struct Improves;
    ///
    /// impl Rule for Improves {
    ///     type Config = serde_json::Value;
    ///     const ID: &'static str = "improves";
    ///     const DESCRIPTION: &'static str = "Fewer failures than before.";
    ///
    ///     fn check(_: serde_json::Value, cx: &Context) -> Result<Outcome> {
    ///         let failures = 0;
    ///         let before = cx.baselines().last().and_then(|b| b.facts["failures"].as_u64());
    ///         let outcome = match before {
    ///             Some(n) if n <= failures => Outcome::fail("no fewer failures than before"),
    ///             _ => Outcome::pass("fewer failures"),
    ///         };
    ///         Ok(outcome.with_facts(json!({"failures": failures})))
    ///     }
    /// }
    ///
    /// let ws = TestWorkspace::new().unwrap();
    /// let cx = ws.context().unwrap().with_baseline("red", json!({"failures": 2}));
    /// let outcome = run_with_context::<Improves>(json!({}), &cx).unwrap();
    /// assert!(outcome.passed);
    /// assert_eq!(outcome.facts_value(), Some(json!({"failures": 0})));
    /// ```
    pub fn context(&self) -> Result<Context> {
        let workspace = Workspace::open(self.path()).map_err(|e| {
            crate::Error::new(format!("open workspace `{}`: {e}", self.path().display()))
        })?;
        Ok(Context::new(workspace))
    }

    /// Runs rule `R` with `config` (JSON) against this workspace.
    pub fn run<R: Rule>(&self, config: serde_json::Value) -> Result<Outcome> {
        run_rule::<R>(config, self.path())
    }

    /// Runs rule `R` with `config`, granting it the programs in `granted`
    /// (as a workspace's checkrail.toml would), limited to those the rule
    /// declares.
    pub fn run_granting<R: Rule>(
        &self,
        config: serde_json::Value,
        granted: &[&str],
    ) -> Result<Outcome> {
        run_with_context::<R>(config, &self.context_granting::<R>(granted)?)
    }

    /// A [`Context`] in which rule `R` may run the programs in `granted`
    /// that it declares in [`Rule::CAPABILITIES`], as a workspace's
    /// checkrail.toml would grant them, to add a checkpoint or baselines to
    /// before [`run_with_context`]. Fails when `R` declares something that
    /// is not a capability.
    pub fn context_granting<R: Rule>(&self, granted: &[&str]) -> Result<Context> {
        let capabilities = checkrail_sandbox::Capability::parse_all(R::CAPABILITIES)
            .map_err(|e| crate::Error::new(format!("rule `{}` declares {e}", R::ID)))?;
        let mut policy = checkrail_sandbox::exec::ExecPolicy::for_rule(R::ID, &capabilities);
        policy.granted = granted.iter().map(|g| (*g).to_owned()).collect();
        Ok(self.context()?.with_exec_policy(policy))
    }
}

/// Runs rule `R` with `config` (JSON) against the directory `root`.
pub fn run_rule<R: Rule>(config: serde_json::Value, root: &Path) -> Result<Outcome> {
    let workspace = Workspace::open(root)
        .map_err(|e| crate::Error::new(format!("open workspace `{}`: {e}", root.display())))?;
    run_with_context::<R>(config, &Context::new(workspace))
}

/// Runs rule `R` with `config` (JSON) and a prepared [`Context`].
pub fn run_with_context<R: Rule>(config: serde_json::Value, cx: &Context) -> Result<Outcome> {
    run::<R>(&config.to_string(), cx)
}

/// The JSON Schema of rule `R`'s config, as the host will see it.
pub fn config_schema_of<R: Rule>() -> serde_json::Value {
    serde_json::from_str(&config_schema::<R>()).unwrap_or_default()
}

/// The input globs rule `R` declares for `config` (what the host hashes to
/// reuse an earlier outcome).
pub fn inputs_of<R: Rule>(config: serde_json::Value) -> Vec<String> {
    inputs::<R>(&config.to_string())
}

/// Fails the test, saying what to install, when `program` is not on PATH:
/// a rule that runs a real tool is tested against the real tool, never
/// skipped.
pub fn require_program(program: &str, install: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    assert!(
        checkrail_sandbox::exec::find_on_path(program, &path).is_some(),
        "`{program}` is not on PATH; {install}"
    );
}

/// The code of each finding, in order (`-` for a finding without one).
pub fn codes(outcome: &Outcome) -> Vec<&str> {
    outcome
        .findings
        .iter()
        .map(|f| f.code.as_deref().unwrap_or("-"))
        .collect()
}

/// The first finding with `code`; panics, showing the outcome, when there
/// is none.
pub fn finding<'a>(outcome: &'a Outcome, code: &str) -> &'a crate::Finding {
    outcome
        .findings
        .iter()
        .find(|f| f.code.as_deref() == Some(code))
        .unwrap_or_else(|| panic!("no finding with code `{code}` in {outcome:#?}"))
}
