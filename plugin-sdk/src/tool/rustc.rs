//! rustc's diagnostics (from cargo's `--message-format=json`, see
//! [`diagnostics`](crate::diagnostics)) as [`Diag`]s, with rustc's own
//! suggestions rendered once, in words, as the hint: `cargo build`, `cargo
//! clippy` and anything else that prints them read the same.
//!
//! ```
//! use checkrail_sdk::tool::{Level, rustc};
//!
//! let stdout = r#"{"reason":"compiler-message","message":{"message":"unused variable: `x`","level":"warning","code":{"code":"unused_variables"},"spans":[{"file_name":"src/lib.rs","byte_start":16,"byte_end":17,"line_start":2,"line_end":2,"column_start":9,"is_primary":true,"text":[{"text":"    let x = 1;","highlight_start":9,"highlight_end":10}]}],"children":[{"message":"if this is intentional, prefix it with an underscore","level":"help","spans":[{"file_name":"src/lib.rs","byte_start":16,"byte_end":17,"line_start":2,"line_end":2,"column_start":9,"is_primary":true,"suggested_replacement":"_x","text":[{"text":"    let x = 1;","highlight_start":9,"highlight_end":10}]}],"children":[]}]}}"#;
//! let read = rustc::read(stdout);
//! let d = &read.diags[0];
//! assert_eq!(d.level, Level::Warning);
//! assert_eq!(d.code.as_deref(), Some("unused_variables"));
//! assert_eq!(
//!     d.hint.as_deref(),
//!     Some("if this is intentional, prefix it with an underscore: replace `x` with `_x`")
//! );
//! ```

use crate::diagnostics::{self, Diagnostic, Span};
use crate::tool::{Diag, Level, Location, clip};

/// What a cargo `--message-format=json` run said, as diagnostics.
#[derive(Debug, Clone, Default)]
pub struct Read {
    /// Errors, warnings and top-level notes, in order, repeats included.
    /// rustc's closing counts ("aborting due to 2 previous errors") are
    /// left out, unless nothing else was read: then its error counts stay,
    /// so a failure is never silent.
    pub diags: Vec<Diag>,
    /// Absolute manifest paths of the local packages (anchors for
    /// [`resolve_with_root`](crate::tool_paths::resolve_with_root)).
    pub anchors: Vec<String>,
    /// `build-finished`'s `success`, when cargo printed it.
    pub build_success: Option<bool>,
}

/// Reads the stdout of a cargo command run with `--message-format=json`.
pub fn read(stdout: &str) -> Read {
    let out = diagnostics::parse_cargo_json(stdout);
    let mut diags = Vec::new();
    let mut summaries = Vec::new();
    for message in &out.diagnostics {
        let level = match message.level {
            diagnostics::Level::Error => Level::Error,
            diagnostics::Level::Warning => Level::Warning,
            diagnostics::Level::Note | diagnostics::Level::Help => Level::Info,
            // `failure-note` ("For more information about this error, try …").
            _ => continue,
        };
        let diag = diag(level, message);
        if message.spans.is_empty() && is_summary(&message.message) {
            summaries.push(diag);
        } else {
            diags.push(diag);
        }
    }
    if diags.is_empty() {
        summaries.retain(|d| d.level == Level::Error);
        diags = summaries;
    }
    Read {
        diags,
        anchors: out.local_manifests,
        build_success: out.build_success,
    }
}

/// rustc's and cargo's closing lines, which count the diagnostics.
fn is_summary(message: &str) -> bool {
    let m = message.trim();
    m.starts_with("aborting due to")
        || m.starts_with("could not compile")
        || m.starts_with("For more information about")
        || (m.ends_with(" emitted") && (m.contains(" warning") || m.contains(" error")))
}

fn diag(level: Level, message: &Diagnostic) -> Diag {
    let mut diag = Diag::new(level, message.labelled(message.message.trim()));
    diag.locations = message
        .primary_span()
        .into_iter()
        .flat_map(Span::macro_backtrace)
        // Placeholders such as `<std macros>` are never files.
        .filter(|s| !s.file_name.starts_with('<'))
        .map(|s| Location::new(&s.file_name, Some(s.line_start), Some(s.column_start)))
        .collect();
    diag.code = message.code.clone();
    diag.hint = hint(message);
    diag
}

