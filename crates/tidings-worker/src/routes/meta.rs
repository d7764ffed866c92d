//! Unauthenticated routes: health and the API description.

use crate::error::ApiResult;
use crate::http::json_text;

const OPENAPI: &str = include_str!("../../../../openapi.json");

/// `GET /health`.
pub fn health() -> ApiResult {
    Ok(json_text(String::from(r#"{"status":"ok"}"#), 200))
}

/// `GET /openapi.json`.
pub fn openapi() -> ApiResult {
    Ok(json_text(String::from(OPENAPI), 200))
}
