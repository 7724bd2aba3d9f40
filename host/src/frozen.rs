//! Files that must not change: a snapshot (path → sha256) taken at one
//! moment, compared with the workspace later. Two uses:
//!
//! - **judging files**: files that change how a tool judges (`.cargo/config*`,
//!   `conftest.py`, linter settings, `checkrail.toml`), declared by each rule
//!   in `describe`; snapshotted when a session starts, so a mid-session change
//!   is a blocking finding until a human accepts it;
//! - **frozen paths**: a checkpoint's `frozen: { since, paths, allow_new }`;
//!   the matching files are snapshotted when phase `since` passes.
//!
//! Snapshots deliberately ignore `.gitignore`: an ignored `conftest.py` still
//! changes what pytest does. Only build output and VCS data are skipped.
//!
//! A glob may name only some tables of a TOML file after a `#`
//! (`**/Cargo.toml#lib,test,package.build`): a manifest is edited for good
//! reasons (a new dependency), but its test targets and build script decide
//! what a test run compiles. Such a file is recorded as `<path>#<tables>`,
//! with the digest of those tables alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use checkrail_sandbox::{EntryKind, NativeWorkspace, is_wild};
use checkrail_sdk::Finding;
use sha2::{Digest, Sha256};

use crate::cache::fingerprints::{Fingerprint, SKIPPED_DIRS};

/// Most files one snapshot records.
pub(crate) const MAX_FILES: usize = 10_000;

/// Files and their content hashes.
pub type Snapshot = BTreeMap<String, String>;

/// The files under `root` matching any of `globs`, with their sha256.
pub fn snapshot(root: &Path, globs: &[String]) -> Snapshot {
    snapshot_skipping(root, globs, SKIPPED_DIRS, false)
}

/// VCS data: never a file a rule reads.
const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn"];

/// [`snapshot`] into build output and tool caches too (only VCS data is
/// skipped), directories included: what a rule names as its inputs may live
/// there (a coverage report under `target/`), or be a directory that must
/// exist.
pub fn snapshot_everywhere(root: &Path, globs: &[String]) -> Snapshot {
    snapshot_skipping(root, globs, VCS_DIRS, true)
}

/// The paths under the opened workspace `ws` matching any of `globs`,
/// without descending into `skipped`, each once: one walk for them all,
/// or, when that walk fails (a workspace past the visit budget), each
/// glob on its own, so one that cannot be walked leaves the others.
fn matching(ws: &NativeWorkspace, globs: &[String], skipped: &[&str]) -> Vec<String> {
    match ws.glob_all_skipping(globs, MAX_FILES, skipped, &mut || false) {
        Ok((found, refused)) => {
            for problem in refused {
                tracing::debug!("glob skipped: {problem}");
            }
            found
        }
        Err(problem) => {
            tracing::debug!("globs walked one by one: {problem}");
            let mut seen = std::collections::BTreeSet::new();
            globs
                .iter()
                .filter_map(|glob| {
                    ws.glob_skipping(glob, MAX_FILES, skipped, &mut || false)
                        .ok()
                })
                .flatten()
                .filter(|path| seen.insert(path.clone()))
                .collect()
        }
    }
}

/// A glob's file part and the TOML tables it names after `#`, if any.
pub fn split_tables(glob: &str) -> (&str, Option<&str>) {
    match glob.split_once('#') {
        Some((pattern, tables)) => (pattern, Some(tables)),
        None => (glob, None),
    }
}

/// The file parts of `globs` (see [`split_tables`]), each once.
fn file_globs(globs: &[String]) -> Vec<String> {
    let mut files: Vec<String> = Vec::with_capacity(globs.len());
    for glob in globs {
        let pattern = split_tables(glob).0;
        if !files.iter().any(|f| f == pattern) {
            files.push(pattern.to_owned());
        }
    }
    files
}

