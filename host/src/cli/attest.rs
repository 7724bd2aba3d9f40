//! `checkrail attest` and `checkrail verify-attestation`: a completed
//! session signed as an in-toto statement about its commit, and the check a
//! pull request's CI runs on it (see [`checkrail::attest`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use checkrail::attest::check::{Outcome, Requirements};
use checkrail::attest::{self, NOTES_REF, Statement, notes, tree};
use checkrail::pack::{KeyPair, PublicKey};
use checkrail::service::{Recheck, Service};
use checkrail::session::StoreTarget;
use checkrail::trusted::StateDir;
use checkrail::{Checkrail, exit::Kind};
use clap::{Args, ValueEnum};

use super::{Exit, output};

/// Environment variable with trusted public keys (whitespace or comma
/// separated), for CI systems that hand settings over as variables.
pub const TRUSTED_KEYS_VAR: &str = "CHECKRAIL_TRUSTED_KEYS";

/// `checkrail attest`.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The completed session [default: the newest completed session].
    pub session: Option<String>,
    /// Workspace (a git repository).
    #[arg(long, default_value = ".")]
    pub workspace: PathBuf,
    /// The commit the attestation speaks of; its tree must be the one the
    /// session's last checkpoint passed on.
    #[arg(long, default_value = "HEAD", value_name = "REV")]
    pub commit: String,
    /// Secret key to sign with (`checkrail pack keygen`) [default: the
    /// state directory's `attest/signing.key`, made on first use].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Write the envelope to FILE (default: stdout).
    #[arg(long, value_name = "FILE", conflicts_with = "git_note")]
    pub out: Option<PathBuf>,
    /// Attach the envelope to the commit as a git note (push it with
    /// `git push origin refs/notes/checkrail`).
    #[arg(long)]
    pub git_note: bool,
    /// Notes ref for --git-note.
    #[arg(long, default_value = NOTES_REF, value_name = "REF")]
    pub notes_ref: String,
    /// Print the public key attestations are signed with (the one CI must
    /// trust) and exit.
    #[arg(long, conflicts_with_all = ["session", "out", "git_note"])]
    pub public_key: bool,
}

/// Output formats of `verify-attestation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for people.
    Text,
    /// One JSON document.
    Json,
    /// GitHub Actions workflow commands (annotations at file:line) on
    /// stdout and a Markdown job summary in $GITHUB_STEP_SUMMARY.
    Github,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
}

/// `checkrail verify-attestation`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An envelope file (default: the git note on the commit).
    #[arg(conflicts_with = "git_note")]
    pub file: Option<PathBuf>,
    /// Read the attestation from the git note on the commit, under REF.
    #[arg(long, value_name = "REF", num_args = 0..=1, default_missing_value = NOTES_REF)]
    pub git_note: Option<String>,
    /// The repository.
    #[arg(long, default_value = ".")]
    pub workspace: PathBuf,
    /// The commit that must have been attested (on a pull request: its
    /// head commit, not the merge commit CI builds).
    #[arg(long, default_value = "HEAD", value_name = "REV")]
    pub commit: String,
    /// The workflow the change must have completed: WORKFLOW or
    /// WORKFLOW@RANGE (a semver range, e.g. `feature@^1`).
    #[arg(long, value_name = "WORKFLOW[@RANGE]")]
    pub require: String,
    /// A phase a human must have approved, whatever the workflow said;
    /// repeatable.
    #[arg(long = "require-gate", value_name = "PHASE")]
    pub gates: Vec<String>,
    /// An approval channel that counts (`terminal`, `dashboard`,
    /// `elicitation`); repeatable [default: any].
    #[arg(long = "gate-channel", value_name = "CHANNEL")]
    pub channels: Vec<String>,
    /// Require that the agent ran confined (`checkrail run`).
    #[arg(long)]
    pub require_confined: bool,
    /// A public key whose attestations are trusted (`checkrail-ed25519:…`,
    /// or a `.pub` file); repeatable. Also read from
    /// $CHECKRAIL_TRUSTED_KEYS. Take them from settings the change cannot
    /// edit (CI variables), never from the repository.
    #[arg(long = "trusted-key", value_name = "KEY|FILE")]
    pub trusted_keys: Vec<String>,
    /// Also run every passed checkpoint again on a fresh checkout of the
    /// commit.
    #[arg(long)]
    pub recheck: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `checkrail attest`.
