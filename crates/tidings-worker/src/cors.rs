//! Cross-origin headers for browsers.
//!
//! A preflight carries no credentials, so it cannot know the environment:
//! it is always answered. The real request is then checked against the
//! environment's origin policy in [`crate::auth`]. Every response, errors
//! included, echoes the origin so pages can read typed errors.

use worker::{Headers, Response, ResponseBuilder};

const ALLOWED_HEADERS: &str = "Authorization, X-API-Key, Content-Type, Idempotency-Key, X-Subscriber-Token, \
    X-Subscriber-Hash, Tidings-Bookmark";
/// Answer headers a page's script may read.
const EXPOSED_HEADERS: &str = "Retry-After, Idempotency-Replay, Tidings-Bookmark";
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

/// The answer to an `OPTIONS` preflight.
pub fn preflight() -> Response {
    let headers = Headers::new();
    let _ = headers.set("Access-Control-Allow-Methods", ALLOWED_METHODS);
    let _ = headers.set("Access-Control-Allow-Headers", ALLOWED_HEADERS);
    let _ = headers.set("Access-Control-Max-Age", "600");
    ResponseBuilder::new().with_status(204).with_headers(headers).empty()
}

/// Adds the cross-origin headers to a response for a request from `origin`.
pub fn decorate(mut response: Response, origin: Option<&str>) -> Response {
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        let _ = headers.set("Access-Control-Allow-Origin", origin);
        let _ = headers.append("Vary", "Origin");
        let _ = headers.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
    }
    response
}
