//! Small helpers over `js_sys` for reading JavaScript objects and calling
//! `fetch`, so the SDK needs no serde and no HTTP crate (each costs
//! kilobytes of wasm; the package's budget is 50 KB gzip).

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, in pages and in workers alike.
    #[wasm_bindgen(js_name = fetch)]
    pub fn fetch(url: &str, init: &Object) -> Promise;
}

/// `object[name]`, or `undefined`.
pub fn get(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Sets `object[name] = value`.
pub fn set(object: &JsValue, name: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(name), value);
}

/// Whether `value` is `undefined` or `null`.
pub fn is_absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// The own enumerable property names of `value` (none for a non-object).
pub fn keys(value: &JsValue) -> Vec<String> {
    if !value.is_object() {
        return Vec::new();
    }
    Object::keys(value.unchecked_ref::<Object>()).iter().filter_map(|key| key.as_string()).collect()
}

/// `JSON.stringify(value)`.
pub fn stringify(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value).ok().map(String::from)
}

/// `encodeURIComponent(text)`.
pub fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

/// The strings of an array, or `None` when it is not an array of strings.
pub fn strings(value: &JsValue) -> Option<Vec<String>> {
    if !Array::is_array(value) {
        return None;
    }
    Array::from(value).iter().map(|item| item.as_string()).collect()
}
