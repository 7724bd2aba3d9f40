//! The workspace's `checkrail.toml`: what its owner grants rules. Nothing is
//! granted when the file is absent.
//!
//! ```toml
//! [exec]
//! allow = ["cargo", "python3"]   # programs the bundled rules may run (each rule must also declare it)
//! unchecked_args = []            # programs the bundled rules may pass any arguments (see below)
//! env = ["RUSTFLAGS"]            # extra environment variables passed through
//! timeout_ms = 600000            # longest one command may run
//! max_output_bytes = 4194304     # stdout and stderr kept, each
//!
//! [exec.rules."team-rules/*"]    # every rule of the installed pack `team-rules`
//! allow = ["git"]
//! [exec.rules."team-rules/has-changelog"]  # one rule of it
//! allow = ["cargo"]
//! unchecked_args = ["cargo"]
//! [exec.rules."my-rule"]         # a component loaded from --rules-dir
//! allow = ["sh"]
//!
//! [approval]
//! via = ["terminal"]              # who may approve gates: "terminal" (default), "elicitation", "dashboard"
//!
//! [checks]
//! parallel = 4                   # rules of one checkpoint run at once (default: the number of cores)
//!
//! [retention]                    # applied when a server or session command opens the workspace
//! sessions_days = 30             # delete completed/abandoned sessions unchanged this long (default: keep)
//! cache_days = 14                # drop cached outcomes older than this (default: keep)
//! cache_max_mb = 256             # and keep the outcome cache under this size, oldest out first
//!
//! [trust]
//! keys = ["checkrail-ed25519:…"]  # signers whose rule packs are trusted
//! require_signatures = true       # default: true for packs from outside the workspace
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Why `checkrail.toml` cannot be used; each message reads after the file's
/// path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot be read")]
    Read(#[source] std::io::Error),
    /// It is not valid TOML for this schema.
    #[error("is invalid")]
    Parse(#[source] toml::de::Error),
    /// A trusted key is malformed.
    #[error("[trust] keys[{index}]")]
    TrustKey {
        /// Its position in the list.
        index: usize,
        /// Why it does not parse.
        #[source]
        source: crate::pack::Error,
    },
    /// A field holds a value that parses but is not allowed; the message
    /// names the field and the fix.
    #[error("{0}")]
    Field(String),
}

pub use crate::grants::{CORE_PACK, ExecGrants, RuleGrant};

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
    /// How checkpoints run their rules.
    #[serde(default, skip_serializing_if = "Checks::is_default")]
    pub checks: Checks,
    /// What is cleaned up, and when.
    #[serde(default, skip_serializing_if = "Retention::is_default")]
    pub retention: Retention,
    /// How the agents' hooks enforce workflows.
    #[serde(default, skip_serializing_if = "Enforce::is_default")]
    pub enforce: Enforce,
    /// What sessions are judged against (see [`crate::anchor`]).
    #[serde(default, skip_serializing_if = "AnchorConfig::is_default")]
    pub anchor: AnchorConfig,
}

/// `[anchor]`: the commit a session is judged against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorConfig {
    /// A ref the agent does not push to (`origin/main`): judging files and
    /// known failures are taken at the merge-base of `HEAD` with it.
    /// Unset: at the commit the last `checkrail allow` saw.
    #[serde(default)]
    pub upstream: Option<String>,
}

impl AnchorConfig {
    fn is_default(&self) -> bool {
        *self == AnchorConfig::default()
    }
}

/// What `checkrail hook` does for this workspace (`[enforce]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enforce {
    /// When the agent wants to stop and its conversation has no session:
    /// `off` lets it, `require-session` blocks until it starts one, `check`
    /// runs the "done" checkpoint (build, tests and lint of the toolchains
    /// found) and blocks on its findings.
    #[serde(default)]
    pub on_stop: OnStop,
    /// Blocks of one conversation's stops after which its session is
    /// escalated to a human instead of blocking again.
    #[serde(default = "default_max_blocks")]
    pub max_blocks: u32,
    /// What a hook answers when it cannot do its work (no state, a locked
    /// store, a broken config): `block` (the default) or `allow`, each with
    /// a message that says what failed.
    #[serde(default)]
    pub on_error: OnError,
}

impl Default for Enforce {
    fn default() -> Self {
        Enforce {
            on_stop: OnStop::default(),
            max_blocks: default_max_blocks(),
            on_error: OnError::default(),
        }
    }
}

impl Enforce {
    fn is_default(&self) -> bool {
        *self == Enforce::default()
    }
}

fn default_max_blocks() -> u32 {
    5
}

