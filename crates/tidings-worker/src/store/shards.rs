//! Feed shards: which of an environment's databases holds a subscriber's
//! feed (messages, counts, tombstones, the feed clock, and the idempotency
//! keys of their feed actions). See [`tidings_core::shard`].
//!
//! The shards' bindings come from the registry row the handle was opened
//! with, like its own database's: a request never names one, so no key of
//! one environment can reach another's shards.

use futures_util::future::try_join_all;
use tidings_core::shard::{self, ShardCount};
use tidings_core::subscriber::SubscriberId;
use worker::{D1Database, D1PreparedStatement};

use super::Environment;
use crate::error::ApiError;

/// Where an idempotency key is kept: with the environment's own records
/// (triggers), or beside a subscriber's feed (feed actions), so that the key's
/// answer commits in the same transaction as the change it answers for.
#[derive(Clone, Copy)]
pub enum KeyHome<'a> {
    /// The environment's own database.
    Primary,
    /// The database of this subscriber's feed.
    FeedOf(&'a SubscriberId),
}

impl Environment {
    /// How many feed shards this environment has.
    pub fn shard_count(&self) -> ShardCount {
        ShardCount::new(self.shards.len() as u64).unwrap_or(ShardCount::ONE)
    }

    /// The shard holding `subscriber`'s feed (0 when there is one).
    pub(super) fn shard_index(&self, subscriber: &SubscriberId) -> usize {
        shard::shard_of(subscriber, self.shard_count())
    }

    /// The database holding `subscriber`'s feed: a shard's, or the
    /// environment's own when it has one shard.
    pub(super) fn feed_db(&self, subscriber: &SubscriberId) -> &D1Database {
        self.shards.get(self.shard_index(subscriber)).unwrap_or(&self.db)
    }

    /// The database holding a key's records.
    pub(super) fn key_db(&self, home: KeyHome<'_>) -> &D1Database {
        match home {
            KeyHome::Primary => &self.db,
            KeyHome::FeedOf(subscriber) => self.feed_db(subscriber),
        }
    }

    /// Runs one batch on each shard, all at once, retrying transient
    /// failures; answers once every shard committed. Each batch must be safe
    /// to apply twice (a retry after a failure on another shard runs them all
    /// again).
    pub(super) async fn write_shards(
        &self,
        operation: &'static str,
        batches: Vec<(usize, Vec<D1PreparedStatement>)>,
    ) -> Result<(), ApiError> {
        let writes = batches.into_iter().filter(|(_, statements)| !statements.is_empty()).map(|(index, statements)| {
            let db = self.shards.get(index).unwrap_or(&self.db);
            super::retry::write(&self.faults, operation, move || db.batch(statements.clone()))
        });
        try_join_all(writes).await.map(|_| ())
    }
}