/// The sha256 of the tables `tables` (comma-separated dotted keys) of the
/// TOML text `bytes`, an absent one as null; of the bytes themselves when
/// they are not TOML (then every change counts).
pub(crate) fn tables_digest(bytes: &[u8], tables: &str) -> String {
    let parsed = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok());
    let Some(parsed) = parsed else {
        return hex::encode(Sha256::digest(bytes));
    };
    let picked: BTreeMap<&str, Option<&toml::Value>> = tables
        .split(',')
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(|key| {
            let mut parts = key.split('.');
            let first = parts.next().and_then(|k| parsed.get(k));
            (key, parts.try_fold(first, |v, k| Some(v?.get(k))).flatten())
        })
        .collect();
    let text = serde_json::to_string(&picked).unwrap_or_default();
    format!("tables:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// Where globs are matched: relative ones in the workspace; an absolute
/// one (an interpreter's site directory, see
/// `toolchains::interpreter_globs`) under its longest directory before a
/// pattern character, its files recorded by absolute path. Each place with
/// its directory, the prefix of its keys and its globs.
fn places(root: &Path, globs: &[String]) -> Vec<(PathBuf, String, Vec<String>)> {
    let mut places: Vec<(PathBuf, String, Vec<String>)> = Vec::new();
    for glob in globs {
        let (base, prefix, pattern) = if glob.starts_with('/') {
            let parts: Vec<&str> = glob.split('/').collect();
            let literal = parts
                .iter()
                .take_while(|p| !is_wild(p))
                .count()
                .min(parts.len() - 1);
            let base = parts[..literal].join("/");
            let base = if base.is_empty() {
                "/".to_owned()
            } else {
                base
            };
            let prefix = format!("{}/", base.trim_end_matches('/'));
            (PathBuf::from(base), prefix, parts[literal..].join("/"))
        } else {
            (root.to_owned(), String::new(), glob.clone())
        };
        match places.iter_mut().find(|(b, _, _)| *b == base) {
            Some(place) => place.2.push(pattern),
            None => places.push((base, prefix, vec![pattern])),
        }
    }
    places
}

fn snapshot_skipping(root: &Path, globs: &[String], skipped: &[&str], dirs: bool) -> Snapshot {
    snapshot_in(root, globs, (skipped, dirs), None)
}

/// The snapshot of `globs` in each of their places; those in the
/// workspace matched against `listing` when given.
fn snapshot_in(
    root: &Path,
    globs: &[String],
    (skipped, dirs): (&[&str], bool),
    listing: Option<&Listing>,
) -> Snapshot {
    let mut files = Snapshot::new();
    for (base, prefix, globs) in places(root, globs) {
        let Ok(ws) = NativeWorkspace::open(&base) else {
            continue;
        };
        // Only a glob with a wildcard is matched against the listing (a
        // plain path is looked up), so only such a glob asks for the walk.
        let listed = listing
            .filter(|_| base == root && globs.iter().any(|glob| is_wild(glob)))
            .and_then(|listing| listing.paths(&ws));
        record_matching(&ws, &prefix, &globs, (skipped, dirs, listed), &mut files);
    }
    files
}

/// Most paths a [`Listing`] holds; a bigger workspace is walked per
/// snapshot.
const LISTING_MAX: usize = 200_000;

/// The workspace's paths outside [`SKIPPED_DIRS`], walked once for the
/// [`snapshot`]s of one checkpoint run (each rule's judging files, the
/// session's, the frozen paths, cargo's overrides: each was a walk of its
/// own). It serves only while no rule of the run has started: a rule may
/// write files, and a snapshot after that walks again
/// ([`Listing::rule_started`]). A run whose rules all come from the cache
/// walks once.
pub struct Listing {
    root: std::path::PathBuf,
    paths: std::sync::OnceLock<Option<Vec<String>>>,
    stale: std::sync::atomic::AtomicBool,
}

impl Listing {
    /// A listing of `root`, walked when first used.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
            paths: std::sync::OnceLock::new(),
            stale: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A rule is about to run: from now on snapshots walk again.
    pub fn rule_started(&self) {
        self.stale.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// [`snapshot`], from the listing while it serves.
    pub fn snapshot(&self, globs: &[String]) -> Snapshot {
        if self.stale.load(std::sync::atomic::Ordering::SeqCst) {
            return snapshot(&self.root, globs);
        }
        snapshot_in(&self.root, globs, (SKIPPED_DIRS, false), Some(self))
    }

    fn paths(&self, ws: &NativeWorkspace) -> Option<&[String]> {
        self.paths
            .get_or_init(|| {
                ws.list_skipping(LISTING_MAX, SKIPPED_DIRS, &mut || false)
                    .inspect_err(|e| tracing::debug!("snapshots walk one by one: {e}"))
                    .ok()
            })
            .as_deref()
    }
}

/// Adds what `globs` match in `ws` to `files`, keyed `prefix` + path.
fn record_matching(
    ws: &NativeWorkspace,
    prefix: &str,
    globs: &[String],
    (skipped, dirs, listed): (&[&str], bool, Option<&[String]>),
    files: &mut Snapshot,
) {
    let matching = |globs: &[String], skipped: &[&str]| match listed {
        Some(listing) => match ws.glob_all_listed(listing, globs, MAX_FILES) {
            Ok((found, _)) => found,
            Err(_) => matching(ws, globs, skipped),
        },
        None => matching(ws, globs, skipped),
    };
    let (sectioned, whole): (Vec<&String>, Vec<&String>) =
        globs.iter().partition(|g| split_tables(g).1.is_some());
    for glob in sectioned {
        let (pattern, Some(tables)) = split_tables(glob) else {
            continue;
        };
        for path in matching(&[pattern.to_owned()], skipped) {
            if let Ok(bytes) = ws.read(&path) {
                let digest = tables_digest(&bytes, tables);
                files.insert(format!("{prefix}{path}#{tables}"), digest);
            }
        }
    }
    let whole: Vec<String> = whole.into_iter().cloned().collect();
    for path in matching(&whole, skipped) {
        let kind = || ws.stat(&path).ok().map(|e| e.kind);
        let hash = match ws.read(&path) {
            Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
            // A FIFO, socket or device is never read (it could block);
            // it is recorded by kind, so appearing or going still counts.
            Err(_) if kind() == Some(EntryKind::Other) => "special file, not read".to_owned(),
            Err(_) if dirs && kind() == Some(EntryKind::Directory) => "directory".to_owned(),
            Err(_) => continue,
        };
        files.insert(format!("{prefix}{path}"), hash);
    }
}

/// Whether `glob` matches any file a [`snapshot`] would record, without
/// reading one.
pub fn matches_any(root: &Path, glob: &str) -> bool {
    let pattern = split_tables(glob).0.to_owned();
    places(root, &[pattern])
        .into_iter()
        .any(|(base, _, globs)| {
            NativeWorkspace::open(&base)
                .is_ok_and(|ws| !matching(&ws, &globs, SKIPPED_DIRS).is_empty())
        })
}

/// Files and how they stand on disk: size, modification and change times,
/// inode.
pub(crate) type Stats = BTreeMap<String, Fingerprint>;

/// The files under `root` matching any of `globs` (only VCS data skipped),
/// with their fingerprints, read without reading the files. Taken before
/// and after a check, it shows any write in between, even one undone with
/// the same content: every write moves a file's change time, which no one
/// can set back.
pub(crate) fn stats(root: &Path, globs: &[String]) -> Stats {
    let mut stats = Stats::new();
    for (base, prefix, globs) in places(root, &file_globs(globs)) {
        let Ok(ws) = NativeWorkspace::open(&base) else {
            continue;
        };
        for path in matching(&ws, &globs, VCS_DIRS) {
            if let Ok(meta) = std::fs::symlink_metadata(base.join(&path)) {
                stats.insert(format!("{prefix}{path}"), Fingerprint::of(&meta));
            }
        }
    }
    stats
}

/// The paths whose entry differs between `before` and `after` (changed,
/// gone or new), in order.
pub fn changed_paths<V: PartialEq>(
    before: &BTreeMap<String, V>,
    after: &BTreeMap<String, V>,
) -> Vec<String> {
    let mut changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .cloned()
        .collect();
    changed.sort();
    changed.dedup();
    changed
}

/// The artifacts a phase produced: each file matching `globs`, with its
/// size and sha256 (`path → {size, sha256}`).
pub fn artifacts(root: &Path, globs: &[String]) -> serde_json::Map<String, serde_json::Value> {
    let hashes = snapshot(root, globs);
    hashes
        .into_iter()
        .map(|(path, sha256)| {
            let size = std::fs::symlink_metadata(root.join(&path)).map_or(0, |m| m.len());
            (path, serde_json::json!({ "size": size, "sha256": sha256 }))
        })
        .collect()
}

/// Recorded artifacts as a snapshot to compare with (`path → sha256`).
pub fn artifact_snapshot(recorded: &serde_json::Value) -> Snapshot {
    recorded
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(path, file)| Some((path.clone(), file["sha256"].as_str()?.to_owned())))
        .collect()
}

/// A glob that matches exactly `path` (its special characters escaped).
pub fn literal_glob(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            '*' | '?' | '[' | ']' | '{' | '}' => format!("[{c}]"),
            c => c.to_string(),
        })
        .collect()
}

