use serde::{Deserialize, Serialize};

/// A subscriber's profile as sent to `PUT /v1/subscribers/{id}` (which
/// replaces the whole profile) or as one entry of a bulk upsert.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberInput {
    /// Required in bulk upserts; optional with PUT, where it must match the path.
    #[serde(default)]
    pub subscriber_id: Option<String>,
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number, E.164.
    #[serde(default)]
    pub phone: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Language tag.
    #[serde(default)]
    pub locale: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Free-form object, available to templates as `subscriber.data`.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

/// A stored subscriber.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscriber {
    /// The customer's id for them.
    pub subscriber_id: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Language tag.
    pub locale: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// Free-form data.
    pub data: serde_json::Value,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last upsert.
    pub updated_at: String,
}

/// `GET /v1/subscribers`: one page, ordered by id.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriberList {
    /// The page.
    pub items: Vec<Subscriber>,
    /// Pass `after` for the next page.
    pub page_info: SubscriberPageInfo,
}

/// Cursor of a subscriber list.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberPageInfo {
    /// The last id of this page, when more follow.
    pub after: Option<String>,
    /// Whether more subscribers follow.
    pub has_more: bool,
}

/// `POST /v1/subscribers/bulk`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkSubscribersRequest {
    /// 1 to 500 profiles, each with its `subscriber_id`.
    pub subscribers: Vec<SubscriberInput>,
}

/// `POST /v1/subscribers/{id}/token`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Lifetime in seconds, from 1 to the environment's
    /// `subscriber_token_max_ttl_seconds` (at most 30 days; default 3,600).
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional, type = "number"))]
    pub ttl_seconds: Option<u64>,
    /// `write` (default: read, mark, preferences) or `read` (feed, counts and preferences; changes nothing).
    #[serde(default)]
    pub scope: Option<String>,
}

/// A subscriber token for a browser (`X-Subscriber-Token`).
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The token.
    pub token: String,
    /// RFC 3339 expiry.
    pub expires_at: String,
    /// `read` or `write`.
    pub scope: String,
}

/// `POST /v1/subscribers/{id}/feed/stream-ticket`: what opens one realtime
/// socket (`…/feed/stream?ticket=…`), once, within 60 seconds.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamTicketResponse {
    /// `stk_<environment>_…`.
    pub ticket: String,
    /// RFC 3339: the ticket is refused after this.
    pub expires_at: String,
}

/// `DELETE /v1/subscribers/{id}/token`: every token issued for the
/// subscriber until now stops working.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevocation {
    /// The subscriber.
    pub subscriber_id: String,
    /// RFC 3339: tokens issued before this are refused.
    pub tokens_not_before: String,
}

/// The answer to a bulk upsert, once every profile is stored.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkSubscribersResponse {
    /// Ids that did not exist before.
    pub created: Vec<String>,
    /// Ids whose profile was replaced.
    pub updated: Vec<String>,
}
