//! Reads the API version a component was built against, before compiling it,
//! and picks the bindings that speak it.

use checkrail_sdk::API_VERSION_SECTION;
use wasmparser::{Parser, Payload};

/// API versions this host supports, for messages: the `checkrail:rule`
/// 0.1.x and 0.2.x worlds.
pub const SUPPORTED: &str = "^0.1 and ^0.2";

/// A version of the rule world this host has bindings for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// `checkrail:rule@0.1.x`, frozen in `plugin-sdk/wit/since_v0.1.0/`.
    V0_1,
    /// `checkrail:rule@0.2.x`, in `plugin-sdk/wit/since_v0.2.0/`: judging
    /// files, baselines and facts.
    V0_2,
}

impl Abi {
    /// Every version, oldest first.
    pub const ALL: [Abi; 2] = [Abi::V0_1, Abi::V0_2];

    /// The semver requirement a component's stamp must meet for this
    /// version's bindings.
    pub fn requirement(self) -> semver::VersionReq {
        let (major, minor) = match self {
            Abi::V0_1 => (0, 1),
            Abi::V0_2 => (0, 2),
        };
        semver::VersionReq {
            comparators: vec![semver::Comparator {
                op: semver::Op::Caret,
                major,
                minor: Some(minor),
                patch: None,
                pre: semver::Prerelease::EMPTY,
            }],
        }
    }
}

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

/// The bindings for a component stamped with `version`; refuses a version
/// this host does not support, naming both.
pub fn check(version: &semver::Version) -> Result<Abi, String> {
    Abi::ALL
        .into_iter()
        .find(|abi| abi.requirement().matches(version))
        .ok_or_else(|| {
            format!(
                "was built for checkrail rule API {version}, but this host supports API \
                 {SUPPORTED} (it speaks {api}); rebuild the rule against a checkrail-sdk of \
                 API {api}",
                api = checkrail_sdk::API_VERSION
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    #[test]
    fn the_stamp_picks_the_bindings() {
        assert_eq!(check(&version("0.1.0")), Ok(Abi::V0_1));
        assert_eq!(check(&version("0.1.7")), Ok(Abi::V0_1));
        assert_eq!(check(&version("0.2.0")), Ok(Abi::V0_2));
        assert_eq!(check(&version("0.2.3")), Ok(Abi::V0_2));
    }

    #[test]
    fn other_versions_are_refused_naming_both() {
        for other in ["0.0.9", "0.3.0", "1.0.0", "0.2.0-alpha.1"] {
            let error = check(&version(other)).unwrap_err();
            assert!(error.contains(&format!("API {other}")), "{error}");
            assert!(error.contains("supports API ^0.1 and ^0.2"), "{error}");
        }
    }

    #[test]
    fn the_sdk_speaks_the_newest_version() {
        assert_eq!(
            check(&version(checkrail_sdk::API_VERSION)),
            Ok(*Abi::ALL.last().unwrap())
        );
    }
}
