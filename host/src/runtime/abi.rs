//! The versions of the `checkrail:rule` world this host speaks, side by side:
//! one `bindgen!` per frozen WIT folder under `plugin-sdk/wit/`, and
//! [`RulePre`], which hides which one a component was built against behind
//! the newest version's shapes.
//!
//! Adding a version: freeze its WIT in `plugin-sdk/wit/since_vX.Y.Z/`, add a
//! module here, a variant to [`RulePre`] and [`Abi`](super::api_version::Abi),
//! and lift the older versions' values into the new shapes.

use checkrail_sdk::{Finding, Outcome, Severity};
use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::{Result, Store};

use super::api_version::Abi;
use super::host::StoreState;

/// Host bindings of the frozen `checkrail:rule@0.1.0` world.
pub(crate) mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../plugin-sdk/wit/since_v0.1.0",
        world: "rule",
        imports: { default: trappable },
    });
}

/// Host bindings of `checkrail:rule@0.2.0`. Its `host` interface is 0.1's
/// unchanged, so the 0.1 types and `Host` trait serve it and the imports are
/// implemented once.
pub(crate) mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../plugin-sdk/wit/since_v0.2.0",
        world: "rule",
        imports: { default: trappable },
        with: { "checkrail:rule/host": crate::runtime::abi::v0_1::checkrail::rule::host },
    });
}

/// The newest version's `types`, which every version is lifted into.
pub(crate) use v0_2::checkrail::rule::types as wit;

/// Name under which 0.2 components import `host`. The 0.2 world's own
/// `add_to_linker` would register the shared 0.1 implementation under the
/// 0.1 name a second time, so the instance is named here.
const HOST_V0_2: &str = "checkrail:rule/host@0.2.0";

/// Adds the imports of every supported version to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> Result<()> {
    v0_1::Rule::add_to_linker::<StoreState, HasSelf<StoreState>>(linker, |s| s)?;
    v0_2::checkrail::rule::types::add_to_linker::<StoreState, HasSelf<StoreState>>(linker, |s| s)?;
    v0_1::checkrail::rule::host::add_to_linker_instance::<StoreState, HasSelf<StoreState>>(
        &mut linker.instance(HOST_V0_2)?,
        |s| s,
    )?;
    Ok(())
}

/// A linked component of one API version, ready to instantiate.
pub(crate) enum RulePre {
    /// Built against `checkrail:rule@0.1.x`.
    V0_1(v0_1::RulePre<StoreState>),
    /// Built against `checkrail:rule@0.2.x`.
    V0_2(v0_2::RulePre<StoreState>),
}

impl RulePre {
    /// Checks that `pre` exports the world of `abi`.
    pub(crate) fn new(abi: Abi, pre: InstancePre<StoreState>) -> Result<Self> {
        Ok(match abi {
            Abi::V0_1 => Self::V0_1(v0_1::RulePre::new(pre)?),
            Abi::V0_2 => Self::V0_2(v0_2::RulePre::new(pre)?),
        })
    }

    /// Calls `describe`; a 0.1 rule declares no judging files.
    pub(crate) fn describe(&self, store: &mut Store<StoreState>) -> Result<wit::RuleInfo> {
        match self {
            Self::V0_1(pre) => {
                let info = pre.instantiate(&mut *store)?.call_describe(store)?;
                Ok(wit::RuleInfo {
                    id: info.id,
                    version: info.version,
                    description: info.description,
                    config_schema: info.config_schema,
                    capabilities: info.capabilities,
                    judging_files: Vec::new(),
                })
            }
            Self::V0_2(pre) => pre.instantiate(&mut *store)?.call_describe(store),
        }
    }

    /// Calls `inputs`.
    pub(crate) fn inputs(
        &self,
        store: &mut Store<StoreState>,
        config: &str,
    ) -> Result<Vec<String>> {
        match self {
            Self::V0_1(pre) => pre.instantiate(&mut *store)?.call_inputs(store, config),
            Self::V0_2(pre) => pre.instantiate(&mut *store)?.call_inputs(store, config),
        }
    }

    /// Calls `check`. A 0.1 rule is not given the baselines and returns no
    /// facts.
    pub(crate) fn check(
        &self,
        store: &mut Store<StoreState>,
        config: &str,
        context: &wit::CheckContext,
    ) -> Result<std::result::Result<Outcome, String>> {
        Ok(match self {
            Self::V0_1(pre) => {
                let context = v0_1::checkrail::rule::types::CheckContext {
                    workspace: context.workspace.clone(),
                    workflow: context.workflow.clone(),
                    phase: context.phase.clone(),
                    evidence: context.evidence.clone(),
                };
                pre.instantiate(&mut *store)?
                    .call_check(store, config, &context)?
                    .map(|o| Outcome {
                        passed: o.passed,
                        summary: o.summary,
                        findings: o.findings.into_iter().map(Finding::from).collect(),
                        facts: None,
                    })
            }
            Self::V0_2(pre) => pre
                .instantiate(&mut *store)?
                .call_check(store, config, context)?
                .map(|o| Outcome {
                    passed: o.passed,
                    summary: o.summary,
                    findings: o.findings.into_iter().map(Finding::from).collect(),
                    facts: o.facts,
                }),
        })
    }
}

/// `finding` and `severity` are the same in every version; convert them the
/// same way.
macro_rules! finding_from_wit {
    ($($version:ident),+) => {$(
        impl From<$version::checkrail::rule::types::Finding> for Finding {
            fn from(f: $version::checkrail::rule::types::Finding) -> Self {
                use $version::checkrail::rule::types::Severity as S;
                Finding {
                    severity: match f.severity {
                        S::Error => Severity::Error,
                        S::Warning => Severity::Warning,
                        S::Info => Severity::Info,
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
    )+};
}

finding_from_wit!(v0_1, v0_2);
