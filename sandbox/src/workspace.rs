//! The workspace as seen from native code: the implementation behind the
//! host's `stat-many` and `glob` imports, and behind native unit tests of a
//! rule (through the SDK), so both see exactly the same confinement rules.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, Metadata};
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::path::{PathError, normalize_path};

/// Kind of a filesystem entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symlink whose target could not be looked at.
    Symlink,
    /// A socket, device, fifo or anything else.
    Other,
}

/// What the workspace knows about one existing path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// What the path is (after following a symlink that stays inside).
    pub kind: EntryKind,
    /// Size in bytes.
    pub size: u64,
    /// Whether the path itself is a symlink.
    pub is_symlink: bool,
}

/// Largest number of directory entries one glob may visit.
pub const GLOB_VISIT_BUDGET: usize = 500_000;

/// Deepest directory level (counted from the workspace root) a walk enters.
/// A glob that would go deeper fails naming the cap: a deeper tree is an
/// attack on the walker, not a project layout.
pub const MAX_DEPTH: usize = 256;

/// Most parent directories one `stat_many` batch keeps open at once, so a
/// batch over many directories cannot exhaust the process's descriptors.
const STAT_PARENTS_OPEN: usize = 64;

/// How many paths `stat_many_until` looks at between two polls of its stop
/// condition.
const STAT_POLL_EVERY: usize = 256;

/// A directory opened as a capability: every lookup stays beneath it, and
/// symlinks are followed only while they stay beneath it.
#[derive(Debug)]
pub struct NativeWorkspace {
    root: Dir,
}

impl NativeWorkspace {
    /// Opens `root` as the workspace.
    pub fn open(root: &Path) -> io::Result<Self> {
        Ok(Self {
            root: Dir::open_ambient_dir(root, ambient_authority())?,
        })
    }

    /// Looks at many workspace-relative paths, answering in order.
    ///
    /// Each parent directory is opened (confined) once per batch and every
    /// name in it is looked at relative to that handle: one `statx` per path
    /// instead of a full confined walk from the root for each.
    pub fn stat_many<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Result<Entry, PathError>> {
        self.stat_many_until(paths, &mut || false)
    }

    /// [`NativeWorkspace::stat_many`] that polls `should_stop` as it goes;
    /// once it returns true, the remaining paths are answered with an error
    /// and not looked at (the host uses it to enforce the rule's deadline).
    pub fn stat_many_until<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a str>,
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Vec<Result<Entry, PathError>> {
        let mut parents: HashMap<String, Result<Dir, PathError>> = HashMap::new();
        let mut stopped = false;
        paths
            .into_iter()
            .enumerate()
            .map(|(n, path)| {
                if !stopped && n % STAT_POLL_EVERY == STAT_POLL_EVERY - 1 {
                    stopped = should_stop();
                }
                if stopped {
                    return Err(PathError::Io(
                        "not looked at: the rule ran out of time".to_owned(),
                    ));
                }
                let path = normalize_path(path)?;
                let Some((parent, name)) = path.rsplit_once('/') else {
                    return stat_in(&self.root, &path);
                };
                if parents.len() >= STAT_PARENTS_OPEN && !parents.contains_key(parent) {
                    parents.clear();
                }
                let dir = parents
                    .entry(parent.to_owned())
                    .or_insert_with(|| self.root.open_dir(parent).map_err(path_error));
                match dir {
                    Ok(dir) => stat_in(dir, name),
                    Err(PathError::Io(reason)) if is_not_dir(reason) => Err(PathError::NotFound),
                    Err(e) => Err(e.clone()),
                }
            })
            .collect()
    }

    /// Looks at one workspace-relative path.
    pub fn stat(&self, path: &str) -> Result<Entry, PathError> {
        stat_in(&self.root, &normalize_path(path)?)
    }
}

/// Looks at `path` (normalized) beneath `dir`.
fn stat_in(dir: &Dir, path: &str) -> Result<Entry, PathError> {
    let meta = dir.symlink_metadata(path).map_err(path_error)?;
    if !meta.is_symlink() {
        return Ok(entry(&meta, false));
    }
    match dir.metadata(path) {
        Ok(target) => Ok(entry(&target, true)),
        Err(e) => match path_error(e) {
            // A dangling link exists as a link.
            PathError::NotFound => Ok(Entry {
                kind: EntryKind::Symlink,
                size: 0,
                is_symlink: true,
            }),
            other => Err(other),
        },
    }
}

