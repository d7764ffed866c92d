//! The `Tidings-Bookmark` header of the feed routes: the read-replica
//! bookmark a client sends back so it never reads an older state than one
//! it has seen, and the one each answer carries on (see `store/replicas.rs`).

use tidings_core::feed_sync::{is_bookmark, MAX_BOOKMARK_LEN};
use worker::Response;

use crate::error::{ApiError, ApiResult};
use crate::http::header;
use crate::request::IncomingRequest;

/// The header's name, in requests and answers.
pub const HEADER: &str = "Tidings-Bookmark";

/// The request's bookmark, if it sent one; a malformed one is refused
/// before it reaches the database.
pub fn from_request(request: &IncomingRequest) -> ApiResult<Option<String>> {
    match header(request, HEADER) {
        None => Ok(None),
        Some(bookmark) if is_bookmark(&bookmark) => Ok(Some(bookmark)),
        Some(_) => Err(ApiError::validation(
            HEADER,
            format!(
                "a bookmark is 1 to {MAX_BOOKMARK_LEN} letters, digits, '-', '_', ':' or '.', as an answer gave it"
            ),
        )),
    }
}

/// The answer, carrying `bookmark` (the handle's session's, after the request) when there is one.
pub fn attach(mut response: Response, bookmark: Option<String>) -> Response {
    if let Some(bookmark) = bookmark {
        let _ = response.headers_mut().set(HEADER, &bookmark);
    }
    response
}
