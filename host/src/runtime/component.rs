//! A rule component: what it says about itself and, linked when it first
//! runs, the code that runs it.
//!
//! What a component says (`describe`) depends on its bytes alone, so it is
//! remembered beside the compiled artifact (`<digest>-<engine>.describe.json`
//! in the compile cache) together with two more answers that depend only on
//! the bytes and a config: which configs its schema accepted, and the input
//! globs it declared for each. A process that finds them there (a hook whose
//! checks all come from the outcome cache) never reads, links or runs the
//! component, nor compiles its config schema. The remembered description is
//! checked against the host's rules again on every read, exactly as a fresh
//! `describe`; a file that does not parse is ignored and written anew.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use checkrail_sandbox::Capability;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::abi::{RulePre, wit};
use super::cache::{CacheStatus, write_atomically};
use super::{Core, DESCRIBE_LIMITS, LoadError, Runtime, api_version, caps, classify};
use crate::schema::Schema;
use wasmtime::component::Component;

/// How many configs (accepted, or with their inputs) are remembered per
/// component; past it the list starts again.
const REMEMBERED_CONFIGS: usize = 256;

/// What a rule says about itself (its `describe`).
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    /// Rule id.
    pub id: String,
    /// Rule version.
    pub version: semver::Version,
    /// What it checks.
    pub description: String,
    /// JSON Schema of its config.
    pub config_schema: serde_json::Value,
    /// Capabilities it may ask for, parsed when it was loaded (they travel
    /// as their strings).
    pub capabilities: Vec<Capability>,
    /// Workspace-relative globs of the files that change how the rule's tool
    /// judges (its configs, a `conftest.py`); empty for a rule built against
    /// API 0.1.
    pub judging_files: Vec<String>,
}

/// A rule component: described, and linked on first use.
pub struct RuleComponent {
    /// What the rule says about itself.
    pub info: RuleInfo,
    /// sha256 of the component bytes.
    pub digest: String,
    /// API version stamped into the component.
    pub api_version: semver::Version,
    /// Where its description came from: [`CacheStatus::Described`] when it
    /// was remembered, else how its code was compiled to describe it.
    pub cache: CacheStatus,
    /// Where it came from (for messages).
    pub origin: String,
    /// The pack it came from: `core` for the bundled rules, an installed
    /// pack's name, `None` for a `--rules-dir` component (set by the
    /// registry). Decides which `[exec]` grants apply to it.
    pub pack: Option<String>,
    /// The component bytes, until it is linked (empty once linked at load).
    bytes: Cow<'static, [u8]>,
    /// What the build knows of it, when it is a bundled rule.
    built: Option<&'static crate::bundled::Built>,
    linked: OnceLock<Result<Linked, String>>,
    schema: OnceLock<Result<Schema, String>>,
    remembered: Mutex<Remembered>,
}

struct Linked {
    pre: RulePre,
    cache: CacheStatus,
}

/// What is kept in a description file: `describe`'s answer as the component
/// gave it, and what it answered for configs since.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Description {
    api_version: String,
    id: String,
    version: String,
    description: String,
    config_schema: String,
    capabilities: Vec<String>,
    judging_files: Vec<String>,
    #[serde(default)]
    accepted: BTreeSet<String>,
    #[serde(default)]
    inputs: BTreeMap<String, Vec<String>>,
}

impl Description {
    fn of(api_version: &semver::Version, described: &wit::RuleInfo) -> Self {
        Self {
            api_version: api_version.to_string(),
            id: described.id.clone(),
            version: described.version.clone(),
            description: described.description.clone(),
            config_schema: described.config_schema.clone(),
            capabilities: described.capabilities.clone(),
            judging_files: described.judging_files.clone(),
            ..Self::default()
        }
    }

    fn described(&self) -> wit::RuleInfo {
        wit::RuleInfo {
            id: self.id.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            config_schema: self.config_schema.clone(),
            capabilities: self.capabilities.clone(),
            judging_files: self.judging_files.clone(),
        }
    }
}

/// The description and where it is kept, if anywhere.
struct Remembered {
    description: Description,
    file: Option<PathBuf>,
}

impl Remembered {
    fn save(&self) {
        let Some(file) = &self.file else { return };
        let written = serde_json::to_vec(&self.description)
            .map_err(std::io::Error::other)
            .and_then(|text| write_atomically(file, &text));
        if let Err(e) = written {
            tracing::debug!("could not keep the description {}: {e}", file.display());
        }
    }
}

/// The sha256 of a config's text, under which answers about it are kept.
fn config_key(config: &str) -> String {
    hex::encode(Sha256::digest(config.as_bytes()))
}

impl RuleComponent {
    /// Whether this config was accepted by the rule's schema before.
    pub fn accepted_before(&self, config: &str) -> bool {
        self.remembered()
            .description
            .accepted
            .contains(&config_key(config))
    }

