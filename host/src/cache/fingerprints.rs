//! File fingerprints: the digest of a workspace's input files, for the
//! outcome cache key.
//!
//! The input files are every file of the workspace that the project does not
//! ignore (`.gitignore`, `.ignore`, git's exclude file) and that is not build
//! output or VCS data ([`SKIPPED_DIRS`]), hidden files included
//! (`.cargo/config.toml` changes how cargo judges) and `.checkrail/` (an
//! allow-list there changes how the security rule judges) but for its
//! scratch directories. A workflow's `inputs:` narrows the set to its globs;
//! nothing else does.
//!
//! Content hashes are reused while a file's (size, mtime, ctime, inode)
//! fingerprint is unchanged, except for a file modified within the same
//! second its hash was taken (git's racy-timestamp rule): such a file is
//! hashed again. Fingerprints persist, authenticated, in the workspace's
//! state directory.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::clock::now_ns;
use crate::trusted::{StateKey, write_private};

/// Directories never taken as inputs: build output, VCS data, tool caches
/// and checkrail's own files.
pub const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "target",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".checkrail",
];

/// Most files digested; a bigger workspace is not cached (rules just run).
pub const MAX_FILES: usize = 200_000;

const TAG_DOMAIN: &str = "checkrail fingerprints v1";

/// One file's fingerprint: the metadata that tells whether a content hash
/// taken earlier still describes the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
}

/// Seconds and nanoseconds as nanoseconds.
fn nanos(seconds: i64, nanos: i64) -> i128 {
    i128::from(seconds) * 1_000_000_000 + i128::from(nanos)
}

