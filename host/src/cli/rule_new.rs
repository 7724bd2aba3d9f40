//! `checkrail rule new`: scaffolds a rule crate that tests, builds and runs
//! as generated: the name and the place are checked here, where the SDK
//! comes from is [`sdk`]'s to say, and the files are [`template`]'s.

mod python;
mod sdk;
mod template;
mod typescript;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::Exit;
use sdk::{Sdk, crates_io_requirement, explicit_sdk, find_checkout_sdk, install_sdk};
use template::render_crate;

/// Names cargo or rustc refuse as a package or library name.
#[rustfmt::skip]
const RESERVED: &[&str] = &[
    "abstract", "alloc", "as", "async", "await", "become", "box", "break", "const", "continue",
    "core", "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen",
    "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv",
    "proc-macro", "pub", "ref", "return", "self", "static", "std", "struct", "super", "test",
    "trait", "true", "try", "type", "typeof", "union", "unsafe", "unsized", "use", "virtual",
    "where", "while", "yield",
];

/// Arguments of `checkrail rule new`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rule id and crate name: lowercase words joined by `-`, e.g. `has-changelog`.
    pub name: String,
    /// Directory to create the crate in, as `DIR/<name>`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Use this checkrail-sdk checkout instead of the crates.io version.
    #[arg(long, value_name = "DIR", hide = true)]
    pub sdk_path: Option<PathBuf>,
    /// Depend on checkrail-sdk from crates.io instead of the copy of the SDK
    /// this checkrail carries (once the SDK is published there).
    #[arg(long, conflicts_with = "sdk_path")]
    pub registry: bool,
    /// The language to write the rule in. Python and TypeScript rules are
    /// built into components with componentize-py (PyPI) or
    /// componentize-js (npm); the project says how.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
}

/// Languages a rule can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A crate depending on checkrail-sdk.
    Rust,
    /// A Python project with the checkrail_rule SDK.
    Python,
    /// A TypeScript (npm) project with the @checkrail/rule-sdk SDK.
    Typescript,
}

/// Creates the rule crate and prints what it made and what to run next.
pub fn run(args: &Args) -> Result<Exit> {
    validate_name(&args.name)?;
    if checkrail::bundled::BUNDLED_RULES
        .iter()
        .any(|(id, _)| *id == args.name)
    {
        bail!(
            "`{}` is the name of a bundled rule, and checkrail refuses two rules of one name; \
             pick another name",
            args.name
        );
    }

    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("create directory `{}`", args.dir.display()))?;
    let parent = args
        .dir
        .canonicalize()
        .with_context(|| format!("resolve directory `{}`", args.dir.display()))?;
    let target = parent.join(&args.name);
    let shown = if args.dir == Path::new(".") {
        PathBuf::from(&args.name)
    } else {
        args.dir.join(&args.name)
    };
    check_target(&target, &shown)?;
    if args.lang != Lang::Rust {
        return write_project(args, &target, &shown);
    }
    if let Some((root, pattern)) = claiming_workspace(&target) {
        bail!(
            "`{}` would be a member of the Cargo workspace at `{}` (its `members` has `{pattern}`), \
             but the generated crate is a workspace of its own and cargo refuses nested workspace \
             roots; create it elsewhere (e.g. --dir rules) or add it to that workspace's `exclude`",
            shown.display(),
            root.display()
        );
    }

    let sdk = match &args.sdk_path {
        Some(dir) => explicit_sdk(dir)?,
        None => match find_checkout_sdk(&parent) {
            Some(dir) => Sdk::Path(dir),
            None if args.registry => Sdk::Version(crates_io_requirement()),
            None => Sdk::Installed(install_sdk()?),
        },
    };
    let files = render_crate(&args.name, &sdk, &target);

    std::fs::create_dir_all(target.join("src"))
        .with_context(|| format!("create `{}`", shown.display()))?;
    for (file, text) in &files {
        std::fs::write(target.join(file), text)
            .with_context(|| format!("write `{}`", shown.join(file).display()))?;
    }

    println!("Created rule `{}` in {}:", args.name, shown.display());
    for (file, _) in &files {
        println!("  {}", shown.join(file).display());
    }
    match &sdk {
        Sdk::Path(dir) => println!("checkrail-sdk: the checkout at {}", dir.display()),
        Sdk::Version(version) => println!("checkrail-sdk: {version} from crates.io"),
        Sdk::Installed(dir) => println!(
            "checkrail-sdk: {} (this checkrail's copy) at {}",
            env!("CARGO_PKG_VERSION"),
            dir.display()
        ),
    }
    println!();
    println!("Next:");
    println!("  cd {}", shown.display());
    println!("  cargo test");
    println!("  rustup target add wasm32-wasip2");
    println!("  cargo build --release --target wasm32-wasip2");
    println!(
        "  {} --rules-dir target/wasm32-wasip2/release rule run {} --config '{{\"path\":\"README.md\"}}' --workspace .",
        this_checkrail(),
        args.name
    );
    Ok(Exit::Passed)
}

