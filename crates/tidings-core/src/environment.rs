//! Environments: the unit of data isolation.
//!
//! Every subscriber, message and workflow belongs to exactly one environment,
//! and every API key opens exactly one. Names are short lowercase slugs so
//! they can appear inside keys and binding names.

use core::fmt;

/// Why a string is not an environment name or type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvironmentError {
    /// The name is empty or longer than [`EnvironmentName::MAX_LEN`].
    #[error("environment name must be 1 to {max} characters long", max = EnvironmentName::MAX_LEN)]
    NameLength,
    /// The name has characters outside `a-z`, `0-9` and `-`, or starts or
    /// ends with `-`.
    #[error("environment name may only contain a-z, 0-9 and inner hyphens")]
    NameCharacters,
    /// The type is not one of the known environment types.
    #[error("unknown environment type {0:?}; expected development, staging or production")]
    UnknownType(String),
}

/// A validated environment name such as `development` or `preview-42`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvironmentName(String);

impl EnvironmentName {
    /// The longest accepted name, in bytes.
    pub const MAX_LEN: usize = 32;

    /// Checks `name` and wraps it.
    pub fn parse(name: &str) -> Result<Self, EnvironmentError> {
        if name.is_empty() || name.len() > Self::MAX_LEN {
            return Err(EnvironmentError::NameLength);
        }
        let allowed = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-';
        if !name.bytes().all(allowed) || name.starts_with('-') || name.ends_with('-') {
            return Err(EnvironmentError::NameCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The suffix of this environment's binding names: `preview-42` gives
    /// `PREVIEW_42`, so its bindings are `KV_PREVIEW_42` and `DB_PREVIEW_42`.
    pub fn binding_suffix(&self) -> String {
        self.0.to_ascii_uppercase().replace('-', "_")
    }
}

impl fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an environment is for; decides its defaults (credential requirement,
/// whether content may be edited in place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvironmentType {
    /// Where notifications are built. Subscriber credentials are optional.
    Development,
    /// Where notifications are tested before production.
    Staging,
    /// What real users see.
    Production,
}

impl EnvironmentType {
    /// The type's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Result<Self, EnvironmentError> {
        match text {
            "development" => Ok(Self::Development),
            "staging" => Ok(Self::Staging),
            "production" => Ok(Self::Production),
            other => Err(EnvironmentError::UnknownType(other.to_owned())),
        }
    }

    /// Whether feed requests need a subscriber credential unless the
    /// environment's settings say otherwise.
    pub fn requires_subscriber_credential_by_default(self) -> bool {
        self != Self::Development
    }
}

/// The environments every installation starts with, in promotion order.
pub const DEFAULT_ENVIRONMENTS: [(&str, EnvironmentType); 3] = [
    ("development", EnvironmentType::Development),
    ("staging", EnvironmentType::Staging),
    ("production", EnvironmentType::Production),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_slugs() {
        for name in ["development", "qa", "preview-42", "a"] {
            assert_eq!(EnvironmentName::parse(name).map(|n| n.to_string()), Ok(name.to_owned()));
        }
    }

    #[test]
    fn refuses_other_names() {
        assert_eq!(EnvironmentName::parse(""), Err(EnvironmentError::NameLength));
        assert_eq!(EnvironmentName::parse(&"a".repeat(33)), Err(EnvironmentError::NameLength));
        for name in ["Prod", "dev_1", "-qa", "qa-", "q a", "é"] {
            assert_eq!(EnvironmentName::parse(name), Err(EnvironmentError::NameCharacters), "{name}");
        }
    }

    #[test]
    fn binding_suffix_is_upper_snake() {
        let name = EnvironmentName::parse("preview-42").unwrap();
        assert_eq!(name.binding_suffix(), "PREVIEW_42");
    }

    #[test]
    fn only_development_skips_credentials_by_default() {
        assert!(!EnvironmentType::Development.requires_subscriber_credential_by_default());
        assert!(EnvironmentType::Staging.requires_subscriber_credential_by_default());
        assert!(EnvironmentType::Production.requires_subscriber_credential_by_default());
    }
}
