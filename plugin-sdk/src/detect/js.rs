//! Within a JavaScript or TypeScript project: which test runner it uses,
//! and whether it has an ESLint config.

use crate::tool_paths;
use crate::{Error, Result, Workspace};

/// A JavaScript test runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsTestRunner {
    /// node's built-in runner, `node --test`.
    Node,
    /// Jest.
    Jest,
    /// Vitest.
    Vitest,
}

impl std::fmt::Display for JsTestRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JsTestRunner::Node => "node --test",
            JsTestRunner::Jest => "jest",
            JsTestRunner::Vitest => "vitest",
        })
    }
}

/// Jest's config files.
pub const JEST_CONFIGS: &[&str] = &[
    "jest.config.js",
    "jest.config.cjs",
    "jest.config.mjs",
    "jest.config.ts",
    "jest.config.json",
];

/// Vitest's own config files (a `vite.config.*` alone is a Vite app, not
/// a sign of Vitest).
pub const VITEST_CONFIGS: &[&str] = &[
    "vitest.config.js",
    "vitest.config.mjs",
    "vitest.config.cjs",
    "vitest.config.ts",
    "vitest.config.mts",
    "vitest.config.cts",
    "vitest.workspace.js",
    "vitest.workspace.ts",
];

/// ESLint's flat config files, in the order ESLint 9 looks for them.
pub const ESLINT_CONFIGS: &[&str] = &[
    "eslint.config.js",
    "eslint.config.mjs",
    "eslint.config.cjs",
    "eslint.config.ts",
    "eslint.config.mts",
    "eslint.config.cts",
];

/// The test runner of the JavaScript project in `dir` (workspace-relative)
/// and why: Jest or Vitest when `package.json` names it (a dependency, a
/// script, Jest's `jest` key) or its config file is there, node's own
/// runner when neither is. Both at once is refused, never guessed.
pub fn test_runner(ws: &Workspace, dir: &str) -> Result<(JsTestRunner, String)> {
    let at = |name: &str| tool_paths::join(dir, name).filter(|p| ws.exists(p));
    let manifest = tool_paths::join(dir, "package.json").unwrap_or_else(|| "package.json".into());
    let package = match ws.read_to_string(&manifest) {
        Ok(text) => Some(serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
            Error::new(format!(
                "read `{manifest}` to tell its test runner: it is not valid JSON ({e}); fix it, or name the runner explicitly"
            ))
        })?),
        Err(_) => None,
    };
    let mut found: Vec<(JsTestRunner, String)> = Vec::new();
    for (runner, name, configs) in [
        (JsTestRunner::Jest, "jest", JEST_CONFIGS),
        (JsTestRunner::Vitest, "vitest", VITEST_CONFIGS),
    ] {
        let mut reasons = Vec::new();
        if let Some(package) = &package {
            reasons.extend(
                named_in(package, name).map(|w| format!("`{manifest}` names {name} in {w}")),
            );
        }
        if let Some(config) = configs.iter().find_map(|c| at(c)) {
            reasons.push(format!("found {config}"));
        }
        if !reasons.is_empty() {
            found.push((runner, reasons.join(", ")));
        }
    }
    match found.len() {
        0 => Ok((
            JsTestRunner::Node,
            format!("`{manifest}` names neither jest nor vitest"),
        )),
        1 => Ok(found.remove(0)),
        _ => Err(Error::new(format!(
            "`runner: auto` cannot choose in `{dir}`: jest ({}) and vitest ({}); set `runner` to the one the project uses",
            found[0].1, found[1].1
        ))),
    }
}

