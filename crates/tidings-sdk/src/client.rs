//! `TidingsClient`: one subscriber's feed in one environment.

use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tidings_core::feed::MAX_LIMIT;
use tidings_core::wire::{EnvironmentInfo, ErrorBody, FeedResponse};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{self, js_error, NETWORK_ERROR, UNEXPECTED_RESPONSE};
use crate::options::ClientOptions;

/// A client for one subscriber's in-app feed.
#[wasm_bindgen]
pub struct TidingsClient {
    options: ClientOptions,
}

#[wasm_bindgen]
impl TidingsClient {
    /// Creates a client from `{ apiUrl, publishableKey, subscriberId, subscriberHash? }`.
    /// Throws a `TidingsError` when an option is unusable.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<TidingsClient, JsValue> {
        Ok(Self { options: ClientOptions::from_js(options)? })
    }

    /// The subscriber this client acts for.
    #[wasm_bindgen(getter, js_name = subscriberId)]
    pub fn subscriber_id(&self) -> String {
        self.options.subscriber.to_string()
    }

    /// The environment the publishable key opens (`name`, `type`, `status`, …).
    pub async fn environment(&self) -> Result<JsValue, JsValue> {
        let info: EnvironmentInfo = self.get("/v1/environments/current").await?;
        to_js(&info)
    }

    /// One page of the feed, newest first: `{ items, page_info, counts }`.
    /// `options` may hold `limit` (1–100) and `after` (a cursor from
    /// `page_info.after`).
    pub async fn feed(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let options: FeedOptions = if options.is_undefined() || options.is_null() {
            FeedOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|error| {
                js_error("validation_failed", &format!("feed options: {error}"), None, Some("options"))
            })?
        };
        let mut path = format!("/v1/subscribers/{}/feed", encode(self.options.subscriber.as_str()));
        let mut separator = '?';
        if let Some(limit) = options.limit {
            if limit == 0 || limit > MAX_LIMIT {
                return Err(js_error("validation_failed", "limit must be from 1 to 100", None, Some("limit")));
            }
            path.push_str(&format!("{separator}limit={limit}"));
            separator = '&';
        }
        if let Some(after) = options.after {
            path.push_str(&format!("{separator}after={}", encode(&after)));
        }
        let page: FeedResponse = self.get(&path).await?;
        to_js(&page)
    }
}

/// Options of [`TidingsClient::feed`]: `{ limit?, after? }`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedOptions {
    limit: Option<u32>,
    after: Option<String>,
}

impl TidingsClient {
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, JsValue> {
        let mut request = Request::get(&format!("{}{path}", self.options.api_url))
            .header("Authorization", &format!("Bearer {}", self.options.publishable_key.expose()));
        if let Some(token) = &self.options.subscriber_token {
            request = request.header("X-Subscriber-Token", token);
        } else if let Some(hash) = &self.options.subscriber_hash {
            request = request.header("X-Subscriber-Hash", hash);
        }
        let response = request.send().await.map_err(|error| {
            js_error(NETWORK_ERROR, &format!("could not reach {}: {error}", self.options.api_url), None, None)
        })?;
        read(response).await
    }
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, JsValue> {
    let status = response.status();
    let unexpected = |detail: &str| {
        js_error(UNEXPECTED_RESPONSE, &format!("unexpected response (HTTP {status}): {detail}"), Some(status), None)
    };
    let ok = response.ok();
    let raw = web_sys::Response::from(response);
    let promise = raw.json().map_err(|_| unexpected("no body"))?;
    let body = JsFuture::from(promise).await.map_err(|_| unexpected("the body is not JSON"))?;
    if ok {
        serde_wasm_bindgen::from_value(body).map_err(|error| unexpected(&error.to_string()))
    } else {
        let body: ErrorBody = serde_wasm_bindgen::from_value(body).map_err(|error| unexpected(&error.to_string()))?;
        Err(error::from_api(body, status))
    }
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| js_error(UNEXPECTED_RESPONSE, &error.to_string(), None, None))
}

fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}
