//! An environment's lifecycle and its place in the promotion chain.

use crate::environment::{EnvironmentError, EnvironmentName, EnvironmentType};

/// Names that cannot be environments: `current` is a route
/// (`/v1/environments/current`), and `control` would take the bindings
/// `DB_CONTROL`/`KV_CONTROL`, the control plane's own database.
pub const RESERVED_NAMES: [&str; 2] = ["current", "control"];
/// Environments that exist in every installation and cannot be deleted.
pub const PROTECTED_NAMES: [&str; 2] = ["development", "production"];

/// Where an environment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Registered; waiting for its database and KV bindings and its schema.
    Creating,
    /// Provisioned and migrated; no key issued yet.
    Ready,
    /// Has keys and serves requests.
    Active,
    /// Provisioning failed; the reason is recorded.
    Failed,
    /// Being deleted: keys revoked, data being removed.
    Deleting,
    /// Deleted: keys revoked and data removed; kept so old keys get `key_revoked`.
    Deleted,
}

impl Status {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Ready => "ready",
            Self::Active => "active",
            Self::Failed => "failed",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Creating, Self::Ready, Self::Active, Self::Failed, Self::Deleting, Self::Deleted]
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether keys may be issued: the environment is provisioned.
    pub fn accepts_new_keys(self) -> bool {
        matches!(self, Self::Ready | Self::Active)
    }

    /// Whether provisioning is still being checked.
    pub fn is_provisioning(self) -> bool {
        matches!(self, Self::Creating | Self::Failed)
    }
}

/// Why an environment cannot be created or deleted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The name is invalid.
    #[error("{0}")]
    Name(EnvironmentError),
    /// The name is used by a route or by the control plane's bindings.
    #[error("{0:?} is reserved and cannot name an environment")]
    Reserved(String),
    /// An environment with this name exists.
    #[error("an environment named {0} already exists")]
    Exists(String),
    /// `after` names no environment.
    #[error("after names no environment: {0}")]
    UnknownAfter(String),
    /// The new environment would come after a production environment.
    #[error("environments are placed before production in the promotion chain")]
    AfterProduction,
    /// `development` and `production` are permanent.
    #[error("the {0} environment cannot be deleted")]
    Protected(String),
}

/// An environment in the chain: name, type and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    /// Its name.
    pub name: String,
    /// Its type.
    pub environment_type: EnvironmentType,
    /// Its position; 0 is first.
    pub position: u32,
}

/// A chain of the given environments, in this order (positions 0, 1, …).
pub fn chain_of(environments: &[(&str, EnvironmentType)]) -> Vec<ChainEntry> {
    environments
        .iter()
        .zip(0..)
        .map(|((name, environment_type), position)| ChainEntry {
            name: (*name).to_owned(),
            environment_type: *environment_type,
            position,
        })
        .collect()
}

/// Checks a new environment's name against the reserved names and `chain`.
pub fn validate_new_name(name: &str, chain: &[ChainEntry]) -> Result<EnvironmentName, LifecycleError> {
    let parsed = EnvironmentName::parse(name).map_err(LifecycleError::Name)?;
    if RESERVED_NAMES.contains(&name) {
        return Err(LifecycleError::Reserved(name.to_owned()));
    }
    if chain.iter().any(|entry| entry.name == name) {
        return Err(LifecycleError::Exists(name.to_owned()));
    }
    Ok(parsed)
}

/// The position of a new environment placed right after `after`, or by
/// default right before the first production environment. Entries at or
/// past the returned position move one place down.
pub fn insert_position(chain: &[ChainEntry], after: Option<&str>) -> Result<u32, LifecycleError> {
    let first_production = chain
        .iter()
        .filter(|entry| entry.environment_type == EnvironmentType::Production)
        .map(|entry| entry.position)
        .min();
    match after {
        Some(name) => {
            let entry = chain
                .iter()
                .find(|entry| entry.name == name)
                .ok_or_else(|| LifecycleError::UnknownAfter(name.to_owned()))?;
            if first_production.is_some_and(|production| entry.position >= production) {
                return Err(LifecycleError::AfterProduction);
            }
            Ok(entry.position + 1)
        }
        None => Ok(first_production.unwrap_or_else(|| chain.iter().map(|entry| entry.position + 1).max().unwrap_or(0))),
    }
}

/// Checks that an environment may be deleted.
pub fn check_deletable(name: &str) -> Result<(), LifecycleError> {
    if PROTECTED_NAMES.contains(&name) {
        Err(LifecycleError::Protected(name.to_owned()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Vec<ChainEntry> {
        chain_of(&[
            ("development", EnvironmentType::Development),
            ("staging", EnvironmentType::Staging),
            ("production", EnvironmentType::Production),
        ])
    }

    #[test]
    fn statuses_round_trip() {
        for name in ["creating", "ready", "active", "failed", "deleting", "deleted"] {
            assert_eq!(Status::parse(name).map(Status::as_str), Some(name));
        }
        assert!(Status::Ready.accepts_new_keys() && !Status::Creating.accepts_new_keys());
        assert!(!Status::Deleted.accepts_new_keys());
    }

    #[test]
    fn new_names() {
        assert!(validate_new_name("qa", &chain()).is_ok());
        assert_eq!(validate_new_name("staging", &chain()), Err(LifecycleError::Exists("staging".to_owned())));
        assert_eq!(validate_new_name("current", &chain()), Err(LifecycleError::Reserved("current".to_owned())));
        assert_eq!(validate_new_name("control", &chain()), Err(LifecycleError::Reserved("control".to_owned())));
        assert!(matches!(validate_new_name("Q A", &chain()), Err(LifecycleError::Name(_))));
    }

    #[test]
    fn positions_stay_before_production() {
        assert_eq!(insert_position(&chain(), None), Ok(2));
        assert_eq!(insert_position(&chain(), Some("development")), Ok(1));
        assert_eq!(insert_position(&chain(), Some("staging")), Ok(2));
        assert_eq!(insert_position(&chain(), Some("production")), Err(LifecycleError::AfterProduction));
        assert_eq!(insert_position(&chain(), Some("nope")), Err(LifecycleError::UnknownAfter("nope".to_owned())));
        assert_eq!(insert_position(&chain()[..2], None), Ok(2));
        assert_eq!(insert_position(&[], None), Ok(0));
    }

    #[test]
    fn protected_environments() {
        assert!(check_deletable("development").is_err());
        assert!(check_deletable("production").is_err());
        assert_eq!(check_deletable("staging"), Ok(()));
    }
}