impl Fingerprint {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            size: meta.size(),
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
        }
    }

    /// The same fields from a `stat` the caller made itself.
    #[cfg(target_os = "linux")]
    fn of_stat(stat: &libc::stat) -> Self {
        Self {
            size: u64::try_from(stat.st_size).unwrap_or_default(),
            mtime_ns: nanos(stat.st_mtime, stat.st_mtime_nsec),
            ctime_ns: nanos(stat.st_ctime, stat.st_ctime_nsec),
            ino: stat.st_ino,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Known {
    fingerprint: Fingerprint,
    hash: [u8; 32],
    /// When the hash was taken (ns since the epoch).
    hashed_ns: i128,
}

impl Known {
    /// Whether the stored hash still describes a file with `fingerprint`:
    /// the fingerprint is the same and the file was last modified in an
    /// earlier second than the hash was taken (otherwise a same-second
    /// write after the hash would go unseen).
    fn still_valid(&self, fingerprint: &Fingerprint) -> bool {
        const SEC: i128 = 1_000_000_000;
        self.fingerprint == *fingerprint
            && fingerprint.mtime_ns.div_euclid(SEC) < self.hashed_ns.div_euclid(SEC)
            && fingerprint.ctime_ns.div_euclid(SEC) < self.hashed_ns.div_euclid(SEC)
    }
}

/// Content hashes of one workspace's files, keyed by path, reused while the
/// files' fingerprints are unchanged.
pub struct Fingerprints {
    file: Option<PathBuf>,
    key: StateKey,
    known: Mutex<Option<HashMap<String, Known>>>,
}

/// The files of a digest run: what was seen and how much was hashed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestStats {
    /// Files taken as inputs.
    pub files: usize,
    /// Files whose content was read and hashed this time.
    pub hashed: usize,
}

impl Fingerprints {
    /// Fingerprints persisted in `file` (none when `None`), authenticated
    /// with `key`.
    pub fn new(file: Option<PathBuf>, key: StateKey) -> Self {
        Self {
            file,
            key,
            known: Mutex::new(None),
        }
    }

    /// The digest of the input files under `root`, narrowed to `globs` when
    /// given. `None` when the files cannot be digested (too many, an
    /// unreadable file, a bad glob): such a check is not cached.
    pub fn digest(&self, root: &Path, globs: Option<&[String]>) -> Option<(String, DigestStats)> {
        let filter = match globs {
            Some(globs) => Some(glob_set(globs)?),
            None => None,
        };
        let mut guard = self.known.lock().unwrap_or_else(|e| e.into_inner());
        // The persisted fingerprints are read and authenticated while the
        // workspace is walked: neither needs the other until both are done.
        let (walked, loaded) = std::thread::scope(|scope| {
            let loading = guard.is_none().then(|| scope.spawn(|| self.load()));
            let walked = walk(root);
            (walked, loading.map(|l| l.join().unwrap_or_default()))
        });
        let mut walked = walked?;
        walked.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let files: Vec<&(String, Fingerprint)> = walked
            .iter()
            .filter(|(path, _)| filter.as_ref().is_none_or(|f| f.is_match(path)))
            .collect();
        let known = match loaded {
            Some(loaded) => guard.insert(loaded),
            None => guard.get_or_insert_with(HashMap::new),
        };
        let now = now_ns();
        let mut stats = DigestStats {
            files: files.len(),
            hashed: 0,
        };
        // One lookup per file: the stored hash where it still holds.
        let stored: Vec<Option<[u8; 32]>> = files
            .iter()
            .map(|(path, fingerprint)| {
                known
                    .get(path)
                    .filter(|k| k.still_valid(fingerprint))
                    .map(|k| k.hash)
            })
            .collect();
        let stale: Vec<&str> = files
            .iter()
            .zip(&stored)
            .filter(|(_, hash)| hash.is_none())
            .map(|((path, _), _)| path.as_str())
            .collect();
        stats.hashed = stale.len();
        let mut hashed = hash_files(root, &stale)?.into_iter();
        let mut digest = Sha256::new();
        for ((path, fingerprint), stored) in files.iter().copied().zip(stored) {
            let hash = match stored {
                Some(hash) => hash,
                None => {
                    // In the order `stale` was taken: the same files.
                    let hash = hashed.next()?;
                    known.insert(
                        path.clone(),
                        Known {
                            fingerprint: *fingerprint,
                            hash,
                            hashed_ns: now,
                        },
                    );
                    hash
                }
            };
            digest.update((path.len() as u64).to_le_bytes());
            digest.update(path.as_bytes());
            digest.update(hash);
        }
        if stats.hashed > 0 && filter.is_none() {
            // Forget files that are gone, then persist.
            let present: std::collections::HashSet<&str> =
                files.iter().map(|(p, _)| p.as_str()).collect();
            known.retain(|p, _| present.contains(p.as_str()));
            self.save(known);
        }
        Some((hex::encode(digest.finalize()), stats))
    }

    fn load(&self) -> HashMap<String, Known> {
        let Some(file) = &self.file else {
            return HashMap::new();
        };
        let Ok(text) = std::fs::read_to_string(file) else {
            return HashMap::new();
        };
        let Some((body, tag)) = text.rsplit_once("\ntag ") else {
            tracing::warn!(
                "ignoring fingerprints `{}`: not authenticated",
                file.display()
            );
            return HashMap::new();
        };
        if !self
            .key
            .verify(TAG_DOMAIN, &[body.as_bytes()], tag.trim_end())
        {
            tracing::warn!(
                "ignoring fingerprints `{}`: authentication failed (edited outside checkrail); every file is hashed again",
                file.display()
            );
            return HashMap::new();
        }
        // Sized up front: growing a map of a big workspace's files was a
        // measurable part of a warm check.
        let mut known = HashMap::with_capacity(body.bytes().filter(|b| *b == b'\n').count() + 1);
        known.extend(body.lines().filter_map(parse_line));
        known
    }

    fn save(&self, known: &HashMap<String, Known>) {
        let Some(file) = &self.file else { return };
        let mut body = String::with_capacity(known.len() * 120);
        let mut entries: Vec<_> = known.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (path, k) in entries {
            use std::fmt::Write;
            let f = &k.fingerprint;
            let _ = writeln!(
                body,
                "{} {} {} {} {} {} {path}",
                hex::encode(k.hash),
                f.size,
                f.mtime_ns,
                f.ctime_ns,
                f.ino,
                k.hashed_ns
            );
        }
        let tag = self.key.tag(TAG_DOMAIN, &[body.as_bytes()]);
        let text = format!("{body}\ntag {tag}\n");
        if let Err(e) = write_private(file, text.as_bytes()) {
            tracing::debug!("fingerprints not saved: {e}");
        }
    }
}

fn parse_line(line: &str) -> Option<(String, Known)> {
    // A warm check of a big workspace reads one line per file: the hash is
    // decoded in place and times parsed as i64 (they fit until 2262) before
    // the slower i128 parse.
    let nanos = |text: &str| {
        text.parse::<i64>()
            .map(i128::from)
            .or_else(|_| text.parse::<i128>())
            .ok()
    };
    let mut parts = line.splitn(7, ' ');
    let mut hash = [0u8; 32];
    hex::decode_to_slice(parts.next()?, &mut hash).ok()?;
    let size = parts.next()?.parse().ok()?;
    let mtime_ns = nanos(parts.next()?)?;
    let ctime_ns = nanos(parts.next()?)?;
    let ino = parts.next()?.parse().ok()?;
    let hashed_ns = nanos(parts.next()?)?;
    let path = parts.next()?.to_owned();
    Some((
        path,
        Known {
            fingerprint: Fingerprint {
                size,
                mtime_ns,
                ctime_ns,
                ino,
            },
            hash,
            hashed_ns,
        },
    ))
}

pub(crate) fn glob_set(globs: &[String]) -> Option<globset::GlobSet> {
    let mut builder = globset::GlobSetBuilder::new();
    for glob in globs {
        builder.add(
            globset::GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .ok()?,
        );
    }
    builder.build().ok()
}

/// Whether the walk leaves out this directory: one of [`SKIPPED_DIRS`],
/// except `.checkrail` itself, whose files (allow-lists, workflows, packs)
/// can change a rule's answer; only the scratch directories rules write
/// while they run, `.checkrail/scratch`, are left out.
fn skipped(entry: &ignore::DirEntry) -> bool {
    if entry.depth() == 0 || !entry.file_type().is_some_and(|t| t.is_dir()) {
        return false;
    }
    match entry.file_name().to_str() {
        Some(".checkrail") => false,
        Some("scratch") => entry
            .path()
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|parent| parent == ".checkrail"),
        Some(name) => SKIPPED_DIRS.contains(&name),
        None => false,
    }
}

