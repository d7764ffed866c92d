//! The options object passed to `new TidingsClient(…)`, checked up front so
//! mistakes surface at construction, not at the first request.

use tidings_core::key::{ApiKey, KeyKind};
use tidings_core::subscriber::SubscriberId;
use wasm_bindgen::JsValue;

use crate::error::{self, js_error, INVALID_OPTIONS};
use crate::js::{get, is_absent, keys};

const KNOWN: [&str; 5] = ["apiUrl", "publishableKey", "subscriberId", "subscriberHash", "subscriberToken"];

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
    pub fn from_js(value: &JsValue) -> Result<Self, JsValue> {
        let invalid = |field: &str, message: &str| js_error(INVALID_OPTIONS, message, None, Some(field));
        if !value.is_object() {
            return Err(invalid("options", "pass an options object: { apiUrl, publishableKey, subscriberId, … }"));
        }
        if let Some(unknown) = keys(value).into_iter().find(|key| !KNOWN.contains(&key.as_str())) {
            return Err(invalid(&unknown, &format!("unknown option \"{unknown}\"")));
        }
        let text = |field: &str, required: bool| -> Result<Option<String>, JsValue> {
            let raw = get(value, field);
            match raw.as_string() {
                Some(text) => Ok(Some(text)),
                None if is_absent(&raw) && !required => Ok(None),
                None => Err(invalid(field, &format!("{field} must be a string"))),
            }
        };
        let api_url = text("apiUrl", true)?.unwrap_or_default().trim_end_matches('/').to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(invalid("apiUrl", "apiUrl must be an http(s) URL"));
        }
        let publishable_key =
            ApiKey::parse_shape(text("publishableKey", true)?.unwrap_or_default().trim()).map_err(|error| {
                js_error(error::MALFORMED_KEY, &format!("publishableKey: {error}"), None, Some("publishableKey"))
            })?;
        if publishable_key.kind() != KeyKind::Publishable {
            return Err(js_error(
                error::SECRET_KEY_IN_BROWSER,
                "a secret key (sk_…) must never be used in a browser; pass the publishable key (pk_…)",
                None,
                Some("publishableKey"),
            ));
        }
        let subscriber = SubscriberId::parse(&text("subscriberId", true)?.unwrap_or_default())
            .map_err(|error| invalid("subscriberId", &format!("subscriberId: {error}")))?;
        Ok(Self {
            api_url,
            publishable_key,
            subscriber,
            subscriber_hash: text("subscriberHash", false)?,
            subscriber_token: text("subscriberToken", false)?,
        })
    }
}