pub fn attest(
    engine: Checkrail,
    state: &StateDir,
    store: &StoreTarget,
    args: &AttestArgs,
) -> Result<Exit> {
    let key = match &args.key {
        Some(path) => KeyPair::read(path)
            .with_context(|| format!("read the signing key `{}`", path.display()))?,
        None => attest::default_key(state.root()).context("the attestation signing key")?,
    };
    if args.public_key {
        println!("{}", key.public().to_text());
        return Ok(Exit::Passed);
    }
    let service = Service::open_in(Arc::new(engine), &args.workspace, state, store)?;
    let id = match &args.session {
        Some(id) => id.clone(),
        None => newest_completed(&service)?,
    };
    let statement = attest::statement(&service, &id, &args.commit)?;
    let envelope = attest::seal(&statement, &key)?;
    let text = serde_json::to_vec_pretty(&envelope)?;
    let commit = &statement.subject[0].digest["gitCommit"];
    let said = format!(
        "attested session {id} ({} {}) for commit {commit}, signed by key {}",
        statement.predicate.workflow.id,
        statement.predicate.workflow.version,
        key.public().id()
    );
    if args.git_note {
        notes::write(service.workspace(), commit, &args.notes_ref, &text)
            .map_err(anyhow::Error::msg)?;
        eprintln!(
            "checkrail: {said}; note added under {}: push it with `git push origin {}`",
            args.notes_ref, args.notes_ref
        );
    } else if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("write `{}`", out.display()))?;
        eprintln!("checkrail: {said}; written to {}", out.display());
    } else {
        std::io::stdout().write_all(&text)?;
        println!();
    }
    Ok(Exit::Passed)
}

fn newest_completed(service: &Service) -> Result<String> {
    let page = service.page(&checkrail::session::SessionQuery {
        status: Some(checkrail::session::Status::Completed),
        workflow: None,
        limit: Some(1),
        offset: 0,
    })?;
    match page.sessions.first() {
        Some(s) => Ok(s.id.clone()),
        None => bail!(
            "no completed session in `{}`: name one (`checkrail session list`)",
            service.workspace().display()
        ),
    }
}

