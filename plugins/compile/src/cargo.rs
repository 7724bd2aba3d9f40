//! Reading `cargo build --message-format=json` output.

use checkrail_sdk::diagnostics::{self, Diagnostic, Span};

use crate::diag::{Diag, Hint, Level, Loc, shorten};

/// Messages rustc and cargo print after the real diagnostics, counting them.
fn is_summary(message: &str) -> bool {
    let m = message.trim();
    m.starts_with("aborting due to")
        || m.starts_with("could not compile")
        || m.starts_with("For more information about")
        || (m.ends_with("emitted") && (m.contains(" warning") || m.contains(" error")))
}

/// The diagnostics in cargo's JSON output (one JSON object per line; other
/// lines and other `reason`s are skipped). Summary messages (errors without
/// a span such as "aborting due to 2 previous errors") are dropped unless
/// nothing else was found.
pub fn parse(stdout: &str) -> Vec<Diag> {
    let mut diags = Vec::new();
    let mut summaries = Vec::new();
    for message in diagnostics::parse_cargo_json(stdout).diagnostics {
        let level = match message.level {
            diagnostics::Level::Error => Level::Error,
            diagnostics::Level::Warning => Level::Warning,
            _ => continue,
        };
        let diag = diagnostic(level, &message);
        if message.spans.is_empty() && is_summary(&message.message) {
            summaries.push(diag);
        } else {
            diags.push(diag);
        }
    }
    if diags.is_empty() {
        summaries.retain(|d| d.level == Level::Error);
        return summaries;
    }
    diags
}

fn diagnostic(level: Level, message: &Diagnostic) -> Diag {
    let mut diag = Diag::new(level, message.labelled(message.message.trim()));
    if let Some(span) = message.primary_span().map(in_project) {
        diag = diag.at(
            &span.file_name,
            Some(span.line_start),
            Some(span.column_start),
        );
    }
    if let Some(code) = &message.code {
        diag = diag.code(code);
    }
    diag.hint = help(message);
    diag
}

/// For a span inside a macro expansion whose own file is not a project file
/// (std's macros, `<…>` pseudo-files), the outermost call site that is.
fn in_project(span: &Span) -> &Span {
    let project = |s: &Span| !s.file_name.starts_with('<') && !s.file_name.starts_with('/');
    span.macro_backtrace().find(|s| project(s)).unwrap_or(span)
}

