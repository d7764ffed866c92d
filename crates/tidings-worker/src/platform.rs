//! The two things the core takes as arguments: the time and randomness.

use js_sys::{Function, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::ApiError;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// `N` bytes from the runtime's cryptographic random source.
pub fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    fill(N)
        .and_then(|bytes| bytes.try_into().map_err(|_| JsValue::from_str("short read")))
        .map_err(|error| ApiError::internal("crypto.getRandomValues", format!("{error:?}")))
}

fn fill(length: usize) -> Result<Vec<u8>, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    let get_random_values: Function = Reflect::get(&crypto, &JsValue::from_str("getRandomValues"))?.dyn_into()?;
    let array = Uint8Array::new_with_length(length as u32);
    get_random_values.call1(&crypto, &array)?;
    Ok(array.to_vec())
}