/// Runs `checkrail verify-attestation`.
pub fn verify(engine: impl FnOnce() -> Result<Checkrail>, args: &VerifyArgs) -> Result<Exit> {
    let mut required = Requirements::parse(&args.require).map_err(anyhow::Error::msg)?;
    required.gates.clone_from(&args.gates);
    required.channels.clone_from(&args.channels);
    required.confined = args.require_confined;
    for channel in &required.channels {
        if !["terminal", "dashboard", "elicitation"].contains(&channel.as_str()) {
            bail!("--gate-channel `{channel}`: use terminal, dashboard or elicitation");
        }
    }
    let trusted = trusted_keys(&args.trusted_keys)?;
    let root = &args.workspace;
    let (commit, tree) = tree::commit_and_tree(root, &args.commit).with_context(|| {
        format!(
            "`{}` names no commit in `{}` (is it a git repository, fetched deep enough?)",
            args.commit,
            root.display()
        )
    })?;
    let found = match &args.file {
        Some(file) => Some(read_capped(file)?),
        None => notes::read(root, &commit, args.git_note.as_deref().unwrap_or(NOTES_REF)),
    };
    let mut outcome =
        attest::check::verify(found.as_deref(), &trusted, (&commit, &tree), &required);
    let mut rechecks = None;
    // Run again whenever the attestation is genuine: what fails on a
    // fresh checkout is worth knowing whatever else is unmet.
    if args.recheck
        && !outcome.tampered
        && let Some(statement) = &outcome.statement
    {
        let results = recheck(engine()?, root, &commit, statement)?;
        let failed: Vec<&str> = results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| r.phase.as_str())
            .collect();
        let moved = other_rules(statement, &results);
        outcome.checks.push(checkrail::attest::check::Check {
            name: "recheck".to_owned(),
            passed: failed.is_empty(),
            message: format!(
                "{}{moved}",
                if failed.is_empty() {
                    format!(
                        "{} checkpoint(s) pass again on a fresh checkout",
                        results.len()
                    )
                } else {
                    format!(
                        "fails again on a fresh checkout: {} (see the findings)",
                        failed.join(", ")
                    )
                }
            ),
        });
        rechecks = Some(results);
    }
    match args.format {
        Format::Text => print_text(&outcome, rechecks.as_deref()),
        Format::Json => output::json(&serde_json::json!({
            "ok": outcome.ok(),
            "commit": outcome.commit,
            "signer": outcome.signer,
            "tampered": outcome.tampered,
            "checks": outcome.checks,
            "session": outcome.statement.as_ref().map(|s| &s.predicate.session),
            "workflow": outcome.statement.as_ref().map(|s| &s.predicate.workflow),
            "recheck": rechecks,
        }))?,
        Format::Github => github::write(&outcome, rechecks.as_deref())?,
        Format::Sarif => output::json(&sarif(&outcome, rechecks.as_deref()))?,
    }
    Ok(if outcome.tampered {
        Exit::Error(Kind::Tampered)
    } else if outcome.ok() {
        Exit::Passed
    } else {
        Exit::Failed
    })
}

/// The rules that ran here as another component than the session's (this
/// checkrail bundles other versions), as a note: `""` when none did.
fn other_rules(statement: &Statement, results: &[Recheck]) -> String {
    let mut notes = Vec::new();
    for result in results {
        let Some(attested) = statement
            .predicate
            .phases
            .iter()
            .find(|p| p.phase == result.phase)
        else {
            continue;
        };
        for rule in &result.report.rules {
            if let Some(then) = attested.rules.iter().find(|r| r.rule == rule.rule)
                && then.digest != rule.digest
            {
                notes.push(format!(
                    "{} ran as {} here, {} in the session",
                    rule.rule, rule.version, then.version
                ));
            }
        }
    }
    notes.sort();
    notes.dedup();
    if notes.is_empty() {
        String::new()
    } else {
        format!(" (note: {})", notes.join("; "))
    }
}

/// Trusted keys from the arguments and the environment.
fn trusted_keys(given: &[String]) -> Result<Vec<PublicKey>> {
    let from_env = std::env::var(TRUSTED_KEYS_VAR).unwrap_or_default();
    let mut keys = Vec::new();
    let env_keys = from_env
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    for text in given.iter().cloned().chain(env_keys) {
        let key = if text.starts_with("checkrail-ed25519:") {
            PublicKey::parse(&text)
        } else {
            let body = std::fs::read_to_string(&text).with_context(|| {
                format!("--trusted-key `{text}` is neither a key (`checkrail-ed25519:…`) nor a readable file")
            })?;
            PublicKey::parse(&body)
        }
        .with_context(|| format!("trusted key `{text}`"))?;
        keys.push(key);
    }
    if keys.is_empty() {
        bail!(
            "no trusted key: pass the signer's public key (`checkrail attest --public-key` prints it) with --trusted-key or ${TRUSTED_KEYS_VAR}"
        );
    }
    Ok(keys)
}

fn read_capped(file: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let handle = std::fs::File::open(file)
        .with_context(|| format!("read the attestation `{}`", file.display()))?;
    let mut bytes = Vec::new();
    handle
        .take(notes::MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("read the attestation `{}`", file.display()))?;
    Ok(bytes)
}

