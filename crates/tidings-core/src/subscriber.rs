//! Subscribers: the people notifications are for, named by the customer.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Why a subscriber id or credential is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriberError {
    /// The id is empty or longer than [`SubscriberId::MAX_LEN`].
    #[error("subscriber id must be 1 to {max} characters long", max = SubscriberId::MAX_LEN)]
    IdLength,
    /// The id has a character outside `A-Z a-z 0-9 . _ - @ : +`.
    #[error("subscriber id may only contain letters, digits and . _ - @ : +")]
    IdCharacters,
    /// The subscriber hash is not 64 hex digits or does not match.
    #[error("the subscriber hash does not match this subscriber in this environment")]
    HashMismatch,
}

/// A customer-chosen subscriber id, such as `user-1` or `ada@example.com`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriberId(String);

impl SubscriberId {
    /// The longest accepted id, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Checks `id` and wraps it.
    pub fn parse(id: &str) -> Result<Self, SubscriberError> {
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(SubscriberError::IdLength);
        }
        let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b"._-@:+".contains(&byte);
        if !id.bytes().all(allowed) {
            return Err(SubscriberError::IdCharacters);
        }
        Ok(Self(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Random bytes needed by [`signing_secret`].
pub const SIGNING_SECRET_BYTES: usize = 32;

/// A new subscriber signing secret for an environment, as 64 hex digits.
pub fn signing_secret(random: [u8; SIGNING_SECRET_BYTES]) -> String {
    crate::hex::encode(&random)
}

/// The subscriber hash credential: lowercase hex HMAC-SHA256 of the
/// subscriber id under the environment's subscriber signing secret.
pub fn subscriber_hash(signing_secret: &[u8], subscriber: &SubscriberId) -> String {
    crate::hex::encode(&mac(signing_secret, subscriber).finalize().into_bytes())
}

/// Checks a subscriber hash in constant time.
pub fn verify_subscriber_hash(
    signing_secret: &[u8],
    subscriber: &SubscriberId,
    presented_hex: &str,
) -> Result<(), SubscriberError> {
    let presented =
        crate::hex::decode(presented_hex).filter(|bytes| bytes.len() == 32).ok_or(SubscriberError::HashMismatch)?;
    mac(signing_secret, subscriber).verify_slice(&presented).map_err(|_| SubscriberError::HashMismatch)
}

fn mac(signing_secret: &[u8], subscriber: &SubscriberId) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(signing_secret)
        .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
    mac.update(subscriber.as_str().as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(SubscriberId::parse("user-1").is_ok());
        assert!(SubscriberId::parse("ada.lovelace+test@example.com").is_ok());
        assert_eq!(SubscriberId::parse(""), Err(SubscriberError::IdLength));
        assert_eq!(SubscriberId::parse(&"a".repeat(129)), Err(SubscriberError::IdLength));
        for id in ["a b", "a/b", "../x", "é", "a\u{0}"] {
            assert_eq!(SubscriberId::parse(id), Err(SubscriberError::IdCharacters), "{id:?}");
        }
    }

    #[test]
    fn signing_secrets_are_hex() {
        assert_eq!(signing_secret([0xab; SIGNING_SECRET_BYTES]), "ab".repeat(32));
    }

    #[test]
    fn hash_opens_only_its_own_subscriber() {
        let secret = b"environment secret";
        let ada = SubscriberId::parse("ada").unwrap();
        let bob = SubscriberId::parse("bob").unwrap();
        let ada_hash = subscriber_hash(secret, &ada);
        assert_eq!(verify_subscriber_hash(secret, &ada, &ada_hash), Ok(()));
        assert_eq!(verify_subscriber_hash(secret, &ada, &ada_hash.to_uppercase()), Ok(()));
        assert_eq!(verify_subscriber_hash(secret, &bob, &ada_hash), Err(SubscriberError::HashMismatch));
        assert_eq!(verify_subscriber_hash(b"other environment", &ada, &ada_hash), Err(SubscriberError::HashMismatch));
        assert_eq!(verify_subscriber_hash(secret, &ada, "zz"), Err(SubscriberError::HashMismatch));
    }
}
