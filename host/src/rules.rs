//! The installed rules: the bundled ones and `*.wasm` components in rule
//! directories, loaded (compiled or taken from the cache, linked, described)
//! on first use.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::bundled::BUNDLED_RULES;
use crate::pack::{LOCK_FILE, LockFile, installed_packs};
use crate::runtime::{Limits, LoadError, RuleComponent, Runtime};
use crate::schema::Violation;
use crate::workflow::RuleRef;
use crate::{Error, Result};

/// A loaded rule.
pub struct LoadedRule {
    /// The component.
    pub component: RuleComponent,
    /// Input globs by config text: a pure function of component and config,
    /// so each is asked of the component once, not on every validation.
    /// Answers are also remembered across processes with the component's
    /// description; an error (the rule was stopped, or named more than the
    /// caps allow) only here.
    inputs: Mutex<HashMap<String, std::result::Result<Vec<String>, String>>>,
}

impl LoadedRule {
    fn new(component: RuleComponent) -> Self {
        Self {
            component,
            inputs: Mutex::new(HashMap::new()),
        }
    }

    /// The input globs the rule declares for `config` (empty: do not
    /// cache), asked under the rule's default limits; a rule whose `inputs`
    /// fails is not cached (and the failure is logged).
    pub fn inputs(&self, runtime: &Runtime, config: &serde_json::Value) -> Vec<String> {
        let limits = Limits::for_rule(&self.component.info);
        self.inputs_within(runtime, config, &limits)
            .unwrap_or_else(|reason| {
                tracing::warn!(rule = %self.label(), "not caching this rule's results: {reason}");
                Vec::new()
            })
    }

    /// The input globs the rule declares for `config`, asked under `limits`
    /// (the checkpoint's for this rule). An error says why the answer cannot
    /// be used (the rule was stopped, or named more globs than allowed); the
    /// caller should treat the rule as not cacheable and may report it.
    pub fn inputs_within(
        &self,
        runtime: &Runtime,
        config: &serde_json::Value,
        limits: &Limits,
    ) -> std::result::Result<Vec<String>, String> {
        let text = config.to_string();
        if let Some(known) = self.lock_inputs().get(&text) {
            return known.clone();
        }
        if let Some(globs) = self.component.inputs_before(&text) {
            self.lock_inputs().insert(text, Ok(globs.clone()));
            return Ok(globs);
        }
        // Asked outside the lock: the call runs the rule, up to its deadline.
        let answer = runtime
            .inputs(&self.component, &text, limits)
            .map_err(|e| format!("rule {} {e}", self.label()));
        if let Ok(globs) = &answer {
            self.component.remember_inputs(&text, globs);
        }
        self.lock_inputs().insert(text, answer.clone());
        answer
    }

