//! Argument hygiene for the programs checkrail knows: the switches that turn
//! a granted build or test tool into a way to run any program at all.
//!
//! This is a refusal list, not a proof: it covers the documented ways each
//! tool takes a command, a wrapper, a config override or a tool path on its
//! command line. Code in the workspace itself (build scripts, tests, package
//! scripts) runs anyway; that is what granting a build tool means.

mod js;

use std::path::{Path, PathBuf};

/// Why an argument was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    /// The argument as given.
    pub arg: String,
    /// What it would let the command do, as a fragment after "which".
    pub why: String,
}

/// Where the command runs, for arguments that name directories or files.
pub(super) struct Place<'a> {
    /// Canonical workspace root.
    pub root: &'a Path,
    /// Canonical working directory of the command (inside `root`).
    pub cwd: &'a Path,
}

/// Python modules a rule may run with `-m`: test runners, linters,
/// compilers and coverage.py, none of which runs a command given on its
/// command line (coverage.py runs a workspace script or module, as pytest
/// runs workspace tests).
pub const PYTHON_MODULES: &[&str] = &[
    "pytest",
    "coverage",
    "unittest",
    "doctest",
    "py_compile",
    "compileall",
    "mypy",
    "ruff",
    "flake8",
    "pyflakes",
    "pycodestyle",
    "pylint",
    "black",
    "isort",
];

/// The first argument of `args` that `program` must not be given, if any.
/// `inline_code` says whether Python's `-c` is acceptable (it still may not
/// be given twice, since the first one wins).
pub(super) fn screen(
    program: &str,
    args: &[String],
    place: &Place<'_>,
    inline_code: bool,
) -> Result<(), Refusal> {
    match family(program) {
        Some(Family::Cargo) => cargo(args, place),
        Some(Family::Git) => git(args, place),
        Some(Family::Python) => python(args, place, inline_code),
        Some(Family::Npm) => npm(args, false),
        Some(Family::Npx) => npm(args, true),
        Some(Family::Go) => go(args, place),
        Some(Family::Node) => js::node(args, place),
        Some(Family::Tsc) => js::tsc(args, place),
        Some(Family::Eslint) => js::eslint(args, place),
        Some(Family::Jest) => js::jest(args, place),
        Some(Family::Vitest) => js::vitest(args, place),
        Some(Family::Script(interpreter)) => script(interpreter, args, place),
        None => Ok(()),
    }
}

/// Whether checkrail screens the arguments of `program`.
pub fn is_screened(program: &str) -> bool {
    family(program).is_some()
}

#[derive(Clone, Copy)]
enum Family {
    Cargo,
    Git,
    Python,
    Npm,
    Npx,
    Go,
    Node,
    Tsc,
    Eslint,
    Jest,
    Vitest,
    /// A shell or another script interpreter.
    Script(Interpreter),
}

/// How a script interpreter other than Python and Node is told what to
/// run.
#[derive(Clone, Copy)]
struct Interpreter {
    /// Its name, for messages.
    name: &'static str,
    /// Options whose value is code to run instead of a script file.
    inline: &'static [&'static str],
    /// Options that take the next argument as their value.
    valued: &'static [&'static str],
}

const INTERPRETERS: &[Interpreter] = &[
    Interpreter {
        name: "sh",
        inline: &["-c"],
        valued: &["-o", "-O"],
    },
    Interpreter {
        name: "bash",
        inline: &["-c"],
        valued: &["-o", "-O", "--rcfile", "--init-file"],
    },
    Interpreter {
        name: "dash",
        inline: &["-c"],
        valued: &["-o"],
    },
    Interpreter {
        name: "zsh",
        inline: &["-c"],
        valued: &["-o"],
    },
    Interpreter {
        name: "ruby",
        inline: &["-e"],
        valued: &["-I", "-r", "-C", "-E"],
    },
    Interpreter {
        name: "perl",
        inline: &["-e", "-E"],
        valued: &["-I", "-M", "-m"],
    },
    Interpreter {
        name: "php",
        inline: &["-r"],
        valued: &["-d", "-c", "-z"],
    },
    Interpreter {
        name: "Rscript",
        inline: &["-e"],
        valued: &[],
    },
];

