//! Secrets at rest: integration credentials are sealed with the
//! deployment's encryption key (ChaCha20-Poly1305) before they are stored,
//! and are never returned by the API.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// Random bytes needed by [`seal`].
pub const NONCE_BYTES: usize = 12;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The encryption key is not 64 hex digits (32 bytes).
    #[error("the encryption key must be 64 hex digits")]
    Key,
    /// The sealed text is damaged, or was sealed with another key.
    #[error("the sealed secret cannot be opened with this key")]
    Open,
}

/// Parses a 64-hex-digit encryption key.
pub fn parse_key(hex: &str) -> Result<[u8; 32], SealError> {
    crate::hex::decode(hex.trim()).and_then(|bytes| bytes.try_into().ok()).ok_or(SealError::Key)
}

/// Seals `secret`: returns `v1.<hex nonce>.<hex ciphertext>`.
pub fn seal(key: &[u8; 32], nonce: [u8; NONCE_BYTES], secret: &str) -> Result<String, SealError> {
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let sealed = cipher.encrypt(&Nonce::from(nonce), secret.as_bytes()).map_err(|_| SealError::Key)?;
    Ok(format!("v1.{}.{}", crate::hex::encode(&nonce), crate::hex::encode(&sealed)))
}

/// Opens what [`seal`] produced.
pub fn open(key: &[u8; 32], sealed: &str) -> Result<String, SealError> {
    let mut parts = sealed.split('.');
    let (Some("v1"), Some(nonce), Some(ciphertext), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SealError::Open);
    };
    let nonce: [u8; NONCE_BYTES] =
        crate::hex::decode(nonce).and_then(|nonce| nonce.try_into().ok()).ok_or(SealError::Open)?;
    let ciphertext = crate::hex::decode(ciphertext).ok_or(SealError::Open)?;
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let plain = cipher.decrypt(&Nonce::from(nonce), ciphertext.as_slice()).map_err(|_| SealError::Open)?;
    String::from_utf8(plain).map_err(|_| SealError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = parse_key(&"ab".repeat(32)).unwrap();
        let sealed = seal(&key, [7; NONCE_BYTES], "whsec_123").unwrap();
        assert!(sealed.starts_with("v1.") && !sealed.contains("whsec"));
        assert_eq!(open(&key, &sealed), Ok("whsec_123".to_owned()));
        let other = parse_key(&"cd".repeat(32)).unwrap();
        assert_eq!(open(&other, &sealed), Err(SealError::Open));
        let mut tampered = sealed.clone();
        tampered.replace_range(sealed.len() - 2.., "00");
        assert_eq!(open(&key, &tampered), Err(SealError::Open));
        assert_eq!(open(&key, "v2.00.00"), Err(SealError::Open));
        assert_eq!(parse_key("short"), Err(SealError::Key));
    }
}
