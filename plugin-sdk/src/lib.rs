//! # Writing checkrail rules
//!
//! A checkrail rule is a small Rust crate built for `wasm32-wasip2`. checkrail
//! runs it in a sandbox against the real workspace at every checkpoint that
//! names it, and hands its findings to the agent: what is wrong, where, and
//! how to fix it.
//!
//! A rule is three things: a config struct (deserialized with serde, its JSON
//! Schema derived with schemars and checked by the host before your code
//! runs), an implementation of [`Rule`], and [`export_rule!`]. The SDK
//! re-exports [`serde`], [`serde_json`] and [`schemars`], so `checkrail-sdk`
//! is a rule's only dependency. `checkrail rule new <name>` generates a crate
//! that tests, builds and runs as is.
//!
//! A whole rule with a typed config, in 20 lines:
//!
//! ```
//! use checkrail_sdk::{Context, Finding, Outcome, Result, Rule, export_rule};
//! use checkrail_sdk::{schemars::JsonSchema, serde::Deserialize};
//! /// Config of `has-changelog`: where the changelog lives.
//! #[derive(Deserialize, JsonSchema)]
//! #[serde(crate = "checkrail_sdk::serde")]
//! #[schemars(crate = "checkrail_sdk::schemars")]
//! pub struct Config { pub path: String }
//! pub struct HasChangelog;
//! impl Rule for HasChangelog {
//!     type Config = Config;
//!     const ID: &'static str = "has-changelog";
//!     const DESCRIPTION: &'static str = "The project keeps a changelog.";
//!     fn check(config: Config, cx: &Context) -> Result<Outcome> {
//!         let missing = !cx.workspace().exists(&config.path);
//!         let finding = Finding::error("no changelog").path(&config.path).fix_hint("add one");
//!         Ok(Outcome::from_findings(if missing { vec![finding] } else { vec![] }))
//!     }
//! }
//! export_rule!(HasChangelog);
//! # fn main() {}
//! ```
//!
//! The `crate` attributes point the derives at the SDK's copies of serde and
//! schemars (without them, the derives look for crates of those names among
//! the rule's own dependencies). Doc comments on the config become the
//! descriptions in its JSON Schema; serde attributes such as
//! `#[serde(default)]` and `deny_unknown_fields` shape it as usual.
//!
//! ## Building
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//! ```
//!
//! then `cargo build --release --target wasm32-wasip2` gives
//! `target/wasm32-wasip2/release/<crate>.wasm`, a component that
//! `checkrail --rules-dir target/wasm32-wasip2/release rule run <id>` can
//! load (checkrail names a component after its file stem, reading `_` as
//! `-`). [`export_rule!`] stamps the SDK's
//! [`API_VERSION`] into it; the host refuses a component whose API version it
//! does not support.
//!
//! ## Testing natively
//!
//! The same rule runs natively, against a temporary directory, with no wasm
//! involved. The workspace is confined exactly as in the sandbox.
//!
//! ```
//! # use checkrail_sdk::{Context, Finding, Outcome, Result, Rule};
//! # #[derive(checkrail_sdk::serde::Deserialize, checkrail_sdk::schemars::JsonSchema)]
//! # #[serde(crate = "checkrail_sdk::serde")]
//! # #[schemars(crate = "checkrail_sdk::schemars")]
//! # pub struct Config { path: String }
//! # pub struct HasChangelog;
//! # impl Rule for HasChangelog {
//! #     type Config = Config;
//! #     const ID: &'static str = "has-changelog";
//! #     const DESCRIPTION: &'static str = "The project keeps a changelog.";
//! #     fn check(config: Config, cx: &Context) -> Result<Outcome> {
//! #         let mut findings = Vec::new();
//! #         if !cx.workspace().exists(&config.path) {
//! #             findings.push(Finding::error("missing").path(&config.path));
//! #         }
//! #         Ok(Outcome::from_findings(findings))
//! #     }
//! # }
//! use checkrail_sdk::serde_json::json;
//! use checkrail_sdk::testing::TestWorkspace;
//!
//! let ws = TestWorkspace::new().unwrap();
//! let outcome = ws.run::<HasChangelog>(json!({"path": "CHANGELOG.md"})).unwrap();
//! assert!(!outcome.passed);
//! assert_eq!(outcome.findings[0].path.as_deref(), Some("CHANGELOG.md"));
//!
//! ws.write("CHANGELOG.md", "## 0.1.0\n- first release\n").unwrap();
//! assert!(ws.run::<HasChangelog>(json!({"path": "CHANGELOG.md"})).unwrap().passed);
//! ```
//!
//! ## What a rule can do
//!
//! - Read the workspace through [`Workspace`]: [`Workspace::stat_many`] and
//!   [`Workspace::glob`] are answered by the host in a single call (use them
//!   rather than looking at paths one by one), [`Workspace::read_to_string`]
//!   reads a file. The workspace is read-only; nothing outside it exists.
//! - Log through [`log`]; logs go to the host's log, never to the agent.
//! - Run a granted tool through [`tool`]: one config for `cwd` and custom
//!   commands, one set of finding codes for refusals, timeouts, failures and
//!   cut output, one reading of rustc's diagnostics.
//! - Read what tools printed: [`diagnostics`] parses cargo's
//!   `--message-format=json` diagnostics, and [`tool_paths`] maps the paths
//!   a tool printed back into the workspace with one `stat_many` call.
//! - Remember what it saw across the phases of a session: facts set with
//!   [`Outcome::with_facts`] come back at later phases through
//!   [`Context::baseline`], so a rule can tell that a test failing at `red`
//!   now passes, or that its source changed in between.
//! - Name the files that change how its tool judges
//!   ([`Rule::JUDGING_FILES`]); the host blocks when one of them changes in
//!   the middle of a session.
//! - Nothing else: no network, no environment, no clock-based tricks. A rule
//!   that loops past its deadline or allocates past its memory cap is stopped
//!   and reported as failed.

