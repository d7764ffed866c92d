//! Request decoding: trigger bodies, feed queries and feed actions decode
//! to a valid request or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_core::feed::FeedQuery;
use tidings_core::wire::{FeedActionRequest, TriggerRequest};
use tidings_core::{feed_action, query, trigger};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<TriggerRequest>(data) {
        let _ = trigger::validate(request);
    }
    if let Ok(request) = serde_json::from_slice::<FeedActionRequest>(data) {
        let _ = feed_action::validate(request);
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = query::decode_segment(text);
    if let Ok(pairs) = query::parse_pairs(text) {
        let _ = FeedQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())));
    }
});