fn family(program: &str) -> Option<Family> {
    let python_version = |v: &str| v.chars().all(|c| c.is_ascii_digit() || c == '.');
    match program {
        "cargo" => Some(Family::Cargo),
        "git" => Some(Family::Git),
        "npm" => Some(Family::Npm),
        "npx" => Some(Family::Npx),
        "go" => Some(Family::Go),
        "node" => Some(Family::Node),
        "tsc" => Some(Family::Tsc),
        "eslint" => Some(Family::Eslint),
        "jest" => Some(Family::Jest),
        "vitest" => Some(Family::Vitest),
        _ if INTERPRETERS.iter().any(|i| i.name == program) => INTERPRETERS
            .iter()
            .find(|i| i.name == program)
            .map(|i| Family::Script(*i)),
        _ => program
            .strip_prefix("python")
            .filter(|v| python_version(v))
            .map(|_| Family::Python),
    }
}

fn refuse(arg: &str, why: &str) -> Result<(), Refusal> {
    Err(Refusal {
        arg: arg.to_owned(),
        why: why.to_owned(),
    })
}

/// The value of option `name` at `args[i]`, given as `name=value` or as the
/// next argument; `None` when `args[i]` is not that option.
fn value_of<'a>(args: &'a [String], i: usize, name: &str) -> Option<&'a str> {
    let arg = args[i].as_str();
    if arg == name {
        return Some(args.get(i + 1).map_or("", String::as_str));
    }
    arg.strip_prefix(name)?.strip_prefix('=')
}

/// Arguments before `--` (after it, tools pass arguments on untouched).
fn options(args: &[String]) -> &[String] {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    &args[..end]
}

/// `value` (a path, relative to the command's directory) made absolute,
/// with the longest prefix that exists resolved through symlinks; `None`
/// when a `..` climbs out of what exists.
fn resolved(place: &Place<'_>, value: &str) -> Option<PathBuf> {
    let given = Path::new(value);
    let joined = if given.is_absolute() {
        given.to_owned()
    } else {
        place.cwd.join(given)
    };
    // Resolve the longest prefix that exists (following symlinks) and append
    // the rest; a `..` in the part that does not exist ends the walk with no
    // file name, and is refused.
    let mut existing = joined.as_path();
    let mut rest = Vec::new();
    let resolved = loop {
        if let Ok(canonical) = existing.canonicalize() {
            break canonical;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return None,
        }
    };
    Some(rest.iter().rev().fold(resolved, |p, name| p.join(name)))
}

fn path_inside(place: &Place<'_>, value: &str) -> bool {
    resolved(place, value).is_some_and(|full| full.starts_with(place.root))
}

/// Refuses a positional argument (a script, files to run) that resolves
/// outside the workspace.
fn positional_inside(place: &Place<'_>, arg: &str, what: &str) -> Result<(), Refusal> {
    if path_inside(place, arg) {
        Ok(())
    } else {
        refuse(arg, &format!("points {what} outside the workspace"))
    }
}

fn outside(place: &Place<'_>, arg: &str, value: &str, what: &str) -> Result<(), Refusal> {
    if path_inside(place, value) {
        Ok(())
    } else {
        refuse(
            arg,
            &format!("points {what} outside the workspace (`{value}`)"),
        )
    }
}

