//! Topics: named groups of subscribers that a trigger can address as one
//! recipient (`to: [{"topic": "…"}]`), and the fan-out that reaches their
//! members page by page through a queue.
//!
//! A trigger that names a topic is recorded as a *fan-out* and answered at
//! once; a queue consumer then walks the union of its direct recipients and
//! its topics' members in subscriber-id order, one page at a time. Each page
//! commits together with the cursor that moves past it, and only if the
//! cursor is still where the page began, so every recipient is reached at
//! most once however often a queue message is delivered, and a page that
//! fails leaves nothing behind.

use crate::derive::{self, Purpose};

/// The longest topic key.
pub const MAX_KEY_LEN: usize = 64;
/// The most topics one trigger may name.
pub const MAX_TOPICS_PER_TRIGGER: usize = 20;
/// The most subscribers one request adds to or removes from a topic.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1_000;
/// The longest topic name.
pub const MAX_NAME_LEN: usize = 200;
/// Recipients written per fan-out page: one D1 transaction each.
pub const PAGE_SIZE: usize = 500;

/// The recipients of one fan-out page for a payload of `payload_bytes` as
/// JSON text: [`PAGE_SIZE`], or fewer, so that a page renders no more than
/// [`crate::trigger::MAX_PAYLOAD_WORK_BYTES`] of payload (at least one).
pub fn page_size_for(payload_bytes: usize) -> usize {
    (crate::trigger::MAX_PAYLOAD_WORK_BYTES / payload_bytes.max(1)).clamp(1, PAGE_SIZE)
}

/// D1 queries one Worker invocation may make on Workers Paid (D1's
/// limits): every statement of a batch counts.
pub const D1_QUERIES_PER_INVOCATION: u32 = 1_000;

/// D1 queries the fan-out consumer keeps for each message of its batch
/// besides its pages: opening its environment, and ending its fan-out
/// (completed, or failed after counting the failure).
pub const QUERIES_PER_MESSAGE: u32 = 10;

/// D1 queries an invocation of the fan-out consumer leaves unspent, for
/// what a page's reckoning leaves out: a batch retried after a transient
/// failure, messages over 512 KiB a page, a page run again on the current
/// bucket map while its environment is resharded.
pub const QUERY_SLACK: u32 = 100;

/// At most how many D1 queries one fan-out page makes with its
/// environment's feeds on `shards` shards (the larger count while a move is
/// under way), messages of up to 512 KiB a page: 8 reads (the fan-out, its
/// recipients, the workflow, their profiles and preferences, variables, test
/// mode, integrations), up to 12 statements in the primary's transaction
/// (its messages too with one database), and 4 in each shard's (a fence
/// guard, subscribers, the clock, the messages). Larger messages add a
/// statement per 512 KiB.
pub fn page_queries(shards: crate::shard::ShardCount) -> u32 {
    let per_shard = if shards.is_sharded() { 4 * shards.get() } else { 0 };
    20 + per_shard
}

/// The D1 queries left to one invocation of the fan-out consumer for its
/// pages, shared by the messages of its batch: each page takes its share
/// before it runs, and a message that finds too little left hands the rest
/// of its fan-out to a later invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryBudget {
    left: u32,
}

impl QueryBudget {
    /// The queries an invocation consuming a batch of `messages` may spend
    /// on pages: [`D1_QUERIES_PER_INVOCATION`] less each message's own
    /// ([`QUERIES_PER_MESSAGE`]) and [`QUERY_SLACK`].
    pub fn for_batch(messages: usize) -> Self {
        let own = QUERIES_PER_MESSAGE.saturating_mul(u32::try_from(messages).unwrap_or(u32::MAX));
        Self { left: D1_QUERIES_PER_INVOCATION.saturating_sub(own).saturating_sub(QUERY_SLACK) }
    }

    /// Takes `cost` queries, if that many are left.
    pub fn take(&mut self, cost: u32) -> bool {
        let enough = self.left >= cost;
        if enough {
            self.left -= cost;
        }
        enough
    }
}

