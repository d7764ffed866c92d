use serde::{Deserialize, Serialize};

/// `GET /v1/subscribers/{id}/feed`: one page, newest first.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedResponse {
    /// The messages of this page.
    pub items: Vec<FeedItem>,
    /// Cursors to the neighbouring pages.
    pub page_info: PageInfo,
    /// Exact counts over the whole feed, not only this page.
    pub counts: FeedCounts,
    /// Pass as `since` to `…/feed/changes` to hear of every change after this page was read.
    pub watermark: String,
}

/// `GET /v1/subscribers/{id}/feed/changes?since=…`: what changed, in order.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedChangesResponse {
    /// Changes in the order they happened; apply them in turn.
    pub changes: Vec<FeedChange>,
    /// Pass as `since` next time.
    pub watermark: String,
    /// Whether more changes wait: ask again at once with `watermark`.
    pub has_more: bool,
    /// Exact counts over the whole feed now.
    pub counts: FeedCounts,
}

/// One change of a feed.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedChange {
    /// A message is new or changed and belongs in the view: insert or replace it.
    Upsert {
        /// The message as it is now.
        item: Box<FeedItem>,
    },
    /// A message left the view: drop it.
    Remove {
        /// Its id.
        id: String,
        /// Why.
        reason: RemovalReason,
    },
}

/// Why a message left a view.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// It was deleted.
    Deleted,
    /// It changed and no longer matches the view's filter (for example, archived).
    Filtered,
}

/// A message as the feed shows it.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedItem {
    /// The message id; also its cursor.
    pub id: String,
    /// The workflow that produced it.
    pub workflow: String,
    /// Rendered subject.
    pub subject: String,
    /// Rendered body.
    pub body: String,
    /// Rendered avatar URL, if the workflow has one.
    pub avatar: Option<String>,
    /// Rendered buttons.
    pub actions: Vec<super::ActionInput>,
    /// The workflow's tags.
    pub tags: Vec<String>,
    /// The trigger payload.
    #[cfg_attr(feature = "typescript", ts(type = "Record<string, unknown>"))]
    pub payload: serde_json::Value,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time first seen, or null.
    pub seen_at: Option<String>,
    /// RFC 3339 time read, or null.
    pub read_at: Option<String>,
    /// RFC 3339 time archived, or null.
    pub archived_at: Option<String>,
    /// Files the message carries, each with a short-lived signed URL.
    #[serde(default)]
    pub attachments: Vec<super::Attachment>,
}

/// Cursors for moving through a feed.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageInfo {
    /// Pass as `after` to get the next (older) page.
    pub after: Option<String>,
    /// Pass as `before` to get the previous (newer) page.
    pub before: Option<String>,
    /// Whether older messages exist beyond this page.
    pub has_more: bool,
}

/// Exact counts over a feed.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeedCounts {
    /// Messages not archived.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub total: u64,
    /// Not archived and not read.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub unread: u64,
    /// Not archived and not seen.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub unseen: u64,
}

/// A feed filter in JSON, for actions and multi-filter counts.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedFilterInput {
    /// Only read (`true`) or unread (`false`).
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub read: Option<bool>,
    /// Only seen (`true`) or unseen (`false`).
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub seen: Option<bool>,
    /// `exclude` (default), `include` or `only`.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional, type = "\"exclude\" | \"include\" | \"only\""))]
    pub archived: Option<String>,
    /// Messages carrying every one of these tags.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub tags: Option<Vec<String>>,
    /// Messages carrying at least one of these tags.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub tags_any: Option<Vec<String>>,
    /// Only this workflow.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub workflow: Option<String>,
    /// Payload fields by dotted path, each equal to the value.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional, type = "Record<string, string | number | boolean>"))]
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v1/subscribers/{id}/feed/actions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedActionRequest {
    /// `seen`, `read`, `unread`, `archive`, `unarchive` or `delete`.
    pub action: String,
    /// Up to 100 message ids…
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    /// …or every message matching this filter.
    #[serde(default)]
    pub filter: Option<FeedFilterInput>,
}

/// The answer to an action, with the feed's counts after it.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedActionResponse {
    /// Messages changed (or deleted).
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub updated: u64,
    /// Counts of the feed after the action.
    pub counts: FeedCounts,
}

/// `GET /v1/subscribers/{id}/feed/counts?filters=[…]`: one result per filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedCountsList {
    /// In the order of the filters asked for.
    pub results: Vec<FeedCounts>,
}
