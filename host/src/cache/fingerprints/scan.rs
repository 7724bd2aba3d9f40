//! One walk of the workspace for both things a checkpoint run needs before
//! any rule runs: the listing its judging-file snapshots match globs
//! against (every path outside [`SKIPPED_DIRS`], ignored or not: an ignored
//! `conftest.py` still judges) and the input files with their fingerprints
//! (what the project does not ignore). They were two walks of the same
//! directories; a warm check of 10,000 files spent a fifth of its time on
//! the second.
//!
//! `ignore` prunes what the project ignores, so this walk turns its
//! filters off and decides itself, with the same matchers
//! ([`ignore::gitignore::Gitignore`]) read from the same files and asked in
//! the same order as `ignore` does under the options [`super::walk`] sets
//! (`.ignore` before `.gitignore` before git's exclude file, nearest
//! directory first, no parents above the root, no global file, hidden
//! files kept; `ignore-0.4.34/src/dir.rs`, `Ignore::matched_ignore`). A
//! test holds the two walks equal on generated trees; [`super::walk`]
//! remains the walk wherever no listing is wanted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::{Batch, DirStat, Fingerprint, MAX_FILES, SKIPPED_DIRS, relative, skipped};

/// What one walk found.
pub(crate) struct Scan {
    /// Every path outside [`SKIPPED_DIRS`] (those directories themselves
    /// listed), ordered as `NativeWorkspace::list_skipping` orders them;
    /// `None` past `listing_max` paths or where a name is not UTF-8 or a
    /// directory could not be read (the listing is then walked on its own,
    /// which says why).
    pub listing: Option<Vec<String>>,
    /// The input files with their fingerprints, sorted by path: what
    /// [`super::walk`] finds. `None` where it would fail.
    pub inputs: Option<Vec<(String, Fingerprint)>>,
}

/// Walks `root` once for a [`Scan`]; for its listing alone unless
/// `inputs_wanted`.
pub(crate) fn scan(root: &Path, listing_max: usize, inputs_wanted: bool) -> Scan {
    let rules = IgnoreRules::new(root);
    let found = Found::default();
    // The walker keeps its filter for good: what it lists goes through
    // shared ownership.
    let skipped_listed = Arc::new(Mutex::new(Vec::new()));
    let filter = {
        let (root, listed_out) = (root.to_owned(), skipped_listed.clone());
        move |entry: &ignore::DirEntry| {
            if !skipped(entry) {
                return true;
            }
            // Not walked for inputs, but listed itself. (Its name is one
            // of the skipped names; a path above it that is not UTF-8 was
            // met, and failed the listing, on the way down.)
            if let Some(rel) = relative(&root, entry.path())
                && listed(&rel)
            {
                lock(&listed_out).push(rel);
            }
            false
        }
    };
    ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .max_depth(Some(checkrail_sandbox::MAX_DEPTH))
        .threads(2)
        .filter_entry(filter)
        .build_parallel()
        .run(|| {
            let mut visit = Visitor {
                root,
                rules: &rules,
                found: &found,
                inputs_wanted,
                parent: None,
                stat: DirStat::default(),
                listing: Vec::new(),
                inputs: Batch {
                    local: Vec::new(),
                    found: &found.inputs,
                },
            };
            Box::new(move |entry| visit.entry(entry))
        });
    lock(&found.listing).append(&mut lock(&skipped_listed));
    let mut scan = found.finish(listing_max);
    scan.inputs = scan.inputs.filter(|_| inputs_wanted);
    scan
}

/// What the walker threads hand over.
#[derive(Default)]
struct Found {
    listing: Mutex<Vec<String>>,
    inputs: Mutex<Vec<(String, Fingerprint)>>,
    listing_failed: AtomicBool,
    inputs_failed: AtomicBool,
}

