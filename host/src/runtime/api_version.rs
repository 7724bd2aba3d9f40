//! Reads the API version a component was built against, before compiling it.

use checkrail_sdk::API_VERSION_SECTION;
use wasmparser::{Parser, Payload};

/// API versions this host supports: the `checkrail:rule` 0.1.x worlds.
pub const SUPPORTED: &str = "^0.1";

/// Finds the API version stamp in a component (in any nested core module).
pub fn read_stamp(bytes: &[u8]) -> Result<semver::Version, String> {
    if !wasmparser::Parser::is_component(bytes) {
        return Err(if Parser::is_core_wasm(bytes) {
            "is a core wasm module, not a component; build it for wasm32-wasip2".to_owned()
        } else {
            "is not a WebAssembly component".to_owned()
        });
    }
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("is not valid WebAssembly: {e}"))?;
        if let Payload::CustomSection(section) = payload
            && section.name() == API_VERSION_SECTION
        {
            let text = std::str::from_utf8(section.data())
                .map_err(|_| "has an API version stamp that is not UTF-8".to_owned())?;
            return semver::Version::parse(text)
                .map_err(|e| format!("has an invalid API version stamp `{text}`: {e}"));
        }
    }
    Err(format!(
        "carries no checkrail API version stamp (custom section `{API_VERSION_SECTION}`); \
         build it with checkrail-sdk and its `export_rule!` macro"
    ))
}

/// Refuses a version this host does not support, naming both.
pub fn check(version: &semver::Version) -> Result<(), String> {
    let supported = semver::VersionReq::parse(SUPPORTED).map_err(|e| e.to_string())?;
    if supported.matches(version) {
        Ok(())
    } else {
        Err(format!(
            "was built for checkrail rule API {version}, but this host supports API {SUPPORTED} \
             (it speaks {}); rebuild the rule against a checkrail-sdk of API {SUPPORTED}",
            checkrail_sdk::API_VERSION
        ))
    }
}
