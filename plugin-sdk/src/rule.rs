//! The [`Rule`] trait and what a rule sees while it runs.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::{Outcome, Workspace};

/// Why a rule could not run at all: not a failed check, which is an
/// [`Outcome`] with findings, but a broken rule or an impossible config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl Error {
    /// An error with a message that reads after "failed to", e.g.
    /// `compile pattern "[": unclosed character class`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Result of a rule's `check`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A validation rule.
///
/// Implement it on a unit struct and pass that struct to
/// [`export_rule!`](crate::export_rule). The rule's version is its crate's
/// version.
pub trait Rule {
    /// The rule's config, deserialized from the checkpoint's `config`. Its
    /// JSON Schema (derived) is published through `describe` and checked by
    /// the host before [`Rule::check`] runs, so a bad config never reaches
    /// your code from the host.
    type Config: DeserializeOwned + JsonSchema;

    /// Stable id: lowercase words joined by `-`, e.g. `file-exists`.
    const ID: &'static str;

    /// One sentence saying what the rule checks.
    const DESCRIPTION: &'static str;

    /// Capabilities the rule may ask the host for, e.g. `exec:cargo`. The
    /// workspace owner must grant each one before it is honoured.
    const CAPABILITIES: &'static [&'static str] = &[];

    /// Workspace-relative globs of the files that change how the rule's tool
    /// judges rather than what it judges: a `.cargo/config.toml` that
    /// rewrites build flags, a `conftest.py` that skips tests, a `ruff.toml`
    /// that turns lints off. The host snapshots them when a session starts
    /// and reports a change in the middle of the session as a blocking
    /// finding. One list covers every tool the rule may run.
    const JUDGING_FILES: &'static [&'static str] = &[];

    /// Checks the workspace. Return an [`Outcome`]; return an [`Error`] only
    /// when the rule cannot run at all.
    fn check(config: Self::Config, cx: &Context) -> Result<Outcome>;

    /// Globs of the workspace files a check with `config` depends on. While
    /// their contents, the config and the rule are unchanged, the host reuses
    /// the previous outcome instead of running the check. The default, an
    /// empty list, never caches (right for rules that look at evidence or
    /// anything outside the files).
    fn inputs(config: &Self::Config) -> Vec<String> {
        let _ = config;
        Vec::new()
    }
}

/// Facts a rule recorded at an earlier phase of the same session (see
/// [`Outcome::with_facts`](crate::Outcome::with_facts)).
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// Id of the phase the facts were recorded at.
    pub phase: String,
    /// The facts, as the rule recorded them.
    pub facts: serde_json::Value,
}

/// What a rule sees while it runs.
pub struct Context {
    workspace: Workspace,
    workflow: Option<String>,
    phase: Option<String>,
    evidence: Option<serde_json::Value>,
    baselines: Vec<Baseline>,
    #[cfg(not(target_arch = "wasm32"))]
    exec_policy: Option<checkrail_sandbox::exec::ExecPolicy>,
}

impl Context {
    /// A context for a native run against `workspace`.
    pub fn new(workspace: Workspace) -> Self {
        Self {
            workspace,
            workflow: None,
            phase: None,
            evidence: None,
            baselines: Vec::new(),
            #[cfg(not(target_arch = "wasm32"))]
            exec_policy: None,
        }
    }

