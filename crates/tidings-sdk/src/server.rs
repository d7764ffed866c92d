//! For servers (Node.js): minting subscriber tokens offline with the same
//! code the worker verifies them with.

use serde::Deserialize;
use tidings_core::environment::EnvironmentName;
use tidings_core::signing;
use tidings_core::subscriber::SubscriberId;
use tidings_core::token::{self, Scope};
use wasm_bindgen::prelude::*;

use crate::error::{js_error, INVALID_OPTIONS};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignOptions {
    signing_secret: String,
    environment: String,
    subscriber_id: String,
    #[serde(default)]
    ttl_seconds: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
}

/// Signs a subscriber token from `{ signingSecret, environment, subscriberId,
/// ttlSeconds?, scope?, keyId? }`, valid from now. Throws a `TidingsError`.
#[wasm_bindgen(js_name = signSubscriberToken)]
pub fn sign_subscriber_token(options: JsValue) -> Result<String, JsValue> {
    let invalid = |field: &str, message: String| js_error(INVALID_OPTIONS, &message, None, Some(field));
    let options: SignOptions = serde_wasm_bindgen::from_value(options)
        .map_err(|error| invalid("options", format!("invalid token options: {error}")))?;
    let environment = EnvironmentName::parse(&options.environment)
        .map_err(|error| invalid("environment", format!("environment: {error}")))?;
    let subscriber = SubscriberId::parse(&options.subscriber_id)
        .map_err(|error| invalid("subscriberId", format!("subscriberId: {error}")))?;
    let scope = match options.scope.as_deref() {
        None | Some("write") => Scope::Write,
        Some("read") => Scope::Read,
        Some(_) => return Err(invalid("scope", "scope must be \"read\" or \"write\"".to_owned())),
    };
    let now_ms = js_sys::Date::now() as u64;
    let ttl = options.ttl_seconds.unwrap_or(token::DEFAULT_TTL_SECONDS);
    let key_id = options.key_id.as_deref().unwrap_or(signing::FIRST_KEY_ID);
    token::sign(options.signing_secret.as_bytes(), key_id, &environment, &subscriber, scope, now_ms, ttl)
        .map_err(|error| invalid("ttlSeconds", error.to_string()))
}
