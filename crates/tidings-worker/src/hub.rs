//! `FeedHub`: the Durable Object that holds realtime sockets.
//!
//! Each hub holds the sockets of the subscribers [`tidings_core::realtime`]
//! assigns to it, tagged with the subscriber id, through the hibernation
//! API: an idle hub is evicted from memory while its sockets stay open, and
//! `ping` is answered by the runtime without waking it. The worker opens
//! sockets here only after authenticating the subscriber
//! ([`crate::routes`]), and announces changes after they are committed
//! ([`crate::store`]). A hub stores nothing.

// The runtime constructs Durable Objects with its `Env`; the hub uses no binding.
#![allow(clippy::disallowed_types)]

use tidings_core::realtime::{CHANGED, READY};
use worker::worker_sys::WebSocketRequestResponsePair;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair,
};

/// The path a hub accepts a socket on, for the subscriber in [`SUBSCRIBER_HEADER`].
pub const CONNECT_PATH: &str = "/connect";
/// The header naming the subscriber of a socket.
pub const SUBSCRIBER_HEADER: &str = "X-Tidings-Subscriber";
/// The path a hub is told of changes on (a JSON array of subscriber ids).
pub const ANNOUNCE_PATH: &str = "/announce";

/// Holds the realtime sockets of some subscribers of one environment.
#[durable_object]
pub struct FeedHub {
    state: State,
}

impl DurableObject for FeedHub {
    fn new(state: State, _env: Env) -> Self {
        if let Ok(pair) = WebSocketRequestResponsePair::new("ping", "pong") {
            state.set_websocket_auto_response(&pair);
        }
        Self { state }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        match request.path().as_str() {
            CONNECT_PATH => {
                let Some(subscriber) = request.headers().get(SUBSCRIBER_HEADER)? else {
                    return Response::error("subscriber missing", 400);
                };
                let pair = WebSocketPair::new()?;
                self.state.accept_websocket_with_tags(&pair.server, &[subscriber.as_str()]);
                pair.server.send_with_str(READY)?;
                Response::from_websocket(pair.client)
            }
            ANNOUNCE_PATH => {
                let subscribers: Vec<String> = request.json().await?;
                let mut reached = 0;
                for subscriber in &subscribers {
                    for socket in self.state.get_websockets_with_tag(subscriber) {
                        // A socket closing as we speak is not an error.
                        if socket.send_with_str(CHANGED).is_ok() {
                            reached += 1;
                        }
                    }
                }
                Response::ok(reached.to_string())
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn websocket_message(&self, _socket: WebSocket, _message: WebSocketIncomingMessage) -> Result<()> {
        // Clients only listen; `ping` is answered by the runtime.
        Ok(())
    }

    async fn websocket_close(&self, socket: WebSocket, code: usize, reason: String, _was_clean: bool) -> Result<()> {
        // Complete the closing handshake; 1005/1006 cannot be sent back.
        let code = if code == 1005 || code == 1006 { 1000 } else { code as u16 };
        let _ = socket.close(Some(code), Some(reason));
        Ok(())
    }

    async fn websocket_error(&self, _socket: WebSocket, _error: worker::Error) -> Result<()> {
        Ok(())
    }
}
