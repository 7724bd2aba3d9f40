//! Secret scanning: walks the files under `cwd` through the workspace (no
//! program runs), reads each text file once and reports every credential the
//! [`Detector`] finds that the allow-list does not allow.

use std::collections::VecDeque;

use checkrail_sdk::{Error, Finding, Result, Workspace};

use crate::allow::{AllowList, inline_allowed};
use crate::detect::{Detector, Hit};
use checkrail_sdk::tool::plural;

/// Directories never scanned: VCS data, build output, dependencies and
/// virtualenvs, caches.
pub const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "target",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
];

/// checkrail's per-check scratch directories hold tool output, not sources.
const SCRATCH: &str = ".checkrail/scratch";

/// Most entries one directory listing may return.
const GLOB_LIMIT: u32 = 100_000;

/// What to scan and how.
pub struct Scan<'a> {
    pub cwd: &'a str,
    pub max_file_bytes: u64,
    pub max_files: usize,
    pub allow_file: &'a str,
}

/// What the scan found and counted.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Secrets reported.
    pub found: usize,
    /// Secrets the allow-list or an inline marker allowed.
    pub allowed: usize,
    /// Files read and scanned.
    pub scanned: usize,
    /// Files left out for their size.
    pub too_large: Vec<String>,
    /// Files left out as binary.
    pub binary: usize,
}

impl Report {
    /// One line for the summary.
    pub fn summary(&self) -> String {
        let mut s = match self.found {
            0 => format!("no secrets in {}", plural(self.scanned, "file")),
            n => format!(
                "{} in {}",
                plural(n, "possible secret"),
                plural(self.scanned, "file")
            ),
        };
        if self.allowed > 0 {
            s.push_str(&format!(" ({} allowed)", self.allowed));
        }
        s
    }
}

/// Scans the workspace.
pub fn scan(ws: &Workspace, scan: &Scan<'_>) -> Result<Report> {
    let detector =
        Detector::new().map_err(|e| Error::new(format!("compile the secret patterns: {e}")))?;
    let (allow, mut findings) = AllowList::load(ws, scan.allow_file);
    let mut report = Report::default();
    let (files, walk_problems) = files(ws, scan)?;
    findings.extend(walk_problems);
    for (path, size) in files {
        if path == scan.allow_file || allow.allows_path(&path) {
            continue;
        }
        if size > scan.max_file_bytes {
            report.too_large.push(path);
            continue;
        }
        let bytes = match ws.read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                findings.push(
                    Finding::warning(format!("`{path}` was not scanned for secrets: {e}"))
                        .path(&path)
                        .code("unreadable"),
                );
                continue;
            }
        };
        if bytes.contains(&0) {
            report.binary += 1;
            continue;
        }
        report.scanned += 1;
        let text = String::from_utf8_lossy(&bytes);
        let hits = detector.scan(&text);
        if hits.is_empty() {
            continue;
        }
        let lines: Vec<&str> = text.split('\n').collect();
        for hit in hits {
            if allow.allows(&path, hit.line, &hit.fingerprint) || inline_allowed(&lines, hit.line) {
                report.allowed += 1;
            } else {
                report.found += 1;
                findings.push(finding(&path, &hit, scan.allow_file));
            }
        }
    }
    if !report.too_large.is_empty() {
        let n = report.too_large.len();
        findings.push(
            Finding::info(format!(
                "{} over {} bytes {} not scanned for secrets, e.g. `{}`",
                plural(n, "file"),
                scan.max_file_bytes,
                if n == 1 { "was" } else { "were" },
                report.too_large[0]
            ))
            .fix_hint("raise `max_file_bytes` to scan them")
            .code("file-too-large"),
        );
    }
    report.findings = findings;
    Ok(report)
}

/// The finding for one hit: kind, place and fingerprint, never the secret.
fn finding(path: &str, hit: &Hit, allow_file: &str) -> Finding {
    Finding::error(format!(
        "{} in `{path}` ({})",
        capitalize(hit.kind.label()),
        hit.fingerprint
    ))
    .path(path)
    .line(hit.line)
    .column(hit.column)
    .fix_hint(format!(
        "remove it from the file and load it at run time (environment, secret store); if it was ever committed, revoke and rotate it. If it is not a real secret (a test fixture), a human can add `{}` to `{allow_file}`, or add a `checkrail:allow-secret` comment on the line or the line above",
        hit.fingerprint
    ))
    .code(format!("secret-{}", hit.kind.id()))
}

fn capitalize(label: &str) -> String {
    let mut chars = label.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Workspace-relative paths of regular files, with their sizes.
type Files = Vec<(String, u64)>;

/// The regular files under `cwd` with their sizes, sorted, never entering
/// [`SKIPPED_DIRS`] or following symlinks; one listing and one batched stat
/// per directory.
fn files(ws: &Workspace, scan: &Scan<'_>) -> Result<(Files, Vec<Finding>)> {
    let mut problems = Vec::new();
    match ws.stat(scan.cwd) {
        Ok(entry) if entry.is_dir() => {}
        _ => {
            problems.push(
                Finding::error(format!(
                    "`cwd` `{}` is not a directory of the workspace",
                    scan.cwd
                ))
                .fix_hint("set `cwd` to a workspace-relative directory")
                .code("missing"),
            );
            return Ok((Vec::new(), problems));
        }
    }
    let mut files = Vec::new();
    let mut dirs = VecDeque::from([scan.cwd.to_owned()]);
    while let Some(dir) = dirs.pop_front() {
        let pattern = if dir == "." {
            "*".to_owned()
        } else {
            format!("{dir}/*")
        };
        let children = ws
            .glob(&pattern, GLOB_LIMIT)
            .map_err(|e| Error::new(format!("list `{dir}`: {e}")))?;
        let refs: Vec<&str> = children.iter().map(String::as_str).collect();
        for (path, stat) in children.iter().zip(ws.stat_many(&refs)) {
            let Ok(entry) = stat else { continue };
            if entry.is_symlink {
                continue;
            }
            let name = path.rsplit('/').next().unwrap_or(path);
            if entry.is_dir() && !SKIPPED_DIRS.contains(&name) && path != SCRATCH {
                dirs.push_back(path.clone());
            } else if entry.is_file() {
                files.push((path.clone(), entry.size));
            }
        }
        if files.len() > scan.max_files {
            problems.push(
                Finding::error(format!(
                    "the workspace has more than {} files under `{}`; the secret scan stopped there",
                    scan.max_files, scan.cwd
                ))
                .fix_hint("narrow the scan with `cwd`, or raise `max_files`")
                .code("too-many-files"),
            );
            files.truncate(scan.max_files);
            break;
        }
    }
    files.sort();
    Ok((files, problems))
}
