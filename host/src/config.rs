//! The workspace's `checkrail.toml`: what its owner grants rules. Nothing is
//! granted when the file is absent.
//!
//! ```toml
//! [exec]
//! allow = ["cargo", "python3"]   # programs rules may run (each rule must also declare it)
//! env = ["RUSTFLAGS"]            # extra environment variables passed through
//! timeout_ms = 600000            # longest one command may run
//! max_output_bytes = 4194304     # stdout and stderr kept, each
//!
//! [approval]
//! via = ["terminal"]              # who may approve gates: "terminal" (default), "elicitation"
//!
//! [trust]
//! keys = ["checkrail-ed25519:…"]  # signers whose rule packs are trusted
//! require_signatures = true       # default: true for packs from outside the workspace
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// File name of the workspace config.
pub const FILE: &str = "checkrail.toml";

/// The workspace config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Program execution grants.
    #[serde(default)]
    pub exec: ExecGrants,
    /// Which rule packs this project trusts.
    #[serde(default)]
    pub trust: Trust,
    /// How humans approve gates.
    #[serde(default)]
    pub approval: ApprovalPolicy,
}

/// Channels through which a human may approve a gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    /// `terminal` (`checkrail session approve` at an interactive terminal)
    /// and, when the owner opts in, `elicitation` (the MCP client asks its
    /// user). Some clients let scripts auto-accept elicitations, so it is
    /// off by default.
    #[serde(default = "default_channels")]
    pub via: Vec<ApprovalChannel>,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        Self {
            via: default_channels(),
        }
    }
}

fn default_channels() -> Vec<ApprovalChannel> {
    vec![ApprovalChannel::Terminal]
}

/// A human channel for approvals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalChannel {
    /// `checkrail session approve` with stdin and stdout on a terminal.
    Terminal,
    /// MCP elicitation through the agent's client.
    Elicitation,
}

impl ApprovalChannel {
    /// Name as recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalChannel::Terminal => "terminal",
            ApprovalChannel::Elicitation => "elicitation",
        }
    }
}

/// Trust policy for rule packs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    /// Public keys (`checkrail-ed25519:<base64>`) whose signatures are trusted.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Require a trusted signature on every pack. Default: required for pack
    /// files from outside the workspace, not for packs built inside it.
    #[serde(default)]
    pub require_signatures: Option<bool>,
}

/// What rules may run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecGrants {
    /// Program names rules may run.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Extra environment variables passed through to programs.
    #[serde(default)]
    pub env: Vec<String>,
    /// Longest one command may run, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Bytes of stdout and of stderr kept, each.
    #[serde(default = "default_output")]
    pub max_output_bytes: usize,
}

impl Default for ExecGrants {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            env: Vec::new(),
            timeout_ms: default_timeout(),
            max_output_bytes: default_output(),
        }
    }
}

fn default_timeout() -> u64 {
    600_000
}

fn default_output() -> usize {
    4 << 20
}

impl WorkspaceConfig {
    /// Reads `<workspace>/checkrail.toml`, or the defaults when it is absent.
    pub fn load(workspace: &Path) -> Result<Self> {
        let path = workspace.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(Error::Other(format!("read {}: {e}", path.display())));
            }
        };
        let config: Self =
            toml::from_str(&text).map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
        for (i, key) in config.trust.keys.iter().enumerate() {
            crate::pack::PublicKey::parse(key)
                .map_err(|e| Error::Other(format!("{}: [trust] keys[{i}]: {e}", path.display())))?;
        }
        for program in &config.exec.allow {
            if program.is_empty() || program.contains(['/', '\\']) {
                return Err(Error::Other(format!(
                    "{}: [exec] allow: `{program}` is not a program name; list names such as \"cargo\", found on PATH",
                    path.display()
                )));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_grants_and_names_bad_fields() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            WorkspaceConfig::load(dir.path())
                .unwrap()
                .exec
                .allow
                .is_empty()
        );
        std::fs::write(
            dir.path().join(FILE),
            "[exec]\nallow = [\"cargo\"]\nenv = [\"RUSTFLAGS\"]\n",
        )
        .unwrap();
        let config = WorkspaceConfig::load(dir.path()).unwrap();
        assert_eq!(config.exec.allow, ["cargo"]);
        assert_eq!(config.exec.timeout_ms, 600_000);
        std::fs::write(dir.path().join(FILE), "[exec]\nalow = [\"cargo\"]\n").unwrap();
        let err = WorkspaceConfig::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("unknown field `alow`"), "{err}");
        std::fs::write(dir.path().join(FILE), "[exec]\nallow = [\"/bin/sh\"]\n").unwrap();
        assert!(
            WorkspaceConfig::load(dir.path())
                .unwrap_err()
                .to_string()
                .contains("not a program name")
        );
    }
}
