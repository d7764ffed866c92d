//! Reaching the realtime hubs of an environment (the `FEED_HUB` Durable
//! Object namespace): opening a subscriber's socket, and announcing that
//! feeds changed.

use tidings_core::realtime::{group_by_hub, hub_name};
use tidings_core::subscriber::SubscriberId;
use worker::{Headers, Method, Request, RequestInit, Response};

use super::platform::Platform;
use super::Environment;
use crate::error::ApiError;
use crate::hub::{ANNOUNCE_PATH, CONNECT_PATH, SUBSCRIBER_HEADER};

/// The Durable Object namespace binding of the hubs.
const HUB_BINDING: &str = "FEED_HUB";

impl Environment {
    /// Hands an authenticated WebSocket upgrade for `subscriber` to their hub.
    pub async fn open_stream(&self, env: &Platform, subscriber: &SubscriberId) -> Result<Response, ApiError> {
        let headers = Headers::new();
        let set = |name: &str, value: &str| {
            headers.set(name, value).map_err(|error| ApiError::internal("open stream", error))
        };
        set("Upgrade", "websocket")?;
        set(SUBSCRIBER_HEADER, subscriber.as_str())?;
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
        let namespace = match env.durable_object(HUB_BINDING) {
            Ok(namespace) => namespace,
            Err(error) => {
                worker::console_error!("realtime hubs unavailable: {error}");
                return;
            }
        };
        for (hub, members) in group_by_hub(self.bindings.db(), subscribers) {
            let body = serde_json::to_string(&members).unwrap_or_else(|_| "[]".to_owned());
            let sent = async {
                let stub = namespace.get_by_name(&hub)?;
                let mut init = RequestInit::new();
                init.with_method(Method::Post).with_body(Some(body.into()));
                let request = Request::new_with_init(&format!("https://hub.invalid{ANNOUNCE_PATH}"), &init)?;
                stub.fetch_with_request(request).await
            };
            if let Err(error) = sent.await {
                worker::console_error!("could not announce to hub {hub}: {error}");
            }
        }
    }
}
