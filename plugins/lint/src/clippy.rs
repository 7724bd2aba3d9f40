//! `cargo clippy --message-format=json`: one JSON object per stdout line;
//! the `compiler-message` ones carry rustc diagnostics.

use checkrail_sdk::diagnostics::{self, Diagnostic, Span};

use crate::diag::{Diag, Level, Loc, clip};

/// What clippy's stdout said.
#[derive(Debug, Default)]
pub struct Parsed {
    pub diags: Vec<Diag>,
    /// Absolute manifest paths of local (`path+file://`) packages: they are
    /// inside the workspace, so they tell where its root is on the host.
    pub anchors: Vec<String>,
    /// `build-finished`'s `success`, when cargo printed it.
    pub build_success: Option<bool>,
}

/// Parses cargo's JSON message stream. Lines that are not JSON (a build
/// script's chatter, say) are skipped.
pub fn parse(stdout: &str) -> Parsed {
    let out = diagnostics::parse_cargo_json(stdout);
    let mut parsed = Parsed {
        diags: out.diagnostics.iter().filter_map(diagnostic).collect(),
        anchors: out.local_manifests,
        ..Parsed::default()
    };
    parsed.build_success = out.build_success;
    parsed
}

fn diagnostic(message: &Diagnostic) -> Option<Diag> {
    let level = match message.level {
        diagnostics::Level::Error => Level::Error,
        diagnostics::Level::Warning | diagnostics::Level::Note | diagnostics::Level::Help => {
            Level::Warning
        }
        // `failure-note` ("For more information about this error, try …").
        _ => return None,
    };
    if message.spans.is_empty() && is_summary(&message.message) {
        return None;
    }
    let mut locs: Vec<Loc> = message
        .primary_span()
        .into_iter()
        .flat_map(Span::macro_backtrace)
        .map(|s| Loc::new(&s.file_name, Some(s.line_start), Some(s.column_start)))
        .collect();
    // Placeholders such as `<std macros>` are never files.
    locs.retain(|l| !l.path.starts_with('<'));

    let code = message.code.clone();
    Some(Diag {
        level,
        hint: hint(message, code.as_deref()),
        code,
        locs,
        message: message.labelled(&message.message),
    })
}

/// rustc's closing lines: "aborting due to 2 previous errors", "1 warning emitted".
fn is_summary(text: &str) -> bool {
    text.starts_with("aborting due to") || text.ends_with(" emitted")
}

/// The `help:` children (with their suggested replacements) and the useful
/// notes, as one hint.
fn hint(message: &Diagnostic, code: Option<&str>) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut links: Vec<String> = Vec::new();
    for child in message
        .children
        .iter()
        .filter(|c| c.level == diagnostics::Level::Help)
    {
        let edits: Vec<String> = child
            .spans
            .iter()
            .filter_map(|s| {
                let replacement = s.suggested_replacement.as_deref()?;
                Some(edit(s, replacement))
            })
            .collect();
        if let Some(url) = child.message.strip_prefix("for further information visit ") {
            links.push(format!("see {url}"));
        } else if edits.is_empty() {
            parts.push(child.message.clone());
        } else {
            parts.push(format!("{}: {}", child.message, edits.join(", ")));
        }
    }
    for child in message
        .children
        .iter()
        .filter(|c| c.level == diagnostics::Level::Note)
    {
        let text = child.message.as_str();
        let boilerplate = text.contains("on by default")
            || text.starts_with("the lint level is defined here")
            || text.starts_with("requested on the command line");
        if !boilerplate {
            parts.push(format!("note: {text}"));
        }
    }
    parts.extend(links);
    if let Some(code) = code
        && is_rustc_error_code(code)
    {
        parts.push(format!("run `rustc --explain {code}` for details"));
    }
    if parts.is_empty() {
        return None;
    }
    Some(clip(&parts.join("; "), 1_500))
}

