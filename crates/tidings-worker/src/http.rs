//! Reading requests and writing JSON responses.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::error::Category;
use tidings_core::wire::ErrorCode;
use tidings_core::{json_path, query};
use worker::{Headers, Response, ResponseBuilder};

use crate::error::{ApiError, ApiResult};
use crate::request::IncomingRequest;

/// The largest request body any route accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A JSON response from a wire value.
pub fn json<T: Serialize>(value: &T, status: u16) -> ApiResult {
    let text = serde_json::to_string(value).map_err(|error| ApiError::internal("serialize response", error))?;
    Ok(json_text(text, status))
}

/// A JSON response from already serialized text.
pub fn json_text(text: String, status: u16) -> Response {
    let headers = Headers::new();
    let _ = headers.set("Content-Type", "application/json; charset=utf-8");
    let _ = headers.set("Cache-Control", "no-store");
    ResponseBuilder::new().with_status(status).with_headers(headers).fixed(text.into_bytes())
}

/// The request's decoded query parameters, parsed without a URL parser.
pub fn query_pairs(request: &IncomingRequest) -> ApiResult<Vec<(String, String)>> {
    Ok(query::parse_pairs(request.query())?)
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`] into a wire type.
pub async fn read_json<T: DeserializeOwned>(request: &mut IncomingRequest) -> ApiResult<T> {
    parse_json(&read_body(request).await?)
}

/// Reads a JSON body where the route's body is optional: none (or only
/// whitespace) is the type's default, as `{}` would be.
pub async fn read_optional_json<T: DeserializeOwned + Default>(request: &mut IncomingRequest) -> ApiResult<T> {
    let bytes = read_body(request).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(&bytes)
}

/// Reads a body of at most [`MAX_BODY_BYTES`].
pub async fn read_body(request: &mut IncomingRequest) -> ApiResult<Vec<u8>> {
    let declared = header(request, "Content-Length").and_then(|length| length.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let bytes = request
        .bytes()
        .await
        .map_err(|error| ApiError::validation("body", format!("the body could not be read: {error}")))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Parses a JSON body into a wire type, with typed errors: one that does
/// not match the type names the field at fault (`to.1.topic`), or `body`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let text = core::str::from_utf8(bytes)
        .map_err(|_| ApiError::new(400, ErrorCode::MalformedJson, "the body is not valid UTF-8").with_field("body"))?;
    serde_json::from_str(text).map_err(|error| match error.classify() {
        Category::Data => ApiError::validation(
            field_at_fault(text, &error).unwrap_or_else(|| "body".to_owned()),
            format!("the body does not match the expected shape: {error}"),
        ),
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::new(400, ErrorCode::MalformedJson, format!("the body is not valid JSON: {error}"))
                .with_field("body")
        }
    })
}

/// The dotted path of the field a JSON text's deserialization error is
/// about (a missing field's own path included), if it is not the text as
/// a whole.
pub fn field_at_fault(text: &str, error: &serde_json::Error) -> Option<String> {
    let path = json_path::field_path(text, error.line(), error.column());
    let message = error.to_string();
    let field = match json_path::missing_field(&message) {
        Some(missing) if path.is_empty() => missing.to_owned(),
        Some(missing) => format!("{path}.{missing}"),
        None => path,
    };
    (!field.is_empty()).then_some(field)
}

/// A request header's value, if present and readable.
pub fn header(request: &IncomingRequest, name: &str) -> Option<String> {
    request.header(name).map(str::to_owned)
}

fn too_large() -> ApiError {
    ApiError::new(413, ErrorCode::PayloadTooLarge, format!("the body is larger than {MAX_BODY_BYTES} bytes"))
        .with_field("body")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use std::collections::BTreeMap;

    use super::field_at_fault;

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Member {
        name: String,
        #[serde(default)]
        environments: BTreeMap<String, String>,
    }

    fn fault(text: &str) -> Option<String> {
        let error = serde_json::from_str::<Member>(text).expect_err("refused");
        field_at_fault(text, &error)
    }

    #[test]
    fn names_the_field_or_nothing_for_the_whole_body() {
        assert_eq!(fault(r#"{"name":"a","environments":{"staging":7}}"#).as_deref(), Some("environments.staging"));
        assert_eq!(fault(r#"{"environments":{}}"#).as_deref(), Some("name"));
        assert_eq!(fault(r#"{"name":"a","colour":1}"#).as_deref(), Some("colour"));
        assert_eq!(fault(r#""a""#), None);
    }
}
