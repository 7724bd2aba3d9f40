//! The JavaScript screening against the tools' documented ways of running
//! another program, and the plain runs it must leave alone.

use super::super::screen;
use super::*;

fn screened(program: &str, args: &[&str]) -> Result<(), String> {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("sub")).unwrap();
    std::fs::create_dir_all(root.path().join(".checkrail/scratch/abc")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    let outside_path = outside.path().canonicalize().unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace("@OUT", &outside_path.display().to_string())
                .replace(
                    "@SCRATCH",
                    &root_path
                        .join(".checkrail/scratch/abc")
                        .display()
                        .to_string(),
                )
        })
        .collect();
    let place = Place {
        root: &root_path,
        cwd: &root_path.join("sub"),
    };
    screen(program, &args, &place, false).map_err(|r| format!("{} {}", r.arg, r.why))
}

fn refused(program: &str, args: &[&str], arg: &str) {
    let got = screened(program, args);
    assert!(
        got.as_ref().is_err_and(|m| m.starts_with(arg)),
        "{program} {args:?}: expected `{arg}` refused, got {got:?}"
    );
}

fn allowed(program: &str, args: &[&str]) {
    let got = screened(program, args);
    assert!(got.is_ok(), "{program} {args:?}: {got:?}");
}

#[test]
fn node_inline_code_loaders_debuggers_and_writes_are_refused() {
    refused("node", &["-e", "require('child_process')"], "-e");
    refused("node", &["--print", "1"], "--print");
    refused(
        "node",
        &["--require", "@OUT/evil.js", "--test"],
        "--require",
    );
    refused("node", &["--import=@OUT/evil.mjs", "--test"], "--import=/");
    refused("node", &["--loader", "some-package", "x.js"], "--loader");
    refused(
        "node",
        &["--test", "--test-reporter", "@OUT/r.mjs"],
        "--test-reporter",
    );
    refused(
        "node",
        &["--test", "--test-reporter-destination=../junit.xml"],
        "--test-reporter-destination=../junit.xml",
    );
    refused(
        "node",
        &["--test", "--test_reporter_destination", "@OUT/j.xml"],
        "--test_reporter_destination",
    );
    refused("node", &["--inspect-brk=0", "x.js"], "--inspect-brk=0");
    refused("node", &["--env-file=.env", "--test"], "--env-file=.env");
    refused(
        "node",
        &["--cpu-prof-dir", "prof", "x.js"],
        "--cpu-prof-dir",
    );
    refused("node", &["--watch", "--test"], "--watch");
    refused("node", &["@OUT/evil.js"], "/");
    refused("node", &["--test", "../../etc"], "../../etc");
    allowed(
        "node",
        &[
            "--test",
            "--test-reporter=junit",
            "--test-reporter-destination=@SCRATCH/junit.xml",
            "--test-reporter=spec",
            "--test-reporter-destination",
            "stdout",
            "--test-name-pattern",
            "adds",
            "test/",
        ],
    );
    allowed("node", &["--require", "./setup.js", "--test"]);
    allowed("node", &["--", "tool.js", "-e", "x"]);
    // Without `--`, what follows a value is screened all the same.
    refused("node", &["--title", "x", "-e", "code"], "-e");
}

#[test]
fn tsc_builds_inits_watches_and_writes_outside_scratch_are_refused() {
    refused("tsc", &["--noEmit", "--build"], "--build");
    refused("tsc", &["-b", "."], "-b");
    refused("tsc", &["--init"], "--init");
    refused("tsc", &["--noEmit", "--watch"], "--watch");
    refused("tsc", &["--noEmit", "--noEmit", "false"], "--noEmit");
    refused("tsc", &["--noEmit", "--outDir", "dist"], "--outDir");
    refused("tsc", &["--generateTrace=@OUT/t"], "--generateTrace=/");
    refused("tsc", &["--noEmit", "-p", "@OUT/tsconfig.json"], "-p");
    allowed(
        "tsc",
        &["--noEmit", "--pretty", "false", "-p", "tsconfig.json"],
    );
    allowed(
        "tsc",
        &["--noEmit", "--tsBuildInfoFile", "@SCRATCH/ts.info"],
    );
    allowed(
        "tsc",
        &["--noEmit", "--strict", "--target", "es2022", "src/a.ts"],
    );
}

