//! Dependency audit through granted tools: `cargo audit` against a local
//! RustSec database, `pip-audit` on a pinned requirements file, `npm audit`
//! on package-lock.json. Each tool's JSON report becomes findings naming the
//! package, its version, the advisory and the fixed versions, at the lock
//! file line where the package is pinned.

mod cargo;
mod lockfile;
mod npm;
mod pip;

use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::tool::{WorkspaceDir, clip, codes};
use checkrail_sdk::{Command, Context, Finding, normalize_path};

use crate::{Level, Levels, tool};

/// A dependency auditor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Auditor {
    /// `cargo audit --json --no-fetch --stale` on `Cargo.lock` (needs the
    /// `cargo` grant and cargo-audit installed).
    Cargo,
    /// `pip-audit -f json --disable-pip --no-deps -r <requirements>` (needs
    /// the `pip-audit` grant).
    Pip,
    /// `npm audit --json --package-lock-only` (needs the `npm` grant).
    Npm,
}

impl Auditor {
    fn name(self) -> &'static str {
        match self {
            Auditor::Cargo => "cargo audit",
            Auditor::Pip => "pip-audit",
            Auditor::Npm => "npm audit",
        }
    }
}

/// What an advisory says about one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    /// A known vulnerability.
    Vulnerable,
    /// No longer maintained (RustSec informational).
    Unmaintained,
    /// Unsound API (RustSec informational).
    Unsound,
    /// The pinned version was yanked.
    Yanked,
    /// The auditor could not check the package.
    NotAudited,
}

impl Concern {
    fn code(self) -> &'static str {
        match self {
            Concern::Vulnerable => "vulnerable-dependency",
            Concern::Unmaintained => "unmaintained-dependency",
            Concern::Unsound => "unsound-dependency",
            Concern::Yanked => "yanked-dependency",
            Concern::NotAudited => "dependency-not-audited",
        }
    }
}

/// One advisory about one package, as any auditor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    pub concern: Concern,
    pub package: String,
    pub version: Option<String>,
    /// RUSTSEC-…, PYSEC-…, GHSA-…; empty for a yanked or unaudited package.
    pub id: String,
    pub aliases: Vec<String>,
    pub title: Option<String>,
    /// Versions or version requirements that fix it.
    pub fixes: Vec<String>,
    pub level: Level,
    /// npm: the package's key in package-lock.json (`node_modules/a`).
    pub node: Option<String>,
}

/// What one auditor's report held.
#[derive(Debug, Default)]
pub struct Parsed {
    pub advisories: Vec<Advisory>,
    /// The tool reported an error instead of a result.
    pub error: Option<String>,
}

/// What an audit run found, with a line for the summary.
pub struct Audit {
    pub findings: Vec<Finding>,
    pub summary: String,
}

/// Settings the auditors read.
pub struct Settings<'a> {
    pub cwd: &'a WorkspaceDir,
    pub advisory_db: Option<&'a str>,
    pub requirements: &'a str,
    pub levels: &'a Levels,
}

