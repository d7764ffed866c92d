//! Feed shards: an environment's feed (messages, their counts, tombstones
//! and the feed clock) spread over several D1 databases, so one environment
//! is not bounded by one database's size and write rate.
//!
//! An environment has one *primary* database (subscribers, content,
//! releases, logs, deliveries, idempotency, settings) and a fixed number of
//! feed shards, chosen when it is created. With one shard the feed lives in
//! the primary, the layout every environment had before shards. With more,
//! shard `i` is the database bound as [`binding`] `FEED<i>_<ENV>`, named so
//! that no environment's own binding (`DB_<ENV>`, `KV_<ENV>`, `FILES_<ENV>`)
//! can ever be mistaken for a shard, whatever the environments are called.
//!
//! A subscriber belongs to one of [`BUCKETS`] buckets, by a hash of their
//! id, and a bucket to a shard ([`shard_of`]): every message of one
//! subscriber is in one database, so a feed page, its counts and its delta
//! sync are each one query on one shard, exactly as without shards.

use sha2::{Digest, Sha256};

use crate::subscriber::SubscriberId;

/// The buckets subscribers are hashed into.
pub const BUCKETS: u32 = 256;
/// The most feed shards an environment may have.
pub const MAX_SHARDS: u32 = 64;

/// Why a shard count is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    /// Not a whole number from 1 to [`MAX_SHARDS`].
    #[error("an environment has 1 to {MAX_SHARDS} feed shards")]
    Count,
}

/// How many feed shards an environment has: 1 to [`MAX_SHARDS`]; 1 keeps
/// the feed in the primary database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardCount(u32);

impl ShardCount {
    /// One shard: the feed in the primary database.
    pub const ONE: Self = Self(1);

    /// Checks a requested number of shards.
    pub fn new(count: u64) -> Result<Self, ShardError> {
        match u32::try_from(count) {
            Ok(count) if (1..=MAX_SHARDS).contains(&count) => Ok(Self(count)),
            _ => Err(ShardError::Count),
        }
    }

    /// A count read back from storage: out-of-range values (never written)
    /// read as one shard.
    pub fn from_stored(count: f64) -> Self {
        Self::new(count as u64).unwrap_or(Self::ONE)
    }

    /// The number of shards.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Whether the feed has databases of its own (more than one shard).
    pub fn is_sharded(self) -> bool {
        self.0 > 1
    }
}

/// The bucket of a subscriber: the first bytes of a hash of their id, so
/// subscribers spread evenly whatever their ids look like.
pub fn bucket_of(subscriber: &SubscriberId) -> u32 {
    let digest = Sha256::digest(subscriber.as_str().as_bytes());
    u32::from(u16::from_be_bytes([digest[0], digest[1]])) % BUCKETS
}

/// The shard (`0..count`) holding a subscriber's feed.
pub fn shard_of(subscriber: &SubscriberId, count: ShardCount) -> usize {
    (bucket_of(subscriber) % count.get()) as usize
}

/// The binding name of shard `index` of the environment whose bindings end
/// in `suffix` ([`crate::environment::EnvironmentName::binding_suffix`]):
/// `FEED2_BIG` for shard 2 of `big`.
pub fn binding(suffix: &str, index: usize) -> String {
    format!("FEED{index}_{suffix}")
}

/// The binding names of every shard of an environment with `count` shards;
/// none when it has one (the feed is in the primary).
pub fn bindings(suffix: &str, count: ShardCount) -> Vec<String> {
    if count.is_sharded() {
        (0..count.get() as usize).map(|index| binding(suffix, index)).collect()
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(text: &str) -> SubscriberId {
        SubscriberId::parse(text).unwrap()
    }

    #[test]
    fn counts_outside_one_to_sixty_four_are_refused() {
        assert_eq!(ShardCount::new(0), Err(ShardError::Count));
        assert_eq!(ShardCount::new(65), Err(ShardError::Count));
        assert_eq!(ShardCount::new(u64::MAX), Err(ShardError::Count));
        assert_eq!(ShardCount::new(4).map(ShardCount::get), Ok(4));
        assert_eq!(ShardCount::from_stored(0.0), ShardCount::ONE);
        assert!(!ShardCount::ONE.is_sharded());
    }

    #[test]
    fn one_shard_has_no_bindings_of_its_own() {
        assert!(bindings("BIG", ShardCount::ONE).is_empty());
        assert_eq!(bindings("BIG", ShardCount::new(2).unwrap()), ["FEED0_BIG", "FEED1_BIG"]);
    }

    #[test]
    fn shard_bindings_never_collide_with_an_environments_own() {
        // `big-s0`'s database is DB_BIG_S0: a shard is never called that.
        for index in 0..MAX_SHARDS as usize {
            assert!(!binding("BIG", index).starts_with("DB_"));
            assert!(!binding("BIG", index).starts_with("KV_"));
            assert!(!binding("BIG", index).starts_with("FILES_"));
        }
        // The index comes before the name, so two environments' shards differ.
        assert_ne!(binding("A_1", 1), binding("A", 11));
    }

    #[test]
    fn subscribers_spread_over_every_shard() {
        let count = ShardCount::new(4).unwrap();
        let mut seen = [0u32; 4];
        for n in 0..400 {
            seen[shard_of(&id(&format!("user-{n}")), count)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }

    proptest! {
        #[test]
        fn a_subscriber_always_maps_to_the_same_shard_in_range(text in "[a-zA-Z0-9_-]{1,40}", count in 1u64..=64) {
            let count = ShardCount::new(count).unwrap();
            let subscriber = id(&text);
            let shard = shard_of(&subscriber, count);
            prop_assert!(shard < count.get() as usize);
            prop_assert_eq!(shard, shard_of(&subscriber, count));
            prop_assert!(bucket_of(&subscriber) < BUCKETS);
        }

        #[test]
        fn one_shard_holds_everyone(text in "[a-zA-Z0-9_-]{1,40}") {
            prop_assert_eq!(shard_of(&id(&text), ShardCount::ONE), 0);
        }
    }
}