    fn lock_inputs(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, std::result::Result<Vec<String>, String>>> {
        self.inputs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the rule may run a program (any `exec` capability): then it
    /// can read anything, and nothing it declares bounds what it reads.
    pub fn runs_programs(&self) -> bool {
        self.component
            .info
            .capabilities
            .iter()
            .any(|c| c.program().is_some())
    }

    /// `id@version`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.component.info.id, self.component.info.version)
    }

    /// Violations of the rule's config schema, pointers prefixed by `prefix`.
    /// A config the schema accepted before (in any process) is not checked
    /// again: the answer depends only on the component and the config.
    pub fn config_violations(&self, config: &serde_json::Value, prefix: &str) -> Vec<Violation> {
        let text = config.to_string();
        if self.component.accepted_before(&text) {
            return Vec::new();
        }
        let violations = match self.component.schema() {
            Ok(schema) => schema.violations(config, prefix),
            Err(e) => vec![Violation {
                pointer: prefix.to_owned(),
                message: format!("the rule's config schema does not compile: {e}"),
            }],
        };
        if violations.is_empty() {
            self.component.remember_accepted(&text);
        }
        violations
    }
}

enum Bytes {
    Bundled(&'static [u8]),
    File(PathBuf),
}

struct Source {
    name: String,
    origin: String,
    bytes: Bytes,
}

/// Where rules come from, and those loaded so far.
pub struct Registry {
    sources: Vec<Source>,
    warnings: Vec<String>,
    loaded: Mutex<HashMap<String, Arc<LoadedRule>>>,
    workspace: Option<PathBuf>,
}

impl Registry {
    /// The bundled rules plus every `*.wasm` in `dirs`; a rule is named by
    /// its file stem (`file_exists.wasm` is `file-exists`). A component with
    /// the name of a rule already known (bundled, or earlier in `dirs`) is
    /// skipped with a warning naming both, so one stray file cannot disable
    /// the rules that were there first.
    pub fn discover(dirs: &[PathBuf], workspace: Option<&std::path::Path>) -> Result<Self> {
        let mut warnings = Vec::new();
        let mut sources: Vec<Source> = BUNDLED_RULES
            .iter()
            .map(|(name, bytes)| Source {
                name: (*name).to_owned(),
                origin: format!("bundled:{name}"),
                bytes: Bytes::Bundled(bytes),
            })
            .collect();
        for dir in dirs {
            let entries = std::fs::read_dir(dir).map_err(|source| Error::RuleDir {
                dir: dir.clone(),
                source,
            })?;
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                .collect();
            files.sort();
            for file in files {
                let stem = file
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .replace('_', "-");
                if let Some(existing) = sources.iter().find(|s| s.name == stem) {
                    let warning = format!(
                        "skipping {}: rule `{stem}` is already provided by {}; remove or rename the file",
                        file.display(),
                        existing.origin
                    );
                    tracing::warn!("{warning}");
                    warnings.push(warning);
                    continue;
                }
                sources.push(Source {
                    name: stem,
                    origin: file.display().to_string(),
                    bytes: Bytes::File(file),
                });
            }
        }
        Ok(Self {
            sources,
            warnings,
            loaded: Mutex::new(HashMap::new()),
            workspace: workspace.map(std::path::Path::to_path_buf),
        })
    }

    /// Components skipped while discovering rules, each saying why.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Names of every known rule, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.sources.iter().map(|s| s.name.clone()).collect();
        names.sort();
        names
    }

    /// Loads the rule a reference names and checks its version requirement.
    pub fn resolve(&self, runtime: &Runtime, reference: &str) -> Result<Arc<LoadedRule>> {
        let parsed = RuleRef::parse(reference).map_err(|reason| Error::BadRuleReference {
            reference: reference.to_owned(),
            reason,
        })?;
        if let Some(pack) = &parsed.pack {
            return self.resolve_in_pack(runtime, reference, pack, &parsed);
        }
        let rule = self.get(runtime, &parsed.id).map_err(|e| match e {
            Error::UnknownRule { known, .. } => Error::UnknownRule {
                reference: reference.to_owned(),
                known,
            },
            other => other,
        })?;
        if !parsed.requirement.matches(&rule.component.info.version) {
            return Err(Error::BadRuleReference {
                reference: reference.to_owned(),
                reason: format!(
                    "installed `{}` is version {}, which does not satisfy `{}`",
                    parsed.id, rule.component.info.version, parsed.requirement
                ),
            });
        }
        Ok(rule)
    }

    /// Loads a rule by name (once; later calls share it).
    pub fn get(&self, runtime: &Runtime, name: &str) -> Result<Arc<LoadedRule>> {
        if let Some(rule) = self.lock().get(name) {
            return Ok(rule.clone());
        }
        let source = self
            .sources
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::UnknownRule {
                reference: name.to_owned(),
                known: self.names(),
            })?;
        let load_error = |cause: LoadError| Error::RuleLoad {
            origin: source.origin.clone(),
            source: cause,
        };
        let bytes = match &source.bytes {
            Bytes::Bundled(bytes) => Cow::Borrowed(*bytes),
            Bytes::File(path) => {
                Cow::Owned(std::fs::read(path).map_err(|e| load_error(LoadError::Read(e)))?)
            }
        };
        let mut component = runtime
            .describe(&source.origin, bytes)
            .map_err(load_error)?;
        if let Bytes::Bundled(_) = source.bytes {
            component.pack = Some(crate::config::CORE_PACK.to_owned());
        }
        if component.info.id != source.name {
            return Err(load_error(LoadError::Misnamed {
                id: component.info.id.clone(),
                name: source.name.clone(),
            }));
        }
        let rule = Arc::new(LoadedRule::new(component));
        self.lock().insert(name.to_owned(), rule.clone());
        Ok(rule)
    }