/// Why a topic key or name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The key is empty, too long or has characters outside the allowed set.
    #[error(
        "a topic key is 1 to {MAX_KEY_LEN} characters: letters, digits, '-', '_', ':' and '.', starting with a letter or digit"
    )]
    Key,
    /// The name is too long.
    #[error("a topic name has at most {MAX_NAME_LEN} characters")]
    Name,
}

/// A valid topic key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicKey(String);

impl TopicKey {
    /// Checks `key`.
    pub fn parse(key: &str) -> Result<Self, TopicError> {
        let mut bytes = key.bytes();
        let allowed = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b':' | b'.');
        let valid = key.len() <= MAX_KEY_LEN
            && bytes.next().is_some_and(|first| first.is_ascii_alphanumeric())
            && bytes.all(allowed);
        if valid {
            Ok(Self(key.to_owned()))
        } else {
            Err(TopicError::Key)
        }
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TopicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a topic's display name.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    if name.chars().count() <= MAX_NAME_LEN {
        Ok(())
    } else {
        Err(TopicError::Name)
    }
}

/// A validated `GET /v1/topics` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Page size, 1–100 (default 50).
    pub limit: u32,
    /// Continue after this key.
    pub after: Option<TopicKey>,
}

/// A query parameter that is refused: the parameter and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct QueryError {
    /// The parameter at fault.
    pub field: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

impl ListQuery {
    /// Reads decoded query parameters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, QueryError> {
        let mut query = Self { limit: 50, after: None };
        for (name, value) in pairs {
            match name {
                "limit" => {
                    query.limit = crate::query::page_limit(value)
                        .ok_or(QueryError { field: "limit", reason: "must be a whole number from 1 to 100" })?;
                }
                "after" => {
                    query.after = Some(TopicKey::parse(value).map_err(|_| QueryError {
                        field: "after",
                        reason: "must be a topic key taken from page_info",
                    })?);
                }
                _ => return Err(QueryError { field: "query", reason: "unknown query parameter; use limit and after" }),
            }
        }
        Ok(query)
    }
}

/// Where a fan-out stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutStatus {
    /// Recorded; pages are being written.
    Running,
    /// Every recipient was reached.
    Completed,
    /// A page could not be composed (e.g. a template failed for a
    /// recipient); pages written before it stay.
    Failed,
}

impl FanoutStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(Self::Running),
            "completed" => Some(Self::Completed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A fan-out's page of work put on the queue: which environment and
/// transaction. The page itself is read from the fan-out's stored cursor
/// when the message is consumed, so a message delivered twice, or late,
/// writes nothing twice. Sealed with a key derived from the deployment's
/// encryption key for this purpose only: a message cannot be made
/// elsewhere, nor moved to another environment or transaction, nor pass
/// for a delivery's hand-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutHandOff {
    /// The environment's name.
    pub environment: String,
    /// The fan-out's transaction id.
    pub transaction_id: String,
}

impl FanoutHandOff {
    fn signed_text(&self) -> String {
        format!("v1\n{}\n{}", self.environment, self.transaction_id)
    }

    /// The hex seal of this hand-off.
    pub fn seal(&self, encryption_key: &[u8; 32]) -> String {
        derive::seal(encryption_key, Purpose::FanoutHandOff, &self.signed_text())
    }

