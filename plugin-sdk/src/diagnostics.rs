//! Reading rustc diagnostics from cargo's `--message-format=json` output
//! (`cargo build`, `cargo check`, `cargo clippy`, …).
//!
//! [`parse_cargo_json`] reads the whole stdout of such a command: one JSON
//! object per line, of which the `compiler-message` ones carry a rustc
//! [`Diagnostic`]. Lines that are not JSON (a build script's chatter, say) and
//! other `reason`s are skipped. The diagnostics come back as rustc printed
//! them, with nothing dropped or reworded: which levels count, which
//! summaries to drop and how to phrase hints is for the rule to decide.
//! Paths are as printed (relative to the cargo workspace root, or absolute);
//! [`tool_paths`](crate::tool_paths) maps them into the workspace.
//!
//! ```
//! use checkrail_sdk::diagnostics::{Level, parse_cargo_json};
//!
//! let stdout = r#"   Compiling demo v0.1.0
//! {"reason":"compiler-message","package_id":"path+file:///w#demo@0.1.0","manifest_path":"/w/Cargo.toml","message":{"message":"mismatched types","level":"error","code":{"code":"E0308"},"spans":[{"file_name":"src/lib.rs","line_start":6,"line_end":6,"column_start":41,"is_primary":true,"label":"expected `u32`, found `usize`"}],"children":[]}}
//! {"reason":"build-finished","success":false}"#;
//! let out = parse_cargo_json(stdout);
//! assert_eq!(out.build_success, Some(false));
//! assert_eq!(out.local_manifests, ["/w/Cargo.toml"]);
//! let d = &out.diagnostics[0];
//! assert_eq!(d.level, Level::Error);
//! assert_eq!(d.code.as_deref(), Some("E0308"));
//! assert_eq!(d.labelled(&d.message), "mismatched types: expected `u32`, found `usize`");
//! let span = d.primary_span().unwrap();
//! assert_eq!((span.file_name.as_str(), span.line_start, span.column_start), ("src/lib.rs", 6, 41));
//! ```

use serde::{Deserialize, Deserializer};

/// What a cargo `--message-format=json` stream said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CargoOutput {
    /// The rustc diagnostics (`compiler-message`), in order, duplicates
    /// included (cargo repeats a diagnostic for every target that shows it).
    pub diagnostics: Vec<Diagnostic>,
    /// Absolute manifest paths of the local (`path+file://`) packages cargo
    /// mentioned, each once, in order: they are inside the project, so they
    /// tell where its root is on the host (see
    /// [`resolve_with_root`](crate::tool_paths::resolve_with_root)).
    pub local_manifests: Vec<String>,
    /// `build-finished`'s `success`, when cargo printed it.
    pub build_success: Option<bool>,
}

/// How serious rustc said a diagnostic is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Level {
    /// `error`, or `error: internal compiler error`.
    Error,
    /// `warning`.
    Warning,
    /// `note`.
    Note,
    /// `help`.
    Help,
    /// `failure-note`, such as "For more information about this error, try …".
    FailureNote,
    /// Any other level, as printed.
    Other(String),
}

impl From<String> for Level {
    fn from(level: String) -> Self {
        match level.as_str() {
            "error" | "error: internal compiler error" => Level::Error,
            "warning" => Level::Warning,
            "note" => Level::Note,
            "help" => Level::Help,
            "failure-note" => Level::FailureNote,
            _ => Level::Other(level),
        }
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Level::from)
    }
}

/// One rustc diagnostic (or one of its children).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Diagnostic {
    /// The message, e.g. "mismatched types".
    pub message: String,
    /// Severity.
    pub level: Level,
    /// Error code (`E0308`) or lint name (`unused_variables`,
    /// `clippy::needless_return`).
    #[serde(default, deserialize_with = "code")]
    pub code: Option<String>,
    /// The places the diagnostic points at; see [`Diagnostic::primary_span`].
    #[serde(default)]
    pub spans: Vec<Span>,
    /// Attached `note`s and `help`s (the latter often with suggested
    /// replacements in their spans).
    #[serde(default)]
    pub children: Vec<Diagnostic>,
    /// The diagnostic as rustc renders it for a terminal, when given.
    #[serde(default)]
    pub rendered: Option<String>,
}