/// Runs the attested checkpoints again on the commit's files, in a
/// temporary directory with a state directory of its own.
fn recheck(
    engine: Checkrail,
    root: &Path,
    commit: &str,
    statement: &Statement,
) -> Result<Vec<Recheck>> {
    let scratch = tempfile::tempdir().context("make a directory for the fresh checkout")?;
    let files = scratch.path().join("checkout");
    std::fs::create_dir(&files)?;
    checkrail::anchor::checkout(root, commit, &files)
        .with_context(|| format!("check out {commit} afresh"))?;
    let state = StateDir::at(&scratch.path().join("state"))?;
    let service = Service::open(Arc::new(engine), &files, &state)?;
    Ok(service.recheck_attested(statement)?)
}

fn print_text(outcome: &Outcome, rechecks: Option<&[Recheck]>) {
    println!("attestation of commit {}", outcome.commit);
    for check in &outcome.checks {
        let mark = if check.passed { "ok  " } else { "FAIL" };
        println!("  {mark} {}: {}", check.name, output::shown(&check.message));
    }
    for recheck in rechecks.unwrap_or_default() {
        if !recheck.passed {
            output::checkpoint(&recheck.report);
        }
    }
    if outcome.ok() {
        let workflow = outcome
            .statement
            .as_ref()
            .map(|s| {
                format!(
                    "{} {}",
                    s.predicate.workflow.id, s.predicate.workflow.version
                )
            })
            .unwrap_or_default();
        println!("verified: commit {} completed {workflow}", outcome.commit);
    } else {
        let failed = outcome.checks.iter().filter(|c| !c.passed).count();
        println!("NOT verified: {failed} requirement(s) not met");
    }
}

fn unmet(outcome: &Outcome) -> Vec<checkrail_sdk::Finding> {
    outcome
        .checks
        .iter()
        .filter(|c| !c.passed && c.name != "recheck")
        .map(|c| {
            checkrail_sdk::Finding::error(format!("{}: {}", c.name, c.message))
                .code(c.name.replace(' ', "-"))
        })
        .collect()
}

fn sarif(outcome: &Outcome, rechecks: Option<&[Recheck]>) -> serde_sarif::sarif::Sarif {
    let reports: Vec<(String, &checkrail::report::CheckpointReport)> = rechecks
        .unwrap_or_default()
        .iter()
        .map(|r| (r.phase.clone(), &r.report))
        .collect();
    let confinement = outcome
        .statement
        .as_ref()
        .map_or(serde_json::Value::Null, |s| {
            s.predicate.session.confinement.clone()
        });
    checkrail::sarif::attestation_log(&reports, &unmet(outcome), &confinement)
}

mod github {
    //! GitHub Actions output. Workflow commands:
    //! <https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands>
    //! (`::error file=F,line=L,title=T::message`); data escapes `%`, CR and
    //! LF as `%25`, `%0D`, `%0A`, properties also `:` and `,` as `%3A`,
    //! `%2C` (as the runner's toolkit does, `@actions/core` command.ts).

    use std::fmt::Write as _;
    use std::io::Write as _;

    use checkrail::attest::check::Outcome;
    use checkrail::service::Recheck;
    use checkrail_sdk::Severity;

    /// Escapes a command's message.
    pub fn data(text: &str) -> String {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    }

    /// Escapes a property value.
    pub fn property(text: &str) -> String {
        data(text).replace(':', "%3A").replace(',', "%2C")
    }

    /// One workflow command.
    pub fn command(kind: &str, properties: &[(&str, String)], message: &str) -> String {
        let props: Vec<String> = properties
            .iter()
            .map(|(k, v)| format!("{k}={}", property(v)))
            .collect();
        if props.is_empty() {
            format!("::{kind}::{}", data(message))
        } else {
            format!("::{kind} {}::{}", props.join(","), data(message))
        }
    }