    /// Remembers that the rule's schema accepts this config.
    pub fn remember_accepted(&self, config: &str) {
        let mut remembered = self.remembered();
        let accepted = &mut remembered.description.accepted;
        if accepted.len() >= REMEMBERED_CONFIGS {
            accepted.clear();
        }
        if accepted.insert(config_key(config)) {
            remembered.save();
        }
    }

    /// The input globs the rule declared for this config before.
    pub fn inputs_before(&self, config: &str) -> Option<Vec<String>> {
        self.remembered()
            .description
            .inputs
            .get(&config_key(config))
            .cloned()
    }

    /// Remembers the input globs the rule declared for this config.
    pub fn remember_inputs(&self, config: &str, globs: &[String]) {
        let mut remembered = self.remembered();
        let inputs = &mut remembered.description.inputs;
        if inputs.len() >= REMEMBERED_CONFIGS {
            inputs.clear();
        }
        inputs.insert(config_key(config), globs.to_vec());
        remembered.save();
    }

    /// The compiled config schema (compiled on first use when the
    /// description was remembered).
    pub fn schema(&self) -> Result<&Schema, &str> {
        self.schema
            .get_or_init(|| Schema::compile(&self.info.config_schema))
            .as_ref()
            .map_err(String::as_str)
    }

    /// How the code was found when it was linked; `None` until it runs.
    pub fn linked_from(&self) -> Option<CacheStatus> {
        match self.linked.get() {
            Some(Ok(linked)) => Some(linked.cache),
            _ => None,
        }
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.remembered.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Runtime {
    /// Checks the API version, compiles (or loads from cache), links and
    /// describes a component, and remembers the description.
    pub fn load(&self, origin: &str, bytes: &[u8]) -> Result<RuleComponent, LoadError> {
        let api_version = api_version::read_stamp(bytes).map_err(LoadError::Refused)?;
        let built = crate::bundled::built(bytes);
        let digest = digest_of(bytes, built);
        self.load_linked(origin, bytes, digest, api_version, built)
    }

    /// [`Runtime::load`], unless the component's description is remembered:
    /// then the component is described from it and linked when it first
    /// runs (or when asked for its inputs).
    pub fn describe(
        &self,
        origin: &str,
        bytes: Cow<'static, [u8]>,
    ) -> Result<RuleComponent, LoadError> {
        let api_version = api_version::read_stamp(&bytes).map_err(LoadError::Refused)?;
        api_version::check(&api_version).map_err(LoadError::Refused)?;
        let built = crate::bundled::built(&bytes);
        let digest = digest_of(&bytes, built);
        let file = self.cache.description_file(&digest);
        let description = file
            .as_deref()
            .and_then(|file| std::fs::read(file).ok())
            .and_then(|text| serde_json::from_slice::<Description>(&text).ok())
            .filter(|d| d.api_version == api_version.to_string());
        let Some(description) = description else {
            return self.load_linked(origin, &bytes, digest, api_version, built);
        };
        let info = rule_info(&description.described())?;
        Ok(RuleComponent {
            info,
            digest,
            api_version,
            cache: CacheStatus::Described,
            origin: origin.to_owned(),
            pack: None,
            bytes,
            built,
            linked: OnceLock::new(),
            schema: OnceLock::new(),
            remembered: Mutex::new(Remembered { description, file }),
        })
    }

    fn load_linked(
        &self,
        origin: &str,
        bytes: &[u8],
        digest: String,
        api_version: semver::Version,
        built: Option<&'static crate::bundled::Built>,
    ) -> Result<RuleComponent, LoadError> {
        let (pre, cache) = self.link(bytes, &digest, &api_version, built)?;
        let mut store = self
            .store(None, None, "describe", &DESCRIBE_LIMITS)
            .map_err(|e| LoadError::Sandbox(e.into_boxed_dyn_error()))?;
        let described = pre
            .describe(&mut store)
            .map_err(|e| LoadError::Describe(classify(e, &store, &DESCRIBE_LIMITS)))?;
        drop(store);
        let info = rule_info(&described)?;
        let schema = Schema::compile(&info.config_schema).map_err(LoadError::BadConfigSchema)?;
        let remembered = Remembered {
            description: Description::of(&api_version, &described),
            file: self.cache.description_file(&digest),
        };
        remembered.save();
        Ok(RuleComponent {
            info,
            digest,
            api_version,
            cache,
            origin: origin.to_owned(),
            pack: None,
            bytes: Cow::Borrowed(&[]),
            built,
            linked: OnceLock::from(Ok(Linked { pre, cache })),
            schema: OnceLock::from(Ok(schema)),
            remembered: Mutex::new(remembered),
        })
    }

    /// Loads a bundled rule's precompiled code, else compiles (or loads
    /// from the compile cache), and links a component.
    fn link(
        &self,
        bytes: &[u8],
        digest: &str,
        api_version: &semver::Version,
        built: Option<&'static crate::bundled::Built>,
    ) -> Result<(RulePre, CacheStatus), LoadError> {
        let abi = api_version::check(api_version).map_err(LoadError::Refused)?;
        let core = self.core().map_err(|e| LoadError::Sandbox(e.into()))?;
        let precompiled = match built {
            Some(built) if !self.compile_bundled => self.precompiled(core, built),
            _ => None,
        };
        let (component, cache) = match precompiled {
            Some(component) => (component, CacheStatus::Precompiled),
            None => self
                .cache
                .load(&core.engine, bytes, digest)
                .map_err(|e| LoadError::Compile(e.into_boxed_dyn_error()))?,
        };
        let pre = core
            .linker
            .instantiate_pre(&component)
            .and_then(|pre| RulePre::new(abi, pre))
            .map_err(|e| LoadError::World {
                api_version: api_version.clone(),
                source: e.into_boxed_dyn_error(),
            })?;
        Ok((pre, cache))
    }

    /// A bundled rule's code as precompiled when checkrail was built, when
    /// it fits this engine; `None` (said in the log) when the rule must be
    /// compiled instead.
    fn precompiled(&self, core: &Core, built: &crate::bundled::Built) -> Option<Component> {
        let Some(artifact) = &built.artifact else {
            tracing::info!(
                "compiling bundled rule `{}`: this build embeds no precompiled code (a cross build)",
                built.name
            );
            return None;
        };
        if artifact.engine != core.engine_id {
            // Another wasmtime, other settings, or other CPU features than
            // the machine that built the binary: never handed to
            // `deserialize`, whose safety rests on the artifact fitting.
            tracing::info!(
                "compiling bundled rule `{}`: its precompiled code is for another engine (built for {}, this engine is {})",
                built.name,
                short(artifact.engine),
                short(&core.engine_id)
            );
            return None;
        }
        // SAFETY: the bytes are embedded in this very binary, written by
        // `Engine::precompile_component` in its build script with the
        // settings of `config::compile_config` (nobody else can have
        // produced them), and that engine's id equals this one's. wasmtime
        // checks the artifact's header, version, flags and features against
        // the engine again and refuses what does not fit:
        // <https://docs.rs/wasmtime/48.0.0/wasmtime/component/struct.Component.html#method.deserialize>.
        match unsafe { Component::deserialize(&core.engine, artifact.code) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(
                    "compiling bundled rule `{}`: its precompiled code does not load: {e}",
                    built.name
                );
                None
            }
        }
    }

    /// The component's linked code, linking it on first use; the error
    /// says why it cannot run.
    pub(super) fn linked<'r>(&self, rule: &'r RuleComponent) -> Result<&'r RulePre, String> {
        rule.linked
            .get_or_init(|| {
                self.link(&rule.bytes, &rule.digest, &rule.api_version, rule.built)
                    .map(|(pre, cache)| Linked { pre, cache })
                    .map_err(|e| format!("{} {}", rule.origin, crate::error::chain(&e)))
            })
            .as_ref()
            .map(|linked| &linked.pre)
            .map_err(Clone::clone)
    }
}

