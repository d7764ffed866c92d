//! Delta sync of a feed: watermarks, change queries and change pages.
//!
//! Every write to an environment's messages takes the next value of the
//! environment's feed clock and stamps it on each row it changes (deleted
//! messages leave a tombstone with that version). A watermark is a position
//! in that order: `<version>` means "everything up to this version", and
//! `<version>.<message id>` means "up to this message of that version", for
//! the middle of a page. A client that sends its watermark back gets, in
//! version order, every message that changed since, so it catches up
//! exactly, however long it was away (within the tombstone retention).
//!
//! Where the database has read replicas, a watermark also carries the
//! bookmark of the read that made it (`<position>~<bookmark>`): the next
//! read starts its session there, so it never sees an older state than the
//! one the client already holds.

use std::cmp::Ordering;
use std::fmt;

use crate::feed::{feed_item, DEFAULT_LIMIT, MAX_LIMIT};
use crate::feed_filter::{FeedFilter, FilterError};
use crate::message::{Message, MessageId};
use crate::wire::{FeedChange, RemovalReason};

/// How long deleted messages are remembered for delta sync (30 days).
pub const TOMBSTONE_RETENTION_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// The longest read-replica bookmark a watermark or request carries.
pub const MAX_BOOKMARK_LEN: usize = 256;

/// Whether `text` can be a database session's bookmark: 1 to
/// [`MAX_BOOKMARK_LEN`] letters, digits, `-`, `_`, `:` and `.` (D1's are hex
/// groups joined by `-`). Anything else is refused before it reaches D1.
pub fn is_bookmark(text: &str) -> bool {
    (1..=MAX_BOOKMARK_LEN).contains(&text.len())
        && text.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b':' | b'.'))
}

/// A position in an environment's feed clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// Every change up to this version was seen…
    pub version: u64,
    /// …and, when set, those of `version` up to this message id only.
    pub after: Option<MessageId>,
    /// The read-replica bookmark of the read that made it, if any.
    pub bookmark: Option<String>,
}

impl Watermark {
    /// The watermark covering every change up to `version`.
    pub fn at(version: u64) -> Self {
        Self { version, after: None, bookmark: None }
    }

    /// This watermark, carrying `bookmark` (when there is one).
    pub fn with_bookmark(self, bookmark: Option<String>) -> Self {
        Self { bookmark, ..self }
    }

    /// Reads `<version>` or `<version>.<message id>`, either followed by `~<bookmark>`.
    pub fn parse(text: &str) -> Result<Self, SyncError> {
        let (text, bookmark) = match text.split_once('~') {
            Some((position, bookmark)) if is_bookmark(bookmark) => (position, Some(bookmark.to_owned())),
            Some(_) => return Err(SyncError::Since),
            None => (text, None),
        };
        let (version, after) = match text.split_once('.') {
            Some((version, id)) => (version, Some(MessageId::parse(id).map_err(|_| SyncError::Since)?)),
            None => (text, None),
        };
        if version.is_empty() || version.len() > 15 || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SyncError::Since);
        }
        let version = version.parse().map_err(|_| SyncError::Since)?;
        Ok(Self { version, after, bookmark })
    }

    /// Whether a change at (`version`, `id`) comes after this watermark.
    pub fn precedes(&self, version: u64, id: &MessageId) -> bool {
        match version.cmp(&self.version) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => self.after.as_ref().is_some_and(|after| id > after),
        }
    }
}

impl fmt::Display for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.after {
            Some(id) => write!(f, "{}.{id}", self.version)?,
            None => write!(f, "{}", self.version)?,
        }
        match &self.bookmark {
            Some(bookmark) => write!(f, "~{bookmark}"),
            None => Ok(()),
        }
    }
}

/// Why a change request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// `since` is missing.
    #[error("since is required: pass the watermark of your last feed page or change page")]
    MissingSince,
    /// `since` is not a watermark.
    #[error("since must be a watermark taken from a feed or changes response")]
    Since,
    /// `limit` is out of range.
    #[error("limit must be a whole number from 1 to {MAX_LIMIT}")]
    Limit,
    /// A filter parameter is invalid.
    #[error("{0}")]
    Filter(FilterError),
    /// A parameter this route does not know.
    #[error("unknown query parameter {0:?}")]
    UnknownParameter(String),
}

impl SyncError {
    /// The query parameter at fault.
    pub fn field(&self) -> String {
        match self {
            Self::MissingSince | Self::Since => "since".to_owned(),
            Self::Limit => "limit".to_owned(),
            Self::Filter(error) => error.field.clone(),
            Self::UnknownParameter(name) => name.clone(),
        }
    }
}

/// A validated `GET …/feed/changes` request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesQuery {
    /// Where the client is.
    pub since: Watermark,
    /// The most changes to return.
    pub limit: u32,
    /// The client's view: changed messages outside it come back as removals.
    pub filter: FeedFilter,
}

