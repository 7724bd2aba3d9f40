//! The outcome cache key: what it is made of ([`KeyParts`], [`key`]) and
//! how one checkpoint run assembles it for each rule use (`CacheContext`).
//! A lookup uses the key taken before the rule runs; the result is stored
//! under the key taken after it, since a tool may write its own inputs.

use std::sync::Mutex;

use checkrail_sdk::Finding;

use super::store::Lookup;
use crate::config::WorkspaceConfig;
use crate::frozen;
use crate::grants::Granter;
use crate::report::{RuleReport, RuleStatus};
use crate::rules::LoadedRule;
use crate::runtime::{CheckInput, Limits, Runtime};
use crate::workflow::RuleUse;
use crate::workspace::Workspace;

/// What a cache key is made of.
pub struct KeyParts<'a> {
    /// sha256 of the rule component.
    pub rule_digest: &'a str,
    /// The rule's config.
    pub config: &'a serde_json::Value,
    /// Evidence as JSON text.
    pub evidence: Option<&'a str>,
    /// Facts of earlier phases handed to the rule.
    pub baselines: &'a str,
    /// The grants in force (a newly granted program changes the answer).
    pub grants: &'a str,
    /// Environment and toolchain identities ([`super::toolchains::Toolchains`]).
    pub toolchains: &'a str,
    /// Digest of the input files.
    pub files: &'a str,
    /// Digest of the files that change how the rule judges, found whether
    /// or not the project ignores them.
    pub judging: &'a str,
}