impl NativeWorkspace {
    /// Reads a whole regular file, following symlinks only inside the
    /// workspace. FIFOs, sockets and devices are refused without being read:
    /// the file is opened non-blocking and checked before any read, so a
    /// FIFO with no writer cannot hang the caller.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, PathError> {
        use cap_std::fs::OpenOptionsExt;
        use std::io::Read;

        let path = normalize_path(path)?;
        let mut options = cap_std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        // A FIFO opened for reading without a writer would wait for one.
        options.custom_flags(libc::O_NONBLOCK);
        let mut file = self.root.open_with(&path, &options).map_err(path_error)?;
        let meta = file.metadata().map_err(path_error)?;
        if !meta.is_file() {
            return Err(not_regular(&path, &meta));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).min(1 << 24));
        file.read_to_end(&mut bytes).map_err(path_error)?;
        Ok(bytes)
    }

    /// Expands `pattern` to at most `limit` sorted workspace-relative paths.
    /// `should_stop` is polled while walking; when it returns true the walk
    /// ends with an error (the host uses it to enforce the rule's deadline).
    pub fn glob(
        &self,
        pattern: &str,
        limit: usize,
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<String>, String> {
        self.glob_skipping(pattern, limit, &[], should_stop)
    }

    /// [`NativeWorkspace::glob`] that never descends into directories with
    /// one of the names in `skip` (e.g. `target`, `.git`).
    pub fn glob_skipping(
        &self,
        pattern: &str,
        limit: usize,
        skip: &[&str],
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<String>, String> {
        let pattern = Pattern::new(pattern)?;
        if pattern.is_plain() {
            return Ok(self.existing(&pattern.normalized, limit));
        }
        let set = GlobSetBuilder::new()
            .add(pattern.glob.clone())
            .build()
            .map_err(|e| format!("invalid glob `{}`: {e}", pattern.normalized))?;
        let label = format!("glob `{}`", pattern.normalized);
        let depths = vec![pattern.max_depth()];
        self.walk(
            &label,
            &pattern.base(),
            (set, depths, limit),
            skip,
            should_stop,
        )
    }

    /// Every pattern of `patterns` expanded in one walk of the workspace
    /// (where each on its own walks it once; a host check asks for a dozen
    /// patterns at a time), skipping directories named in `skip`: at most
    /// `limit` paths, each once. Plain paths are looked up, not walked for.
    /// A pattern that is not a workspace glob matches nothing and is named
    /// in the second list; the walk's own failure (`should_stop`, the visit
    /// budget) fails the whole.
    pub fn glob_all_skipping(
        &self,
        patterns: &[String],
        limit: usize,
        skip: &[&str],
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        let (mut found, wild, refused) = self.sorted_out(patterns);
        if !wild.is_empty() {
            // From the deepest directory every pattern starts in, as deep as
            // the deepest of them reaches.
            let bases: Vec<Vec<&str>> = wild.iter().map(Pattern::literal_parts).collect();
            let shared = (0..bases[0].len())
                .take_while(|&i| bases.iter().all(|b| b.get(i) == bases[0].get(i)))
                .count();
            let base = bases[0][..shared].join("/");
            let (set, depths) = set_of(&wild)?;
            let walked = self.walk("globs", &base, (set, depths, limit), skip, should_stop)?;
            found.extend(walked);
        }
        Ok((once_each(found, limit), refused))
    }

    /// Every path of the workspace outside directories named in `skip`
    /// (those directories themselves listed), for
    /// [`NativeWorkspace::glob_all_listed`]; an error past `limit` paths,
    /// or as [`NativeWorkspace::glob_all_skipping`] fails.
    pub fn list_skipping(
        &self,
        limit: usize,
        skip: &[&str],
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<String>, String> {
        let (set, depths) = set_of(&[Pattern::new("**")?])?;
        let listed = self.walk("listing", "", (set, depths, limit + 1), skip, should_stop)?;
        if listed.len() > limit {
            return Err(format!("the workspace has more than {limit} paths"));
        }
        Ok(listed)
    }

    /// [`NativeWorkspace::glob_all_skipping`] over `listing` (what
    /// [`NativeWorkspace::list_skipping`] found with the same `skip`)
    /// instead of a walk: the same paths while the workspace is as it was
    /// listed, so several host checks of one run share one walk.
    pub fn glob_all_listed(
        &self,
        listing: &[String],
        patterns: &[String],
        limit: usize,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        let (mut found, wild, refused) = self.sorted_out(patterns);
        if !wild.is_empty() {
            let (set, depths) = set_of(&wild)?;
            let mut hits = Vec::new();
            for path in listing {
                let level = path.split('/').count();
                set.matches_into(path.as_str(), &mut hits);
                if hits.iter().any(|&i| level <= depths[i]) {
                    found.push(path.clone());
                }
            }
        }
        Ok((once_each(found, limit), refused))
    }

    /// The plain paths of `patterns` that exist, the patterns with a
    /// wildcard, and why the rest are refused.
    fn sorted_out(&self, patterns: &[String]) -> (Vec<String>, Vec<Pattern>, Vec<String>) {
        let (mut found, mut wild, mut refused) = (Vec::new(), Vec::new(), Vec::new());
        for pattern in patterns {
            match Pattern::new(pattern) {
                Ok(p) if p.is_plain() => found.extend(self.existing(&p.normalized, 1)),
                Ok(p) => wild.push(p),
                Err(e) => refused.push(e),
            }
        }
        (found, wild, refused)
    }

    /// `path` when it exists (and `limit` allows one).
    fn existing(&self, path: &str, limit: usize) -> Vec<String> {
        if self.stat(path).is_ok() && limit > 0 {
            vec![path.to_owned()]
        } else {
            Vec::new()
        }
    }

    /// The paths under `base` (workspace-relative, `""` for the root)
    /// that a pattern of `set` matches no deeper than that pattern's entry
    /// in `depths` (levels below the root), at most `limit`.
    fn walk(
        &self,
        label: &str,
        base: &str,
        (set, depths, limit): (GlobSet, Vec<usize>, usize),
        skip: &[&str],
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<String>, String> {
        let mut walk = Walk {
            matcher: set,
            max_depth: depths.iter().copied().max().unwrap_or(0),
            depths,
            hits: Vec::new(),
            limit,
            visited: 0,
            found: Vec::new(),
            skip,
            should_stop,
        };
        let dir = if base.is_empty() {
            self.root.try_clone().map_err(|e| e.to_string())?
        } else {
            match self.root.open_dir(base) {
                Ok(dir) => dir,
                Err(e) => {
                    return match path_error(e) {
                        PathError::NotFound => Ok(Vec::new()),
                        PathError::OutsideWorkspace => Err(format!(
                            "{label} starts at `{base}`, which leads outside the workspace"
                        )),
                        PathError::Io(reason) if is_not_dir(&reason) => Ok(Vec::new()),
                        PathError::Io(reason) => Err(format!("reading `{base}`: {reason}")),
                    };
                }
            }
        };
        let depth = if base.is_empty() {
            0
        } else {
            base.split('/').count()
        };
        walk.run(dir, base, depth)?;
        Ok(walk.found)
    }
}

/// The patterns as one set, with how deep each can match.
fn set_of(patterns: &[Pattern]) -> Result<(GlobSet, Vec<usize>), String> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(pattern.glob.clone());
    }
    let set = set.build().map_err(|e| format!("invalid glob set: {e}"))?;
    Ok((set, patterns.iter().map(Pattern::max_depth).collect()))
}

/// `found` with each path once, in order, at most `limit`.
fn once_each(mut found: Vec<String>, limit: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    found.retain(|path| seen.insert(path.clone()));
    found.truncate(limit);
    found
}

/// One glob, checked: inside the workspace, and valid.
struct Pattern {
    normalized: String,
    glob: Glob,
}

impl Pattern {
    fn new(pattern: &str) -> Result<Self, String> {
        let normalized = normalize_path(pattern).map_err(|_| {
            format!(
                "glob `{pattern}` leads outside the workspace; use a workspace-relative pattern"
            )
        })?;
        let glob = Glob::new(&normalized).map_err(|e| format!("invalid glob `{pattern}`: {e}"))?;
        Ok(Self { normalized, glob })
    }

    fn parts(&self) -> impl Iterator<Item = &str> {
        self.normalized.split('/')
    }

    /// The directories before the first wildcard part.
    fn literal_parts(&self) -> Vec<&str> {
        let mut parts: Vec<&str> = self.parts().take_while(|p| !is_wild(p)).collect();
        parts.truncate(self.parts().count().saturating_sub(1));
        parts
    }

    /// No wildcard at all: the glob is a plain path.
    fn is_plain(&self) -> bool {
        !self.parts().any(is_wild)
    }

    fn base(&self) -> String {
        self.literal_parts().join("/")
    }

    /// How many levels below the root a match can be.
    fn max_depth(&self) -> usize {
        if self.parts().any(|p| p.contains("**")) {
            usize::MAX
        } else {
            self.parts().count()
        }
    }
}

struct Walk<'a> {
    matcher: GlobSet,
    /// How deep each pattern of `matcher` can match: a `*` also matches
    /// `/`, so a shallow pattern must not take what the walk found deeper
    /// for another one.
    depths: Vec<usize>,
    hits: Vec<usize>,
    limit: usize,
    max_depth: usize,
    visited: usize,
    found: Vec<String>,
    skip: &'a [&'a str],
    should_stop: &'a mut dyn FnMut() -> bool,
}

