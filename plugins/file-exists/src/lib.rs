//! `file-exists`: required paths and globs exist (optionally of a kind,
//! non-empty, or containing a pattern) and forbidden ones do not.
//!
//! Every path is looked at in one batched host call; a path that is absolute,
//! climbs out with `..`, or resolves through a symlink to outside the
//! workspace is reported, never followed.

use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::{
    Context, Entry, Error, Finding, Outcome, PathError, Result, Rule, Workspace, export_rule,
    normalize_path,
};
use regex_lite::Regex;

/// What must and must not exist in the workspace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Paths that must exist: a workspace-relative path, or an object that
    /// also asks for a kind, non-empty content or a pattern.
    #[serde(default)]
    pub paths: Vec<PathRule>,
    /// Globs (`tests/**/*.rs`) that must each match at least one path.
    #[serde(default)]
    pub globs: Vec<GlobRule>,
    /// Paths or globs that must not exist.
    #[serde(default)]
    pub absent: Vec<String>,
}

/// A required path.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(untagged)]
pub enum PathRule {
    /// Just the path.
    Path(String),
    /// The path and what else must hold for it.
    Detailed(PathSpec),
}

/// A required path with conditions.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    /// Workspace-relative path.
    pub path: String,
    /// What it must be.
    #[serde(default)]
    pub kind: Kind,
    /// A file must have content; a directory must have an entry.
    #[serde(default)]
    pub non_empty: bool,
    /// Regular expression(s) the file's text must contain a match for; with a
    /// list, every one must match.
    #[serde(default)]
    pub matches: Option<Patterns>,
}

/// One regular expression, or several that must all match.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(untagged)]
pub enum Patterns {
    /// A single pattern.
    One(String),
    /// Patterns that must all match.
    All(Vec<String>),
}

impl Patterns {
    fn list(&self) -> Vec<&str> {
        match self {
            Patterns::One(p) => vec![p.as_str()],
            Patterns::All(ps) => ps.iter().map(String::as_str).collect(),
        }
    }
}

/// A required glob.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(untagged)]
pub enum GlobRule {
    /// Just the glob; it must match at least one path.
    Glob(String),
    /// The glob and what else must hold for its matches.
    Detailed(GlobSpec),
}

/// A required glob with conditions.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct GlobSpec {
    /// Workspace-relative glob, e.g. `tests/*.rs`.
    pub glob: String,
    /// How many paths it must match at least.
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    pub min: u32,
    /// Every matched file must have content.
    #[serde(default)]
    pub non_empty: bool,
    /// Regular expression(s) every matched file's text must contain.
    #[serde(default)]
    pub matches: Option<Patterns>,
}

/// Kind of entry a required path must be.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// File or directory.
    #[default]
    Any,
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

fn one() -> u32 {
    1
}

/// Most paths one glob condition looks at.
const GLOB_LIMIT: u32 = 10_000;

/// The rule.
pub struct FileExists;

impl Rule for FileExists {
    type Config = Config;
    const ID: &'static str = "file-exists";
    const DESCRIPTION: &'static str = "Required paths and globs exist (optionally non-empty or matching a pattern); forbidden ones do not.";

    /// Every path and glob the config names, with what is under each (a
    /// directory must have an entry): the check looks at nothing else. A
    /// path with glob characters in it counts as the whole workspace.
    fn inputs(config: &Config) -> Vec<String> {
        let paths = config.paths.iter().map(|p| match p {
            PathRule::Path(path) => path.as_str(),
            PathRule::Detailed(spec) => spec.path.as_str(),
        });
        if paths
            .clone()
            .any(|p| p.contains(['*', '?', '[', ']', '{', '}']))
        {
            return vec!["**".to_owned()];
        }
        let globs = config.globs.iter().map(|g| match g {
            GlobRule::Glob(glob) => glob.as_str(),
            GlobRule::Detailed(spec) => spec.glob.as_str(),
        });
        let named = paths
            .chain(globs)
            .chain(config.absent.iter().map(String::as_str));
        let mut inputs = Vec::new();
        for name in named {
            let name = name.trim_end_matches('/');
            inputs.push(name.to_owned());
            inputs.push(format!("{name}/**"));
        }
        inputs
    }

