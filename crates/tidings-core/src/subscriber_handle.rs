//! Opaque handles for subscriber ids, for members who may not see them.
//!
//! Where an environment obfuscates subscriber data, a member without a
//! personal-data grant there sees a handle (`sh~…`) wherever an id would
//! be (the subscriber list, its cursor, execution logs) and uses it to open
//! a subscriber's messages or filter logs. A handle is the id encrypted
//! deterministically (a SIV-style nonce: an HMAC of the id) with a key
//! derived from the deployment's encryption key, the environment's name as
//! associated data: the same id always gives the same handle in one
//! environment, a handle says nothing of the id, and it opens in no other
//! environment. The id is padded with NUL bytes (which no id holds) to a
//! multiple of [`PAD_BYTES`] before it is sealed, so a handle's length does
//! not tell an id's. `~` never appears in an id, so no id is a handle.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::derive::{derive_key, Purpose};
use crate::environment::EnvironmentName;
use crate::subscriber::SubscriberId;

/// What every handle starts with.
pub const PREFIX: &str = "sh~";
/// Ids are sealed padded to a multiple of this many bytes.
pub const PAD_BYTES: usize = 32;

/// The handle of `id` in `environment`, under the deployment's encryption key.
pub fn seal(encryption_key: &[u8; 32], environment: &EnvironmentName, id: &SubscriberId) -> String {
    let key = derive_key(encryption_key, Purpose::SubscriberHandle);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(environment.as_str().as_bytes());
    mac.update(&[0]);
    mac.update(id.as_str().as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut nonce_bytes = [0u8; 12];
    nonce_bytes.copy_from_slice(&tag[..12]);
    let nonce = &Nonce::from(nonce_bytes);
    let cipher = ChaCha20Poly1305::new(&Key::from(key));
    let mut padded = id.as_str().as_bytes().to_vec();
    padded.resize(padded.len().div_ceil(PAD_BYTES) * PAD_BYTES, 0);
    let payload = Payload { msg: &padded, aad: environment.as_str().as_bytes() };
    let sealed = cipher.encrypt(nonce, payload).unwrap_or_default();
    format!("{PREFIX}{}{}", crate::hex::encode(&tag[..12]), crate::hex::encode(&sealed))
}

/// The id a handle of `environment` stands for; `None` for anything else.
pub fn open(encryption_key: &[u8; 32], environment: &EnvironmentName, handle: &str) -> Option<SubscriberId> {
    let bytes = crate::hex::decode(handle.strip_prefix(PREFIX)?)?;
    if bytes.len() < 12 + 16 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let key = derive_key(encryption_key, Purpose::SubscriberHandle);
    let cipher = ChaCha20Poly1305::new(&Key::from(key));
    let opened =
        cipher.decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: environment.as_str().as_bytes() }).ok()?;
    let end = opened.iter().rposition(|byte| *byte != 0).map_or(0, |last| last + 1);
    let id = SubscriberId::parse(std::str::from_utf8(&opened[..end]).ok()?).ok()?;
    // Only the handle this id gives: no other nonce is accepted for it.
    (seal(encryption_key, environment, &id) == handle).then_some(id)
}

/// Whether `text` has the shape of a handle (it may still not open).
pub fn is_handle(text: &str) -> bool {
    text.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_stable_opaque_and_bound_to_their_environment() {
        let key = [7u8; 32];
        let staging = EnvironmentName::parse("staging").unwrap();
        let production = EnvironmentName::parse("production").unwrap();
        let ada = SubscriberId::parse("ada@example.com").unwrap();
        let handle = seal(&key, &production, &ada);
        assert!(is_handle(&handle));
        assert!(!handle.contains("ada"));
        assert_eq!(seal(&key, &production, &ada), handle, "the same id gives the same handle");
        assert_ne!(seal(&key, &staging, &ada), handle, "another environment gives another handle");
        assert_eq!(open(&key, &production, &handle), Some(ada.clone()));
        assert_eq!(open(&key, &staging, &handle), None);
        assert_eq!(open(&[8u8; 32], &production, &handle), None);
        let mut tampered = handle.clone();
        tampered.pop();
        tampered.push(if handle.ends_with('0') { '1' } else { '0' });
        assert_eq!(open(&key, &production, &tampered), None);
        for bad in ["", "sh~", "sh~zz", "ada@example.com", "sh~00"] {
            assert_eq!(open(&key, &production, bad), None, "{bad}");
        }
        // No subscriber id is a handle.
        assert!(SubscriberId::parse(&handle).is_err());
    }

    #[test]
    fn a_handle_does_not_tell_the_length_of_its_id() {
        let key = [7u8; 32];
        let production = EnvironmentName::parse("production").unwrap();
        let lengths: Vec<usize> = ["a", "ada", "ada@example.com", "u-0123456789abcdef0123456789abcd"]
            .into_iter()
            .map(|id| {
                let id = SubscriberId::parse(id).unwrap();
                let handle = seal(&key, &production, &id);
                assert_eq!(open(&key, &production, &handle), Some(id));
                handle.len()
            })
            .collect();
        assert!(lengths.iter().all(|length| *length == lengths[0]), "{lengths:?}");
        let long = SubscriberId::parse(&"x".repeat(SubscriberId::MAX_LEN)).unwrap();
        assert_eq!(open(&key, &production, &seal(&key, &production, &long)), Some(long));
    }
}