#[test]
fn eslint_fixes_servers_plugins_and_outside_files_are_refused() {
    refused("eslint", &["--format", "json", "--fix", "."], "--fix");
    refused("eslint", &["--init"], "--init");
    refused("eslint", &["--mcp"], "--mcp");
    refused("eslint", &["--inspect-config"], "--inspect-config");
    refused("eslint", &["--suppress-all", "."], "--suppress-all");
    refused(
        "eslint",
        &["--suppressions-location", "x.json", "."],
        "--suppressions-location",
    );
    refused("eslint", &["-f", "@OUT/formatter.js", "."], "-f");
    refused(
        "eslint",
        &["--format=eslint-formatter-evil", "."],
        "--format=eslint-formatter-evil",
    );
    refused("eslint", &["-c", "@OUT/eslint.config.js", "."], "-c");
    refused("eslint", &["-o", "report.json", "."], "-o");
    refused("eslint", &["--cache", "."], "--cache");
    refused("eslint", &["--plugin", "evil"], "--plugin");
    refused("eslint", &["@OUT/src"], "/");
    allowed(
        "eslint",
        &[
            "--format",
            "json",
            "--max-warnings",
            "0",
            "src",
            "--no-warn-ignored",
        ],
    );
    allowed("eslint", &["--format=json", "-c", "eslint.config.mjs", "."]);
    allowed(
        "eslint",
        &["--cache", "--cache-location", "@SCRATCH/cache", "."],
    );
    allowed("eslint", &["-o", "@SCRATCH/out.json", "."]);
}

#[test]
fn jest_snapshot_updates_modules_and_outside_writes_are_refused() {
    refused("jest", &["--ci", "-u"], "-u");
    refused("jest", &["--updateSnapshot"], "--updateSnapshot");
    refused("jest", &["--ci=false"], "--ci=false");
    refused("jest", &["--no-ci"], "--no-ci");
    refused("jest", &["--watchAll"], "--watchAll");
    refused("jest", &["--config", "{\"transform\":{}}"], "--config");
    refused("jest", &["--setupFiles", "@OUT/setup.js"], "--setupFiles");
    refused(
        "jest",
        &["--reporters=jest-junit"],
        "--reporters=jest-junit",
    );
    refused(
        "jest",
        &["--testEnvironment", "evil-env"],
        "--testEnvironment",
    );
    refused("jest", &["--transform", "{}"], "--transform");
    refused("jest", &["--rootDir", "@OUT"], "--rootDir");
    refused(
        "jest",
        &["--outputFile=results.json"],
        "--outputFile=results.json",
    );
    refused("jest", &["--coverage"], "--coverage");
    allowed(
        "jest",
        &[
            "--ci",
            "--json",
            "--outputFile=@SCRATCH/jest.json",
            "--cacheDirectory",
            "@SCRATCH/cache",
            "--testLocationInResults",
            "--testEnvironment=node",
            "--setup-files",
            "./jest.setup.js",
            "-t",
            "adds",
        ],
    );
}

#[test]
fn vitest_servers_exec_argv_modules_and_outside_writes_are_refused() {
    refused("vitest", &["init"], "init");
    refused("vitest", &["watch"], "watch");
    refused("vitest", &["run", "--update"], "--update");
    refused("vitest", &["run", "--ui"], "--ui");
    refused("vitest", &["run", "--api=51204"], "--api=51204");
    refused(
        "vitest",
        &["run", "--browser=chromium"],
        "--browser=chromium",
    );
    refused("vitest", &["run", "--inspect-brk"], "--inspect-brk");
    refused(
        "vitest",
        &["run", "--poolOptions.forks.execArgv=--require=/tmp/x.js"],
        "--poolOptions.forks.execArgv=--require=/tmp/x.js",
    );
    refused("vitest", &["run", "--coverage"], "--coverage");
    refused("vitest", &["run", "--cache"], "--cache");
    refused("vitest", &["run", "--reporter", "@OUT/r.mjs"], "--reporter");
    refused(
        "vitest",
        &["run", "--environment=evil"],
        "--environment=evil",
    );
    refused(
        "vitest",
        &["run", "--typecheck.checker=sh"],
        "--typecheck.checker=sh",
    );
    refused("vitest", &["run", "--root", "@OUT"], "--root");
    refused(
        "vitest",
        &["run", "--outputFile.junit=junit.xml"],
        "--outputFile.junit=junit.xml",
    );
    allowed(
        "vitest",
        &[
            "run",
            "--globals",
            "--no-cache",
            "--reporter=junit",
            "--outputFile.junit=@SCRATCH/junit.xml",
            "--reporter=default",
            "--environment",
            "node",
            "--coverage.enabled=false",
            "test/calc",
        ],
    );
}
