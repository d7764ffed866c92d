//! Errors as JavaScript sees them: `Error` objects with a stable `code`
//! (the API's snake_case code, or one of the SDK's own below), the HTTP
//! `status` when there was a response, and the request `field` at fault.

use js_sys::Error;
use tidings_core::wire::ErrorCode;
use wasm_bindgen::JsValue;

use crate::js::{get, set};

// Codes are taken from the one `ErrorCode` type at compile time (`const`), so
// only the strings used here reach the SDK's wasm, not the whole list.
/// The options passed to the client are unusable.
pub const INVALID_OPTIONS: &str = ErrorCode::InvalidOptions.as_str();
/// The API could not be reached (offline, DNS, CORS refusal).
pub const NETWORK_ERROR: &str = ErrorCode::NetworkError.as_str();
/// The API answered with something that is not the documented shape.
pub const UNEXPECTED_RESPONSE: &str = ErrorCode::UnexpectedResponse.as_str();
/// A field of a request is invalid.
pub const VALIDATION_FAILED: &str = ErrorCode::ValidationFailed.as_str();
/// The text is not an API key.
pub const MALFORMED_KEY: &str = ErrorCode::MalformedKey.as_str();
/// A secret key was given to the browser SDK.
pub const SECRET_KEY_IN_BROWSER: &str = ErrorCode::SecretKeyInBrowser.as_str();

/// Builds a JavaScript `Error` carrying `code`, and `status`/`field` when known.
pub fn js_error(code: &str, message: &str, status: Option<u16>, field: Option<&str>) -> JsValue {
    let error = Error::new(message);
    error.set_name("TidingsError");
    set(&error, "code", &JsValue::from_str(code));
    if let Some(status) = status {
        set(&error, "status", &JsValue::from(status));
    }
    if let Some(field) = field {
        set(&error, "field", &JsValue::from_str(field));
    }
    error.into()
}

/// The JavaScript error for an API error body `{error: {code, message, field?}}`
/// (see `tidings_core::wire::ErrorBody`).
pub fn from_api(body: &JsValue, status: u16) -> JsValue {
    let detail = get(body, "error");
    match (get(&detail, "code").as_string(), get(&detail, "message").as_string()) {
        (Some(code), Some(message)) => {
            js_error(&code, &message, Some(status), get(&detail, "field").as_string().as_deref())
        }
        _ => js_error(UNEXPECTED_RESPONSE, &format!("HTTP {status} without an error body"), Some(status), None),
    }
}