/// The component's sha256: from the build for a bundled rule, else hashed.
fn digest_of(bytes: &[u8], built: Option<&crate::bundled::Built>) -> String {
    match built {
        Some(built) => built.digest.to_owned(),
        None => hex::encode(Sha256::digest(bytes)),
    }
}

/// The first 12 hex digits of an engine id, for messages.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// What `describe` answered, checked against the host's rules: caps on its
/// texts, capabilities that parse, a semver version, a JSON config schema,
/// judging globs inside the workspace.
fn rule_info(described: &wit::RuleInfo) -> Result<RuleInfo, LoadError> {
    caps::check_described(described).map_err(LoadError::Refused)?;
    let capabilities = Capability::parse_all(&described.capabilities)
        .map_err(|e| LoadError::Refused(format!("declares {e}")))?;
    let version =
        semver::Version::parse(&described.version).map_err(|source| LoadError::Version {
            version: described.version.clone(),
            source,
        })?;
    let config_schema =
        serde_json::from_str(&described.config_schema).map_err(LoadError::ConfigSchema)?;
    for glob in &described.judging_files {
        check_judging_glob(glob).map_err(LoadError::Refused)?;
    }
    Ok(RuleInfo {
        id: described.id.clone(),
        version,
        description: described.description.clone(),
        config_schema,
        capabilities,
        judging_files: described.judging_files.clone(),
    })
}

