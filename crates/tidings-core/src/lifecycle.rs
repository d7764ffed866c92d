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
    /// Archived: keys refused (`environment_archived`), data kept until its
    /// purge date; a restore brings it back as it was.
    Archived,
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
            Self::Archived => "archived",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Creating, Self::Ready, Self::Active, Self::Failed, Self::Deleting, Self::Deleted, Self::Archived]
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
    /// `development` and `production` can be locked, never archived.
    #[error("the {0} environment cannot be archived; lock it to freeze its content")]
    ProtectedFromArchive(String),
    /// A lock needs a reason people can read.
    #[error("a lock needs a reason of 1 to {MAX_LOCK_REASON_CHARS} characters, without control characters")]
    LockReason,
    /// Archive retention out of bounds.
    #[error("retention_days must be between 1 and {MAX_ARCHIVE_RETENTION_DAYS}")]
    Retention,
    /// A preview's lifetime out of bounds.
    #[error(
        "a preview environment lives between {MIN_PREVIEW_TTL_SECONDS} seconds and {MAX_PREVIEW_TTL_SECONDS} seconds"
    )]
    PreviewTtl,
    /// A preview is made from a non-production environment of the chain, and is not production itself.
    #[error("{0}")]
    PreviewSource(String),
    /// Previews sit off the promotion chain: nothing is placed after one.
    #[error("{0} is a preview environment, off the promotion chain; nothing can be placed after it")]
    AfterPreview(String),
}

/// The longest lock reason, in characters.
pub const MAX_LOCK_REASON_CHARS: usize = 500;
/// How long an archived environment is kept before it is purged, by default.
pub const DEFAULT_ARCHIVE_RETENTION_DAYS: u32 = 30;
/// The longest an archived environment may be kept.
pub const MAX_ARCHIVE_RETENTION_DAYS: u32 = 365;
/// The shortest lifetime of a preview environment (ten minutes).
pub const MIN_PREVIEW_TTL_SECONDS: u64 = 600;
/// The longest lifetime of a preview environment (90 days).
pub const MAX_PREVIEW_TTL_SECONDS: u64 = 90 * 86_400;
/// Preview environments take positions from here on, off the promotion chain.
pub const PREVIEW_POSITIONS: u32 = 1_000_000;

/// Checks a lock's reason: trimmed, 1 to [`MAX_LOCK_REASON_CHARS`] characters, no control characters.
pub fn lock_reason(text: &str) -> Result<String, LifecycleError> {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > MAX_LOCK_REASON_CHARS || trimmed.chars().any(char::is_control) {
        return Err(LifecycleError::LockReason);
    }
    Ok(trimmed.to_owned())
}

/// Checks that an environment may be archived: `development` and `production` may not.
pub fn check_archivable(name: &str) -> Result<(), LifecycleError> {
    if PROTECTED_NAMES.contains(&name) {
        Err(LifecycleError::ProtectedFromArchive(name.to_owned()))
    } else {
        Ok(())
    }
}

/// When an environment archived at `archived_at_ms` and kept `retention_days`
/// (default [`DEFAULT_ARCHIVE_RETENTION_DAYS`]) is purged.
pub fn purge_at(archived_at_ms: u64, retention_days: Option<u32>) -> Result<u64, LifecycleError> {
    let days = retention_days.unwrap_or(DEFAULT_ARCHIVE_RETENTION_DAYS);
    if days == 0 || days > MAX_ARCHIVE_RETENTION_DAYS {
        return Err(LifecycleError::Retention);
    }
    Ok(archived_at_ms + u64::from(days) * 86_400_000)
}

/// When a preview created at `now_ms` with a lifetime of `ttl_seconds` expires.
pub fn preview_expiry(now_ms: u64, ttl_seconds: u64) -> Result<u64, LifecycleError> {
    if !(MIN_PREVIEW_TTL_SECONDS..=MAX_PREVIEW_TTL_SECONDS).contains(&ttl_seconds) {
        return Err(LifecycleError::PreviewTtl);
    }
    Ok(now_ms + ttl_seconds * 1000)
}

/// Checks a new preview environment: made from `from`, an environment of
/// the chain that is neither production nor a preview, and of `from`'s type
/// (so it gives nobody rights there that `from` does not: a developer edits a
/// preview of staging no more than staging itself).
pub fn check_preview(
    chain: &[ChainEntry],
    from: &str,
    environment_type: EnvironmentType,
) -> Result<(), LifecycleError> {
    if environment_type == EnvironmentType::Production {
        return Err(LifecycleError::PreviewSource("a preview environment cannot be of type production".to_owned()));
    }
    match chain.iter().find(|entry| entry.name == from) {
        None => Err(LifecycleError::PreviewSource(format!("from names no environment: {from}"))),
        Some(entry) if entry.preview_of.is_some() => {
            Err(LifecycleError::PreviewSource(format!("{from} is a preview itself; make previews from the chain")))
        }
        Some(entry) if entry.environment_type == EnvironmentType::Production => Err(LifecycleError::PreviewSource(
            format!("{from} is a production environment; previews come from development or staging"),
        )),
        Some(entry) if entry.environment_type != environment_type => Err(LifecycleError::PreviewSource(format!(
            "a preview has its source's type: {from} is {}",
            entry.environment_type.as_str()
        ))),
        Some(_) => Ok(()),
    }
}

