//! `checkrail rule new`: scaffolds a rule crate that tests, builds and runs
//! as generated.
//!
//! Where the `checkrail-sdk` dependency comes from, first match wins:
//!
//! 1. `--sdk-path DIR` (hidden; for tests and SDK hacking): that checkout, as
//!    a path dependency.
//! 2. The target directory lies inside a checkrail source checkout (an
//!    ancestor holds `plugin-sdk/Cargo.toml` with package name
//!    `checkrail-sdk`): that checkout's SDK, as a relative path dependency, so
//!    a rule written in the checkout builds against the SDK beside it.
//! 3. With `--registry`: the crates.io release matching this binary,
//!    `"<major>.<minor>"` of the checkrail version (the workspace shares one
//!    version, so it is also the SDK's).
//! 4. Otherwise the SDK source this binary carries (its own version, WIT
//!    included), written once to `<data dir>/sdk/<version>-<digest>/`
//!    (`$CHECKRAIL_DATA_DIR`, else `~/.local/share/checkrail`) and depended on
//!    by that absolute, user-level path: works offline, with no checkout.
//!
//! The checkout this binary was built from (`CARGO_MANIFEST_DIR` at build
//! time) is deliberately not consulted: a crate generated elsewhere would
//! silently depend on an absolute path on the build machine, which breaks as
//! soon as the checkout moves or the crate is shared.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::Exit;

const CARGO_TOML: &str = include_str!("../../templates/rule/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../../templates/rule/lib.rs.tmpl");
const README_MD: &str = include_str!("../../templates/rule/README.md.tmpl");
const GITIGNORE: &str = include_str!("../../templates/rule/gitignore.tmpl");

/// Package name of the SDK.
const SDK_PACKAGE: &str = "checkrail-sdk";

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
}

/// Where the generated crate gets `checkrail-sdk` from.
#[derive(Debug, PartialEq, Eq)]
enum Sdk {
    /// A checkout's `plugin-sdk` directory (canonical).
    Path(PathBuf),
    /// A crates.io version requirement.
    Version(String),
    /// The SDK source this binary carries, written to a user-level directory.
    Installed(PathBuf),
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

/// How to call the checkrail that is running now, so the printed steps work
/// as printed: `checkrail` when that name on PATH is this binary, else this
/// binary's path (a `cargo run` build is on no PATH).
fn this_checkrail() -> String {
    let Ok(me) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "checkrail".to_owned();
    };
    let on_path = std::env::var_os("PATH")
        .and_then(|path| checkrail_sdk::native::exec::find_on_path("checkrail", &path))
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

/// `has-changelog` → `HasChangelog`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
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

/// Whether `dir` holds the `checkrail-sdk` package.
fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|manifest| {
            manifest
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(toml::Value::as_str)
                == Some(SDK_PACKAGE)
        })
}

/// The SDK checkout named by `--sdk-path`: the SDK crate itself, or a
/// checkrail checkout holding it in `plugin-sdk/`.
fn explicit_sdk(dir: &Path) -> Result<Sdk> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolve --sdk-path `{}`", dir.display()))?;
    for candidate in [dir.clone(), dir.join("plugin-sdk")] {
        if is_sdk(&candidate) {
            return Ok(Sdk::Path(candidate));
        }
    }
    bail!(
        "--sdk-path `{}` holds no {SDK_PACKAGE} crate (neither it nor its plugin-sdk/ has a \
         Cargo.toml with package name `{SDK_PACKAGE}`)",
        dir.display()
    )
}

/// The SDK of the checkrail checkout that `dir` (canonical) lies in, if any.
fn find_checkout_sdk(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|ancestor| ancestor.join("plugin-sdk"))
        .find(|candidate| is_sdk(candidate))
}

