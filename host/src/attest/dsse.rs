//! DSSE envelopes signed with checkrail's ed25519 keys.
//!
//! Spec: <https://github.com/secure-systems-lab/dsse/blob/master/envelope.md>
//! and `protocol.md` beside it. The signature covers the pre-authentication
//! encoding `DSSEv1 <len(type)> <type> <len(body)> <body>` (lengths in
//! ASCII decimal), never the JSON around it, so nothing in the envelope but
//! the payload and its type is trusted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::pack::{KeyPair, PublicKey};

/// The payload type of an in-toto statement.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

/// An envelope as stored in a file or a git note.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// The statement, base64.
    pub payload: String,
    /// What the payload is.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// One signature per signer.
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signature {
    /// The signer's key id (the first 16 hex digits of its sha256).
    #[serde(default)]
    pub keyid: String,
    /// The signature, base64.
    pub sig: String,
}

/// Why an envelope was not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unopened {
    /// The envelope is not one (or not of an in-toto statement).
    Malformed(String),
    /// A key signed it, but none the verifier trusts.
    Untrusted(Vec<String>),
    /// No signature verifies under the key it names: altered after signing.
    Altered,
}

impl std::fmt::Display for Unopened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unopened::Malformed(why) => write!(f, "not a signed attestation: {why}"),
            Unopened::Untrusted(ids) => write!(
                f,
                "signed by key {}, which is not trusted; pass the signer's public key with --trusted-key (or CHECKRAIL_TRUSTED_KEYS) if a human should trust it",
                ids.join(", ")
            ),
            Unopened::Altered => f.write_str(
                "the signature does not match the content: the attestation was altered after it was signed",
            ),
        }
    }
}

/// The bytes a signature covers.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

impl Envelope {
    /// `body` (an in-toto statement) signed with `key`.
    pub fn seal(body: &[u8], key: &KeyPair) -> Self {
        Self {
            payload: STANDARD.encode(body),
            payload_type: IN_TOTO.to_owned(),
            signatures: vec![Signature {
                keyid: key.public().id(),
                sig: key.sign_bytes(&pae(IN_TOTO, body)),
            }],
        }
    }

    /// Reads an envelope.
    pub fn parse(bytes: &[u8]) -> Result<Self, Unopened> {
        serde_json::from_slice(bytes).map_err(|e| Unopened::Malformed(format!("{e}")))
    }

    /// The payload, when a signature verifies under one of `trusted`, with
    /// the key that made it.
    pub fn open(&self, trusted: &[PublicKey]) -> Result<(Vec<u8>, PublicKey), Unopened> {
        if self.payload_type != IN_TOTO {
            return Err(Unopened::Malformed(format!(
                "payload type `{}`, expected `{IN_TOTO}`",
                crate::error::clip(&self.payload_type)
            )));
        }
        let body = STANDARD
            .decode(&self.payload)
            .map_err(|e| Unopened::Malformed(format!("payload is not base64: {e}")))?;
        if self.signatures.is_empty() {
            return Err(Unopened::Malformed("it carries no signature".to_owned()));
        }
        let message = pae(&self.payload_type, &body);
        for signature in &self.signatures {
            if let Some(key) = trusted
                .iter()
                .find(|k| k.verifies(&message, &signature.sig))
            {
                return Ok((body, key.clone()));
            }
        }
        // Tell an altered envelope from a stranger's: does a trusted key
        // claim a signature that fails?
        let claimed: Vec<String> = self
            .signatures
            .iter()
            .map(|s| crate::error::clip(&s.keyid).into_owned())
            .collect();
        if trusted.iter().any(|k| claimed.contains(&k.id())) {
            Err(Unopened::Altered)
        } else {
            Err(Unopened::Untrusted(claimed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &std::path::Path, name: &str) -> KeyPair {
        crate::pack::generate(&dir.join(name)).unwrap();
        KeyPair::read(&dir.join(format!("{name}.key"))).unwrap()
    }

    #[test]
    fn the_encoding_is_the_specs() {
        // The spec's own example: type `http://example.com/HelloWorld`,
        // body `hello world`.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn only_a_trusted_unaltered_envelope_opens() {
        let dir = tempfile::tempdir().unwrap();
        let (ours, theirs) = (key(dir.path(), "ours"), key(dir.path(), "theirs"));
        let sealed = Envelope::seal(br#"{"a":1}"#, &ours);
        let (body, by) = sealed.open(&[theirs.public(), ours.public()]).unwrap();
        assert_eq!(body, br#"{"a":1}"#);
        assert_eq!(by, ours.public());

        assert!(matches!(
            sealed.open(&[theirs.public()]),
            Err(Unopened::Untrusted(ids)) if ids == vec![ours.public().id()]
        ));
        let mut altered = sealed.clone();
        altered.payload = STANDARD.encode(br#"{"a":2}"#);
        assert_eq!(altered.open(&[ours.public()]), Err(Unopened::Altered));
        let mut retyped = sealed;
        retyped.payload_type = "text/plain".to_owned();
        assert!(matches!(
            retyped.open(&[ours.public()]),
            Err(Unopened::Malformed(_))
        ));
    }
}
