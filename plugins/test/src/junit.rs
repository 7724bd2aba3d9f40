//! Reading JUnit XML reports (pytest's `--junitxml`, or any tool's) into
//! tests with a status, a detail and candidate locations.

use checkrail_sdk::tool::clip;

use crate::model::{Kind, Location, Status, TestCase};
use crate::xml::{self, Element};

/// How a report numbers its `line` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineBase {
    /// pytest writes 0-based lines (`item.location`).
    Zero,
    /// Other tools write 1-based lines.
    One,
}

/// What a JUnit report says.
#[derive(Debug, Default)]
pub struct Report {
    /// Every `<testcase>`, in document order.
    pub tests: Vec<TestCase>,
    /// The errors the innermost `<testsuite>` elements count (`errors="N"`).
    pub declared_errors: u64,
    /// The `<testcase>` elements that carry an `<error>`.
    pub error_elements: u64,
}

impl Report {
    /// Errors the suites count that no `<testcase>` carries: something went
    /// wrong outside any test the report names.
    pub fn unlisted_errors(&self) -> u64 {
        self.declared_errors.saturating_sub(self.error_elements)
    }
}

/// Reads a JUnit report.
pub fn parse(text: &str, base: LineBase) -> Result<Report, String> {
    let root = xml::parse(text)?;
    let mut report = Report::default();
    match root.name.as_str() {
        "testsuites" | "testsuite" => collect(&root, root.attr("file"), base, &mut report),
        "testcase" => add_case(&root, None, base, &mut report),
        other => {
            return Err(format!(
                "the root element is <{other}>, not <testsuites> or <testsuite>"
            ));
        }
    }
    Ok(report)
}

fn collect<'a>(element: &'a Element, file: Option<&'a str>, base: LineBase, report: &mut Report) {
    let mut nested = false;
    for child in element.elements() {
        match child.name.as_str() {
            "testcase" => add_case(child, file, base, report),
            "testsuite" | "testsuites" => {
                nested = true;
                collect(child, child.attr("file").or(file), base, report);
            }
            _ => {}
        }
    }
    // Outer elements repeat their children's totals.
    if element.name == "testsuite" && !nested {
        report.declared_errors += element
            .attr("errors")
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
}

fn add_case(element: &Element, suite_file: Option<&str>, base: LineBase, report: &mut Report) {
    if element.elements().any(|e| e.name == "error") {
        report.error_elements += 1;
    }
    report.tests.push(case(element, suite_file, base));
}

/// pytest's message for a module it could not import or collect.
const COLLECTION_FAILURE: &str = "collection failure";
/// pytest's message for an xfail test that passed under `strict`.
const STRICT_XPASS: &str = "[XPASS(strict)]";
/// pytest's `type` for an xfail test that failed as marked.
const XFAIL_TYPE: &str = "pytest.xfail";

fn case(element: &Element, suite_file: Option<&str>, base: LineBase) -> TestCase {
    let classname = element.attr("classname").unwrap_or("").trim();
    let name = element.attr("name").unwrap_or("").trim();
    let file = element
        .attr("file")
        .or(suite_file)
        .map(str::trim)
        .filter(|f| !f.is_empty());
    let line = element
        .attr("line")
        .and_then(|l| l.trim().parse::<u32>().ok())
        .map(|l| match base {
            LineBase::Zero => l.saturating_add(1),
            LineBase::One => l.max(1),
        });
    let mut test = TestCase::new(test_id(classname, name, file), Status::Passed);
    let declared = file.map(|file| Location::new(file, line, None));

    let child = |tag: &str| element.elements().find(|e| e.name == tag);
    let (status, result) = if let Some(failure) = child("failure") {
        (Status::Failed, Some(failure))
    } else if let Some(error) = child("error") {
        (Status::Errored, Some(error))
    } else if let Some(skipped) = child("skipped") {
        (Status::Skipped, Some(skipped))
    } else {
        (Status::Passed, None)
    };
    test.status = status;
    let Some(result) = result else {
        test.locations = declared.into_iter().collect();
        return test;
    };
    let message = result.attr("message").unwrap_or("").trim();
    let body = result.text();
    test.kind = match status {
        Status::Skipped if result.attr("type") == Some(XFAIL_TYPE) => Kind::Xfail,
        Status::Failed if message.starts_with(STRICT_XPASS) => Kind::Xfail,
        Status::Errored if message == COLLECTION_FAILURE => Kind::Collection,
        _ => Kind::Plain,
    };
    if status == Status::Skipped {
        test.detail = (!message.is_empty()).then(|| message.to_owned());
        test.locations = declared.into_iter().collect();
        return test;
    }
    test.detail = Some(detail(message, &body));
    test.locations = locations(&body, file, line);
    test
}