fn cargo(args: &[String], place: &Place<'_>) -> Result<(), Refusal> {
    if let Some(toolchain) = args.first().and_then(|a| a.strip_prefix('+'))
        && toolchain.contains(['/', '\\'])
    {
        return refuse(
            &args[0],
            "makes rustup run the toolchain binaries found at that path",
        );
    }
    let opts = options(args);
    for (i, arg) in opts.iter().enumerate() {
        if arg == "--config" || arg.starts_with("--config=") {
            return refuse(
                arg,
                "can set runners, wrappers, linkers and environment variables (such as LD_PRELOAD) that cargo then runs or passes on",
            );
        }
        if arg.starts_with("-Z") {
            return refuse(
                arg,
                "enables unstable cargo features, some of which take config and paths to run",
            );
        }
        if let Some(path) = value_of(opts, i, "--manifest-path") {
            outside(place, arg, path, "cargo at a manifest")?;
        }
    }
    Ok(())
}

fn git(args: &[String], place: &Place<'_>) -> Result<(), Refusal> {
    let opts = options(args);
    let run_config = "sets git configuration, which can name programs git runs (aliases with `!`, core.pager, core.fsmonitor, hooks)";
    // Global options, before the subcommand.
    let mut i = 0;
    while let Some(arg) = opts.get(i) {
        if !arg.starts_with('-') {
            break;
        }
        if arg.starts_with("-c") || arg == "--config-env" || arg.starts_with("--config-env=") {
            return refuse(arg, run_config);
        }
        if arg.starts_with("--exec-path=") {
            return refuse(arg, "makes git run its subcommands from that directory");
        }
        for (name, what) in [
            ("-C", "git at a directory"),
            ("--git-dir", "git at a repository"),
            ("--work-tree", "git at a work tree"),
        ] {
            if let Some(dir) = value_of(opts, i, name) {
                outside(place, arg, dir, what)?;
            }
        }
        let takes_value = [
            "-C",
            "--git-dir",
            "--work-tree",
            "--namespace",
            "--super-prefix",
        ];
        i += if takes_value.contains(&arg.as_str()) {
            2
        } else {
            1
        };
    }
    let Some(subcommand) = opts.get(i).map(String::as_str) else {
        return Ok(());
    };
    let rest = &opts[i + 1..];
    let runs_commands = "runs the command it is given";
    match subcommand {
        "filter-branch" | "filter-repo" => return refuse(subcommand, "runs shell filters"),
        "bisect" if rest.first().is_some_and(|a| a == "run") => {
            return refuse("bisect run", runs_commands);
        }
        "submodule" if rest.iter().any(|a| a == "foreach") => {
            return refuse("submodule foreach", runs_commands);
        }
        "config" => {
            let reads = [
                "--get",
                "--get-all",
                "--get-regexp",
                "--list",
                "-l",
                "get",
                "list",
            ];
            if !rest.iter().any(|a| reads.contains(&a.as_str())) {
                return refuse(
                    "config",
                    &format!("writes configuration, which {run_config}"),
                );
            }
        }
        _ => {}
    }
    for arg in rest {
        for name in [
            "--upload-pack",
            "--receive-pack",
            "--exec",
            "--extcmd",
            "--open-files-in-pager",
            "--config",
        ] {
            if arg == name || arg.starts_with(&format!("{name}=")) {
                return refuse(arg, runs_commands);
            }
        }
        let short = match subcommand {
            "clone" => "-u",
            "rebase" | "difftool" => "-x",
            "grep" => "-O",
            _ => continue,
        };
        if arg.starts_with(short) {
            return refuse(arg, runs_commands);
        }
    }
    Ok(())
}

/// Python's options, then what it runs: a module checkrail knows (`-m`),
/// inline code where the policy allows it (`-c`), or a script, which must be
/// a file of the workspace (a path elsewhere would run whatever is there).
/// A script interpreter's script (its first argument that is neither an
/// option nor an option's value) must be in the workspace, as Python's
/// and Node's must; code given inline (`sh -c`, `perl -e`) has no file.
fn script(interpreter: Interpreter, args: &[String], place: &Place<'_>) -> Result<(), Refusal> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if interpreter.inline.contains(&arg.as_str()) || arg == "-" {
            return Ok(());
        }
        if let Some(script) = script_at(args, i) {
            return match script {
                Some(script) => {
                    positional_inside(place, script, &format!("{} at a script", interpreter.name))
                }
                None => Ok(()),
            };
        }
        i += if interpreter.valued.contains(&arg.as_str()) {
            2
        } else {
            1
        };
    }
    Ok(())
}

