//! Reading a subscriber's feed: query parameters, pages and counts.

use crate::message::{Message, MessageId};
use crate::timestamp::rfc3339;
use crate::wire::{FeedItem, PageInfo};

/// Page size when the request names none.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest page a request may ask for.
pub const MAX_LIMIT: u32 = 100;

/// Why feed query parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// `limit` is not a whole number from 1 to [`MAX_LIMIT`].
    #[error("limit must be a whole number from 1 to {MAX_LIMIT}")]
    Limit,
    /// `after` is not a message id.
    #[error("after must be a message id taken from page_info")]
    Cursor,
    /// A parameter this route does not know.
    #[error("unknown query parameter {0:?}")]
    UnknownParameter(String),
}

impl FeedError {
    /// The query parameter at fault.
    pub fn field(&self) -> String {
        match self {
            Self::Limit => "limit".to_owned(),
            Self::Cursor => "after".to_owned(),
            Self::UnknownParameter(name) => name.clone(),
        }
    }
}

/// A validated feed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedQuery {
    /// How many messages to return.
    pub limit: u32,
    /// Return only messages older than this one.
    pub after: Option<MessageId>,
}

impl FeedQuery {
    /// Reads decoded query parameters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, FeedError> {
        let mut query = Self { limit: DEFAULT_LIMIT, after: None };
        for (name, value) in pairs {
            match name {
                "limit" => {
                    query.limit = value.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or(FeedError::Limit)?;
                }
                "after" => query.after = Some(MessageId::parse(value).map_err(|_| FeedError::Cursor)?),
                other => return Err(FeedError::UnknownParameter(other.to_owned())),
            }
        }
        Ok(query)
    }
}

/// Builds a page from up to `limit + 1` messages fetched newest first.
pub fn page(query: &FeedQuery, mut fetched: Vec<Message>) -> (Vec<FeedItem>, PageInfo) {
    let has_more = fetched.len() > query.limit as usize;
    fetched.truncate(query.limit as usize);
    let items: Vec<FeedItem> = fetched.iter().map(feed_item).collect();
    let page_info = PageInfo {
        after: if has_more { items.last().map(|item| item.id.clone()) } else { None },
        before: if query.after.is_some() { items.first().map(|item| item.id.clone()) } else { None },
        has_more,
    };
    (items, page_info)
}

/// The feed's view of a message.
pub fn feed_item(message: &Message) -> FeedItem {
    FeedItem {
        id: message.id.to_string(),
        workflow: message.workflow.clone(),
        subject: message.subject.clone(),
        body: message.body.clone(),
        avatar: message.avatar.clone(),
        actions: message.actions.clone(),
        payload: message.payload.clone(),
        created_at: rfc3339(message.created_at),
        seen_at: message.seen_at.map(rfc3339),
        read_at: message.read_at.map(rfc3339),
        archived_at: message.archived_at.map(rfc3339),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::subscriber::SubscriberId;

    fn message(at: u64) -> Message {
        Message {
            id: MessageId::generate(at, [0; 10]),
            subscriber: SubscriberId::parse("s").unwrap(),
            workflow: "w".to_owned(),
            transaction_id: "t".to_owned(),
            subject: "s".to_owned(),
            body: "b".to_owned(),
            avatar: None,
            actions: vec![],
            payload: json!({}),
            created_at: at,
            seen_at: None,
            read_at: Some(at + 1),
            archived_at: None,
        }
    }

    #[test]
    fn query_defaults_and_limits() {
        assert_eq!(FeedQuery::from_pairs([]), Ok(FeedQuery { limit: DEFAULT_LIMIT, after: None }));
        assert_eq!(FeedQuery::from_pairs([("limit", "100")]).map(|q| q.limit), Ok(100));
        for bad in ["0", "101", "-1", "ten", ""] {
            assert_eq!(FeedQuery::from_pairs([("limit", bad)]), Err(FeedError::Limit), "{bad}");
        }
        assert_eq!(FeedQuery::from_pairs([("after", "nope")]), Err(FeedError::Cursor));
        assert_eq!(FeedQuery::from_pairs([("sort", "x")]).unwrap_err().field(), "sort");
    }

    #[test]
    fn pages_carry_cursors() {
        let query = FeedQuery { limit: 2, after: None };
        let (items, info) = page(&query, vec![message(3), message(2), message(1)]);
        assert_eq!(items.len(), 2);
        assert!(info.has_more);
        assert_eq!(info.after.as_deref(), Some(items[1].id.as_str()));
        assert_eq!(info.before, None);
        assert_eq!(items[0].read_at.as_deref(), Some("1970-01-01T00:00:00.004Z"));

        let next = FeedQuery { limit: 2, after: MessageId::parse(&items[1].id).ok() };
        let (items, info) = page(&next, vec![message(1)]);
        assert!(!info.has_more);
        assert_eq!(info.after, None);
        assert_eq!(info.before.as_deref(), Some(items[0].id.as_str()));
    }
}