/// The test's full name: pytest's node id (`tests/test_io.py::TestX::test_read`)
/// rebuilt from xunit1's `file` and `classname`, or `classname::name`.
fn test_id(classname: &str, name: &str, file: Option<&str>) -> String {
    if let Some(file) = file
        && let Some(stem) = file.strip_suffix(".py")
    {
        let module = stem.replace(['/', '\\'], ".");
        if classname.is_empty() || classname == module {
            return if name.is_empty() || name == module {
                file.to_owned()
            } else {
                format!("{file}::{name}")
            };
        }
        if let Some(classes) = classname.strip_prefix(&format!("{module}.")) {
            return format!("{file}::{}::{name}", classes.replace('.', "::"));
        }
        return format!("{file}::{classname}::{name}");
    }
    if classname.is_empty() || name.starts_with(classname) {
        name.to_owned()
    } else {
        format!("{classname}::{name}")
    }
}

/// The failure's message, completed by pytest's `E ` lines when they say
/// more (a collection failure's message is just "collection failure").
fn detail(message: &str, body: &str) -> String {
    let e_lines: Vec<&str> = body
        .lines()
        .filter_map(|l| {
            if l == "E" {
                Some("")
            } else {
                l.strip_prefix("E ")
            }
        })
        .collect();
    let indent = e_lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let explained = e_lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = if message.is_empty() {
        if explained.is_empty() {
            body.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no message")
                .to_owned()
        } else {
            explained
        }
    } else if explained.is_empty() || squash(message).contains(&squash(&explained)) {
        message.to_owned()
    } else {
        format!("{message}: {explained}")
    };
    let lines: Vec<&str> = text.lines().take(20).collect();
    clip(&lines.join("\n"), 2000)
}

/// Where the failure happened, best first: frames of the traceback that
/// are in the test's own file (deepest first), then the other frames
/// (deepest first), then the test's `file`/`line`.
fn locations(body: &str, file: Option<&str>, line: Option<u32>) -> Vec<Location> {
    let frames = traceback_frames(body);
    let in_test_file = |loc: &Location| file.is_some_and(|f| same_file(&loc.path, f));
    let mut out: Vec<Location> = frames
        .iter()
        .rev()
        .filter(|l| in_test_file(l))
        .cloned()
        .collect();
    out.extend(frames.iter().rev().filter(|l| !in_test_file(l)).cloned());
    if let Some(file) = file {
        out.push(Location::new(file, line, None));
    }
    out
}

fn same_file(a: &str, b: &str) -> bool {
    let a = a.strip_prefix("./").unwrap_or(a);
    let b = b.strip_prefix("./").unwrap_or(b);
    a == b || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
}

/// Frames of a pytest traceback. Long style (the default) shows the source
/// with the current line marked `>` and ends each frame with
/// `path:line: ExceptionName`; short style starts each frame with
/// `path:line: in function` followed by the source line.
fn traceback_frames(body: &str) -> Vec<Location> {
    let lines: Vec<&str> = body.lines().collect();
    let mut frames = Vec::new();
    let mut marked: Option<String> = None;
    for (k, line) in lines.iter().enumerate() {
        if let Some(code) = line.strip_prefix('>') {
            marked = Some(code.trim().to_owned());
            continue;
        }
        let Some((path, number, rest)) = location_line(line) else {
            continue;
        };
        let source = if rest.starts_with("in ") {
            lines
                .get(k + 1)
                .map(|l| l.trim())
                .filter(|l| !l.is_empty() && !l.starts_with("E ") && location_line(l).is_none())
                .map(str::to_owned)
        } else {
            marked.take()
        };
        marked = None;
        frames.push(Location {
            path: path.to_owned(),
            line: Some(number),
            column: None,
            source,
        });
    }
    frames
}

