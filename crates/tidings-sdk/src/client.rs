//! `TidingsClient`: one subscriber's feed in one environment.
//!
//! Requests are checked here with the core's parsers (keys, subscriber ids,
//! limits), sent with the global `fetch`, and answered with the API's JSON
//! as it came: its shapes are `tidings_core::wire`, described for
//! TypeScript in `js/index.d.ts`. Error bodies become `TidingsError`s.
//!
//! Each answer's `Tidings-Bookmark` (the database's read-replica bookmark
//! after the request) is kept and sent with the next request, so the
//! client never reads a state older than one it has seen, its own actions
//! included.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Promise};
use tidings_core::feed::MAX_LIMIT;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::error::{self, js_error, NETWORK_ERROR, UNEXPECTED_RESPONSE};
use crate::js::{self, encode, get, is_absent, keys, set, stringify, strings};
use crate::options::ClientOptions;

/// A client for one subscriber's in-app feed.
#[wasm_bindgen]
pub struct TidingsClient {
    options: Rc<ClientOptions>,
    bookmark: Rc<RefCell<Option<String>>>,
}

/// Which query parameters a request takes from its options object.
#[derive(Clone, Copy, PartialEq)]
enum Options {
    /// `feed.list`: filters, `limit`, `after`, `before`.
    Page,
    /// `feed.changes`: filters and `limit`.
    Changes,
}

/// What a request answers: the body as the API sent it, or the first of its `results`.
#[derive(Clone, Copy)]
enum Answer {
    Body,
    FirstResult,
}

/// A request's path and JSON body, or why it cannot be sent.
type Prepared = Result<(String, Option<String>), JsValue>;

