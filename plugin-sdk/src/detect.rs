//! What kind of project a directory holds, told by the files that mark it,
//! for rules whose config says `auto`. Markers are looked for in the
//! directory itself: `Cargo.toml`; `go.mod`; `package.json` (with
//! `tsconfig.json` for TypeScript); `pyproject.toml`, `setup.cfg`,
//! `setup.py`, `pytest.ini`, `tox.ini`; `CMakeLists.txt` or a `Makefile`
//! next to C sources. Without any, the sources below it decide. More than
//! one kind is refused, never guessed.
//!
//! ```no_run
//! # fn f(cx: &checkrail_sdk::Context) -> checkrail_sdk::Result<()> {
//! use checkrail_sdk::detect::{self, Project};
//! match detect::project(cx.workspace(), ".")? {
//!     Some(found) if found.project == Project::Rust => { /* run cargo */ }
//!     Some(found) => println!("{} project ({})", found.project, found.because),
//!     None => println!("nothing recognized"),
//! }
//! # Ok(())
//! # }
//! ```

pub mod js;

use crate::tool_paths;
use crate::{Error, Finding, Result, Workspace};

/// A kind of project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Project {
    /// A cargo package or workspace.
    Rust,
    /// A Go module.
    Go,
    /// A JavaScript package.
    JavaScript,
    /// A TypeScript package (`package.json` and `tsconfig.json`).
    TypeScript,
    /// A Python project.
    Python,
    /// C or C++ sources.
    C,
}

impl std::fmt::Display for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Project::Rust => "Rust",
            Project::Go => "Go",
            Project::JavaScript => "JavaScript",
            Project::TypeScript => "TypeScript",
            Project::Python => "Python",
            Project::C => "C",
        })
    }
}

/// What was found, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The kind of project.
    pub project: Project,
    /// The marker that told, e.g. `found Cargo.toml`.
    pub because: String,
}

/// The kind of project in `dir` (workspace-relative, `.` for the root).
/// `Ok(None)` when nothing marks one. Refused, rather than guessed, when
/// the directory marks more than one kind of project (say `Cargo.toml` and
/// `go.mod`), or holds no manifest but sources of more than one language,
/// or Rust or Go sources without their manifest: an agent could otherwise
/// add or remove a marker to switch the check to a toolchain with nothing
/// to judge.
pub fn project(ws: &Workspace, dir: &str) -> Result<Option<Detected>> {
    let at = |name: &str| tool_paths::join(dir, name).filter(|path| ws.exists(path));
    let any = |glob: &str| -> Result<Option<String>> {
        let Some(pattern) = tool_paths::join(dir, glob) else {
            return Ok(None);
        };
        Ok(ws.glob(&pattern, 1)?.into_iter().next())
    };
    let found = |project, what: String| Detected {
        project,
        because: format!("found {what}"),
    };
    let c_source = any("**/*.c")?;
    let mut marked = Vec::new();
    if at("Cargo.toml").is_some() {
        marked.push(found(Project::Rust, shown(dir, "Cargo.toml")));
    }
    if at("go.mod").is_some() {
        marked.push(found(Project::Go, shown(dir, "go.mod")));
    }
    if at("package.json").is_some() {
        marked.push(if at("tsconfig.json").is_some() {
            found(
                Project::TypeScript,
                shown(dir, "package.json and tsconfig.json"),
            )
        } else {
            found(Project::JavaScript, shown(dir, "package.json"))
        });
    }
    if let Some(marker) = [
        "pyproject.toml",
        "setup.cfg",
        "setup.py",
        "pytest.ini",
        "tox.ini",
    ]
    .into_iter()
    .find(|m| at(m).is_some())
    {
        marked.push(found(Project::Python, shown(dir, marker)));
    }
    if c_source.is_some()
        && let Some(marker) = ["CMakeLists.txt", "Makefile"]
            .into_iter()
            .find(|m| at(m).is_some())
    {
        marked.push(found(
            Project::C,
            format!("{} and C sources", shown(dir, marker)),
        ));
    }
    if marked.len() > 1 {
        return Err(several(dir, &marked));
    }
    if let Some(one) = marked.pop() {
        return Ok(Some(one));
    }
    // No manifest: the sources decide, when they are of one language that
    // needs none.
    let mut sources = Vec::new();
    for (project, glob) in [
        (Project::Rust, "**/*.rs"),
        (Project::Go, "**/*.go"),
        (Project::Python, "**/*.py"),
    ] {
        if let Some(file) = any(glob)? {
            sources.push(found(project, format!("{project} sources (`{file}`)")));
        }
    }
    if let Some(file) = c_source {
        sources.push(found(Project::C, format!("C sources (`{file}`)")));
    }
    if let Some(orphan) = sources
        .iter()
        .find(|d| matches!(d.project, Project::Rust | Project::Go))
    {
        let manifest = if orphan.project == Project::Rust {
            "Cargo.toml"
        } else {
            "go.mod"
        };
        return Err(Error::new(format!(
            "`auto` {} in `{dir}` but no {manifest}; restore it, or name the toolchain explicitly",
            orphan.because
        )));
    }
    if sources.len() > 1 {
        return Err(several(dir, &sources));
    }
    Ok(sources.pop())
}

/// The refusal for a directory that marks several kinds of project.
fn several(dir: &str, found: &[Detected]) -> Error {
    let list: Vec<String> = found
        .iter()
        .map(|d| format!("a {} project ({})", d.project, d.because))
        .collect();
    Error::new(format!(
        "`auto` cannot choose in `{dir}`: {}; name the toolchain explicitly (or point `cwd` at one project)",
        list.join(" and ")
    ))
}

/// `name` as seen from the workspace root, for messages.
fn shown(dir: &str, name: &str) -> String {
    if dir == "." || dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// The sentence a rule reports when `auto` recognized nothing.
pub fn nothing_found(field: &str, dir: &str) -> String {
    format!(
        "`{field}: auto` recognized no project in `{dir}`: no Cargo.toml, go.mod, package.json, pyproject.toml, setup.cfg, setup.py, pytest.ini or tox.ini, and no Python or C sources; set `{field}` explicitly"
    )
}

/// What a rule whose config says `<field>: auto` should run: detects the
/// project in `cwd` (workspace-relative, the root when `None`) and lets
/// `pick` map it to the rule's choice and the name to report. Returns the
/// choice and an information finding (code `detected`) saying what was
/// found; an error naming the project and `unsupported` (what to use
/// instead) when `pick` has nothing for it, or saying nothing was found.
pub fn choose<T>(
    ws: &Workspace,
    cwd: Option<&str>,
    field: &str,
    unsupported: &str,
    pick: impl Fn(Project) -> Option<(T, &'static str)>,
) -> Result<(T, Finding)> {
    let dir = match cwd {
        Some(cwd) => crate::normalize_path(cwd)
            .map_err(|_| Error::new(format!("use a workspace-relative `cwd` (not `{cwd}`)")))?,
        None => ".".to_owned(),
    };
    let Some(found) = project(ws, &dir)? else {
        return Err(Error::new(nothing_found(field, &dir)));
    };
    let Some((choice, name)) = pick(found.project) else {
        return Err(Error::new(format!(
            "`{field}: auto` {}: a {} project, which this rule does not handle yet; {unsupported}",
            found.because, found.project
        )));
    };
    let note = Finding::info(format!(
        "{field}: auto → {name} ({}, a {} project)",
        found.because, found.project
    ))
    .code("detected");
    Ok((choice, note))
}
