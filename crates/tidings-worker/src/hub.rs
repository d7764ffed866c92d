//! `FeedHub`: the Durable Object that holds realtime sockets.
//!
//! Each hub holds the sockets of the subscribers [`tidings_core::realtime`]
//! assigns to it, tagged with the subscriber id and the id of the key the
//! socket's ticket was issued with, through the hibernation API: an idle
//! hub is evicted from memory while its sockets stay open, and `ping` is
//! answered by the runtime without waking it. The worker opens sockets here
//! only after consuming a stream ticket ([`crate::routes`]), and announces
//! changes after they are committed ([`crate::store`]).
//!
//! A socket lives no longer than the credentials behind it: each carries a
//! deadline (when its subscriber token or key expires), and an alarm closes
//! it then (code [`CREDENTIAL_EXPIRED`]); a revoked key's sockets, and a
//! subscriber's whose tokens were revoked, are closed when the worker tells
//! the hub ([`CLOSE_PATH`], code [`REVOKED`]).
//! A hub stores nothing but its alarm.

// The runtime constructs Durable Objects with its `Env`; the hub uses no binding.
#![allow(clippy::disallowed_types)]

use serde::{Deserialize, Serialize};
use tidings_core::realtime::{self, CHANGED, READY};
use worker::worker_sys::WebSocketRequestResponsePair;
use worker::{
    durable_object, Date, DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair,
};

/// The path a hub accepts a socket on, for the subscriber in [`SUBSCRIBER_HEADER`].
pub const CONNECT_PATH: &str = "/connect";
/// The header naming the subscriber of a socket.
pub const SUBSCRIBER_HEADER: &str = "X-Tidings-Subscriber";
/// The header naming the id of the key behind a socket.
pub const KEY_HEADER: &str = "X-Tidings-Key";
/// The header giving when a socket's credentials stop working (Unix ms), if they do.
pub const DEADLINE_HEADER: &str = "X-Tidings-Deadline";
/// The path a hub is told of changes on (a JSON array of subscriber ids).
pub const ANNOUNCE_PATH: &str = "/announce";
/// The path a hub is told credentials stop working on ([`SocketEnd`]).
pub const CLOSE_PATH: &str = "/close";
/// The close code of a socket whose token or key expired.
pub const CREDENTIAL_EXPIRED: u16 = 4001;
/// The close code of a socket whose key, or whose subscriber's tokens, were revoked.
pub const REVOKED: u16 = 4003;
/// The close code of a subscriber's oldest socket when they open one past
/// [`realtime::MAX_SOCKETS_PER_SUBSCRIBER`].
pub const REPLACED: u16 = 4008;

/// Credentials that stop working at `at` (Unix ms): a key's sockets, a
/// subscriber's (their tokens were revoked, or they were deleted), or with
/// neither, every socket of the hub (the environment is being deleted).
#[derive(Debug, Serialize, Deserialize)]
pub struct SocketEnd {
    /// The key's id.
    pub key: Option<String>,
    /// The subscriber's id.
    pub subscriber: Option<String>,
    /// When, Unix ms.
    pub at: f64,
}

