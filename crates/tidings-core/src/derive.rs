//! One key per purpose. An environment's subscriber signing secret is the
//! root of several credentials; each use gets its own key, derived with
//! HKDF-SHA256 (RFC 5869) under a fixed salt and a label per purpose, so a
//! value made for one purpose is never valid for another.
//!
//! The subscriber hash stays what apps compute today (HMAC-SHA256 of the id
//! keyed by the secret itself, see [`crate::subscriber::subscriber_hash`]).
//! A derived key is an HMAC keyed by `HMAC(salt, secret)`, never by the
//! secret, so no subscriber hash, whatever the id, equals a derived key or
//! anything signed with one.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// HKDF's salt: fixed, public, Tidings' own.
const SALT: &[u8] = b"tidings key derivation v1";

/// What a derived key is for. Each label is used for one purpose only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing subscriber tokens (`st2.…`).
    SubscriberToken,
    /// Sealing subscriber handles (from the deployment's encryption key).
    SubscriberHandle,
    /// Sealing webhook deliveries handed to the queue (from the deployment's encryption key).
    DeliveryHandOff,
    /// Signing the short-lived URLs of an environment's files.
    FileUrl,
    /// Sealing topic fan-out pages handed to the queue (from the deployment's encryption key).
    FanoutHandOff,
    /// Naming a transaction's in-app messages (from the deployment's encryption key).
    MessageId,
}

impl Purpose {
    /// HKDF's `info` for this purpose.
    fn label(self) -> &'static [u8] {
        match self {
            Self::SubscriberToken => b"tidings/subscriber-token/v2",
            Self::SubscriberHandle => b"tidings/subscriber-handle/v1",
            Self::DeliveryHandOff => b"tidings/delivery-hand-off/v1",
            Self::FileUrl => b"tidings/file-url/v1",
            Self::FanoutHandOff => b"tidings/fanout-hand-off/v1",
            Self::MessageId => b"tidings/message-id/v1",
        }
    }

    /// Every purpose, for tests.
    pub const ALL: [Purpose; 6] = [
        Self::SubscriberToken,
        Self::SubscriberHandle,
        Self::DeliveryHandOff,
        Self::FileUrl,
        Self::FanoutHandOff,
        Self::MessageId,
    ];
}

/// The 32-byte key `secret` gives for `purpose`: HKDF-SHA256 with one
/// output block (`T(1) = HMAC(PRK, info || 0x01)`).
pub fn derive_key(secret: &[u8], purpose: Purpose) -> [u8; 32] {
    let prk = hmac(SALT, &[secret]);
    hmac(&prk, &[purpose.label(), &[1]])
}

/// The hex HMAC-SHA256 of `text` under the key `secret` gives for
/// `purpose`: a seal that only that secret makes, for that purpose only.
pub fn seal(secret: &[u8], purpose: Purpose, text: &str) -> String {
    crate::hex::encode(&hmac(&derive_key(secret, purpose), &[text.as_bytes()]))
}

/// Whether `seal` is [`seal`]'s for `text`, compared in constant time.
pub fn verify_seal(secret: &[u8], purpose: Purpose, text: &str, seal: &str) -> bool {
    let Some(bytes) = crate::hex::decode(seal) else { return false };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&derive_key(secret, purpose))
        .unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(text.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriber::{subscriber_hash, SubscriberId};

    #[test]
    fn matches_rfc_5869_structure() {
        // HKDF-SHA256 computed independently: PRK = HMAC(salt, ikm), OKM = HMAC(PRK, info || 1).
        let secret = b"0123456789abcdef0123456789abcdef";
        let prk = hmac(SALT, &[secret]);
        let expected = hmac(&prk, &[b"tidings/subscriber-token/v2\x01"]);
        assert_eq!(derive_key(secret, Purpose::SubscriberToken), expected);
    }

    #[test]
    fn purposes_and_secrets_give_distinct_keys() {
        let secrets: [&[u8]; 3] = [b"first secret", b"second secret", b""];
        let mut seen = std::collections::BTreeSet::new();
        for secret in secrets {
            for purpose in Purpose::ALL {
                assert!(seen.insert(derive_key(secret, purpose)), "{purpose:?} repeats a key");
            }
        }
    }

    #[test]
    fn no_subscriber_hash_is_a_derived_key() {
        // Whatever id an app hashes (including the labels themselves), the hash is keyed by
        // the secret, the derived keys by HMAC(salt, secret): they never meet.
        let secret = b"an environment's signing secret!";
        let keys: Vec<String> =
            Purpose::ALL.iter().map(|purpose| crate::hex::encode(&derive_key(secret, *purpose))).collect();
        for id in ["tidings", "subscriber-token", "tidings.subscriber-token.v2", "a", "x@y"] {
            let hash = subscriber_hash(secret, &SubscriberId::parse(id).unwrap());
            assert!(!keys.contains(&hash), "{id}");
        }
    }
}
