//! Packs in OCI registries: `checkrail pack push <file> oci://host/repo:tag`
//! and `checkrail pack install oci://host/repo:tag` (or `@sha256:<digest>`).
//!
//! A pack travels as an OCI image manifest with one layer, the pack file
//! itself ([`PACK_MEDIA_TYPE`]), and a small JSON config
//! ([`CONFIG_MEDIA_TYPE`]) naming the pack. The registry only carries it:
//! what makes a pack trusted is still its own signature, checked by
//! [`super::install_pack`] against the project's keys. The registry's
//! digests make the transfer exact (the client checks every blob against
//! its digest, and a pull by digest against the manifest it gets).
//!
//! Credentials come from the docker config file (`$DOCKER_CONFIG/config.json`
//! or `~/.docker/config.json`, `auths.<host>.auth`); without an entry the
//! registry is used anonymously. Plain HTTP is used only for loopback hosts
//! or when the caller says `insecure`.

mod credentials;
mod reference;
mod session;

pub use reference::OciRef;

use std::path::{Path, PathBuf};

use oci_client::client::{Config, ImageLayer};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciImageManifest;
use serde::{Deserialize, Serialize};

use super::{
    InstallScope, Installed, LOCK_FILE, LockFile, Manifest, OciPin, Origin, PackFile,
    archive::MAX_PACK, installed_packs,
};
use crate::runtime::Runtime;
use session::Session;

/// Media type of the layer that holds the pack file (a tar archive).
pub const PACK_MEDIA_TYPE: &str = "application/vnd.checkrail.pack.v1.tar";
/// Media type of the config blob ([`PackConfig`] as JSON).
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.checkrail.pack.config.v1+json";
/// The scheme that marks a registry reference on the command line.
pub const SCHEME: &str = "oci://";

/// What can go wrong moving a pack through a registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The reference cannot be parsed.
    #[error(
        "`{reference}` is not a registry reference ({reason}); write oci://host[:port]/repository:tag or oci://host[:port]/repository@sha256:<digest>"
    )]
    BadReference {
        /// What was given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The docker config file exists but cannot be used.
    #[error("cannot use registry credentials from `{}`: {reason}", path.display())]
    Credentials {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry refused the credentials, or wants some.
    #[error("{0}")]
    Unauthorized(String),
    /// The registry has no such repository, tag or digest.
    #[error("registry has no `{reference}` (no such repository, tag or digest there)")]
    NotFound {
        /// The reference.
        reference: String,
        /// The registry's answer.
        #[source]
        source: OciDistributionError,
    },
    /// What was pulled is not what the reference or the manifest names.
    #[error(
        "`{reference}` was refused: content does not match its digest ({detail}); the registry holds a damaged or tampered pack"
    )]
    Digest {
        /// The reference.
        reference: String,
        /// Expected and actual digests.
        detail: String,
    },
    /// The registry sent more bytes than the manifest declared.
    #[error(
        "`{reference}` was refused: the registry sent more than the {declared} bytes its manifest declares for the pack; the download was stopped there"
    )]
    Oversized {
        /// The reference.
        reference: String,
        /// The size the manifest declared.
        declared: usize,
    },
    /// The registry sent a manifest larger than any pack's.
    #[error(
        "`{reference}` was refused: its manifest is larger than {max} bytes (a pack's is under 1 KiB); the download was stopped there"
    )]
    ManifestTooLarge {
        /// The reference.
        reference: String,
        /// The cap.
        max: usize,
    },
    /// The registry answered the manifest request with an error or
    /// something that is not an image manifest.
    #[error("pulling `{reference}`: {detail}")]
    Manifest {
        /// The reference.
        reference: String,
        /// What went wrong.
        detail: String,
    },
    /// The artifact is not a checkrail pack.
    #[error("`{reference}` is not a checkrail pack: {reason}")]
    NotAPack {
        /// The reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The file to push is not a pack.
    #[error("cannot push `{}`", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<super::Error>,
    },
    /// What was pulled is not a readable pack file.
    #[error("`{reference}` holds no readable pack")]
    BadDownload {
        /// The reference.
        reference: String,
        /// Why.
        #[source]
        source: Box<super::Error>,
    },
    /// Any other failure talking to the registry.
    #[error("{action} `{reference}`")]
    Registry {
        /// `pushing to` or `pulling`.
        action: &'static str,
        /// The reference.
        reference: String,
        /// The client's error.
        #[source]
        source: OciDistributionError,
    },
    /// The pack was pulled but refused by the project (signature, trust,
    /// grants, a rule or workflow that does not load); nothing changed.
    #[error("`{reference}` was refused")]
    Refused {
        /// The reference.
        reference: String,
        /// Why, from the install checks.
        #[source]
        source: Box<super::Error>,
    },
    /// The project's lockfile or installed packs cannot be read.
    #[error(transparent)]
    Project(Box<super::Error>),
    /// The async runtime for network calls could not start.
    #[error("cannot start the network runtime")]
    Runtime(#[source] std::io::Error),
}

