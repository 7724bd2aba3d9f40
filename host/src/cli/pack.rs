//! `checkrail pack build | keygen | sign | verify | push | install | remove | list`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use checkrail::Checkrail;
use checkrail::config::WorkspaceConfig;
use checkrail::pack::oci::{self, OciRef, Transport};
use checkrail::pack::{self, InstallScope, KeyPair, PackFile};
use checkrail::trusted::StateDir;

use super::{Exit, output};

/// Pack subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Build a pack from a directory holding pack.toml and the rule components.
    Build {
        /// Directory with pack.toml.
        dir: PathBuf,
        /// Output file [default: <dir>/<name>-<version>.crpack].
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Make an ed25519 key pair for signing packs: <NAME>.key (secret) and <NAME>.pub.
    Keygen {
        /// Path and stem of the key files.
        #[arg(default_value = "checkrail-signing")]
        name: PathBuf,
    },
    /// Sign a pack in place with a secret key.
    Sign {
        /// The pack file.
        file: PathBuf,
        /// Secret key file from `pack keygen`.
        #[arg(long)]
        key: PathBuf,
    },
    /// Check a pack's digests and signature against the workspace's trust policy.
    Verify {
        /// The pack file, or a registry reference (oci://host/repository:tag or @sha256:<digest>), pulled and checked without installing.
        file: PathBuf,
        /// Allow plain HTTP to a registry that is not on loopback.
        #[arg(long)]
        insecure: bool,
        /// Workspace whose checkrail.toml [trust] applies.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
    },
    /// Push a pack file to an OCI registry (one layer, media type application/vnd.checkrail.pack.v1.tar).
    Push {
        /// The pack file (sign it first: installs from a registry require a trusted signature by default).
        file: PathBuf,
        /// Where to: oci://host[:port]/repository:tag.
        target: String,
        /// Allow plain HTTP to a registry that is not on loopback (localhost, 127.0.0.1, [::1] always use HTTP).
        #[arg(long)]
        insecure: bool,
    },
    /// Verify and install a pack into the project (.checkrail/packs) or, with --user, the user's data directory; records it in checkrail.lock. Without FILE, installs what checkrail.lock pins from registries, exactly as pinned.
    Install {
        /// The pack file, or a registry reference: oci://host[:port]/repository:tag or oci://host/repository@sha256:<digest>. Absent: every registry pack checkrail.lock pins that is not installed yet.
        file: Option<PathBuf>,
        /// Allow plain HTTP to a registry that is not on loopback.
        #[arg(long)]
        insecure: bool,
        /// Workspace to install into and whose checkrail.lock to update.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Install for the user instead of the project.
        #[arg(long)]
        user: bool,
    },
    /// Remove an installed pack version and its checkrail.lock entry.
    Remove {
        /// Pack name.
        name: String,
        /// Exact version to remove.
        #[arg(value_name = "VERSION")]
        pack_version: semver::Version,
        /// Workspace to remove it from (and whose checkrail.lock to update).
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Remove the user-level install instead of the project's.
        #[arg(long)]
        user: bool,
    },
    /// List installed packs (and the bundled core pack).
    List {
        /// Workspace whose packs to list.
        #[arg(long, value_name = "DIR", default_value = ".")]
        workspace: PathBuf,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// The workspace this command looks at, if any.
    pub fn workspace(&self) -> Option<&std::path::Path> {
        match self {
            Command::Verify { workspace, .. }
            | Command::Install { workspace, .. }
            | Command::List { workspace, .. } => Some(workspace),
            _ => None,
        }
    }
}

/// Runs a pack subcommand.
pub fn run(engine: &Checkrail, state: &StateDir, command: &Command) -> Result<Exit> {
    // Verifying and installing trust the keys and grants of
    // `checkrail.toml`: only as a human allowed them.
    if let Command::Verify { workspace, .. } | Command::Install { workspace, .. } = command {
        checkrail::workspace::Workspace::open(workspace, state)?.config()?;
    }
    match command {
        Command::Build { dir, out } => build(engine, dir, out.as_deref()),
        Command::Keygen { name } => keygen(name),
        Command::Sign { file, key } => sign(file, key),
        Command::Verify {
            file,
            insecure,
            workspace,
        } => verify(file, &transport(*insecure), workspace),
        Command::Push {
            file,
            target,
            insecure,
        } => push(file, target, &transport(*insecure)),
        Command::Install {
            file,
            insecure,
            workspace,
            user,
        } => install(
            engine,
            file.as_deref(),
            &transport(*insecure),
            workspace,
            scope(*user),
        ),
        Command::Remove {
            name,
            pack_version,
            workspace,
            user,
        } => remove(name, pack_version, workspace, scope(*user)),
        Command::List { workspace, json } => list(engine, workspace, *json),
    }
}

fn scope(user: bool) -> InstallScope {
    if user {
        InstallScope::User
    } else {
        InstallScope::Project
    }
}

fn transport(insecure: bool) -> Transport {
    Transport {
        insecure,
        ..Transport::default()
    }
}

/// The registry reference `file` stands for, when it is one.
fn registry_reference(file: &Path) -> Option<&str> {
    file.to_str().filter(|f| OciRef::is_oci(f))
}

fn build(engine: &Checkrail, dir: &Path, out: Option<&Path>) -> Result<Exit> {
    let (path, manifest) = pack::build(engine.runtime(), dir, out).context("build the pack")?;
    println!(
        "built {} {} with {} rule(s) and {} workflow(s): {}",
        manifest.name,
        manifest.version,
        manifest.rules.len(),
        manifest.workflows.len(),
        path.display()
    );
    Ok(Exit::Passed)
}

fn keygen(name: &Path) -> Result<Exit> {
    let public = pack::generate(name).context("make a key pair")?;
    println!(
        "wrote {} (secret: keep it private) and {}",
        name.with_extension("key").display(),
        name.with_extension("pub").display()
    );
    println!(
        "public key {} — projects trust it with:\n\n[trust]\nkeys = [\"{}\"]",
        public.id(),
        public.to_text()
    );
    Ok(Exit::Passed)
}

fn sign(file: &Path, key: &Path) -> Result<Exit> {
    let key = KeyPair::read(key)?;
    let mut pack = PackFile::read(file)?;
    let public = pack::sign(&mut pack, &key)?;
    pack.write(file)?;
    println!("signed {} with key {}", file.display(), public.id());
    Ok(Exit::Passed)
}

fn verify(file: &Path, transport: &Transport, workspace: &Path) -> Result<Exit> {
    let config = WorkspaceConfig::load(workspace)?;
    let (pack, local) = match registry_reference(file) {
        Some(reference) => (
            oci::pull(&OciRef::parse(reference)?, transport)?.pack,
            false,
        ),
        None => {
            let local = file
                .canonicalize()
                .ok()
                .zip(workspace.canonicalize().ok())
                .is_some_and(|(f, w)| f.starts_with(w));
            (PackFile::read(file)?, local)
        }
    };
    match pack::verify(&pack, &config, local) {
        Ok((manifest, signer)) => {
            let signed = signer
                .map(|k| format!("signed by trusted key {k}"))
                .unwrap_or_else(|| "unsigned".to_owned());
            println!(
                "ok: {} {} — {} rule(s), {} workflow(s), digests match, {signed}",
                manifest.name,
                manifest.version,
                manifest.rules.len(),
                manifest.workflows.len()
            );
            Ok(Exit::Passed)
        }
        Err(reason) => {
            println!("refused: {}", checkrail::error::chain(&reason));
            Ok(Exit::Failed)
        }
    }
}

fn push(file: &Path, target: &str, transport: &Transport) -> Result<Exit> {
    let target = OciRef::parse(target)?;
    let pushed = oci::push(file, &target, transport)?;
    if !pushed.signed {
        eprintln!(
            "warning: {} is not signed; projects refuse unsigned packs from a registry unless their checkrail.toml sets `require_signatures = false` under [trust] (sign it with `checkrail pack sign` and push again)",
            file.display()
        );
    }
    println!(
        "pushed {} to {target}\n  digest {}\n  install exactly this pack with `checkrail pack install {}`",
        file.display(),
        pushed.manifest_digest,
        target.at_digest(&pushed.manifest_digest)
    );
    Ok(Exit::Passed)
}

fn install(
    engine: &Checkrail,
    file: Option<&Path>,
    transport: &Transport,
    workspace: &Path,
    scope: InstallScope,
) -> Result<Exit> {
    let Some(file) = file else {
        let done = oci::install_locked(engine.runtime(), transport, workspace, scope)
            .with_context(|| format!("install what {} pins", pack::LOCK_FILE))?;
        let missing = print_locked(&done);
        return Ok(if missing { Exit::Failed } else { Exit::Passed });
    };
    let installed = match registry_reference(file) {
        Some(reference) => {
            let source = OciRef::parse(reference)?;
            oci::install(engine.runtime(), &source, transport, workspace, scope)
                .context("install from a registry")?
        }
        None => pack::install(engine.runtime(), file, workspace, scope)
            .with_context(|| format!("install {}", file.display()))?,
    };
    print_installed(&installed);
    Ok(Exit::Passed)
}

fn remove(
    name: &str,
    version: &semver::Version,
    workspace: &Path,
    scope: InstallScope,
) -> Result<Exit> {
    let dir = pack::remove(workspace, scope, name, version)?;
    println!(
        "removed {name} {version} ({}) and its {} entry",
        dir.display(),
        pack::LOCK_FILE
    );
    Ok(Exit::Passed)
}

fn list(engine: &Checkrail, workspace: &Path, json: bool) -> Result<Exit> {
    let core = pack::core_manifest(engine.runtime())?;
    let installed = pack::installed_packs(Some(workspace));
    if json {
        output::json(&serde_json::json!({ "core": core, "installed": installed }))?;
        return Ok(Exit::Passed);
    }
    let lock = pack::LockFile::read(workspace)?;
    let rules = |rules: &[pack::ManifestRule]| {
        rules
            .iter()
            .map(|r| format!("{}@{}", r.id, r.version))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("core {} (bundled): {}", core.version, rules(&core.rules));
    for p in &installed {
        let scope = match p.scope {
            InstallScope::Project => "project",
            InstallScope::User => "user",
        };
        let workflows: Vec<String> = p
            .manifest
            .workflows
            .iter()
            .map(|w| format!("{}/{}@{}", p.manifest.name, w.id, w.version))
            .collect();
        let workflows = if workflows.is_empty() {
            String::new()
        } else {
            format!("; workflows: {}", workflows.join(", "))
        };
        let from = lock
            .entry(&p.manifest.name, &p.manifest.version)
            .and_then(|e| e.oci.as_ref())
            .map(|pin| format!("; from {}", pin.reference))
            .unwrap_or_default();
        println!(
            "{} {} ({scope}): {}{workflows}{from}",
            p.manifest.name,
            p.manifest.version,
            rules(&p.manifest.rules)
        );
    }
    Ok(Exit::Passed)
}

fn print_installed(installed: &pack::Installed) {
    let m = &installed.manifest;
    let how = if installed.already {
        "already installed"
    } else {
        "installed"
    };
    println!(
        "{how} {} {} into {}; pinned in {}",
        m.name,
        m.version,
        installed.dir.display(),
        pack::LOCK_FILE
    );
    for rule in &m.rules {
        println!(
            "  rule {}/{}@{}  sha256 {}",
            m.name,
            rule.id,
            rule.version,
            &rule.sha256[..16]
        );
    }
    for workflow in &m.workflows {
        println!(
            "  workflow {}/{}@{}  sha256 {}",
            m.name,
            workflow.id,
            workflow.version,
            &workflow.sha256[..16]
        );
    }
}

/// Prints what `install_locked` did; returns whether a locked pack is still
/// missing (one locked from a file).
fn print_locked(done: &[oci::Locked]) -> bool {
    if done.is_empty() {
        println!("{} pins no packs", pack::LOCK_FILE);
    }
    for entry in done {
        match entry {
            oci::Locked::Present { name, version } => {
                println!("{name} {version}: installed as locked");
            }
            oci::Locked::FromFile { name, version } => println!(
                "{name} {version}: missing, and locked from a pack file rather than a registry; install that file with `checkrail pack install <file>`"
            ),
            oci::Locked::Installed(installed) => print_installed(installed),
        }
    }
    done.iter()
        .any(|entry| matches!(entry, oci::Locked::FromFile { .. }))
}
