//! The options object passed to `new TidingsClient(…)`, checked up front so
//! mistakes surface at construction, not at the first request.

use serde::Deserialize;
use tidings_core::key::{ApiKey, KeyKind};
use tidings_core::subscriber::SubscriberId;
use wasm_bindgen::JsValue;

use crate::error::{js_error, INVALID_OPTIONS};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawOptions {
    api_url: String,
    publishable_key: String,
    subscriber_id: String,
    #[serde(default)]
    subscriber_hash: Option<String>,
    #[serde(default)]
    subscriber_token: Option<String>,
}

/// Validated client options.
pub struct ClientOptions {
    /// Base URL of the API, without a trailing slash.
    pub api_url: String,
    /// The environment's publishable key.
    pub publishable_key: ApiKey,
    /// Whose feed this client reads.
    pub subscriber: SubscriberId,
    /// The subscriber hash credential, if the app has one.
    pub subscriber_hash: Option<String>,
    /// The subscriber token, if the app has one (preferred over the hash).
    pub subscriber_token: Option<String>,
}

impl ClientOptions {
    /// Reads and checks the JavaScript options object.
    pub fn from_js(value: JsValue) -> Result<Self, JsValue> {
        let invalid = |field: &str, message: String| js_error(INVALID_OPTIONS, &message, None, Some(field));
        let raw: RawOptions = serde_wasm_bindgen::from_value(value)
            .map_err(|error| invalid("options", format!("invalid client options: {error}")))?;
        let api_url = raw.api_url.trim_end_matches('/').to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(invalid("apiUrl", "apiUrl must be an http(s) URL".to_owned()));
        }
        let publishable_key = ApiKey::parse(raw.publishable_key.trim()).map_err(|error| {
            js_error("malformed_key", &format!("publishableKey: {error}"), None, Some("publishableKey"))
        })?;
        if publishable_key.kind() != KeyKind::Publishable {
            return Err(js_error(
                "secret_key_in_browser",
                "a secret key (sk_…) must never be used in a browser; pass the publishable key (pk_…)",
                None,
                Some("publishableKey"),
            ));
        }
        let subscriber = SubscriberId::parse(&raw.subscriber_id)
            .map_err(|error| invalid("subscriberId", format!("subscriberId: {error}")))?;
        Ok(Self {
            api_url,
            publishable_key,
            subscriber,
            subscriber_hash: raw.subscriber_hash,
            subscriber_token: raw.subscriber_token,
        })
    }
}
