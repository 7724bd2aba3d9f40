//! The one owner of "may this rule run X?": a rule's declared capabilities
//! read against the workspace's `[exec]` grants. `checkrail.toml` only
//! stores the tables ([`ExecGrants`]); the runtime (the policy a check runs
//! under), the outcome cache (which toolchains a result depends on) and
//! pack install (whether a pack's rules are granted what they declare) all
//! ask a [`Granter`].
//!
//! `[exec]` itself applies to the bundled rules only; a pack's rules need
//! `[exec.rules."pack/*"]` or `[exec.rules."pack/rule"]`, and a component
//! from `--rules-dir` its own `[exec.rules."rule-id"]`, so installing a pack
//! never hands it what was granted to the tools checkrail ships.

use checkrail_sandbox::exec::ExecPolicy;
use checkrail_sandbox::{Capability, Program};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Answers what the workspace grants a rule. A rule is named by its id and
/// its pack: `core` for the bundled rules, an installed pack's name, or
/// `None` for a component loaded from `--rules-dir`.
#[derive(Debug, Clone, Copy)]
pub struct Granter<'a> {
    grants: &'a ExecGrants,
}

/// What one rule is granted, gathered from every table that applies to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Programs it may run.
    pub programs: Vec<String>,
    /// Programs whose arguments are not screened for it.
    pub unchecked_args: Vec<String>,
    /// The table to add a grant to, for messages: `[exec]` for the bundled
    /// rules, else the rule's own `[exec.rules."…"]`.
    pub table: String,
    /// Whether the rule is one of the bundled (`core`) rules.
    pub bundled: bool,
}

impl<'a> Granter<'a> {
    /// A granter answering from `grants`.
    pub fn new(grants: &'a ExecGrants) -> Self {
        Self { grants }
    }

    /// Everything granted to the rule `rule` from `pack`.
    pub fn scope(&self, rule: &str, pack: Option<&str>) -> Scope {
        let bundled = pack == Some(CORE_PACK);
        let keys: Vec<String> = match pack {
            Some(pack) => vec![format!("{pack}/*"), format!("{pack}/{rule}")],
            None => vec![rule.to_owned()],
        };
        let mut programs = Vec::new();
        let mut unchecked_args = Vec::new();
        if bundled {
            programs.extend(self.grants.allow.iter().cloned());
            unchecked_args.extend(self.grants.unchecked_args.iter().cloned());
        }
        for grant in keys.iter().filter_map(|key| self.grants.rules.get(key)) {
            programs.extend(grant.allow.iter().cloned());
            unchecked_args.extend(grant.unchecked_args.iter().cloned());
        }
        programs.sort();
        programs.dedup();
        unchecked_args.sort();
        unchecked_args.dedup();
        let table = if bundled {
            "[exec]".to_owned()
        } else {
            format!("[exec.rules.\"{}\"]", keys[keys.len() - 1])
        };
        Scope {
            programs,
            unchecked_args,
            table,
            bundled,
        }
    }

    /// The capabilities among `declared` that the rule `rule` from `pack`
    /// is not granted. `exec:*` names no program, so there is nothing to
    /// grant up front: each program it runs must still be granted.
    pub fn missing<'c>(
        &self,
        rule: &str,
        pack: Option<&str>,
        declared: &'c [Capability],
    ) -> Vec<&'c Capability> {
        let granted = self.scope(rule, pack).programs;
        declared
            .iter()
            .filter(|capability| match capability.program() {
                Some(Program::Named(program)) => !granted.contains(program),
                Some(Program::Any) | None => false,
            })
            .collect()
    }

    /// The policy a check of the rule `rule` from `pack`, which declares
    /// `declared`, runs its programs under.
    pub fn policy(&self, rule: &str, pack: Option<&str>, declared: &[Capability]) -> ExecPolicy {
        let scope = self.scope(rule, pack);
        let mut policy = ExecPolicy::for_rule(rule, declared);
        policy.granted = scope.programs;
        policy.unchecked_args = scope.unchecked_args;
        policy.grant_table = scope.table;
        // Python's `-c`: the bundled compile rule checks syntax with a
        // script of its own; no other rule needs inline code.
        policy.inline_code = scope.bundled;
        policy.env = self.grants.env.clone();
        policy.max_timeout = std::time::Duration::from_millis(self.grants.timeout_ms);
        policy.max_output = self.grants.max_output_bytes;
        policy
    }

    /// The policy under which the host itself runs `program` (to ask its
    /// version): as a granted program runs, with the workspace's variables.
    pub fn host_policy(&self, program: &str) -> ExecPolicy {
        let mut policy =
            ExecPolicy::for_rule("toolchain identity", &[Capability::Exec(Program::Any)]);
        policy.granted = vec![program.to_owned()];
        policy.env = self.grants.env.clone();
        policy
    }

    /// Every program granted to any rule that `declared` covers, sorted.
    /// The outcome cache records the versions of these, so a toolchain
    /// change invalidates results whichever table granted it.
    pub fn toolchain_programs(&self, declared: &[Capability]) -> Vec<&'a str> {
        let covered = |program: &str| {
            declared
                .iter()
                .filter_map(Capability::program)
                .any(|p| p.covers(program))
        };
        let mut programs: Vec<&str> = self
            .grants
            .allow
            .iter()
            .chain(self.grants.rules.values().flat_map(|grant| &grant.allow))
            .map(String::as_str)
            .filter(|program| covered(program))
            .collect();
        programs.sort_unstable();
        programs.dedup();
        programs
    }

    /// The extra environment variables granted programs receive.
    pub fn env(&self) -> &'a [String] {
        &self.grants.env
    }
}