/// One directory being walked: its handle, its children (sorted, not yet
/// visited ones at the back) and how long the shared path was before its
/// name was appended.
struct Frame {
    dir: Dir,
    children: Vec<(String, bool)>,
    prefix_len: usize,
}

impl Walk<'_> {
    /// Walks `root` (at `prefix`, `depth` levels below the workspace)
    /// depth-first without recursion: the stack holds one frame per open
    /// directory, so host stack use does not grow with the workspace's depth,
    /// and one path buffer is extended and cut back instead of building a
    /// new string per level.
    fn run(&mut self, root: Dir, prefix: &str, depth: usize) -> Result<(), String> {
        if depth >= self.max_depth {
            return Ok(());
        }
        let mut path = prefix.to_owned();
        let children = self.children(&root, &path)?;
        let mut stack = vec![Frame {
            dir: root,
            children,
            prefix_len: path.len(),
        }];
        loop {
            // The level of a child of the top frame.
            let level = depth + stack.len();
            let Some(frame) = stack.last_mut() else {
                break;
            };
            if self.found.len() >= self.limit {
                break;
            }
            let Some((name, is_dir)) = frame.children.pop() else {
                stack.pop();
                continue;
            };
            path.truncate(frame.prefix_len);
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(&name);
            if self.matches(&path, level) {
                self.found.push(path.clone());
            }
            // `file_type` of a directory entry does not follow symlinks, so a
            // symlinked directory is never descended into.
            if !is_dir || self.skip.contains(&name.as_str()) {
                continue;
            }
            if level >= self.max_depth {
                continue;
            }
            if level >= MAX_DEPTH {
                return Err(format!(
                    "glob reached the depth cap of {MAX_DEPTH} directory levels at `{}`; the workspace nests deeper than checkrail walks",
                    shorten(&path)
                ));
            }
            let Ok(child) = frame.dir.open_dir(&name) else {
                continue;
            };
            let children = self.children(&child, &path)?;
            stack.push(Frame {
                dir: child,
                children,
                prefix_len: path.len(),
            });
        }
        Ok(())
    }

    /// Whether a pattern matches `path`, `level` levels below the root,
    /// within its own depth.
    fn matches(&mut self, path: &str, level: usize) -> bool {
        if self.depths.iter().all(|&depth| level <= depth) {
            return self.matcher.is_match(path);
        }
        self.matcher.matches_into(path, &mut self.hits);
        self.hits.iter().any(|&i| level <= self.depths[i])
    }

    /// The entries of `dir`, sorted in reverse so that popping visits them
    /// in order.
    fn children(&mut self, dir: &Dir, path: &str) -> Result<Vec<(String, bool)>, String> {
        let mut children = Vec::new();
        for item in dir
            .entries()
            .map_err(|e| format!("reading `{}`: {e}", shorten(path)))?
        {
            let item = item.map_err(|e| format!("reading `{}`: {e}", shorten(path)))?;
            self.visited += 1;
            if self.visited > GLOB_VISIT_BUDGET {
                return Err(format!(
                    "glob visited more than {GLOB_VISIT_BUDGET} entries; narrow the pattern"
                ));
            }
            if self.visited.is_multiple_of(256) && (self.should_stop)() {
                return Err("glob stopped: the rule ran out of time".to_owned());
            }
            let name = item.file_name().to_string_lossy().into_owned();
            let is_dir = item.file_type().map(|t| t.is_dir()).unwrap_or(false);
            children.push((name, is_dir));
        }
        children.sort_unstable_by(|a, b| b.cmp(a));
        Ok(children)
    }
}