/// `tests/test_calc.py:6: AssertionError` -> (`tests/test_calc.py`, 6, `AssertionError`).
fn location_line(line: &str) -> Option<(&str, u32, &str)> {
    if line.is_empty() || line.starts_with(char::is_whitespace) || line.starts_with("E ") {
        return None;
    }
    let mut from = 0;
    while let Some(found) = line[from..].find(':') {
        let colon = from + found;
        let after = &line[colon + 1..];
        let digits = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        if digits > 0 && after[digits..].starts_with(':') {
            let rest = &after[digits + 1..];
            let path = &line[..colon];
            if (rest.is_empty() || rest.starts_with(' ')) && !path.contains(' ') {
                let number = after[..digits].parse().ok()?;
                return Some((path, number, rest.trim()));
            }
        }
        from = colon + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `python3 -m pytest -q -o junit_family=xunit1
    /// --junitxml=junit.xml` (pytest 9.2) on a package with a failing
    /// assertion, an exception raised in the code under test, a skip, a
    /// parametrized test, a broken fixture and an xfail.
    const PYTEST: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="3" skipped="2" tests="8" time="0.053" timestamp="2026-11-21T23:15:50.794199+00:00" hostname="vm"><testcase classname="tests.test_calc" name="test_add" file="tests/test_calc.py" line="4" time="0.001"><failure message="assert 4 == 3&#10; +  where 4 = add(1, 2)">def test_add():
&gt;       assert add(1, 2) == 3
E       assert 4 == 3
E        +  where 4 = add(1, 2)

tests/test_calc.py:6: AssertionError</failure></testcase><testcase classname="tests.test_calc" name="test_passes" file="tests/test_calc.py" line="8" time="0.000" /><testcase classname="tests.test_calc" name="test_skipped" file="tests/test_calc.py" line="12" time="0.000"><skipped type="pytest.skip" message="later">/tmp/samples/py/tests/test_calc.py:13: later</skipped></testcase><testcase classname="tests.test_calc.TestDiv" name="test_div_zero" file="tests/test_calc.py" line="18" time="0.000"><failure message="ZeroDivisionError: division by zero">self = &lt;test_calc.TestDiv object at 0x7fc4b9457d90&gt;

    def test_div_zero(self):
        x = 1
&gt;       assert div(x, 0) == 0
               ^^^^^^^^^

tests/test_calc.py:21: 
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ 

a = 1, b = 0

    def div(a, b):
&gt;       return a / b
               ^^^^^
E       ZeroDivisionError: division by zero

calc/__init__.py:6: ZeroDivisionError</failure></testcase><testcase classname="tests.test_calc.TestDiv" name="test_param[1]" file="tests/test_calc.py" line="22" time="0.000" /><testcase classname="tests.test_calc.TestDiv" name="test_param[2]" file="tests/test_calc.py" line="22" time="0.000"><failure message="assert 2 == 1">self = &lt;test_calc.TestDiv object at 0x7fc4b9454e90&gt;, a = 2

    @pytest.mark.parametrize("a", [1, 2])
    def test_param(self, a):
&gt;       assert a == 1
E       assert 2 == 1

tests/test_calc.py:25: AssertionError</failure></testcase><testcase classname="tests.test_calc" name="test_uses_broken" file="tests/test_calc.py" line="32" time="0.000"><error message="failed on setup with &quot;RuntimeError: fixture broke&quot;">@pytest.fixture
    def broken():
&gt;       raise RuntimeError("fixture broke")
E       RuntimeError: fixture broke

tests/test_calc.py:30: RuntimeError</error></testcase><testcase classname="tests.test_calc" name="test_xf" file="tests/test_calc.py" line="36" time="0.000"><skipped type="pytest.xfail" message="" /></testcase></testsuite></testsuites>"#;

    /// A collection error, as pytest reports it.
    const COLLECTION: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="0" skipped="0" tests="1" time="0.127"><testcase classname="" name="tests.test_collect_err" file="tests/test_collect_err.py" time="0.000"><error message="collection failure">ImportError while importing test module '/tmp/samples/py/tests/test_collect_err.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/root/.pyenv/versions/3.11.7/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
tests/test_collect_err.py:1: in &lt;module&gt;
    import nonexistent_module_xyz
E   ModuleNotFoundError: No module named 'nonexistent_module_xyz'</error></testcase></testsuite></testsuites>"#;

    fn get<'a>(tests: &'a [TestCase], name: &str) -> &'a TestCase {
        tests
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no `{name}` in {tests:#?}"))
    }

    #[test]
    fn pytest_report_statuses_and_node_ids() {
        let tests = parse(PYTEST, LineBase::Zero).unwrap().tests;
        let names: Vec<(&str, Status)> =
            tests.iter().map(|t| (t.name.as_str(), t.status)).collect();
        assert_eq!(
            names,
            [
                ("tests/test_calc.py::test_add", Status::Failed),
                ("tests/test_calc.py::test_passes", Status::Passed),
                ("tests/test_calc.py::test_skipped", Status::Skipped),
                ("tests/test_calc.py::TestDiv::test_div_zero", Status::Failed),
                ("tests/test_calc.py::TestDiv::test_param[1]", Status::Passed),
                ("tests/test_calc.py::TestDiv::test_param[2]", Status::Failed),
                ("tests/test_calc.py::test_uses_broken", Status::Errored),
                ("tests/test_calc.py::test_xf", Status::Skipped),
            ]
        );
        let kinds: Vec<Kind> = tests.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds[7],
            Kind::Xfail,
            "an xfail is marked, not a plain skip"
        );
        assert!(kinds[..7].iter().all(|k| *k == Kind::Plain), "{kinds:?}");
        // A skipped test points at its definition (0-based 12 -> 13).
        assert_eq!(
            tests[2].locations,
            [Location::new("tests/test_calc.py", Some(13), None)]
        );
        assert_eq!(tests[2].detail.as_deref(), Some("later"));
    }

    /// From pytest 9.2 (`-o junit_family=xunit1`): a strict xfail that
    /// passed, and a failing test whose fixture also failed at teardown,
    /// which pytest writes as a second `<testcase>`. Trimmed: the suite
    /// still counts the error of a test left out.
    const XPASS_AND_TEARDOWN: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="2" failures="2" skipped="0" tests="4" time="0.056"><testcase classname="tests.test_a" name="test_xpass_strict" file="tests/test_a.py" line="9" time="0.000"><failure message="[XPASS(strict)] known">[XPASS(strict)] known</failure></testcase><testcase classname="tests.test_a" name="test_fail_td" file="tests/test_a.py" line="33" time="0.000"><failure message="assert False">td = 1

    def test_fail_td(td):
