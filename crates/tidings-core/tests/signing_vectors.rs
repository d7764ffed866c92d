//! The shared signing vectors (`tests/vectors/signing.json`): what the
//! worker signs and verifies must equal, byte for byte, what
//! `@tidings/sdk/server` and the Python client produce from the same inputs.

use serde_json::Value;
use tidings_core::environment::EnvironmentName;
use tidings_core::subscriber::{subscriber_hash, SubscriberId};
use tidings_core::token::{self, Scope};
use tidings_core::webhook;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../tests/vectors/signing.json")).expect("the vector file is JSON")
}

fn text<'a>(case: &'a Value, name: &str) -> &'a str {
    case[name].as_str().unwrap_or_else(|| panic!("{name} is a string in {case}"))
}

fn number(case: &Value, name: &str) -> u64 {
    case[name].as_u64().unwrap_or_else(|| panic!("{name} is a number in {case}"))
}

#[test]
fn subscriber_tokens_match_and_verify() {
    let cases = vectors()["subscriber_tokens"].as_array().expect("token cases").clone();
    assert!(cases.len() >= 3);
    for case in cases {
        let environment = EnvironmentName::parse(text(&case, "environment")).expect("environment");
        let subscriber = SubscriberId::parse(text(&case, "subscriber_id")).expect("subscriber");
        let scope = Scope::parse(text(&case, "scope")).expect("scope");
        let secret = text(&case, "signing_secret").as_bytes();
        let now_ms = number(&case, "now_ms");
        let signed = token::sign(
            secret,
            text(&case, "key_id"),
            &environment,
            &subscriber,
            scope,
            now_ms,
            number(&case, "ttl_seconds"),
        )
        .expect("signs");
        assert_eq!(signed, text(&case, "token"), "token for {case}");
        let claims = token::verify(secret, &signed, &environment, &subscriber, now_ms, token::MAX_LIFETIME_SECONDS)
            .expect("the worker verifies the vector's token");
        assert_eq!(claims.scope, scope);
    }
}

#[test]
fn subscriber_hashes_match() {
    for case in vectors()["subscriber_hashes"].as_array().expect("hash cases") {
        let subscriber = SubscriberId::parse(text(case, "subscriber_id")).expect("subscriber");
        assert_eq!(subscriber_hash(text(case, "signing_secret").as_bytes(), &subscriber), text(case, "hash"));
    }
}

#[test]
fn webhook_signatures_match() {
    for case in vectors()["webhook_signatures"].as_array().expect("webhook cases") {
        let signed = webhook::signature(text(case, "secret"), number(case, "timestamp"), text(case, "body"));
        assert_eq!(signed, text(case, "signature"), "signature for {case}");
    }
}
