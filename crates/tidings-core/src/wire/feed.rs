use serde::{Deserialize, Serialize};

/// `GET /v1/subscribers/{id}/feed`: one page, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedResponse {
    /// The messages of this page.
    pub items: Vec<FeedItem>,
    /// Cursors to the neighbouring pages.
    pub page_info: PageInfo,
    /// Exact counts over the whole feed, not only this page.
    pub counts: FeedCounts,
}

/// A message as the feed shows it.
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
    /// The trigger payload.
    pub payload: serde_json::Value,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time first seen, or null.
    pub seen_at: Option<String>,
    /// RFC 3339 time read, or null.
    pub read_at: Option<String>,
    /// RFC 3339 time archived, or null.
    pub archived_at: Option<String>,
}

/// Cursors for moving through a feed.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeedCounts {
    /// Messages not archived.
    pub total: u64,
    /// Not archived and not read.
    pub unread: u64,
    /// Not archived and not seen.
    pub unseen: u64,
}