/// Where an interpreter's options end at `args[i]`: `--` (then the script
/// is the next argument, if any) or the first positional argument, the
/// script itself. `None` while `args[i]` is still an option.
fn script_at(args: &[String], i: usize) -> Option<Option<&String>> {
    let arg = args.get(i)?;
    if arg == "--" {
        Some(args.get(i + 1))
    } else if arg.starts_with('-') {
        None
    } else {
        Some(Some(arg))
    }
}

fn python(args: &[String], place: &Place<'_>, inline_code: bool) -> Result<(), Refusal> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if arg == "-" {
            return Ok(());
        }
        if let Some(script) = script_at(args, i) {
            return match script {
                Some(script) if script != "-" => {
                    positional_inside(place, script, "python at a script")
                }
                _ => Ok(()),
            };
        }
        if arg.starts_with("--") {
            i += if arg == "--check-hash-based-pycs" {
                2
            } else {
                1
            };
            continue;
        }
        let flags = &arg[1..];
        let mut skip_next = false;
        for (at, flag) in flags.char_indices() {
            let attached = &flags[at + flag.len_utf8()..];
            let value = if attached.is_empty() {
                args.get(i + 1).map_or("", String::as_str)
            } else {
                attached
            };
            match flag {
                'c' => {
                    if !inline_code {
                        return refuse(arg, "runs the Python code given on the command line");
                    }
                    let later = if attached.is_empty() { i + 2 } else { i + 1 };
                    if args[later.min(args.len())..].iter().any(|a| a == "-c") {
                        return refuse(
                            arg,
                            "comes before another `-c`, so its code would run in place of the rule's own",
                        );
                    }
                    return Ok(());
                }
                'm' => {
                    if PYTHON_MODULES.contains(&value) {
                        return Ok(());
                    }
                    return refuse(
                        arg,
                        &format!(
                            "runs module `{value}`, which is not a test runner, linter or compiler checkrail knows ({})",
                            PYTHON_MODULES.join(", ")
                        ),
                    );
                }
                'W' | 'X' => {
                    skip_next = attached.is_empty();
                    break;
                }
                _ => {}
            }
        }
        i += if skip_next { 2 } else { 1 };
    }
    Ok(())
}

fn npm(args: &[String], npx: bool) -> Result<(), Refusal> {
    let opts = options(args);
    let exec = npx
        || opts
            .iter()
            .find(|a| !a.starts_with('-'))
            .is_some_and(|a| a == "exec" || a == "x");
    for arg in opts {
        for (name, why) in [
            ("--script-shell", "makes npm run scripts with that program"),
            (
                "--node-options",
                "passes options (such as --require) to node",
            ),
        ] {
            if arg == name || arg.starts_with(&format!("{name}=")) {
                return refuse(arg, why);
            }
        }
        if !exec {
            continue;
        }
        if arg == "-c" || arg == "--call" || arg.starts_with("--call=") {
            return refuse(arg, "runs the shell command it is given");
        }
        if ["-p", "--package", "-y", "--yes"].contains(&arg.as_str())
            || arg.starts_with("--package=")
            || arg.starts_with("--yes=")
        {
            return refuse(
                arg,
                "fetches packages from the registry and runs them, not only what the workspace installed",
            );
        }
    }
    Ok(())
}