/// What rules may run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecGrants {
    /// Program names the bundled (`core`) rules may run.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Programs whose arguments are not screened when the bundled rules run
    /// them (by default checkrail refuses the arguments that make cargo, git,
    /// python, npm/npx or go run any other program).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked_args: Vec<String>,
    /// Grants to rules outside the bundled set, keyed by `pack/*` (every
    /// rule of an installed pack), `pack/rule` (one of them) or a bare rule
    /// id (a component from `--rules-dir`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, RuleGrant>,
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

/// Programs granted to the rules one `[exec.rules."…"]` table names (what
/// applies to which rule is [`crate::grants::Granter`]'s to say).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGrant {
    /// Program names these rules may run.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Programs whose arguments are not screened for these rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked_args: Vec<String>,
}

impl ExecGrants {
    /// Checks program names and `rules` keys, naming the field at fault.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let program_names = |table: &str, field: &str, names: &[String]| {
            for program in names {
                if !checkrail_sandbox::is_program_name(program) {
                    return Err(format!(
                        "{table} {field}: `{program}` is not a program name; list names such as \"cargo\", found on PATH"
                    ));
                }
            }
            Ok(())
        };
        program_names("[exec]", "allow", &self.allow)?;
        program_names("[exec]", "unchecked_args", &self.unchecked_args)?;
        for (key, grant) in &self.rules {
            let table = format!("[exec.rules.\"{key}\"]");
            let well_formed = match key.split_once('/') {
                Some((pack, rule)) => !pack.is_empty() && !rule.is_empty() && !rule.contains('/'),
                None => !key.is_empty() && key != "*",
            };
            if !well_formed {
                return Err(format!(
                    "{table}: name rules as \"pack/*\", \"pack/rule-id\" or (for --rules-dir components) \"rule-id\""
                ));
            }
            program_names(&table, "allow", &grant.allow)?;
            program_names(&table, "unchecked_args", &grant.unchecked_args)?;
        }
        Ok(())
    }
}

/// The pack name of the bundled rules.
pub const CORE_PACK: &str = "core";

impl Default for ExecGrants {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            unchecked_args: Vec::new(),
            rules: BTreeMap::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> ExecGrants {
        toml::from_str(
            r#"
allow = ["cargo"]
unchecked_args = ["cargo"]
[rules."team-rules/*"]
allow = ["git"]
[rules."team-rules/has-changelog"]
allow = ["python3", "git"]
unchecked_args = ["python3"]
[rules."my-rule"]
allow = ["sh"]
"#,
        )
        .unwrap()
    }

    #[test]
    fn exec_allow_is_for_the_bundled_rules_and_packs_need_their_own_table() {
        let grants = grants();
        let granter = Granter::new(&grants);
        let core = granter.scope("compile", Some(CORE_PACK));
        assert_eq!(core.programs, ["cargo"]);
        assert_eq!(core.unchecked_args, ["cargo"]);
        assert_eq!(core.table, "[exec]");
        assert!(core.bundled);
        // A pack rule gets nothing from `[exec] allow`.
        let other = granter.scope("lint", Some("team-rules"));
        assert_eq!(other.programs, ["git"]);
        assert!(other.unchecked_args.is_empty() && !other.bundled);
        assert_eq!(other.table, r#"[exec.rules."team-rules/lint"]"#);
        assert_eq!(
            granter.scope("has-changelog", Some("team-rules")).programs,
            ["git", "python3"]
        );
        assert_eq!(
            granter
                .scope("has-changelog", Some("team-rules"))
                .unchecked_args,
            ["python3"]
        );
        assert!(granter.scope("compile", Some("evil")).programs.is_empty());
        // A --rules-dir component is granted by its id alone.
        assert_eq!(granter.scope("my-rule", None).programs, ["sh"]);
        assert!(granter.scope("compile", None).programs.is_empty());
        assert_eq!(
            granter.scope("other", None).table,
            r#"[exec.rules."other"]"#
        );
    }

    #[test]
    fn missing_grants_are_the_named_programs_outside_the_rules_scope() {
        let grants = grants();
        let granter = Granter::new(&grants);
        let declared = [
            Capability::exec("git"),
            Capability::exec("cargo"),
            Capability::Exec(Program::Any),
        ];
        assert_eq!(
            granter.missing("lint", Some("team-rules"), &declared),
            [&Capability::exec("cargo")]
        );
        assert!(
            granter
                .missing("compile", Some(CORE_PACK), &declared[1..])
                .is_empty()
        );
    }

    #[test]
    fn a_policy_carries_both_keys_and_the_table_to_name() {
        let grants = grants();
        let granter = Granter::new(&grants);
        let policy = granter.policy("lint", Some("team-rules"), &[Capability::exec("git")]);
        assert_eq!(policy.declared, [Program::Named("git".to_owned())]);
        assert_eq!(policy.granted, ["git"]);
        assert_eq!(policy.grant_table, r#"[exec.rules."team-rules/lint"]"#);
        assert!(!policy.inline_code);
        assert_eq!(policy.max_timeout, std::time::Duration::from_secs(600));
        assert!(granter.policy("compile", Some(CORE_PACK), &[]).inline_code);
    }

    #[test]
    fn toolchains_are_the_granted_programs_a_rule_declares() {
        let grants = grants();
        let granter = Granter::new(&grants);
        assert_eq!(
            granter.toolchain_programs(&[Capability::exec("git"), Capability::exec("npm")]),
            ["git"]
        );
        assert_eq!(
            granter.toolchain_programs(&[Capability::Exec(Program::Any)]),
            ["cargo", "git", "python3", "sh"]
        );
        assert!(granter.toolchain_programs(&[]).is_empty());
    }
}
