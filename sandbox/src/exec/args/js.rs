//! The JavaScript tools: `node`, `tsc`, `eslint`, `jest` and `vitest`.
//!
//! Each takes switches that load a module (a reporter, a setup file, a
//! loader, a config), that write files, or that start a server or a
//! debugger. A module must be one of the tool's built-in names or a file
//! inside the workspace (a package name resolves from wherever node
//! looks, outside the workspace too); what a tool writes must go to a
//! check's scratch directory (`.checkrail/scratch/`), never into the
//! project or elsewhere; servers, debuggers, watch modes and switches that
//! rewrite the project (`--fix`, snapshot updates) are refused.
//!
//! Flag names are compared the way the tools read them: `--outputFile`,
//! `--output-file` and node's `--output_file` are one flag.

use super::{Place, Refusal, path_inside, positional_inside, refuse, resolved};

/// A flag as the tool reads it: `--outputFile=x`, `--output-file x`.
struct Flag<'a> {
    /// As given, for messages.
    arg: &'a str,
    /// Without dashes, `-` or `_`, lowercased (`outputfile`); a short
    /// flag keeps its case and one dash (`-c`).
    name: String,
    /// What follows a `.` in the name (Vitest: `outputFile.junit`),
    /// normalized like the name.
    sub: Option<String>,
    /// The value after `=`, if any.
    inline: Option<&'a str>,
}

fn flag(arg: &str) -> Option<Flag<'_>> {
    if !arg.starts_with('-') || arg == "-" || arg == "--" {
        return None;
    }
    let (head, inline) = match arg.split_once('=') {
        Some((head, value)) => (head, Some(value)),
        None => (arg, None),
    };
    let (name, sub) = if head.starts_with("--") {
        let bare = head.trim_start_matches('-');
        let (base, sub) = match bare.split_once('.') {
            Some((base, sub)) => (base, Some(sub)),
            None => (bare, None),
        };
        let norm = |s: &str| -> String {
            s.chars()
                .filter(|c| *c != '-' && *c != '_')
                .flat_map(char::to_lowercase)
                .collect()
        };
        (norm(base), sub.map(norm))
    } else {
        (head.to_owned(), None)
    };
    Some(Flag {
        arg,
        name,
        sub,
        inline,
    })
}

/// The value of the flag at `args[i]`: after `=`, or the next argument
/// (and whether the next argument was taken).
fn value<'a>(args: &'a [String], i: usize, flag: &Flag<'a>) -> (&'a str, bool) {
    match flag.inline {
        Some(v) => (v, false),
        None => (args.get(i + 1).map_or("", String::as_str), true),
    }
}

/// The scratch directories a check writes to.
fn in_scratch(place: &Place<'_>, value: &str) -> bool {
    let scratch = place.root.join(".checkrail").join("scratch");
    resolved(place, value).is_some_and(|full| full.starts_with(&scratch) && full != scratch)
}

fn writes(place: &Place<'_>, flag: &Flag<'_>, value: &str) -> Result<(), Refusal> {
    if in_scratch(place, value) {
        Ok(())
    } else {
        refuse(
            flag.arg,
            &format!(
                "writes `{value}`, outside the check's scratch directory (`.checkrail/scratch/`)"
            ),
        )
    }
}

fn reads_inside(
    place: &Place<'_>,
    flag: &Flag<'_>,
    value: &str,
    what: &str,
) -> Result<(), Refusal> {
    if path_inside(place, value) {
        Ok(())
    } else {
        refuse(
            flag.arg,
            &format!("points {what} outside the workspace (`{value}`)"),
        )
    }
}

/// A module to load: a built-in name, or a file inside the workspace.
fn module(
    place: &Place<'_>,
    flag: &Flag<'_>,
    value: &str,
    builtins: &[&str],
) -> Result<(), Refusal> {
    let value = value.trim();
    if builtins.contains(&value) {
        return Ok(());
    }
    // A bare name is a package, wherever node finds it; only an explicit
    // path names a file.
    let is_path = value.starts_with("./")
        || value.starts_with("../")
        || value.starts_with('/')
        || value.starts_with("file://");
    let path = value.strip_prefix("file://").unwrap_or(value);
    if is_path && path_inside(place, path) {
        return Ok(());
    }
    let choices = if builtins.is_empty() {
        String::new()
    } else {
        format!(" (built in: {})", builtins.join(", "))
    };
    refuse(
        flag.arg,
        &format!(
            "loads `{value}` as code, which is neither built in{choices} nor a file inside the workspace"
        ),
    )
}

