//! Subscriber tokens: any presented token verifies or fails with a typed
//! error; a token signed here verifies for its subscriber only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_core::environment::EnvironmentName;
use tidings_core::subscriber::SubscriberId;
use tidings_core::token::{self, Scope};

const NOW_MS: u64 = 1_790_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let environment = EnvironmentName::parse("staging").expect("a valid name");
    let subscriber = SubscriberId::parse("ada").expect("a valid id");
    let secret = b"fuzzing-secret-0123456789abcdef";
    let _ = token::key_id(text);
    assert!(token::verify(secret, text, &environment, &subscriber, NOW_MS).is_err(), "forged token accepted: {text}");
    // Fuzzed subscriber ids: a token for one never opens another's feed.
    if let Ok(other) = SubscriberId::parse(text) {
        let signed = token::sign(secret, "k1", &environment, &other, Scope::Read, NOW_MS, 60).expect("signs");
        assert!(token::verify(secret, &signed, &environment, &other, NOW_MS).is_ok());
        if other.as_str() != subscriber.as_str() {
            assert!(token::verify(secret, &signed, &environment, &subscriber, NOW_MS).is_err());
        }
    }
});