/// A place in a source file a diagnostic points at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Span {
    /// Path as printed: relative to the cargo workspace root, or absolute
    /// (other crates, the standard library), or a placeholder such as
    /// `<std macros>`.
    pub file_name: String,
    /// Byte offset of the start in the file.
    #[serde(default)]
    pub byte_start: u64,
    /// Byte offset of the end in the file (equal to `byte_start` for an
    /// insertion point).
    #[serde(default)]
    pub byte_end: u64,
    /// 1-based first line.
    pub line_start: u32,
    /// 1-based last line (0 when rustc did not say).
    #[serde(default)]
    pub line_end: u32,
    /// 1-based first column (in characters).
    pub column_start: u32,
    /// Whether this is the span the diagnostic is about.
    #[serde(default)]
    pub is_primary: bool,
    /// What rustc says about this place, e.g. "expected `u32`, found `usize`".
    #[serde(default)]
    pub label: Option<String>,
    /// The suggested code for this place (in a `help` child); empty to
    /// delete it.
    #[serde(default)]
    pub suggested_replacement: Option<String>,
    /// The source lines the span covers, with the highlighted columns.
    #[serde(default)]
    pub text: Vec<SpanText>,
    /// When the span is inside a macro expansion: the span of the macro's
    /// call site.
    #[serde(default, deserialize_with = "expansion")]
    pub expansion: Option<Box<Span>>,
}

/// One source line a [`Span`] covers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SpanText {
    /// The whole line.
    pub text: String,
    /// 1-based column (in characters) where the highlight starts.
    pub highlight_start: usize,
    /// 1-based column (in characters) just past the highlight.
    pub highlight_end: usize,
}

impl Diagnostic {
    /// The span marked primary, else the first span.
    pub fn primary_span(&self) -> Option<&Span> {
        self.spans
            .iter()
            .find(|s| s.is_primary)
            .or_else(|| self.spans.first())
    }

    /// `text` followed by `: <label>`, where label is the primary span's
    /// label, unless there is none, it is empty or `text` already contains
    /// it: "mismatched types: expected `u32`, found `usize`".
    pub fn labelled(&self, text: &str) -> String {
        match self.primary_span().and_then(|s| s.label.as_deref()) {
            Some(label) if !label.is_empty() && !text.contains(label) => {
                format!("{text}: {label}")
            }
            _ => text.to_owned(),
        }
    }

    /// The first `help:` line of [`rendered`](Self::rendered) (also the
    /// `= help:` form), trimmed; for diagnostics whose help is not a
    /// structured child.
    pub fn rendered_help(&self) -> Option<&str> {
        let rendered = self.rendered.as_deref()?;
        rendered.lines().find_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("= ").unwrap_or(line);
            let text = line.strip_prefix("help: ")?.trim();
            (!text.is_empty()).then_some(text)
        })
    }
}

impl Span {
    /// This span, then the call sites of the macros it was expanded from,
    /// innermost first.
    pub fn macro_backtrace(&self) -> impl Iterator<Item = &Span> {
        std::iter::successors(Some(self), |s| s.expansion.as_deref())
    }

    /// Whether the span is an insertion point (it covers no code).
    pub fn is_insertion(&self) -> bool {
        self.byte_start == self.byte_end
    }

    /// The code a one-line span covers, from its [`text`](Self::text); `None`
    /// for a multi-line span or when rustc did not include the line.
    pub fn highlighted_text(&self) -> Option<String> {
        if self.line_start != self.line_end || self.text.len() != 1 {
            return None;
        }
        let line = &self.text[0];
        let (start, end) = (line.highlight_start.max(1), line.highlight_end.max(1));
        if end < start {
            return None;
        }
        Some(
            line.text
                .chars()
                .skip(start - 1)
                .take(end - start)
                .collect(),
        )
    }
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

fn code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Code>::deserialize(deserializer)?.map(|c| c.code))
}

#[derive(Deserialize)]
struct Expansion {
    span: Span,
}

fn expansion<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Box<Span>>, D::Error> {
    Ok(Option::<Box<Expansion>>::deserialize(deserializer)?.map(|e| Box::new(e.span)))
}

#[derive(Deserialize)]
struct Line {
    reason: String,
    #[serde(default)]
    package_id: Option<String>,
    #[serde(default)]
    manifest_path: Option<String>,
    #[serde(default)]
    message: Option<Diagnostic>,
    #[serde(default)]
    success: Option<bool>,
}

/// Whether a package id names a local path package (`path+file:///…`, or the
/// pre-1.77 form `name 0.1.0 (path+file:///…)`).
fn is_local(package_id: &str) -> bool {
    package_id.starts_with("path+file://") || package_id.contains("(path+file://")
}