impl Error {
    /// What kind of failure this is. A registry that refuses, lacks or
    /// mangles a pack is, like a bad reference, for the user to sort out
    /// (exit code 2); a refusal by the project takes its cause's kind.
    pub fn kind(&self) -> crate::exit::Kind {
        use crate::exit::Kind;
        match self {
            Error::BadFile { source, .. }
            | Error::BadDownload { source, .. }
            | Error::Refused { source, .. }
            | Error::Project(source) => source.kind(),
            Error::Runtime(_) => Kind::Internal,
            Error::BadReference { .. }
            | Error::Credentials { .. }
            | Error::Unauthorized(_)
            | Error::NotFound { .. }
            | Error::Digest { .. }
            | Error::Oversized { .. }
            | Error::ManifestTooLarge { .. }
            | Error::Manifest { .. }
            | Error::NotAPack { .. }
            | Error::Registry { .. } => Kind::Usage,
        }
    }
}

/// A result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The config blob of a pushed pack: enough to see what it is without
/// downloading it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackConfig {
    /// Pack name.
    pub name: String,
    /// Pack version.
    pub version: semver::Version,
    /// sha256 of the pack's `manifest.json`.
    pub manifest_sha256: String,
    /// Whether the pack carries a signature.
    pub signed: bool,
}

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// Allow plain HTTP to a registry that is not on loopback.
    pub insecure: bool,
    /// The docker config file to read credentials from; default
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
}

/// A pack pulled from a registry, verified against the registry's digests
/// (not yet against the project's trust policy).
#[derive(Debug)]
pub struct Pulled {
    /// The pack.
    pub pack: PackFile,
    /// Digest of the OCI manifest it came with (`sha256:<hex>`).
    pub manifest_digest: String,
}

/// What a push wrote.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// Digest of the OCI manifest (`sha256:<hex>`).
    pub manifest_digest: String,
    /// Whether the pack pushed carries a signature.
    pub signed: bool,
}