/// Every input file under `root` with its fingerprint, workspace-relative
/// with `/` separators, in no particular order. Two threads walk at once.
fn walk(root: &Path) -> Option<Vec<(String, Fingerprint)>> {
    let found = Mutex::new(Vec::new());
    let failed = std::sync::atomic::AtomicBool::new(false);
    ignore::WalkBuilder::new(root)
        .hidden(false)
        .parents(false)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        // The walker keeps a path per pending entry; a cap on depth bounds
        // that, and a tree deeper than it is not cached at all (below).
        .max_depth(Some(checkrail_sandbox::MAX_DEPTH))
        .threads(2)
        .filter_entry(|entry| !skipped(entry))
        .build_parallel()
        .run(|| {
            let mut batch = Batch {
                local: Vec::new(),
                found: &found,
            };
            let mut stat = DirStat::default();
            let failed = &failed;
            Box::new(move |entry| {
                use ignore::WalkState;
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                if entry.file_type().is_some_and(|t| t.is_dir()) {
                    if entry.depth() >= checkrail_sandbox::MAX_DEPTH {
                        // Its contents are not walked, so no digest could
                        // cover them: refuse to digest at all.
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                        return WalkState::Quit;
                    }
                    return WalkState::Continue;
                }
                let Some(rel) = relative(root, entry.path()) else {
                    return WalkState::Continue;
                };
                let fingerprint = match stat.fingerprint(entry.path()) {
                    Some(fingerprint) => fingerprint,
                    None => match entry.metadata() {
                        Ok(meta) => Fingerprint::of(&meta),
                        Err(_) => return WalkState::Continue,
                    },
                };
                batch.local.push((rel, fingerprint));
                if batch.local.len() >= 256 && batch.flush() > MAX_FILES {
                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    return WalkState::Quit;
                }
                WalkState::Continue
            })
        });
    if failed.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    let files = found.into_inner().unwrap_or_else(|e| e.into_inner());
    (files.len() <= MAX_FILES).then_some(files)
}

