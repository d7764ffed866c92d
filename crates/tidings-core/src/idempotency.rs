//! Idempotency keys: a retried request with the same key and body gets the
//! first answer again instead of acting twice.

use sha2::{Digest, Sha256};

/// How long a key is remembered: 24 hours.
pub const RETENTION_MS: u64 = 24 * 3600 * 1000;
/// After this long, a request that claimed a key and never finished is
/// considered abandoned and the key may be claimed again.
pub const ABANDONED_AFTER_MS: u64 = 60 * 1000;
/// The longest key.
pub const MAX_KEY_LEN: usize = 255;

/// Why an idempotency key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdempotencyError {
    /// Empty, too long, or not printable ASCII.
    #[error("Idempotency-Key must be 1 to 255 printable ASCII characters")]
    MalformedKey,
    /// The key was used with a different body.
    #[error("this Idempotency-Key was used with a different request body; use a new key for a new request")]
    Reused,
    /// The first request with this key is still running.
    #[error("a request with this Idempotency-Key is still in progress; retry shortly")]
    InProgress,
}

/// Checks a key from the `Idempotency-Key` header.
pub fn validate_key(key: &str) -> Result<(), IdempotencyError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|byte| (0x21..=0x7e).contains(&byte)) {
        return Err(IdempotencyError::MalformedKey);
    }
    Ok(())
}

/// The fingerprint of a request body: byte-identical bodies match.
pub fn request_hash(body: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(body))
}

/// The id of one request's claim on a key, from 16 random bytes: a request
/// may retry its own claim and release only its own.
pub fn claim_id(random: [u8; 16]) -> String {
    crate::hex::encode(&random)
}

/// What storage remembers of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Fingerprint of the first body.
    pub request_hash: String,
    /// The first answer, once the request finished: status and body.
    pub response: Option<(u16, String)>,
}

/// What to do with a request whose key storage already knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answer again with the first response.
    Replay(u16, String),
}

/// Decides for a request with fingerprint `request_hash` whose key is `stored`
/// and could not be claimed.
pub fn decide(stored: &StoredKey, request_hash: &str) -> Result<Outcome, IdempotencyError> {
    if stored.request_hash != request_hash {
        return Err(IdempotencyError::Reused);
    }
    match &stored.response {
        Some((status, body)) => Ok(Outcome::Replay(*status, body.clone())),
        None => Err(IdempotencyError::InProgress),
    }
}

/// The stored key of a single trigger's `Idempotency-Key`.
pub fn single_trigger_key(key: &str) -> String {
    format!("trigger:{key}")
}

/// The stored key of event `index` of a bulk trigger sent with `key`: a
/// namespace of its own, so no single trigger's key, whatever its text, is
/// ever a bulk event's (`abc:0` sent alone is not event 0 of `abc`).
pub fn bulk_event_key(key: &str, index: usize) -> String {
    format!("bulk:{index}:{key}")
}

/// The stored key of a feed action sent for `subscriber` with `key`: each
/// subscriber's keys are a namespace of their own (the id is length-prefixed,
/// so no id and key ever spell another pair's), apart from triggers'.
pub fn feed_action_key(subscriber: &str, key: &str) -> String {
    format!("feed:{}:{subscriber}:{key}", subscriber.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(validate_key("order-42:v1"), Ok(()));
        for key in ["", "has space", "é", &"k".repeat(256)] {
            assert_eq!(validate_key(key), Err(IdempotencyError::MalformedKey), "{key:?}");
        }
    }

    #[test]
    fn decisions() {
        let hash = request_hash(b"{}");
        assert_ne!(hash, request_hash(b"{ }"));
        let done = StoredKey { request_hash: hash.clone(), response: Some((202, "{}".to_owned())) };
        assert_eq!(decide(&done, &hash), Ok(Outcome::Replay(202, "{}".to_owned())));
        assert_eq!(decide(&done, "other"), Err(IdempotencyError::Reused));
        let running = StoredKey { request_hash: hash.clone(), response: None };
        assert_eq!(decide(&running, &hash), Err(IdempotencyError::InProgress));
    }

    #[test]
    fn single_and_bulk_keys_never_meet() {
        assert_ne!(single_trigger_key("abc:0"), bulk_event_key("abc", 0));
        assert_ne!(single_trigger_key("bulk:0:abc"), bulk_event_key("abc", 0));
        assert_ne!(bulk_event_key("1:abc", 0), bulk_event_key("abc", 10));
        assert_ne!(bulk_event_key("a", 1), bulk_event_key("a", 11));
        assert_eq!(bulk_event_key("abc", 2), bulk_event_key("abc", 2));
    }

    #[test]
    fn feed_action_keys_belong_to_one_subscriber() {
        assert_ne!(feed_action_key("ada", "k"), feed_action_key("grace", "k"));
        assert_ne!(feed_action_key("a:b", "c"), feed_action_key("a", "b:c"));
        assert_ne!(feed_action_key("a", "k"), single_trigger_key("k"));
        assert_ne!(feed_action_key("a", "k"), bulk_event_key("k", 0));
        assert_eq!(feed_action_key("ada", "k"), feed_action_key("ada", "k"));
    }
}