impl Found {
    fn finish(self, listing_max: usize) -> Scan {
        let inputs = (!self.inputs_failed.into_inner()).then(|| {
            let mut inputs = self.inputs.into_inner().unwrap_or_else(|e| e.into_inner());
            inputs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            inputs
        });
        let mut listing = self.listing.into_inner().unwrap_or_else(|e| e.into_inner());
        let listing =
            (!self.listing_failed.into_inner() && listing.len() <= listing_max).then(|| {
                listing.sort_unstable_by(|a, b| listing_order(a, b));
                listing
            });
        Scan {
            listing,
            inputs: inputs.filter(|inputs| inputs.len() <= MAX_FILES),
        }
    }
}

/// Depth first, each directory's names in byte order: as bytes, with `/`
/// before any byte a name can hold.
fn listing_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |b: u8| if b == b'/' { 0 } else { b };
    a.bytes().map(key).cmp(b.bytes().map(key))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a path of the walk belongs in the listing: none of the
/// directories above it is one of [`SKIPPED_DIRS`] (the walk for inputs
/// goes into `.checkrail`; the listing does not).
fn listed(rel: &str) -> bool {
    match rel.rsplit_once('/') {
        Some((parent, _)) => !parent.split('/').any(|name| SKIPPED_DIRS.contains(&name)),
        None => true,
    }
}

/// One walker thread.
struct Visitor<'a> {
    root: &'a Path,
    rules: &'a IgnoreRules,
    found: &'a Found,
    inputs_wanted: bool,
    /// The rules of the directory this thread was last in.
    parent: Option<(String, Arc<DirRules>)>,
    stat: DirStat,
    listing: Vec<String>,
    inputs: Batch<'a>,
}

impl Visitor<'_> {
    fn entry(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) -> ignore::WalkState {
        use ignore::WalkState;
        let Ok(entry) = entry else {
            // An unreadable directory: the inputs go without it as
            // `walk`'s do; the listing's own walk would stop there.
            self.found.listing_failed.store(true, Ordering::Relaxed);
            return WalkState::Continue;
        };
        if entry.depth() == 0 {
            return WalkState::Continue;
        }
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if is_dir && entry.depth() >= checkrail_sandbox::MAX_DEPTH {
            // Its contents are not walked: neither answer covers them.
            self.found.inputs_failed.store(true, Ordering::Relaxed);
            self.found.listing_failed.store(true, Ordering::Relaxed);
            return WalkState::Quit;
        }
        let Some(rel) = relative(self.root, entry.path()) else {
            self.found.listing_failed.store(true, Ordering::Relaxed);
            return WalkState::Continue;
        };
        if listed(&rel) {
            self.listing.push(rel.clone());
        }
        if is_dir || !self.inputs_wanted {
            return WalkState::Continue;
        }
        let parent = rel.rsplit_once('/').map_or("", |(parent, _)| parent);
        let rules = self.rules_of(parent);
        if rules.ignored || rules.ignores(entry.path(), false) {
            return WalkState::Continue;
        }
        let fingerprint = match self.stat.fingerprint(entry.path()) {
            Some(fingerprint) => fingerprint,
            None => match entry.metadata() {
                Ok(meta) => Fingerprint::of(&meta),
                Err(_) => return WalkState::Continue,
            },
        };
        self.inputs.local.push((rel, fingerprint));
        if self.inputs.local.len() >= 256 && self.inputs.flush() > MAX_FILES {
            self.found.inputs_failed.store(true, Ordering::Relaxed);
        }
        WalkState::Continue
    }

    /// The rules of directory `rel`, from this thread's last directory
    /// when it is the same (the walker hands a thread a directory's
    /// entries one after another).
    fn rules_of(&mut self, rel: &str) -> Arc<DirRules> {
        if let Some((dir, rules)) = &self.parent
            && dir == rel
        {
            return rules.clone();
        }
        let rules = self.rules.dir(rel);
        self.parent = Some((rel.to_owned(), rules.clone()));
        rules
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        lock(&self.found.listing).append(&mut self.listing);
    }
}

/// The ignore files of one directory, as `ignore` reads them.
struct Level {
    ignore: Option<Gitignore>,
    git: Option<Gitignore>,
    exclude: Option<Gitignore>,
}