/// Writes the SDK source this binary carries to
/// `<data dir>/sdk/<version>-<digest>/` unless it is there already, and
/// returns that directory. Written into a temporary sibling and renamed, so
/// a half-written copy is never used.
fn install_sdk() -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let data = match std::env::var_os("CHECKRAIL_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => dirs::data_dir()
            .context("find a user data directory for the SDK; set CHECKRAIL_DATA_DIR")?
            .join("checkrail"),
    };
    let mut digest = Sha256::new();
    for (path, bytes) in checkrail::bundled::SDK_SOURCE {
        digest.update(path.as_bytes());
        digest.update([0]);
        digest.update(bytes);
    }
    let digest = hex::encode(digest.finalize());
    let dir = data
        .join("sdk")
        .join(format!("{}-{}", env!("CARGO_PKG_VERSION"), &digest[..12]));
    if dir.join("Cargo.toml").is_file() {
        return Ok(dir);
    }
    let parent = dir.parent().unwrap_or(&data);
    std::fs::create_dir_all(parent).with_context(|| format!("create `{}`", parent.display()))?;
    let staged = parent.join(format!(".staging-{}", uuid::Uuid::new_v4().simple()));
    let written = checkrail::bundled::SDK_SOURCE
        .iter()
        .try_for_each(|(path, bytes)| {
            let file = staged.join(path);
            if let Some(up) = file.parent() {
                std::fs::create_dir_all(up)
                    .with_context(|| format!("create `{}`", up.display()))?;
            }
            std::fs::write(&file, bytes).with_context(|| format!("write `{}`", file.display()))
        });
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e);
    }
    match std::fs::rename(&staged, &dir) {
        Ok(()) => Ok(dir),
        // Another `rule new` installed the same copy first.
        Err(_) if dir.join("Cargo.toml").is_file() => {
            let _ = std::fs::remove_dir_all(&staged);
            Ok(dir)
        }
        Err(e) => Err(e).with_context(|| format!("install the SDK into `{}`", dir.display())),
    }
}

/// `"<major>.<minor>"` of this checkrail, which releases in lockstep with the SDK.
fn crates_io_requirement() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        _ => version.to_owned(),
    }
}

/// `to` relative to `from` (both absolute, canonical), `/`-separated; `None`
/// when they share no root (different drives).
fn relative_path(from: &Path, to: &Path) -> Option<String> {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    if !from[..common]
        .iter()
        .any(|c| matches!(c, Component::RootDir))
    {
        return None;
    }
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    })
}

/// The value of the `checkrail-sdk` dependency for a crate at `crate_dir`.
fn sdk_dependency(sdk: &Sdk, crate_dir: &Path) -> String {
    match sdk {
        Sdk::Path(dir) => {
            let path =
                relative_path(crate_dir, dir).unwrap_or_else(|| dir.to_string_lossy().into_owned());
            format!("{{ path = {} }}", toml::Value::String(path))
        }
        Sdk::Version(version) => toml::Value::String(version.clone()).to_string(),
        Sdk::Installed(dir) => format!(
            "{{ path = {} }}",
            toml::Value::String(dir.to_string_lossy().into_owned())
        ),
    }
}