fn go(args: &[String], place: &Place<'_>) -> Result<(), Refusal> {
    if let Some(dir) = args.first().and_then(|_| value_of(args, 0, "-C")) {
        outside(place, &args[0], dir, "go at a directory")?;
    }
    for arg in args {
        let name = arg.trim_start_matches('-');
        if !arg.starts_with('-') {
            continue;
        }
        for (flag, why) in [
            (
                "toolexec",
                "runs every compiler and tool through that program",
            ),
            (
                "exec",
                "runs test and program binaries through that program",
            ),
        ] {
            if name == flag || name.starts_with(&format!("{flag}=")) {
                return refuse(arg, why);
            }
        }
        if (name == "ldflags" || name.starts_with("ldflags=")) && arg.contains("extld") {
            return refuse(arg, "names the external linker go runs");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screened(program: &str, args: &[&str], inline: bool) -> Result<(), String> {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root_path = root.path().canonicalize().unwrap();
        let outside_path = outside.path().canonicalize().unwrap();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("@OUT", &outside_path.display().to_string()))
            .collect();
        let place = Place {
            root: &root_path,
            cwd: &root_path.join("sub"),
        };
        screen(program, &args, &place, inline).map_err(|r| format!("{} {}", r.arg, r.why))
    }

    fn refused(program: &str, args: &[&str], arg: &str) {
        let got = screened(program, args, false);
        assert!(
            got.as_ref()
                .is_err_and(|m| m.starts_with(&format!("{arg} "))),
            "{program} {args:?}: expected `{arg}` refused, got {got:?}"
        );
    }

    fn allowed(program: &str, args: &[&str]) {
        let got = screened(program, args, false);
        assert!(got.is_ok(), "{program} {args:?}: {got:?}");
    }

    #[test]
    fn cargo_config_unstable_flags_and_outside_manifests_are_refused() {
        refused(
            "cargo",
            &["build", "--config", "env.LD_PRELOAD=/tmp/x.so"],
            "--config",
        );
        refused(
            "cargo",
            &[
                "test",
                "--config=target.x86_64-unknown-linux-gnu.runner=[\"sh\",\"-c\",\"id\"]",
            ],
            "--config=target.x86_64-unknown-linux-gnu.runner=[\"sh\",\"-c\",\"id\"]",
        );
        refused(
            "cargo",
            &["-Zunstable-options", "build"],
            "-Zunstable-options",
        );
        refused("cargo", &["build", "-Z", "build-std"], "-Z");
        refused(
            "cargo",
            &["build", "--manifest-path", "@OUT/Cargo.toml"],
            "--manifest-path",
        );
        refused(
            "cargo",
            &["build", "--manifest-path=../../Cargo.toml"],
            "--manifest-path=../../Cargo.toml",
        );
        refused("cargo", &["+/tmp/evil", "build"], "+/tmp/evil");
        allowed(
            "cargo",
            &["+nightly", "build", "--manifest-path", "../Cargo.toml"],
        );
        allowed(
            "cargo",
            &["test", "--no-fail-fast", "--", "--config", "-Zx"],
        );
        allowed("cargo", &["build", "--manifest-path", "new/Cargo.toml"]);
    }

    #[test]
    fn git_config_exec_path_and_command_switches_are_refused() {
        refused("git", &["-c", "alias.x=!sh -c id", "x"], "-c");
        refused("git", &["-ccore.pager=sh", "log"], "-ccore.pager=sh");
        refused(
            "git",
            &["--config-env=core.pager=X", "log"],
            "--config-env=core.pager=X",
        );
        refused("git", &["--exec-path=/tmp", "status"], "--exec-path=/tmp");
        refused("git", &["-C", "@OUT", "status"], "-C");
        refused("git", &["--git-dir", "@OUT/.git", "log"], "--git-dir");
        refused("git", &["--work-tree=../..", "status"], "--work-tree=../..");
        refused(
            "git",
            &["fetch", "--upload-pack=sh -c id", "origin"],
            "--upload-pack=sh -c id",
        );
        refused("git", &["clone", "-u", "sh -c id", "x"], "-u");
        refused("git", &["rebase", "-x", "id", "main"], "-x");
        refused("git", &["bisect", "run", "sh"], "bisect run");
        refused("git", &["config", "core.fsmonitor", "sh"], "config");
        allowed("git", &["-C", "..", "status", "--porcelain"]);
        allowed("git", &["commit", "-c", "HEAD", "-m", "x"]);
        allowed("git", &["config", "--get", "user.name"]);
        allowed("git", &["--exec-path"]);
        allowed("git", &["log", "--", "-c"]);
    }

    #[test]
    fn every_script_interpreter_runs_scripts_from_the_workspace_only() {
        for program in ["sh", "bash", "ruby", "perl", "php", "Rscript"] {
            allowed(program, &["run.sh"]);
            allowed(program, &["../sub/run.sh", "/tmp/an-argument"]);
            assert!(
                screened(program, &["@OUT/evil"], false)
                    .is_err_and(|m| m.contains(&format!("{program} at a script outside"))),
                "{program}"
            );
            assert!(screened(program, &["--", "/etc/passwd"], false).is_err());
        }
        // An option's value is not taken for the script.
        assert!(screened("bash", &["-o", "pipefail", "@OUT/evil.sh"], false).is_err());
        assert!(screened("perl", &["-I", "lib", "@OUT/evil.pl"], false).is_err());
        allowed("bash", &["-e", "-o", "pipefail", "ci.sh"]);
        // Inline code names no file.
        allowed("sh", &["-c", "exit 0"]);
        allowed("perl", &["-e", "print 1"]);
    }

    #[test]
    fn python_inline_code_and_unknown_modules_are_refused() {
        refused("python3", &["-c", "import os"], "-c");
        refused("python3", &["-Bc", "import os"], "-Bc");
        refused("python", &["-m", "pip", "install", "x"], "-m");
        refused("python3.12", &["-I", "-mhttp.server"], "-mhttp.server");
        allowed("python3", &["-B", "-m", "pytest", "-q", "-c", "pytest.ini"]);
        allowed("python3", &["-X", "utf8", "-W", "error", "-m", "unittest"]);
        allowed("python3", &["script.py", "-c", "x"]);
        allowed("python3", &["-B", "--", "../sub/tool.py"]);
        // A script must be a file of the workspace: a path elsewhere (say,
        // named by evidence) would run whatever is there.
        let elsewhere = screened("python3", &["-B", "@OUT/evil.py"], false);
        assert!(elsewhere.is_err_and(|m| m.contains("python at a script outside the workspace")),);
        assert!(screened("python3", &["--", "/etc/passwd"], false).is_err());
        assert!(screened("python3", &["../../x.py"], false).is_err());
        // Inline code where the policy allows it: once only.
        assert!(screened("python3", &["-B", "-I", "-c", "code", "a.py"], true).is_ok());
        let twice = screened("python3", &["-B", "-c", "evil", "-c", "code"], true);
        assert!(twice.is_err_and(|m| m.contains("another `-c`")));
    }

    #[test]
    fn npm_npx_and_go_command_switches_are_refused() {
        refused("npx", &["-c", "id"], "-c");
        refused("npx", &["--package=evil", "evil"], "--package=evil");
        refused("npm", &["exec", "--call", "id"], "--call");
        refused(
            "npm",
            &["test", "--script-shell=/bin/sh"],
            "--script-shell=/bin/sh",
        );
        refused(
            "npm",
            &["test", "--node-options=--require=/tmp/x.js"],
            "--node-options=--require=/tmp/x.js",
        );
        allowed("npm", &["test", "--", "-c"]);
        allowed("npm", &["run", "lint", "-p"]);
        allowed("npx", &["eslint", "."]);
        refused(
            "go",
            &["test", "-toolexec", "sh -c id", "./..."],
            "-toolexec",
        );
        refused("go", &["test", "--exec=sh", "./..."], "--exec=sh");
        refused("go", &["build", "-ldflags=-extld=sh"], "-ldflags=-extld=sh");
        refused("go", &["-C", "@OUT", "build"], "-C");
        allowed("go", &["test", "-run", "TestX", "./..."]);
        allowed("make", &["--eval", "x"]);
        assert!(is_screened("python3.11") && !is_screened("pythonista"));
    }
}
