//! Which environments one deployment of the worker serves.
//!
//! By default one deployment serves every environment. With wrangler's
//! `[env.*]` sections each environment can have a deployment of its own
//! (its own worker name, hostname, version and rollout); the variable
//! `TIDINGS_ENVIRONMENTS` then names the environments whose API keys that
//! deployment answers, so a staging key sent to production's deployment is
//! refused before any storage is read.

use crate::environment::{EnvironmentError, EnvironmentName};

/// Why a `TIDINGS_ENVIRONMENTS` setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeploymentError {
    /// One of the listed names is not an environment name.
    #[error("TIDINGS_ENVIRONMENTS lists {name:?}, which is not an environment name: {source}")]
    Name {
        /// The listed text.
        name: String,
        /// What is wrong with it.
        source: EnvironmentError,
    },
    /// `TIDINGS_D1_READ_REPLICATION` is neither `auto` nor `disabled`.
    #[error("TIDINGS_D1_READ_REPLICATION is {value:?}; set it to \"auto\" or \"disabled\"")]
    ReadReplication {
        /// The setting's text.
        value: String,
    },
}

/// Whether a deployment reads its feeds through D1's Sessions API, so
/// that reads may be served by read replicas (`TIDINGS_D1_READ_REPLICATION`,
/// named after D1's own replication modes).
///
/// Read replication is a setting of each D1 database, off until it is
/// turned on. Without it every query runs on the primary, and a session
/// only adds work: a bookmark to compute and carry per query. So a
/// deployment uses sessions only when told its databases replicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadReplication {
    /// No sessions: every feed statement runs on the primary, and answers
    /// carry no bookmark. A client's bookmark is checked and needs nothing
    /// more: the primary is as new as any bookmark. The default.
    #[default]
    Disabled,
    /// Feed reads start a session at the client's bookmark (or anywhere
    /// without one), writes at the primary, and answers carry the
    /// session's bookmark.
    Auto,
}

impl ReadReplication {
    /// Reads the setting: `auto` or `disabled` (any case, blanks around),
    /// nothing meaning `disabled`.
    pub fn parse(setting: Option<&str>) -> Result<Self, DeploymentError> {
        match setting.map(str::trim) {
            None | Some("") => Ok(Self::Disabled),
            Some(value) if value.eq_ignore_ascii_case("disabled") => Ok(Self::Disabled),
            Some(value) if value.eq_ignore_ascii_case("auto") => Ok(Self::Auto),
            Some(value) => Err(DeploymentError::ReadReplication { value: value.to_owned() }),
        }
    }

    /// Whether feed statements go through a session.
    pub const fn uses_sessions(self) -> bool {
        matches!(self, Self::Auto)
    }
}

/// The environments a deployment answers API keys for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServedEnvironments {
    /// Every environment (no `TIDINGS_ENVIRONMENTS`, or an empty one).
    All,
    /// Only these, in the order listed.
    Only(Vec<EnvironmentName>),
}

impl ServedEnvironments {
    /// Reads a comma-separated list such as `"production"` or
    /// `"staging, qa"`; nothing (or only blanks) means every environment.
    pub fn parse(setting: Option<&str>) -> Result<Self, DeploymentError> {
        let names: Vec<&str> =
            setting.unwrap_or("").split(',').map(str::trim).filter(|name| !name.is_empty()).collect();
        if names.is_empty() {
            return Ok(Self::All);
        }
        names
            .into_iter()
            .map(|name| {
                EnvironmentName::parse(name).map_err(|source| DeploymentError::Name { name: name.to_owned(), source })
            })
            .collect::<Result<_, _>>()
            .map(Self::Only)
    }

    /// Whether API keys of `environment` are answered here.
    pub fn serves(&self, environment: &EnvironmentName) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.contains(environment),
        }
    }

    /// The served environments in words, for error messages: `production`,
    /// `staging and qa`, `every environment`.
    pub fn describe(&self) -> String {
        match self {
            Self::All => "every environment".to_owned(),
            Self::Only(names) => match names.split_last() {
                Some((last, [])) => last.to_string(),
                Some((last, rest)) => {
                    let rest: Vec<&str> = rest.iter().map(EnvironmentName::as_str).collect();
                    format!("{} and {last}", rest.join(", "))
                }
                None => "no environment".to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn read_replication_is_off_unless_set_to_auto() {
        use super::ReadReplication;
        for unset in [None, Some(""), Some("  "), Some("disabled"), Some(" Disabled ")] {
            assert_eq!(ReadReplication::parse(unset), Ok(ReadReplication::Disabled), "{unset:?}");
        }
        for auto in [Some("auto"), Some(" AUTO ")] {
            assert_eq!(ReadReplication::parse(auto), Ok(ReadReplication::Auto), "{auto:?}");
        }
        assert!(ReadReplication::Auto.uses_sessions());
        assert!(!ReadReplication::Disabled.uses_sessions());
        for wrong in ["on", "true", "enabled", "auto,disabled"] {
            let error = ReadReplication::parse(Some(wrong)).unwrap_err();
            assert!(error.to_string().contains(wrong), "{error}");
        }
    }

    use super::*;

    fn name(text: &str) -> EnvironmentName {
        EnvironmentName::parse(text).unwrap()
    }

    #[test]
    fn nothing_set_serves_every_environment() {
        for setting in [None, Some(""), Some(" , ")] {
            let served = ServedEnvironments::parse(setting).unwrap();
            assert_eq!(served, ServedEnvironments::All);
            assert!(served.serves(&name("staging")));
        }
    }

    #[test]
    fn a_list_serves_only_its_environments() {
        let served = ServedEnvironments::parse(Some("production")).unwrap();
        assert!(served.serves(&name("production")));
        assert!(!served.serves(&name("staging")));
        assert_eq!(served.describe(), "production");
        let served = ServedEnvironments::parse(Some(" staging, qa ,preview-1")).unwrap();
        assert!(served.serves(&name("qa")));
        assert!(!served.serves(&name("production")));
        assert_eq!(served.describe(), "staging, qa and preview-1");
    }

    #[test]
    fn refuses_a_list_with_a_bad_name() {
        let error = ServedEnvironments::parse(Some("production, Staging")).unwrap_err();
        assert_eq!(error, DeploymentError::Name { name: "Staging".into(), source: EnvironmentError::NameCharacters });
        assert!(error.to_string().contains("\"Staging\""));
    }
}
