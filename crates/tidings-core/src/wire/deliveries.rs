use serde::{Deserialize, Serialize};

/// A webhook delivery: one webhook step for one recipient.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Time-ordered id, sent to the receiver as `Tidings-Delivery-Id` on every attempt.
    pub id: String,
    /// The trigger it belongs to.
    pub transaction_id: String,
    /// The workflow.
    pub workflow: String,
    /// The recipient.
    pub subscriber_id: String,
    /// The integration it goes to.
    pub integration: String,
    /// `pending` (waiting for an attempt), `delivered`, `dead` (the schedule
    /// ran out, or the receiver refused it for good), or `failed` (a dead
    /// delivery recorded before retries were scheduled).
    pub status: String,
    /// Attempts made, replays included.
    pub attempts: u32,
    /// Times it was replayed.
    pub replays: u32,
    /// The last HTTP status, when an answer came.
    pub last_status: Option<u16>,
    /// Why the last attempt failed: a class such as `http_status_503`,
    /// `connection_failed`, `timeout`, `address_refused`.
    pub last_error: Option<String>,
    /// RFC 3339 time of the next attempt, while pending.
    pub next_attempt_at: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// One attempt at a delivery.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// 1 for the first attempt, counting on through replays.
    pub attempt: u32,
    /// RFC 3339 time it started.
    pub at: String,
    /// The HTTP status, when an answer came.
    pub status_code: Option<u16>,
    /// How long the receiver took, in milliseconds.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub latency_ms: u64,
    /// `delivered`, `retryable` or `final`.
    pub outcome: String,
    /// Why it failed, as a class.
    pub error: Option<String>,
}

/// `GET /v1/deliveries/{id}`: the delivery and every attempt.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryDetail {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Its attempts, oldest first.
    pub history: Vec<DeliveryAttempt>,
}

/// `GET /v1/deliveries`: newest first.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryList {
    /// The page.
    pub items: Vec<Delivery>,
    /// Cursor to older deliveries.
    pub page_info: super::SubscriberPageInfo,
}

/// `POST /v1/deliveries/replay`: which dead deliveries to send again.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayFilter {
    /// Only this integration's.
    #[serde(default)]
    pub integration: Option<String>,
    /// Only this workflow's.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Only deliveries created at or after this RFC 3339 time.
    #[serde(default)]
    pub since: Option<String>,
    /// At most this many (1–500, default 100); repeat for more.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The answer to a replay: what was put back on the schedule.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayResult {
    /// The deliveries replayed by this request (dead ones only; a pending or
    /// delivered delivery is left as it is, so repeating a replay sends nothing twice).
    pub replayed: Vec<String>,
}

/// A delivery on the queue (see `crate::delivery::HandOff`), with its seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryHandOffMessage {
    /// Format version: 1.
    pub v: u32,
    /// The environment's name.
    pub environment: String,
    /// The delivery's id.
    pub delivery: String,
    /// Attempts made when it was handed off.
    pub attempts: u32,
    /// When it was handed off (ms since the epoch).
    pub at: u64,
    /// Hex HMAC-SHA256 under the hand-off key.
    pub seal: String,
}
