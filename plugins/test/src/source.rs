//! Fingerprints of test functions' source, so a later phase can tell that a
//! test was weakened, ignored or replaced since an earlier one.
//!
//! A test is found by name in the workspace's source (Rust: `fn name` in
//! `*.rs` files; Python: `def name` in `test_*.py` and `*_test.py`;
//! JavaScript and TypeScript: the `test("title", ...)` or `it(...)` call in
//! its `describe` blocks; Go: `func TestName` in the `_test.go` files of
//! its package's directory), and its
//! fingerprint is the SHA-256 of its attributes or decorators and its body,
//! with trailing whitespace, surrounding blank lines and the common
//! indentation taken out: moving or re-indenting a test keeps its
//! fingerprint, any change inside it does not.

mod go;
mod js;
mod python;
mod rust;
mod scan;

use std::collections::BTreeMap;

use checkrail_sdk::{Workspace, normalize_path};

use sha2::{Digest, Sha256};

/// Directories never searched: build output, VCS data, installed packages.
const SKIPPED_DIRS: &[&str] = &[
    "target",
    ".git",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
];

/// Most files one glob lists.
const GLOB_LIMIT: u32 = 100_000;

/// Which language's tests to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `fn name` in `*.rs`.
    Rust,
    /// `def name` in `test_*.py` / `*_test.py`.
    Python,
    /// A `test("title", ...)` call in a JavaScript or TypeScript file.
    Script,
    /// `func TestName` in the `*_test.go` files of a package's directory.
    Go,
}

/// A test whose source to fingerprint.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// Its full name without parameters, as the runner reported it
    /// (`tests::parser::handles_empty`, `tests/test_io.py::TestX::test_read`).
    pub name: String,
    /// Workspace paths of files the runner placed the test in, best first.
    pub files: Vec<String>,
}

/// `name` without a trailing parametrization (`test_add[1-2]` → `test_add`).
pub fn base_name(name: &str) -> &str {
    match name.find('[') {
        Some(open) if name.ends_with(']') => &name[..open],
        _ => name,
    }
}

/// Each wanted test found under `cwd`, by name; tests not found are left
/// out.
pub fn fingerprints(
    ws: &Workspace,
    cwd: &str,
    langs: &[Lang],
    wanted: &[Wanted],
) -> BTreeMap<String, Found> {
    let mut found = BTreeMap::new();
    if wanted.is_empty() {
        return found;
    }
    for lang in langs {
        let missing: Vec<&Wanted> = wanted
            .iter()
            .filter(|w| !found.contains_key(&w.name))
            .collect();
        let hashes = match lang {
            Lang::Rust => rust_fingerprints(ws, cwd, &missing),
            Lang::Python => python_fingerprints(ws, cwd, &missing),
            Lang::Script => script_fingerprints(ws, cwd, &missing),
            Lang::Go => go::fingerprints(ws, cwd, &missing),
        };
        found.extend(hashes);
    }
    found
}

/// The files frozen with the required tests found: each test's own file
/// and the files [`frozen_with`] it, each with the SHA-256 of its bytes. A
/// test file that gains a helper, an autouse fixture or an import that
/// shadows the code under test keeps its test function as it was; the file
/// does not.
/// Only test-side files count ([`test_side`]): a Rust unit test lives in
/// the product's own source, which the fix must change.
pub fn frozen_files(ws: &Workspace, found: &BTreeMap<String, Found>) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for test in found.values().filter(|t| test_side(&t.path)) {
        let Some(hash) = file_hash(ws, &test.path) else {
            continue;
        };
        files.insert(test.path.clone(), hash);
        for near in frozen_with(ws, &test.path) {
            if let Some(hash) = file_hash(ws, &near) {
                files.insert(near, hash);
            }
        }
    }
    files
}

