//! The life of an API key: active, expiring after a rotation, revoked.

/// The most secret keys an environment may have active at once, so a
/// rotation can overlap the old and the new key.
pub const MAX_ACTIVE_SECRET_KEYS: usize = 2;
/// The most restricted secret keys (issued with scopes) an environment may
/// have active at once: one per server or job is the point of them, so they
/// do not count against [`MAX_ACTIVE_SECRET_KEYS`].
pub const MAX_ACTIVE_RESTRICTED_KEYS: usize = 40;
/// The longest grace period a rotation may give the old key: 30 days.
pub const MAX_GRACE_PERIOD_SECONDS: u64 = 30 * 24 * 3600;

/// Why a key operation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyLifecycleError {
    /// Issuing another secret key would exceed [`MAX_ACTIVE_SECRET_KEYS`].
    #[error(
        "an environment may have at most {MAX_ACTIVE_SECRET_KEYS} active secret keys; revoke one or regenerate it"
    )]
    TooManySecretKeys,
    /// Issuing another restricted key would exceed [`MAX_ACTIVE_RESTRICTED_KEYS`].
    #[error("an environment may have at most {MAX_ACTIVE_RESTRICTED_KEYS} active restricted keys; revoke one first")]
    TooManyRestrictedKeys,
    /// The grace period is longer than [`MAX_GRACE_PERIOD_SECONDS`].
    #[error("grace_period_seconds must be from 0 to {MAX_GRACE_PERIOD_SECONDS}")]
    GracePeriod,
    /// The key is already revoked or expired.
    #[error("this key is already revoked")]
    AlreadyRevoked,
}

/// Where a key is in its life at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Accepted, with no end set.
    Active,
    /// Accepted until the given Unix millisecond, then revoked.
    Expiring(u64),
    /// Refused with `key_revoked`.
    Revoked,
}

impl KeyStatus {
    /// The status of a key with the stored `revoked_at` and `expires_at` at `now_ms`.
    pub fn at(revoked_at: Option<u64>, expires_at: Option<u64>, now_ms: u64) -> Self {
        match (revoked_at, expires_at) {
            (Some(_), _) => Self::Revoked,
            (None, Some(end)) if end <= now_ms => Self::Revoked,
            (None, Some(end)) => Self::Expiring(end),
            (None, None) => Self::Active,
        }
    }

    /// Whether requests with the key are accepted.
    pub fn is_usable(self) -> bool {
        self != Self::Revoked
    }

    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expiring(_) => "expiring",
            Self::Revoked => "revoked",
        }
    }
}

/// Checks that one more secret key may be issued when `active` are usable.
/// A key in its grace period still counts: it still opens the environment.
pub fn check_secret_key_capacity(active: usize) -> Result<(), KeyLifecycleError> {
    if active >= MAX_ACTIVE_SECRET_KEYS {
        Err(KeyLifecycleError::TooManySecretKeys)
    } else {
        Ok(())
    }
}

/// Checks that one more restricted key may be issued when `active` are usable.
pub fn check_restricted_key_capacity(active: usize) -> Result<(), KeyLifecycleError> {
    if active >= MAX_ACTIVE_RESTRICTED_KEYS {
        Err(KeyLifecycleError::TooManyRestrictedKeys)
    } else {
        Ok(())
    }
}

/// When a key being replaced stops working: `now` plus the grace period.
/// `None` means at once.
pub fn rotation_end(now_ms: u64, grace_period_seconds: u64) -> Result<Option<u64>, KeyLifecycleError> {
    if grace_period_seconds > MAX_GRACE_PERIOD_SECONDS {
        return Err(KeyLifecycleError::GracePeriod);
    }
    Ok((grace_period_seconds > 0).then(|| now_ms + grace_period_seconds * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_revocation_and_expiry() {
        assert_eq!(KeyStatus::at(None, None, 10), KeyStatus::Active);
        assert_eq!(KeyStatus::at(None, Some(11), 10), KeyStatus::Expiring(11));
        assert_eq!(KeyStatus::at(None, Some(10), 10), KeyStatus::Revoked);
        assert_eq!(KeyStatus::at(Some(5), Some(100), 10), KeyStatus::Revoked);
        assert!(KeyStatus::Expiring(1).is_usable());
        assert!(!KeyStatus::Revoked.is_usable());
    }

    #[test]
    fn at_most_two_secret_keys() {
        assert_eq!(check_secret_key_capacity(1), Ok(()));
        assert_eq!(check_secret_key_capacity(2), Err(KeyLifecycleError::TooManySecretKeys));
        assert!(check_restricted_key_capacity(MAX_ACTIVE_RESTRICTED_KEYS - 1).is_ok());
        assert_eq!(
            check_restricted_key_capacity(MAX_ACTIVE_RESTRICTED_KEYS),
            Err(KeyLifecycleError::TooManyRestrictedKeys)
        );
    }

    #[test]
    fn grace_periods() {
        assert_eq!(rotation_end(1_000, 0), Ok(None));
        assert_eq!(rotation_end(1_000, 60), Ok(Some(61_000)));
        assert_eq!(rotation_end(0, MAX_GRACE_PERIOD_SECONDS + 1), Err(KeyLifecycleError::GracePeriod));
    }
}