const NEVER_ENDS: &str = "keeps running until stopped, so the check would only end at its deadline";
const DEBUGGER: &str = "opens a debugger port through which anything can run";

pub(super) fn node(args: &[String], place: &Place<'_>) -> Result<(), Refusal> {
    // Everything up to `--` is screened, past the script too: an option's
    // value mistaken for the script must not hide the options after it.
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if arg == "--" {
            // Node's own options end; the script follows.
            if let Some(script) = args.get(i + 1) {
                positional_inside(place, script, "node at a script")?;
            }
            return Ok(());
        }
        let Some(f) = flag(arg) else {
            positional_inside(place, arg, "node at files to run")?;
            i += 1;
            continue;
        };
        let mut skip = false;
        match f.name.as_str() {
            "-e" | "eval" | "-p" | "print" => {
                return refuse(arg, "runs the JavaScript given on the command line");
            }
            "-r" | "require" | "import" | "loader" | "experimentalloader" => {
                let (v, took) = value(args, i, &f);
                module(place, &f, v, &[])?;
                skip = took;
            }
            "testreporter" => {
                let (v, took) = value(args, i, &f);
                module(place, &f, v, &["spec", "tap", "dot", "junit", "lcov"])?;
                skip = took;
            }
            "testreporterdestination" => {
                let (v, took) = value(args, i, &f);
                if v != "stdout" && v != "stderr" {
                    writes(place, &f, v)?;
                }
                skip = took;
            }
            "envfile" => {
                return refuse(
                    arg,
                    "sets environment variables from a file, NODE_OPTIONS (and with it `--require`) among them",
                );
            }
            "run" => return refuse(arg, "runs a package.json script through the shell"),
            "inspect" | "inspectbrk" | "inspectport" | "inspectwait" | "debug" | "debugbrk"
            | "debugport" => return refuse(arg, DEBUGGER),
            "watch" | "watchpath" => return refuse(arg, NEVER_ENDS),
            "cpuprof"
            | "heapprof"
            | "prof"
            | "buildsnapshot"
            | "experimentalseaconfig"
            | "testupdatesnapshots" => {
                return refuse(arg, "writes files outside the check's scratch directory");
            }
            "cpuprofdir" | "heapprofdir" | "diagnosticdir" | "reportdir" | "reportdirectory"
            | "redirectwarnings" | "snapshotblob" | "tracelogfile" => {
                let (v, took) = value(args, i, &f);
                writes(place, &f, v)?;
                skip = took;
            }
            "experimentalpolicy" | "opensslconfig" | "icudatadir" => {
                let (v, took) = value(args, i, &f);
                reads_inside(place, &f, v, "node at a file to load")?;
                skip = took;
            }
            // Options whose value is the next argument, not a file to run.
            "testnamepattern"
            | "testskippattern"
            | "testconcurrency"
            | "testtimeout"
            | "testshard"
            | "conditions"
            | "-C"
            | "title"
            | "stacktracelimit"
            | "maxoldspacesize"
            | "unhandledrejections"
            | "inputtype"
            | "experimentaldefaulttype"
            | "disablewarning"
            | "testcoverageinclude"
            | "testcoverageexclude" => {
                skip = f.inline.is_none();
            }
            _ => {}
        }
        i += if skip { 2 } else { 1 };
    }
    Ok(())
}

