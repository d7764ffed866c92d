//! Messages: one notification for one subscriber, as stored and listed.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::base32;
use crate::derive::{derive_key, Purpose};
use crate::subscriber::SubscriberId;

/// Random bytes needed by [`MessageId::generate`].
pub const ID_RANDOM_BYTES: usize = 10;
const ID_SYMBOLS: usize = 26;
/// The leading symbols that hold the creation time (50 bits, of which 48 are used).
const TIME_SYMBOLS: usize = 10;

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

    /// The id of the in-app message a transaction puts in `subscriber`'s
    /// feed ([`RecipientIds`]): the transaction's creation time, then 80 bits
    /// of an HMAC of the transaction and the subscriber.
    fn for_recipient(ids: &RecipientIds<'_>, subscriber: &SubscriberId) -> Self {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&ids.key).unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(format!("tidings.message.v2\0{}\0{subscriber}", ids.transaction_id).as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut random = [0u8; ID_RANDOM_BYTES];
        random.copy_from_slice(&digest[..ID_RANDOM_BYTES]);
        let time =
            ids.transaction_id.strip_prefix("tx_").and_then(|id| Self::parse(id).ok()).map_or(0, |id| id.time_ms());
        Self::generate(time, random)
    }

    /// The creation time (Unix milliseconds) an id carries.
    pub fn time_ms(&self) -> u64 {
        self.0.bytes().take(TIME_SYMBOLS).fold(0u64, |time, symbol| {
            let value = base32::ALPHABET.iter().position(|&known| known == symbol).unwrap_or(0) as u64;
            (time << 5) | value
        })
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

/// How a transaction names the in-app messages it writes: one id per
/// recipient, the same every time the transaction is written (a retry after
/// a failure that left some feed shards written stores each message once).
/// The id's random part is an HMAC under a key derived from the deployment's
/// encryption key, so nobody without it can tell from an id (shown in logs,
/// to members who see subscribers only as handles) which subscriber it is
/// for, by trying candidates.
pub struct RecipientIds<'a> {
    transaction_id: &'a str,
    key: [u8; 32],
}

impl<'a> RecipientIds<'a> {
    /// The ids of `transaction_id`'s messages, under the deployment's
    /// encryption key. A deployment without one (whose members cannot read
    /// masked views either) names them under a fixed key.
    pub fn new(encryption_key: Option<&[u8; 32]>, transaction_id: &'a str) -> Self {
        let key = derive_key(encryption_key.map_or(&[0u8; 32][..], |key| &key[..]), Purpose::MessageId);
        Self { transaction_id, key }
    }

    /// The transaction.
    pub fn transaction_id(&self) -> &'a str {
        self.transaction_id
    }

    /// The id of the message for `subscriber`.
    pub fn of(&self, subscriber: &SubscriberId) -> MessageId {
        MessageId::for_recipient(self, subscriber)
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
    fn a_transactions_message_for_a_recipient_has_one_id() {
        let key = [3u8; 32];
        let transaction = crate::trigger::transaction_id(1_700_000_000_123, [7; ID_RANDOM_BYTES]);
        let ids = RecipientIds::new(Some(&key), &transaction);
        let ada = SubscriberId::parse("ada").unwrap();
        let bob = SubscriberId::parse("bob").unwrap();
        let id = ids.of(&ada);
        assert_eq!(id, RecipientIds::new(Some(&key), &transaction).of(&ada), "the same on every write");
        assert_ne!(id, ids.of(&bob));
        let other = crate::trigger::transaction_id(1_700_000_000_123, [8; ID_RANDOM_BYTES]);
        assert_ne!(id, RecipientIds::new(Some(&key), &other).of(&ada));
        assert_eq!(id.time_ms(), 1_700_000_000_123);
        assert!(MessageId::parse(id.as_str()).is_ok());
        assert_eq!(ids.transaction_id(), transaction);
    }

    #[test]
    fn a_message_id_names_its_recipient_only_to_the_key_holder() {
        let transaction = crate::trigger::transaction_id(1_700_000_000_123, [7; ID_RANDOM_BYTES]);
        let ada = SubscriberId::parse("ada").unwrap();
        let id = RecipientIds::new(Some(&[3u8; 32]), &transaction).of(&ada);
        // Whoever tries candidate ids without the deployment's key finds no match.
        assert_ne!(id, RecipientIds::new(Some(&[4u8; 32]), &transaction).of(&ada));
        assert_ne!(id, RecipientIds::new(None, &transaction).of(&ada));
    }

    #[test]
    fn ids_carry_their_creation_time() {
        for time in [0, 1, 1_700_000_000_000, 0xffff_ffff_ffff] {
            assert_eq!(MessageId::generate(time, [255; ID_RANDOM_BYTES]).time_ms(), time);
        }
    }

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
