//! The engine settings that decide how rule components compile, and the id
//! of an engine's compiled code. Shared with `build.rs` (through `#[path]`),
//! which precompiles the bundled rules with exactly these settings, so that
//! the artifacts it embeds load in the engine the binary builds at run time.
//!
//! Settings that do not change compiled code (the allocation strategy, the
//! pool's sizes) are added by the runtime on top of [`compile_config`].

use wasmtime::{Config, Engine};

/// The settings every engine of checkrail starts from: the component model
/// and epoch interruption (the deadlines' mechanism).
pub fn compile_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    config
}

/// A stable id of what `engine` compiles, as hex: sha256 over wasmtime's
/// `Engine::precompile_compatibility_hash`, which covers the target, the
/// compiler's shared and ISA flags (the CPU features it detected), the
/// tunables, the wasm features and wasmtime's version. Hashed with sha256
/// rather than std's `DefaultHasher`, whose algorithm may change between
/// Rust releases. Two engines with the same id load each other's artifacts;
/// see <https://docs.rs/wasmtime/48.0.0/wasmtime/struct.Engine.html#method.precompile_compatibility_hash>.
pub fn engine_id(engine: &Engine) -> String {
    use std::hash::Hash;
    let mut hasher = Sha256Hasher(sha2::Sha256::default());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let digest = sha2::Digest::finalize(hasher.0);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds what a `Hash` impl writes into sha256.
struct Sha256Hasher(sha2::Sha256);

impl std::hash::Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        sha2::Digest::update(&mut self.0, bytes);
    }

    fn finish(&self) -> u64 {
        // Only `engine_id` reads the digest, through `finalize`.
        0
    }
}