impl Level {
    fn read(dir: &Path) -> Self {
        Self {
            ignore: matcher(dir, &dir.join(".ignore")),
            git: matcher(dir, &dir.join(".gitignore")),
            exclude: git_dir(dir).and_then(|git| matcher(dir, &git.join("info/exclude"))),
        }
    }
}

/// The matcher of one ignore file, rooted at `dir`; `None` without the
/// file. Lines that do not parse are left out and the rest kept, and a
/// file that does not build matches nothing, as in `ignore`.
fn matcher(dir: &Path, file: &Path) -> Option<Gitignore> {
    if !file.exists() {
        return None;
    }
    let mut builder = GitignoreBuilder::new(dir);
    let _partial = builder.add(file);
    Some(builder.build().unwrap_or_else(|_| Gitignore::empty()))
}

/// Where `dir`'s git data holds `info/exclude`: its `.git` directory, or
/// for a worktree (`.git` a file saying `gitdir: …`) the common directory
/// its `commondir` names; `None` without `.git` or when that is unreadable.
fn git_dir(dir: &Path) -> Option<PathBuf> {
    use std::io::BufRead;
    let dot_git = dir.join(".git");
    let first_line = |path: &Path| {
        let file = std::fs::File::open(path).ok()?;
        std::io::BufReader::new(file).lines().next()?.ok()
    };
    match std::fs::metadata(&dot_git) {
        Ok(meta) if meta.is_file() => {
            let line = first_line(&dot_git)?;
            let real = PathBuf::from(line.strip_prefix("gitdir: ")?);
            let common = first_line(&real.join("commondir"))?;
            Some(if common.starts_with('.') {
                real.join(common)
            } else {
                PathBuf::from(common)
            })
        }
        // A `.git` that does not stat (a broken link) still names the
        // place `ignore` looks in, where nothing is found.
        _ if std::fs::symlink_metadata(&dot_git).is_ok() => Some(dot_git),
        _ => None,
    }
}

/// The ignore files that apply in one directory and whether the project
/// ignores the directory itself (so everything in it).
struct DirRules {
    /// From the root down to this directory.
    levels: Vec<Arc<Level>>,
    ignored: bool,
}

impl DirRules {
    /// Whether the project ignores `path`, an entry of this directory:
    /// for each kind of file, the nearest that says anything of it
    /// decides; `.ignore` over `.gitignore` over git's exclude file.
    fn ignores(&self, path: &Path, is_dir: bool) -> bool {
        let nearest = |kind: fn(&Level) -> Option<&Gitignore>| {
            self.levels
                .iter()
                .rev()
                .filter_map(|level| kind(level))
                .map(|gitignore| gitignore.matched(path, is_dir))
                .find(|matched| !matched.is_none())
        };
        nearest(|l| l.ignore.as_ref())
            .or_else(|| nearest(|l| l.git.as_ref()))
            .or_else(|| nearest(|l| l.exclude.as_ref()))
            .is_some_and(|matched| matched.is_ignore())
    }
}

/// Each directory's [`DirRules`], read when first asked for.
struct IgnoreRules {
    root: PathBuf,
    dirs: Mutex<HashMap<String, Arc<DirRules>>>,
}

impl IgnoreRules {
    fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
            dirs: Mutex::new(HashMap::new()),
        }
    }

    /// The rules of directory `rel` (`""`: the root).
    fn dir(&self, rel: &str) -> Arc<DirRules> {
        if let Some(known) = lock(&self.dirs).get(rel) {
            return known.clone();
        }
        let path = if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        };
        let (mut levels, ignored) = match rel.rsplit_once('/') {
            _ if rel.is_empty() => (Vec::new(), false),
            parent => {
                let parent = self.dir(parent.map_or("", |(parent, _)| parent));
                let ignored = parent.ignored || parent.ignores(&path, true);
                (parent.levels.clone(), ignored)
            }
        };
        if !ignored {
            levels.push(Arc::new(Level::read(&path)));
        }
        let rules = Arc::new(DirRules { levels, ignored });
        lock(&self.dirs).insert(rel.to_owned(), rules.clone());
        rules
    }
}

#[cfg(test)]
mod tests;