/// Runs `auditor` and judges its report.
pub fn run(cx: &Context, auditor: Auditor, settings: &Settings<'_>) -> Audit {
    let name = auditor.name();
    let did_not_run = |findings: Vec<Finding>| Audit {
        findings,
        summary: format!("{name} did not run"),
    };
    let lock_name = match auditor {
        Auditor::Cargo => "Cargo.lock",
        Auditor::Pip => settings.requirements,
        Auditor::Npm => "package-lock.json",
    };
    let lock = tool::in_cwd(settings.cwd, lock_name);
    let lock_text = match cx.workspace().read(&lock) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            let hint = match auditor {
                Auditor::Cargo => {
                    "run `cargo generate-lockfile` (and commit Cargo.lock) so the exact versions can be audited"
                }
                Auditor::Pip => {
                    "pin the project's dependencies (`name==version`) in a requirements file and name it in `requirements`"
                }
                Auditor::Npm => {
                    "run `npm install --package-lock-only` (and commit package-lock.json) so the exact versions can be audited"
                }
            };
            return did_not_run(vec![
                Finding::error(format!("{name} needs `{lock}`: {e}"))
                    .path(&lock)
                    .fix_hint(hint)
                    .code("lockfile-missing"),
            ]);
        }
    };
    let command = match command(cx, auditor, settings, lock_name) {
        Ok(command) => command,
        Err(finding) => return did_not_run(vec![*finding]),
    };
    let ran = match tool::run(cx, name, settings.cwd, command) {
        Ok(ran) => ran,
        Err(findings) => return did_not_run(findings),
    };
    let output = &ran.output;
    let parsed = match auditor {
        Auditor::Cargo => cargo::parse(&output.stdout),
        Auditor::Pip => pip::parse(&output.stdout),
        Auditor::Npm => npm::parse(&output.stdout),
    };
    let hint = match auditor {
        Auditor::Cargo => {
            "make `cargo audit` run: install cargo-audit (`cargo install cargo-audit`) and point `advisory_db` at a checkout of the RustSec advisory database"
        }
        Auditor::Pip => {
            "make `pip-audit` run: install it (`pip install pip-audit`), pin every requirement with `==`, and let it reach its vulnerability service"
        }
        Auditor::Npm => {
            "make `npm audit` run: a valid package-lock.json and access to the npm registry's audit endpoint"
        }
    };
    let parsed = match parsed {
        Some(parsed) if parsed.error.is_none() => parsed,
        Some(Parsed {
            error: Some(error), ..
        }) => {
            return did_not_run(vec![
                Finding::error(format!("{} failed: {error}", ran.name()))
                    .fix_hint(hint)
                    .code(codes::TOOL_FAILED),
            ]);
        }
        _ => {
            return did_not_run(vec![
                ran.failed("a report the rule can read").fix_hint(hint),
            ]);
        }
    };
    let mut parsed = parsed;
    if auditor == Auditor::Npm {
        let versions = npm::versions(&lock_text);
        for a in &mut parsed.advisories {
            a.version = a.node.as_ref().and_then(|n| versions.get(n)).cloned();
        }
    }
    let findings: Vec<Finding> = parsed
        .advisories
        .iter()
        .map(|a| finding(a, auditor, &lock, &lock_text, settings.levels))
        .collect();
    let vulnerable = parsed
        .advisories
        .iter()
        .filter(|a| a.concern == Concern::Vulnerable)
        .count();
    let summary = match vulnerable {
        0 => format!("{name}: no known vulnerabilities"),
        n => format!(
            "{name}: {n} known vulnerabilit{}",
            if n == 1 { "y" } else { "ies" }
        ),
    };
    let others = parsed.advisories.len() - vulnerable;
    let summary = if others > 0 {
        format!(
            "{summary}, {others} other advisor{}",
            if others == 1 { "y" } else { "ies" }
        )
    } else {
        summary
    };
    Audit { findings, summary }
}

fn command(
    cx: &Context,
    auditor: Auditor,
    settings: &Settings<'_>,
    lock_name: &str,
) -> Result<Command, Box<Finding>> {
    let command = match auditor {
        Auditor::Cargo => {
            let mut command = Command::new("cargo").args([
                "audit",
                "--json",
                "--no-fetch",
                "--stale",
                "--file",
                "Cargo.lock",
            ]);
            if let Some(db) = settings.advisory_db {
                if db.starts_with('/') {
                    command = command.args(["--db", db]);
                } else {
                    let Ok(db) = normalize_path(db) else {
                        return Err(Box::new(
                            Finding::error(format!(
                                "`advisory_db` `{db}` leads outside the workspace"
                            ))
                            .fix_hint(
                                "give a workspace-relative path, or an absolute path on the host",
                            )
                            .code("advisory-db-missing"),
                        ));
                    };
                    if !cx.workspace().stat(&db).is_ok_and(|e| e.is_dir()) {
                        return Err(Box::new(
                            Finding::error(format!("the advisory database `{db}` is not a directory of the workspace"))
                                .fix_hint("clone the RustSec advisory database there (`git clone https://github.com/rustsec/advisory-db`), or fix `advisory_db`")
                                .code("advisory-db-missing"),
                        ));
                    }
                    command = command.args(["--db".to_owned(), settings.cwd.path_from_here(&db)]);
                }
            }
            command.env("CARGO_TERM_COLOR", "never")
        }
        Auditor::Pip => Command::new("pip-audit").args([
            "-f",
            "json",
            "--progress-spinner",
            "off",
            "--disable-pip",
            "--no-deps",
            "-r",
            lock_name,
        ]),
        Auditor::Npm => Command::new("npm").args(["audit", "--json", "--package-lock-only"]),
    };
    Ok(command)
}