/// Writes a rule project in a language other than Rust and prints what to
/// run next.
fn write_project(args: &Args, target: &Path, shown: &Path) -> Result<Exit> {
    let (files, steps, sdk_dir) = match args.lang {
        Lang::Python => (
            python::render(&args.name),
            python::next_steps(&args.name, &this_checkrail()),
            "checkrail_rule/",
        ),
        Lang::Typescript => (
            typescript::render(&args.name),
            typescript::next_steps(&args.name, &this_checkrail()),
            typescript::SDK_DIR,
        ),
        Lang::Rust => unreachable!("Rust rules are crates"),
    };
    for (file, text) in &files {
        let path = target.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create `{}`", parent.display()))?;
        }
        std::fs::write(&path, text)
            .with_context(|| format!("write `{}`", shown.join(file).display()))?;
    }
    println!(
        "Created rule `{}` ({:?}) in {}:",
        args.name,
        args.lang,
        shown.display()
    );
    for (file, _) in files.iter().filter(|(f, _)| !f.starts_with(sdk_dir)) {
        println!("  {}", shown.join(file).display());
    }
    println!(
        "  {} (the SDK of checkrail {}, rule API {})",
        shown.join(sdk_dir).display(),
        env!("CARGO_PKG_VERSION"),
        checkrail_sdk::API_VERSION
    );
    println!();
    println!("Next:");
    println!("  cd {}", shown.display());
    for step in steps {
        println!("  {step}");
    }
    Ok(Exit::Passed)
}

/// How to call the checkrail that is running now, so the printed steps work
/// as printed: `checkrail` when that name on PATH is this binary, else this
/// binary's path (a `cargo run` build is on no PATH).
fn this_checkrail() -> String {
    let Ok(me) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "checkrail".to_owned();
    };
    let on_path = std::env::var_os("PATH")
        .and_then(|path| checkrail_sandbox::exec::find_on_path("checkrail", &path))
        .and_then(|found| std::fs::canonicalize(found).ok());
    if on_path.as_deref() == Some(me.as_path()) {
        return "checkrail".to_owned();
    }
    shell_word(&me.to_string_lossy())
}

/// `word` as one shell word: as it is when it holds only safe characters,
/// else in single quotes.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%=,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Refuses anything but lowercase words joined by `-`, saying what would do.
fn validate_name(name: &str) -> Result<()> {
    let words_ok = !name.is_empty()
        && name.split('-').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !words_ok {
        let mut message = format!(
            "invalid rule name `{name}`: a rule name is lowercase words (a-z, 0-9) joined by `-`, \
             starting with a letter, e.g. `has-changelog`"
        );
        let suggestion = suggest_name(name);
        if suggestion != name && validate_name(&suggestion).is_ok() {
            message.push_str(&format!("; did you mean `{suggestion}`?"));
        }
        bail!(message);
    }
    if name.len() > 64 {
        bail!("invalid rule name `{name}`: at most 64 characters");
    }
    if RESERVED.contains(&name) {
        bail!(
            "invalid rule name `{name}`: it is a Rust keyword or a built-in crate name, \
             which cargo refuses as a package name; pick another"
        );
    }
    Ok(())
}

/// `My_Rule Name` → `my-rule-name`.
fn suggest_name(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('-');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// The crate may go into an empty directory, never over anything.
fn check_target(target: &Path, shown: &Path) -> Result<()> {
    match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("look at `{}`", shown.display())),
        Ok(meta) if !meta.is_dir() => bail!(
            "`{}` already exists and is not a directory; pick another name or --dir",
            shown.display()
        ),
        Ok(_) => {
            let mut entries =
                std::fs::read_dir(target).with_context(|| format!("read `{}`", shown.display()))?;
            if entries.next().is_some() {
                bail!(
                    "`{}` already exists and is not empty; refusing to write into it \
                     (pick another name or --dir, or remove it)",
                    shown.display()
                );
            }
            Ok(())
        }
    }
}

