//! Where a scaffolded crate gets its `checkrail-sdk` dependency from.
//!
//! First match wins:
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

/// Package name of the SDK.
pub(super) const SDK_PACKAGE: &str = "checkrail-sdk";

/// Where the generated crate gets `checkrail-sdk` from.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Sdk {
    /// A checkout's `plugin-sdk` directory (canonical).
    Path(PathBuf),
    /// A crates.io version requirement.
    Version(String),
    /// The SDK source this binary carries, written to a user-level directory.
    Installed(PathBuf),
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
pub(super) fn explicit_sdk(dir: &Path) -> Result<Sdk> {
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
pub(super) fn find_checkout_sdk(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|ancestor| ancestor.join("plugin-sdk"))
        .find(|candidate| is_sdk(candidate))
}

/// Writes the SDK source this binary carries to
/// `<data dir>/sdk/<version>-<digest>/` unless it is there already, and
/// returns that directory. Written into a temporary sibling and renamed, so
/// a half-written copy is never used.
pub(super) fn install_sdk() -> Result<PathBuf> {
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
pub(super) fn crates_io_requirement() -> String {
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
pub(super) fn sdk_dependency(sdk: &Sdk, crate_dir: &Path) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn outside_a_checkout_the_sdk_comes_from_crates_io() {
        let requirement = crates_io_requirement();
        assert_eq!(requirement.split('.').count(), 2, "{requirement}");
        let dep = sdk_dependency(&Sdk::Version(requirement.clone()), Path::new("/x"));
        assert_eq!(dep, format!("\"{requirement}\""));
    }
}
