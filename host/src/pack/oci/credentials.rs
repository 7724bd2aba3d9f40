//! Registry credentials from the docker config file, as `docker login`
//! writes them.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{Error, Result};

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub(super) fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir).join("config.json")),
        _ => dirs::home_dir().map(|h| h.join(".docker").join("config.json")),
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The user and password for `registry` in a docker config file; `None`
/// when the file or the entry is absent. Keys may carry a scheme or a path
/// (`https://host/v1/`), as `docker login` sometimes writes them.
pub(super) fn credentials(path: &Path, registry: &str) -> Result<Option<(String, String)>> {
    let bad = |reason: String| Error::Credentials {
        path: path.to_owned(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    let config: DockerConfig =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a docker config: {e}")))?;
    let host_of = |key: &str| {
        let key = key
            .strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"))
            .unwrap_or(key);
        key.split('/').next().unwrap_or(key).to_owned()
    };
    let Some(entry) = config
        .auths
        .iter()
        .find(|(key, _)| host_of(key) == registry)
        .map(|(_, entry)| entry)
    else {
        return Ok(None);
    };
    if let Some(encoded) = &entry.auth {
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad(format!("`auths.\"{registry}\".auth` is not base64 text")))?;
        let (user, password) = decoded.split_once(':').ok_or_else(|| {
            bad(format!(
                "`auths.\"{registry}\".auth` must be base64 of user:password"
            ))
        })?;
        return Ok(Some((user.to_owned(), password.to_owned())));
    }
    Ok(entry.username.clone().zip(entry.password.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        assert_eq!(credentials(&path, "localhost:5000").unwrap(), None);
        let auth = STANDARD.encode("alice:s3cret:x");
        std::fs::write(
            &path,
            format!(r#"{{"auths":{{"https://localhost:5000/v1/":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        assert_eq!(
            credentials(&path, "localhost:5000").unwrap(),
            Some(("alice".to_owned(), "s3cret:x".to_owned()))
        );
        assert_eq!(credentials(&path, "localhost:5001").unwrap(), None);
        std::fs::write(&path, r#"{"auths":{"localhost:5000":{"auth":"!!"}}}"#).unwrap();
        let e = credentials(&path, "localhost:5000")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not base64"), "{e}");
    }
}