/// rustc's `help:` children with their suggested edits, the notes that say
/// more than the lint's level, links, and `rustc --explain` for an error
/// code, as one hint; rustc's rendered `help:` line when it has no
/// structured help.
pub fn hint(message: &Diagnostic) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut links: Vec<String> = Vec::new();
    for child in &message.children {
        let text = child.message.trim();
        match child.level {
            diagnostics::Level::Help => {
                let edits: Vec<String> = child
                    .spans
                    .iter()
                    .filter_map(|s| Some(edit(s, s.suggested_replacement.as_deref()?)))
                    .collect();
                if let Some(url) = text.strip_prefix("for further information visit ") {
                    links.push(format!("see {url}"));
                } else if edits.is_empty() {
                    parts.push(text.to_owned());
                } else {
                    parts.push(format!("{text}: {}", edits.join(", ")));
                }
            }
            diagnostics::Level::Note => {
                let boilerplate = text.contains("on by default")
                    || text.starts_with("the lint level is defined here")
                    || text.starts_with("requested on the command line");
                if !boilerplate {
                    parts.push(format!("note: {text}"));
                }
            }
            _ => {}
        }
    }
    if parts.is_empty()
        && let Some(help) = message.rendered_help()
    {
        parts.push(help.to_owned());
    }
    parts.extend(links);
    if let Some(code) = message.code.as_deref()
        && is_error_code(code)
    {
        parts.push(format!("run `rustc --explain {code}` for details"));
    }
    (!parts.is_empty()).then(|| clip(&parts.join("; "), 1_500))
}

/// Whether `code` is a rustc error code such as `E0308`.
pub fn is_error_code(code: &str) -> bool {
    code.len() == 5 && code.starts_with('E') && code[1..].bytes().all(|b| b.is_ascii_digit())
}

