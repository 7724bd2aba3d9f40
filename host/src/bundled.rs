//! Rules and workflows compiled into the binary, so an installed `checkrail`
//! finds them with no files beside it; the rules also as code precompiled
//! when the binary was built (see `build.rs`).

/// A bundled rule as built.
pub struct Built {
    /// Rule id (as in [`BUNDLED_RULES`]).
    pub name: &'static str,
    /// sha256 of the component bytes, as hex.
    pub digest: &'static str,
    /// Its code, precompiled for the build machine; `None` in a cross build.
    pub artifact: Option<Artifact>,
}

/// Code precompiled by wasmtime when the binary was built.
pub struct Artifact {
    /// The id of the engine that compiled it (`runtime::config::engine_id`):
    /// it loads only in an engine with the same id.
    pub engine: &'static str,
    /// What `Engine::precompile_component` produced.
    pub code: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// What the build knows of `bytes` when they are a bundled rule's
/// component, the very bytes embedded in this binary (compared by address,
/// not content: bytes read from anywhere else are never taken for them).
pub fn built(bytes: &[u8]) -> Option<&'static Built> {
    let (name, _) = BUNDLED_RULES
        .iter()
        .find(|(_, wasm)| std::ptr::eq(*wasm, bytes))?;
    BUNDLED_BUILT.iter().find(|b| b.name == *name)
}

/// The JSON Schema every workflow file is validated against.
pub const WORKFLOW_SCHEMA: &str = include_str!("../../workflows/workflow.schema.json");