/// A path cut to its first and last 100 bytes, for messages about very
/// deep paths.
fn shorten(path: &str) -> String {
    if path.len() <= 240 {
        return path.to_owned();
    }
    let mut head = 100;
    while !path.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = path.len() - 100;
    while !path.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}…{} ({} bytes)", &path[..head], &path[tail..], path.len())
}

/// The refusal of a path that is there but is not a regular file.
fn not_regular(path: &str, meta: &Metadata) -> PathError {
    PathError::Io(format!(
        "`{path}` is a {}, not a regular file; checkrail does not read it",
        special_kind(meta)
    ))
}

/// What kind of special file `meta` describes, in words.
fn special_kind(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use cap_std::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_socket() {
            return "socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "device";
        }
    }
    if meta.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

/// Whether a glob (or one `/`-separated part of it) has a wildcard: a
/// plain path is looked up, a wild one matched.
pub fn is_wild(part: &str) -> bool {
    part.contains(['*', '?', '[', '{'])
}

fn is_not_dir(reason: &str) -> bool {
    reason.contains("Not a directory")
}

fn entry(meta: &Metadata, is_symlink: bool) -> Entry {
    let file_type = meta.file_type();
    let kind = if file_type.is_file() {
        EntryKind::File
    } else if file_type.is_dir() {
        EntryKind::Directory
    } else if file_type.is_symlink() {
        EntryKind::Symlink
    } else {
        EntryKind::Other
    };
    Entry {
        kind,
        size: meta.len(),
        is_symlink,
    }
}

