use serde::{Deserialize, Serialize};

/// A topic: a named group of subscribers a trigger can address.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// The key triggers name it by (`to: [{"topic": key}]`).
    pub key: String,
    /// A name for people, if one was given.
    pub name: Option<String>,
    /// How many subscribers it holds.
    pub subscribers: u64,
    /// RFC 3339 time.
    pub created_at: String,
    /// RFC 3339 time.
    pub updated_at: String,
}

/// `PUT /v1/topics/{key}`: creates the topic or renames it.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicInput {
    /// A name for people; `null` or absent: none.
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /v1/topics`: in key order.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicList {
    /// The page.
    pub items: Vec<Topic>,
    /// Cursor to the next page.
    pub page_info: super::SubscriberPageInfo,
}

/// `POST` or `DELETE /v1/topics/{key}/subscribers`: 1 to 1,000 subscriber ids.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicMembersRequest {
    /// Subscriber ids; adding creates the ones that do not exist, empty.
    pub subscribers: Vec<String>,
}

/// The answer to adding or removing topic members.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMembersResponse {
    /// The topic's key.
    pub topic: String,
    /// Members added (not already there) or removed (that were there).
    pub changed: u64,
    /// Members now.
    pub subscribers: u64,
}

/// `GET /v1/topics/{key}/subscribers`: member ids in order.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMemberList {
    /// Subscriber ids.
    pub items: Vec<String>,
    /// Cursor to the next page.
    pub page_info: super::SubscriberPageInfo,
}

/// `GET /v1/transactions/{id}`: where a trigger stands.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The trigger's transaction id.
    pub transaction_id: String,
    /// The workflow.
    pub workflow: String,
    /// `running` (a fan-out under way), `completed` or `failed`.
    pub status: String,
    /// The topics it named (empty for a trigger to subscribers only).
    pub topics: Vec<String>,
    /// How many recipients were reached, of how many.
    pub recipients: TransactionProgress,
    /// Why a fan-out stopped, when it failed.
    pub error: Option<super::ErrorDetail>,
    /// RFC 3339 time.
    pub created_at: String,
    /// RFC 3339 time, once completed or failed.
    pub completed_at: Option<String>,
}

/// Recipients reached so far, of all.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionProgress {
    /// Recipients whose page was written (messages, skips by preference and deliveries).
    pub done: u64,
    /// While running: the direct recipients plus each topic's members when
    /// the trigger was accepted (someone in two topics counts twice); once
    /// completed, the distinct recipients it reached.
    pub total: u64,
}

/// A fan-out page put on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanoutHandOffMessage {
    /// Format version: 1.
    pub v: u32,
    /// Always `fanout`, so it never passes for another queue's message.
    pub kind: String,
    /// The environment's name.
    pub environment: String,
    /// The fan-out's transaction id.
    pub transaction_id: String,
    /// Hex HMAC-SHA256 under the fan-out hand-off key.
    pub seal: String,
}
