//! One registry session: a client with the credentials found for the
//! registry, a runtime to drive it from synchronous code, and the client's
//! errors turned into ones that say what to do.

use std::path::PathBuf;

use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;

use super::credentials::{credentials, docker_config_path};
use super::{Error, OciRef, Result, Transport};

/// How long to wait for a registry to accept a connection.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Most bytes of a manifest read from a registry (a pack's is a few
/// hundred).
pub(super) const MANIFEST_MAX: usize = 4 << 20;
/// How long a transfer may go without receiving anything.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A client for one registry, with its credentials and a runtime to drive
/// it from synchronous code.
pub(super) struct Session {
    pub(super) client: Client,
    pub(super) auth: RegistryAuth,
    /// Whether the registry is spoken to in plain HTTP (loopback, or
    /// `--insecure`).
    plain_http: bool,
    /// Where the credentials came from, for messages.
    credentials: Option<(String, PathBuf)>,
    runtime: tokio::runtime::Runtime,
}

impl Session {
    pub(super) fn open(target: &OciRef, transport: &Transport) -> Result<Self> {
        // reqwest is built without a default crypto provider; install ring
        // once per process (a second install is refused, harmlessly).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let plain_http = transport.insecure || target.is_loopback();
        let protocol = if plain_http {
            ClientProtocol::HttpsExcept(vec![target.registry().to_owned()])
        } else {
            ClientProtocol::Https
        };
        // A registry that stops answering fails the command instead of
        // hanging it; a pack is at most 256 MiB, so a minute without a byte
        // means the transfer is stuck, not slow.
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            ..ClientConfig::default()
        });
        let config_path = transport.docker_config.clone().or_else(docker_config_path);
        let found = match &config_path {
            Some(path) => credentials(path, target.registry())?,
            None => None,
        };
        let (auth, credentials) = match (found, config_path) {
            (Some((user, password)), Some(path)) => (
                RegistryAuth::Basic(user.clone(), password),
                Some((user, path)),
            ),
            _ => (RegistryAuth::Anonymous, None),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        Ok(Self {
            client,
            auth,
            plain_http,
            credentials,
            runtime,
        })
    }

    /// The image manifest `source` names and its digest, read with a cap:
    /// at most [`MANIFEST_MAX`] bytes are ever held, whatever the registry
    /// claims or sends (the client library reads a manifest whole). The
    /// digest is of the bytes read, checked against the registry's
    /// `Docker-Content-Digest` when it sends one.
    pub(super) async fn manifest(
        &self,
        source: &OciRef,
    ) -> Result<(oci_client::manifest::OciImageManifest, String)> {
        use oci_client::RegistryOperation;
        use sha2::Digest;
        let reference = source.reference();
        let refused = |detail: String| Error::Manifest {
            reference: source.to_string(),
            detail,
        };
        let token = self
            .client
            .auth(reference, &self.auth, RegistryOperation::Pull)
            .await
            .map_err(|e| self.explain("pulling", source, e))?;
        let scheme = if self.plain_http { "http" } else { "https" };
        let wanted = reference.digest().or(reference.tag()).unwrap_or("latest");
        let url = format!(
            "{scheme}://{}/v2/{}/manifests/{wanted}",
            reference.resolve_registry(),
            reference.repository()
        );
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| refused(format!("start an HTTP client: {e}")))?;
        let mut request = client.get(&url).header(
            reqwest::header::ACCEPT,
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        );
        request = match (token, &self.auth) {
            (Some(token), _) => request.bearer_auth(token),
            (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
            (None, _) => request,
        };
        let mut response = request
            .send()
            .await
            .map_err(|e| refused(format!("{url}: {e}")))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(refused(format!(
                "registry has no `{source}` (no such repository, tag or digest there)"
            )));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(self.unauthorized("pulling", source));
        }
        if !status.is_success() {
            return Err(refused(format!(
                "the registry answered {status} for the manifest"
            )));
        }
        let announced = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| refused(format!("reading the manifest: {e}")))?
        {
            if body.len() + chunk.len() > MANIFEST_MAX {
                return Err(Error::ManifestTooLarge {
                    reference: source.to_string(),
                    max: MANIFEST_MAX,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body)));
        if let Some(announced) = announced.filter(|a| a.starts_with("sha256:"))
            && announced != digest
        {
            return Err(Error::Digest {
                reference: source.to_string(),
                detail: format!("the registry says {announced}, the bytes are {digest}"),
            });
        }
        let manifest = serde_json::from_slice(&body)
            .map_err(|e| refused(format!("the manifest is not an OCI image manifest: {e}")))?;
        Ok((manifest, digest))
    }

    pub(super) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Turns a client error into one that says what to do.
    /// The registry refused (or wants) credentials: whose, from where, and
    /// what to do.
    fn unauthorized(&self, action: &'static str, target: &OciRef) -> Error {
        let registry = target.registry();
        Error::Unauthorized(match &self.credentials {
            Some((user, path)) => format!(
                "registry `{registry}` refused the credentials of user `{user}` from `{}` ({action} `{target}`); check the password there (`docker login {registry}` rewrites it)",
                path.display()
            ),
            None => format!(
                "registry `{registry}` wants credentials ({action} `{target}`) and none were found; run `docker login {registry}`, or add `auths.\"{registry}\".auth` (base64 of user:password) to {}",
                docker_config_path()
                    .map(|p| format!("`{}`", p.display()))
                    .unwrap_or_else(|| "$DOCKER_CONFIG/config.json".to_owned())
            ),
        })
    }

    pub(super) fn explain(
        &self,
        action: &'static str,
        target: &OciRef,
        source: OciDistributionError,
    ) -> Error {
        if is_unauthorized(&source) {
            return self.unauthorized(action, target);
        }
        if let OciDistributionError::DigestError(
            oci_client::errors::DigestError::VerificationError { expected, actual },
        ) = &source
        {
            return Error::Digest {
                reference: target.to_string(),
                detail: format!("expected {expected}, got {actual}"),
            };
        }
        if is_not_found(&source) {
            return Error::NotFound {
                reference: target.to_string(),
                source,
            };
        }
        Error::Registry {
            action,
            reference: target.to_string(),
            source,
        }
    }
}

fn is_unauthorized(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => true,
        OciDistributionError::ServerError { code, .. } => matches!(code, 401 | 403),
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)),
        _ => false,
    }
}

fn is_not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::BlobUnknown
                    | OciErrorCode::NotFound
            )
        }),
        _ => false,
    }
}
