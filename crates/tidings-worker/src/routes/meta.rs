//! Unauthenticated routes: health and the API description.

use tidings_core::wire::ErrorCode;

use crate::error::{ApiError, ApiResult};
use crate::http::json_text;

/// `GET /health`.
pub fn health() -> ApiResult {
    Ok(json_text(String::from(r#"{"status":"ok"}"#), 200))
}

/// `GET /openapi.json` reaches this route only where the worker has no
/// `CONSOLE` binding: the entry (`js/entry.mjs`) hands the request to the
/// console's worker, which serves the description as a static file, so
/// its 36 KB gzip are not part of this worker's upload.
pub fn openapi() -> ApiResult {
    Err(ApiError::new(
        404,
        ErrorCode::NotFound,
        "the API description is served by the tidings-console worker: deploy it and bind it as CONSOLE \
         (www/console.wrangler.toml), or read openapi.json in the repository",
    ))
}