    fn check(config: Config, cx: &Context) -> Result<Outcome> {
        let ws = cx.workspace();
        let mut findings = Vec::new();
        let mut checks = 0usize;

        let specs: Vec<PathSpec> = config.paths.into_iter().map(PathSpec::from).collect();
        let names: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
        for (spec, answer) in specs.iter().zip(ws.stat_many(&names)) {
            checks += 1;
            match answer {
                Ok(entry) => check_entry(ws, spec, &entry, &mut findings)?,
                Err(PathError::NotFound) => findings.push(missing(ws, spec)),
                Err(error) => findings.push(unusable(&spec.path, &error)),
            }
        }

        for rule in config.globs {
            checks += 1;
            let spec = GlobSpec::from(rule);
            if normalize_path(&spec.glob).is_err() {
                findings.push(unusable(&spec.glob, &PathError::OutsideWorkspace));
                continue;
            }
            let matched = ws.glob(&spec.glob, GLOB_LIMIT)?;
            if (matched.len() as u64) < u64::from(spec.min) {
                let needed = if spec.min == 1 {
                    "at least one is required".to_owned()
                } else {
                    format!("at least {} are required", spec.min)
                };
                findings.push(
                    Finding::error(format!(
                        "glob `{}` matches {} path{}; {needed}",
                        spec.glob,
                        matched.len(),
                        if matched.len() == 1 { "" } else { "s" }
                    ))
                    .fix_hint(format!("create a file whose path matches `{}`", spec.glob))
                    .code("glob-unmatched"),
                );
            }
            if spec.non_empty || spec.matches.is_some() {
                let names: Vec<&str> = matched.iter().map(String::as_str).collect();
                let file_spec = |path: &str| PathSpec {
                    path: path.to_owned(),
                    kind: Kind::Any,
                    non_empty: spec.non_empty,
                    matches: spec.matches.clone(),
                };
                for (path, answer) in matched.iter().zip(ws.stat_many(&names)) {
                    if let Ok(entry) = answer
                        && entry.is_file()
                    {
                        check_entry(ws, &file_spec(path), &entry, &mut findings)?;
                    }
                }
            }
        }

        for pattern in &config.absent {
            checks += 1;
            if normalize_path(pattern).is_err() {
                findings.push(unusable(pattern, &PathError::OutsideWorkspace));
                continue;
            }
            for path in ws.glob(pattern, 50)? {
                findings.push(
                    Finding::error(format!("`{path}` must not exist"))
                        .path(&path)
                        .fix_hint(format!("delete `{path}` from the workspace"))
                        .code("forbidden-path"),
                );
            }
        }

        let outcome = Outcome::from_findings(findings);
        Ok(if outcome.passed && outcome.findings.is_empty() {
            outcome.with_summary(if checks == 1 {
                "the path condition holds".to_owned()
            } else {
                format!("all {checks} path conditions hold")
            })
        } else {
            outcome
        })
    }
}

impl From<PathRule> for PathSpec {
    fn from(rule: PathRule) -> Self {
        match rule {
            PathRule::Path(path) => PathSpec {
                path,
                kind: Kind::Any,
                non_empty: false,
                matches: None,
            },
            PathRule::Detailed(spec) => spec,
        }
    }
}

impl From<GlobRule> for GlobSpec {
    fn from(rule: GlobRule) -> Self {
        match rule {
            GlobRule::Glob(glob) => GlobSpec {
                glob,
                min: 1,
                non_empty: false,
                matches: None,
            },
            GlobRule::Detailed(spec) => spec,
        }
    }
}