/// One suggested edit, in words.
fn edit(span: &Span, replacement: &str) -> String {
    let original = span.highlighted_text();
    let at = format!("line {}", span.line_start);
    match (original.as_deref(), replacement.is_empty()) {
        (Some(""), true) | (None, true) => format!("delete the code at {at}"),
        (Some(orig), true) => format!("delete `{}`", clip(orig, 80)),
        (Some(""), false) => format!("insert `{}` at {at}", clip(replacement, 120)),
        (None, false) if span.is_insertion() => {
            format!("insert `{}` at {at}", clip(replacement, 120))
        }
        (Some(orig), false) => format!(
            "replace `{}` with `{}`",
            clip(orig, 80),
            clip(replacement, 120)
        ),
        (None, false) if span.line_end <= span.line_start => {
            format!("replace the code at {at} with `{}`", clip(replacement, 120))
        }
        (None, false) => format!(
            "replace lines {}-{} with `{}`",
            span.line_start,
            span.line_end,
            clip(replacement, 120)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `cargo build --message-format=json` (rustc 1.95),
    /// trimmed of fields the parser does not read.
    const BUILD: &str = r#"{"reason":"compiler-artifact","package_id":"x","target":{"name":"x"}}
   Compiling demo v0.1.0 (not json)
{"reason":"compiler-message","package_id":"path+file:///tmp/rs#demo@0.1.0","manifest_path":"/tmp/rs/Cargo.toml","message":{"rendered":"error[E0308]: mismatched types\n --> src/lib.rs:6:41\n","children":[{"children":[],"code":null,"level":"help","message":"you can convert a `usize` to a `u32` and panic if the converted value doesn't fit","rendered":null,"spans":[{"byte_end":117,"byte_start":117,"column_end":48,"column_start":48,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":6,"line_start":6,"suggested_replacement":".try_into().unwrap()","text":[]}]}],"code":{"code":"E0308","explanation":"..."},"level":"error","message":"mismatched types","spans":[{"byte_end":117,"byte_start":110,"column_end":48,"column_start":41,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":"expected `u32`, found `usize`","line_end":6,"line_start":6,"text":[]}]}}
{"reason":"compiler-message","package_id":"path+file:///tmp/rs#demo@0.1.0","message":{"rendered":"error: aborting due to 1 previous error\n\n","children":[],"code":null,"level":"error","message":"aborting due to 1 previous error","spans":[]}}
{"reason":"compiler-message","package_id":"path+file:///tmp/rs#demo@0.1.0","message":{"rendered":"For more information about this error, try `rustc --explain E0308`.\n","children":[],"code":null,"level":"failure-note","message":"For more information about this error, try `rustc --explain E0308`.","spans":[]}}
{"reason":"build-finished","success":false}
"#;

    /// From `cargo clippy --message-format=json` (rust 1.95) on
    /// `#![deny(clippy::needless_return)]`.
    const CLIPPY: &str = r##"{"reason":"compiler-message","package_id":"path+file:///tmp/c#demo@0.1.0","manifest_path":"/tmp/c/Cargo.toml","message":{"rendered":"error: unneeded `return` statement\n","children":[{"children":[],"code":null,"level":"help","message":"for further information visit https://rust-lang.github.io/rust-clippy/rust-1.95.0/index.html#needless_return","rendered":null,"spans":[]},{"children":[],"code":null,"level":"note","message":"the lint level is defined here","rendered":null,"spans":[{"byte_end":31,"byte_start":8,"column_end":32,"column_start":9,"file_name":"src/lib.rs","is_primary":true,"line_end":1,"line_start":1,"text":[{"highlight_end":32,"highlight_start":9,"text":"#![deny(clippy::needless_return)]"}]}]},{"children":[],"code":null,"level":"help","message":"remove `return`","rendered":null,"spans":[{"byte_end":104,"byte_start":92,"column_end":17,"column_start":5,"file_name":"src/lib.rs","is_primary":true,"line_end":4,"line_start":4,"suggested_replacement":"x + 1","text":[{"highlight_end":17,"highlight_start":5,"text":"    return x + 1;"}]},{"byte_end":105,"byte_start":104,"column_end":18,"column_start":17,"file_name":"src/lib.rs","is_primary":true,"line_end":4,"line_start":4,"suggested_replacement":"","text":[{"highlight_end":18,"highlight_start":17,"text":"    return x + 1;"}]}]}],"level":"error","message":"unneeded `return` statement","spans":[{"byte_end":105,"byte_start":92,"column_end":18,"column_start":5,"file_name":"src/lib.rs","is_primary":true,"line_end":4,"line_start":4,"text":[{"highlight_end":18,"highlight_start":5,"text":"    return x + 1;"}]}],"code":{"code":"clippy::needless_return","explanation":null}}}
{"reason":"compiler-message","package_id":"path+file:///tmp/c#demo@0.1.0","message":{"rendered":"error: aborting due to 1 previous error; 1 warning emitted\n\n","children":[],"level":"error","message":"aborting due to 1 previous error; 1 warning emitted","spans":[],"code":null}}
"##;

    #[test]
    fn errors_carry_label_location_suggestion_and_explain() {
        let read = read(BUILD);
        assert_eq!(read.build_success, Some(false));
        assert_eq!(read.anchors, ["/tmp/rs/Cargo.toml"]);
        assert_eq!(read.diags.len(), 1, "summary and failure-note dropped");
        let d = &read.diags[0];
        assert_eq!(d.message, "mismatched types: expected `u32`, found `usize`");
        assert_eq!(
            d.locations,
            [Location::new("src/lib.rs", Some(6), Some(41))]
        );
        assert_eq!(
            d.hint.as_deref(),
            Some(
                "you can convert a `usize` to a `u32` and panic if the converted value doesn't fit: insert `.try_into().unwrap()` at line 6; run `rustc --explain E0308` for details"
            )
        );
    }

    #[test]
    fn clippy_edits_links_and_boilerplate_notes() {
        let read = read(CLIPPY);
        assert_eq!(read.diags.len(), 1);
        assert_eq!(
            read.diags[0].hint.as_deref(),
            Some(
                "remove `return`: replace `return x + 1` with `x + 1`, delete `;`; see https://rust-lang.github.io/rust-clippy/rust-1.95.0/index.html#needless_return"
            )
        );
    }

    #[test]
    fn a_summary_alone_is_kept_so_a_failure_is_never_silent() {
        let only = r#"{"reason":"compiler-message","message":{"message":"aborting due to 1 previous error","level":"error","spans":[],"children":[]}}"#;
        assert_eq!(
            read(only).diags[0].message,
            "aborting due to 1 previous error"
        );
        let warnings = r#"{"reason":"compiler-message","message":{"message":"2 warnings emitted","level":"warning","spans":[],"children":[]}}"#;
        assert!(read(warnings).diags.is_empty());
        let link = r#"{"reason":"compiler-message","message":{"message":"linking with `cc` failed: exit status: 1","level":"error","spans":[],"children":[]}}"#;
        assert_eq!(read(link).diags.len(), 1);
    }

    #[test]
    fn macro_call_sites_follow_and_rendered_help_is_the_fallback() {
        let out = r#"{"reason":"compiler-message","message":{"message":"oops","level":"error","code":null,"rendered":"error: oops\n  = help: call it with a string\n","children":[],"spans":[{"file_name":"/rustc/abc/library/core/src/macros/mod.rs","line_start":10,"column_start":5,"is_primary":true,"expansion":{"span":{"file_name":"src/main.rs","line_start":4,"column_start":9,"is_primary":false}}}]}}"#;
        let d = &read(out).diags[0];
        assert_eq!(
            d.locations,
            [
                Location::new(
                    "/rustc/abc/library/core/src/macros/mod.rs",
                    Some(10),
                    Some(5)
                ),
                Location::new("src/main.rs", Some(4), Some(9)),
            ]
        );
        assert_eq!(d.hint.as_deref(), Some("call it with a string"));
    }
}
