//! Messages: one notification for one subscriber, as stored and listed.

use core::fmt;

use crate::base32;
use crate::subscriber::SubscriberId;

/// Random bytes needed by [`MessageId::generate`].
pub const ID_RANDOM_BYTES: usize = 10;
const ID_SYMBOLS: usize = 26;

/// Why a string is not a message id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Not 26 symbols of lowercase Crockford base32.
    #[error("a message id is 26 characters of lowercase base32")]
    MalformedId,
}

/// A message id: 48 bits of creation time in milliseconds, then 80 random
/// bits, in base32. Ids sort by creation time, so the newest-first feed order
/// and its cursors are plain string comparisons.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// Makes the id of a message created at `now_ms` (Unix milliseconds).
    pub fn generate(now_ms: u64, random: [u8; ID_RANDOM_BYTES]) -> Self {
        let mut value = u128::from(now_ms & 0xffff_ffff_ffff) << 80;
        for (index, byte) in random.iter().enumerate() {
            value |= u128::from(*byte) << (8 * (ID_RANDOM_BYTES - 1 - index));
        }
        Self(base32::encode_u128(value, ID_SYMBOLS as u32))
    }

    /// Checks that `text` is a message id.
    pub fn parse(text: &str) -> Result<Self, MessageError> {
        if text.len() == ID_SYMBOLS && base32::is_valid(text) && text.as_bytes()[0] <= b'7' {
            Ok(Self(text.to_owned()))
        } else {
            Err(MessageError::MalformedId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A rendered notification in one subscriber's feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Unique, time-ordered id.
    pub id: MessageId,
    /// Whose feed it is in.
    pub subscriber: SubscriberId,
    /// The key of the workflow that produced it.
    pub workflow: String,
    /// The trigger request that produced it.
    pub transaction_id: String,
    /// Rendered subject line.
    pub subject: String,
    /// Rendered body text.
    pub body: String,
    /// Rendered avatar URL.
    pub avatar: Option<String>,
    /// Rendered buttons.
    pub actions: Vec<crate::wire::ActionInput>,
    /// The workflow's tags when the message was made.
    pub tags: Vec<String>,
    /// The trigger payload, kept for the app's own use.
    pub payload: serde_json::Value,
    /// Creation time, Unix milliseconds.
    pub created_at: u64,
    /// When the subscriber first saw it.
    pub seen_at: Option<u64>,
    /// When the subscriber read it.
    pub read_at: Option<u64>,
    /// When the subscriber archived it.
    pub archived_at: Option<u64>,
    /// Files of the environment it carries (paths; URLs are signed when read).
    pub attachments: Vec<crate::wire::Attachment>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_then_randomness() {
        let early = MessageId::generate(1_700_000_000_000, [255; ID_RANDOM_BYTES]);
        let late = MessageId::generate(1_700_000_000_001, [0; ID_RANDOM_BYTES]);
        assert!(early < late);
        assert!(MessageId::generate(5, [0; 10]) < MessageId::generate(5, [1; 10]));
    }

    #[test]
    fn ids_round_trip_and_reject_junk() {
        let id = MessageId::generate(u64::MAX, [255; ID_RANDOM_BYTES]);
        assert_eq!(id.as_str().len(), 26);
        assert_eq!(MessageId::parse(id.as_str()), Ok(id));
        assert_eq!(MessageId::parse("short"), Err(MessageError::MalformedId));
        assert_eq!(MessageId::parse(&"u".repeat(26)), Err(MessageError::MalformedId));
        assert_eq!(MessageId::parse(&"z".repeat(26)), Err(MessageError::MalformedId));
    }
}