/// The test-side files that shape what the tests in the test file `path`
/// do, besides that file. Go compiles every `_test.go` file of a directory
/// into one test binary, so a helper, an `init` or a `TestMain` (which runs
/// before every test, and can skip them all or exit 0) in any of them
/// counts: all of them, present or added later. Elsewhere, the files its
/// source imports from beside it (Python modules and packages, Rust `mod`
/// files, JavaScript and TypeScript `./` imports).
fn frozen_with(ws: &Workspace, path: &str) -> Vec<String> {
    if path.ends_with("_test.go") {
        let dir = path.rsplit_once('/').map_or(".", |(dir, _)| dir);
        let mut files = go::test_files(ws, dir);
        files.retain(|f| f != path);
        return files;
    }
    let Ok(text) = ws.read_to_string(path) else {
        return Vec::new();
    };
    // Only test code: a test beside the product (`test_calc.py` next to
    // `calc.py`) imports the product, which the fix must change.
    imported_beside(path, &text)
        .into_iter()
        .filter(|p| test_side(p))
        .collect()
}

/// Whether `path` is test code rather than the product: under a `tests`,
/// `test`, `__tests__` or `spec` folder, or named as test files are
/// (`test_*.py`, `*_test.py`, `conftest.py`, `*_test.go`, `*.test.*`,
/// `*.spec.*`).
pub fn test_side(path: &str) -> bool {
    let mut parts = path.split('/');
    let name = parts.next_back().unwrap_or("");
    parts.any(|dir| matches!(dir, "tests" | "test" | "__tests__" | "spec"))
        || (name.starts_with("test_") && name.ends_with(".py"))
        || name.ends_with("_test.py")
        || name == "conftest.py"
        || name.ends_with("_test.go")
        || name.contains(".test.")
        || name.contains(".spec.")
}

/// The SHA-256 (hex) of a file's bytes; `None` when it cannot be read.
pub fn file_hash(ws: &Workspace, path: &str) -> Option<String> {
    let bytes = ws.read(path).ok()?;
    Some(
        Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
    )
}