/// Where the next preview goes: after every other preview, off the chain.
pub fn preview_position(chain: &[ChainEntry]) -> u32 {
    chain
        .iter()
        .map(|entry| entry.position + 1)
        .filter(|position| *position > PREVIEW_POSITIONS)
        .max()
        .unwrap_or(PREVIEW_POSITIONS)
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
    /// For a preview environment: the environment it was made from, the
    /// only one it promotes into. Previews are off the chain: nothing
    /// promotes into them.
    pub preview_of: Option<String>,
}

impl ChainEntry {
    /// Whether it is on the promotion chain (not a preview).
    pub fn on_chain(&self) -> bool {
        self.preview_of.is_none()
    }
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
            preview_of: None,
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
pub fn insert_position(all: &[ChainEntry], after: Option<&str>) -> Result<u32, LifecycleError> {
    let chain: Vec<&ChainEntry> = all.iter().filter(|entry| entry.on_chain()).collect();
    let first_production = chain
        .iter()
        .filter(|entry| entry.environment_type == EnvironmentType::Production)
        .map(|entry| entry.position)
        .min();
    match after {
        Some(name) => {
            let entry = chain.iter().find(|entry| entry.name == name).ok_or_else(|| {
                if all.iter().any(|entry| entry.name == name) {
                    LifecycleError::AfterPreview(name.to_owned())
                } else {
                    LifecycleError::UnknownAfter(name.to_owned())
                }
            })?;
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
    fn previews_sit_off_the_chain() {
        let mut all = chain();
        all.push(ChainEntry {
            name: "pr-1".to_owned(),
            environment_type: EnvironmentType::Development,
            position: PREVIEW_POSITIONS,
            preview_of: Some("development".to_owned()),
        });
        assert_eq!(insert_position(&all, None), Ok(2));
        assert_eq!(insert_position(&all, Some("pr-1")), Err(LifecycleError::AfterPreview("pr-1".to_owned())));
        assert_eq!(preview_position(&chain()), PREVIEW_POSITIONS);
        assert_eq!(preview_position(&all), PREVIEW_POSITIONS + 1);
        assert_eq!(check_preview(&all, "development", EnvironmentType::Development), Ok(()));
        assert!(check_preview(&all, "production", EnvironmentType::Development).is_err());
        assert!(check_preview(&all, "pr-1", EnvironmentType::Development).is_err());
        assert!(check_preview(&all, "nope", EnvironmentType::Development).is_err());
        assert!(check_preview(&all, "staging", EnvironmentType::Production).is_err());
        assert!(check_preview(&all, "staging", EnvironmentType::Development).is_err(), "a type of its own");
        assert_eq!(check_preview(&all, "staging", EnvironmentType::Staging), Ok(()));
        assert!(preview_expiry(0, 599).is_err() && preview_expiry(0, MAX_PREVIEW_TTL_SECONDS + 1).is_err());
        assert_eq!(preview_expiry(1000, 3600), Ok(3_601_000));
    }

    #[test]
    fn locks_and_archives() {
        assert_eq!(lock_reason("  release freeze "), Ok("release freeze".to_owned()));
        assert_eq!(lock_reason("   "), Err(LifecycleError::LockReason));
        assert_eq!(lock_reason("a\u{0}b"), Err(LifecycleError::LockReason));
        assert!(lock_reason(&"x".repeat(MAX_LOCK_REASON_CHARS + 1)).is_err());
        assert!(check_archivable("development").is_err() && check_archivable("production").is_err());
        assert_eq!(check_archivable("staging"), Ok(()));
        assert_eq!(purge_at(0, None), Ok(30 * 86_400_000));
        assert_eq!(purge_at(0, Some(0)), Err(LifecycleError::Retention));
        assert_eq!(purge_at(0, Some(MAX_ARCHIVE_RETENTION_DAYS + 1)), Err(LifecycleError::Retention));
        assert_eq!(Status::parse("archived"), Some(Status::Archived));
        assert!(!Status::Archived.accepts_new_keys());
    }

    #[test]
    fn protected_environments() {
        assert!(check_deletable("development").is_err());
        assert!(check_deletable("production").is_err());
        assert_eq!(check_deletable("staging"), Ok(()));
    }
}