impl ChangesQuery {
    /// Reads decoded query parameters: `since`, `limit` and feed filters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, SyncError> {
        let mut since = None;
        let mut limit = DEFAULT_LIMIT * 5;
        let mut filter = FeedFilter::default();
        for (name, value) in pairs {
            match name {
                "since" => since = Some(Watermark::parse(value)?),
                "limit" => {
                    limit = value.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or(SyncError::Limit)?;
                }
                other => {
                    if !filter.apply_param(other, value).map_err(SyncError::Filter)? {
                        return Err(SyncError::UnknownParameter(other.to_owned()));
                    }
                }
            }
        }
        Ok(Self { since: since.ok_or(SyncError::MissingSince)?, limit, filter })
    }
}

/// One change as storage reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredChange {
    /// A message was created or changed; `matches` says whether it is in the client's view.
    Upserted {
        /// The message as it is now.
        message: Box<Message>,
        /// The version of its last change.
        version: u64,
        /// Whether it matches the query's filter.
        matches: bool,
    },
    /// A message was deleted.
    Deleted {
        /// Its id.
        id: MessageId,
        /// The version of the deletion.
        version: u64,
    },
}

impl StoredChange {
    fn position(&self) -> (u64, &MessageId) {
        match self {
            Self::Upserted { message, version, .. } => (*version, &message.id),
            Self::Deleted { id, version } => (*version, id),
        }
    }
}

/// One page of changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesPage {
    /// In version order.
    pub changes: Vec<FeedChange>,
    /// Where the next request starts.
    pub watermark: Watermark,
    /// Whether more changes wait past this page.
    pub has_more: bool,
}

/// Builds a page from the changed messages and the tombstones storage found
/// after `query.since` (each up to `limit + 1`, in version order) and the
/// feed clock read in the same transaction.
pub fn changes_page(query: &ChangesQuery, mut stored: Vec<StoredChange>, clock: u64) -> ChangesPage {
    stored.retain(|change| {
        let (version, id) = change.position();
        query.since.precedes(version, id)
    });
    stored.sort_by(|left, right| left.position().cmp(&right.position()));
    let has_more = stored.len() > query.limit as usize;
    stored.truncate(query.limit as usize);
    let watermark = match stored.last() {
        Some(last) if has_more => {
            let (version, id) = last.position();
            Watermark { version, after: Some(id.clone()), bookmark: None }
        }
        // Everything up to the clock was read in the same transaction.
        _ => Watermark::at(clock.max(query.since.version)),
    };
    let changes = stored
        .into_iter()
        .map(|change| match change {
            StoredChange::Upserted { message, matches: true, .. } => {
                FeedChange::Upsert { item: Box::new(feed_item(&message)) }
            }
            StoredChange::Upserted { message, matches: false, .. } => {
                FeedChange::Remove { id: message.id.to_string(), reason: RemovalReason::Filtered }
            }
            StoredChange::Deleted { id, .. } => {
                FeedChange::Remove { id: id.to_string(), reason: RemovalReason::Deleted }
            }
        })
        .collect();
    ChangesPage { changes, watermark, has_more }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MessageId {
        MessageId::generate(1_700_000_000_000 + u64::from(n), [n; 10])
    }

    #[test]
    fn watermarks_round_trip() {
        let bookmark = "00000001-00000002-00004f7e-0123456789abcdef";
        for text in ["0", "42", &format!("7.{}", id(3)), &format!("42~{bookmark}"), &format!("7.{}~{bookmark}", id(3))]
        {
            assert_eq!(Watermark::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Watermark::parse(&format!("9~{bookmark}")).unwrap().bookmark.as_deref(), Some(bookmark));
        let long = format!("1~{}", "a".repeat(MAX_BOOKMARK_LEN + 1));
        for bad in ["", "x", "-1", "1.", "1.nope", "1234567890123456", " 1", "1~", "1~a b", "1~a~b", "~abc", &long] {
            assert_eq!(Watermark::parse(bad), Err(SyncError::Since), "{bad:?}");
        }
    }

    #[test]
    fn a_plain_watermark_excludes_its_own_version() {
        let mark = Watermark::at(5);
        assert!(!mark.precedes(5, &id(1)));
        assert!(mark.precedes(6, &id(1)));
        let mid = Watermark { version: 5, after: Some(id(2)), bookmark: Some("b".into()) };
        assert!(!mid.precedes(5, &id(2)));
        assert!(mid.precedes(5, &id(3)));
        assert!(!mid.precedes(4, &id(9)));
    }

    #[test]
    fn since_is_required_and_parameters_are_checked() {
        assert_eq!(ChangesQuery::from_pairs([]), Err(SyncError::MissingSince));
        assert_eq!(ChangesQuery::from_pairs([("since", "1"), ("limit", "0")]), Err(SyncError::Limit));
        assert!(matches!(ChangesQuery::from_pairs([("since", "1"), ("x", "1")]), Err(SyncError::UnknownParameter(_))));
        let query = ChangesQuery::from_pairs([("since", "3"), ("read", "false")]).unwrap();
        assert_eq!(query.filter.read, Some(false));
    }
}