/// Programs that run a script named by their first argument that is not
/// an option: the script judges as much as the program does.
const INTERPRETERS: &[&str] = &[
    "python", "python3", "node", "deno", "bun", "bash", "sh", "ruby", "perl", "php", "Rscript",
];

/// Workspace files a rule use's own command runs (`command: {program,
/// args}`, as the benchmark, test, coverage, lint and compile rules take):
/// the program itself when it is a workspace file, and the script an
/// interpreter runs. A benchmark script that prints a better number judges
/// the change as surely as a test does, whatever the workflow's frozen
/// globs say. As literal globs.
pub fn command_scripts(root: &Path, config: &serde_json::Value) -> Vec<String> {
    let Some(command) = config.get("command") else {
        return Vec::new();
    };
    let program = command.get("program").and_then(|p| p.as_str());
    let args: Vec<&str> = command
        .get("args")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str())
        .collect();
    let interpreted = program
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .is_some_and(|name| {
            INTERPRETERS.iter().any(|i| {
                name == *i
                    || name
                        .strip_prefix(i)
                        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
            })
        });
    let script = interpreted
        .then(|| args.iter().find(|a| !a.starts_with('-')).copied())
        .flatten();
    program
        .into_iter()
        .chain(script)
        .filter(|path| workspace_file(root, path))
        .map(|path| literal_glob(path.trim_start_matches("./")))
        .collect()
}

