//! Subscriber tokens: any presented token verifies or fails with a typed
//! error; a token signed here verifies for its subscriber only; a subscriber
//! hash never completes a token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_core::environment::EnvironmentName;
use tidings_core::subscriber::SubscriberId;
use tidings_core::token::{self, Scope};

const NOW_MS: u64 = 1_790_000_000_000;
const MAX: u64 = token::MAX_LIFETIME_SECONDS;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let environment = EnvironmentName::parse("staging").expect("a valid name");
    let subscriber = SubscriberId::parse("ada").expect("a valid id");
    let secret = b"fuzzing-secret-0123456789abcdef";
    let _ = token::key_id(text);
    assert!(token::verify(secret, text, &environment, &subscriber, NOW_MS, MAX).is_err(), "forged token accepted: {text}");
    // Fuzzed subscriber ids: a token for one never opens another's feed.
    if let Ok(other) = SubscriberId::parse(text) {
        let signed = token::sign(secret, "k1", &environment, &other, Scope::Read, NOW_MS, 60).expect("signs");
        assert!(token::verify(secret, &signed, &environment, &other, NOW_MS, MAX).is_ok());
        if other.as_str() != subscriber.as_str() {
            assert!(token::verify(secret, &signed, &environment, &subscriber, NOW_MS, MAX).is_err());
        }
        // The subscriber hash of any id (an app's `X-Subscriber-Hash`) never completes a token
        // whose body is that id: hashes are keyed by the secret, tokens by a derived key.
        let hash = tidings_core::subscriber::subscriber_hash(secret, &other);
        let forged = format!("{}.{}", other.as_str(), base64url_of_hex(&hash));
        assert!(token::verify(secret, &forged, &environment, &subscriber, NOW_MS, MAX).is_err());
    }
});

/// Base64url (no padding) of the bytes a hex string spells.
fn base64url_of_hex(hex: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes: Vec<u8> = (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let value = chunk.iter().enumerate().fold(0u32, |acc, (index, byte)| acc | (u32::from(*byte) << (16 - 8 * index)));
        for index in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((value >> (18 - 6 * index)) & 63) as usize]));
        }
    }
    out
}