/// What a socket remembers across hibernation.
#[derive(Debug, Serialize, Deserialize)]
struct Attachment {
    /// When its credentials stop working, Unix ms.
    deadline: Option<f64>,
    /// When it was opened, Unix ms (absent on sockets opened before it was kept).
    #[serde(default)]
    opened_at: Option<f64>,
}

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
                let headers = request.headers();
                let (Some(subscriber), Some(key)) = (headers.get(SUBSCRIBER_HEADER)?, headers.get(KEY_HEADER)?) else {
                    return Response::error("subscriber or key missing", 400);
                };
                let deadline = headers.get(DEADLINE_HEADER)?.and_then(|text| text.parse::<f64>().ok());
                // A subscriber keeps a bounded number of sockets here: past it, their oldest closes.
                let open = self.state.get_websockets_with_tag(&subscriber);
                let excess = (open.len() + 1).saturating_sub(realtime::MAX_SOCKETS_PER_SUBSCRIBER);
                for socket in oldest_first(open).into_iter().take(excess) {
                    end_socket(&socket, REPLACED);
                }
                let pair = WebSocketPair::new()?;
                self.state.accept_websocket_with_tags(&pair.server, &[subscriber.as_str(), &key_tag(&key)]);
                pair.server
                    .serialize_attachment(Attachment { deadline, opened_at: Some(Date::now().as_millis() as f64) })?;
                pair.server.send_with_str(READY)?;
                if let Some(deadline) = deadline {
                    self.wake_by(deadline).await?;
                }
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
            CLOSE_PATH => {
                let end: SocketEnd = request.json().await?;
                let sockets = match (&end.key, &end.subscriber) {
                    (Some(key), _) => self.state.get_websockets_with_tag(&key_tag(key)),
                    (None, Some(subscriber)) => self.state.get_websockets_with_tag(subscriber),
                    (None, None) => self.state.get_websockets(),
                };
                let count = sockets.len();
                if end.at <= Date::now().as_millis() as f64 {
                    for socket in sockets {
                        end_socket(&socket, REVOKED);
                    }
                } else {
                    for socket in sockets {
                        let current = socket.deserialize_attachment::<Attachment>().ok().flatten();
                        let opened_at = current.as_ref().and_then(|attachment| attachment.opened_at);
                        let deadline =
                            current.and_then(|attachment| attachment.deadline).map_or(end.at, |at| at.min(end.at));
                        socket.serialize_attachment(Attachment { deadline: Some(deadline), opened_at })?;
                    }
                    self.wake_by(end.at).await?;
                }
                Response::ok(count.to_string())
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let now = Date::now().as_millis() as f64;
        let mut next: Option<f64> = None;
        for socket in self.state.get_websockets() {
            let Some(deadline) = socket.deserialize_attachment::<Attachment>().ok().flatten().and_then(|a| a.deadline)
            else {
                continue;
            };
            if deadline <= now {
                end_socket(&socket, CREDENTIAL_EXPIRED);
            } else {
                next = Some(next.map_or(deadline, |next: f64| next.min(deadline)));
            }
        }
        if let Some(next) = next {
            self.state.storage().set_alarm(offset_from_now(next)).await?;
        }
        Response::ok("")
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

impl FeedHub {
    /// Makes sure the alarm goes off by `deadline` (Unix ms).
    async fn wake_by(&self, deadline: f64) -> Result<()> {
        let storage = self.state.storage();
        match storage.get_alarm().await? {
            // `get_alarm` answers a time; `set_alarm` takes an offset from now.
            Some(alarm) if (alarm as f64) <= deadline => Ok(()),
            _ => storage.set_alarm(offset_from_now(deadline)).await,
        }
    }
}

/// The offset from now, in ms, of `deadline` (Unix ms), never negative:
/// what `set_alarm` takes.
fn offset_from_now(deadline: f64) -> i64 {
    (deadline - Date::now().as_millis() as f64).max(0.0) as i64
}

/// `sockets`, the longest open first (those that never said when they
/// opened count as oldest).
fn oldest_first(mut sockets: Vec<WebSocket>) -> Vec<WebSocket> {
    let opened = |socket: &WebSocket| {
        socket.deserialize_attachment::<Attachment>().ok().flatten().and_then(|attachment| attachment.opened_at)
    };
    sockets.sort_by(|a, b| opened(a).unwrap_or(0.0).total_cmp(&opened(b).unwrap_or(0.0)));
    sockets
}

/// Tells a socket why it ends, then closes it with `code`: the message
/// comes first so a client learns the reason even where its runtime reports
/// the close late; from here on the socket hears nothing more.
fn end_socket(socket: &WebSocket, code: u16) {
    let (message, reason) = match code {
        REVOKED => (realtime::REVOKED, "the credentials were revoked"),
        REPLACED => (realtime::REPLACED, "the subscriber opened too many sockets; this was the oldest"),
        _ => (realtime::CREDENTIAL_EXPIRED, "the credential expired"),
    };
    let _ = socket.send_with_str(message);
    let _ = socket.close(Some(code), Some(reason));
}

/// The tag of the sockets opened with the key `key_id`. `#` is not allowed
/// in subscriber ids, so no subscriber's tag is ever a key's.
fn key_tag(key_id: &str) -> String {
    format!("#key {key_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_tags_are_never_subscriber_ids() {
        for key in ["key_abc", "", "x"] {
            assert!(tidings_core::subscriber::SubscriberId::parse(&key_tag(key)).is_err());
        }
    }
}