fn is_rustc_error_code(code: &str) -> bool {
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
        (Some(orig), false) => format!(
            "replace `{}` with `{}`",
            clip(orig, 80),
            clip(replacement, 120)
        ),
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

    /// Captured from `cargo clippy --message-format=json` (rust 1.95) on a
    /// crate with `#![deny(clippy::needless_return)]`, an unused variable
    /// (reported for the lib and again for its test target) and a summary.
    const SAMPLE: &str = r##"{"reason":"compiler-message","package_id":"path+file:///tmp/clippytest#demo@0.1.0","manifest_path":"/tmp/clippytest/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"demo","src_path":"/tmp/clippytest/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"message":{"rendered":"warning: unused variable: `unused`\n","$message_type":"diagnostic","children":[{"children":[],"code":null,"level":"note","message":"`#[warn(unused_variables)]` (part of `#[warn(unused)]`) on by default","rendered":null,"spans":[]},{"children":[],"code":null,"level":"help","message":"if this is intentional, prefix it with an underscore","rendered":null,"spans":[{"byte_end":74,"byte_start":68,"column_end":15,"column_start":9,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":3,"line_start":3,"suggested_replacement":"_unused","suggestion_applicability":"MachineApplicable","text":[{"highlight_end":15,"highlight_start":9,"text":"    let unused = 3;"}]}]}],"level":"warning","message":"unused variable: `unused`","spans":[{"byte_end":74,"byte_start":68,"column_end":15,"column_start":9,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":3,"line_start":3,"suggested_replacement":null,"suggestion_applicability":null,"text":[{"highlight_end":15,"highlight_start":9,"text":"    let unused = 3;"}]}],"code":{"code":"unused_variables","explanation":null}}}
{"reason":"compiler-message","package_id":"path+file:///tmp/clippytest#demo@0.1.0","manifest_path":"/tmp/clippytest/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"demo","src_path":"/tmp/clippytest/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"message":{"rendered":"error: unneeded `return` statement\n","$message_type":"diagnostic","children":[{"children":[],"code":null,"level":"help","message":"for further information visit https://rust-lang.github.io/rust-clippy/rust-1.95.0/index.html#needless_return","rendered":null,"spans":[]},{"children":[],"code":null,"level":"note","message":"the lint level is defined here","rendered":null,"spans":[{"byte_end":31,"byte_start":8,"column_end":32,"column_start":9,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":1,"line_start":1,"suggested_replacement":null,"suggestion_applicability":null,"text":[{"highlight_end":32,"highlight_start":9,"text":"#![deny(clippy::needless_return)]"}]}]},{"children":[],"code":null,"level":"help","message":"remove `return`","rendered":null,"spans":[{"byte_end":104,"byte_start":92,"column_end":17,"column_start":5,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":4,"line_start":4,"suggested_replacement":"x + 1","suggestion_applicability":"MachineApplicable","text":[{"highlight_end":17,"highlight_start":5,"text":"    return x + 1;"}]},{"byte_end":105,"byte_start":104,"column_end":18,"column_start":17,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":4,"line_start":4,"suggested_replacement":"","suggestion_applicability":"MachineApplicable","text":[{"highlight_end":18,"highlight_start":17,"text":"    return x + 1;"}]}]}],"level":"error","message":"unneeded `return` statement","spans":[{"byte_end":105,"byte_start":92,"column_end":18,"column_start":5,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":4,"line_start":4,"suggested_replacement":null,"suggestion_applicability":null,"text":[{"highlight_end":18,"highlight_start":5,"text":"    return x + 1;"}]}],"code":{"code":"clippy::needless_return","explanation":null}}}
{"reason":"compiler-message","package_id":"path+file:///tmp/clippytest#demo@0.1.0","manifest_path":"/tmp/clippytest/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"demo","src_path":"/tmp/clippytest/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"message":{"rendered":"warning: unused variable: `unused`\n","$message_type":"diagnostic","children":[{"children":[],"code":null,"level":"note","message":"`#[warn(unused_variables)]` (part of `#[warn(unused)]`) on by default","rendered":null,"spans":[]},{"children":[],"code":null,"level":"help","message":"if this is intentional, prefix it with an underscore","rendered":null,"spans":[{"byte_end":74,"byte_start":68,"column_end":15,"column_start":9,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":3,"line_start":3,"suggested_replacement":"_unused","suggestion_applicability":"MachineApplicable","text":[{"highlight_end":15,"highlight_start":9,"text":"    let unused = 3;"}]}]}],"level":"warning","message":"unused variable: `unused`","spans":[{"byte_end":74,"byte_start":68,"column_end":15,"column_start":9,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":3,"line_start":3,"suggested_replacement":null,"suggestion_applicability":null,"text":[{"highlight_end":15,"highlight_start":9,"text":"    let unused = 3;"}]}],"code":{"code":"unused_variables","explanation":null}}}
{"reason":"compiler-message","package_id":"path+file:///tmp/clippytest#demo@0.1.0","manifest_path":"/tmp/clippytest/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"demo","src_path":"/tmp/clippytest/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"message":{"rendered":"error: aborting due to 1 previous error; 1 warning emitted\n\n","$message_type":"diagnostic","children":[],"level":"error","message":"aborting due to 1 previous error; 1 warning emitted","spans":[],"code":null}}
{"reason":"build-finished","success":false}
"##;

    /// A type error (rustc E0308) and its `failure-note`.
    const COMPILE_ERROR: &str = r##"{"reason":"compiler-message","package_id":"path+file:///tmp/clippytest#demo@0.1.0","manifest_path":"/tmp/clippytest/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"demo","src_path":"/tmp/clippytest/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"message":{"rendered":"error[E0308]: mismatched types\n","$message_type":"diagnostic","children":[],"code":{"code":"E0308","explanation":"Expected type did not match the received type.\n"},"level":"error","message":"mismatched types","spans":[{"byte_end":232,"byte_start":229,"column_end":26,"column_start":23,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":"expected `i32`, found `&str`","line_end":12,"line_start":12,"suggested_replacement":null,"suggestion_applicability":null,"text":[{"highlight_end":26,"highlight_start":23,"text":"fn g() { let y: i32 = \"s\"; }"}]},{"byte_end":226,"byte_start":223,"column_end":20,"column_start":17,"expansion":null,"file_name":"src/lib.rs","is_primary":false,"label":"expected due to this","line_end":12,"line_start":12,"suggested_replacement":null,"suggestion_applicability":null,"text":[{"highlight_end":20,"highlight_start":17,"text":"fn g() { let y: i32 = \"s\"; }"}]}]}}
{"reason":"compiler-message","package_id":"path+file:///tmp/clippytest#demo@0.1.0","manifest_path":"/tmp/clippytest/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"demo","src_path":"/tmp/clippytest/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"message":{"rendered":"For more information about this error, try `rustc --explain E0308`.\n","$message_type":"diagnostic","children":[],"level":"failure-note","message":"For more information about this error, try `rustc --explain E0308`.","spans":[],"code":null}}
{"reason":"build-finished","success":false}
"##;

    #[test]
    fn parses_lints_with_levels_locations_and_hints() {
        let parsed = parse(SAMPLE);
        assert_eq!(parsed.build_success, Some(false));
        assert_eq!(parsed.anchors, ["/tmp/clippytest/Cargo.toml"]);
        // The summary is dropped; the duplicate is still here (the rule
        // de-duplicates across all parsers).
        assert_eq!(parsed.diags.len(), 3);
        let unused = &parsed.diags[0];
        assert_eq!(unused.level, Level::Warning);
        assert_eq!(unused.code.as_deref(), Some("unused_variables"));
        assert_eq!(unused.locs, [Loc::new("src/lib.rs", Some(3), Some(9))]);
        assert_eq!(
            unused.hint.as_deref(),
            Some(
                "if this is intentional, prefix it with an underscore: replace `unused` with `_unused`"
            )
        );
        assert_eq!(parsed.diags[0].key(), parsed.diags[2].key());

        let ret = &parsed.diags[1];
        assert_eq!(ret.level, Level::Error);
        assert_eq!(ret.code.as_deref(), Some("clippy::needless_return"));
        assert_eq!(ret.message, "unneeded `return` statement");
        assert_eq!(ret.locs, [Loc::new("src/lib.rs", Some(4), Some(5))]);
        assert_eq!(
            ret.hint.as_deref(),
            Some(
                "remove `return`: replace `return x + 1` with `x + 1`, delete `;`; \
                 see https://rust-lang.github.io/rust-clippy/rust-1.95.0/index.html#needless_return"
            )
        );
    }

    #[test]
    fn compile_errors_carry_their_label_and_explain_hint() {
        let parsed = parse(COMPILE_ERROR);
        assert_eq!(parsed.diags.len(), 1, "the failure-note is skipped");
        let d = &parsed.diags[0];
        assert_eq!(d.level, Level::Error);
        assert_eq!(d.code.as_deref(), Some("E0308"));
        assert_eq!(d.message, "mismatched types: expected `i32`, found `&str`");
        assert_eq!(d.locs[0], Loc::new("src/lib.rs", Some(12), Some(23)));
        assert_eq!(
            d.hint.as_deref(),
            Some("run `rustc --explain E0308` for details")
        );
    }

    #[test]
    fn macro_spans_fall_back_to_their_call_sites_and_junk_is_skipped() {
        let line = r##"{"reason":"compiler-message","package_id":"registry+https://github.com/rust-lang/crates.io-index#x@1.0.0","manifest_path":"/home/u/.cargo/registry/src/x-1.0.0/Cargo.toml","message":{"message":"boom","code":null,"level":"warning","children":[],"spans":[{"file_name":"/home/u/.cargo/registry/src/x-1.0.0/src/lib.rs","line_start":7,"line_end":7,"column_start":1,"column_end":4,"is_primary":true,"text":[],"expansion":{"span":{"file_name":"src/main.rs","line_start":2,"line_end":2,"column_start":5,"column_end":9,"is_primary":false,"text":[]}}}]}}"##;
        let text =
            format!("Compiling stuff\n{line}\nnot json {{\n{{\"reason\":\"compiler-artifact\"}}\n");
        let parsed = parse(&text);
        assert!(parsed.anchors.is_empty(), "registry packages are no anchor");
        assert_eq!(parsed.diags.len(), 1);
        assert_eq!(
            parsed.diags[0].locs,
            [
                Loc::new(
                    "/home/u/.cargo/registry/src/x-1.0.0/src/lib.rs",
                    Some(7),
                    Some(1)
                ),
                Loc::new("src/main.rs", Some(2), Some(5)),
            ]
        );
        assert_eq!(parsed.diags[0].code, None);
        assert_eq!(parsed.diags[0].hint, None);
    }
}
