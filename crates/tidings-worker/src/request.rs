//! The request the fetch handler receives, as the routes read it.
//!
//! The `worker` crate's own `Request` reads `request.cf` when it wraps the
//! platform's request, for every request. workerd builds that object from
//! JSON on each read, and no route uses it: side by side, not reading it
//! served a few per cent more feed pages (docs/performance.md). This type
//! reads the method, the URL and the headers once, and nothing else.
//!
//! The headers cross from JavaScript in one call, as one text
//! ([`header_lines`]), and are looked up in Rust: a feed request reads about
//! ten of them (the key, the subscriber credential, the origin, the
//! bookmark…), and each `Headers.get` from Wasm was a call across the
//! boundary with a string copied each way.

use tidings_core::query;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::worker_sys::web_sys;
use worker::{FromRequest, Method};

#[wasm_bindgen(inline_js = "export function header_lines(headers) {
  let text = '';
  for (const [name, value] of headers) text += name + '\\n' + value + '\\n';
  return text;
}")]
extern "C" {
    /// Every header as `name\nvalue\n`, names in lower case, repeated
    /// headers joined as `Headers.get` joins them. A header's value cannot
    /// hold a line feed (the runtime refuses one), so the text splits back
    /// exactly.
    fn header_lines(headers: &web_sys::Headers) -> String;
}

/// An incoming request: its method, URL and headers, and the platform's
/// request for the body.
#[derive(Debug)]
pub struct IncomingRequest {
    method: Method,
    url: String,
    /// The headers as [`header_lines`] writes them.
    headers: String,
    inner: web_sys::Request,
    body_used: bool,
    /// The body, read before the route ran ([`IncomingRequest::arrive`]).
    arrived: Option<worker::Result<Vec<u8>>>,
}

impl From<web_sys::Request> for IncomingRequest {
    fn from(inner: web_sys::Request) -> Self {
        IncomingRequest {
            method: Method::from(inner.method()),
            url: inner.url(),
            headers: header_lines(&inner.headers()),
            inner,
            body_used: false,
            arrived: None,
        }
    }
}

impl FromRequest for IncomingRequest {
    fn from_raw(request: web_sys::Request) -> Result<Self, impl Into<Box<dyn std::error::Error>>> {
        Ok::<_, worker::Error>(IncomingRequest::from(request))
    }
}

impl IncomingRequest {
    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method.clone()
    }

    /// The URL's path, still percent-encoded.
    pub fn path(&self) -> &str {
        query::path_of_url(&self.url)
    }

    /// The URL's query (after `?`, without the fragment), still encoded.
    pub fn query(&self) -> &str {
        query::query_of_url(&self.url)
    }

    /// The value of the header `name` (any case), if the request has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as a stream, to read chunk by chunk (`None` for an empty body); a body can be read once.
    pub fn body_stream(&mut self) -> worker::Result<Option<web_sys::ReadableStream>> {
        if std::mem::replace(&mut self.body_used, true) {
            return Err(worker::Error::BodyUsed);
        }
        Ok(self.inner.body())
    }

    /// Waits for the whole body, up to `cap` bytes and one more (so a longer
    /// one is still seen as too long), before anything asks who is calling:
    /// the route then authenticates the caller as they are once their body
    /// has arrived. A caller holding their body back cannot write with
    /// rights taken from them (removed, narrowed, revoked) meanwhile.
    /// [`IncomingRequest::bytes`] answers what arrived.
    pub async fn arrive(&mut self, cap: usize) {
        if self.body_used || self.arrived.is_some() {
            return;
        }
        let read = async {
            let Some(stream) = self.body_stream()? else { return Ok(Vec::new()) };
            let mut chunks = worker::ByteStream::from(stream);
            let mut bytes = Vec::new();
            while let Some(chunk) = futures_util::StreamExt::next(&mut chunks).await {
                bytes.extend(chunk?);
                if bytes.len() > cap {
                    break;
                }
            }
            Ok(bytes)
        };
        self.arrived = Some(read.await);
    }

    /// Reads the whole body (or what [`IncomingRequest::arrive`] read); a body can be read once.
    pub async fn bytes(&mut self) -> worker::Result<Vec<u8>> {
        if let Some(arrived) = self.arrived.take() {
            return arrived;
        }
        if std::mem::replace(&mut self.body_used, true) {
            return Err(worker::Error::BodyUsed);
        }
        let buffer = worker::wasm_bindgen_futures::JsFuture::from(self.inner.array_buffer()?)
            .await
            .map_err(worker::Error::from)?;
        Ok(js_sys::Uint8Array::new(&buffer).to_vec())
    }
}

/// Whether a request's body is read whole before its route runs
/// ([`IncomingRequest::arrive`]): every request that may carry one, but a
/// file's upload, which streams into its bucket as it arrives (10 MiB).
pub fn body_arrives_first(method: &Method, segments: &[&str]) -> bool {
    matches!(method, Method::Post | Method::Put | Method::Patch | Method::Delete)
        && !matches!((method, segments), (Method::Put, ["v1", "files", ..]))
}

/// The value of `name` (any case) in headers written as [`header_lines`] writes them.
fn find_header<'a>(lines: &'a str, name: &str) -> Option<&'a str> {
    let mut parts = lines.split('\n');
    while let (Some(key), Some(value)) = (parts.next(), parts.next()) {
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{body_arrives_first, find_header};
    use worker::Method;

    #[test]
    fn bodies_arrive_before_routes_but_file_uploads() {
        assert!(body_arrives_first(&Method::Post, &["v1", "environments", "development", "keys"]));
        assert!(body_arrives_first(&Method::Patch, &["v1", "members", "m_1"]));
        assert!(body_arrives_first(&Method::Delete, &["v1", "members", "m_1"]));
        assert!(body_arrives_first(&Method::Put, &["v1", "variables", "A"]));
        assert!(!body_arrives_first(&Method::Put, &["v1", "files", "docs", "a.txt"]));
        assert!(body_arrives_first(&Method::Post, &["v1", "files", "sign"]));
        assert!(!body_arrives_first(&Method::Get, &["v1", "subscribers", "a", "feed"]));
    }

    #[test]
    fn finds_a_header_in_any_case_and_only_a_whole_name() {
        let lines = "authorization\nBearer pk_x\nx-subscriber-hash\nabc\ncontent-length\n0\n";
        assert_eq!(find_header(lines, "Authorization"), Some("Bearer pk_x"));
        assert_eq!(find_header(lines, "X-Subscriber-Hash"), Some("abc"));
        assert_eq!(find_header(lines, "Content-Length"), Some("0"));
        assert_eq!(find_header(lines, "X-Subscriber"), None);
        assert_eq!(find_header(lines, "abc"), None, "a value is never read as a name");
        assert_eq!(find_header("", "Authorization"), None);
    }

    #[test]
    fn keeps_an_empty_value() {
        assert_eq!(find_header("origin\n\nhost\nexample.com\n", "Origin"), Some(""));
        assert_eq!(find_header("origin\n\nhost\nexample.com\n", "Host"), Some("example.com"));
    }
}