fn check_entry(
    ws: &Workspace,
    spec: &PathSpec,
    entry: &Entry,
    out: &mut Vec<Finding>,
) -> Result<()> {
    let path = spec.path.as_str();
    match spec.kind {
        Kind::File if !entry.is_file() => {
            out.push(
                Finding::error(format!(
                    "`{path}` must be a file but is {}",
                    describe(entry)
                ))
                .path(path)
                .fix_hint(format!("replace `{path}` with a regular file"))
                .code("wrong-kind"),
            );
            return Ok(());
        }
        Kind::Dir if !entry.is_dir() => {
            out.push(
                Finding::error(format!(
                    "`{path}` must be a directory but is {}",
                    describe(entry)
                ))
                .path(path)
                .fix_hint(format!("replace `{path}` with a directory"))
                .code("wrong-kind"),
            );
            return Ok(());
        }
        _ => {}
    }
    if spec.non_empty {
        let empty = if entry.is_dir() {
            ws.glob(&format!("{path}/*"), 1)?.is_empty()
        } else {
            entry.size == 0
        };
        if empty {
            out.push(
                Finding::error(format!("`{path}` is empty"))
                    .path(path)
                    .fix_hint(format!("give `{path}` its content"))
                    .code("empty"),
            );
        }
    }
    if let Some(patterns) = &spec.matches {
        if entry.is_dir() {
            out.push(
                Finding::error(format!(
                    "`{path}` is a directory, so it cannot contain text"
                ))
                .path(path)
                .code("wrong-kind"),
            );
            return Ok(());
        }
        let text = match ws.read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                out.push(unusable(path, &error));
                return Ok(());
            }
        };
        for pattern in patterns.list() {
            let regex = Regex::new(pattern).map_err(|e| {
                Error::new(format!("compile pattern `{pattern}` for `{path}`: {e}"))
            })?;
            if !regex.is_match(&text) {
                out.push(
                    Finding::error(format!("`{path}` has no match for the pattern `{pattern}`"))
                        .path(path)
                        .fix_hint(format!("add text to `{path}` that matches `{pattern}`"))
                        .code("pattern-missing"),
                );
            }
        }
    }
    Ok(())
}

fn describe(entry: &Entry) -> &'static str {
    match entry.kind {
        checkrail_sdk::EntryKind::File => "a file",
        checkrail_sdk::EntryKind::Directory => "a directory",
        checkrail_sdk::EntryKind::Symlink => "a dangling symlink",
        checkrail_sdk::EntryKind::Other => "a special file",
    }
}

fn missing(ws: &Workspace, spec: &PathSpec) -> Finding {
    let path = spec.path.as_str();
    let what = match spec.kind {
        Kind::Dir => "directory",
        Kind::File => "file",
        Kind::Any => "path",
    };
    let mut hint = format!("create the {what} `{path}`");
    if let Some(patterns) = &spec.matches {
        let list: Vec<String> = patterns.list().iter().map(|p| format!("`{p}`")).collect();
        hint.push_str(&format!(" with text matching {}", list.join(" and ")));
    }
    if let Some(near) = near_miss(ws, path) {
        hint = format!("{hint} (`{near}` exists: wrong case or name?)");
    }
    Finding::error(format!("required {what} `{path}` does not exist"))
        .path(path)
        .fix_hint(hint)
        .code("missing")
}

/// A sibling whose name differs only in case, which agents often get wrong.
fn near_miss(ws: &Workspace, path: &str) -> Option<String> {
    let normalized = normalize_path(path).ok()?;
    let (parent, name) = match normalized.rsplit_once('/') {
        Some((parent, name)) => (format!("{parent}/"), name.to_owned()),
        None => (String::new(), normalized.clone()),
    };
    let siblings = ws.glob(&format!("{parent}*"), 1_000).ok()?;
    siblings.into_iter().find(|sibling| {
        let sibling_name = sibling.rsplit('/').next().unwrap_or(sibling);
        sibling_name != name && sibling_name.eq_ignore_ascii_case(&name)
    })
}

fn unusable(path: &str, error: &PathError) -> Finding {
    match error {
        PathError::OutsideWorkspace => Finding::error(format!(
            "`{path}` leads outside the workspace (absolute, `..`, or a symlink out), so it was not checked"
        ))
        .path(path)
        .fix_hint("name a path inside the workspace, relative to its root, that does not climb out with `..` or through a symlink")
        .code("outside-workspace"),
        PathError::NotFound => Finding::error(format!("`{path}` does not exist"))
            .path(path)
            .code("missing"),
        PathError::Io(reason) => Finding::error(format!("could not look at `{path}`: {reason}"))
            .path(path)
            .code("unreadable"),
    }
}

export_rule!(FileExists);

#[cfg(test)]
mod tests {
    use super::*;
    use checkrail_sdk::serde_json::json;
    use checkrail_sdk::testing::TestWorkspace;

    fn codes(outcome: &Outcome) -> Vec<&str> {
        outcome
            .findings
            .iter()
            .filter_map(|f| f.code.as_deref())
            .collect()
    }

    #[test]
    fn reports_each_missing_path_by_name() {
        let ws = TestWorkspace::new().unwrap();
        ws.write("README.md", "# hi").unwrap();
        let out = ws
            .run::<FileExists>(json!({"paths": ["README.md", "LICENSE", "docs/guide.md"]}))
            .unwrap();
        assert!(!out.passed);
        let paths: Vec<_> = out
            .findings
            .iter()
            .filter_map(|f| f.path.as_deref())
            .collect();
        assert_eq!(paths, ["LICENSE", "docs/guide.md"]);
        assert_eq!(out.summary, "2 errors");
    }

