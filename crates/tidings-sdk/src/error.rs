//! Errors as JavaScript sees them: `Error` objects with a stable `code`
//! (the API's snake_case code, or one of the SDK's own below), the HTTP
//! `status` when there was a response, and the request `field` at fault.

use js_sys::{Error, Reflect};
use tidings_core::wire::ErrorBody;
use wasm_bindgen::JsValue;

/// The options passed to the client are unusable.
pub const INVALID_OPTIONS: &str = "invalid_options";
/// The API could not be reached (offline, DNS, CORS refusal).
pub const NETWORK_ERROR: &str = "network_error";
/// The API answered with something that is not the documented shape.
pub const UNEXPECTED_RESPONSE: &str = "unexpected_response";

/// Builds a JavaScript `Error` carrying `code`, and `status`/`field` when known.
pub fn js_error(code: &str, message: &str, status: Option<u16>, field: Option<&str>) -> JsValue {
    let error = Error::new(message);
    error.set_name("TidingsError");
    let set = |name: &str, value: JsValue| {
        let _ = Reflect::set(&error, &JsValue::from_str(name), &value);
    };
    set("code", JsValue::from_str(code));
    if let Some(status) = status {
        set("status", JsValue::from(status));
    }
    if let Some(field) = field {
        set("field", JsValue::from_str(field));
    }
    error.into()
}

/// The JavaScript error for an API error body.
pub fn from_api(body: ErrorBody, status: u16) -> JsValue {
    let detail = body.error;
    js_error(&detail.code, &detail.message, Some(status), detail.field.as_deref())
}
