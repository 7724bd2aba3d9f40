//! What a rule declares it may ask the host for. On the wire (the WIT's
//! `capabilities: list<string>`, a rule's `CAPABILITIES`, a pack manifest)
//! a capability is a string; the host parses it once, where a rule's
//! description enters it, and works with a [`Capability`] from there on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One capability a rule declares. Declaring is one key; the workspace's
/// grant is the other, and nothing runs without both.
///
/// ```
/// use checkrail_sandbox::{Capability, Program};
///
/// let cargo: Capability = "exec:cargo".parse().unwrap();
/// assert_eq!(cargo, Capability::exec("cargo"));
/// assert_eq!("exec:*".parse::<Capability>().unwrap(), Capability::Exec(Program::Any));
/// assert_eq!(cargo.to_string(), "exec:cargo");
/// assert!("net:example.com".parse::<Capability>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Capability {
    /// `exec:<program>`: the rule may ask the host to run `program`
    /// (`exec:*`: any program the workspace grants, for a rule whose
    /// command comes from its config).
    Exec(Program),
}

/// The program an `exec` capability names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Program {
    /// `*`: whichever program the workspace grants.
    Any,
    /// A program name such as `cargo`, found on PATH.
    Named(String),
}

impl Program {
    /// Whether this covers running `program`.
    pub fn covers(&self, program: &str) -> bool {
        match self {
            Program::Any => true,
            Program::Named(name) => name == program,
        }
    }

    /// The program's name; `None` for [`Program::Any`].
    pub fn name(&self) -> Option<&str> {
        match self {
            Program::Any => None,
            Program::Named(name) => Some(name),
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().unwrap_or("*"))
    }
}

/// Whether `name` can be looked up on PATH: not empty, not a path. The
/// same test applies to what a rule declares, what the workspace grants
/// and what a rule asks to run.
pub fn is_program_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\'])
}

impl Capability {
    /// `exec:<program>`.
    pub fn exec(program: impl Into<String>) -> Self {
        Capability::Exec(Program::Named(program.into()))
    }

    /// The program this capability lets the rule ask for, if it is one
    /// that runs programs.
    pub fn program(&self) -> Option<&Program> {
        match self {
            Capability::Exec(program) => Some(program),
        }
    }

    /// Parses every capability of `texts`, failing at the first one that is
    /// not a capability.
    pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Self>, CapabilityError> {
        texts.iter().map(|text| text.as_ref().parse()).collect()
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Exec(program) => write!(f, "exec:{program}"),
        }
    }
}

/// A capability string checkrail does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the capability `{text}`, which {why}; a rule may declare `exec:<program>` (a program name such as `cargo`) or `exec:*`"
)]
pub struct CapabilityError {
    /// The capability as declared.
    pub text: String,
    /// What is wrong with it, as a fragment after "which".
    pub why: &'static str,
}

impl FromStr for Capability {
    type Err = CapabilityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = |why| CapabilityError {
            text: text.to_owned(),
            why,
        };
        let Some(program) = text.strip_prefix("exec:") else {
            return Err(refuse("checkrail does not know"));
        };
        match program {
            "*" => Ok(Capability::Exec(Program::Any)),
            name if is_program_name(name) => Ok(Capability::exec(name)),
            _ => Err(refuse("does not name a program")),
        }
    }
}

impl TryFrom<String> for Capability {
    type Error = CapabilityError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Capability> for String {
    fn from(capability: Capability) -> Self {
        capability.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints() {
        for text in ["exec:cargo", "exec:*", "exec:python3", "exec:a`b"] {
            let capability: Capability = text.parse().unwrap();
            assert_eq!(capability.to_string(), text);
        }
        assert!(Capability::exec("git").program().unwrap().covers("git"));
        assert!(!Capability::exec("git").program().unwrap().covers("sh"));
        assert!(
            Capability::Exec(Program::Any)
                .program()
                .unwrap()
                .covers("sh")
        );
    }

    #[test]
    fn refusals_name_the_string_and_what_is_accepted() {
        let error = "net:example.com".parse::<Capability>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "the capability `net:example.com`, which checkrail does not know; a rule may declare `exec:<program>` (a program name such as `cargo`) or `exec:*`"
        );
        for text in ["exec:", "exec:/bin/sh", "exec:..\\sh"] {
            let error = text.parse::<Capability>().unwrap_err();
            assert!(
                error.to_string().starts_with(&format!(
                    "the capability `{text}`, which does not name a program;"
                )),
                "{error}"
            );
        }
        assert!("EXEC:cargo".parse::<Capability>().is_err());
    }

    #[test]
    fn travels_as_its_string() {
        let capabilities = vec![Capability::exec("cargo"), Capability::Exec(Program::Any)];
        let json = serde_json::to_string(&capabilities).unwrap();
        assert_eq!(json, r#"["exec:cargo","exec:*"]"#);
        assert_eq!(
            serde_json::from_str::<Vec<Capability>>(&json).unwrap(),
            capabilities
        );
        let error = serde_json::from_str::<Vec<Capability>>(r#"["net:x"]"#).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`net:x`, which checkrail does not know"),
            "{error}"
        );
    }
}
