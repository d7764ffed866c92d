//! Reaching the realtime hubs of an environment (the `FEED_HUB` Durable
//! Object namespace): opening a subscriber's socket, and announcing that
//! feeds changed.

use tidings_core::realtime::{all_hubs, group_by_hub, hub_name};
use tidings_core::subscriber::SubscriberId;
use worker::{Headers, Method, Request, RequestInit, Response};

use super::platform::Platform;
use super::Environment;
use crate::error::ApiError;
use crate::hub::{SocketEnd, ANNOUNCE_PATH, CLOSE_PATH, CONNECT_PATH, DEADLINE_HEADER, KEY_HEADER, SUBSCRIBER_HEADER};

/// The Durable Object namespace binding of the hubs.
const HUB_BINDING: &str = "FEED_HUB";

impl Environment {
    /// Hands a WebSocket upgrade, whose ticket was consumed, for
    /// `subscriber` to their hub, which closes it when `grant`'s
    /// credentials stop working.
    pub async fn open_stream(
        &self,
        env: &Platform,
        subscriber: &SubscriberId,
        grant: &StreamGrant,
    ) -> Result<Response, ApiError> {
        let headers = Headers::new();
        let set = |name: &str, value: &str| {
            headers.set(name, value).map_err(|error| ApiError::internal("open stream", error))
        };
        set("Upgrade", "websocket")?;
        set(SUBSCRIBER_HEADER, subscriber.as_str())?;
        set(KEY_HEADER, &grant.key_id)?;
        if let Some(deadline) = grant.deadline {
            set(DEADLINE_HEADER, &deadline.to_string())?;
        }
        let mut init = RequestInit::new();
        init.with_headers(headers);
        let request = Request::new_with_init(&format!("https://hub.invalid{CONNECT_PATH}"), &init)
            .map_err(|error| ApiError::internal("open stream", error))?;
        let hub = env
            .durable_object(HUB_BINDING)
            .and_then(|namespace| namespace.get_by_name(&hub_name(self.bindings.db(), subscriber)))
            .map_err(|error| ApiError::unavailable("realtime hub", error.to_string()))?;
        hub.fetch_with_request(request).await.map_err(|error| ApiError::unavailable("realtime hub", error.to_string()))
    }

    /// Tells the hubs of `subscribers` that their feeds changed. Runs after
    /// the write committed, in `wait_until`; failures are logged, and the
    /// clients' delta sync covers anything a socket missed.
    pub async fn announce(&self, env: &Platform, subscribers: &[SubscriberId]) {
        let posts = group_by_hub(self.bindings.db(), subscribers)
            .into_iter()
            .map(|(hub, members)| (hub, serde_json::to_string(&members).unwrap_or_else(|_| "[]".to_owned())));
        post_to_hubs(env, ANNOUNCE_PATH, posts).await;
    }
}

impl Environment {
    /// Closes `subscriber`'s open sockets now: their tokens were revoked, or
    /// they were deleted. Failures are logged (a socket opened with a token
    /// still closes at the token's expiry).
    pub async fn close_subscriber_sockets(&self, env: &Platform, subscriber: &SubscriberId, now_ms: u64) {
        let end = SocketEnd { key: None, subscriber: Some(subscriber.to_string()), at: now_ms as f64 };
        let body = serde_json::to_string(&end).unwrap_or_default();
        post_to_hubs(env, CLOSE_PATH, [(hub_name(self.bindings.db(), subscriber), body)]).await;
    }
}

/// What a consumed stream ticket allows a socket: the key it was issued
/// with, and when its credentials stop working (Unix ms), if they do.
pub struct StreamGrant {
    /// The id of the key behind the socket.
    pub key_id: String,
    /// The earlier of the subscriber token's and the key's expiry.
    pub deadline: Option<u64>,
}

/// Whose sockets to close.
pub(super) enum Sockets<'a> {
    /// Those opened with the key of this id.
    OfKey(&'a str),
    /// Every socket of the environment.
    All,
}

/// Tells every hub of the environment whose storage is `db_binding` that
/// `sockets` stop working at `at_ms`: they close then. Failures are logged:
/// a socket a hub missed still closes when its own deadline passes, and
/// cannot open again without a new ticket.
pub(super) async fn close_sockets(env: &Platform, db_binding: &str, sockets: Sockets<'_>, at_ms: u64) {
    let key_id = match sockets {
        Sockets::OfKey(key) => Some(key),
        Sockets::All => None,
    };
    let end = SocketEnd { key: key_id.map(str::to_owned), subscriber: None, at: at_ms as f64 };
    let body = serde_json::to_string(&end).unwrap_or_default();
    post_to_hubs(env, CLOSE_PATH, all_hubs(db_binding).into_iter().map(|hub| (hub, body.clone()))).await;
}

/// POSTs each body to `path` of its hub. Runs after the write it reports
/// committed: failures are logged, never raised.
async fn post_to_hubs(env: &Platform, path: &str, posts: impl IntoIterator<Item = (String, String)>) {
    let namespace = match env.durable_object(HUB_BINDING) {
        Ok(namespace) => namespace,
        Err(error) => {
            worker::console_error!("realtime hubs unavailable: {error}");
            return;
        }
    };
    for (hub, body) in posts {
        let sent = async {
            let stub = namespace.get_by_name(&hub)?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_body(Some(body.into()));
            let request = Request::new_with_init(&format!("https://hub.invalid{path}"), &init)?;
            stub.fetch_with_request(request).await
        };
        if let Err(error) = sent.await {
            worker::console_error!("could not reach hub {hub} ({path}): {error}");
        }
    }
}