/// Reads the stdout of a cargo command run with `--message-format=json`.
/// Lines that are not JSON objects, or not ones cargo documents, are skipped.
pub fn parse_cargo_json(stdout: &str) -> CargoOutput {
    let mut out = CargoOutput::default();
    for line in stdout.lines() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        let Ok(line) = serde_json::from_str::<Line>(line) else {
            continue;
        };
        if let (Some(id), Some(manifest)) = (&line.package_id, &line.manifest_path)
            && is_local(id)
            && !out.local_manifests.contains(manifest)
        {
            out.local_manifests.push(manifest.clone());
        }
        match line.reason.as_str() {
            "compiler-message" => {
                if let Some(diagnostic) = line.message {
                    out.diagnostics.push(diagnostic);
                }
            }
            "build-finished" => out.build_success = line.success,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `cargo build --message-format=json` (rustc 1.95),
    /// trimmed of fields the parser does not read.
    const SAMPLE: &str = r#"{"reason":"compiler-artifact","package_id":"x","target":{"name":"x"}}
   Compiling demo v0.1.0 (not json)
{"reason":"compiler-message","package_id":"path+file:///tmp/rs#demo@0.1.0","manifest_path":"/tmp/rs/Cargo.toml","message":{"rendered":"error[E0308]: mismatched types\n --> src/lib.rs:6:41\n","$message_type":"diagnostic","children":[{"children":[],"code":null,"level":"help","message":"you can convert a `usize` to a `u32` and panic if the converted value doesn't fit","rendered":null,"spans":[{"byte_end":117,"byte_start":117,"column_end":48,"column_start":48,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":null,"line_end":6,"line_start":6,"suggested_replacement":".try_into().unwrap()","suggestion_applicability":"MachineApplicable","text":[]}]}],"code":{"code":"E0308","explanation":"..."},"level":"error","message":"mismatched types","spans":[{"byte_end":117,"byte_start":110,"column_end":48,"column_start":41,"expansion":null,"file_name":"src/lib.rs","is_primary":true,"label":"expected `u32`, found `usize`","line_end":6,"line_start":6,"suggested_replacement":null,"suggestion_applicability":null,"text":[]},{"byte_end":87,"byte_start":84,"column_end":18,"column_start":15,"expansion":null,"file_name":"src/lib.rs","is_primary":false,"label":"expected `u32` because of return type","line_end":6,"line_start":6,"suggested_replacement":null,"suggestion_applicability":null,"text":[]}]}}
{"reason":"compiler-message","package_id":"registry+https://github.com/rust-lang/crates.io-index#x@1.0.0","manifest_path":"/home/u/.cargo/registry/src/x-1.0.0/Cargo.toml","message":{"rendered":"For more information about this error, try `rustc --explain E0308`.\n","children":[],"code":null,"level":"failure-note","message":"For more information about this error, try `rustc --explain E0308`.","spans":[]}}
{"reason":"build-finished","success":false}
"#;

    #[test]
    fn reads_diagnostics_manifests_and_the_build_result() {
        let out = parse_cargo_json(SAMPLE);
        assert_eq!(out.build_success, Some(false));
        assert_eq!(out.local_manifests, ["/tmp/rs/Cargo.toml"]);
        assert_eq!(out.diagnostics.len(), 2);
        let error = &out.diagnostics[0];
        assert_eq!(error.level, Level::Error);
        assert_eq!(error.code.as_deref(), Some("E0308"));
        assert_eq!(
            error.labelled(&error.message),
            "mismatched types: expected `u32`, found `usize`"
        );
        let primary = error.primary_span().unwrap();
        assert_eq!((primary.line_start, primary.column_start), (6, 41));
        let help = &error.children[0];
        assert_eq!(help.level, Level::Help);
        let suggestion = &help.spans[0];
        assert!(suggestion.is_insertion());
        assert_eq!(
            suggestion.suggested_replacement.as_deref(),
            Some(".try_into().unwrap()")
        );
        assert_eq!(out.diagnostics[1].level, Level::FailureNote);
        assert_eq!(out.diagnostics[1].code, None);
    }

    #[test]
    fn macro_backtraces_highlights_and_rendered_help() {
        let out = parse_cargo_json(
            r#"{"reason":"compiler-message","message":{"message":"oops","level":"error: internal compiler error","code":null,"rendered":"error: oops\n  = help: call it with a string\n","children":[],"spans":[{"file_name":"/rustc/abc/library/core/src/macros/mod.rs","line_start":10,"column_start":5,"is_primary":true,"expansion":{"span":{"file_name":"src/main.rs","line_start":4,"line_end":4,"column_start":9,"is_primary":false,"text":[{"text":"    let x = y;","highlight_start":9,"highlight_end":10}]}}}]}}
not json {
{"reason":"compiler-message","message":{"message":"no level"}}"#,
        );
        assert_eq!(out.diagnostics.len(), 1);
        let d = &out.diagnostics[0];
        assert_eq!(d.level, Level::Error);
        assert_eq!(d.rendered_help(), Some("call it with a string"));
        let backtrace: Vec<&str> = d.spans[0]
            .macro_backtrace()
            .map(|s| s.file_name.as_str())
            .collect();
        assert_eq!(
            backtrace,
            ["/rustc/abc/library/core/src/macros/mod.rs", "src/main.rs"]
        );
        let call_site = d.spans[0].expansion.as_deref().unwrap();
        assert_eq!(call_site.highlighted_text().as_deref(), Some("x"));
        assert_eq!(d.spans[0].highlighted_text(), None);
        assert_eq!(
            Level::from("weird".to_owned()),
            Level::Other("weird".into())
        );
    }
}
