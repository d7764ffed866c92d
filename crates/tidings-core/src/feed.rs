//! Reading a subscriber's feed: query parameters, pages and counts.

use crate::feed_filter::{FeedFilter, FilterError};
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
    /// A filter parameter is invalid.
    #[error("{0}")]
    Filter(FilterError),
    /// Both `after` and `before` were given.
    #[error("give after or before, not both")]
    BothCursors,
}

impl FeedError {
    /// The query parameter at fault.
    pub fn field(&self) -> String {
        match self {
            Self::Limit => "limit".to_owned(),
            Self::Cursor => "after".to_owned(),
            Self::UnknownParameter(name) => name.clone(),
            Self::Filter(error) => error.field.clone(),
            Self::BothCursors => "before".to_owned(),
        }
    }
}

/// A validated feed request.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedQuery {
    /// How many messages to return.
    pub limit: u32,
    /// Return only messages older than this one.
    pub after: Option<MessageId>,
    /// Return only messages newer than this one (the previous page).
    pub before: Option<MessageId>,
    /// Which messages.
    pub filter: FeedFilter,
}

impl FeedQuery {
    /// Reads decoded query parameters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, FeedError> {
        let mut query = Self { limit: DEFAULT_LIMIT, after: None, before: None, filter: FeedFilter::default() };
        for (name, value) in pairs {
            match name {
                "limit" => {
                    query.limit = value.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or(FeedError::Limit)?;
                }
                "after" => query.after = Some(MessageId::parse(value).map_err(|_| FeedError::Cursor)?),
                "before" => {
                    query.before = Some(MessageId::parse(value).map_err(|_| {
                        FeedError::Filter(FilterError { field: "before".to_owned(), reason: "must be a message id" })
                    })?);
                }
                other => {
                    if !query.filter.apply_param(other, value).map_err(FeedError::Filter)? {
                        return Err(FeedError::UnknownParameter(other.to_owned()));
                    }
                }
            }
        }
        if query.after.is_some() && query.before.is_some() {
            return Err(FeedError::BothCursors);
        }
        Ok(query)
    }
}

/// The cursors of a page whose newest and oldest items have these ids;
/// `beyond` says whether the feed goes on past the page in the direction it
/// was read (older messages, or newer ones when paging back with `before`).
pub fn page_info(query: &FeedQuery, beyond: bool, newest: Option<&str>, oldest: Option<&str>) -> PageInfo {
    // Older messages exist past this page when more were found going back
    // in time, or when this page was reached from older ones with `before`.
    let (older, newer) = if query.before.is_some() { (true, beyond) } else { (beyond, query.after.is_some()) };
    PageInfo {
        after: if older { oldest.map(str::to_owned) } else { None },
        before: if newer { newest.map(str::to_owned) } else { None },
        has_more: older && oldest.is_some(),
    }
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
        tags: message.tags.clone(),
        payload: message.payload.clone(),
        created_at: rfc3339(message.created_at),
        seen_at: message.seen_at.map(rfc3339),
        read_at: message.read_at.map(rfc3339),
        archived_at: message.archived_at.map(rfc3339),
        attachments: message.attachments.clone(),
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
            tags: vec![],
            payload: json!({}),
            created_at: at,
            seen_at: None,
            read_at: Some(at + 1),
            archived_at: None,
            attachments: vec![],
        }
    }

    #[test]
    fn query_defaults_and_limits() {
        let defaults = FeedQuery { limit: DEFAULT_LIMIT, after: None, before: None, filter: FeedFilter::default() };
        assert_eq!(FeedQuery::from_pairs([]), Ok(defaults));
        assert_eq!(FeedQuery::from_pairs([("limit", "100")]).map(|q| q.limit), Ok(100));
        for bad in ["0", "101", "-1", "ten", ""] {
            assert_eq!(FeedQuery::from_pairs([("limit", bad)]), Err(FeedError::Limit), "{bad}");
        }
        assert_eq!(FeedQuery::from_pairs([("after", "nope")]), Err(FeedError::Cursor));
        assert_eq!(FeedQuery::from_pairs([("sort", "x")]).unwrap_err().field(), "sort");
    }

    #[test]
    fn pages_carry_cursors() {
        let first = FeedQuery { limit: 2, after: None, before: None, filter: FeedFilter::default() };
        let info = page_info(&first, true, Some("03"), Some("02"));
        assert_eq!(info, PageInfo { after: Some("02".to_owned()), before: None, has_more: true });

        let next = FeedQuery { after: Some(message(2).id), ..first.clone() };
        let info = page_info(&next, false, Some("01"), Some("01"));
        assert_eq!(info, PageInfo { after: None, before: Some("01".to_owned()), has_more: false });

        let back = FeedQuery { before: Some(message(1).id), ..first.clone() };
        let info = page_info(&back, false, Some("03"), Some("02"));
        assert_eq!(info, PageInfo { after: Some("02".to_owned()), before: None, has_more: true });
        let info = page_info(&back, true, Some("03"), Some("02"));
        assert_eq!(info.before.as_deref(), Some("03"));

        assert_eq!(page_info(&first, false, None, None), PageInfo { after: None, before: None, has_more: false });
    }

    #[test]
    fn items_show_times_as_rfc3339() {
        assert_eq!(feed_item(&message(3)).read_at.as_deref(), Some("1970-01-01T00:00:00.004Z"));
    }
}