/// Where `package.json` names the tool `name`: its dependencies, its
/// scripts, or (Jest) its own config key.
fn named_in(package: &serde_json::Value, name: &str) -> Option<String> {
    let mut places = Vec::new();
    for field in [
        "dependencies",
        "devDependencies",
        "peerDependencies",
        "optionalDependencies",
    ] {
        if package[field].get(name).is_some() {
            places.push(format!("`{field}`"));
        }
    }
    if let Some(scripts) = package["scripts"].as_object() {
        let mut names: Vec<&String> = scripts
            .iter()
            .filter(|(_, command)| {
                command.as_str().is_some_and(|c| {
                    c.split(|ch: char| ch.is_whitespace() || ch == '&' || ch == ';' || ch == '|')
                        .any(|word| word == name || word.ends_with(&format!("/{name}")))
                })
            })
            .map(|(script, _)| script)
            .collect();
        names.sort();
        if let Some(first) = names.first() {
            places.push(format!("the script `{first}`"));
        }
    }
    if name == "jest" && package.get("jest").is_some() {
        places.push("its `jest` config".to_owned());
    }
    (!places.is_empty()).then(|| places.join(" and "))
}

/// The ESLint flat config in `dir` (its workspace path), if there is one.
pub fn eslint_config(ws: &Workspace, dir: &str) -> Option<String> {
    ESLINT_CONFIGS
        .iter()
        .find_map(|c| tool_paths::join(dir, c).filter(|p| ws.exists(p)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestWorkspace;

    fn runner(files: &[(&str, &str)]) -> Result<(JsTestRunner, String)> {
        let ws = TestWorkspace::new().unwrap();
        for (path, text) in files {
            ws.write(path, text).unwrap();
        }
        let cx = ws.context().unwrap();
        test_runner(cx.workspace(), ".")
    }

    #[test]
    fn node_unless_jest_or_vitest_is_named() {
        let (r, why) = runner(&[(
            "package.json",
            r#"{"name":"a","scripts":{"test":"node --test"}}"#,
        )])
        .unwrap();
        assert_eq!(r, JsTestRunner::Node);
        assert_eq!(why, "`package.json` names neither jest nor vitest");

        let (r, why) =
            runner(&[("package.json", r#"{"devDependencies":{"jest":"^30"}}"#)]).unwrap();
        assert_eq!(
            (r, why.as_str()),
            (
                JsTestRunner::Jest,
                "`package.json` names jest in `devDependencies`"
            )
        );

        let (r, why) = runner(&[(
            "package.json",
            r#"{"scripts":{"test":"vitest run","lint":"eslint ."}}"#,
        )])
        .unwrap();
        assert_eq!(
            (r, why.as_str()),
            (
                JsTestRunner::Vitest,
                "`package.json` names vitest in the script `test`"
            )
        );

        let (r, why) = runner(&[
            ("package.json", "{}"),
            ("jest.config.js", "module.exports = {};"),
        ])
        .unwrap();
        assert_eq!(
            (r, why.as_str()),
            (JsTestRunner::Jest, "found jest.config.js")
        );

        // `jest-junit` or `vitest-environment-x` do not name the runner itself.
        let (r, _) = runner(&[(
            "package.json",
            r#"{"scripts":{"test":"node --test --test-reporter=jest-junit"}}"#,
        )])
        .unwrap();
        assert_eq!(r, JsTestRunner::Node);
    }

    #[test]
    fn both_is_refused_and_broken_json_is_named() {
        let err = runner(&[
            ("package.json", r#"{"devDependencies":{"jest":"^30"}}"#),
            ("vitest.config.ts", "export default {}"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cannot choose") && err.contains("found vitest.config.ts"),
            "{err}"
        );
        let err = runner(&[("package.json", "{nope")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn finds_the_eslint_config() {
        let ws = TestWorkspace::new().unwrap();
        ws.write("web/eslint.config.mjs", "export default [];")
            .unwrap();
        let cx = ws.context().unwrap();
        assert_eq!(
            eslint_config(cx.workspace(), "web").as_deref(),
            Some("web/eslint.config.mjs")
        );
        assert_eq!(eslint_config(cx.workspace(), "."), None);
    }
}
