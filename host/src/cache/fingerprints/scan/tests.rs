//! The one walk against the two it replaces: the same inputs as
//! [`super::super::walk`] (which `ignore` decides) and the same listing as
//! `NativeWorkspace::list_skipping`, on generated trees with ignore files
//! of every kind at every level.

use std::path::Path;

use proptest::prelude::*;

use super::*;

const LISTING_MAX: usize = 200_000;

fn write(root: &Path, path: &str, text: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

/// The input files with their fingerprints.
type Inputs = Vec<(String, Fingerprint)>;

/// What the two walks the scan replaces find.
fn reference(root: &Path) -> (Option<Inputs>, Option<Vec<String>>) {
    let inputs = super::super::walk(root).map(|mut inputs| {
        inputs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        inputs
    });
    let listing = checkrail_sandbox::NativeWorkspace::open(root)
        .unwrap()
        .list_skipping(LISTING_MAX, SKIPPED_DIRS, &mut || false)
        .ok();
    (inputs, listing)
}

fn assert_same_as_the_two_walks(root: &Path) {
    let scanned = scan(root, LISTING_MAX, true);
    let (inputs, listing) = reference(root);
    assert_eq!(scanned.inputs, inputs, "inputs");
    assert_eq!(scanned.listing, listing, "listing");
    let listed_only = scan(root, LISTING_MAX, false);
    assert_eq!(listed_only.listing, listing, "listing without inputs");
    assert_eq!(listed_only.inputs, None);
}

/// Names a generated tree is made of: plain, hidden, dotted, the skipped
/// directories and the places ignore files live.
const NAMES: &[&str] = &[
    "a",
    "b",
    "c",
    "x.log",
    "y.txt",
    ".hidden",
    "build",
    "target",
    "node_modules",
    ".checkrail",
    "scratch",
    "a.b",
];

/// Lines an ignore file is made of: names, globs, anchors, directory-only
/// lines, negations, comments, escapes and a line that does not parse.
const LINES: &[&str] = &[
    "a",
    "b",
    "*.log",
    "/a",
    "a/",
    "!a",
    "!*.log",
    "**/b",
    "c/**",
    "*",
    "!b/",
    "!c",
    "x.log",
    "/build/",
    "b/y.txt",
    "[ab]",
    "#a",
    "",
    "\\!a",
    "a/**/y.txt",
    ".hidden",
    "!.hidden/",
    "y.*",
    "[",
];

#[derive(Debug, Clone)]
enum Made {
    File(Vec<usize>),
    Dir(Vec<usize>),
    /// An ignore file (0 `.gitignore`, 1 `.ignore`, 2 git's exclude
    /// file) in a directory, with its lines.
    Rules(Vec<usize>, usize, Vec<usize>),
}

/// A name, mostly one of the first three, so that rules at different
/// levels often speak of the same paths.
fn name() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 0..3usize, 1 => 0..NAMES.len()]
}

fn made() -> impl Strategy<Value = Made> {
    let dir = proptest::collection::vec(name(), 0..3);
    prop_oneof![
        4 => proptest::collection::vec(name(), 1..4).prop_map(Made::File),
        1 => proptest::collection::vec(name(), 1..4).prop_map(Made::Dir),
        3 => (dir, 0..3usize, proptest::collection::vec(0..LINES.len(), 1..5))
            .prop_map(|(dir, kind, lines)| Made::Rules(dir, kind, lines)),
    ]
}

fn path_of(parts: &[usize]) -> String {
    parts
        .iter()
        .map(|&i| NAMES[i])
        .collect::<Vec<_>>()
        .join("/")
}

/// Makes what it can of `made` under `root` (a file where a directory
/// already stands, or under a file, is left out).
fn build(root: &Path, made: &[Made]) {
    for item in made {
        let (path, text) = match item {
            Made::File(parts) => (path_of(parts), "x".to_owned()),
            Made::Dir(parts) => {
                let _ = std::fs::create_dir_all(root.join(path_of(parts)));
                continue;
            }
            Made::Rules(dir, kind, lines) => {
                let dir = path_of(dir);
                let file = [".gitignore", ".ignore", ".git/info/exclude"][*kind];
                let path = if dir.is_empty() {
                    file.to_owned()
                } else {
                    format!("{dir}/{file}")
                };
                let text: Vec<&str> = lines.iter().map(|&l| LINES[l]).collect();
                (path, text.join("\n") + "\n")
            }
        };
        let full = root.join(&path);
        if let Some(parent) = full.parent()
            && std::fs::create_dir_all(parent).is_ok()
        {
            let _ = std::fs::write(&full, text);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn one_walk_finds_what_the_two_walks_find(made in proptest::collection::vec(made(), 1..40)) {
        let ws = tempfile::tempdir().unwrap();
        build(ws.path(), &made);
        assert_same_as_the_two_walks(ws.path());
    }
}

#[test]
fn a_bundled_project_is_listed_and_fingerprinted_as_before() {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path();
    write(root, "src/lib.rs", "fn f() {}");
    write(root, ".gitignore", "*.log\n/dist\n");
    write(root, "run.log", "noise");
    write(root, "dist/conftest.py", "ignored, still judging");
    write(root, "target/debug/out", "built");
    write(root, ".checkrail/secrets-allow", "tests/keys.pem\n");
    write(root, ".checkrail/scratch/abc/junit.xml", "<x/>");
    write(root, ".git/info/exclude", "src/generated.rs\n");
    write(root, "src/generated.rs", "// made");
    std::os::unix::fs::symlink("src", root.join("link")).unwrap();
    let scanned = scan(root, LISTING_MAX, true);
    let inputs: Vec<&str> = scanned
        .inputs
        .as_ref()
        .unwrap()
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        inputs,
        [
            ".checkrail/secrets-allow",
            ".gitignore",
            "link",
            "src/lib.rs"
        ]
    );
    let listing = scanned.listing.as_ref().unwrap();
    assert!(
        listing.iter().any(|p| p == "dist/conftest.py"),
        "{listing:?}"
    );
    assert!(listing.iter().any(|p| p == "target"), "{listing:?}");
    assert!(
        !listing.iter().any(|p| p.starts_with("target/")),
        "{listing:?}"
    );
    assert_same_as_the_two_walks(root);
}

/// A worktree's `.git` is a file naming its git directory, whose
/// `commondir` holds `info/exclude`.
#[test]
fn a_worktree_reads_the_exclude_file_of_its_common_git_directory() {
    let ws = tempfile::tempdir().unwrap();
    let git = tempfile::tempdir().unwrap();
    let root = ws.path();
    write(git.path(), "info/exclude", "secret.txt\n");
    write(git.path(), "worktrees/w/commondir", "../..\n");
    let real = git.path().join("worktrees/w");
    write(root, ".git", &format!("gitdir: {}\n", real.display()));
    write(root, "secret.txt", "x");
    write(root, "kept.txt", "x");
    let scanned = scan(root, LISTING_MAX, true);
    let inputs: Vec<&str> = scanned
        .inputs
        .as_ref()
        .unwrap()
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(inputs, [".git", "kept.txt"]);
    assert_same_as_the_two_walks(root);
}

#[test]
fn a_listing_past_its_limit_is_not_given_and_the_inputs_still_are() {
    let ws = tempfile::tempdir().unwrap();
    for i in 0..5 {
        write(ws.path(), &format!("f{i}"), "x");
    }
    let scanned = scan(ws.path(), 4, true);
    assert_eq!(scanned.listing, None);
    assert_eq!(scanned.inputs.map(|i| i.len()), Some(5));
}