    #[test]
    fn passes_when_everything_holds() {
        let ws = TestWorkspace::new().unwrap();
        ws.write("src/lib.rs", "pub fn f() {}").unwrap();
        ws.write("tests/a.rs", "#[test] fn t() {}").unwrap();
        let out = ws
            .run::<FileExists>(json!({
                "paths": [{"path": "src", "kind": "dir", "non_empty": true},
                          {"path": "src/lib.rs", "kind": "file", "matches": "pub fn \\w+"}],
                "globs": ["tests/*.rs"],
                "absent": ["*.log"]
            }))
            .unwrap();
        assert!(out.passed, "{out:?}");
        assert_eq!(out.summary, "all 4 path conditions hold");
        let one = ws
            .run::<FileExists>(json!({"paths": ["src/lib.rs"]}))
            .unwrap();
        assert_eq!(one.summary, "the path condition holds");
    }

    #[test]
    fn kind_empty_pattern_and_absent_violations() {
        let ws = TestWorkspace::new().unwrap();
        ws.write("empty.txt", "").unwrap();
        ws.write("Cargo.toml", "[package]\nedition = \"2021\"\n")
            .unwrap();
        ws.write("debug.log", "x").unwrap();
        ws.mkdir("emptydir").unwrap();
        let out = ws
            .run::<FileExists>(json!({
                "paths": [{"path": "empty.txt", "non_empty": true},
                          {"path": "Cargo.toml", "kind": "dir"},
                          {"path": "emptydir", "non_empty": true},
                          {"path": "Cargo.toml", "matches": ["edition = \"2024\"", "\\[package\\]"]}],
                "globs": [{"glob": "tests/*.rs", "min": 2}],
                "absent": ["*.log"]
            }))
            .unwrap();
        assert_eq!(
            codes(&out),
            [
                "empty",
                "wrong-kind",
                "empty",
                "pattern-missing",
                "glob-unmatched",
                "forbidden-path"
            ]
        );
        assert_eq!(
            out.findings.last().unwrap().path.as_deref(),
            Some("debug.log")
        );
    }

    #[test]
    fn escaping_paths_are_findings_not_followed() {
        let outside = TestWorkspace::new().unwrap();
        outside.write("secret.txt", "s").unwrap();
        let ws = TestWorkspace::new().unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), ws.path().join("link"))
            .unwrap();
        let escape = format!(
            "../{}/secret.txt",
            outside.path().file_name().unwrap().to_string_lossy()
        );
        let out = ws
            .run::<FileExists>(
                json!({"paths": ["/etc/passwd", escape, "link"], "absent": ["../*"]}),
            )
            .unwrap();
        assert_eq!(codes(&out), ["outside-workspace"; 4]);
    }

    #[test]
    fn a_missing_file_hint_names_its_patterns() {
        let ws = TestWorkspace::new().unwrap();
        let out = ws
            .run::<FileExists>(
                json!({"paths": [{"path": "README.md", "matches": ["^# ", "## Usage"]}]}),
            )
            .unwrap();
        assert_eq!(out.findings.len(), 1);
        let hint = out.findings[0].fix_hint.as_deref().unwrap();
        assert_eq!(
            hint,
            "create the path `README.md` with text matching `^# ` and `## Usage`"
        );
    }

    #[test]
    fn suggests_a_near_miss() {
        let ws = TestWorkspace::new().unwrap();
        ws.write("readme.md", "x").unwrap();
        let out = ws
            .run::<FileExists>(json!({"paths": ["README.md"]}))
            .unwrap();
        let hint = out.findings[0].fix_hint.as_deref().unwrap();
        assert!(hint.contains("`readme.md` exists"), "{hint}");
    }

    #[test]
    fn bad_pattern_is_an_error_naming_it() {
        let ws = TestWorkspace::new().unwrap();
        ws.write("a", "x").unwrap();
        let err = ws
            .run::<FileExists>(json!({"paths": [{"path": "a", "matches": "("}]}))
            .unwrap_err();
        assert!(
            err.to_string().contains("compile pattern `(` for `a`"),
            "{err}"
        );
    }
}