/// sha256 of `text`, hex.
pub fn digest_of(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The cache key of `parts`.
pub fn key(parts: &KeyParts<'_>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [
        parts.rule_digest,
        &parts.config.to_string(),
        parts.evidence.unwrap_or(""),
        parts.baselines,
        parts.grants,
        parts.toolchains,
        parts.files,
        parts.judging,
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The files whose contents a rule use's key covers.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Every file of the workspace the project does not ignore.
    Whole,
    /// A workflow's `inputs:`, what a human wrote: the files it matches
    /// that the project does not ignore.
    Workflow(&'a [String]),
    /// A rule's own `inputs`: every file they match, ignored or not, build
    /// output included (what a rule names is what it reads).
    Declared(&'a [String]),
}

/// The scope of a rule use's key.
///
/// - A workflow's `inputs:` is followed as is.
/// - A rule that runs no program (it declares no `exec` capability) reads
///   the workspace only through its own code, so its declared `inputs` are
///   all it reads, as the rule world promises: one edit reruns only the
///   rules whose inputs it touched.
/// - A rule that may run a program is keyed by the whole workspace, whatever
///   it declares: no rule can promise what a compiler or test runner reads
///   (`include_str!`, a build script, a path dependency, a `conftest.py`).
fn scope<'a>(rule_use: &'a RuleUse, rule: &LoadedRule, declared: &'a [String]) -> Scope<'a> {
    if let Some(globs) = &rule_use.inputs {
        return Scope::Workflow(globs);
    }
    if rule.runs_programs() || declared.iter().any(|g| g == "**") {
        Scope::Whole
    } else {
        Scope::Declared(declared)
    }
}

/// The digest of the input files narrowed to some globs (`None`: the whole
/// workspace); `None` when they could not be digested.
type FileDigest = (Option<Vec<String>>, Option<String>);

/// The outcome cache as one checkpoint run uses it: the workspace's file
/// digest is taken once per distinct set of input globs, the grants once.
pub(crate) struct CacheContext<'a> {
    workspace: &'a Workspace,
    /// The run's listing, for judging files before any rule ran.
    listing: &'a frozen::Listing,
    config: &'a WorkspaceConfig,
    grants: String,
    digests: Mutex<Vec<FileDigest>>,
    /// Judging-file digests per set of globs.
    judging: Mutex<Vec<(Vec<String>, String)>>,
}

impl<'a> CacheContext<'a> {
    /// The cache as a checkpoint run on `workspace` under `config` uses it.
    pub(crate) fn new(
        workspace: &'a Workspace,
        config: &'a WorkspaceConfig,
        listing: &'a frozen::Listing,
    ) -> Self {
        Self {
            workspace,
            listing,
            config,
            grants: format!("{:?}", config.exec),
            digests: Mutex::new(Vec::new()),
            judging: Mutex::new(Vec::new()),
        }
    }

    /// The digest of the files `scope` covers; `fresh` takes it again
    /// (after a run that may have written files). A rule's declared files
    /// are hashed as found (there are few); the rest goes through the
    /// fingerprints.
    fn files(&self, scope: Scope<'_>, fresh: bool) -> Option<String> {
        if let Scope::Declared(globs) = scope {
            let snapshot = frozen::snapshot_everywhere(self.workspace.root(), globs);
            // A snapshot that stopped at its cap does not cover the rest.
            return (snapshot.len() < frozen::MAX_FILES)
                .then(|| digest_of(&format!("declared {snapshot:?}")));
        }
        let globs = match scope {
            Scope::Workflow(globs) => Some(globs),
            _ => None,
        };
        let mut digests = self.digests.lock().unwrap_or_else(|e| e.into_inner());
        let wanted = globs.map(<[String]>::to_vec);
        if !fresh && let Some((_, digest)) = digests.iter().find(|(g, _)| *g == wanted) {
            return digest.clone();
        }
        let digest = self
            .workspace
            .fingerprints()
            .digest(self.workspace.root(), globs)
            .map(|(digest, _)| digest);
        digests.retain(|(g, _)| *g != wanted);
        digests.push((wanted, digest.clone()));
        digest
    }

    /// The key of this rule use over the files `scope` names (`None`: the
    /// whole workspace); `fresh` takes the file digests again.
    fn key(
        &self,
        (rule_use, rule, scope): (&RuleUse, &LoadedRule, Scope<'_>),
        input: &CheckInput<'_>,
        fresh: bool,
    ) -> Option<String> {
        let files = self.files(scope, fresh)?;
        let toolchains = self.workspace.toolchains().identity(
            self.workspace.root(),
            &rule.component.info.capabilities,
            Granter::new(&self.config.exec),
            self.workspace.outcomes(),
        );
        let baselines = format!("{:?}", input.baselines);
        let judging = self.judging(rule, fresh);
        Some(key(&KeyParts {
            rule_digest: &rule.component.digest,
            config: &rule_use.config,
            evidence: input.evidence.as_deref(),
            baselines: &baselines,
            grants: &self.grants,
            toolchains: &toolchains,
            files: &files,
            judging: &judging,
        }))
    }

    /// The digest of the rule's judging files and `checkrail.toml`, found
    /// whether or not the project ignores them: an ignored `conftest.py` or
    /// allow-list still changes the answer.
    fn judging(&self, rule: &LoadedRule, fresh: bool) -> String {
        let mut globs = rule.component.info.judging_files.clone();
        globs.push(crate::config::FILE.to_owned());
        let mut known = self.judging.lock().unwrap_or_else(|e| e.into_inner());
        if !fresh && let Some((_, digest)) = known.iter().find(|(g, _)| *g == globs) {
            return digest.clone();
        }
        let snapshot = if fresh {
            frozen::snapshot(self.workspace.root(), &globs)
        } else {
            self.listing.snapshot(&globs)
        };
        let digest = digest_of(&format!("{snapshot:?}"));
        known.retain(|(g, _)| *g != globs);
        known.push((globs, digest.clone()));
        digest
    }

    /// The cached report of this rule use, or `run`'s, stored for next time.
    pub(crate) fn run(
        &self,
        runtime: &Runtime,
        (rule_use, rule, limits): (&RuleUse, &LoadedRule, &Limits),
        input: &CheckInput<'_>,
        run: impl FnOnce() -> RuleReport,
    ) -> RuleReport {
        // The rule may write files: the run's listing no longer serves.
        let run = || {
            self.listing.rule_started();
            run()
        };
        // `inputs: []` in the workflow, or a rule that names no inputs for
        // this config, means "never cache". The rule is asked under the
        // checkpoint's limits for it; when it cannot answer, it runs
        // uncached and the report says why.
        let declared = match &rule_use.inputs {
            Some(globs) => globs.clone(),
            None => match rule.inputs_within(runtime, &rule_use.config, limits) {
                Ok(globs) => globs,
                Err(reason) => {
                    let mut report = run();
                    report.findings.push(
                        Finding::info(format!("not cached: {}", crate::error::clip(&reason)))
                            .code("inputs-failed")
                            .fix_hint("the rule's `inputs` did not answer in time or named too many globs; its result is not reused until it does"),
                    );
                    return report;
                }
            },
        };
        let cache = self.workspace.outcomes().filter(|_| !declared.is_empty());
        let scope = scope(rule_use, rule, &declared);
        let key_of = |fresh| self.key((rule_use, rule, scope), input, fresh);
        let Some((cache, key)) = cache.and_then(|c| Some((c, key_of(false)?))) else {
            return run();
        };
        if let Lookup::Hit(mut report) = cache.get(&key) {
            report.cached = true;
            report.name = rule_use.name.clone();
            report.severity = rule_use.severity;
            report.duration_ms = 0.0;
            return *report;
        }
        let report = run();
        // Key the stored result by the files as the run left them: a tool
        // may write its own inputs (cargo creates Cargo.lock), and the
        // result describes that state.
        if report.status != RuleStatus::Error
            && let Some(after) = key_of(true)
        {
            cache.put(&after, &report);
        }
        report
    }
}