/// Pushes a pack file.
pub fn push(file: &Path, target: &OciRef, transport: &Transport) -> Result<Pushed> {
    let bad = |source: super::Error| Error::BadFile {
        path: file.to_owned(),
        source: Box::new(source),
    };
    let pack = PackFile::read(file).map_err(bad)?;
    let manifest = pack.manifest().map_err(bad)?;
    let bytes = std::fs::read(file).map_err(|e| bad(super::Error::io("read", file)(e)))?;
    let signed = pack.signature().map_err(bad)?.is_some();
    let config = pack_config(&pack, &manifest).map_err(bad)?;
    let session = Session::open(target, transport)?;
    session.block_on(async {
        let layer = ImageLayer::new(bytes, PACK_MEDIA_TYPE.to_owned(), None);
        let config = Config::new(config, CONFIG_MEDIA_TYPE.to_owned(), None);
        let annotations = [
            ("org.opencontainers.image.title", manifest.name.clone()),
            (
                "org.opencontainers.image.version",
                manifest.version.to_string(),
            ),
            (
                "org.opencontainers.image.description",
                manifest.description.clone(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let image =
            OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(annotations));
        session
            .client
            .push(
                target.reference(),
                &[layer],
                config,
                &session.auth,
                Some(image),
            )
            .await
            .map_err(|e| session.explain("pushing to", target, e))?;
        let manifest_digest = session
            .client
            .fetch_manifest_digest(target.reference(), &session.auth)
            .await
            .map_err(|e| session.explain("pushing to", target, e))?;
        Ok(Pushed {
            manifest_digest,
            signed,
        })
    })
}

/// Pulls a pack: the manifest (checked against a pinned digest), then its
/// one layer (checked against the manifest's digest and size limit).
pub fn pull(source: &OciRef, transport: &Transport) -> Result<Pulled> {
    let session = Session::open(source, transport)?;
    session.block_on(async {
        let (image, digest) = session.manifest(source).await?;
        if let Some(pinned) = source.digest()
            && pinned != digest
        {
            return Err(Error::Digest {
                reference: source.to_string(),
                detail: format!("asked for manifest {pinned}, got {digest}"),
            });
        }
        let layer = pack_layer(source, &image)?;
        // Held to what the manifest declares (itself at most the pack
        // limit) while it streams: a registry that lies about the size is
        // stopped at it, never read whole.
        let declared = usize::try_from(layer.size).unwrap_or(0);
        let mut out = Capped::new(declared);
        let pulled = session
            .client
            .pull_blob(source.reference(), layer, &mut out)
            .await;
        if out.overflowed {
            return Err(Error::Oversized {
                reference: source.to_string(),
                declared,
            });
        }
        pulled.map_err(|e| session.explain("pulling", source, e))?;
        let pack = PackFile::from_bytes(&out.bytes).map_err(|e| Error::BadDownload {
            reference: source.to_string(),
            source: Box::new(e),
        })?;
        Ok(Pulled {
            pack,
            manifest_digest: digest,
        })
    })
}

/// Pulls a pack and installs it like a pack file from outside the
/// workspace (signature required unless the project says otherwise), then
/// pins the manifest digest in `checkrail.lock`. The download is verified
/// before anything is written, so a failure leaves the installed versions
/// as they were.
pub fn install(
    runtime: &Runtime,
    source: &OciRef,
    transport: &Transport,
    workspace: &Path,
    scope: InstallScope,
) -> Result<Installed> {
    let pulled = pull(source, transport)?;
    let pin = OciPin {
        reference: source.to_string(),
        manifest_digest: pulled.manifest_digest,
    };
    super::install_pack(runtime, &pulled.pack, Origin::Oci(pin), workspace, scope).map_err(|e| {
        Error::Refused {
            reference: source.to_string(),
            source: Box::new(e),
        }
    })
}

/// What [`install_locked`] did with one pack version of `checkrail.lock`.
#[derive(Debug)]
pub enum Locked {
    /// Already installed with the locked manifest; nothing pulled.
    Present {
        /// Pack name.
        name: String,
        /// Pack version.
        version: semver::Version,
    },
    /// Pulled by its locked manifest digest and installed.
    Installed(Box<Installed>),
    /// Locked from a pack file, not a registry: install that file.
    FromFile {
        /// Pack name.
        name: String,
        /// Pack version.
        version: semver::Version,
    },
}

/// Installs every pack version `checkrail.lock` pins from a registry and
/// that is not installed yet, exactly as pinned: pulled by the locked OCI
/// manifest digest, and refused unless its pack manifest has the locked
/// sha256. This is how a fresh clone gets the packs its lock names.
pub fn install_locked(
    runtime: &Runtime,
    transport: &Transport,
    workspace: &Path,
    scope: InstallScope,
) -> Result<Vec<Locked>> {
    use sha2::{Digest, Sha256};
    let lock = LockFile::read(workspace).map_err(|e| Error::Project(Box::new(e)))?;
    let present = installed_packs(Some(workspace));
    let mut done = Vec::new();
    for entry in &lock.packs {
        let (name, version) = (entry.name.clone(), entry.version.clone());
        if present.iter().any(|p| {
            p.manifest.name == entry.name
                && p.manifest.version == entry.version
                && p.manifest_sha256 == entry.manifest_sha256
        }) {
            done.push(Locked::Present { name, version });
            continue;
        }
        let Some(pin) = &entry.oci else {
            done.push(Locked::FromFile { name, version });
            continue;
        };
        let exact = OciRef::parse(&OciRef::parse(&pin.reference)?.at_digest(&pin.manifest_digest))?;
        let pulled = pull(&exact, transport)?;
        let bytes = pulled
            .pack
            .manifest_bytes()
            .map_err(|e| Error::BadDownload {
                reference: exact.to_string(),
                source: Box::new(e),
            })?;
        let actual = hex::encode(Sha256::digest(bytes));
        if actual != entry.manifest_sha256 {
            return Err(Error::Digest {
                reference: exact.to_string(),
                detail: format!(
                    "{LOCK_FILE} pins pack `{name}` {version} with manifest sha256 {}, the registry's pack has {actual}",
                    entry.manifest_sha256
                ),
            });
        }
        let installed = super::install_pack(
            runtime,
            &pulled.pack,
            Origin::Oci(pin.clone()),
            workspace,
            scope,
        )
        .map_err(|e| Error::Refused {
            reference: exact.to_string(),
            source: Box::new(e),
        })?;
        done.push(Locked::Installed(Box::new(installed)));
    }
    Ok(done)
}

fn pack_config(pack: &PackFile, manifest: &Manifest) -> super::Result<Vec<u8>> {
    use sha2::{Digest, Sha256};
    let config = PackConfig {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        manifest_sha256: hex::encode(Sha256::digest(pack.manifest_bytes()?)),
        signed: pack.signature()?.is_some(),
    };
    serde_json::to_vec(&config).map_err(|source| super::Error::Json {
        file: "the OCI config",
        source,
    })
}

/// The one layer of a pack manifest, after checking that it is one.
fn pack_layer<'a>(
    source: &OciRef,
    image: &'a OciImageManifest,
) -> Result<&'a oci_client::manifest::OciDescriptor> {
    let not_a_pack = |reason: String| Error::NotAPack {
        reference: source.to_string(),
        reason,
    };
    if image.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(not_a_pack(format!(
            "its config is `{}`, not `{CONFIG_MEDIA_TYPE}` (was it pushed with `checkrail pack push`?)",
            image.config.media_type
        )));
    }
    let [layer] = image.layers.as_slice() else {
        return Err(not_a_pack(format!(
            "it has {} layers; a pack has exactly one",
            image.layers.len()
        )));
    };
    if layer.media_type != PACK_MEDIA_TYPE {
        return Err(not_a_pack(format!(
            "its layer is `{}`, not `{PACK_MEDIA_TYPE}`",
            layer.media_type
        )));
    }
    if !u64::try_from(layer.size).is_ok_and(|size| size <= MAX_PACK) {
        return Err(not_a_pack(format!(
            "its layer claims {} bytes; packs are at most {MAX_PACK} bytes",
            layer.size
        )));
    }
    Ok(layer)
}