/// Refuses a judging-file glob that could match outside the workspace.
fn check_judging_glob(glob: &str) -> Result<(), String> {
    let climbs = glob.split('/').any(|part| part == "..");
    if glob.is_empty() || glob.starts_with('/') || climbs {
        return Err(format!(
            "declares a judging file `{glob}` that is not a workspace-relative glob"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::bundled::{Artifact, BUNDLED_RULES, Built};
    use crate::runtime::{CheckInput, ComponentCache, Limits, RunResult};

    fn file_exists() -> (&'static [u8], &'static Built) {
        let (_, bytes) = BUNDLED_RULES
            .iter()
            .find(|(name, _)| *name == "file-exists")
            .expect("file-exists is bundled");
        let built = crate::bundled::built(bytes).expect("built with the binary");
        (bytes, built)
    }

    /// `built` with its precompiled code and engine id replaced.
    fn with_artifact(built: &Built, engine: String, code: Vec<u8>) -> &'static Built {
        Box::leak(Box::new(Built {
            name: built.name,
            digest: built.digest,
            artifact: Some(Artifact {
                engine: Box::leak(engine.into_boxed_str()),
                code: Box::leak(code.into_boxed_slice()),
            }),
        }))
    }

    /// Loads file-exists as `built` says, runs it on a workspace holding
    /// `present`, and returns how it was linked, whether it passed, and
    /// what was logged.
    fn load_and_check(built: &'static Built) -> (CacheStatus, bool, String) {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Capture(writer.clone()))
            .finish();
        let (status, passed) = tracing::subscriber::with_default(subscriber, || {
            let (bytes, _) = file_exists();
            let runtime = Runtime::new(ComponentCache::new(None)).expect("runtime");
            let version = api_version::read_stamp(bytes).expect("stamped");
            let rule = runtime
                .load_linked("test", bytes, built.digest.to_owned(), version, Some(built))
                .expect("loads");
            let ws = tempfile::tempdir().expect("workspace");
            std::fs::write(ws.path().join("present"), "here").expect("file");
            let input = CheckInput {
                workspace: Some(ws.path()),
                ..CheckInput::default()
            };
            let config = r#"{"paths":["present"]}"#;
            let passed = matches!(
                runtime.check(&rule, config, &input, &Limits::default()),
                RunResult::Completed(outcome) if outcome.passed
            );
            (rule.linked_from().expect("linked"), passed)
        });
        let logs = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
        (status, passed, logs)
    }

    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("logs").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn engine_id() -> String {
        let runtime = Runtime::new(ComponentCache::new(None)).expect("runtime");
        runtime.core().expect("engine").engine_id.clone()
    }

    #[test]
    fn the_embedded_artifacts_fit_the_engine_pooled_or_not() {
        for allocation in [
            super::super::Allocation::Pooled,
            super::super::Allocation::OnDemand,
        ] {
            let runtime =
                Runtime::with_allocation(ComponentCache::new(None), allocation).expect("runtime");
            let core = runtime.core().expect("engine");
            for built in crate::bundled::BUNDLED_BUILT {
                let artifact = built.artifact.as_ref().expect("a native build precompiles");
                assert_eq!(artifact.engine, core.engine_id, "{}", built.name);
                assert!(runtime.precompiled(core, built).is_some(), "{}", built.name);
            }
        }
    }

    #[test]
    fn a_bundled_rule_links_its_precompiled_code() {
        let (_, built) = file_exists();
        let (status, passed, logs) = load_and_check(built);
        assert_eq!(status, CacheStatus::Precompiled);
        assert!(passed);
        assert!(!logs.contains("compiling bundled rule"), "{logs}");
    }

    #[test]
    fn a_corrupt_artifact_is_compiled_instead_and_the_log_says_so() {
        let (_, built) = file_exists();
        let mut code = built.artifact.as_ref().expect("precompiled").code.to_vec();
        // Past the ELF header: wasmtime must find the engine section broken.
        code.truncate(code.len() / 3);
        let (status, passed, logs) = load_and_check(with_artifact(built, engine_id(), code));
        assert_eq!(
            status,
            CacheStatus::Uncached,
            "compiled, no cache to store in"
        );
        assert!(passed, "the compiled rule still checks");
        assert!(
            logs.contains(
                "compiling bundled rule `file-exists`: its precompiled code does not load"
            ),
            "{logs}"
        );
    }

    #[test]
    fn an_artifact_for_another_engine_is_never_deserialized() {
        let (_, built) = file_exists();
        // Code that *would* load (this engine's own), labelled as another
        // engine's: were it handed to `deserialize`, it would link as
        // precompiled.
        let code = built.artifact.as_ref().expect("precompiled").code.to_vec();
        let other = "0".repeat(64);
        let (status, passed, logs) = load_and_check(with_artifact(built, other, code));
        assert_eq!(status, CacheStatus::Uncached);
        assert!(passed);
        assert!(
            logs.contains(
                "compiling bundled rule `file-exists`: its precompiled code is for another engine"
            ),
            "{logs}"
        );
    }
}