/// The Cargo workspace above `crate_dir` (canonical) whose `members` would
/// claim a crate there, and the pattern that does.
fn claiming_workspace(crate_dir: &Path) -> Option<(PathBuf, String)> {
    crate_dir.ancestors().skip(1).find_map(|root| {
        let text = std::fs::read_to_string(root.join("Cargo.toml")).ok()?;
        let manifest = text.parse::<toml::Table>().ok()?;
        let workspace = manifest.get("workspace")?;
        let relative = crate_dir.strip_prefix(root).ok()?;
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let patterns = |key: &str| -> Vec<String> {
            workspace
                .get(key)
                .and_then(toml::Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let matches = |pattern: &str| {
            let pattern: Vec<&str> = pattern
                .trim_end_matches('/')
                .split('/')
                .filter(|p| !p.is_empty() && *p != ".")
                .collect();
            path_matches(&pattern, &parts)
        };
        if patterns("exclude").iter().any(|p| matches(p)) {
            return None;
        }
        patterns("members")
            .into_iter()
            .find(|p| matches(p))
            .map(|p| (root.to_owned(), p))
    })
}

/// Glob match of `/`-split path components: `**` spans components, `*` and
/// `?` stay within one, as in Cargo's `members`.
fn path_matches(pattern: &[&str], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| path_matches(rest, &path[skip..])),
        Some((first, rest)) => path.split_first().is_some_and(|(component, tail)| {
            component_matches(first.as_bytes(), component.as_bytes()) && path_matches(rest, tail)
        }),
    }
}

/// One path component against a pattern with `*`, `?` and `[...]` sets
/// (sets are matched loosely, as any one character).
fn component_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| component_matches(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && component_matches(rest, &text[1..]),
        Some((b'[', rest)) => match rest.iter().position(|&b| b == b']') {
            Some(end) => !text.is_empty() && component_matches(&rest[end + 1..], &text[1..]),
            None => text.first() == Some(&b'[') && component_matches(rest, &text[1..]),
        },
        Some((c, rest)) => text.first() == Some(c) && component_matches(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_binary_is_one_shell_word() {
        assert_eq!(
            shell_word("/opt/ci/target/debug/checkrail"),
            "/opt/ci/target/debug/checkrail"
        );
        assert_eq!(shell_word("/home/a b/checkrail"), "'/home/a b/checkrail'");
        assert_eq!(shell_word("/it's/checkrail"), "'/it'\\''s/checkrail'");
    }

    #[test]
    fn accepts_lowercase_words_joined_by_dashes() {
        for name in ["a", "has-changelog", "rule2", "no-todo-v2", "x-1"] {
            assert!(validate_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_other_names_with_a_suggestion() {
        for name in [
            "",
            "-a",
            "a-",
            "a--b",
            "Has-Changelog",
            "has_changelog",
            "has changelog",
            "2fa",
            "ünïcode",
            "a/b",
            "../x",
            "a.b",
        ] {
            let err = validate_name(name).unwrap_err().to_string();
            assert!(err.contains("lowercase words"), "{name}: {err}");
        }
        let err = validate_name("Has_Changelog").unwrap_err().to_string();
        assert!(err.contains("did you mean `has-changelog`?"), "{err}");
        let err = validate_name("hasChangelog").unwrap_err().to_string();
        assert!(err.contains("did you mean `has-changelog`?"), "{err}");
    }

    #[test]
    fn refuses_keywords_and_long_names() {
        for name in ["test", "fn", "std", "proc-macro"] {
            let err = validate_name(name).unwrap_err().to_string();
            assert!(err.contains("Rust keyword"), "{name}: {err}");
        }
        assert!(validate_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn refuses_to_land_among_an_enclosing_workspace_members() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"host\", \"plugins/*\", \"tests/**/p?\"]\nexclude = [\"plugins/old\"]\n",
        )
        .unwrap();
        let claim = |rel: &str| claiming_workspace(&root.join(rel));
        assert_eq!(
            claim("plugins/x"),
            Some((root.clone(), "plugins/*".to_owned()))
        );
        assert_eq!(claim("host").map(|(_, p)| p).as_deref(), Some("host"));
        assert_eq!(
            claim("tests/a/b/p1").map(|(_, p)| p).as_deref(),
            Some("tests/**/p?")
        );
        assert_eq!(claim("plugins/old"), None);
        assert_eq!(claim("plugins/x/y"), None);
        assert_eq!(claim("rules/x"), None);
    }
}
