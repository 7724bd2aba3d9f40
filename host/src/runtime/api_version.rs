//! Reads the API version a component was built against, before compiling it,
//! and picks the bindings that speak it.

use checkrail_sdk::API_VERSION_SECTION;
use wasmparser::{Chunk, Parser, Payload};

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
    let invalid = |e: wasmparser::BinaryReaderError| format!("is not valid WebAssembly: {e}");
    // A walk of the sections, nested modules and components included, that
    // steps over code sections rather than reading every function's header
    // (a component's code is most of its bytes; a hook pays this per rule).
    let (mut parser, mut parents, mut offset) = (Parser::new(0), Vec::new(), 0);
    loop {
        let rest = bytes
            .get(offset..)
            .ok_or("is not valid WebAssembly: a section runs past the end")?;
        let Chunk::Parsed { consumed, payload } = parser.parse(rest, true).map_err(invalid)? else {
            return Err("is not valid WebAssembly: it ends early".to_owned());
        };
        offset += consumed;
        match payload {
            Payload::CustomSection(section) if section.name() == API_VERSION_SECTION => {
                let text = std::str::from_utf8(section.data())
                    .map_err(|_| "has an API version stamp that is not UTF-8".to_owned())?;
                return semver::Version::parse(text)
                    .map_err(|e| format!("has an invalid API version stamp `{text}`: {e}"));
            }
            Payload::ModuleSection { parser: nested, .. }
            | Payload::ComponentSection { parser: nested, .. } => {
                parents.push(std::mem::replace(&mut parser, nested))
            }
            Payload::CodeSectionStart { size, .. } => {
                parser.skip_section();
                offset += size as usize;
            }
            Payload::End(_) => match parents.pop() {
                Some(parent) => parser = parent,
                None => break,
            },
            _ => {}
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

    /// A component with nothing but `sections` (id, payload) after its header.
    fn component(sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
        for (id, payload) in sections {
            bytes.push(*id);
            bytes.push(u8::try_from(payload.len()).expect("short section"));
            bytes.extend(payload);
        }
        bytes
    }

    fn custom(name: &str, data: &str) -> (u8, Vec<u8>) {
        let mut payload = vec![u8::try_from(name.len()).expect("short name")];
        payload.extend(name.as_bytes());
        payload.extend(data.as_bytes());
        (0, payload)
    }

    #[test]
    fn the_stamp_is_found_where_each_sdk_puts_it() {
        // The Rust SDK's stamp sits in a nested core module, after code.
        for (id, bytes) in crate::bundled::BUNDLED_RULES {
            let stamp = read_stamp(bytes).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(stamp.to_string(), checkrail_sdk::API_VERSION, "{id}");
        }
        // The Python and TypeScript builds add it to the component itself.
        let top = component(&[custom("name", "x"), custom(API_VERSION_SECTION, "0.2.1")]);
        assert_eq!(read_stamp(&top), Ok(version("0.2.1")));
        let unstamped = component(&[custom("name", "x")]);
        assert!(
            read_stamp(&unstamped)
                .unwrap_err()
                .contains("no checkrail API version stamp")
        );
    }

    #[test]
    fn a_cut_or_corrupt_component_is_refused_not_a_panic() {
        let (_, bytes) = crate::bundled::BUNDLED_RULES[0];
        for cut in [9, 64, 4096] {
            let error = read_stamp(&bytes[..cut]).unwrap_err();
            assert!(
                error.starts_with("is not valid WebAssembly"),
                "{cut}: {error}"
            );
        }
        // Cut anywhere: the stamp if it came before the cut, else an error.
        for cut in (0..bytes.len()).step_by(997) {
            match read_stamp(&bytes[..cut]) {
                Ok(stamp) => assert_eq!(stamp.to_string(), checkrail_sdk::API_VERSION),
                Err(e) => assert!(e.starts_with("is not"), "{cut}: {e}"),
            }
        }
        let mut lying = component(&[custom("name", "x")]);
        lying[9] = 0x7f; // the section claims more bytes than there are
        assert!(
            read_stamp(&lying)
                .unwrap_err()
                .starts_with("is not valid WebAssembly")
        );
    }
}
