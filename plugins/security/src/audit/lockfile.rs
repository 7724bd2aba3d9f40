//! Where a package is pinned in a lock file, by line.

/// The `name = "<package>"` line of the `[[package]]` entry for `package`
/// (at `version`, when given) in Cargo.lock.
pub fn cargo(text: &str, package: &str, version: Option<&str>) -> Option<u32> {
    let name_line = format!("name = \"{package}\"");
    let lines: Vec<&str> = text.lines().collect();
    let mut first = None;
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != name_line {
            continue;
        }
        let number = u32::try_from(i + 1).ok()?;
        first.get_or_insert(number);
        let Some(version) = version else {
            return Some(number);
        };
        let wanted = format!("version = \"{version}\"");
        if lines[i + 1..]
            .iter()
            .take_while(|l| !l.trim().is_empty() && !l.starts_with("[["))
            .any(|l| l.trim() == wanted)
        {
            return Some(number);
        }
    }
    first
}

/// The line of a requirements file that names `package` (names compared
/// the way PyPI does: case-insensitive, `-`, `_` and `.` alike).
pub fn requirements(text: &str, package: &str) -> Option<u32> {
    let wanted = normalize(package);
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            !name.is_empty() && normalize(&name) == wanted
        })
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The line of package-lock.json whose key is `node` (e.g.
/// `node_modules/minimist`), else `node_modules/<package>`.
pub fn npm(text: &str, node: Option<&str>, package: &str) -> Option<u32> {
    let fallback = format!("node_modules/{package}");
    [node, Some(fallback.as_str())]
        .into_iter()
        .flatten()
        .find_map(|key| {
            let quoted = format!("\"{key}\":");
            text.lines()
                .position(|l| l.trim_start().starts_with(&quoted))
        })
        .and_then(|i| u32::try_from(i + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_lock_lines_match_name_and_version() {
        let lock = "version = 4\n\n[[package]]\nname = \"time\"\nversion = \"0.3.41\"\n\n[[package]]\nname = \"time\"\nversion = \"0.1.45\"\nsource = \"registry+x\"\n";
        assert_eq!(cargo(lock, "time", Some("0.1.45")), Some(8));
        assert_eq!(cargo(lock, "time", Some("0.3.41")), Some(4));
        assert_eq!(cargo(lock, "time", Some("9.9.9")), Some(4));
        assert_eq!(cargo(lock, "serde", None), None);
    }

    #[test]
    fn requirement_names_compare_like_pypi() {
        let reqs =
            "# pinned\nFlask==0.5\nJinja2 == 2.10 ; python_version > '3'\nzope.interface==5.0\n";
        assert_eq!(requirements(reqs, "flask"), Some(2));
        assert_eq!(requirements(reqs, "jinja2"), Some(3));
        assert_eq!(requirements(reqs, "zope-interface"), Some(4));
        assert_eq!(requirements(reqs, "flask-login"), None);
    }

    #[test]
    fn package_lock_keys() {
        let lock = "{\n  \"packages\": {\n    \"node_modules/a\": {\n    },\n    \"node_modules/a/node_modules/b\": {\n    }\n  }\n}\n";
        assert_eq!(
            npm(lock, Some("node_modules/a/node_modules/b"), "b"),
            Some(5)
        );
        assert_eq!(npm(lock, None, "a"), Some(3));
        assert_eq!(npm(lock, None, "c"), None);
    }
}
