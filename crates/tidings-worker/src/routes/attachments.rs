//! The files feed items carry get their short-lived signed URLs when the
//! feed is read (a URL stored with the message would outlive its use).
//! Only the item's own `attachments` are signed, never anything a payload
//! holds, and only paths of the item's environment, with its key.

use serde_json::Value;
use tidings_core::files::{FilePath, DEFAULT_URL_TTL_SECONDS};
use tidings_core::wire::{Attachment, FeedChange};

use crate::error::ApiError;
use crate::store::Environment;

/// What a page's JSON holds only when an item has attachments: quotes inside
/// JSON strings are escaped, so this run of characters is structure.
const MARK: &str = "\"attachments\":[{";

/// A page's items (a JSON array) with a signed URL on each attachment; the
/// text as it is when no item has one.
pub fn sign_items_json(scope: &Environment, items_json: String, now_ms: u64) -> Result<String, ApiError> {
    if !items_json.contains(MARK) {
        return Ok(items_json);
    }
    let mut items: Vec<Value> =
        serde_json::from_str(&items_json).map_err(|error| ApiError::internal("sign attachments", error))?;
    for item in &mut items {
        let Some(list) = item.get_mut("attachments").and_then(Value::as_array_mut) else { continue };
        for attachment in list {
            let url = attachment.get("path").and_then(Value::as_str).and_then(|path| url(scope, path, now_ms));
            if let (Some(url), Some(fields)) = (url, attachment.as_object_mut()) {
                fields.insert("url".to_owned(), Value::String(url));
            }
        }
    }
    serde_json::to_string(&items).map_err(|error| ApiError::internal("sign attachments", error))
}

/// The same for delta sync's changes.
pub fn sign_changes(scope: &Environment, changes: &mut [FeedChange], now_ms: u64) {
    for change in changes {
        if let FeedChange::Upsert { item } = change {
            sign(scope, &mut item.attachments, now_ms);
        }
    }
}

fn sign(scope: &Environment, attachments: &mut [Attachment], now_ms: u64) {
    for attachment in attachments {
        attachment.url = url(scope, &attachment.path, now_ms);
    }
}

fn url(scope: &Environment, path: &str, now_ms: u64) -> Option<String> {
    FilePath::parse(path).ok().map(|path| scope.signed_file_url(&path, now_ms, DEFAULT_URL_TTL_SECONDS))
}