/// A download buffer that refuses to hold more than `cap` bytes.
struct Capped {
    bytes: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl Capped {
    fn new(cap: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(cap.min(1 << 20)),
            cap,
            overflowed: false,
        }
    }
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.bytes.len() + buf.len() > self.cap {
            self.overflowed = true;
            return std::task::Poll::Ready(Err(std::io::Error::other(
                "more bytes than the manifest declares",
            )));
        }
        self.bytes.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_one_layer_pack_manifest_is_a_pack() {
        use oci_client::manifest::OciDescriptor;
        let source = OciRef::parse("oci://localhost:5000/team/rules:1").unwrap();
        let layer = |media_type: &str, size: i64| OciDescriptor {
            media_type: media_type.to_owned(),
            size,
            ..OciDescriptor::default()
        };
        let image = |layers: Vec<OciDescriptor>| OciImageManifest {
            config: layer(CONFIG_MEDIA_TYPE, 10),
            layers,
            ..OciImageManifest::default()
        };
        assert!(pack_layer(&source, &image(vec![layer(PACK_MEDIA_TYPE, 1000)])).is_ok());
        let refused =
            |manifest: OciImageManifest| pack_layer(&source, &manifest).unwrap_err().to_string();
        let e = refused(image(vec![layer(
            "application/vnd.oci.image.layer.v1.tar",
            9,
        )]));
        assert!(
            e.contains("its layer is `application/vnd.oci.image.layer.v1.tar`"),
            "{e}"
        );
        let e = refused(image(vec![]));
        assert!(e.contains("it has 0 layers"), "{e}");
        let e = refused(image(vec![layer(PACK_MEDIA_TYPE, 1 << 40)]));
        assert!(e.contains("packs are at most"), "{e}");
        let e = refused(image(vec![layer(PACK_MEDIA_TYPE, -1)]));
        assert!(e.contains("claims -1 bytes"), "{e}");
        let mut container = image(vec![layer(PACK_MEDIA_TYPE, 9)]);
        container.config.media_type = "application/vnd.oci.image.config.v1+json".to_owned();
        let e = refused(container);
        assert!(e.contains("checkrail pack push"), "{e}");
    }
}
