//! Rule references: `id`, `id@<semver requirement>`, `pack/id@<requirement>`.

use std::fmt;

/// A parsed rule reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// Pack name; `None` means the bundled `core` pack.
    pub pack: Option<String>,
    /// Rule id.
    pub id: String,
    /// Version requirement; `*` when not given.
    pub requirement: semver::VersionReq,
}

impl RuleRef {
    /// Parses a reference, explaining what is wrong with a bad one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, requirement) = match text.split_once('@') {
            Some((name, req)) => (
                name,
                semver::VersionReq::parse(req).map_err(|e| {
                    format!("`{req}` is not a semver requirement ({e}); write e.g. `@^0.1`")
                })?,
            ),
            None => (text, semver::VersionReq::STAR),
        };
        let (pack, id) = match name.split_once('/') {
            Some((pack, id)) => (Some(pack.to_owned()), id),
            None => (None, name),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.starts_with(|c: char| c.is_ascii_lowercase())
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !valid(id) || pack.as_deref().is_some_and(|p| !valid(p)) {
            return Err("rule ids and pack names are lowercase letters, digits and `-`".to_owned());
        }
        Ok(Self {
            pack: pack.filter(|p| p != "core"),
            id: id.to_owned(),
            requirement,
        })
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pack) = &self.pack {
            write!(f, "{pack}/")?;
        }
        write!(f, "{}", self.id)?;
        if self.requirement != semver::VersionReq::STAR {
            write!(f, "@{}", self.requirement)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let r = RuleRef::parse("file-exists").unwrap();
        assert_eq!((r.pack, r.id.as_str()), (None, "file-exists"));
        let r = RuleRef::parse("core/file-exists@^0.1").unwrap();
        assert_eq!(r.pack, None);
        assert!(r.requirement.matches(&semver::Version::new(0, 1, 3)));
        assert!(!r.requirement.matches(&semver::Version::new(0, 2, 0)));
        assert_eq!(
            RuleRef::parse("team/lint@1").unwrap().pack.as_deref(),
            Some("team")
        );
        assert!(
            RuleRef::parse("x@banana")
                .unwrap_err()
                .contains("not a semver requirement")
        );
        assert!(RuleRef::parse("Bad_Id").is_err());
    }
}
