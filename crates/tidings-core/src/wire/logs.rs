use serde::{Deserialize, Serialize};

/// One execution log entry: one step for one recipient, or a refused trigger.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Time-ordered id; also the cursor.
    pub id: String,
    /// The trigger it belongs to.
    pub transaction_id: String,
    /// The workflow.
    pub workflow: String,
    /// The recipient, when the entry is about one.
    pub subscriber_id: Option<String>,
    /// `in_app`, or `trigger` for a refused trigger.
    pub step: String,
    /// `stored` or `failed`.
    pub status: String,
    /// Details: the message id, or the error code and message.
    pub detail: serde_json::Value,
    /// RFC 3339 time.
    pub created_at: String,
}

/// `GET /v1/logs`: newest first.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogList {
    /// The page.
    pub items: Vec<LogEntry>,
    /// Cursor to older entries.
    pub page_info: super::SubscriberPageInfo,
}
