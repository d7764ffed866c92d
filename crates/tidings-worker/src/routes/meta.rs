//! Unauthenticated routes: health and the API description.

use crate::error::ApiResult;
use crate::http::json_text;

/// The repository's `openapi.json`, without the whitespace between its
/// tokens (`build.rs`).
const OPENAPI: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// `GET /health`.
pub fn health() -> ApiResult {
    Ok(json_text(String::from(r#"{"status":"ok"}"#), 200))
}

/// `GET /openapi.json`.
pub fn openapi() -> ApiResult {
    Ok(json_text(String::from(OPENAPI), 200))
}
