//! Unit tests of the jsrunners parser.

use super::*;
use checkrail_sdk::testing::TestWorkspace;

/// Captured from `node --test --test-reporter=junit` (node 20.20) on a
/// file with a failing assertion, a pass, `test.skip`, `test.todo`, a
/// skip with a reason, and nested `describe` blocks; plus a file that
/// does not load, a hook that failed and a test that timed out.
/// Stack frames trimmed.
const NODE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites>
	<testcase name="/tmp/w/test/broken.test.js" time="0.064584" classname="test" failure="test failed">
		<failure type="testCodeFailure" message="test failed">
[Error: test failed] { code: 'ERR_TEST_FAILURE', failureType: 'testCodeFailure', cause: 'test failed', exitCode: 1, signal: null }
		</failure>
	</testcase>
	<testcase name="adds two numbers" time="0.001429" classname="test" failure="Expected values to be strictly equal:-1 !== 3">
		<failure type="testCodeFailure" message="Expected values to be strictly equal:-1 !== 3">
Error [ERR_TEST_FAILURE]: Expected values to be strictly equal:

-1 !== 3

    at AsyncResource.runInAsyncScope (node:async_hooks:206:9) {
  code: 'ERR_TEST_FAILURE',
  failureType: 'testCodeFailure',
  cause: AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  -1 !== 3
  
      at TestContext.&lt;anonymous> (/tmp/w/test/calc.test.js:7:10)
      at Test.runInAsyncScope (node:async_hooks:206:9)
      at Test.run (node:internal/test_runner/test:796:25) {
    generatedMessage: true,
    code: 'ERR_ASSERTION',
    actual: -1,
    expected: 3,
    operator: 'strictEqual'
  }
}
		</failure>
	</testcase>
	<testcase name="passes" time="0.000114" classname="test"/>
	<testcase name="skipped one" time="0.000123" classname="test">
		<skipped type="skipped" message="true"/>
	</testcase>
	<testcase name="todo one" time="0.000061" classname="test">
		<skipped type="todo" message="true"/>
	</testcase>
	<testcase name="skip via option" time="0.000097" classname="test">
		<skipped type="skipped" message="not yet"/>
	</testcase>
	<testsuite name="math" time="0.001624" disabled="0" errors="0" tests="3" failures="2" skipped="0" hostname="vm">
		<testcase name="subtracts" time="0.000096" classname="test"/>
		<testsuite name="nested" time="0.001197" disabled="0" errors="0" tests="1" failures="1" skipped="0" hostname="vm">
			<testcase name="throws in code" time="0.001051" classname="test" failure="boom">
				<failure type="testCodeFailure" message="boom">
Error [ERR_TEST_FAILURE]: boom
    at async Promise.all (index 0) {
  code: 'ERR_TEST_FAILURE',
  failureType: 'testCodeFailure',
  cause: Error: boom
      at explode (/tmp/w/lib/calc.js:3:9)
      at TestContext.&lt;anonymous> (/tmp/w/test/calc.test.js:26:31)
      at Test.runInAsyncScope (node:async_hooks:206:9)
}
				</failure>
			</testcase>
		</testsuite>
	</testsuite>
	<testsuite name="with hook" time="0.000910" disabled="0" errors="0" tests="1" failures="1" skipped="0" hostname="vm">
		<testcase name="never runs" time="0.000000" classname="test" failure="test did not finish before its parent and was cancelled">
			<failure type="cancelledByParent" message="test did not finish before its parent and was cancelled">
[Error [ERR_TEST_FAILURE]: test did not finish before its parent and was cancelled] { code: 'ERR_TEST_FAILURE', failureType: 'cancelledByParent', cause: 'test did not finish before its parent and was cancelled' }
			</failure>
		</testcase>
	</testsuite>
	<testcase name="slow" time="0.052632" classname="test" failure="test timed out after 50ms">
		<failure type="testTimeoutFailure" message="test timed out after 50ms">
[Error [ERR_TEST_FAILURE]: test timed out after 50ms] { code: 'ERR_TEST_FAILURE', failureType: 'testTimeoutFailure', cause: 'test timed out after 50ms' }
		</failure>
	</testcase>
	<!-- tests 8 -->
</testsuites>"#;

fn names(cases: &[Case]) -> Vec<(String, Status, Kind)> {
    cases
        .iter()
        .map(|c| {
            let mut parts: Vec<String> = c.file.iter().cloned().collect();
            parts.extend(c.titles.iter().cloned());
            (parts.join("::"), c.status, c.kind)
        })
        .collect()
}