/// The modules the workspace's `conftest.py` files load as pytest plugins
/// (`pytest_plugins = ["helpers.fixtures", …]`), as literal globs of the
/// files that hold them: test support code that runs with every test, so
/// it judges as much as the conftest that names it. Empty unless `globs`
/// (a session's judging globs) cover `conftest.py`.
pub fn pytest_plugin_files(root: &Path, globs: &[String]) -> Vec<String> {
    if !globs.iter().any(|g| g.ends_with("conftest.py")) {
        return Vec::new();
    }
    let conftests = snapshot(
        root,
        &["conftest.py".to_owned(), "**/conftest.py".to_owned()],
    );
    let mut files = Vec::new();
    for path in conftests.keys() {
        let Ok(text) = std::fs::read_to_string(root.join(path)) else {
            continue;
        };
        for module in plugin_modules(&text) {
            let stem = module.replace('.', "/");
            for candidate in [format!("{stem}.py"), format!("{stem}/__init__.py")] {
                if workspace_file(root, &candidate) {
                    files.push(literal_glob(&candidate));
                }
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

/// The Go test files that define `TestMain` (it runs before every test of
/// its package and decides whether they run and how the binary exits), as
/// literal globs: test support code, judged like a `conftest.py`. Empty
/// unless the workspace is a Go module (`go.mod` at its root).
pub fn go_test_main_files(root: &Path) -> Vec<String> {
    if !root.join("go.mod").is_file() {
        return Vec::new();
    }
    let Ok(ws) = NativeWorkspace::open(root) else {
        return Vec::new();
    };
    let mut files: Vec<String> = matching(&ws, &["**/*_test.go".to_owned()], SKIPPED_DIRS)
        .into_iter()
        .filter(|path| {
            ws.read(path).is_ok_and(|bytes| {
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .any(|l| l.starts_with("func TestMain("))
            })
        })
        .map(|path| literal_glob(&path))
        .collect();
    files.sort();
    files
}

/// The module names a `pytest_plugins = …` assignment lists: the quoted
/// strings from the `=` to the closing bracket (or the line's end, for a
/// single string).
fn plugin_modules(text: &str) -> Vec<String> {
    let mut modules = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("pytest_plugins") {
        rest = &rest[at + "pytest_plugins".len()..];
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let end = if value.trim_start().starts_with(['[', '(']) {
            value.find([']', ')']).unwrap_or(value.len())
        } else {
            value.find('\n').unwrap_or(value.len())
        };
        for quote in ['"', '\''] {
            modules.extend(
                value[..end]
                    .split(quote)
                    .skip(1)
                    .step_by(2)
                    .filter(|m| {
                        !m.is_empty()
                            && m.chars()
                                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
                    })
                    .map(str::to_owned),
            );
        }
    }
    modules
}

/// Whether `path` names a file inside the workspace (relative, not
/// climbing out).
fn workspace_file(root: &Path, path: &str) -> bool {
    let relative = Path::new(path);
    relative.is_relative()
        && relative.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
        && root.join(relative).is_file()
}

/// How a file differs from its snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Its content changed.
    Changed(String),
    /// It is gone.
    Deleted(String),
    /// It is new.
    Added(String),
}

/// What changed between `before` and `now`; new files only when
/// `report_new`.
pub fn compare(before: &Snapshot, now: &Snapshot, report_new: bool) -> Vec<Change> {
    let mut changes = Vec::new();
    for (path, hash) in before {
        match now.get(path) {
            None => changes.push(Change::Deleted(path.clone())),
            Some(h) if h != hash => changes.push(Change::Changed(path.clone())),
            Some(_) => {}
        }
    }
    if report_new {
        for path in now.keys().filter(|p| !before.contains_key(*p)) {
            changes.push(Change::Added(path.clone()));
        }
    }
    changes
}

/// Findings for changed judging files.
pub fn judging_findings(changes: &[Change], session: &str) -> Vec<Finding> {
    let hint = format!(
        "restore it as it was; if the change is intended, a human accepts it with `checkrail session accept-changes {session}`"
    );
    changes
        .iter()
        .map(|change| {
            let (path, what) = match change {
                Change::Changed(p) => (p, "was changed"),
                Change::Deleted(p) => (p, "was deleted"),
                Change::Added(p) => (p, "was added"),
            };
            let (file, tables) = split_tables(path);
            let named = match tables {
                Some(tables) => format!("The `{tables}` tables of `{file}`"),
                None => format!("`{file}`"),
            };
            let what = match (tables, change) {
                (Some(_), Change::Changed(_)) => "were changed",
                (Some(_), _) => "were added or removed with their file",
                (None, _) => what,
            };
            Finding::error(format!(
                "{named} {what} since the session started (or since a human last allowed the workspace with `checkrail allow`); it changes how the tools judge the work, so it is frozen"
            ))
            .path(file.to_owned())
            .fix_hint(hint.clone())
            .code("judging-file-changed")
        })
        .collect()
}

/// Findings for changed frozen paths.
pub fn frozen_findings(changes: &[Change], since: &str) -> Vec<Finding> {
    changes
        .iter()
        .map(|change| {
            let (path, what, hint) = match change {
                Change::Changed(p) => (p, "was changed", "restore it as it was"),
                Change::Deleted(p) => (p, "was deleted", "restore it"),
                Change::Added(p) => (
                    p,
                    "was added",
                    "remove it; this checkpoint allows no new files there",
                ),
            };
            Finding::error(format!(
                "`{path}` {what}; it is frozen since phase `{since}` passed"
            ))
            .path(path.clone())
            .fix_hint(format!("{hint} (frozen since phase `{since}`)"))
            .code("frozen-file-changed")
        })
        .collect()
}

/// Cargo settings in the workspace that replace how cargo runs or
/// compiles (`runner`, `rustc-wrapper`, `rustc`): each is a warning outside
/// a session, where nothing is frozen.
pub fn cargo_overrides(listing: &Listing) -> Vec<Finding> {
    let root = listing.root.as_path();
    let mut findings = Vec::new();
    let files = listing.snapshot(&[
        "**/.cargo/config".to_owned(),
        "**/.cargo/config.toml".to_owned(),
        ".cargo/config".to_owned(),
        ".cargo/config.toml".to_owned(),
    ]);
    for path in files.keys() {
        let Ok(text) = std::fs::read_to_string(root.join(path)) else {
            continue;
        };
        let Ok(value) = text.parse::<toml::Table>() else {
            continue;
        };
        let mut found = Vec::new();
        if let Some(build) = value.get("build").and_then(|b| b.as_table()) {
            for key in ["rustc-wrapper", "rustc", "rustc-workspace-wrapper"] {
                if build.contains_key(key) {
                    found.push(format!("[build] {key}"));
                }
            }
        }
        if let Some(targets) = value.get("target").and_then(|t| t.as_table()) {
            for (name, target) in targets {
                if target.get("runner").is_some() {
                    found.push(format!("[target.{name}] runner"));
                }
            }
        }
        for setting in found {
            findings.push(
                Finding::warning(format!(
                    "`{path}` sets {setting}: cargo will run or compile through a program of the workspace's choosing, so test and build results may not be what they seem"
                ))
                .path(path.clone())
                .fix_hint("remove the override unless you put it there on purpose; inside a session such files are frozen")
                .code("cargo-override"),
            );
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_judges_by_the_tables_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = |extra: &str| {
            let text = format!(
                "[package]\nname = \"calc\"\nversion = \"0.1.0\"\n{extra}\n[dependencies]\n"
            );
            std::fs::write(dir.path().join("Cargo.toml"), text).unwrap();
        };
        let globs = vec!["Cargo.toml#lib,test,package.build".to_owned()];
        manifest("");
        let before = snapshot(dir.path(), &globs);
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            ["Cargo.toml#lib,test,package.build"]
        );
        // A dependency, a version: not what the tests compile.
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"calc\"\nversion = \"0.2.0\"\n\n[dependencies]\nserde = \"1\"\n",
        )
        .unwrap();
        assert!(compare(&before, &snapshot(dir.path(), &globs), true).is_empty());
        // The library moved to another file, a build script added.
        for shadow in ["[lib]\npath = \"src/fake.rs\"", "build = \"gen.rs\""] {
            manifest(shadow);
            let changes = compare(&before, &snapshot(dir.path(), &globs), true);
            assert_eq!(changes.len(), 1, "{shadow}");
            let finding = &judging_findings(&changes, "s1")[0];
            assert_eq!(finding.path.as_deref(), Some("Cargo.toml"));
            assert!(finding.message.contains("`lib,test,package.build` tables"));
        }
        // The watch sees the file itself.
        assert_eq!(
            stats(dir.path(), &globs).keys().collect::<Vec<_>>(),
            ["Cargo.toml"]
        );
        assert!(matches_any(dir.path(), &globs[0]));
    }

    #[test]
    fn a_go_test_main_is_a_judging_file() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        };
        write(
            "calc/calc_test.go",
            "package calc\n\nfunc TestAdd(t *testing.T) {}\n",
        );
        write(
            "calc/main_test.go",
            "package calc\n\nfunc TestMain(m *testing.M) {\n\tos.Exit(0)\n}\n",
        );
        assert!(go_test_main_files(dir.path()).is_empty(), "not a Go module");
        write("go.mod", "module example.com/calc\n");
        assert_eq!(go_test_main_files(dir.path()), ["calc/main_test.go"]);
    }

    #[test]
    fn changes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("tests/a.py"), "1").unwrap();
        std::fs::write(dir.path().join("tests/b.py"), "2").unwrap();
        let globs = vec!["tests/**".to_owned()];
        let before = snapshot(dir.path(), &globs);
        assert_eq!(before.len(), 2);
        std::fs::write(dir.path().join("tests/a.py"), "changed").unwrap();
        std::fs::remove_file(dir.path().join("tests/b.py")).unwrap();
        std::fs::write(dir.path().join("tests/c.py"), "new").unwrap();
        let now = snapshot(dir.path(), &globs);
        assert_eq!(
            compare(&before, &now, true),
            [
                Change::Changed("tests/a.py".into()),
                Change::Deleted("tests/b.py".into()),
                Change::Added("tests/c.py".into()),
            ]
        );
        assert_eq!(compare(&before, &now, false).len(), 2);
    }

    #[test]
    fn the_scripts_a_command_runs_are_named_and_product_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["bench.py", "run.sh", "src/main.c"] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let scripts = |program: &str, args: &[&str]| {
            command_scripts(
                dir.path(),
                &serde_json::json!({ "command": { "program": program, "args": args } }),
            )
        };
        assert_eq!(
            scripts("python3", &["-O", "bench.py", "--fast"]),
            ["bench.py"]
        );
        assert_eq!(scripts("python3.11", &["./bench.py"]), ["bench.py"]);
        assert_eq!(scripts("./run.sh", &["bench.py"]), ["run.sh"]);
        assert!(scripts("python3", &["-m", "pytest"]).is_empty());
        assert!(
            scripts("gcc", &["src/main.c"]).is_empty(),
            "a compiler's inputs are the product"
        );
        assert!(scripts("node", &["../bench.py"]).is_empty());
        assert!(scripts("node", &["absent.js"]).is_empty());
        assert!(command_scripts(dir.path(), &serde_json::json!({ "runner": "auto" })).is_empty());
    }

    #[test]
    fn modules_conftest_loads_as_plugins_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for (file, text) in [
            (
                "conftest.py",
                "pytest_plugins = [\n    \"helpers.fixtures\",\n    'plug',\n]\n",
            ),
            ("tests/conftest.py", "pytest_plugins = \"support\"\n"),
            ("helpers/fixtures.py", ""),
            ("plug/__init__.py", ""),
            ("support.py", ""),
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let judging = ["**/conftest.py".to_owned()];
        assert_eq!(
            pytest_plugin_files(dir.path(), &judging),
            ["helpers/fixtures.py", "plug/__init__.py", "support.py"]
        );
        assert!(pytest_plugin_files(dir.path(), &["Cargo.toml".to_owned()]).is_empty());
    }

    #[test]
    fn cargo_runner_overrides_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        assert!(cargo_overrides(&Listing::new(dir.path())).is_empty());
        std::fs::create_dir_all(dir.path().join(".cargo")).unwrap();
        std::fs::write(
            dir.path().join(".cargo/config.toml"),
            "[target.x86_64-unknown-linux-gnu]\nrunner = \"./fake.sh\"\n[build]\nrustc-wrapper = \"w\"\n",
        )
        .unwrap();
        let found = cargo_overrides(&Listing::new(dir.path()));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].message.contains("rustc-wrapper"));
        assert!(found[1].message.contains("runner"));
    }
}
