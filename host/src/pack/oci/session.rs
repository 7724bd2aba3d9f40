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
/// How long a transfer may go without receiving anything.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A client for one registry, with its credentials and a runtime to drive
/// it from synchronous code.
pub(super) struct Session {
    pub(super) client: Client,
    pub(super) auth: RegistryAuth,
    /// Where the credentials came from, for messages.
    credentials: Option<(String, PathBuf)>,
    runtime: tokio::runtime::Runtime,
}

impl Session {
    pub(super) fn open(target: &OciRef, transport: &Transport) -> Result<Self> {
        // reqwest is built without a default crypto provider; install ring
        // once per process (a second install is refused, harmlessly).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let protocol = if transport.insecure || target.is_loopback() {
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
            credentials,
            runtime,
        })
    }

    pub(super) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Turns a client error into one that says what to do.
    pub(super) fn explain(
        &self,
        action: &'static str,
        target: &OciRef,
        source: OciDistributionError,
    ) -> Error {
        if is_unauthorized(&source) {
            let registry = target.registry();
            return Error::Unauthorized(match &self.credentials {
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
            });
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