#[test]
fn node_names_statuses_and_places() {
    let cases = parse_junit(NODE, JsRunner::Node).unwrap();
    let s = |n: &str, st, k| (n.to_owned(), st, k);
    assert_eq!(
        names(&cases),
        [
            s(
                "/tmp/w/test/broken.test.js",
                Status::Errored,
                Kind::Collection
            ),
            s("adds two numbers", Status::Failed, Kind::Plain),
            s("passes", Status::Passed, Kind::Plain),
            s("skipped one", Status::Skipped, Kind::Plain),
            s("todo one", Status::Skipped, Kind::Plain),
            s("skip via option", Status::Skipped, Kind::Plain),
            s("math::subtracts", Status::Passed, Kind::Plain),
            s("math::nested::throws in code", Status::Failed, Kind::Plain),
            s("with hook::never runs", Status::Errored, Kind::Plain),
            s("slow", Status::Failed, Kind::Plain),
        ]
    );
    let add = &cases[1];
    assert_eq!(
        add.detail.as_deref(),
        Some("Expected values to be strictly equal:\n-1 !== 3")
    );
    assert_eq!(
        add.locations,
        [Location::new("/tmp/w/test/calc.test.js", Some(7), Some(10))]
    );
    assert_eq!(cases[4].detail.as_deref(), Some("todo"));
    assert_eq!(cases[3].detail, None);
    assert_eq!(cases[5].detail.as_deref(), Some("not yet"));
    // The test's own frame first, then the code under test.
    let thrown = &cases[7];
    assert_eq!(thrown.detail.as_deref(), Some("boom"));
    assert_eq!(
        thrown.locations,
        [
            Location::new("/tmp/w/test/calc.test.js", Some(26), Some(31)),
            Location::new("/tmp/w/lib/calc.js", Some(3), Some(9)),
        ]
    );
    assert_eq!(
        cases[8].detail.as_deref(),
        Some("test did not finish before its parent and was cancelled")
    );
    assert_eq!(
        cases[9].detail.as_deref(),
        Some("test timed out after 50ms")
    );
    assert!(
        cases[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("failed outside its tests")
    );
}

/// Captured from `vitest run --globals --reporter=junit` (Vitest 3.2):
/// a file that does not load, and one with every kind of result.
const VITEST: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<testsuites name="vitest tests" tests="8" failures="4" errors="0" time="0.00997649">
    <testsuite name="test/broken.test.js" timestamp="2026-11-30T17:24:39.360Z" hostname="vm" tests="1" failures="1" errors="0" skipped="0" time="0">
        <testcase classname="test/broken.test.js" name="test/broken.test.js" time="0">
            <failure message="Cannot find module &apos;./nope&apos; imported from &apos;/tmp/w/test/broken.test.js&apos;" type="Error">
Error: Cannot find module &apos;./nope&apos; imported from &apos;/tmp/w/test/broken.test.js&apos;
 ❯ test/broken.test.js:1:1

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯
Serialized Error: { code: &apos;ERR_MODULE_NOT_FOUND&apos; }
            </failure>
        </testcase>
    </testsuite>
    <testsuite name="test/calc.test.ts" timestamp="2026-11-30T17:24:39.378Z" hostname="vm" tests="7" failures="3" errors="0" skipped="2" time="0.00997649">
        <testcase classname="test/calc.test.ts" name="adds two numbers" time="0.005663617">
            <failure message="expected -1 to be 3 // Object.is equality" type="AssertionError">
AssertionError: expected -1 to be 3 // Object.is equality

- Expected
+ Received

- 3
+ -1

 ❯ test/calc.test.ts:4:21
            </failure>
        </testcase>
        <testcase classname="test/calc.test.ts" name="passes" time="0.000193439">
        </testcase>
        <testcase classname="test/calc.test.ts" name="skipped one" time="0">
            <skipped/>
        </testcase>
        <testcase classname="test/calc.test.ts" name="math &gt; nested &gt; deep" time="0.001458865">
            <failure message="expected { a: 1 } to deeply equal { a: 2 }" type="AssertionError">
AssertionError: expected { a: 1 } to deeply equal { a: 2 }
 ❯ subtract src/calc.ts:2:9
 ❯ test/calc.test.ts:13:39
            </failure>
        </testcase>
    </testsuite>
</testsuites>"#;

#[test]
fn vitest_names_statuses_and_places() {
    let cases = parse_junit(VITEST, JsRunner::Vitest).unwrap();
    let s = |n: &str, st, k| (n.to_owned(), st, k);
    assert_eq!(
        names(&cases),
        [
            s("test/broken.test.js", Status::Errored, Kind::Collection),
            s(
                "test/calc.test.ts::adds two numbers",
                Status::Failed,
                Kind::Plain
            ),
            s("test/calc.test.ts::passes", Status::Passed, Kind::Plain),
            s(
                "test/calc.test.ts::skipped one",
                Status::Skipped,
                Kind::Plain
            ),
            s(
                "test/calc.test.ts::math::nested::deep",
                Status::Failed,
                Kind::Plain
            ),
        ]
    );
    assert_eq!(
        cases[0].detail.as_deref(),
        Some("Cannot find module './nope' imported from '/tmp/w/test/broken.test.js'")
    );
    assert_eq!(
        cases[1].detail.as_deref(),
        Some("expected -1 to be 3 // Object.is equality\n- Expected\n+ Received\n- 3\n+ -1")
    );
    assert_eq!(
        cases[1].locations,
        [Location::new("test/calc.test.ts", Some(4), Some(21))]
    );
    assert_eq!(
        cases[4].locations,
        [
            Location::new("test/calc.test.ts", Some(13), Some(39)),
            Location::new("src/calc.ts", Some(2), Some(9)),
        ]
    );
}

/// Captured from `jest --ci --json --testLocationInResults` (Jest 30):
/// a failure, a pass, a skip, a todo, a nested block, and a file that
/// does not load. Stack frames trimmed.
const JEST: &str = r#"{"numFailedTestSuites":2,"numTotalTests":6,"success":false,"testResults":[
{"assertionResults":[
 {"ancestorTitles":[],"failureMessages":["Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 3\nReceived: -1\n    at Object.toBe (/tmp/w/__tests__/calc.test.js:4:21)\n    at Promise.finally.completed (/root/.cache/checkrail/node-tools/node_modules/jest-circus/build/jestAdapterInit.js:1834:28)\n    at new Promise (<anonymous>)"],"fullName":"adds two numbers","location":{"column":1,"line":3},"status":"failed","title":"adds two numbers"},
 {"ancestorTitles":[],"failureMessages":[],"location":{"column":1,"line":6},"status":"passed","title":"passes"},
 {"ancestorTitles":[],"failureMessages":[],"location":{"column":6,"line":7},"status":"pending","title":"skipped one"},
 {"ancestorTitles":[],"failureMessages":[],"location":{"column":6,"line":8},"status":"todo","title":"todo one"},
 {"ancestorTitles":["math","nested"],"failureMessages":["Error: boom\n    at boom (/tmp/w/calc.js:2:9)\n    at Object.<anonymous> (/tmp/w/__tests__/calc.test.js:11:37)"],"location":{"column":5,"line":11},"status":"failed","title":"throws inside"}
],"message":"","name":"/tmp/w/__tests__/calc.test.js","status":"failed"},
{"assertionResults":[],"message":"  ● Test suite failed to run\n\n    Cannot find module './nope' from '__tests__/broken.test.js'\n\n    > 1 | const x = require(\"./nope\");\n        |           ^\n      2 | test(\"t\", () => {});\n\n      at Resolver._throwModNotFoundError (../../../root/.cache/checkrail/node-tools/node_modules/jest-resolve/build/index.js:1031:11)\n      at Object.require (__tests__/broken.test.js:1:11)\n","name":"/tmp/w/__tests__/broken.test.js","status":"failed"}
]}"#;