/// One walker thread's finds, handed over in batches (and when the thread
/// is done) to spare the shared lock.
struct Batch<'a> {
    local: Vec<(String, Fingerprint)>,
    found: &'a Mutex<Vec<(String, Fingerprint)>>,
}

impl Batch<'_> {
    /// Hands the batch over; returns the number of files found so far.
    fn flush(&mut self) -> usize {
        let mut all = self.found.lock().unwrap_or_else(|e| e.into_inner());
        all.append(&mut self.local);
        all.len()
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Stats a walker thread's files through a descriptor of the directory
/// it is in, kept while the thread stays there (the walker hands a thread
/// a directory's entries one after another): the kernel then resolves one
/// name per file instead of the whole path, which was most of the cost of
/// a warm check of a big workspace. `lstat` of the path answers the same;
/// it is what is used where this cannot be (another system, a directory
/// that does not open).
#[derive(Default)]
struct DirStat {
    #[cfg(target_os = "linux")]
    dir: Option<(PathBuf, std::fs::File)>,
}

impl DirStat {
    #[cfg(target_os = "linux")]
    fn fingerprint(&mut self, path: &Path) -> Option<Fingerprint> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let (parent, name) = (path.parent()?, path.file_name()?);
        if self.dir.as_ref().is_none_or(|(dir, _)| dir != parent) {
            let opened = std::fs::File::open(parent).ok()?;
            self.dir = Some((parent.to_owned(), opened));
        }
        let (_, dir) = self.dir.as_ref()?;
        let name = std::ffi::CString::new(name.as_bytes()).ok()?;
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `dir` is an open directory, `name` a NUL-terminated
        // name and `stat` room for the answer, which is read only when
        // the call succeeded.
        let done = unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                name.as_ptr(),
                stat.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        // SAFETY: filled by the successful call above.
        (done == 0).then(|| Fingerprint::of_stat(unsafe { stat.assume_init_ref() }))
    }

    #[cfg(not(target_os = "linux"))]
    fn fingerprint(&mut self, _: &Path) -> Option<Fingerprint> {
        None
    }
}

/// `path` below `root`, with `/` separators. The walker's paths all start
/// with `root` as given, so its bytes are cut off, not compared component
/// by component.
fn relative(root: &Path, path: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let (root, path) = (root.as_os_str().as_bytes(), path.as_os_str().as_bytes());
    let rel = path.strip_prefix(root)?;
    let rel = match rel.strip_prefix(b"/") {
        Some(rest) => rest,
        None if root.ends_with(b"/") => rel,
        None => return None,
    };
    let text = std::str::from_utf8(rel).ok()?;
    (!text.is_empty()).then(|| text.to_owned())
}