&gt;       assert False
E       assert False

tests/test_a.py:35: AssertionError</failure></testcase><testcase classname="tests.test_a" name="test_fail_td" file="tests/test_a.py" line="33" time="0.000"><error message="failed on teardown with &quot;RuntimeError: teardown&quot;">@pytest.fixture
    def td():
        yield 1
&gt;       raise RuntimeError("teardown")
E       RuntimeError: teardown

tests/test_a.py:32: RuntimeError</error></testcase></testsuite></testsuites>"#;

    #[test]
    fn a_strict_xpass_is_marked_and_errors_are_counted() {
        let report = parse(XPASS_AND_TEARDOWN, LineBase::Zero).unwrap();
        let strict = &report.tests[0];
        assert_eq!((strict.status, strict.kind), (Status::Failed, Kind::Xfail));
        assert!(!strict.failed_at_run_time());
        let statuses: Vec<Status> = report.tests[1..].iter().map(|t| t.status).collect();
        assert_eq!(statuses, [Status::Failed, Status::Errored]);
        assert!(report.tests[1].failed_at_run_time());
        assert!(!report.tests[2].failed_at_run_time());
        // The suite says 2 errors; only one test carries an <error>.
        assert_eq!((report.declared_errors, report.error_elements), (2, 1));
        assert_eq!(report.unlisted_errors(), 1);
    }

    #[test]
    fn an_assertion_points_at_its_line_with_the_source() {
        let tests = parse(PYTEST, LineBase::Zero).unwrap().tests;
        let add = get(&tests, "tests/test_calc.py::test_add");
        assert_eq!(
            add.detail.as_deref(),
            Some("assert 4 == 3\n +  where 4 = add(1, 2)")
        );
        let first = &add.locations[0];
        assert_eq!(first.path, "tests/test_calc.py");
        assert_eq!(first.line, Some(6));
        assert_eq!(first.source.as_deref(), Some("assert add(1, 2) == 3"));
        // The fallback is the def line, 0-based in the report (4 -> 5).
        assert_eq!(
            add.locations.last().unwrap(),
            &Location::new("tests/test_calc.py", Some(5), None)
        );
    }

    #[test]
    fn an_exception_deeper_down_still_points_into_the_test_first() {
        let tests = parse(PYTEST, LineBase::Zero).unwrap().tests;
        let div = get(&tests, "tests/test_calc.py::TestDiv::test_div_zero");
        assert_eq!(
            div.detail.as_deref(),
            Some("ZeroDivisionError: division by zero")
        );
        assert_eq!(div.locations[0].line, Some(21));
        assert_eq!(
            div.locations[0].source.as_deref(),
            Some("assert div(x, 0) == 0")
        );
        assert_eq!(div.locations[1].path, "calc/__init__.py");
        assert_eq!(div.locations[1].source.as_deref(), Some("return a / b"));

        let broken = get(&tests, "tests/test_calc.py::test_uses_broken");
        assert_eq!(
            broken.detail.as_deref(),
            Some("failed on setup with \"RuntimeError: fixture broke\"")
        );
        assert_eq!(broken.locations[0].line, Some(30));
    }

    #[test]
    fn a_collection_error_names_the_module_and_the_import() {
        let tests = parse(COLLECTION, LineBase::Zero).unwrap().tests;
        assert_eq!(tests.len(), 1);
        let t = &tests[0];
        assert_eq!(t.name, "tests/test_collect_err.py");
        assert_eq!((t.status, t.kind), (Status::Errored, Kind::Collection));
        assert!(!t.failed_at_run_time());
        assert_eq!(
            t.detail.as_deref(),
            Some(
                "collection failure: ModuleNotFoundError: No module named 'nonexistent_module_xyz'"
            )
        );
        assert_eq!(t.locations[0].line, Some(1));
        assert_eq!(
            t.locations[0].source.as_deref(),
            Some("import nonexistent_module_xyz")
        );
    }

    #[test]
    fn generic_junit_uses_classname_and_one_based_lines() {
        let xml = r#"<testsuite name="suite" file="spec/math.spec.js">
  <testcase classname="Math" name="adds" line="7"><failure message="expected 3 to be 4" type="AssertionError">at spec/math.spec.js:9:5</failure></testcase>
  <testcase classname="Math" name="Math subtracts"/>
  <testcase name="bare"><skipped/></testcase>
</testsuite>"#;
        let tests = parse(xml, LineBase::One).unwrap().tests;
        assert_eq!(tests[0].name, "Math::adds");
        assert_eq!(tests[0].status, Status::Failed);
        assert_eq!(tests[0].detail.as_deref(), Some("expected 3 to be 4"));
        assert_eq!(
            tests[0].locations,
            [Location::new("spec/math.spec.js", Some(7), None)]
        );
        assert_eq!(tests[1].name, "Math subtracts");
        assert_eq!(tests[2].status, Status::Skipped);
        assert!(parse("<html/>", LineBase::One).is_err());
        let report = parse(COLLECTION, LineBase::Zero).unwrap();
        assert_eq!(report.unlisted_errors(), 0);
        // Outer <testsuites> totals are not counted twice.
        let nested = r#"<testsuites errors="1"><testsuite errors="1"><testcase name="a"><error message="boom"/></testcase></testsuite></testsuites>"#;
        assert_eq!(parse(nested, LineBase::One).unwrap().declared_errors, 1);
    }
}
