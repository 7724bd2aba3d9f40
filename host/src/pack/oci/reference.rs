//! Registry references as the command line writes them:
//! `oci://host[:port]/repository:tag` or `…@sha256:<digest>`.

use oci_client::Reference;

use super::{Error, Result, SCHEME};

/// A registry reference: `oci://host[:port]/repository(:tag|@sha256:…)`.
#[derive(Debug, Clone)]
pub struct OciRef {
    text: String,
    reference: Reference,
}

impl OciRef {
    /// Whether `text` names a registry rather than a file.
    pub fn is_oci(text: &str) -> bool {
        text.starts_with(SCHEME)
    }

    /// Parses `oci://host[:port]/repository:tag` or `…@sha256:<hex>`. The
    /// host is required (no implicit Docker Hub), and so is a tag or digest.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadReference {
            reference: text.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("it does not start with oci://"))?;
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("no repository after the host"))?;
        if host.is_empty() || path.is_empty() {
            return Err(bad("no host or no repository"));
        }
        let reference: Reference = rest.parse().map_err(|e| bad(&format!("{e}")))?;
        if reference.registry() != host {
            return Err(bad(
                "the host must come first, as in oci://localhost:5000/team/rules:1.0.0",
            ));
        }
        let last = path.rsplit('/').next().unwrap_or(path);
        if reference.digest().is_none() && !last.contains(':') {
            return Err(bad("no tag or digest; add :<tag> or @sha256:<digest>"));
        }
        Ok(Self {
            text: text.to_owned(),
            reference,
        })
    }

    /// The parsed reference, for the registry client.
    pub(super) fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The registry host (and port).
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// The digest the reference pins, if any.
    pub fn digest(&self) -> Option<&str> {
        self.reference.digest()
    }

    /// Whether the registry is on this machine (plain HTTP is allowed).
    /// `[::1]` is listed for completeness; the OCI reference grammar has no
    /// IPv6 literals, so `localhost` is the way to name it.
    pub fn is_loopback(&self) -> bool {
        let host = self.registry();
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        matches!(name, "localhost" | "127.0.0.1" | "::1")
    }

    /// The same repository at `digest`.
    pub fn at_digest(&self, digest: &str) -> String {
        format!(
            "{SCHEME}{}/{}@{digest}",
            self.reference.registry(),
            self.reference.repository()
        )
    }
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = OciRef::parse("oci://localhost:5000/team/rules:1.0.0").unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        assert!(r.is_loopback());
        assert!(r.digest().is_none());
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = OciRef::parse(&format!("oci://registry.example.com/rules@{digest}")).unwrap();
        assert_eq!(r.digest(), Some(digest.as_str()));
        assert!(!r.is_loopback());
        // The OCI reference grammar has no IPv6 literals; `localhost` serves.
        assert!(OciRef::parse("oci://[::1]:5000/rules:1").is_err());
        assert!(
            OciRef::parse("oci://127.0.0.1/rules:1")
                .unwrap()
                .is_loopback()
        );
        for bad in [
            "localhost:5000/rules:1",
            "oci://rules:1",
            "oci://localhost:5000/rules",
            "oci://localhost:5000/Rules:1",
        ] {
            assert!(OciRef::parse(bad).is_err(), "{bad}");
        }
    }
}
