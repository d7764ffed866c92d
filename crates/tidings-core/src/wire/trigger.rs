use serde::{Deserialize, Serialize};

/// `POST /v1/events/trigger`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    /// The key of the workflow to run.
    pub workflow: String,
    /// One subscriber id or a list of them.
    pub to: Recipients,
    /// Data for the templates, available as `payload.…`.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// Who caused the notification, available as `actor.…`.
    #[serde(default)]
    pub actor: Option<serde_json::Value>,
    /// The customer's tenant, if they partition their users.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// The `to` of a trigger.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Recipients {
    /// A single subscriber id.
    One(String),
    /// Several recipients.
    Many(Vec<Recipient>),
}

/// One recipient: a subscriber id, or a subscriber object (with
/// `subscriber_id`) whose profile is created or replaced first.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Recipient {
    /// An id; an unknown id becomes an empty subscriber.
    Id(String),
    /// A topic: its members when the fan-out reaches them.
    Topic(TopicRecipient),
    /// A profile to upsert.
    Subscriber(super::SubscriberInput),
}

/// `{"topic": "key"}` in a trigger's `to`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRecipient {
    /// The topic's key.
    pub topic: String,
}

/// The answer to a trigger, sent once every message is stored.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerResponse {
    /// Identifies this trigger in logs.
    pub transaction_id: String,
    /// `processed`: every message below is stored; `queued`: the trigger
    /// names topics, is durably recorded and fans out in the background
    /// (follow it with `GET /v1/transactions/{transaction_id}`).
    pub status: String,
    /// One message per recipient.
    pub messages: Vec<TriggeredMessage>,
    /// Recipients given as bare ids that did not exist and were created empty.
    pub created_subscribers: Vec<String>,
    /// Webhook deliveries, stored as pending and sent right after this answer.
    pub deliveries: Vec<TriggeredDelivery>,
}

/// A webhook delivery created by a trigger; its outcome appears in the logs.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggeredDelivery {
    /// The delivery id (also its log entry id).
    pub id: String,
    /// The recipient it is about.
    pub subscriber_id: String,
    /// The integration it goes to.
    pub integration: String,
}

/// `POST /v1/events/trigger/bulk`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkTriggerRequest {
    /// 1 to 100 triggers.
    pub events: Vec<TriggerRequest>,
}

/// The answer to a bulk trigger: one result per event, in order.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkTriggerResponse {
    /// Per event.
    pub results: Vec<BulkTriggerResult>,
}

/// One event's result: what the single-trigger route would have answered.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkTriggerResult {
    /// The HTTP status it would have had (202, or an error status).
    pub status: u16,
    /// Whether this replays an earlier answer (same Idempotency-Key).
    pub replay: bool,
    /// A trigger response or an error body.
    pub body: serde_json::Value,
}

/// A message created by a trigger.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggeredMessage {
    /// The message id.
    pub id: String,
    /// Whose feed it is in.
    pub subscriber_id: String,
}
