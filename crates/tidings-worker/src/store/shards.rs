//! Feed shards: which of an environment's databases holds a subscriber's
//! feed (messages, counts, tombstones, the feed clock, and the idempotency
//! keys of their feed actions). See [`tidings_core::shard`].
//!
//! The shards' bindings come from the registry row the handle was opened
//! with, like its own database's: a request never names one, so no key of
//! one environment can reach another's shards.
//!
//! Which database holds a bucket is the handle's [`BucketMap`], from the
//! registry's routing copy, which may be older than the map the
//! environment's own database records while it is resharded (`reshard/`).
//! So every feed statement carries a fence check ([`fence_column`]): a
//! database refuses a bucket it no longer serves, and the operation runs
//! again on the map read anew ([`Environment::on_current_map`]).

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::try_join_all;
use tidings_core::shard::{self, BucketMap, FeedHome, ShardCount};
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::ErrorCode;
use worker::{D1Database, D1PreparedStatement};

use super::{statement, storage_error, Environment};
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

/// The text of the error a fence guard raises (a JSON path SQLite refuses,
/// quoted in its message), which [`super::storage_error`] answers as
/// [`feed_moving`].
pub(super) const FEED_MOVED: &str = "tidings-feed-moved";

/// How often an operation refused by a fence is tried again, on the bucket
/// map read anew, before the caller is told to retry.
const MOVE_ATTEMPTS: u32 = 8;

/// 503 `feed_moving`: the subscriber's feed is being switched to another
/// database right now.
pub(super) fn feed_moving() -> ApiError {
    ApiError::new(
        503,
        ErrorCode::FeedMoving,
        "this subscriber's feed is moving to another feed shard; retry in a moment",
    )
    .retry_after(1)
}

/// Whether a fence guard is for reading (refused once the bucket moved
/// away) or writing (refused from the moment its copy starts).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Reads of a feed.
    Read,
    /// Changes to a feed.
    Write,
}

/// Which buckets a fence guard checks: the one bound at `?{n}` (a number),
/// or those of the JSON array bound at `?{n}`.
#[derive(Clone, Copy)]
pub(super) enum Buckets {
    /// One bucket, a number.
    One(usize),
    /// A JSON array of buckets.
    Many(usize),
}

/// The SQL condition that is true when this database does not serve
/// `buckets` for `access`.
fn fenced(buckets: Buckets, access: Access) -> String {
    let states = match access {
        Access::Read => "state = 'all'",
        Access::Write => "state IN ('writes', 'all')",
    };
    let which = match buckets {
        Buckets::One(n) => format!("bucket = ?{n}"),
        Buckets::Many(n) => format!("bucket IN (SELECT value FROM json_each(?{n}))"),
    };
    format!("EXISTS (SELECT 1 FROM feed_fences WHERE {which} AND {states})")
}

/// An SQL expression that raises [`FEED_MOVED`] when this database does not
/// serve `buckets` for `access`, and is NULL when it does; a column of a
/// statement that reads one feed.
pub(super) fn fence_column(buckets: Buckets, access: Access) -> String {
    // A database that no move ever left (the most) has no fence at all: one probe, no row read.
    format!(
        "CASE WHEN NOT EXISTS (SELECT 1 FROM feed_fences) THEN NULL WHEN {} THEN json_extract('{{}}', '{FEED_MOVED}') END",
        fenced(buckets, access)
    )
}

/// A subscriber's bucket, as a fence guard binds it.
pub(super) fn bucket_value(subscriber: &SubscriberId) -> wasm_bindgen::JsValue {
    wasm_bindgen::JsValue::from_f64(f64::from(shard::bucket_of(subscriber)))
}

/// The buckets of `subscribers`, as the JSON array a fence guard binds.
pub(super) fn buckets_json<'a>(subscribers: impl IntoIterator<Item = &'a SubscriberId>) -> String {
    let mut buckets: Vec<u32> = subscribers.into_iter().map(shard::bucket_of).collect();
    buckets.sort_unstable();
    buckets.dedup();
    serde_json::Value::from(buckets).to_string()
}

impl Environment {
    /// Where each bucket's feed is, as this handle knows it.
    pub fn bucket_map(&self) -> BucketMap {
        self.map.get()
    }

    /// The database holding `subscriber`'s feed, as this handle's map says.
    pub(super) fn feed_home(&self, subscriber: &SubscriberId) -> FeedHome {
        self.map.get().home_of_subscriber(subscriber)
    }

    /// The database of `home`: a shard's, or the environment's own.
    pub(super) fn db_of(&self, home: FeedHome) -> Result<Rc<D1Database>, ApiError> {
        match home {
            FeedHome::Primary => Ok(self.db.clone()),
            FeedHome::Shard(index) => self
                .shards
                .borrow()
                .get(index)
                .cloned()
                .ok_or_else(|| ApiError::internal("feed shard", format!("the handle has no feed shard {index}"))),
        }
    }

    /// The database holding `subscriber`'s feed: a shard's, or the
    /// environment's own when it has one shard.
    pub(super) fn feed_db(&self, subscriber: &SubscriberId) -> Result<Rc<D1Database>, ApiError> {
        self.db_of(self.feed_home(subscriber))
    }