#[test]
fn jest_names_statuses_and_places() {
    let cases = parse_jest(JEST).unwrap();
    let s = |n: &str, st, k| (n.to_owned(), st, k);
    let file = "/tmp/w/__tests__/calc.test.js";
    assert_eq!(
        names(&cases),
        [
            s(
                &format!("{file}::adds two numbers"),
                Status::Failed,
                Kind::Plain
            ),
            s(&format!("{file}::passes"), Status::Passed, Kind::Plain),
            s(
                &format!("{file}::skipped one"),
                Status::Skipped,
                Kind::Plain
            ),
            s(&format!("{file}::todo one"), Status::Skipped, Kind::Plain),
            s(
                &format!("{file}::math::nested::throws inside"),
                Status::Failed,
                Kind::Plain
            ),
            s(
                "/tmp/w/__tests__/broken.test.js",
                Status::Errored,
                Kind::Collection
            ),
        ]
    );
    assert_eq!(
        cases[0].detail.as_deref(),
        Some("expect(received).toBe(expected) // Object.is equality\nExpected: 3\nReceived: -1")
    );
    assert_eq!(
        cases[0].locations,
        [
            Location::new(file, Some(4), Some(21)),
            Location::new(file, Some(3), Some(1)),
        ]
    );
    assert_eq!(cases[3].detail.as_deref(), Some("todo"));
    assert_eq!(
        cases[4].locations[0],
        Location::new(file, Some(11), Some(37))
    );
    assert_eq!(
        cases[5].detail.as_deref(),
        Some("Cannot find module './nope' from '__tests__/broken.test.js'")
    );
    assert_eq!(
        cases[5].locations,
        [Location::new("__tests__/broken.test.js", Some(1), Some(11))]
    );
    assert!(parse_jest("<testsuites/>").is_err());
}

#[test]
fn absolute_paths_become_workspace_names_relative_to_cwd() {
    let ws = TestWorkspace::new().unwrap();
    ws.write("app/__tests__/calc.test.js", "test('x', () => {});\n")
        .unwrap();
    ws.write("app/calc.js", "module.exports = {};\n").unwrap();
    let cases = vec![Case {
        file: Some("/host/w/app/__tests__/calc.test.js".to_owned()),
        titles: vec!["math".to_owned(), "adds".to_owned()],
        status: Status::Failed,
        kind: Kind::Plain,
        detail: None,
        locations: vec![
            Location::new("/host/w/app/calc.js", Some(2), Some(3)),
            Location::new("/usr/lib/node/x.js", Some(1), Some(1)),
        ],
    }];
    let cx = ws.context().unwrap();
    let tests = into_tests(cx.workspace(), "app", cases);
    assert_eq!(tests[0].name, "__tests__/calc.test.js::math::adds");
    assert_eq!(
        tests[0].locations,
        [Location::new("calc.js", Some(2), Some(3))]
    );
}
