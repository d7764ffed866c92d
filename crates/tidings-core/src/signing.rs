//! An environment's subscriber signing secrets, with two slots so they can
//! rotate without logging anyone out.
//!
//! The *current* secret signs new tokens (their `kid` names it). After a
//! rotation the *previous* secret still verifies tokens and subscriber
//! hashes until its grace period ends, so browsers holding old tokens keep
//! working while servers switch to the new secret.

use crate::environment::EnvironmentName;
use crate::subscriber::{verify_subscriber_hash, SubscriberError, SubscriberId};
use crate::token::{self, Claims, TokenError};

/// The key id of an environment's first signing secret.
pub const FIRST_KEY_ID: &str = "s1";
/// The longest grace period a rotation may give the previous secret: 7 days.
pub const MAX_GRACE_SECONDS: u64 = 7 * 24 * 3600;
/// The grace period when a rotation names none: 24 hours.
pub const DEFAULT_GRACE_SECONDS: u64 = 24 * 3600;

/// One signing secret and the key id tokens name it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSecret {
    /// `s1`, `s2`, …: one more at each rotation.
    pub key_id: String,
    /// The secret (hex).
    pub secret: String,
}

/// The current secret and, during a rotation's grace period, the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSecrets {
    /// Signs new tokens; verifies everything.
    pub current: SigningSecret,
    /// Verifies until the time given (Unix milliseconds).
    pub previous: Option<(SigningSecret, u64)>,
}

/// Why a rotation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("grace_period_seconds must be from 0 to {MAX_GRACE_SECONDS} (7 days)")]
pub struct GraceError;

impl SigningSecrets {
    /// Secrets that verify at `now_ms`: the current one first.
    fn usable(&self, now_ms: u64) -> impl Iterator<Item = &SigningSecret> {
        let previous = self.previous.as_ref().filter(|(_, until)| *until > now_ms).map(|(secret, _)| secret);
        std::iter::once(&self.current).chain(previous)
    }

    /// Verifies a subscriber token with the secret its `kid` names, or else
    /// any usable secret (tokens signed offline may carry a stale `kid`);
    /// its lifetime may be at most `max_lifetime_seconds`.
    pub fn verify_token(
        &self,
        token: &str,
        environment: &EnvironmentName,
        subscriber: &SubscriberId,
        now_ms: u64,
        max_lifetime_seconds: u64,
    ) -> Result<Claims, TokenError> {
        let named = token::key_id(token);
        let mut secrets: Vec<&SigningSecret> = self.usable(now_ms).collect();
        secrets.sort_by_key(|secret| Some(&secret.key_id) != named.as_ref());
        for secret in secrets {
            match token::verify(secret.secret.as_bytes(), token, environment, subscriber, now_ms, max_lifetime_seconds)
            {
                // Only a signature that does not match is worth another secret.
                Err(TokenError::Invalid) => continue,
                outcome => return outcome,
            }
        }
        Err(TokenError::Invalid)
    }

    /// Checks a subscriber hash against every usable secret.
    pub fn verify_hash(&self, subscriber: &SubscriberId, presented: &str, now_ms: u64) -> Result<(), SubscriberError> {
        if self
            .usable(now_ms)
            .any(|secret| verify_subscriber_hash(secret.secret.as_bytes(), subscriber, presented).is_ok())
        {
            Ok(())
        } else {
            Err(SubscriberError::HashMismatch)
        }
    }

    /// Makes `new_secret` current; the current one verifies for
    /// `grace_seconds` more (0: it stops at once). An older previous secret
    /// is dropped.
    pub fn rotate(&self, new_secret: String, now_ms: u64, grace_seconds: u64) -> Result<Self, GraceError> {
        if grace_seconds > MAX_GRACE_SECONDS {
            return Err(GraceError);
        }
        let current = SigningSecret { key_id: next_key_id(&self.current.key_id), secret: new_secret };
        let previous = (grace_seconds > 0).then(|| (self.current.clone(), now_ms + grace_seconds * 1000));
        Ok(Self { current, previous })
    }
}

/// The key id after `key_id`: `s1` → `s2`.
pub fn next_key_id(key_id: &str) -> String {
    let number: u64 = key_id.strip_prefix('s').and_then(|digits| digits.parse().ok()).unwrap_or(1);
    format!("s{}", number + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriber::subscriber_hash;
    use crate::token::Scope;

    const NOW: u64 = 1_800_000_000_000;

    fn secrets() -> SigningSecrets {
        SigningSecrets {
            current: SigningSecret { key_id: FIRST_KEY_ID.to_owned(), secret: "old".repeat(10) },
            previous: None,
        }
    }

    fn ids() -> (EnvironmentName, SubscriberId) {
        (EnvironmentName::parse("staging").unwrap(), SubscriberId::parse("ada").unwrap())
    }

    fn sign(secret: &SigningSecret, kid: &str) -> String {
        let (environment, subscriber) = ids();
        token::sign(secret.secret.as_bytes(), kid, &environment, &subscriber, Scope::Write, NOW, 3600).unwrap()
    }

    #[test]
    fn both_slots_verify_during_the_grace_period_and_only_the_new_one_after() {
        let before = secrets();
        let old_token = sign(&before.current, "s1");
        let old_hash = subscriber_hash(before.current.secret.as_bytes(), &ids().1);
        let after = before.rotate("new".repeat(10), NOW, 60).unwrap();
        assert_eq!(after.current.key_id, "s2");
        let new_token = sign(&after.current, "s2");
        let (environment, subscriber) = ids();
        for token in [&old_token, &new_token] {
            assert!(after
                .verify_token(token, &environment, &subscriber, NOW + 59_000, token::MAX_LIFETIME_SECONDS)
                .is_ok());
        }
        assert!(after.verify_hash(&subscriber, &old_hash, NOW + 59_000).is_ok());
        // Past the grace period the old secret opens nothing.
        assert_eq!(
            after.verify_token(&old_token, &environment, &subscriber, NOW + 60_000, token::MAX_LIFETIME_SECONDS),
            Err(TokenError::Invalid)
        );
        assert!(after.verify_hash(&subscriber, &old_hash, NOW + 60_000).is_err());
        assert!(after
            .verify_token(&new_token, &environment, &subscriber, NOW + 60_000, token::MAX_LIFETIME_SECONDS)
            .is_ok());
    }

    #[test]
    fn a_stale_key_id_still_finds_the_secret_that_signed() {
        let after = secrets().rotate("new".repeat(10), NOW, 0).unwrap();
        assert_eq!(after.previous, None);
        let signed_offline_with_default_kid = sign(&after.current, FIRST_KEY_ID);
        let (environment, subscriber) = ids();
        assert!(after
            .verify_token(&signed_offline_with_default_kid, &environment, &subscriber, NOW, token::MAX_LIFETIME_SECONDS)
            .is_ok());
    }

    #[test]
    fn rotations_count_up_and_refuse_long_grace_periods() {
        assert_eq!(next_key_id("s9"), "s10");
        assert_eq!(secrets().rotate("x".into(), NOW, MAX_GRACE_SECONDS + 1), Err(GraceError));
        let twice = secrets().rotate("b".into(), NOW, 60).unwrap().rotate("c".into(), NOW, 60).unwrap();
        assert_eq!(twice.current.key_id, "s3");
        assert_eq!(twice.previous.map(|(secret, _)| secret.key_id), Some("s2".to_owned()));
    }
}
