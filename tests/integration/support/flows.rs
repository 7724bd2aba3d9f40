//! Workflows the tests share, so each scenario names what it needs.

/// `docs-flow`: a README must exist, then a CHANGELOG behind a human's
/// approval.
pub const DOCS_FLOW: &str = "id: docs-flow
version: 1.0.0
name: Docs flow
description: d
phases:
  - id: readme
    name: Readme
    guidance: write README.md
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [README.md] }
  - id: changelog
    name: Changelog
    guidance: write CHANGELOG.md
    checkpoint:
      rules:
        - rule: file-exists
          config: { paths: [CHANGELOG.md] }
      approval: { prompt: Ship it? }
  - id: done
    name: Done
    guidance: done
";

/// A workflow `id` whose one checked phase, `green`, runs the test rule
/// with `config` (a YAML flow mapping), then `done`.
pub fn green(id: &str, config: &str) -> String {
    format!(
        "id: {id}
version: 1.0.0
name: Green
description: d
phases:
  - id: green
    name: Green
    guidance: make the tests pass
    checkpoint:
      rules:
        - rule: test
          config: {config}
  - id: done
    name: Done
    guidance: done
"
    )
}
