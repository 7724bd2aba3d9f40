//! Reading workflow files that anyone may have put in a folder: only regular
//! files, symlinks only while their target stays inside the allowed root,
//! never blocking (a FIFO named `x.yaml` is refused, not opened for
//! reading), a size cap, and a nesting cap checked before any parser sees
//! the text.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Largest workflow file read by default.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 20;
/// Deepest nesting of collections accepted in a workflow file.
pub const MAX_NESTING: usize = 64;

/// Limits for reading workflow files.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Largest file, in bytes.
    pub max_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// The text of the workflow file at `path`, which must be a regular file (a
/// symlink is followed only when its target is inside `root`).
pub fn read(path: &Path, root: Option<&Path>, limits: ReadLimits) -> Result<String, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    if meta.file_type().is_symlink() {
        let target = path
            .canonicalize()
            .map_err(|e| format!("is a symlink whose target cannot be resolved: {e}"))?;
        if let Some(root) = root {
            let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
            if !target.starts_with(&root) {
                return Err(format!(
                    "is a symlink to a file outside `{}`; it was not read",
                    root.display()
                ));
            }
        }
    }
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if !meta.is_file() {
        return Err(
            "is not a regular file (a FIFO, socket, device or directory); only regular files are read"
                .to_owned(),
        );
    }
    if meta.len() > limits.max_bytes {
        return Err(format!(
            "is {} bytes, over the limit of {} bytes for a workflow file",
            meta.len(),
            limits.max_bytes
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.by_ref()
        .take(limits.max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(format!(
            "grew past the limit of {} bytes while it was read",
            limits.max_bytes
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Refuses text whose collections nest deeper than [`MAX_NESTING`]: flow
/// brackets (`[`, `{`), block sequences opened on one line (`- - - x`) and
/// indentation. A cheap scan that ignores quoted strings and comments, so
/// that no parser ever recurses that deep.
pub fn check_nesting(text: &str) -> Result<(), String> {
    let mut flow = 0usize;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        // Each nesting level of block YAML takes at least one more space.
        let mut block = indent;
        let mut rest = trimmed;
        while let Some(after) = rest.strip_prefix("- ").or_else(|| rest.strip_prefix("? ")) {
            block += 2;
            rest = after.trim_start_matches(' ');
        }
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for c in rest.chars() {
            match (quote, c) {
                (Some('"'), '"') if previous != '\\' => quote = None,
                (Some('\''), '\'') => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if previous == ' ' || previous == '\t' => break,
                (None, '[' | '{') => flow += 1,
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
            previous = c;
            if flow > MAX_NESTING {
                return Err(format!(
                    "line {}: collections nest deeper than {MAX_NESTING} levels; a workflow never needs that",
                    number + 1
                ));
            }
        }
        if block > MAX_NESTING * 4 {
            return Err(format!(
                "line {}: indentation nests deeper than a workflow ever needs ({block} columns)",
                number + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_inside_the_root_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a.yaml"), "id: a").unwrap();
        assert_eq!(
            read(&root.join("a.yaml"), Some(&root), ReadLimits::default()).unwrap(),
            "id: a"
        );

        std::fs::write(dir.path().join("secret"), "password").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("s.yaml")).unwrap();
        let err = read(&root.join("s.yaml"), Some(&root), ReadLimits::default()).unwrap_err();
        assert!(err.contains("outside"), "{err}");
        assert!(!err.contains("password"));
        std::os::unix::fs::symlink(root.join("a.yaml"), root.join("inside.yaml")).unwrap();
        assert!(
            read(
                &root.join("inside.yaml"),
                Some(&root),
                ReadLimits::default()
            )
            .is_ok()
        );

        let fifo = root.join("f.yaml");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read(&fifo, Some(&root), ReadLimits::default()).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");

        std::fs::write(root.join("big.yaml"), vec![b'#'; 2048]).unwrap();
        let err = read(
            &root.join("big.yaml"),
            Some(&root),
            ReadLimits { max_bytes: 1024 },
        )
        .unwrap_err();
        assert!(err.contains("over the limit of 1024 bytes"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        assert!(check_nesting("id: x\nphases:\n  - id: a\n    tags: [a, [b, {c: d}]]\n").is_ok());
        assert!(
            check_nesting("guidance: 'brackets [[[[ in quotes' # and [[[[ in comments\n").is_ok()
        );
        let deep = format!("x: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(check_nesting(&deep).unwrap_err().contains("deeper than 64"));
        let dashes = format!("x:\n  {}y\n", "- ".repeat(10_000));
        assert!(check_nesting(&dashes).is_err());
    }
}