/// Files next to `path` that its source imports: the candidates, whether
/// or not they exist.
fn imported_beside(path: &str, text: &str) -> Vec<String> {
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let beside = |name: &str| {
        if dir.is_empty() {
            name.to_owned()
        } else {
            format!("{dir}/{name}")
        }
    };
    let mut found = Vec::new();
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    for line in text.lines().map(str::trim) {
        match extension {
            "py" => {
                let rest = line
                    .strip_prefix("from ")
                    .or_else(|| line.strip_prefix("import "));
                let Some(rest) = rest else { continue };
                for module in rest.split(',').map(str::trim) {
                    let first = module
                        .trim_start_matches('.')
                        .split(['.', ' '])
                        .next()
                        .unwrap_or("");
                    if !first.is_empty() {
                        found.push(beside(&format!("{first}.py")));
                        found.push(beside(&format!("{first}/__init__.py")));
                    }
                    if line.starts_with("from ") {
                        break;
                    }
                }
            }
            "rs" => {
                let line = line.strip_prefix("pub ").unwrap_or(line);
                if let Some(name) = line.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
                    found.push(beside(&format!("{}.rs", name.trim())));
                    found.push(beside(&format!("{}/mod.rs", name.trim())));
                }
            }
            "js" | "mjs" | "cjs" | "jsx" | "ts" | "mts" | "cts" | "tsx" => {
                for quote in ['\'', '"'] {
                    for piece in line.split(quote).skip(1).step_by(2) {
                        let Some(relative) = piece.strip_prefix("./") else {
                            continue;
                        };
                        found.push(beside(relative));
                        for ext in ["js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx"] {
                            found.push(beside(&format!("{relative}.{ext}")));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    found.sort();
    found.dedup();
    found.retain(|f| f != path);
    found
}

/// Lines without trailing whitespace, surrounding blank lines or their
/// common indentation.
pub fn normalize(source: &str) -> String {
    let lines: Vec<&str> = source.lines().map(str::trim_end).collect();
    let first = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let last = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(first, |p| p + 1);
    let lines = &lines[first..last];
    let common = lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(common..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lowercase hex SHA-256 of the normalised source: the format recorded
/// in the rule's facts since the first release, so old facts still match.
fn fingerprint(source: &str) -> String {
    Sha256::digest(normalize(source).as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Files under `dir` whose name matches one of `patterns`, without
/// descending into [`SKIPPED_DIRS`].
fn files_under(ws: &Workspace, dir: &str, patterns: &[&str]) -> Vec<String> {
    ws.files_named(dir, patterns, SKIPPED_DIRS, GLOB_LIMIT)
}

/// A test function found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// SHA-256 (hex) of its normalized source.
    pub hash: String,
    /// Workspace path of its file.
    pub path: String,
    /// 1-based line its source starts on.
    pub line: u32,
}

impl Found {
    fn new(path: &str, line_index: usize, source: &str) -> Self {
        Self {
            hash: fingerprint(source),
            path: path.to_owned(),
            line: u32::try_from(line_index + 1).unwrap_or(u32::MAX),
        }
    }
}

/// A candidate function for a wanted Rust test, and how well it fits.
struct Candidate {
    score: u32,
    found: Found,
}

fn rust_fingerprints(ws: &Workspace, cwd: &str, wanted: &[&Wanted]) -> BTreeMap<String, Found> {
    // Doc-tests (`src/lib.rs - add (line 5)`) have no function of their own.
    let wanted: Vec<&Wanted> = wanted
        .iter()
        .copied()
        .filter(|w| !w.name.contains(char::is_whitespace))
        .collect();
    if wanted.is_empty() {
        return BTreeMap::new();
    }
    let mut best: BTreeMap<&str, Candidate> = BTreeMap::new();
    for path in files_under(ws, cwd, &["*.rs"]) {
        let Ok(text) = ws.read_to_string(&path) else {
            continue;
        };
        let has_tests = text.contains("#[test]");
        let mut masked: Option<String> = None;
        let path_parts: Vec<&str> = path
            .split('/')
            .map(|p| p.strip_suffix(".rs").unwrap_or(p))
            .collect();
        for w in &wanted {
            let (modules, name) = match w.name.rsplit_once("::") {
                Some((modules, name)) => (modules.split("::").collect::<Vec<_>>(), name),
                None => (Vec::new(), w.name.as_str()),
            };
            if !text.contains(name) {
                continue;
            }
            let masked = masked.get_or_insert_with(|| rust::mask(&text));
            for function in rust::functions(masked, name) {
                if !function.is_test && !has_tests {
                    continue;
                }
                let mut score = 0;
                if function.is_test {
                    score += 100;
                }
                if w.files.contains(&path) {
                    score += 50;
                }
                score += modules
                    .iter()
                    .filter(|m| function.modules.iter().any(|f| f == *m) || path_parts.contains(m))
                    .count() as u32;
                // Files are sorted and functions in order: the first of
                // equal fits wins.
                if best.get(w.name.as_str()).is_none_or(|b| score > b.score) {
                    let line = text[..function.span.start].matches('\n').count();
                    let found = Found::new(&path, line, &text[function.span.clone()]);
                    best.insert(&w.name, Candidate { score, found });
                }
            }
        }
    }
    best.into_iter()
        .map(|(name, c)| (name.to_owned(), c.found))
        .collect()
}

fn python_fingerprints(ws: &Workspace, cwd: &str, wanted: &[&Wanted]) -> BTreeMap<String, Found> {
    let mut found = BTreeMap::new();
    let mut fallback: Vec<(&Wanted, &str)> = Vec::new();
    for w in wanted {
        let parts: Vec<&str> = w.name.split("::").collect();
        let name = parts.last().copied().unwrap_or("");
        let file = parts.iter().position(|p| p.ends_with(".py"));
        let Some(file_at) = file else {
            fallback.push((w, name));
            continue;
        };
        let classes = &parts[file_at + 1..parts.len() - 1];
        let paths = python_candidates(ws, cwd, parts[file_at], &w.files);
        let hit = paths.iter().find_map(|path| {
            let text = ws.read_to_string(path).ok()?;
            let lines = python::function(&text, Some(classes), name)?;
            Some(python_found(path, &text, lines))
        });
        if let Some(hit) = hit {
            found.insert(w.name.clone(), hit);
        }
    }
    if fallback.is_empty() {
        return found;
    }
    for path in files_under(ws, cwd, &["test_*.py", "*_test.py"]) {
        if fallback.iter().all(|(w, _)| found.contains_key(&w.name)) {
            break;
        }
        let Ok(text) = ws.read_to_string(&path) else {
            continue;
        };
        for (w, name) in &fallback {
            if found.contains_key(&w.name) || !text.contains(name) {
                continue;
            }
            if let Some(lines) = python::function(&text, None, name) {
                found.insert(w.name.clone(), python_found(&path, &text, lines));
            }
        }
    }
    found
}

/// JavaScript and TypeScript sources.
const SCRIPT_FILES: &[&str] = &[
    "*.js", "*.cjs", "*.mjs", "*.jsx", "*.ts", "*.cts", "*.mts", "*.tsx",
];

/// A JavaScript test named `[file::]block::…::title`: the best fit among
/// the files the runner placed it in, the file its name gives (relative to
/// `cwd`), and every script under `cwd`.
fn script_fingerprints(ws: &Workspace, cwd: &str, wanted: &[&Wanted]) -> BTreeMap<String, Found> {
    let mut found = BTreeMap::new();
    let mut all: Option<Vec<String>> = None;
    for w in wanted {
        let mut parts: Vec<&str> = w.name.split("::").collect();
        let named = parts
            .first()
            .filter(|p| SCRIPT_FILES.iter().any(|g| p.ends_with(&g[1..])))
            .and_then(|file| checkrail_sdk::tool_paths::join(cwd, file));
        if named.is_some() {
            parts.remove(0);
        }
        let Some((title, blocks)) = parts.split_last() else {
            continue;
        };
        let mut files: Vec<String> = w.files.clone();
        files.extend(named.clone());
        if files.is_empty() {
            files = all
                .get_or_insert_with(|| files_under(ws, cwd, SCRIPT_FILES))
                .clone();
        }
        let mut best: Option<(usize, Found)> = None;
        for path in files {
            let Ok(text) = ws.read_to_string(&path) else {
                continue;
            };
            if let Some((span, fit)) = js::test(&text, blocks, title)
                && best.as_ref().is_none_or(|(f, _)| fit > *f)
            {
                let line = text[..span.start].matches('\n').count();
                // From the start of its line, so indentation normalizes away.
                let from = text[..span.start].rfind('\n').map_or(0, |p| p + 1);
                best = Some((fit, Found::new(&path, line, &text[from..span.end])));
            }
        }
        if let Some((_, hit)) = best {
            found.insert(w.name.clone(), hit);
        }
    }
    found
}

fn python_found(path: &str, text: &str, lines: std::ops::Range<usize>) -> Found {
    let start = lines.start;
    let source = text.split('\n').collect::<Vec<_>>()[lines].join("\n");
    Found::new(path, start, &source)
}

/// Workspace paths the test file `file` (relative to pytest's rootdir,
/// which is `cwd` or one of its ancestors) may be, files the runner
/// placed the test in first.
fn python_candidates(ws: &Workspace, cwd: &str, file: &str, placed: &[String]) -> Vec<String> {
    let mut out: Vec<String> = placed
        .iter()
        .filter(|p| p.ends_with(file.rsplit('/').next().unwrap_or(file)))
        .cloned()
        .collect();
    let mut dir = cwd.to_owned();
    loop {
        let joined = if dir == "." {
            file.to_owned()
        } else {
            format!("{dir}/{file}")
        };
        if let Ok(path) = normalize_path(&joined)
            && !out.contains(&path)
            && ws.stat(&path).is_ok_and(|e| e.is_file())
        {
            out.push(path);
        }
        if dir == "." {
            break;
        }
        dir = dir
            .rsplit_once('/')
            .map_or(".".to_owned(), |(p, _)| p.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_lowercase_hex_sha256() {
        // A source that normalises to `abc`: the published SHA-256 vector.
        assert_eq!(
            fingerprint("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn normalizing_ignores_trailing_space_and_indentation_only() {
        let a = "    #[test]\n    fn t() {\n        assert!(x);\n    }\n";
        let b = "\n#[test]   \nfn t() {\n    assert!(x);\n}\n\n";
        assert_eq!(normalize(a), normalize(b));
        assert_eq!(normalize(a), "#[test]\nfn t() {\n    assert!(x);\n}");
        let weakened = "#[test]\nfn t() {\n    assert!(true);\n}";
        assert_ne!(fingerprint(a), fingerprint(weakened));
    }

    #[test]
    fn base_names_drop_parameters() {
        assert_eq!(base_name("t.py::test_add[1-2]"), "t.py::test_add");
        assert_eq!(base_name("t.py::test_add"), "t.py::test_add");
    }
}
