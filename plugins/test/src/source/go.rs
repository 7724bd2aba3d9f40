//! Finding a Go test's source: `func TestName(t *testing.T) { … }` (or a
//! `Fuzz…`/`Example…` function, which `go test` reports as tests too) in
//! the `_test.go` files of its package's directory, with braces inside
//! comments, interpreted and raw strings and rune literals ignored.

use std::collections::BTreeMap;
use std::ops::Range;

use checkrail_sdk::{Workspace, tool_paths};

use super::scan::{
    blank, find_from, ident_after, keyword_positions, line_start, matching_close, skip_space,
};
use super::{Found, GLOB_LIMIT, Wanted};
use crate::gotest;

/// `text` with comments and the insides of string and rune literals
/// replaced by spaces (newlines kept), so every byte offset still points at
/// the same place and only code delimiters are left to match.
pub fn mask(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = find_from(b, i, b"\n").unwrap_or(b.len());
                blank(&mut out, i..end);
                i = end;
            }
            // Go's block comments do not nest.
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = find_from(b, i + 2, b"*/").map_or(b.len(), |e| e + 2);
                blank(&mut out, i..end);
                i = end;
            }
            b'`' => {
                let end = find_from(b, i + 1, b"`").unwrap_or(b.len());
                blank(&mut out, i + 1..end);
                i = end + 1;
            }
            quote @ (b'"' | b'\'') => {
                let mut j = i + 1;
                while j < b.len() && b[j] != quote && b[j] != b'\n' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                blank(&mut out, i + 1..end);
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The top-level function `name` in `text`: from the start of its `func`
/// line to its closing brace. A method of the same name (`func (s *S)
/// name(`) is not it.
pub fn function(text: &str, name: &str) -> Option<Range<usize>> {
    if !text.contains(name) {
        return None;
    }
    let masked = mask(text);
    let m = masked.as_bytes();
    for at in keyword_positions(&masked, "func") {
        // A method's receiver comes before its name, so no name follows.
        let Some((ident, after)) = ident_after(m, at + "func".len()) else {
            continue;
        };
        if ident != name {
            continue;
        }
        let params = skip_space(m, after);
        if m.get(params) != Some(&b'(') {
            continue;
        }
        let Some(params_end) = matching_close(m, params) else {
            continue;
        };
        // A test returns nothing: its body follows the parameters.
        let body = skip_space(m, params_end + 1);
        if m.get(body) != Some(&b'{') {
            continue;
        }
        if let Some(end) = matching_close(m, body) {
            return Some(line_start(m, at)..end + 1);
        }
    }
    None
}

/// A Go test named `<import path>::TestName` (a subtest `TestName/case` is
/// its parent's function): the top-level `func TestName` in the files the
/// runner placed it in, or else in the `_test.go` files of the package's
/// directory, which the module's `go.mod` tells from the import path.
pub fn fingerprints(ws: &Workspace, cwd: &str, wanted: &[&Wanted]) -> BTreeMap<String, Found> {
    let module = gotest::module(ws, cwd);
    let mut found = BTreeMap::new();
    for w in wanted {
        // An import path has no `::`; a subtest's name may.
        let Some((package, test)) = w.name.split_once("::") else {
            continue;
        };
        let top = test.split('/').next().unwrap_or(test);
        let mut files: Vec<String> = w
            .files
            .iter()
            .filter(|f| f.ends_with("_test.go"))
            .cloned()
            .collect();
        let dir = module
            .as_ref()
            .and_then(|m| tool_paths::join(&m.dir, &gotest::package_dir(package, Some(&m.path))));
        files.extend(dir.iter().flat_map(|dir| test_files(ws, dir)));
        let hit = files.iter().find_map(|path| {
            let text = ws.read_to_string(path).ok()?;
            let span = function(&text, top)?;
            let line = text[..span.start].matches('\n').count();
            Some(Found::new(path, line, &text[span]))
        });
        if let Some(hit) = hit {
            found.insert(w.name.clone(), hit);
        }
    }
    found
}

/// The `_test.go` files `go test` compiles in the directory `dir` (it
/// leaves out names starting with `_` or `.`), sorted.
pub fn test_files(ws: &Workspace, dir: &str) -> Vec<String> {
    let Some(pattern) = tool_paths::join(dir, "*_test.go") else {
        return Vec::new();
    };
    let mut files = ws.glob(&pattern, GLOB_LIMIT).unwrap_or_default();
    files.retain(|path| {
        let name = path.rsplit('/').next().unwrap_or(path);
        !name.starts_with(['_', '.'])
    });
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{self, Lang, file_hash, fingerprint, frozen_files};

    const SOURCE: &str = r#"package calc

import "testing"

// func TestAdd(t *testing.T) { in a comment }
type suite struct{}

func (s *suite) TestAdd(t *testing.T) {
	t.Fatal("the method, not the function")
}

func TestAdd(tt *testing.T) {
	cases := map[string]rune{"}": '}', "{{": '{', `}
}`: '\''}
	/* } */ s := "\"}"
	tt.Run("negative", func(t *testing.T) {
		if Add(-1, -1) != -2 {
			t.Errorf("want -2 }")
		}
	})
	_, _ = cases, s
}

func FuzzAdd(f *testing.F) { f.Add(1) }
"#;

    #[test]
    fn masks_comments_strings_raw_strings_and_runes_but_keeps_offsets() {
        let masked = mask(SOURCE);
        assert_eq!(masked.len(), SOURCE.len());
        assert_eq!(masked.lines().count(), SOURCE.lines().count());
        assert!(!masked.contains("in a comment"));
        assert!(!masked.contains("want -2"));
        assert_eq!(
            masked.matches('{').count(),
            masked.matches('}').count(),
            "{masked}"
        );
    }

    #[test]
    fn finds_the_function_not_the_method_with_its_whole_body() {
        let span = function(SOURCE, "TestAdd").unwrap();
        let text = &SOURCE[span];
        assert!(text.starts_with("func TestAdd(tt *testing.T) {"), "{text}");
        assert!(text.ends_with("_, _ = cases, s\n}"), "{text}");
        assert!(!text.contains("the method"), "{text}");

        let fuzz = function(SOURCE, "FuzzAdd").unwrap();
        assert_eq!(&SOURCE[fuzz], "func FuzzAdd(f *testing.F) { f.Add(1) }");
        assert!(function(SOURCE, "TestSub").is_none());
        assert!(function(SOURCE, "suite").is_none(), "a type is no function");
    }

    #[test]
    fn go_tests_are_found_in_their_package_and_frozen_with_its_test_files() {
        let tw = checkrail_sdk::testing::TestWorkspace::new().unwrap();
        tw.write("go.mod", "module example.com/demo\n\ngo 1.19\n")
            .unwrap();
        let calc_test = "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tt.Run(\"negative\", func(t *testing.T) {\n\t\tif Add(-1, -1) != -2 {\n\t\t\tt.Fatal(\"}\")\n\t\t}\n\t})\n}\n";
        tw.write("calc/calc_test.go", calc_test).unwrap();
        tw.write("calc/helpers_test.go", "package calc\n\nfunc helper() {}\n")
            .unwrap();
        // `go test` ignores it.
        tw.write("calc/_draft_test.go", "package calc\n").unwrap();
        // Other packages, with a test of the same name.
        let other = "package other\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {}\n";
        tw.write("calc/other/other_test.go", other).unwrap();
        tw.write("other/other_test.go", other).unwrap();
        let ws = Workspace::open(tw.path()).unwrap();
        let wanted = |name: &str| Wanted {
            name: name.to_owned(),
            files: Vec::new(),
        };
        let subtest = "example.com/demo/calc::TestAdd/negative";
        let all = [
            wanted(subtest),
            wanted("example.com/demo/other::TestAdd"),
            wanted("example.com/demo/calc::TestGone"),
        ];
        // From a directory below the module's root too.
        for cwd in [".", "calc"] {
            let found = source::fingerprints(&ws, cwd, &[Lang::Go], &all);
            let names: Vec<&str> = found.keys().map(String::as_str).collect();
            assert_eq!(names, [subtest, "example.com/demo/other::TestAdd"]);
            let add = &found[subtest];
            assert_eq!(add.path, "calc/calc_test.go");
            assert_eq!(add.line, 5);
            let function = &calc_test[calc_test.find("func TestAdd").unwrap()..];
            assert_eq!(add.hash, fingerprint(function));
            assert_eq!(
                found["example.com/demo/other::TestAdd"].path,
                "other/other_test.go"
            );
        }

        let found = source::fingerprints(&ws, ".", &[Lang::Go], &all[..1]);
        let files = frozen_files(&ws, &found);
        let paths: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["calc/calc_test.go", "calc/helpers_test.go"]);
        assert_eq!(
            files["calc/helpers_test.go"],
            file_hash(&ws, "calc/helpers_test.go").unwrap()
        );

        // The module's root package: its directory is the module's.
        let root = "package demo\n\nimport \"testing\"\n\nfunc TestRoot(t *testing.T) {}\n";
        tw.write("root_test.go", root).unwrap();
        let found = source::fingerprints(
            &ws,
            ".",
            &[Lang::Go],
            &[wanted("example.com/demo::TestRoot")],
        );
        assert_eq!(found["example.com/demo::TestRoot"].path, "root_test.go");
        let files = frozen_files(&ws, &found);
        let paths: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["root_test.go"], "not the tests of packages below");
    }
}