// The methods answer promises made by one `request`, not `async fn`s: each
// async method would compile to a state machine and a promise adapter of
// its own, and the SDK's size is a budget.
#[wasm_bindgen]
impl TidingsClient {
    /// Creates a client from `{ apiUrl, publishableKey, subscriberId, subscriberToken?, subscriberHash? }`.
    /// Throws a `TidingsError` when an option is unusable.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<TidingsClient, JsValue> {
        Ok(Self { options: Rc::new(ClientOptions::from_js(&options)?), bookmark: Rc::default() })
    }

    /// The subscriber this client acts for.
    #[wasm_bindgen(getter, js_name = subscriberId)]
    pub fn subscriber_id(&self) -> String {
        self.options.subscriber.to_string()
    }

    /// The environment the publishable key names (from the key itself, no request).
    #[wasm_bindgen(getter, js_name = environmentName)]
    pub fn environment_name(&self) -> String {
        self.options.publishable_key.environment().to_string()
    }

    /// The environment the publishable key opens (`name`, `type`, `status`, …).
    pub fn environment(&self) -> Promise {
        self.request("GET", Ok(("/v1/environments/current".to_owned(), None)), Answer::Body, None)
    }

    /// One page of the feed, newest first: `{ items, page_info, counts, watermark }`.
    pub fn feed(&self, options: JsValue) -> Promise {
        let prepared = query(&options, Options::Page).map(|query| (self.feed_path(&query), None));
        self.request("GET", prepared, Answer::Body, None)
    }

    /// Changes after `since`: `{ changes, watermark, has_more, counts }`.
    pub fn changes(&self, since: String, options: JsValue) -> Promise {
        let prepared = query(&options, Options::Changes).map(|query| {
            let separator = if query.is_empty() { '?' } else { '&' };
            (self.feed_path(&format!("/changes{query}{separator}since={}", encode(&since))), None)
        });
        self.request("GET", prepared, Answer::Body, None)
    }

    /// Exact counts `{ total, unread, unseen }` for a filter (`{}`: the whole feed).
    pub fn counts(&self, filter: JsValue) -> Promise {
        // The worker checks the filter and answers typed errors.
        let filter = if is_absent(&filter) { Object::new().into() } else { filter };
        let prepared = stringify(&js_sys::Array::of1(&filter))
            .map(|filters| (self.feed_path(&format!("/counts?filters={}", encode(&filters))), None))
            .ok_or_else(|| js_error(error::VALIDATION_FAILED, "the filter cannot be sent", None, Some("filter")));
        self.request("GET", prepared, Answer::FirstResult, None)
    }

    /// The subscriber's preferences: `{ global, workflows }`.
    pub fn preferences(&self) -> Promise {
        self.request("GET", Ok((self.preferences_path(), None)), Answer::Body, None)
    }

    /// Changes some preferences (`null` removes a workflow override); answers them all.
    #[wasm_bindgen(js_name = updatePreferences)]
    pub fn update_preferences(&self, changes: JsValue) -> Promise {
        let prepared = stringify(&changes).map(|body| (self.preferences_path(), Some(body))).ok_or_else(|| {
            js_error(error::VALIDATION_FAILED, "the preferences cannot be sent", None, Some("preferences"))
        });
        self.request("PATCH", prepared, Answer::Body, None)
    }

    /// Applies `{ action, ids } | { action, filter }` and answers `{ updated, counts }`;
    /// with an idempotency key, the API applies it once however often it is sent.
    pub fn act(&self, body: JsValue, idempotency_key: Option<String>) -> Promise {
        let prepared = stringify(&body)
            .map(|body| (self.feed_path("/actions"), Some(body)))
            .ok_or_else(|| js_error(error::VALIDATION_FAILED, "the action cannot be sent", None, Some("action")));
        self.request("POST", prepared, Answer::Body, idempotency_key)
    }

    /// A promise of the URL of the subscriber's realtime socket (`ws://` or
    /// `wss://`): the key and subscriber credential are exchanged (in
    /// headers) for a one-time ticket, valid 60 seconds, and only the ticket
    /// goes in the URL. Ask again for every connection.
    #[wasm_bindgen(js_name = streamUrl)]
    pub fn stream_url(&self) -> Promise {
        let options = Rc::clone(&self.options);
        let bookmark = Rc::clone(&self.bookmark);
        let path = self.feed_path("/stream-ticket");
        future_to_promise(async move {
            let body = send(&options, &bookmark, "POST", path, None, None).await?;
            let ticket = get(&body, "ticket").as_string().unwrap_or_default();
            let base = match options.api_url.strip_prefix("http") {
                Some(rest) => format!("ws{rest}"),
                None => options.api_url.clone(),
            };
            let url = format!(
                "{base}/v1/subscribers/{}/feed/stream?ticket={}",
                encode(options.subscriber.as_str()),
                encode(&ticket)
            );
            Ok(JsValue::from_str(&url))
        })
    }
}

impl TidingsClient {
    fn feed_path(&self, rest: &str) -> String {
        format!("/v1/subscribers/{}/feed{rest}", encode(self.options.subscriber.as_str()))
    }

    fn preferences_path(&self) -> String {
        format!("/v1/subscribers/{}/preferences", encode(self.options.subscriber.as_str()))
    }

    /// A promise of the answer to a prepared request; it rejects with the
    /// preparation's error, or with a `TidingsError` from [`send`].
    fn request(&self, method: &'static str, prepared: Prepared, answer: Answer, key: Option<String>) -> Promise {
        let options = Rc::clone(&self.options);
        let bookmark = Rc::clone(&self.bookmark);
        future_to_promise(async move {
            let (path, body) = prepared?;
            let body = send(&options, &bookmark, method, path, body, key.as_deref()).await?;
            Ok(match answer {
                Answer::Body => body,
                Answer::FirstResult => js_sys::Array::from(&get(&body, "results")).get(0),
            })
        })
    }
}