/// The content hashes of `paths` under `root`, in order; `None` when one
/// cannot be read. Many files (a first check, a checkout) are hashed on up
/// to four threads.
fn hash_files(root: &Path, paths: &[&str]) -> Option<Vec<[u8; 32]>> {
    let hash_all = |paths: &[&str]| {
        let mut buf = vec![0u8; 64 * 1024];
        paths
            .iter()
            .map(|path| hash_file(&root.join(path), &mut buf))
            .collect::<Option<Vec<_>>>()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if paths.len() < 256 || threads < 2 {
        return hash_all(paths);
    }
    std::thread::scope(|scope| {
        let parts: Vec<_> = paths
            .chunks(paths.len().div_ceil(threads))
            .map(|part| scope.spawn(move || hash_all(part)))
            .collect();
        let mut hashes = Vec::with_capacity(paths.len());
        for part in parts {
            hashes.extend(part.join().ok()??);
        }
        Some(hashes)
    })
}

/// The content hash of a file; for a symlink, of where it points. `buf`
/// is room to read into.
fn hash_file(path: &Path, buf: &mut [u8]) -> Option<[u8; 32]> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let mut hasher = Sha256::new();
    if meta.file_type().is_symlink() {
        hasher.update(b"symlink:");
        hasher.update(
            std::fs::read_link(path)
                .ok()?
                .as_os_str()
                .as_encoded_bytes(),
        );
    } else if meta.is_file() {
        let mut file = std::fs::File::open(path).ok()?;
        loop {
            let n = file.read(buf).ok()?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    } else {
        // FIFOs, sockets, devices: their kind, never their content.
        hasher.update(b"special");
    }
    Some(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    fn digest(fp: &Fingerprints, root: &Path) -> (String, DigestStats) {
        fp.digest(root, None).unwrap()
    }

    /// A file stated through its directory has the fingerprint `lstat`
    /// gives it: files, a symlink (not followed), files of two directories
    /// in turn.
    #[test]
    fn stating_through_the_directory_gives_what_lstat_gives() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "a/one.txt", "1");
        write(root, "b/two.txt", "22");
        std::os::unix::fs::symlink("../a/one.txt", root.join("b/link")).unwrap();
        let mut stat = DirStat::default();
        for path in ["a/one.txt", "b/two.txt", "b/link", "a/one.txt"] {
            let path = root.join(path);
            let lstat = Fingerprint::of(&std::fs::symlink_metadata(&path).unwrap());
            if cfg!(target_os = "linux") {
                assert_eq!(stat.fingerprint(&path), Some(lstat), "{}", path.display());
            }
        }
        assert_eq!(stat.fingerprint(&root.join("a/gone.txt")), None);
    }

    #[test]
    fn a_path_is_relative_to_the_root_as_a_whole_name() {
        let root = Path::new("/w/ws");
        assert_eq!(
            relative(root, Path::new("/w/ws/src/a.rs")).as_deref(),
            Some("src/a.rs")
        );
        assert_eq!(relative(root, Path::new("/w/wsx/a.rs")), None);
        assert_eq!(relative(root, Path::new("/w/ws")), None);
        assert_eq!(
            relative(Path::new("/w/ws/"), Path::new("/w/ws/a")).as_deref(),
            Some("a")
        );
    }

    #[test]
    fn a_line_reads_back_as_written_times_past_i64_included() {
        let hash = [7u8; 32];
        for (mtime, hashed) in [
            (
                1_765_000_000_123_456_789_i128,
                1_765_000_001_000_000_000_i128,
            ),
            (-86_400_000_000_000, 0),
            (i128::from(i64::MAX) + 1, i128::from(i64::MIN) - 1),
        ] {
            let line = format!(
                "{} 42 {mtime} {mtime} 9 {hashed} src/a b.rs",
                hex::encode(hash)
            );
            let (path, known) = parse_line(&line).expect("reads");
            assert_eq!(path, "src/a b.rs");
            assert_eq!(known.hash, hash);
            assert_eq!(known.fingerprint.mtime_ns, mtime);
            assert_eq!(known.hashed_ns, hashed);
            assert_eq!((known.fingerprint.size, known.fingerprint.ino), (42, 9));
        }
        let short = format!("{} 42 1 1 9 1 p", &hex::encode(hash)[2..]);
        assert!(parse_line(&short).is_none(), "a short hash is refused");
        assert!(parse_line("zz 1 1 1 1 1 p").is_none());
    }

    #[test]
    fn takes_every_file_the_project_does_not_ignore() {
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        write(root, "src/lib.rs", "fn f() {}");
        write(root, "data/case.txt", "1");
        write(root, ".cargo/config.toml", "");
        write(root, ".gitignore", "*.log\n");
        write(root, "run.log", "noise");
        write(root, "target/debug/out", "built");
        write(root, ".checkrail/secrets-allow", "tests/keys.pem\n");
        write(root, ".checkrail/scratch/abc/junit.xml", "<x/>");
        let files: Vec<String> = {
            let mut f: Vec<String> = walk(root).unwrap().into_iter().map(|(p, _)| p).collect();
            f.sort();
            f
        };
        assert_eq!(
            files,
            [
                ".cargo/config.toml",
                ".checkrail/secrets-allow",
                ".gitignore",
                "data/case.txt",
                "src/lib.rs"
            ]
        );
    }

    /// Past the threshold the files are hashed on several threads; each
    /// hash still lands on its own file.
    #[test]
    fn many_files_hashed_at_once_are_each_hashed_as_alone() {
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        let paths: Vec<String> = (0..700).map(|i| format!("d{}/f{i}.txt", i % 7)).collect();
        for (i, path) in paths.iter().enumerate() {
            write(root, path, &"x".repeat(i));
        }
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let together = hash_files(root, &refs).unwrap();
        let mut buf = [0u8; 16];
        let alone: Vec<[u8; 32]> = refs
            .iter()
            .map(|p| hash_file(&root.join(p), &mut buf).unwrap())
            .collect();
        assert_eq!(together, alone);
        assert_eq!(alone[3], <[u8; 32]>::from(Sha256::digest(b"xxx")));
        std::fs::remove_file(root.join(&paths[650])).unwrap();
        assert_eq!(hash_files(root, &refs), None, "a file gone fails the whole");
    }

    #[test]
    fn digest_changes_with_content_and_reuses_unchanged_hashes() {
        let ws = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let root = ws.path();
        write(root, "a.txt", "one");
        write(root, "b.txt", "two");
        let file = state.path().join("fingerprints");
        let key = StateKey::from_bytes([1; 32]);
        let fp = Fingerprints::new(Some(file.clone()), key.clone());
        let (first, stats) = digest(&fp, root);
        assert_eq!(stats.hashed, 2);
        // Hashes taken in the same second as the files' mtime are not
        // trusted (racy): age the fingerprints by a second.
        {
            let mut known = fp.known.lock().unwrap();
            for k in known.as_mut().unwrap().values_mut() {
                k.hashed_ns += 2_000_000_000;
            }
        }
        let (second, stats) = digest(&fp, root);
        assert_eq!((second.as_str(), stats.hashed), (first.as_str(), 0));
        write(root, "b.txt", "TWO");
        let (third, stats) = digest(&fp, root);
        assert_ne!(third, first);
        assert!(stats.hashed >= 1);
        // Narrowed to a glob, only matching files count.
        let (narrow, stats) = fp.digest(root, Some(&["a.*".to_owned()])).unwrap();
        assert_eq!(stats.files, 1);
        assert_ne!(narrow, third);
    }

    #[test]
    fn a_same_second_rewrite_with_the_same_size_is_seen() {
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        write(root, "a.txt", "one");
        let fp = Fingerprints::new(None, StateKey::from_bytes([1; 32]));
        let (first, _) = digest(&fp, root);
        // Same size, and the mtime may well be identical at coarse
        // resolution: the racy rule re-hashes it anyway.
        write(root, "a.txt", "two");
        let (second, stats) = digest(&fp, root);
        assert_eq!(stats.hashed, 1);
        assert_ne!(first, second);
    }

    #[test]
    fn persisted_fingerprints_are_authenticated() {
        let ws = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        write(ws.path(), "a.txt", "one");
        let file = state.path().join("fingerprints");
        let key = StateKey::from_bytes([1; 32]);
        let fp = Fingerprints::new(Some(file.clone()), key.clone());
        digest(&fp, ws.path());
        let reloaded = Fingerprints::new(Some(file.clone()), key.clone()).load();
        assert_eq!(reloaded.len(), 1);
        // A forged hash (say, of old content) is not believed.
        let text = std::fs::read_to_string(&file).unwrap();
        let forged = format!("{}{}", "0".repeat(64), &text[64..]);
        std::fs::write(&file, forged).unwrap();
        assert!(Fingerprints::new(Some(file), key).load().is_empty());
    }
}