/// The stop hook's policy for a conversation without a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnStop {
    /// Let it stop.
    #[default]
    Off,
    /// Block until it starts a session with `workflow_start`.
    RequireSession,
    /// Run the "done" checkpoint and block on its findings.
    Check,
}

/// What a hook answers when it cannot work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Block, saying what failed.
    #[default]
    Block,
    /// Allow, saying what failed.
    Allow,
}

/// Old sessions and cached outcomes to remove. Everything is kept unless a
/// limit is set; a deleted session leaves an audit entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Completed or abandoned sessions unchanged for this many days are
    /// deleted (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_days: Option<u32>,
    /// Cached outcomes stored more than this many days ago are dropped (at
    /// least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_days: Option<u32>,
    /// The outcome cache is kept under this many MiB, oldest entries out
    /// first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_max_mb: Option<u64>,
}

impl Retention {
    fn is_default(&self) -> bool {
        *self == Retention::default()
    }

    /// Problems with the limits, each naming the key and the fix.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("sessions_days", self.sessions_days),
            ("cache_days", self.cache_days),
        ] {
            if value == Some(0) {
                problems.push(format!(
                    "[retention] {key} = 0 would delete at once; give at least 1 day, or remove the key to keep everything"
                ));
            }
        }
        problems
    }
}

/// How the rules of one checkpoint run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Most rules of one checkpoint running at once; absent or 0 means the
    /// number of cores, 1 runs them one after another. Rules that run the
    /// same program in the same directory wait for each other regardless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<usize>,
    /// Most checkpoints one server runs at once, across sessions, whether
    /// their requests wait or not (`wait: false` checks beyond it queue);
    /// absent or 0 means the number of cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_running: Option<usize>,
}

impl Checks {
    /// [`Checks::max_running`] as a number of slots.
    pub fn max_running(&self) -> usize {
        match self.max_running {
            Some(n) if n > 0 => n,
            _ => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        }
    }
}

impl Checks {
    fn is_default(&self) -> bool {
        *self == Checks::default()
    }
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
    /// The web dashboard, signed in with the password a human set at a
    /// terminal (`checkrail dashboard --set-password`).
    Dashboard,
}

impl ApprovalChannel {
    /// Name as recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalChannel::Terminal => "terminal",
            ApprovalChannel::Elicitation => "elicitation",
            ApprovalChannel::Dashboard => "dashboard",
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

impl WorkspaceConfig {
    /// Reads `<workspace>/checkrail.toml`, or the defaults when it is absent.
    pub fn load(workspace: &Path) -> Result<Self> {
        let path = workspace.join(FILE);
        let error = |source: ConfigError| Error::Config {
            path: path.clone(),
            source: Box::new(source),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(error(ConfigError::Read(e))),
        };
        let config: Self = toml::from_str(&text).map_err(|e| error(ConfigError::Parse(e)))?;
        for (index, key) in config.trust.keys.iter().enumerate() {
            crate::pack::PublicKey::parse(key)
                .map_err(|source| error(ConfigError::TrustKey { index, source }))?;
        }
        config
            .exec
            .validate()
            .map_err(|e| error(ConfigError::Field(e)))?;
        if let Some(problem) = config.retention.problems().into_iter().next() {
            return Err(error(ConfigError::Field(problem)));
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
        let err = crate::error::chain(&WorkspaceConfig::load(dir.path()).unwrap_err());
        assert!(err.contains("unknown field `alow`"), "{err}");
        std::fs::write(dir.path().join(FILE), "[exec]\nallow = [\"/bin/sh\"]\n").unwrap();
        assert!(
            crate::error::chain(&WorkspaceConfig::load(dir.path()).unwrap_err())
                .contains("not a program name")
        );
    }

    #[test]
    fn bad_rule_grant_tables_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for (text, expected) in [
            (
                "[exec.rules.\"a/b/c\"]\nallow = [\"git\"]\n",
                r#"[exec.rules."a/b/c"]: name rules as"#,
            ),
            (
                "[exec.rules.\"p/*\"]\nallow = [\"./x\"]\n",
                r#"[exec.rules."p/*"] allow: `./x` is not a program name"#,
            ),
            (
                "[exec]\nunchecked_args = [\"/usr/bin/git\"]\n",
                "[exec] unchecked_args: `/usr/bin/git`",
            ),
            (
                "[exec.rules.\"p/*\"]\nalow = [\"git\"]\n",
                "unknown field `alow`",
            ),
        ] {
            std::fs::write(dir.path().join(FILE), text).unwrap();
            let err = crate::error::chain(&WorkspaceConfig::load(dir.path()).unwrap_err());
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
