//! The request the fetch handler receives, as the routes read it.
//!
//! The `worker` crate's own `Request` reads `request.cf` when it wraps the
//! platform's request, for every request. workerd builds that object from
//! JSON on each read, and no route uses it: side by side, not reading it
//! served a few per cent more feed pages (docs/performance.md). This type
//! reads the method, the URL and the headers once, and nothing else.

use tidings_core::query;
use worker::worker_sys::web_sys;
use worker::{FromRequest, Headers, Method};

/// An incoming request: its method, URL and headers, and the platform's
/// request for the body.
#[derive(Debug)]
pub struct IncomingRequest {
    method: Method,
    url: String,
    headers: Headers,
    inner: web_sys::Request,
    body_used: bool,
}

impl From<web_sys::Request> for IncomingRequest {
    fn from(inner: web_sys::Request) -> Self {
        IncomingRequest {
            method: Method::from(inner.method()),
            url: inner.url(),
            headers: Headers(inner.headers()),
            inner,
            body_used: false,
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

    /// The request's headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The body as a stream, to read chunk by chunk (`None` for an empty body); a body can be read once.
    pub fn body_stream(&mut self) -> worker::Result<Option<web_sys::ReadableStream>> {
        if std::mem::replace(&mut self.body_used, true) {
            return Err(worker::Error::BodyUsed);
        }
        Ok(self.inner.body())
    }

    /// Reads the whole body; a body can be read once.
    pub async fn bytes(&mut self) -> worker::Result<Vec<u8>> {
        if std::mem::replace(&mut self.body_used, true) {
            return Err(worker::Error::BodyUsed);
        }
        let buffer = worker::wasm_bindgen_futures::JsFuture::from(self.inner.array_buffer()?)
            .await
            .map_err(worker::Error::from)?;
        Ok(js_sys::Uint8Array::new(&buffer).to_vec())
    }
}