#![warn(missing_docs)]

pub mod detect;
pub mod diagnostics;
mod exec;
mod finding;
pub mod log;
mod path;
mod rule;
pub mod tool;
pub mod tool_paths;
mod workspace;

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use exec::{Command, ExecError, Output};
pub use finding::{Finding, Outcome, Severity};
pub use path::normalize_path;
pub use rule::{Baseline, Context, Error, Result, Rule};
pub use workspace::{Entry, EntryKind, PathError, Workspace};

/// The plugin API version this SDK builds against: the semver version of the
/// `checkrail:rule` WIT world (shipped in this crate's `wit/since_v0.2.0/`,
/// beside the frozen earlier versions), not the version of the crate.
///
/// [`export_rule!`] stamps it into the component, in the custom section
/// [`API_VERSION_SECTION`]. The host reads that stamp before compiling a
/// component and checks it against the API versions it supports (a semver
/// requirement such as `^0.1`); a component without a stamp, or with one
/// outside that range, is refused with a message naming both versions.
/// Rebuilding a rule against a newer SDK is how it moves to a newer API.
pub const API_VERSION: &str = "0.2.0";

/// Name of the custom section that carries [`API_VERSION`] in a component.
pub const API_VERSION_SECTION: &str = "checkrail:api-version";

/// Environment variable through which the host gives each sandboxed call a
/// random token. The SDK's panic hook prefixes its report on stderr with it,
/// so the host can tell a real panic from text that merely looks like one
/// (a test's output relayed by a rule, say).
#[doc(hidden)]
pub const PANIC_TOKEN_ENV: &str = "CHECKRAIL_PANIC_TOKEN";

/// The crates a rule's config and tool-output types derive with, so a rule
/// depends on `checkrail-sdk` alone. Derives name them through their `crate`
/// attributes: `#[serde(crate = "checkrail_sdk::serde")]` and
/// `#[schemars(crate = "checkrail_sdk::schemars")]`.
pub use schemars;
pub use serde;
pub use serde_json;

/// Items the [`export_rule!`] macro expands to, and the WIT bindings the SDK
/// wraps; not part of the API (they change with the WIT, the API does not).
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    #[allow(
        clippy::too_many_arguments,
        reason = "generated bindings mirror the WIT signatures"
    )]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "wit/since_v0.2.0",
            world: "rule",
            pub_export_macro: true,
            export_macro_name: "__export_world_rule",
        });
    }

    #[cfg(target_arch = "wasm32")]
    pub use crate::rule::wasm::{check, describe, inputs};
    #[cfg(target_arch = "wasm32")]
    pub use bindings::{Guest, checkrail::rule::types as wit};

    /// Copies a version string into a fixed-size array for a custom section.
    pub const fn version_bytes<const N: usize>(version: &str) -> [u8; N] {
        let bytes = version.as_bytes();
        assert!(bytes.len() == N, "version length mismatch");
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }
}

/// Exports a [`Rule`] as the component's `describe` and `check`, and stamps
/// the SDK's [`API_VERSION`] into the component. Call it once per crate.
///
/// On targets other than `wasm32` it expands to nothing, so the crate still
/// builds (and its native tests run) on the developer's machine.
#[macro_export]
macro_rules! export_rule {
    ($rule:ty) => {
        $crate::__export_rule_with_api!($rule, $crate::API_VERSION);
    };
}

/// [`export_rule!`] with an explicit API version stamp; for the host's own
/// compatibility tests only.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_rule_with_api {
    ($rule:ty, $api:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __CheckrailExport;

            impl $crate::__private::Guest for __CheckrailExport {
                fn describe() -> $crate::__private::wit::RuleInfo {
                    $crate::__private::describe::<$rule>(env!("CARGO_PKG_VERSION"))
                }

                fn inputs(config: ::std::string::String) -> ::std::vec::Vec<::std::string::String> {
                    $crate::__private::inputs::<$rule>(config)
                }

                fn check(
                    config: ::std::string::String,
                    context: $crate::__private::wit::CheckContext,
                ) -> ::std::result::Result<$crate::__private::wit::Outcome, ::std::string::String>
                {
                    $crate::__private::check::<$rule>(config, context)
                }
            }

            $crate::__private::bindings::__export_world_rule!(__CheckrailExport with_types_in $crate::__private::bindings);

            #[used]
            #[unsafe(link_section = "checkrail:api-version")]
            static __CHECKRAIL_API_VERSION: [u8; { $api.len() }] =
                $crate::__private::version_bytes($api);
        };
    };
}