    /// Annotations on stdout; the summary to $GITHUB_STEP_SUMMARY (or
    /// stdout when it is not set).
    pub fn write(outcome: &Outcome, rechecks: Option<&[Recheck]>) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        for check in outcome.checks.iter().filter(|c| !c.passed) {
            let title = format!("checkrail: {}", check.name);
            writeln!(
                out,
                "{}",
                command("error", &[("title", title)], &check.message)
            )?;
        }
        for recheck in rechecks.unwrap_or_default() {
            for rule in &recheck.report.rules {
                for finding in &rule.findings {
                    let kind = match finding.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                        Severity::Info => continue,
                    };
                    let mut props = Vec::new();
                    if let Some(path) = &finding.path {
                        props.push(("file", path.clone()));
                        if let Some(line) = finding.line {
                            props.push(("line", line.to_string()));
                        }
                    }
                    props.push(("title", format!("{} ({})", rule.rule, recheck.phase)));
                    let message = match &finding.fix_hint {
                        Some(hint) => format!("{}\nFix: {hint}", finding.message),
                        None => finding.message.clone(),
                    };
                    writeln!(out, "{}", command(kind, &props, &message))?;
                }
            }
        }
        if outcome.ok() {
            writeln!(
                out,
                "{}",
                command(
                    "notice",
                    &[("title", "checkrail".to_owned())],
                    &format!("commit {} verified", outcome.commit)
                )
            )?;
        }
        let summary = summary(outcome, rechecks);
        match std::env::var_os("GITHUB_STEP_SUMMARY") {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?
                .write_all(summary.as_bytes())?,
            None => out.write_all(summary.as_bytes())?,
        }
        Ok(())
    }

    /// The job summary, in Markdown.
    pub fn summary(outcome: &Outcome, rechecks: Option<&[Recheck]>) -> String {
        let mut md = String::new();
        let verdict = if outcome.ok() {
            "verified"
        } else {
            "not verified"
        };
        let _ = writeln!(md, "## checkrail: commit `{}` {verdict}\n", outcome.commit);
        if let Some(statement) = &outcome.statement {
            let p = &statement.predicate;
            let _ = writeln!(
                md,
                "Workflow `{}` {} · session `{}` · completed {} · agent {}\n",
                p.workflow.id,
                p.workflow.version,
                p.session.id,
                p.session.completed_at,
                if p.session.confinement["confined"] == true {
                    "confined"
                } else {
                    "unconfined"
                }
            );
        }
        md.push_str("| requirement | | found |\n| --- | --- | --- |\n");
        for check in &outcome.checks {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                check.name,
                if check.passed { "✅" } else { "❌" },
                check.message.replace('|', "\\|").replace('\n', " ")
            );
        }
        if let Some(statement) = &outcome.statement {
            md.push_str("\n| phase | rules | approval |\n| --- | --- | --- |\n");
            for phase in &statement.predicate.phases {
                let rules: Vec<String> = phase
                    .rules
                    .iter()
                    .map(|r| format!("{} {}", r.rule, r.version))
                    .collect();
                let approval = phase.approval.as_ref().map_or(String::new(), |a| {
                    format!("{} via {}", a.by, a.channel.as_deref().unwrap_or("?"))
                });
                let _ = writeln!(
                    md,
                    "| {} | {} | {} |",
                    phase.phase,
                    rules.join(", "),
                    approval.replace('|', "\\|")
                );
            }
        }
        for recheck in rechecks.unwrap_or_default().iter().filter(|r| !r.passed) {
            let _ = writeln!(
                md,
                "\n**{}** fails again: {}",
                recheck.phase,
                recheck.summary.replace('\n', " ")
            );
        }
        md
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn commands_escape_as_the_runner_reads_them() {
            assert_eq!(
                command(
                    "error",
                    &[("file", "a,b:c.rs".to_owned()), ("line", "3".to_owned())],
                    "50% done\nnext: ok"
                ),
                "::error file=a%2Cb%3Ac.rs,line=3::50%25 done%0Anext: ok"
            );
            assert_eq!(command("notice", &[], "fine"), "::notice::fine");
        }
    }
}
