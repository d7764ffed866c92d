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
        let mut writes = Vec::with_capacity(batches.len());
        for (index, statements) in batches.into_iter().filter(|(_, statements)| !statements.is_empty()) {
            let db = self.shards.get(index).ok_or_else(|| ApiError::internal(operation, "no such feed shard"))?;
            writes.push(super::retry::write(&self.faults, operation, move || db.batch(statements.clone())));
        }
        try_join_all(writes).await.map(|_| ())
    }
}

/// The role a database plays for an environment in its identity stamp
/// (`feed_shard`): its own database, or feed shard `i` (`i` ≥ 0).
pub(super) const PRIMARY: i64 = -1;

/// The identity stamp a database carries, and whether it holds an
/// environment's own records (workflows: every environment's own database
/// has its starters).
#[derive(serde::Deserialize)]
struct Stamp {
    environment: Option<String>,
    shard: Option<f64>,
    created_at: Option<f64>,
    holds_own_records: f64,
}

/// Which database an environment means, as its stamp is compared.
pub(super) struct Identity<'a> {
    /// The environment's name.
    pub environment: &'a str,
    /// When the environment was created (its registry row's `created_at`):
    /// an earlier environment of the same name is another one.
    pub created_at: u64,
    /// [`PRIMARY`] or the shard's index.
    pub role: i64,
}

impl Identity<'_> {
    /// Why `stamp` says the database is not this one; `None` when it is,
    /// or when it carries no stamp and may be this one.
    fn refusal(&self, stamp: &Stamp, binding: &str) -> Option<String> {
        let role = |shard: i64| if shard == PRIMARY { "the own database".to_owned() } else { format!("shard {shard}") };
        match (&stamp.environment, stamp.shard, stamp.created_at) {
            (Some(environment), Some(shard), Some(created_at)) => {
                let (shard, created_at) = (shard as i64, created_at as u64);
                if environment != self.environment || shard != self.role {
                    Some(format!("database {binding} is {} of the {environment} environment", role(shard)))
                } else if created_at != self.created_at {
                    Some(format!(
                        "database {binding} still holds an earlier {environment} environment's data: empty it or bind a new database"
                    ))
                } else {
                    None
                }
            }
            _ if self.role != PRIMARY && stamp.holds_own_records != 0.0 => {
                Some(format!("database {binding} is an environment's own database, not a feed shard"))
            }
            _ => None,
        }
    }
}

/// The stamp and contents check of a database.
const READ_STAMP: &str =
    "SELECT f.environment, f.shard, f.created_at, EXISTS (SELECT 1 FROM workflows) AS holds_own_records \
    FROM (SELECT 1) LEFT JOIN feed_shard f ON f.id = 1";

/// Stamps `db` (bound as `binding`) as `identity`'s database unless it is
/// stamped already, and answers why it cannot be that database, if it
/// cannot: another environment's (or another role's), an earlier
/// environment's of the same name, or, for a shard, an environment's own
/// database. An error: the schema is not there yet.
pub(super) async fn claim_database(
    db: &D1Database,
    binding: &str,
    identity: &Identity<'_>,
) -> Result<Option<String>, worker::Error> {
    let arguments = [
        wasm_bindgen::JsValue::from_str(identity.environment),
        wasm_bindgen::JsValue::from_f64(identity.role as f64),
        wasm_bindgen::JsValue::from_f64(identity.created_at as f64),
    ];
    let stamp = db
        .prepare(
            "INSERT INTO feed_shard (id, environment, shard, created_at) SELECT 1, ?1, ?2, ?3 \
             WHERE ?2 < 0 OR NOT EXISTS (SELECT 1 FROM workflows) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&arguments)?;
    let results = db.batch(vec![stamp, db.prepare(READ_STAMP)]).await?;
    let stamps: Vec<Stamp> = match results.get(1) {
        Some(result) => result.results()?,
        None => Vec::new(),
    };
    Ok(stamps.first().and_then(|stamp| identity.refusal(stamp, binding)))
}

/// Whether `db` may be wiped as `identity`'s database: not when its stamp
/// says it is another one. A database without the stamp's table (never
/// migrated) holds nothing to protect; any other failure to read is an error.
pub(super) async fn is_database_of(db: &D1Database, binding: &str, identity: &Identity<'_>) -> Result<bool, ApiError> {
    match db.prepare(READ_STAMP).all().await.and_then(|result| result.results::<Stamp>()) {
        Ok(stamps) => match stamps.first().and_then(|stamp| identity.refusal(stamp, binding)) {
            Some(reason) => {
                worker::console_warn!("{reason}: left alone when {} was deleted", identity.environment);
                Ok(false)
            }
            None => Ok(true),
        },
        Err(error) if error.to_string().contains("no such table") => Ok(true),
        Err(error) => Err(super::storage_error("read database stamp", error)),
    }
}
