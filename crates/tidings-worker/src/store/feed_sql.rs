//! SQL conditions for feed filters. Every value is a bound parameter; the
//! statements that use these conditions bind with anonymous `?` only.

use serde_json::json;
use tidings_core::feed_filter::{Archived, DataValue, FeedFilter};
use wasm_bindgen::JsValue;

use super::text;

/// The conditions of `filter` over `messages`, appending their parameters.
pub(super) fn conditions(filter: &FeedFilter, params: &mut Vec<JsValue>) -> String {
    let mut parts: Vec<&str> = Vec::new();
    match filter.archived {
        Archived::Exclude => parts.push("archived_at IS NULL"),
        Archived::Only => parts.push("archived_at IS NOT NULL"),
        Archived::Include => {}
    }
    match filter.read {
        Some(true) => parts.push("read_at IS NOT NULL"),
        Some(false) => parts.push("read_at IS NULL"),
        None => {}
    }
    match filter.seen {
        Some(true) => parts.push("seen_at IS NOT NULL"),
        Some(false) => parts.push("seen_at IS NULL"),
        None => {}
    }
    for tag in &filter.tags_all {
        parts.push("EXISTS (SELECT 1 FROM json_each(messages.tags) WHERE value = ?)");
        params.push(text(tag));
    }
    if !filter.tags_any.is_empty() {
        parts.push("EXISTS (SELECT 1 FROM json_each(messages.tags) WHERE value IN (SELECT value FROM json_each(?)))");
        params.push(text(&json!(filter.tags_any).to_string()));
    }
    if let Some(workflow) = &filter.workflow {
        parts.push("workflow = ?");
        params.push(text(workflow));
    }
    for (path, value) in &filter.data {
        parts.push("json_extract(payload, ?) = ?");
        params.push(text(path));
        params.push(match value {
            DataValue::Text(value) => text(value),
            DataValue::Number(number) => JsValue::from_f64(*number),
            // JSON booleans read back from SQLite as 1 and 0.
            DataValue::Bool(flag) => JsValue::from_f64(if *flag { 1.0 } else { 0.0 }),
        });
    }
    if parts.is_empty() {
        "1".to_owned()
    } else {
        parts.join(" AND ")
    }
}