/// rustc's first `help:` suggestion: from the structured children, else
/// from the rendered text.
fn help(message: &Diagnostic) -> Option<Hint> {
    if let Some(child) = message
        .children
        .iter()
        .find(|c| c.level == diagnostics::Level::Help)
    {
        let mut text = child.message.trim().to_owned();
        let suggestion = child
            .spans
            .iter()
            .find(|s| s.suggested_replacement.is_some());
        if let Some(span) = suggestion
            && let Some(replacement) = &span.suggested_replacement
        {
            let shown = shorten(replacement.trim_end(), 200);
            let action = if span.is_insertion() {
                format!("insert `{shown}`")
            } else if replacement.is_empty() {
                "remove the highlighted code".to_owned()
            } else {
                format!("replace with `{shown}`")
            };
            text = format!("{text}: {action}");
            return Some(Hint {
                text,
                at: Some(Loc {
                    file: span.file_name.clone(),
                    line: Some(span.line_start),
                    column: Some(span.column_start),
                }),
            });
        }
        if !text.is_empty() {
            return Some(Hint { text, at: None });
        }
    }
    message.rendered_help().map(|text| Hint {
        text: text.to_owned(),
        at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `cargo build --message-format=json` (rustc 1.95),
    /// trimmed of fields the rule does not read.
    const SAMPLE: &str = r#"{"reason":"compiler-artifact","package_id":"x","target":{"name":"x"}}
   Compiling demo v0.1.0 (not json)
{"reason":"compiler-message","package_id":"path+file:///tmp/rs#demo@0.1.0","message":{"rendered":"error[E0308]: mismatched types\n --> src/lib.rs:6:41\n","$message_type":"diagnostic","children":[{"children":[],"code":null,"level":"help","message":"you can convert a `usize` to a `u32` and panic if the converted value doesn't fit","rendered":null,"spans":[{"byte_end":117,"byte_start":117,"column_end":48,"column_start":48,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":6,"line_start":6,"suggested_replacement":".try_into().unwrap()","suggestion_applicability":"MachineApplicable","text":[]}]}],"code":{"code":"E0308","explanation":"..."},"level":"error","message":"mismatched types","spans":[{"byte_end":117,"byte_start":110,"column_end":48,"column_start":41,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":"expected `u32`, found `usize`","line_end":6,"line_start":6,"suggested_replacement":null,"suggestion_applicability":null,"text":[]},{"byte_end":87,"byte_start":84,"column_end":18,"column_start":15,"expansion":null,"file_name":"src/lib.rs","is_primary":false,"label":"expected `u32` because of return type","line_end":6,"line_start":6,"suggested_replacement":null,"suggestion_applicability":null,"text":[]}]}}
{"reason":"compiler-message","package_id":"path+file:///tmp/rs#demo@0.1.0","message":{"rendered":"warning: unused variable: `unused`\n --> src/lib.rs:2:9\n","children":[{"children":[],"code":null,"level":"note","message":"`#[warn(unused_variables)]` (part of `#[warn(unused)]`) on by default","rendered":null,"spans":[]},{"children":[],"code":null,"level":"help","message":"if this is intentional, prefix it with an underscore","rendered":null,"spans":[{"byte_end":22,"byte_start":16,"column_end":15,"column_start":9,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":2,"line_start":2,"suggested_replacement":"_unused","suggestion_applicability":"MaybeIncorrect","text":[]}]}],"code":{"code":"unused_variables","explanation":null},"level":"warning","message":"unused variable: `unused`","spans":[{"byte_end":22,"byte_start":16,"column_end":15,"column_start":9,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":2,"line_start":2,"suggested_replacement":null,"suggestion_applicability":null,"text":[]}]}}
{"reason":"compiler-message","package_id":"path+file:///tmp/rs#demo@0.1.0","message":{"rendered":"error: aborting due to 2 previous errors\n\n","children":[],"code":null,"level":"error","message":"aborting due to 2 previous errors","spans":[]}}
{"reason":"compiler-message","package_id":"path+file:///tmp/rs#demo@0.1.0","message":{"rendered":"For more information about this error, try `rustc --explain E0308`.\n","children":[],"code":null,"level":"failure-note","message":"For more information about this error, try `rustc --explain E0308`.","spans":[]}}
{"reason":"build-finished","success":false}
"#;

    #[test]
    fn reads_errors_and_warnings_with_codes_locations_and_help() {
        let diags = parse(SAMPLE);
        assert_eq!(diags.len(), 2, "{diags:#?}");
        let error = &diags[0];
        assert_eq!(error.level, Level::Error);
        assert_eq!(error.code.as_deref(), Some("E0308"));
        assert_eq!(
            error.message,
            "mismatched types: expected `u32`, found `usize`"
        );
        let loc = error.loc.as_ref().unwrap();
        assert_eq!(
            (loc.file.as_str(), loc.line, loc.column),
            ("src/lib.rs", Some(6), Some(41))
        );
        let hint = error.hint.as_ref().unwrap();
        assert_eq!(
            hint.text,
            "you can convert a `usize` to a `u32` and panic if the converted value doesn't fit: insert `.try_into().unwrap()`"
        );
        assert_eq!(hint.at.as_ref().unwrap().column, Some(48));

        let warning = &diags[1];
        assert_eq!(warning.level, Level::Warning);
        assert_eq!(warning.code.as_deref(), Some("unused_variables"));
        assert_eq!(
            warning.hint.as_ref().unwrap().text,
            "if this is intentional, prefix it with an underscore: replace with `_unused`"
        );
    }

    #[test]
    fn a_summary_alone_is_kept_so_a_failure_is_never_silent() {
        let only_summary = r#"{"reason":"compiler-message","message":{"message":"aborting due to 1 previous error","level":"error","spans":[],"children":[]}}"#;
        let diags = parse(only_summary);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].message, "aborting due to 1 previous error");
        assert!(diags[0].loc.is_none());
        let warnings_summary = r#"{"reason":"compiler-message","message":{"message":"2 warnings emitted","level":"warning","spans":[],"children":[]}}"#;
        assert!(parse(warnings_summary).is_empty());
    }

    #[test]
    fn spanless_errors_that_are_not_summaries_are_kept() {
        let out = r#"{"reason":"compiler-message","message":{"message":"linking with `cc` failed: exit status: 1","level":"error","spans":[],"children":[{"message":"some arguments are omitted","level":"note","spans":[],"children":[]}]}}
{"reason":"compiler-message","message":{"message":"aborting due to 1 previous error","level":"error","spans":[],"children":[]}}"#;
        let diags = parse(out);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.starts_with("linking with `cc` failed"));
    }

    #[test]
    fn macro_spans_point_at_the_call_site_and_rendered_help_is_a_fallback() {
        let out = r#"{"reason":"compiler-message","message":{"message":"oops","level":"error","code":null,"rendered":"error: oops\n  = help: call it with a string\n","children":[],"spans":[{"file_name":"/rustc/abc/library/core/src/macros/mod.rs","line_start":10,"column_start":5,"is_primary":true,"expansion":{"span":{"file_name":"src/main.rs","line_start":4,"column_start":9,"is_primary":false}}}]}}"#;
        let diags = parse(out);
        let loc = diags[0].loc.as_ref().unwrap();
        assert_eq!(
            (loc.file.as_str(), loc.line, loc.column),
            ("src/main.rs", Some(4), Some(9))
        );
        assert_eq!(
            diags[0].hint.as_ref().unwrap().text,
            "call it with a string"
        );
    }
}
