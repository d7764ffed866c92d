//! API keys: any text parses to a key or a typed error, a parsed key
//! round-trips, and its masked form never shows the secret part.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_core::key::{hash, ApiKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(key) = ApiKey::parse(text) else { return };
    assert_eq!(key.expose(), text);
    assert_eq!(key.hash(), hash(text));
    let masked = key.masked();
    let secret = &text[text.rfind('_').unwrap_or(0) + 1..text.len() - 6];
    assert!(!masked.contains(secret), "masked key {masked} shows its secret");
    assert_eq!(ApiKey::parse(key.expose()).map(|again| again.hash()), Ok(key.hash()));
});