    /// Lets a native run execute programs under `policy` (what the host
    /// would grant). Without it, every [`Context::exec`] is refused as not
    /// granted. Tests set it through
    /// [`TestWorkspace::context_granting`](crate::testing::TestWorkspace::context_granting).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn with_exec_policy(mut self, policy: checkrail_sandbox::exec::ExecPolicy) -> Self {
        self.exec_policy = Some(policy);
        self
    }

    /// Sets the workflow and phase the check belongs to.
    pub fn with_checkpoint(
        mut self,
        workflow: impl Into<String>,
        phase: impl Into<String>,
    ) -> Self {
        self.workflow = Some(workflow.into());
        self.phase = Some(phase.into());
        self
    }

    /// Sets the evidence submitted with the checkpoint.
    pub fn with_evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = Some(evidence);
        self
    }

    /// Adds facts this rule recorded at an earlier phase, as the host would
    /// hand them over; call it oldest phase first.
    ///
    /// ```
    /// use checkrail_sdk::testing::TestWorkspace;
    /// use serde_json::json;
    ///
    /// let ws = TestWorkspace::new().unwrap();
    /// let cx = ws
    ///     .context()
    ///     .unwrap()
    ///     .with_checkpoint("bugfix", "green")
    ///     .with_baseline("red", json!({"failing": ["parses_dates"]}));
    /// assert_eq!(cx.baseline("red").unwrap()["failing"][0], "parses_dates");
    /// assert!(cx.baseline("plan").is_none());
    /// ```
    pub fn with_baseline(mut self, phase: impl Into<String>, facts: serde_json::Value) -> Self {
        self.baselines.push(Baseline {
            phase: phase.into(),
            facts,
        });
        self
    }

    /// The workspace under check.
    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// Id of the workflow, when the check runs at a checkpoint.
    pub fn workflow(&self) -> Option<&str> {
        self.workflow.as_deref()
    }

    /// Id of the phase, when the check runs at a checkpoint.
    pub fn phase(&self) -> Option<&str> {
        self.phase.as_deref()
    }

    /// Evidence the agent submitted, already validated against the
    /// checkpoint's evidence schema.
    pub fn evidence(&self) -> Option<&serde_json::Value> {
        self.evidence.as_ref()
    }

    /// Facts this rule recorded at earlier phases of the same session, oldest
    /// first; empty outside a session or before the rule recorded any.
    pub fn baselines(&self) -> &[Baseline] {
        &self.baselines
    }

    /// The facts this rule recorded most recently at `phase`, if any.
    pub fn baseline(&self, phase: &str) -> Option<&serde_json::Value> {
        self.baselines
            .iter()
            .rev()
            .find(|b| b.phase == phase)
            .map(|b| &b.facts)
    }

    /// Runs a program in the workspace through the host. The rule must
    /// declare `exec:<program>` in [`Rule::CAPABILITIES`] and the workspace
    /// must grant it; otherwise the error says which, and
    /// [`ExecError::to_finding`](crate::ExecError::to_finding) turns it into
    /// a finding with the fix.
    pub fn exec(&self, command: &crate::Command) -> Result<crate::Output, crate::ExecError> {
        #[cfg(target_arch = "wasm32")]
        {
            crate::rule::wasm::exec(command)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let policy = self.exec_policy.clone().unwrap_or_else(|| {
                checkrail_sandbox::exec::ExecPolicy::for_rule(
                    "native",
                    &[checkrail_sandbox::Capability::exec(&command.program)],
                )
            });
            crate::native::run(self.workspace.root(), &policy, command)
        }
    }

    /// A workspace-relative directory, created for this check, where granted
    /// programs may write files the rule then reads (a JUnit report, say).
    pub fn scratch_dir(&self) -> Result<String> {
        #[cfg(target_arch = "wasm32")]
        {
            crate::__private::bindings::checkrail::rule::host::scratch_dir().map_err(Error::new)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            // A fresh directory per call, like the host's per-check one.
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let rel = format!(".checkrail/scratch/native-{}-{n}", std::process::id());
            std::fs::create_dir_all(self.workspace.root().join(&rel))
                .map_err(|e| Error::new(format!("create scratch directory `{rel}`: {e}")))?;
            Ok(rel)
        }
    }
}

/// Parses a config and runs the rule: what both the component export and a
/// native run do.
pub(crate) fn run<R: Rule>(config: &str, cx: &Context) -> Result<Outcome> {
    let config: R::Config = serde_json::from_str(config)
        .map_err(|e| Error::new(format!("config of rule `{}` is invalid: {e}", R::ID)))?;
    R::check(config, cx)
}