/// Every file of the crate: (path relative to the crate, contents).
fn render_crate(name: &str, sdk: &Sdk, crate_dir: &Path) -> Vec<(&'static str, String)> {
    let crate_name = name.replace('-', "_");
    let type_name = type_name(name);
    let sdk_dependency = sdk_dependency(sdk, crate_dir);
    let sdk_version = match sdk {
        Sdk::Path(_) => format!("(a local checkout, API {})", checkrail_sdk::API_VERSION),
        Sdk::Version(version) => version.clone(),
        Sdk::Installed(_) => format!(
            "{} (this checkrail's copy, API {})",
            env!("CARGO_PKG_VERSION"),
            checkrail_sdk::API_VERSION
        ),
    };
    let values = [
        ("name", name),
        ("crate_name", &crate_name),
        ("type_name", &type_name),
        ("sdk_dependency", &sdk_dependency),
        ("sdk_version", &sdk_version),
    ];
    let render = |template: &str| {
        values
            .iter()
            .fold(template.to_owned(), |text, (key, value)| {
                text.replace(&format!("{{{{{key}}}}}"), value)
            })
    };
    vec![
        ("Cargo.toml", render(CARGO_TOML)),
        ("src/lib.rs", render(LIB_RS)),
        ("README.md", render(README_MD)),
        (".gitignore", render(GITIGNORE)),
    ]
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
    fn type_names_are_camel_case() {
        assert_eq!(type_name("has-changelog"), "HasChangelog");
        assert_eq!(type_name("rule-2"), "Rule2");
        assert_eq!(type_name("x"), "X");
    }

    #[test]
    fn relative_paths_climb_then_descend() {
        let rel = |a: &str, b: &str| relative_path(Path::new(a), Path::new(b));
        assert_eq!(
            rel("/r/rules/x", "/r/plugin-sdk").as_deref(),
            Some("../../plugin-sdk")
        );
        assert_eq!(
            rel("/tmp/x", "/r/plugin-sdk").as_deref(),
            Some("../../r/plugin-sdk")
        );
        assert_eq!(rel("/r/plugin-sdk", "/r/plugin-sdk").as_deref(), Some("."));
    }

    #[test]
    fn finds_the_sdk_of_an_enclosing_checkout_only() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("plugin-sdk")).unwrap();
        std::fs::create_dir_all(root.join("rules/deep")).unwrap();
        std::fs::write(
            root.join("plugin-sdk/Cargo.toml"),
            "[package]\nname = \"not-the-sdk\"\n",
        )
        .unwrap();
        assert_eq!(find_checkout_sdk(&root.join("rules/deep")), None);

        std::fs::write(
            root.join("plugin-sdk/Cargo.toml"),
            "[package]\nname = \"checkrail-sdk\"\nversion.workspace = true\n",
        )
        .unwrap();
        let sdk = find_checkout_sdk(&root.join("rules/deep")).unwrap();
        assert_eq!(sdk, root.join("plugin-sdk"));
        let dep = sdk_dependency(&Sdk::Path(sdk), &root.join("rules/deep/my-rule"));
        assert_eq!(dep, r#"{ path = "../../../plugin-sdk" }"#);

        assert!(matches!(explicit_sdk(&root), Ok(Sdk::Path(p)) if p == root.join("plugin-sdk")));
        assert!(explicit_sdk(&root.join("rules")).is_err());
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

    #[test]
    fn outside_a_checkout_the_sdk_comes_from_crates_io() {
        let requirement = crates_io_requirement();
        assert_eq!(requirement.split('.').count(), 2, "{requirement}");
        let dep = sdk_dependency(&Sdk::Version(requirement.clone()), Path::new("/x"));
        assert_eq!(dep, format!("\"{requirement}\""));
    }

    #[test]
    fn templates_render_every_placeholder() {
        let sdk = Sdk::Version("0.1".to_owned());
        let files = render_crate("has-changelog", &sdk, Path::new("/x/has-changelog"));
        for (file, text) in &files {
            assert!(!text.contains("{{"), "{file} keeps a placeholder:\n{text}");
        }
        let text = |name: &str| &files.iter().find(|(f, _)| *f == name).unwrap().1;
        let manifest: toml::Table = text("Cargo.toml").parse().unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some("has-changelog"));
        assert_eq!(manifest["package"]["edition"].as_str(), Some("2024"));
        assert_eq!(
            manifest["dependencies"][SDK_PACKAGE].as_str(),
            Some("0.1"),
            "{manifest}"
        );
        assert!(manifest["workspace"].as_table().unwrap().is_empty());
        assert_eq!(
            manifest["profile"]["release"]["panic"].as_str(),
            Some("abort")
        );
        assert!(text("src/lib.rs").contains("const ID: &'static str = \"has-changelog\";"));
        assert!(text("src/lib.rs").contains("export_rule!(HasChangelog);"));
        assert!(text("README.md").contains("has_changelog.wasm"));
    }
}
