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

/// `count` random 10-byte id parts, drawn with as few calls as possible
/// (`getRandomValues` fills at most 65,536 bytes at a time).
pub fn random_ids(count: usize) -> Result<Vec<[u8; 10]>, ApiError> {
    let mut bytes = Vec::with_capacity(count * 10);
    while bytes.len() < count * 10 {
        let wanted = (count * 10 - bytes.len()).min(65_536);
        bytes.extend(fill(wanted).map_err(|error| ApiError::internal("crypto.getRandomValues", format!("{error:?}")))?);
    }
    Ok(bytes.chunks_exact(10).map(|chunk| chunk.try_into().unwrap_or([0; 10])).collect())
}

fn fill(length: usize) -> Result<Vec<u8>, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    let get_random_values: Function = Reflect::get(&crypto, &JsValue::from_str("getRandomValues"))?.dyn_into()?;
    let array = Uint8Array::new_with_length(length as u32);
    get_random_values.call1(&crypto, &array)?;
    Ok(array.to_vec())
}
