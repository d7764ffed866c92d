//! `TidingsClient`: one subscriber's feed in one environment.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tidings_core::feed::MAX_LIMIT;
use tidings_core::wire::{EnvironmentInfo, ErrorBody, FeedActionResponse, FeedCountsList, FeedResponse};
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
        let info: EnvironmentInfo = self.send(Request::get(&self.url("/v1/environments/current"))).await?;
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
        let mut path = self.feed_path("");
        let mut separator = '?';
        let mut push = |name: &str, value: &str| {
            path.push_str(&format!("{separator}{name}={}", encode(value)));
            separator = '&';
        };
        if let Some(limit) = options.limit {
            if limit == 0 || limit > MAX_LIMIT {
                return Err(js_error("validation_failed", "limit must be from 1 to 100", None, Some("limit")));
            }
            push("limit", &limit.to_string());
        }
        for (name, flag) in [("read", options.read), ("seen", options.seen)] {
            if let Some(flag) = flag {
                push(name, if flag { "true" } else { "false" });
            }
        }
        let texts = [
            ("after", options.after),
            ("before", options.before),
            ("archived", options.archived),
            ("workflow", options.workflow),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                push(name, &value);
            }
        }
        if let Some(tags) = options.tags {
            push("tags", &tags.join(","));
        }
        if let Some(tags) = options.tags_any {
            push("tags_any", &tags.join(","));
        }
        let page: FeedResponse = self.send(Request::get(&self.url(&path))).await?;
        to_js(&page)
    }

    /// Exact counts `{ total, unread, unseen }` for a filter (`{}`: the whole feed).
    pub async fn counts(&self, filter: JsValue) -> Result<JsValue, JsValue> {
        // The worker checks the filter and answers typed errors; checking it
        // here too would cost the SDK ~15 KB of deserializer.
        let filter = if filter.is_undefined() || filter.is_null() { js_sys::Object::new().into() } else { filter };
        let filters = js_sys::JSON::stringify(&js_sys::Array::of1(&filter))
            .map(String::from)
            .map_err(|_| js_error("validation_failed", "the filter cannot be sent", None, Some("filter")))?;
        let path = format!("{}?filters={}", self.feed_path("/counts"), encode(&filters));
        let list: FeedCountsList = self.send(Request::get(&self.url(&path))).await?;
        to_js(&list.results.first().copied().unwrap_or_default())
    }

    /// The subscriber's preferences: `{ global, workflows }`.
    pub async fn preferences(&self) -> Result<JsValue, JsValue> {
        let path = format!("/v1/subscribers/{}/preferences", encode(self.options.subscriber.as_str()));
        let Raw(preferences) = self.send(Request::get(&self.url(&path))).await?;
        Ok(preferences)
    }

    /// Changes some preferences (`null` removes a workflow override); answers them all.
    #[wasm_bindgen(js_name = updatePreferences)]
    pub async fn update_preferences(&self, changes: JsValue) -> Result<JsValue, JsValue> {
        let text = js_sys::JSON::stringify(&changes)
            .map(String::from)
            .map_err(|_| js_error("validation_failed", "the preferences cannot be sent", None, Some("preferences")))?;
        let path = format!("/v1/subscribers/{}/preferences", encode(self.options.subscriber.as_str()));
        let request = Request::patch(&self.url(&path)).header("Content-Type", "application/json");
        let Raw(preferences) = self.send_body(request, text).await?;
        Ok(preferences)
    }

    /// Applies `{ action, ids } | { action, filter }` and answers `{ updated, counts }`.
    pub async fn act(&self, body: JsValue) -> Result<JsValue, JsValue> {
        let text = js_sys::JSON::stringify(&body)
            .map(String::from)
            .map_err(|_| js_error("validation_failed", "the action cannot be sent", None, Some("action")))?;
        let request = Request::post(&self.url(&self.feed_path("/actions"))).header("Content-Type", "application/json");
        let answer: FeedActionResponse = self.send_body(request, text).await?;
        to_js(&answer)
    }
}

/// Options of [`TidingsClient::feed`].
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedOptions {
    limit: Option<u32>,
    after: Option<String>,
    before: Option<String>,
    read: Option<bool>,
    seen: Option<bool>,
    archived: Option<String>,
    tags: Option<Vec<String>>,
    tags_any: Option<Vec<String>>,
    workflow: Option<String>,
}

impl TidingsClient {
    fn feed_path(&self, rest: &str) -> String {
        format!("/v1/subscribers/{}/feed{rest}", encode(self.options.subscriber.as_str()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.options.api_url)
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.header("Authorization", &format!("Bearer {}", self.options.publishable_key.expose()));
        if let Some(token) = &self.options.subscriber_token {
            request.header("X-Subscriber-Token", token)
        } else if let Some(hash) = &self.options.subscriber_hash {
            request.header("X-Subscriber-Hash", hash)
        } else {
            request
        }
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, JsValue> {
        let response = self.authorize(request).send().await.map_err(|error| self.unreachable(error))?;
        read(response).await
    }

    async fn send_body<T: DeserializeOwned>(&self, request: RequestBuilder, body: String) -> Result<T, JsValue> {
        let request = self.authorize(request).body(body).map_err(|error| self.unreachable(error))?;
        let response = request.send().await.map_err(|error| self.unreachable(error))?;
        read(response).await
    }

    fn unreachable(&self, error: gloo_net::Error) -> JsValue {
        js_error(NETWORK_ERROR, &format!("could not reach {}: {error}", self.options.api_url), None, None)
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

/// A response passed to JavaScript as it came: its shape is the worker's
/// contract (`wire::PreferencesInput`), and checking it here would cost size.
#[derive(Deserialize)]
#[serde(transparent)]
struct Raw(#[serde(with = "serde_wasm_bindgen::preserve")] JsValue);

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| js_error(UNEXPECTED_RESPONSE, &error.to_string(), None, None))
}

fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}
