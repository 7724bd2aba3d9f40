//! The installed rules: the bundled ones and `*.wasm` components in rule
//! directories, loaded (compiled or taken from the cache, linked, described)
//! on first use.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::bundled::BUNDLED_RULES;
use crate::runtime::{RuleComponent, Runtime};
use crate::schema::{Schema, Violation};
use crate::workflow::RuleRef;
use crate::{Error, Result};

/// A loaded rule and its compiled config schema.
pub struct LoadedRule {
    /// The component.
    pub component: RuleComponent,
    config_schema: Schema,
}

impl LoadedRule {
    /// `id@version`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.component.info.id, self.component.info.version)
    }

    /// Violations of the rule's config schema, pointers prefixed by `prefix`.
    pub fn config_violations(&self, config: &serde_json::Value, prefix: &str) -> Vec<Violation> {
        self.config_schema.violations(config, prefix)
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
    loaded: Mutex<HashMap<String, Arc<LoadedRule>>>,
}

impl Registry {
    /// The bundled rules plus every `*.wasm` in `dirs`; a rule is named by
    /// its file stem (`file_exists.wasm` is `file-exists`). Two rules with
    /// one name are an error naming both files.
    pub fn discover(dirs: &[PathBuf]) -> Result<Self> {
        let mut sources: Vec<Source> = BUNDLED_RULES
            .iter()
            .map(|(name, bytes)| Source {
                name: (*name).to_owned(),
                origin: format!("bundled:{name}"),
                bytes: Bytes::Bundled(bytes),
            })
            .collect();
        for dir in dirs {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                Error::Other(format!(
                    "rule directory `{}` cannot be read: {e}",
                    dir.display()
                ))
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
                    return Err(Error::Other(format!(
                        "two rules are named `{stem}`: {} and {}; remove or rename one",
                        existing.origin,
                        file.display()
                    )));
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
            loaded: Mutex::new(HashMap::new()),
        })
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
            return Err(Error::BadRuleReference {
                reference: reference.to_owned(),
                reason: format!(
                    "no rule pack `{pack}` is installed; only the bundled `core` pack is"
                ),
            });
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
        let load_error = |reason: String| Error::RuleLoad {
            origin: source.origin.clone(),
            reason,
        };
        let file_bytes;
        let bytes: &[u8] = match &source.bytes {
            Bytes::Bundled(bytes) => bytes,
            Bytes::File(path) => {
                file_bytes =
                    std::fs::read(path).map_err(|e| load_error(format!("cannot be read: {e}")))?;
                &file_bytes
            }
        };
        let component = runtime.load(&source.origin, bytes).map_err(load_error)?;
        if component.info.id != source.name {
            return Err(load_error(format!(
                "describes itself as rule `{}`, but is installed as `{}`; name the file `{}.wasm`",
                component.info.id,
                source.name,
                component.info.id.replace('-', "_")
            )));
        }
        let config_schema = Schema::compile(&component.info.config_schema).map_err(|e| {
            load_error(format!(
                "publishes a config schema that does not compile: {e}"
            ))
        })?;
        let rule = Arc::new(LoadedRule {
            component,
            config_schema,
        });
        self.lock().insert(name.to_owned(), rule.clone());
        Ok(rule)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LoadedRule>>> {
        // A poisoned map only means another thread panicked mid-insert of an
        // Arc; the map itself is still consistent.
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}
