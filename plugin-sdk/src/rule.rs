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

    /// Checks the workspace. Return an [`Outcome`]; return an [`Error`] only
    /// when the rule cannot run at all.
    fn check(config: Self::Config, cx: &Context) -> Result<Outcome>;
}

/// What a rule sees while it runs.
pub struct Context {
    workspace: Workspace,
    workflow: Option<String>,
    phase: Option<String>,
    evidence: Option<serde_json::Value>,
}

impl Context {
    /// A context for a native run against `workspace`.
    pub fn new(workspace: Workspace) -> Self {
        Self {
            workspace,
            workflow: None,
            phase: None,
            evidence: None,
        }
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
}

/// Parses a config and runs the rule: what both the component export and a
/// native run do.
pub(crate) fn run<R: Rule>(config: &str, cx: &Context) -> Result<Outcome> {
    let config: R::Config = serde_json::from_str(config)
        .map_err(|e| Error::new(format!("config of rule `{}` is invalid: {e}", R::ID)))?;
    R::check(config, cx)
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

    /// The component's `describe` export.
    pub fn describe<R: Rule>(version: &str) -> wit::RuleInfo {
        wit::RuleInfo {
            id: R::ID.to_owned(),
            version: version.to_owned(),
            description: R::DESCRIPTION.to_owned(),
            config_schema: config_schema::<R>(),
            capabilities: R::CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    /// The component's `check` export.
    pub fn check<R: Rule>(
        config: String,
        context: wit::CheckContext,
    ) -> Result<wit::Outcome, String> {
        let evidence = match context.evidence {
            Some(text) => Some(
                serde_json::from_str(&text).map_err(|e| format!("evidence is not JSON: {e}"))?,
            ),
            None => None,
        };
        let cx = Context {
            workspace: Workspace::sandboxed(),
            workflow: context.workflow,
            phase: context.phase,
            evidence,
        };
        let outcome = run::<R>(&config, &cx).map_err(|e| e.to_string())?;
        Ok(wit::Outcome {
            passed: outcome.passed,
            summary: outcome.summary,
            findings: outcome.findings.into_iter().map(finding).collect(),
        })
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