pub(super) fn tsc(args: &[String], place: &Place<'_>) -> Result<(), Refusal> {
    for (i, arg) in args.iter().enumerate() {
        let Some(f) = flag(arg) else { continue };
        match f.name.as_str() {
            "build" | "-b" => {
                return refuse(arg, "builds the project references and writes their output");
            }
            "init" => return refuse(arg, "writes a tsconfig.json into the project"),
            "watch" | "-w" => return refuse(arg, NEVER_ENDS),
            "noemit" => {
                let (v, _) = value(args, i, &f);
                if v.eq_ignore_ascii_case("false") {
                    return refuse(arg, "turns emitting back on, which writes compiled files");
                }
            }
            "outdir" | "outfile" | "out" | "declarationdir" | "tsbuildinfofile"
            | "generatetrace" | "generatecpuprofile" => {
                let (v, _) = value(args, i, &f);
                writes(place, &f, v)?;
            }
            "project" | "-p" => {
                let (v, _) = value(args, i, &f);
                reads_inside(place, &f, v, "tsc at a project")?;
            }
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn eslint(args: &[String], place: &Place<'_>) -> Result<(), Refusal> {
    let mut cache = None;
    let mut cache_in_scratch = false;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if arg == "--" {
            break;
        }
        let Some(f) = flag(arg) else {
            positional_inside(place, arg, "ESLint at files")?;
            i += 1;
            continue;
        };
        let mut skip = false;
        match f.name.as_str() {
            "fix" => return refuse(arg, "rewrites the project's files"),
            "init" => {
                return refuse(
                    arg,
                    "writes a config and installs packages from the registry",
                );
            }
            "inspectconfig" | "mcp" => return refuse(arg, "starts a server"),
            "suppressall" | "suppressrule" | "prunesuppressions" => {
                return refuse(
                    arg,
                    "writes the bulk suppressions file, which silences the lint it finds",
                );
            }
            "suppressionslocation" => {
                return refuse(
                    arg,
                    "reads lint suppressions from a file of its choice instead of the project's `eslint-suppressions.json`",
                );
            }
            "plugin" | "parser" => {
                return refuse(
                    arg,
                    "loads a package by name, from outside the workspace too",
                );
            }
            "-f" | "format" => {
                let (v, took) = value(args, i, &f);
                module(
                    place,
                    &f,
                    v,
                    &["stylish", "json", "json-with-metadata", "html"],
                )?;
                skip = took;
            }
            "-c" | "config" | "rulesdir" | "resolvepluginsrelativeto" => {
                let (v, took) = value(args, i, &f);
                reads_inside(place, &f, v, "ESLint at code to load")?;
                skip = took;
            }
            "-o" | "outputfile" => {
                let (v, took) = value(args, i, &f);
                writes(place, &f, v)?;
                skip = took;
            }
            "cache" => cache = Some(arg.as_str()),
            "cachelocation" | "cachefile" => {
                let (v, took) = value(args, i, &f);
                writes(place, &f, v)?;
                cache_in_scratch = true;
                skip = took;
            }
            // Options whose value is the next argument, not a file to lint.
            "ignorepath"
            | "ignorepattern"
            | "ext"
            | "maxwarnings"
            | "stdinfilename"
            | "rule"
            | "global"
            | "env"
            | "fixtype"
            | "flag"
            | "cachestrategy"
            | "reportunuseddisabledirectivesseverity"
            | "reportunusedinlineconfigs"
            | "concurrency"
            | "printconfig" => {
                skip = f.inline.is_none();
            }
            _ => {}
        }
        i += if skip { 2 } else { 1 };
    }
    if let Some(arg) = cache
        && !cache_in_scratch
    {
        return refuse(
            arg,
            "writes `.eslintcache` into the project; give `--cache-location` inside the check's scratch directory",
        );
    }
    Ok(())
}

pub(super) fn jest(args: &[String], place: &Place<'_>) -> Result<(), Refusal> {
    const RUNNERS: &[&str] = &["jest-circus", "jest-circus/runner", "jest-jasmine2"];
    for (i, arg) in args.iter().enumerate() {
        if arg == "--" {
            break;
        }
        let Some(f) = flag(arg) else { continue };
        let (v, _) = value(args, i, &f);
        match f.name.as_str() {
            "-u" | "updatesnapshot" => {
                return refuse(
                    arg,
                    "rewrites the project's snapshots to match what the code does now",
                );
            }
            "noci" => return refuse(arg, "lets Jest write new snapshots into the project"),
            "ci" if v.eq_ignore_ascii_case("false") => {
                return refuse(arg, "lets Jest write new snapshots into the project");
            }
            "watch" | "watchall" => return refuse(arg, NEVER_ENDS),
            "init" => return refuse(arg, "writes a Jest config into the project"),
            "clearcache" => return refuse(arg, "deletes Jest's cache directory"),
            "coverage" | "collectcoverage" if f.inline != Some("false") => {
                return refuse(arg, "writes a coverage report into the project");
            }
            "-c" | "config" => {
                if v.trim_start().starts_with('{') {
                    return refuse(
                        arg,
                        "gives an inline config, which can name modules to load from anywhere",
                    );
                }
                reads_inside(place, &f, v, "Jest at a config")?;
            }
            "transform" | "modulenamemapper" | "haste" => {
                return refuse(arg, "maps files to modules to load, from anywhere");
            }
            "setupfiles"
            | "setupfilesafterenv"
            | "globalsetup"
            | "globalteardown"
            | "testsequencer"
            | "resolver"
            | "prettierpath"
            | "snapshotresolver"
            | "watchplugins"
            | "testresultsprocessor"
            | "filter"
            | "dependencyextractor" => {
                module(place, &f, v, &[])?;
            }
            "testrunner" => module(place, &f, v, RUNNERS)?,
            "runner" => module(place, &f, v, &["jest-runner"])?,
            "reporters" => module(place, &f, v, &["default", "summary", "github-actions"])?,
            "testenvironment" | "env" => {
                module(place, &f, v, &["node", "jsdom", "jest-environment-node"])?;
            }
            "rootdir" | "roots" | "projects" | "modulepaths" => {
                reads_inside(place, &f, v, "Jest at a directory")?;
            }
            "outputfile" | "cachedirectory" | "coveragedirectory" => writes(place, &f, v)?,
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn vitest(args: &[String], place: &Place<'_>) -> Result<(), Refusal> {
    const REPORTERS: &[&str] = &[
        "default",
        "basic",
        "blob",
        "verbose",
        "dot",
        "json",
        "tap",
        "tap-flat",
        "junit",
        "hanging-process",
        "github-actions",
        "html",
    ];
    if let Some(first) = args.first().map(String::as_str) {
        match first {
            "init" => {
                return refuse(
                    first,
                    "writes config and installs packages from the registry",
                );
            }
            "watch" | "dev" => return refuse(first, NEVER_ENDS),
            _ => {}
        }
    }
    for (i, arg) in args.iter().enumerate() {
        if arg == "--" {
            break;
        }
        let Some(f) = flag(arg) else { continue };
        let (v, _) = value(args, i, &f);
        if f.name.contains("execargv") || f.sub.as_deref().is_some_and(|s| s.contains("execargv")) {
            return refuse(arg, "passes options (such as --require) to node");
        }
        match f.name.as_str() {
            "-u" | "update" => {
                return refuse(
                    arg,
                    "rewrites the project's snapshots to match what the code does now",
                );
            }
            "-w" | "watch" | "standalone" => return refuse(arg, NEVER_ENDS),
            "ui" | "open" | "api" => return refuse(arg, "starts a server"),
            "browser" => return refuse(arg, "starts a browser and a server"),
            "inspect" | "inspectbrk" => return refuse(arg, DEBUGGER),
            "coverage" if !(f.sub.as_deref() == Some("enabled") && v == "false") => {
                return refuse(
                    arg,
                    "writes a coverage report into the project and loads a coverage provider",
                );
            }
            "cache" if f.inline != Some("false") => {
                return refuse(arg, "writes Vitest's cache into the project's node_modules");
            }
            "typecheck" if f.sub.as_deref() == Some("checker") => {
                module(place, &f, v, &["tsc", "vue-tsc"])?;
            }
            "reporter" => module(place, &f, v, REPORTERS)?,
            "environment" => module(
                place,
                &f,
                v,
                &["node", "jsdom", "happy-dom", "edge-runtime"],
            )?,
            "pool" => module(
                place,
                &f,
                v,
                &["threads", "forks", "vmThreads", "vmForks", "typescript"],
            )?,
            "diff" | "runner" => module(place, &f, v, &[])?,
            "sequence" if f.sub.as_deref() == Some("sequencer") => module(place, &f, v, &[])?,
            "-r" | "root" | "dir" | "-c" | "config" | "workspace" | "mergereports" => {
                reads_inside(place, &f, v, "Vitest at files")?;
            }
            "outputfile" | "attachmentsdir" => writes(place, &f, v)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