fn finding(
    a: &Advisory,
    auditor: Auditor,
    lock: &str,
    lock_text: &str,
    levels: &Levels,
) -> Finding {
    let version = a
        .version
        .as_deref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let mut id = a.id.clone();
    if !a.aliases.is_empty() {
        id = format!("{id} ({})", a.aliases.join(", "));
    }
    let title = a
        .title
        .as_deref()
        .map(|t| format!(": {t}"))
        .unwrap_or_default();
    let message = match a.concern {
        Concern::Vulnerable => format!(
            "`{}`{version} has a known vulnerability, {id}{title}",
            a.package
        ),
        Concern::Unmaintained => format!("`{}`{version} is unmaintained, {id}{title}", a.package),
        Concern::Unsound => format!("`{}`{version} is unsound, {id}{title}", a.package),
        Concern::Yanked => format!("`{}`{version} was yanked from the registry", a.package),
        Concern::NotAudited => format!("`{}`{version} was not audited{title}", a.package),
    };
    let severity = match a.concern {
        Concern::Vulnerable => levels.severity(a.level),
        _ => checkrail_sdk::Severity::Warning,
    };
    let fixes = a.fixes.join(", ");
    let hint = match (a.concern, auditor) {
        (Concern::NotAudited, _) => {
            "pin it with `==` to a version published on PyPI so it can be audited".to_owned()
        }
        (Concern::Yanked, _) => format!(
            "move `{}` to a version that is not yanked (`cargo update -p {}`)",
            a.package, a.package
        ),
        (_, _) if fixes.is_empty() => format!(
            "no fixed version is published: replace or remove `{}`, or accept the risk with a human's sign-off",
            a.package
        ),
        (_, Auditor::Cargo) => format!(
            "upgrade `{}` to a fixed version ({fixes}): `cargo update -p {}`, raising the requirement in Cargo.toml if it pins an older one",
            a.package, a.package
        ),
        (_, Auditor::Pip) => format!(
            "upgrade `{}` to a fixed version ({fixes}) in `{lock}`",
            a.package
        ),
        (_, Auditor::Npm) => format!(
            "upgrade to a fixed version ({fixes}): `npm audit fix`, or raise the requirement in package.json"
        ),
    };
    let mut finding = checkrail_sdk::Finding::new(severity, clip(&message, 600))
        .path(lock)
        .fix_hint(hint)
        .code(a.concern.code());
    let line = match auditor {
        Auditor::Cargo => lockfile::cargo(lock_text, &a.package, a.version.as_deref()),
        Auditor::Pip => lockfile::requirements(lock_text, &a.package),
        Auditor::Npm => lockfile::npm(lock_text, a.node.as_deref(), &a.package),
    };
    if let Some(line) = line {
        finding = finding.line(line);
    }
    finding
}

#[cfg(test)]
mod tests {
    use checkrail_sdk::Severity;

    use super::*;

    fn advisory(concern: Concern, fixes: &[&str], level: Level) -> Advisory {
        Advisory {
            concern,
            package: "leftpad-rs".to_owned(),
            version: Some("1.1.0".to_owned()),
            id: "RUSTSEC-2099-0001".to_owned(),
            aliases: vec!["CVE-2099-1234".to_owned()],
            title: Some("Out-of-bounds read".to_owned()),
            fixes: fixes.iter().map(|f| (*f).to_owned()).collect(),
            level,
            node: None,
        }
    }

    const LOCK: &str = "version = 4\n\n[[package]]\nname = \"leftpad-rs\"\nversion = \"1.1.0\"\n";

    #[test]
    fn findings_name_package_version_advisory_and_fix_at_the_lock_line() {
        let levels = Levels::default();
        let a = advisory(Concern::Vulnerable, &[">=1.2.1"], Level::High);
        let f = finding(&a, Auditor::Cargo, "Cargo.lock", LOCK, &levels);
        assert_eq!(
            f.message,
            "`leftpad-rs` 1.1.0 has a known vulnerability, RUSTSEC-2099-0001 (CVE-2099-1234): Out-of-bounds read"
        );
        assert_eq!((f.path.as_deref(), f.line), (Some("Cargo.lock"), Some(4)));
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.code.as_deref(), Some("vulnerable-dependency"));
        assert!(
            f.fix_hint
                .as_deref()
                .unwrap()
                .contains("(>=1.2.1): `cargo update -p leftpad-rs`")
        );

        // No fix published; a medium npm advisory is a warning by default.
        let a = advisory(Concern::Vulnerable, &[], Level::Medium);
        let f = finding(&a, Auditor::Npm, "package-lock.json", "{}", &levels);
        assert_eq!((f.severity, f.line), (Severity::Warning, None));
        assert!(
            f.fix_hint
                .as_deref()
                .unwrap()
                .starts_with("no fixed version is published")
        );

        let a = advisory(Concern::Unmaintained, &[], Level::High);
        let f = finding(&a, Auditor::Cargo, "Cargo.lock", LOCK, &levels);
        assert_eq!(
            (f.severity, f.code.as_deref()),
            (Severity::Warning, Some("unmaintained-dependency"))
        );
    }
}