/// Sends a request with the key, the subscriber credential and the latest
/// bookmark; keeps the answer's bookmark; answers the parsed JSON body, or
/// rejects with a `TidingsError`.
async fn send(
    options: &ClientOptions,
    bookmark: &RefCell<Option<String>>,
    method: &str,
    path: String,
    body: Option<String>,
    idempotency_key: Option<&str>,
) -> Result<JsValue, JsValue> {
    let headers = Object::new();
    let header = |name: &str, value: &str| set(&headers, name, &JsValue::from_str(value));
    header("Authorization", &format!("Bearer {}", options.publishable_key.expose()));
    if let Some(token) = &options.subscriber_token {
        header("X-Subscriber-Token", token);
    } else if let Some(hash) = &options.subscriber_hash {
        header("X-Subscriber-Hash", hash);
    }
    if let Some(key) = idempotency_key {
        header("Idempotency-Key", key);
    }
    if let Some(latest) = bookmark.borrow().as_deref() {
        header(BOOKMARK, latest);
    }
    let init = Object::new();
    set(&init, "method", &JsValue::from_str(method));
    if let Some(body) = body {
        header("Content-Type", "application/json");
        set(&init, "body", &JsValue::from_str(&body));
    }
    set(&init, "headers", &headers);
    let url = format!("{}{path}", options.api_url);
    let response = JsFuture::from(js::fetch(&url, &init))
        .await
        .map_err(|_| js_error(NETWORK_ERROR, &format!("could not reach {}", options.api_url), None, None))?;
    let response: web_sys::Response = response.unchecked_into();
    if let Ok(Some(latest)) = response.headers().get(BOOKMARK) {
        bookmark.replace(Some(latest));
    }
    let status = response.status();
    let unexpected = |detail: &str| {
        js_error(UNEXPECTED_RESPONSE, &format!("unexpected response (HTTP {status}): {detail}"), Some(status), None)
    };
    let parsed: Promise = response.json().map_err(|_| unexpected("no body"))?;
    let body = JsFuture::from(parsed).await.map_err(|_| unexpected("the body is not JSON"))?;
    if response.ok() {
        Ok(body)
    } else {
        Err(error::from_api(&body, status))
    }
}

/// The header carrying the database's read-replica bookmark both ways.
const BOOKMARK: &str = "Tidings-Bookmark";

/// The query string (`?a=1&b=2`, or empty) of a feed options object,
/// checking each option's name and type.
fn query(options: &JsValue, kind: Options) -> Result<String, JsValue> {
    let invalid = |field: &str, message: &str| js_error(error::VALIDATION_FAILED, message, None, Some(field));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for name in keys(options) {
        let value = get(options, &name);
        if is_absent(&value) {
            continue;
        }
        let text = match name.as_str() {
            "limit" => match value.as_f64() {
                Some(limit) if limit.fract() == 0.0 && (1.0..=f64::from(MAX_LIMIT)).contains(&limit) => {
                    (limit as u32).to_string()
                }
                _ => return Err(invalid("limit", "limit must be a whole number from 1 to 100")),
            },
            "after" | "before" if kind == Options::Changes => {
                return Err(invalid(&name, "changes follow a watermark, not page cursors"));
            }
            "after" | "before" | "archived" | "workflow" => {
                value.as_string().ok_or_else(|| invalid(&name, &format!("{name} must be a string")))?
            }
            "read" | "seen" => match value.as_bool() {
                Some(flag) => flag.to_string(),
                None => return Err(invalid(&name, &format!("{name} must be true or false"))),
            },
            "tags" | "tags_any" => {
                strings(&value).ok_or_else(|| invalid(&name, &format!("{name} must be an array of strings")))?.join(",")
            }
            "data" => {
                for path in keys(&value) {
                    let field = get(&value, &path);
                    // Numbers and booleans as JavaScript writes them (no float formatting in wasm).
                    let text = match field.as_string() {
                        Some(text) => text,
                        None if field.as_f64().is_some() || field.as_bool().is_some() => {
                            stringify(&field).unwrap_or_default()
                        }
                        _ => {
                            let field = format!("data.{path}");
                            return Err(invalid(&field, "data values must be strings, numbers or booleans"));
                        }
                    };
                    pairs.push((format!("data.{path}"), text));
                }
                continue;
            }
            _ => return Err(invalid(&name, &format!("unknown option \"{name}\""))),
        };
        pairs.push((name, text));
    }
    let mut query = String::new();
    for (name, value) in pairs {
        query.push(if query.is_empty() { '?' } else { '&' });
        query.push_str(&encode(&name));
        query.push('=');
        query.push_str(&encode(&value));
    }
    Ok(query)
}