/// Input globs of a rule for a config (empty when the config does not parse).
pub(crate) fn inputs<R: Rule>(config: &str) -> Vec<String> {
    serde_json::from_str::<R::Config>(config)
        .map(|c| R::inputs(&c))
        .unwrap_or_default()
}

/// JSON Schema of a rule's config, as JSON text.
pub(crate) fn config_schema<R: Rule>() -> String {
    schemars::schema_for!(R::Config).as_value().to_string()
}

#[cfg(target_arch = "wasm32")]
pub(crate) mod wasm {
    use super::*;
    use crate::__private::wit;
    use crate::{Finding, Severity};

    /// Reports panics to the host as one line on stderr: the host's token
    /// for this call, then `{"message": …, "location": …}`. The runtime
    /// aborts right after (`panic = "abort"`), and the host reads the line
    /// back to say why the rule stopped.
    fn report_panics() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let Ok(token) = std::env::var(crate::PANIC_TOKEN_ENV) else {
                return;
            };
            std::panic::set_hook(Box::new(move |info| {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic with a non-text payload".to_owned());
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let record = serde_json::json!({"message": message, "location": location});
                eprint!("\n{token}{record}\n");
            }));
        });
    }

    /// The component's `describe` export.
    pub fn describe<R: Rule>(version: &str) -> wit::RuleInfo {
        report_panics();
        wit::RuleInfo {
            id: R::ID.to_owned(),
            version: version.to_owned(),
            description: R::DESCRIPTION.to_owned(),
            config_schema: config_schema::<R>(),
            capabilities: R::CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
            judging_files: R::JUDGING_FILES.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// The component's `check` export.
    pub fn check<R: Rule>(
        config: String,
        context: wit::CheckContext,
    ) -> Result<wit::Outcome, String> {
        report_panics();
        let evidence = match context.evidence {
            Some(text) => Some(
                serde_json::from_str(&text).map_err(|e| format!("evidence is not JSON: {e}"))?,
            ),
            None => None,
        };
        let baselines = context
            .baselines
            .into_iter()
            .map(|b| {
                let facts = serde_json::from_str(&b.facts).map_err(|e| {
                    format!("facts recorded at phase `{}` are not JSON: {e}", b.phase)
                })?;
                Ok(Baseline {
                    phase: b.phase,
                    facts,
                })
            })
            .collect::<Result<_, String>>()?;
        let cx = Context {
            workspace: Workspace::sandboxed(),
            workflow: context.workflow,
            phase: context.phase,
            evidence,
            baselines,
        };
        let outcome = run::<R>(&config, &cx).map_err(|e| e.to_string())?;
        Ok(wit::Outcome {
            passed: outcome.passed,
            summary: outcome.summary,
            findings: outcome.findings.into_iter().map(finding).collect(),
            facts: outcome.facts,
        })
    }

    /// The component's `inputs` export.
    pub fn inputs<R: Rule>(config: String) -> Vec<String> {
        report_panics();
        super::inputs::<R>(&config)
    }

    /// The host's `exec`, in SDK types.
    pub fn exec(command: &crate::Command) -> Result<crate::Output, crate::ExecError> {
        use crate::__private::bindings::checkrail::rule::host;
        let request = host::Command {
            program: command.program.clone(),
            args: command.args.clone(),
            cwd: command.cwd.clone(),
            env: command.env.clone(),
            timeout_ms: command
                .timeout
                .map(|t| t.as_millis().min(u128::from(u32::MAX)) as u32),
        };
        match host::exec(&request) {
            Ok(out) => Ok(crate::Output {
                exit_code: out.exit_code,
                timed_out: out.timed_out,
                stdout: out.stdout,
                stderr: out.stderr,
                stdout_truncated: out.stdout_truncated,
                stderr_truncated: out.stderr_truncated,
                duration: std::time::Duration::from_millis(out.duration_ms),
            }),
            Err(host::ExecError::NotDeclared(m)) => Err(crate::ExecError::NotDeclared(m)),
            Err(host::ExecError::NotGranted(m)) => Err(crate::ExecError::NotGranted(m)),
            Err(host::ExecError::NotFound(m)) => Err(crate::ExecError::NotFound(m)),
            Err(host::ExecError::Failed(m)) => Err(crate::ExecError::Failed(m)),
        }
    }

    fn finding(f: Finding) -> wit::Finding {
        wit::Finding {
            severity: match f.severity {
                Severity::Error => wit::Severity::Error,
                Severity::Warning => wit::Severity::Warning,
                Severity::Info => wit::Severity::Info,
            },
            message: f.message,
            path: f.path,
            line: f.line,
            column: f.column,
            fix_hint: f.fix_hint,
            code: f.code,
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{TestWorkspace, run_with_context};

    /// Records how many baselines it saw and which phase's facts it read.
    struct Echo;

    impl Rule for Echo {
        type Config = serde_json::Value;
        const ID: &'static str = "echo";
        const DESCRIPTION: &'static str = "Echoes its baselines.";
        const JUDGING_FILES: &'static [&'static str] = &["echo.toml"];

        fn check(_: serde_json::Value, cx: &Context) -> Result<Outcome> {
            Ok(Outcome::pass("echoed").with_facts(json!({
                "count": cx.baselines().len(),
                "red": cx.baseline("red"),
            })))
        }
    }

    struct Plain;

    impl Rule for Plain {
        type Config = serde_json::Value;
        const ID: &'static str = "plain";
        const DESCRIPTION: &'static str = "Declares nothing.";

        fn check(_: serde_json::Value, _: &Context) -> Result<Outcome> {
            Ok(Outcome::pass("plain"))
        }
    }

    #[test]
    fn baselines_reach_the_rule_and_facts_come_back() {
        let ws = TestWorkspace::new().unwrap();
        let cx = ws
            .context()
            .unwrap()
            .with_checkpoint("bugfix", "green")
            .with_baseline("red", json!({"run": 1}))
            .with_baseline("plan", json!({}))
            .with_baseline("red", json!({"run": 2}));
        let outcome = run_with_context::<Echo>(json!({}), &cx).unwrap();
        assert_eq!(
            outcome.facts_value(),
            Some(json!({"count": 3, "red": {"run": 2}})),
            "the latest facts of a phase win"
        );
    }

    #[test]
    fn a_rule_without_baselines_or_facts_sees_none() {
        let ws = TestWorkspace::new().unwrap();
        let echoed = ws.run::<Echo>(json!({})).unwrap();
        assert_eq!(echoed.facts_value(), Some(json!({"count": 0, "red": null})));
        let plain = ws.run::<Plain>(json!({})).unwrap();
        assert_eq!(plain.facts, None);
        assert_eq!(plain.facts_value(), None);
    }

    #[test]
    fn judging_files_default_to_none() {
        assert!(Plain::JUDGING_FILES.is_empty());
        assert_eq!(Echo::JUDGING_FILES, ["echo.toml"]);
    }

    #[test]
    fn facts_stay_out_of_serialized_outcomes_unless_set() {
        let plain = serde_json::to_value(Outcome::pass("ok")).unwrap();
        assert!(plain.get("facts").is_none(), "{plain}");
        let with = serde_json::to_value(Outcome::pass("ok").with_facts(json!([1]))).unwrap();
        assert_eq!(with["facts"], "[1]");
        let old: Outcome =
            serde_json::from_value(json!({"passed": true, "summary": "ok", "findings": []}))
                .unwrap();
        assert_eq!(
            old.facts, None,
            "outcomes stored before facts existed still read"
        );
    }
}