/// Maps an I/O error from a confined lookup to a [`PathError`].
fn path_error(error: io::Error) -> PathError {
    match error.kind() {
        io::ErrorKind::NotFound => PathError::NotFound,
        // cap-std reports an escape (through `..` or a symlink) this way.
        io::ErrorKind::PermissionDenied
            if error.to_string().contains("outside of the filesystem") =>
        {
            PathError::OutsideWorkspace
        }
        _ => PathError::Io(error.to_string()),
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    /// A chain of `levels` directories named `d`, with `leaf.txt` at the
    /// bottom, built through handles (its path is longer than `PATH_MAX`).
    fn chain(levels: usize) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).expect("open");
        for _ in 0..levels {
            dir.create_dir("d").expect("mkdir");
            dir = dir.open_dir("d").expect("open");
        }
        dir.write("leaf.txt", "x").expect("write");
        tmp
    }

    fn remove(tmp: &tempfile::TempDir) {
        let status = std::process::Command::new("rm")
            .arg("-rf")
            .arg(tmp.path().join("d"))
            .status()
            .expect("rm");
        assert!(status.success());
    }

    #[test]
    fn many_globs_in_one_walk_find_what_each_finds_alone() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for file in [
            "conftest.py",
            "a/conftest.py",
            "a/b/conftest.py",
            "a/b/tsconfig.json",
            "a/tsconfig.base.json",
            "target/conftest.py",
            "node_modules/x/tsconfig.json",
            ".cargo/config.toml",
            "sub/.cargo/config.toml",
            "docs/deep/er/notes.md",
            "tsconfig.json",
        ] {
            let path = tmp.path().join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "x").expect("write");
        }
        let ws = NativeWorkspace::open(tmp.path()).expect("open");
        let skip = ["target", "node_modules"];
        let sets: &[&[&str]] = &[
            &["**/conftest.py", "**/tsconfig.json", "**/tsconfig.*.json"],
            &[".cargo/config.toml", "**/.cargo/config.toml", "missing.txt"],
            &["a/*/conftest.py", "a/b/*.json", "docs/*/*/*.md"],
            &["a/b/*", "a/*.json"],
            // A `*` matches `/` too: the walk goes deep for the second,
            // and the first must still only take what it takes alone.
            &["a/*.json", "**/conftest.py"],
            &["*.json", "a/*/conftest.py", "a/b/*.json"],
            &["*.json", "../escape/*", "[bad", "**"],
        ];
        for patterns in sets {
            let owned: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
            let (mut all, refused) = ws
                .glob_all_skipping(&owned, 1000, &skip, &mut || false)
                .expect("walks");
            let listing = ws.list_skipping(1000, &skip, &mut || false).expect("lists");
            let (mut listed, refused_too) =
                ws.glob_all_listed(&listing, &owned, 1000).expect("matches");
            listed.sort();
            let mut each: Vec<String> = patterns
                .iter()
                .filter_map(|p| ws.glob_skipping(p, 1000, &skip, &mut || false).ok())
                .flatten()
                .collect();
            let bad = patterns.len()
                - patterns
                    .iter()
                    .filter(|p| ws.glob_skipping(p, 1000, &skip, &mut || false).is_ok())
                    .count();
            all.sort();
            each.sort();
            each.dedup();
            assert_eq!(all, each, "{patterns:?}");
            assert_eq!(listed, each, "{patterns:?}, from a listing");
            assert_eq!(refused_too, refused);
            assert_eq!(refused.len(), bad, "{patterns:?}: {refused:?}");
        }
        let owned = vec!["**/conftest.py".to_owned(), "**/*.json".to_owned()];
        let (capped, _) = ws
            .glob_all_skipping(&owned, 2, &skip, &mut || false)
            .expect("walks");
        assert_eq!(capped.len(), 2, "the limit holds across patterns");
        let error = ws.list_skipping(3, &skip, &mut || false).unwrap_err();
        assert!(error.contains("more than 3 paths"), "{error}");
    }

    #[test]
    fn walks_up_to_the_depth_cap() {
        let tmp = chain(MAX_DEPTH - 2);
        let ws = NativeWorkspace::open(tmp.path()).expect("open");
        let found = ws.glob("**/leaf.txt", 10, &mut || false).expect("glob");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), (MAX_DEPTH - 2) * 2 + "leaf.txt".len());
    }

    #[test]
    fn refuses_to_walk_past_the_depth_cap_without_recursing() {
        let tmp = chain(5_000);
        let ws = NativeWorkspace::open(tmp.path()).expect("open");
        // Run on a small stack: a walk that recursed per level would
        // overflow it long before 5,000 levels.
        let error = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || ws.glob("**/*.txt", 10, &mut || false).unwrap_err())
            .expect("spawn")
            .join()
            .expect("no overflow");
        assert!(error.contains("depth cap of 256"), "{error}");
        remove(&tmp);
    }

    #[test]
    fn a_stop_request_ends_stat_many() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("a"), "x").expect("write");
        let ws = NativeWorkspace::open(tmp.path()).expect("open");
        let paths = vec!["a"; 1000];
        let answers = ws.stat_many_until(paths.iter().copied(), &mut || true);
        assert_eq!(answers.len(), 1000);
        assert!(answers[0].is_ok());
        assert!(matches!(&answers[999], Err(PathError::Io(r)) if r.contains("ran out of time")));
        assert!(ws.stat_many(paths).iter().all(Result::is_ok));
    }

    #[test]
    fn special_files_are_refused_not_read() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let fifo = tmp.path().join("pipe");
        let name = std::ffi::CString::new(fifo.as_os_str().as_bytes()).expect("cstring");
        // SAFETY: `name` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
        std::fs::write(tmp.path().join("plain"), "hello").expect("write");
        let ws = NativeWorkspace::open(tmp.path()).expect("open");
        let error = ws.read("pipe").unwrap_err().to_string();
        assert!(
            error.contains("`pipe` is a FIFO, not a regular file"),
            "{error}"
        );
        assert_eq!(ws.read("plain").expect("read"), b"hello");
    }
}
