//! Template rendering: any template and context render or fail with a
//! typed error, within the engine's fuel, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use tidings_core::template;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The input is a template, optionally followed by a NUL and a JSON payload.
    let (source, payload) = text.split_once('\0').unwrap_or((text, "{}"));
    let payload = serde_json::from_str(payload).unwrap_or_else(|_| json!({"name": "Ada", "items": [1, 2, 3]}));
    let context = json!({"payload": payload, "subscriber": {"first_name": "Ada"}, "vars": {}});
    if template::check(source).is_ok() {
        let _ = template::render(source, &context);
    }
});