    /// Resolves `pack/id@req` among installed packs: the highest version
    /// satisfying the requirement, whose component must match both its
    /// pack manifest and `checkrail.lock`.
    fn resolve_in_pack(
        &self,
        runtime: &Runtime,
        reference: &str,
        pack: &str,
        parsed: &RuleRef,
    ) -> Result<Arc<LoadedRule>> {
        let bad = |reason: String| Error::BadRuleReference {
            reference: reference.to_owned(),
            reason,
        };
        let installed = installed_packs(self.workspace.as_deref());
        let candidates: Vec<_> = installed
            .iter()
            .filter(|p| p.manifest.name == pack)
            .flat_map(|p| p.manifest.rules.iter().map(move |r| (p, r)))
            .filter(|(_, r)| r.id == parsed.id && parsed.requirement.matches(&r.version))
            .collect();
        let Some((found, rule)) = candidates.into_iter().max_by(|a, b| {
            a.1.version
                .cmp(&b.1.version)
                .then(a.0.manifest.version.cmp(&b.0.manifest.version))
        }) else {
            let listing: Vec<String> = installed
                .iter()
                .map(|p| {
                    let rules: Vec<String> = p
                        .manifest
                        .rules
                        .iter()
                        .map(|r| format!("{}@{}", r.id, r.version))
                        .collect();
                    format!(
                        "{} {} ({})",
                        p.manifest.name,
                        p.manifest.version,
                        rules.join(", ")
                    )
                })
                .collect();
            return Err(bad(format!(
                "no installed pack `{pack}` has rule `{}` matching `{}`; installed packs: {}",
                parsed.id,
                parsed.requirement,
                if listing.is_empty() {
                    "none".to_owned()
                } else {
                    listing.join("; ")
                }
            )));
        };
        let workspace = self.workspace.as_deref().ok_or_else(|| {
            bad("pack rules need a workspace (for its checkrail.lock)".to_owned())
        })?;
        let lock = LockFile::read(workspace).map_err(|e| bad(crate::error::chain(&e)))?;
        let entry = lock.entry(pack, &found.manifest.version).ok_or_else(|| {
            bad(format!(
                "pack `{pack}` {} is installed but not pinned in {LOCK_FILE}; install it with `checkrail pack install` so the lockfile records it",
                found.manifest.version
            ))
        })?;
        let locked = entry
            .rules
            .iter()
            .find(|r| r.id == rule.id)
            .ok_or_else(|| {
                bad(format!(
                    "{LOCK_FILE} pins pack `{pack}` {} without rule `{}`; reinstall the pack",
                    found.manifest.version, rule.id
                ))
            })?;
        let path = found.dir.join(&rule.file);
        let bytes = std::fs::read(&path)
            .map_err(|e| bad(format!("cannot read `{}`: {e}", path.display())))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if digest != locked.sha256 || digest != rule.sha256 {
            return Err(bad(format!(
                "rule `{pack}/{}@{}` at `{}` has sha256 {digest}, but {LOCK_FILE} pins {} (manifest says {}); reinstall the locked pack version",
                rule.id,
                rule.version,
                path.display(),
                locked.sha256,
                rule.sha256
            )));
        }
        let key = format!("{pack}/{}@{}#{digest}", rule.id, rule.version);
        if let Some(loaded) = self.lock().get(&key) {
            return Ok(loaded.clone());
        }
        let origin = format!("{pack} {} ({})", found.manifest.version, path.display());
        let mut component = runtime
            .describe(&origin, Cow::Owned(bytes))
            .map_err(|source| Error::RuleLoad {
                origin: origin.clone(),
                source,
            })?;
        component.pack = Some(pack.to_owned());
        let loaded = Arc::new(LoadedRule::new(component));
        self.lock().insert(key, loaded.clone());
        Ok(loaded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LoadedRule>>> {
        // A poisoned map only means another thread panicked mid-insert of an
        // Arc; the map itself is still consistent.
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}