    /// Whether `seal` is this hand-off's, in constant time.
    pub fn verify(&self, encryption_key: &[u8; 32], seal: &str) -> bool {
        derive::verify_seal(encryption_key, Purpose::FanoutHandOff, &self.signed_text(), seal)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_page_renders_a_bounded_amount_of_payload() {
        assert_eq!(page_size_for(0), PAGE_SIZE);
        assert_eq!(page_size_for(2), PAGE_SIZE);
        assert_eq!(page_size_for(64 * 1024), 256);
        assert_eq!(page_size_for(usize::MAX), 1);
        for bytes in [1, 1000, 40_000, 64 * 1024] {
            assert!(page_size_for(bytes) * bytes <= crate::trigger::MAX_PAYLOAD_WORK_BYTES.max(bytes));
        }
    }
    use crate::delivery::HandOff;

    #[test]
    fn an_invocation_writes_pages_within_d1s_query_limit_at_every_shard_count() {
        use crate::shard::{ShardCount, MAX_SHARDS};
        // A lone fan-out's message: pages of a page's reckoning, within the limit with its slack.
        for (shards, pages) in [(1, 44), (4, 24), (16, 10), (64, 3)] {
            let cost = super::page_queries(ShardCount::new(shards).unwrap());
            let mut budget = super::QueryBudget::for_batch(1);
            let written = std::iter::from_fn(|| budget.take(cost).then_some(())).count();
            assert_eq!(written, pages, "{shards} shards");
            assert!(
                written as u32 * cost + super::QUERIES_PER_MESSAGE + super::QUERY_SLACK
                    <= super::D1_QUERIES_PER_INVOCATION
            );
        }
        // A full batch can always afford a page at the most shards: no fan-out is handed on for ever.
        let largest = super::page_queries(ShardCount::new(u64::from(MAX_SHARDS)).unwrap());
        assert!(super::QueryBudget::for_batch(10).take(largest));
        assert!(!super::QueryBudget::for_batch(200).take(1), "a batch too large to afford anything");
    }

    #[test]
    fn keys() {
        for good in ["a", "team-42", "org:acme.eng_all", &"x".repeat(MAX_KEY_LEN)] {
            assert_eq!(TopicKey::parse(good).map(|key| key.to_string()), Ok(good.to_owned()));
        }
        for bad in ["", "-a", ".a", "a b", "a/b", "ä", "a\n", &"x".repeat(MAX_KEY_LEN + 1)] {
            assert_eq!(TopicKey::parse(bad), Err(TopicError::Key), "{bad:?}");
        }
    }

    #[test]
    fn list_queries() {
        assert_eq!(ListQuery::from_pairs([]), Ok(ListQuery { limit: 50, after: None }));
        let query = ListQuery::from_pairs([("limit", "100"), ("after", "team-a")]).unwrap();
        assert_eq!((query.limit, query.after.unwrap().as_str()), (100, "team-a"));
        for (name, value, field) in
            [("limit", "0", "limit"), ("limit", "101", "limit"), ("after", "a b", "after"), ("page", "2", "query")]
        {
            assert_eq!(ListQuery::from_pairs([(name, value)]).unwrap_err().field, field);
        }
    }

    #[test]
    fn names() {
        assert!(validate_name(&"é".repeat(MAX_NAME_LEN)).is_ok());
        assert_eq!(validate_name(&"é".repeat(MAX_NAME_LEN + 1)), Err(TopicError::Name));
    }

    #[test]
    fn statuses_round_trip() {
        for status in [FanoutStatus::Running, FanoutStatus::Completed, FanoutStatus::Failed] {
            assert_eq!(FanoutStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(FanoutStatus::parse("done"), None);
    }

    #[test]
    fn a_seal_binds_environment_and_transaction_and_purpose() {
        let key = [7u8; 32];
        let hand_off = FanoutHandOff { environment: "development".into(), transaction_id: "t1".into() };
        let seal = hand_off.seal(&key);
        assert!(hand_off.verify(&key, &seal));
        assert!(!hand_off.verify(&[8u8; 32], &seal));
        assert!(!hand_off.verify(&key, "zz"));
        assert!(!FanoutHandOff { environment: "staging".into(), ..hand_off.clone() }.verify(&key, &seal));
        assert!(!FanoutHandOff { transaction_id: "t2".into(), ..hand_off.clone() }.verify(&key, &seal));
        // A delivery's hand-off seal never passes for a fan-out's, nor the other way round.
        let delivery = HandOff { environment: "development".into(), delivery: "t1".into(), attempts: 0, at_ms: 0 };
        assert!(!hand_off.verify(&key, &delivery.seal(&key)));
        assert!(!delivery.verify(&key, &seal));
    }

    proptest! {
        #[test]
        fn parsed_keys_are_their_own_text(key in "[a-z0-9][a-z0-9:._-]{0,70}") {
            match TopicKey::parse(&key) {
                Ok(parsed) => prop_assert_eq!(parsed.as_str(), key.as_str()),
                Err(_) => prop_assert!(key.len() > MAX_KEY_LEN),
            }
        }
    }
}
