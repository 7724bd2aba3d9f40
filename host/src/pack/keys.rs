//! ed25519 keys for signing packs. Public keys are written as
//! `checkrail-ed25519:<base64>`, secret keys as
//! `checkrail-ed25519-secret:<base64>` in a file only the owner can read.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::{Error, PackFile, Result, Signature};

const PUBLIC_PREFIX: &str = "checkrail-ed25519:";
const SECRET_PREFIX: &str = "checkrail-ed25519-secret:";

/// A public key that may be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses `checkrail-ed25519:<base64>`.
    pub fn parse(text: &str) -> Result<Self> {
        let b64 = text
            .trim()
            .strip_prefix(PUBLIC_PREFIX)
            .ok_or_else(|| Error::Refused(format!("a public key starts with `{PUBLIC_PREFIX}`")))?;
        let bytes: [u8; 32] = STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::Refused("a public key is 32 bytes of base64".to_owned()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(Error::Key)
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", STANDARD.encode(self.0.as_bytes()))
    }

    /// A short id for messages: the first 16 hex digits of its sha256.
    pub fn id(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))[..16].to_owned()
    }

    /// Whether `signature` over `message` was made by this key.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Some(bytes) = STANDARD
            .decode(signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        self.0
            .verify(message, &ed25519_dalek::Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// A key pair.
pub struct KeyPair(SigningKey);

impl KeyPair {
    /// Reads a secret key file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io("read key", path))?;
        let b64 = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            Error::Refused(format!(
                "`{}` is not a checkrail secret key (made by `checkrail pack keygen`)",
                path.display()
            ))
        })?;
        let bytes: [u8; 32] = STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                Error::Refused(format!("`{}` holds a damaged secret key", path.display()))
            })?;
        Ok(Self(SigningKey::from_bytes(&bytes)))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The base64 signature of `message`.
    pub fn sign_bytes(&self, message: &[u8]) -> String {
        STANDARD.encode(self.0.sign(message).to_bytes())
    }
}

/// Makes a key pair: writes `<stem>.key` (secret, mode 0600) and
/// `<stem>.pub`; returns the public key.
pub fn generate(stem: &Path) -> Result<PublicKey> {
    let secret_path = stem.with_extension("key");
    let public_path = stem.with_extension("pub");
    for path in [&secret_path, &public_path] {
        if path.exists() {
            return Err(Error::Refused(format!(
                "`{}` already exists; choose another name or remove it",
                path.display()
            )));
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| Error::Refused(format!("no randomness for a key: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&secret_path)
        .map_err(Error::io("create", &secret_path))?;
    std::io::Write::write_all(
        &mut file,
        format!("{SECRET_PREFIX}{}\n", STANDARD.encode(key.to_bytes())).as_bytes(),
    )
    .map_err(Error::io("write", &secret_path))?;
    let public = PublicKey(key.verifying_key());
    std::fs::write(&public_path, format!("{}\n", public.to_text()))
        .map_err(Error::io("write", &public_path))?;
    Ok(public)
}

/// Signs a pack in place (replacing any earlier signature).
pub fn sign(pack: &mut PackFile, key: &KeyPair) -> Result<PublicKey> {
    pack.manifest()?;
    let record = Signature {
        algorithm: "ed25519".to_owned(),
        public_key: key.public().to_text(),
        signature: key.sign_bytes(pack.manifest_bytes()?),
    };
    let bytes = serde_json::to_vec_pretty(&record).map_err(|source| Error::Json {
        file: "signature.json",
        source,
    })?;
    pack.entries.insert("signature.json".to_owned(), bytes);
    Ok(key.public())
}