    /// The database holding a key's records.
    pub(super) fn key_db(&self, home: KeyHome<'_>) -> Result<Rc<D1Database>, ApiError> {
        match home {
            KeyHome::Primary => Ok(self.db.clone()),
            KeyHome::FeedOf(subscriber) => self.feed_db(subscriber),
        }
    }

    /// The statement that fails the batch it leads, with [`FEED_MOVED`],
    /// when `db` does not serve `subscribers`' buckets for `access`: a
    /// handle routing with an older bucket map writes and reads nothing.
    pub(super) fn fence_guard<'a>(
        &self,
        db: &D1Database,
        subscribers: impl IntoIterator<Item = &'a SubscriberId>,
        access: Access,
    ) -> Result<D1PreparedStatement, ApiError> {
        let sql = format!("SELECT {} AS fenced", fence_column(Buckets::Many(1), access));
        statement(db, &sql, &[super::text(&buckets_json(subscribers))])
    }

    /// Runs `operation`, and again on the bucket map read anew from the
    /// environment's own database when a database refused it because the
    /// feed it touches has moved (or is being switched: then after a short
    /// wait). Every operation run through it must be safe to run twice.
    pub(super) async fn on_current_map<T, Run, Running>(&self, operation: Run) -> Result<T, ApiError>
    where
        Run: Fn() -> Running,
        Running: Future<Output = Result<T, ApiError>>,
    {
        let mut attempt = 0;
        loop {
            match operation().await {
                Err(error) if error.code() == ErrorCode::FeedMoving && attempt < MOVE_ATTEMPTS => {
                    attempt += 1;
                    if !self.refresh_map().await? {
                        worker::Delay::from(Duration::from_millis(50 * u64::from(attempt))).await;
                    }
                }
                other => return other,
            }
        }
    }

    /// Reads the bucket map from the environment's own database, its
    /// authority, opening any shard it needs that this handle has not;
    /// answers whether it differs from the one this handle had.
    pub(super) async fn refresh_map(&self) -> Result<bool, ApiError> {
        let Some(map) = stored_map(&self.db).await? else { return Ok(false) };
        if map == self.map.get() {
            return Ok(false);
        }
        let needed = if map.to().is_sharded() { map.to().get() as usize } else { 0 };
        if needed > self.shards.borrow().len() {
            let opened = super::scope::open_shards(&self.platform, &self.name, &self.bindings.with_shards(map.to()))?;
            *self.shards.borrow_mut() = opened;
        }
        self.map.set(map);
        self.session_moved.set(self.session.get().is_some());
        Ok(true)
    }

    /// Runs one batch on each shard, all at once, retrying transient
    /// failures; answers once every shard committed. Each batch must be safe
    /// to apply twice (a retry after a failure on another shard runs them all
    /// again).
    pub(super) async fn write_shards(
        &self,
        operation: &'static str,
        batches: Vec<(Rc<D1Database>, Vec<D1PreparedStatement>)>,
    ) -> Result<(), ApiError> {
        let mut writes = Vec::with_capacity(batches.len());
        for (db, statements) in batches.into_iter().filter(|(_, statements)| !statements.is_empty()) {
            writes.push(
                async move { super::retry::write(&self.faults, operation, || db.batch(statements.clone())).await },
            );
        }
        try_join_all(writes).await.map(|_| ())
    }
}

/// The bucket map an environment's own database records, if a move ever
/// started there (none: settled at the registry's count).
pub(super) async fn stored_map(db: &D1Database) -> Result<Option<BucketMap>, ApiError> {
    #[derive(serde::Deserialize)]
    struct MapRow {
        shards_from: f64,
        shards_to: f64,
        moved: String,
    }
    let row: Option<MapRow> = db
        .prepare("SELECT shards_from, shards_to, moved FROM feed_map WHERE id = 1")
        .first(None)
        .await
        .map_err(|error| storage_error("read bucket map", error))?;
    row.map(|row| {
        BucketMap::from_stored(
            ShardCount::from_stored(row.shards_to),
            Some(ShardCount::from_stored(row.shards_from)),
            Some(&row.moved),
        )
        .map_err(|error| ApiError::internal("read bucket map", error))
    })
    .transpose()
}

/// The role a database plays for an environment in its identity stamp
/// (`feed_shard`): its own database, or feed shard `i` (`i` ≥ 0).
pub(super) const PRIMARY: i64 = FeedHome::Primary.role();

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

/// Whether `db` carries `identity`'s stamp (this environment, this
/// incarnation, this role); `false` without a stamp or where it cannot be read.
pub(super) async fn is_stamped_as(db: &D1Database, binding: &str, identity: &Identity<'_>) -> bool {
    match db.prepare(READ_STAMP).all().await.and_then(|result| result.results::<Stamp>()) {
        Ok(stamps) => stamps
            .first()
            .is_some_and(|stamp| stamp.environment.is_some() && identity.refusal(stamp, binding).is_none()),
        Err(_) => false,
    }
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
