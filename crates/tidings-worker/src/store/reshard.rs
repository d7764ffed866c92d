//! Resharding: moving an environment's feeds to more shards while it keeps
//! serving (`POST /v1/environments/{name}/reshard`, `npm run env -- reshard`).
//!
//! The bucket map ([`BucketMap`]) is recorded in the environment's own
//! database (`feed_map`, the authority) and copied into the registry for
//! routing, after it: the copy never runs ahead. Each call holds a lease on
//! the map and moves buckets, one at a time, until its time is up:
//!
//! 1. **Fence** the bucket's writes where it is (`feed_fences` 'writes'):
//!    from then on no statement changes its feeds there; reads go on.
//! 2. **Copy** its subscribers' feeds to the new shard: messages and
//!    tombstones re-stamped with that shard's clock after raising it past
//!    the old one's, so a client's watermark from before the move sees every
//!    row as changed (delta sync stays exact); feed-action keys and recent
//!    deletions too. The counters rebuild themselves from the inserts.
//! 3. **Verify** both sides' messages and tombstones (counts and sums) and
//!    the new side's counters; a mismatch lifts the fence and fails.
//! 4. **Switch**: fence all access at the old home ('all'), lift any fence
//!    at the new one, record the bucket moved in the map, then in the
//!    registry's copy. A worker still routing with an older map is refused
//!    by the fence and reads the map again (`shards.rs`).
//! 5. **Clean up** the old home.
//!
//! Every step can run again after a call dies half-way: the next call
//! starts the bucket over.

use serde::Deserialize;
use serde_json::Value;
use tidings_core::shard::{self, BucketMap, BucketMove, FeedHome, ShardCount};
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::{ErrorCode, ReshardProgress};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

use super::authorized::Authorized;
use super::messages::{CLOCK, TICK};
use super::platform::Platform;
use super::shards::{claim_database, stored_map, Identity};
use super::{control_db, number, statement, storage_error, text, AuditRecord, Environment};
use crate::error::ApiError;

/// How long one call holds the lease on the map: past it, another call may
/// take over a move whose caller died.
const LEASE_MS: u64 = 20_000;
/// Subscribers whose buckets are filled in, or copied, per statement.
const SUBSCRIBER_PAGE: u64 = 500;
/// Messages read per page of a copy (then written in chunks of at most
/// [`CHUNK_BYTES`]).
const MESSAGE_PAGE: u64 = 200;
/// The most JSON text bound to one statement.
const CHUNK_BYTES: usize = 512 * 1024;
/// Rows deleted per statement when the old home is cleaned up.
const DELETE_PAGE: u64 = 1_000;

/// The subscribers of the bucket bound at `?1`, as SQL.
const OF_BUCKET: &str = "subscriber_id IN (SELECT id FROM subscribers WHERE bucket = ?1)";

/// Feed-action keys of the bucket bound at `?1` (`feed:<len>:<subscriber>:…`,
/// see `tidings_core::idempotency::feed_action_key`), as SQL over `idempotency_keys`.
const KEYS_OF_BUCKET: &str = "key IN (SELECT k.key FROM idempotency_keys k JOIN subscribers s ON s.bucket = ?1 \
    AND k.key >= 'feed:' || length(s.id) || ':' || s.id || ':' AND k.key < 'feed:' || length(s.id) || ':' || s.id || ';')";

/// Moves `authorized`'s environment's feeds to `target` shards: starts the
/// move (its shard bindings must exist and be migrated), or goes on with
/// the one under way, for up to `budget_ms`; answers where it stands.
pub async fn reshard(
    env: &Platform,
    authorized: &Authorized,
    target: ShardCount,
    lease_id: &str,
    audit: &AuditRecord<'_>,
    now_ms: u64,
    budget_ms: u64,
) -> Result<ReshardProgress, ApiError> {
    let name = authorized.require_reshard()?;
    let scope = Environment::open_authorized(env, authorized).await?;
    let map = match stored_map(&scope.db).await? {
        Some(map) => map,
        None => BucketMap::settled(registry_count(env, name).await?),
    };
    if map.is_settled() && map.to() == target {
        return Ok(progress(&scope, map.from(), map, 0, 0));
    }
    if map.is_settled() && target < map.to() {
        let refusal = shard::ShardError::NotGrowing(map.to().get());
        return Err(ApiError::validation("shards", refusal.to_string()));
    }
    if !map.is_settled() && map.to() != target {
        return Err(ApiError::validation(
            "shards",
            format!(
                "{name}'s feeds are moving from {} to {} shards; finish that move first (reshard with {} shards)",
                map.from().get(),
                map.to().get(),
                map.to().get()
            ),
        ));
    }
    take_lease(&scope, map, lease_id, now_ms).await?;
    let moved = move_under_lease(env, &scope, map, target, lease_id, audit, (now_ms, budget_ms)).await;
    release_lease(&scope, lease_id).await;
    moved
}

/// Starts the move if it is not under way, then moves buckets until
/// `budget_ms` is spent or none is left, renewing the lease as it goes.
async fn move_under_lease(
    env: &Platform,
    scope: &Environment,
    map: BucketMap,
    target: ShardCount,
    lease_id: &str,
    audit: &AuditRecord<'_>,
    (now_ms, budget_ms): (u64, u64),
) -> Result<ReshardProgress, ApiError> {
    let from = map.from();
    if map.is_settled() {
        start_move(env, scope, map, target, audit, now_ms).await?;
    }
    // The map as recorded now, with every shard it needs opened.
    scope.refresh_map().await?;
    let mut map = scope.bucket_map();
    let (mut subscribers, mut messages) = (0, 0);
    let deadline = now_ms + budget_ms;
    while let Some(step) = map.pending().next() {
        if crate::platform::now_ms() > deadline {
            break;
        }
        renew_lease(scope, lease_id).await?;
        let moved = scope.move_bucket(env, step, map, crate::platform::now_ms()).await?;
        subscribers += moved.subscribers;
        messages += moved.messages;
        map = scope.bucket_map();
    }
    Ok(progress(scope, from, map, subscribers, messages))
}

/// The count of shards the registry records for `name`.
async fn registry_count(
    env: &Platform,
    name: &tidings_core::environment::EnvironmentName,
) -> Result<ShardCount, ApiError> {
    Ok(ShardCount::from_stored(super::registry::environment_row(env, name).await?.feed_shards))
}

/// Where a move from `from` shards stands with the map `now`.
fn progress(scope: &Environment, from: ShardCount, now: BucketMap, subscribers: u64, messages: u64) -> ReshardProgress {
    let all = BucketMap::moving(from, now.to(), Default::default()).map_or(0, |fresh| fresh.pending().count() as u32);
    let left = now.pending().count() as u32;
    ReshardProgress {
        environment: scope.name().as_str().to_owned(),
        shards_from: from.get(),
        shards: now.to().get(),
        buckets_moved: all - left.min(all),
        buckets_to_move: all,
        subscribers_moved: subscribers,
        messages_moved: messages,
        done: now.is_settled(),
    }
}

/// Takes the lease on the map for this call, or refuses while another call
/// holds it. A map never recorded is recorded settled first.
async fn take_lease(scope: &Environment, map: BucketMap, lease_id: &str, now_ms: u64) -> Result<(), ApiError> {
    let record = statement(
        &scope.db,
        "INSERT INTO feed_map (id, shards_from, shards_to, moved) VALUES (1, ?1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
        &[number(u64::from(map.to().get())), text(&map.moved().encode())],
    )?;
    let lease = statement(
        &scope.db,
        "UPDATE feed_map SET lease_id = ?1, lease_until = ?2 WHERE id = 1 AND (lease_until < ?3 OR lease_id = ?1) \
         RETURNING lease_id",
        &[text(lease_id), number(now_ms + LEASE_MS), number(now_ms)],
    )?;
    let results =
        scope.db.batch(vec![record, lease]).await.map_err(|error| storage_error("take reshard lease", error))?;
    if rows(results.get(1))?.is_empty() {
        return Err(ApiError::new(
            409,
            ErrorCode::ReshardInProgress,
            format!("another call is moving {}'s feeds right now; try again shortly", scope.name()),
        )
        .retry_after(5));
    }
    Ok(())
}

/// Extends this call's lease; fails when another call took it over.
async fn renew_lease(scope: &Environment, lease_id: &str) -> Result<(), ApiError> {
    let now = crate::platform::now_ms();
    let renewed = statement(
        &scope.db,
        "UPDATE feed_map SET lease_until = ?2 WHERE id = 1 AND lease_id = ?1 RETURNING lease_id",
        &[text(lease_id), number(now + LEASE_MS)],
    )?
    .all()
    .await
    .map_err(|error| storage_error("renew reshard lease", error))?;
    if renewed.results::<Value>().map_err(|error| storage_error("renew reshard lease", error))?.is_empty() {
        return Err(ApiError::new(409, ErrorCode::ReshardInProgress, "another call took the move over").retry_after(5));
    }
    Ok(())
}

/// Lets the next call take the lease at once.
async fn release_lease(scope: &Environment, lease_id: &str) {
    let release =
        statement(&scope.db, "UPDATE feed_map SET lease_until = 0 WHERE id = 1 AND lease_id = ?1", &[text(lease_id)]);
    if let Ok(release) = release {
        let _ = release.run().await;
    }
}

/// Starts the move from `map` (settled) to `target`: every shard binding it
/// needs must exist, be migrated and be (or become) stamped as this
/// environment's; then the map is recorded moving, first in the
/// environment's own database, then in the registry.
async fn start_move(
    env: &Platform,
    scope: &Environment,
    map: BucketMap,
    target: ShardCount,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let name = scope.name();
    let row = super::registry::environment_row(env, name).await?;
    let bindings = scope.bindings.with_shards(target);
    for (index, binding) in bindings.shards().iter().enumerate() {
        let not_ready = |why: String| ApiError::new(409, ErrorCode::EnvironmentNotReady, why);
        let db = env.shard_db(&bindings, index).map_err(|_| {
            not_ready(format!(
                "the feed shard binding {binding} is missing: run `npm run env -- reshard {name} --shards {}`, \
                 or add it to wrangler.toml and deploy",
                target.get()
            ))
        })?;
        let migrated = db.prepare("SELECT COUNT(*) AS fences FROM feed_fences").first::<Value>(None).await.is_ok();
        if !migrated {
            return Err(not_ready(format!(
                "feed shard {binding} has no schema yet: apply the migrations in migrations/environment"
            )));
        }
        let identity = Identity { environment: name.as_str(), created_at: row.created_at as u64, role: index as i64 };
        let refusal =
            claim_database(&db, binding, &identity).await.map_err(|error| storage_error("stamp feed shard", error))?;
        if let Some(reason) = refusal {
            return Err(not_ready(reason));
        }
    }
    let moving = BucketMap::moving(map.to(), target, Default::default())
        .map_err(|error| ApiError::validation("shards", error.to_string()))?;
    let summary = serde_json::json!({"before": {"shards": map.to().get()}, "after": {"shards": target.get()}});
    let entry = super::members::audit_statement(&control_db(env)?, &AuditRecord { summary, ..*audit }, now_ms)?;
    record_map(env, scope, moving, Some(entry)).await
}

/// Records `map` in the environment's own database, then in the registry
/// (with `audit`, the control plane's entry of a move that starts).
async fn record_map(
    env: &Platform,
    scope: &Environment,
    map: BucketMap,
    audit: Option<D1PreparedStatement>,
) -> Result<(), ApiError> {
    let (from, to) = (u64::from(map.from().get()), u64::from(map.to().get()));
    let moved = map.moved().encode();
    statement(
        &scope.db,
        "UPDATE feed_map SET shards_from = ?1, shards_to = ?2, moved = ?3 WHERE id = 1",
        &[number(from), number(to), text(&moved)],
    )?
    .run()
    .await
    .map_err(|error| storage_error("record bucket map", error))?;
    let (registry_from, registry_moved) =
        if map.is_settled() { (JsValue::NULL, JsValue::NULL) } else { (number(from), text(&moved)) };
    let control = control_db(env)?;
    let update = statement(
        &control,
        "UPDATE environments SET feed_shards = ?2, feed_shards_from = ?3, feed_moved = ?4 \
         WHERE name = ?1 AND status != 'deleted'",
        &[text(scope.name().as_str()), number(to), registry_from, registry_moved],
    )?;
    batch(&control, "record bucket map", [update].into_iter().chain(audit).collect()).await.map(|_| ())
}

/// What one bucket's move carried.
struct Moved {
    subscribers: u64,
    messages: u64,
}

/// A bucket's feeds summed up on one side, to compare both.
#[derive(Deserialize, PartialEq, Debug)]
struct Summary {
    messages: f64,
    unread: f64,
    unseen: f64,
    kept: f64,
    created: f64,
    sizes: f64,
    tombstones: f64,
    counted: f64,
}

const SUMMARY: &str = "SELECT COUNT(*) AS messages, COALESCE(SUM(read_at IS NULL), 0) AS unread, \
    COALESCE(SUM(seen_at IS NULL), 0) AS unseen, COALESCE(SUM(archived_at IS NULL), 0) AS kept, \
    COALESCE(SUM(created_at), 0) AS created, COALESCE(SUM(length(subject) + length(body) + length(payload)), 0) AS sizes, \
    (SELECT COUNT(*) FROM message_tombstones WHERE subscriber_id IN (SELECT id FROM subscribers WHERE bucket = ?1)) AS tombstones, \
    (SELECT COALESCE(SUM(total), 0) FROM feed_counts WHERE subscriber_id IN (SELECT id FROM subscribers WHERE bucket = ?1)) AS counted \
    FROM messages WHERE subscriber_id IN (SELECT id FROM subscribers WHERE bucket = ?1)";

impl Environment {
    /// Moves one bucket's feeds (fence, copy, verify, switch, clean up) and
    /// records it moved in `map`.
    async fn move_bucket(
        &self,
        env: &Platform,
        step: BucketMove,
        map: BucketMap,
        now_ms: u64,
    ) -> Result<Moved, ApiError> {
        let bucket = number(u64::from(step.bucket));
        let (source, target) = (self.db_of(step.from)?, self.db_of(step.to)?);
        let run = |db: &D1Database, sql: &str, arguments: &[JsValue]| -> Result<D1PreparedStatement, ApiError> {
            statement(db, sql, arguments)
        };
        // 1. Record the move and fence the bucket's writes where it is.
        batch(
            &self.db,
            "start move",
            vec![run(
                &self.db,
                "INSERT INTO feed_moves (bucket, from_role, to_role, state, started_at) VALUES (?1, ?2, ?3, 'copying', ?4) \
                 ON CONFLICT (bucket) DO UPDATE SET from_role = excluded.from_role, to_role = excluded.to_role, \
                 state = 'copying', started_at = excluded.started_at, switched_at = NULL",
                &[bucket.clone(), JsValue::from_f64(step.from.role() as f64), JsValue::from_f64(step.to.role() as f64), number(now_ms)],
            )?],
        )
        .await?;
        batch(
            &source,
            "fence bucket",
            vec![run(
                &source,
                "INSERT INTO feed_fences (bucket, state) VALUES (?1, 'writes') ON CONFLICT (bucket) DO NOTHING",
                std::slice::from_ref(&bucket),
            )?],
        )
        .await?;
        // Nothing changes the bucket's feeds at the source from here on: fill in the buckets it needs.
        fill_buckets(&source).await?;
        // 2. Copy: clear what an interrupted attempt left, raise the clock past the source's, then the rows.
        let clock: Value = source
            .prepare("SELECT version, purged_through FROM feed_clock WHERE id = 1")
            .first(None)
            .await
            .map_err(|error| storage_error("read feed clock", error))?
            .ok_or_else(|| ApiError::internal("move bucket", "the feed clock row is missing"))?;
        let mut clear = clear_bucket(&target, &bucket, true)?;
        clear.push(run(
            &target,
            "UPDATE feed_clock SET version = MAX(version, ?1), purged_through = MAX(purged_through, ?2) WHERE id = 1",
            &[clock_value(&clock, "version"), clock_value(&clock, "purged_through")],
        )?);
        batch(&target, "clear moved bucket", clear).await?;
        let subscribers = copy_subscribers(&source, &target, &bucket).await?;
        let messages = copy_feed(&source, &target, &bucket, "messages").await?;
        copy_feed(&source, &target, &bucket, "message_tombstones").await?;
        copy_keys(&source, &target, &bucket).await?;
        copy_deletions(&source, &target, step.bucket).await?;
        // 3. Verify.
        let (before, after) = (summary(&source, &bucket).await?, summary(&target, &bucket).await?);
        let counters_agree = after.counted == after.kept;
        if before.messages != after.messages
            || before.unread != after.unread
            || before.unseen != after.unseen
            || before.kept != after.kept
            || before.created != after.created
            || before.sizes != after.sizes
            || before.tombstones != after.tombstones
            || !counters_agree
        {
            let lift = run(
                &source,
                "DELETE FROM feed_fences WHERE bucket = ?1 AND state = 'writes'",
                std::slice::from_ref(&bucket),
            )?;
            batch(&source, "lift fence", vec![lift]).await?;
            return Err(ApiError::internal(
                "move bucket",
                format!(
                    "bucket {} did not verify after its copy ({before:?} → {after:?}); it stays where it was",
                    step.bucket
                ),
            ));
        }
        // 4. Switch.
        batch(
            &source,
            "switch bucket",
            vec![run(
                &source,
                "INSERT INTO feed_fences (bucket, state) VALUES (?1, 'all') ON CONFLICT (bucket) DO UPDATE SET state = 'all'",
                std::slice::from_ref(&bucket),
            )?],
        )
        .await?;
        batch(
            &target,
            "switch bucket",
            vec![run(&target, "DELETE FROM feed_fences WHERE bucket = ?1", std::slice::from_ref(&bucket))?],
        )
        .await?;
        let switched = map.switched(step.bucket);
        batch(
            &self.db,
            "switch bucket",
            vec![run(
                &self.db,
                "UPDATE feed_moves SET state = 'switched', switched_at = ?2, subscribers = ?3, messages = ?4 WHERE bucket = ?1",
                &[bucket.clone(), number(now_ms), number(subscribers), number(messages)],
            )?],
        )
        .await?;
        record_map(env, self, switched, None).await?;
        self.map.set(switched);
        // 5. Clean up the old home.
        let keep_subscribers = step.from == FeedHome::Primary;
        loop {
            let deleted = batch(
                &source,
                "clean up moved bucket",
                vec![run(
                    &source,
                    &format!(
                        "DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages WHERE {OF_BUCKET} LIMIT {DELETE_PAGE}) \
                         RETURNING id"
                    ),
                    std::slice::from_ref(&bucket),
                )?],
            )
            .await?;
            if rows(deleted.first())?.is_empty() {
                break;
            }
        }
        batch(&source, "clean up moved bucket", clear_bucket(&source, &bucket, !keep_subscribers)?).await?;
        batch(
            &self.db,
            "finish move",
            vec![run(&self.db, "UPDATE feed_moves SET state = 'done' WHERE bucket = ?1", &[bucket])?],
        )
        .await?;
        Ok(Moved { subscribers, messages })
    }
}

/// The statements removing a bucket's feeds from `db` (what an interrupted
/// copy left at the target, or the source after the switch), and its
/// subscriber rows when `subscribers` (a shard's, never the primary's).
fn clear_bucket(db: &D1Database, bucket: &JsValue, subscribers: bool) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let arguments = std::slice::from_ref(bucket);
    let mut statements = vec![
        statement(db, &format!("DELETE FROM messages WHERE {OF_BUCKET}"), arguments)?,
        statement(db, &format!("DELETE FROM message_tombstones WHERE {OF_BUCKET}"), arguments)?,
        statement(db, &format!("DELETE FROM feed_counts WHERE {OF_BUCKET}"), arguments)?,
        statement(db, &format!("DELETE FROM idempotency_keys WHERE {KEYS_OF_BUCKET}"), arguments)?,
    ];
    if subscribers {
        statements.push(statement(db, "DELETE FROM subscribers WHERE bucket = ?1", arguments)?);
    }
    Ok(statements)
}

/// Fills in the bucket of every subscriber row of `db` that has none.
async fn fill_buckets(db: &D1Database) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    loop {
        let rows: Vec<Row> = db
            .prepare(format!("SELECT id FROM subscribers WHERE bucket IS NULL LIMIT {SUBSCRIBER_PAGE}"))
            .all()
            .await
            .and_then(|result| result.results())
            .map_err(|error| storage_error("read subscribers", error))?;
        if rows.is_empty() {
            return Ok(());
        }
        let pairs: Vec<Value> = rows
            .iter()
            .map(|row| {
                // An id that is not a valid subscriber id (never written so) goes to bucket 0's reckoning.
                let bucket = SubscriberId::parse(&row.id).map_or(0, |id| shard::bucket_of(&id));
                serde_json::json!([row.id, bucket])
            })
            .collect();
        let fill = statement(
            db,
            "UPDATE subscribers SET bucket = (SELECT j.value ->> '$[1]' FROM json_each(?1) j WHERE j.value ->> '$[0]' = subscribers.id) \
             WHERE id IN (SELECT value ->> '$[0]' FROM json_each(?1))",
            &[text(&Value::from(pairs).to_string())],
        )?;
        batch(db, "fill in buckets", vec![fill]).await?;
    }
}

/// Copies the bucket's subscriber rows (ids and creation times: profiles
/// stay in the primary) to `target`; answers how many.
async fn copy_subscribers(source: &D1Database, target: &D1Database, bucket: &JsValue) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        created_at: f64,
    }
    let (mut after, mut copied) = (String::new(), 0);
    loop {
        let rows: Vec<Row> = statement(
            source,
            &format!("SELECT id, created_at FROM subscribers WHERE bucket = ?1 AND id > ?2 ORDER BY id LIMIT {SUBSCRIBER_PAGE}"),
            &[bucket.clone(), text(&after)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read subscribers", error))?;
        let Some(last) = rows.last() else { return Ok(copied) };
        after = last.id.clone();
        copied += rows.len() as u64;
        let pairs: Vec<Value> = rows.iter().map(|row| serde_json::json!([row.id, row.created_at])).collect();
        let insert = statement(
            target,
            "INSERT INTO subscribers (id, created_at, updated_at, bucket) \
             SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[1]', ?2 FROM json_each(?1) WHERE true \
             ON CONFLICT (id) DO UPDATE SET bucket = excluded.bucket",
            &[text(&Value::from(pairs).to_string()), bucket.clone()],
        )?;
        batch(target, "copy subscribers", vec![insert]).await?;
    }
}

/// The columns of `table` in `db`, as its schema has them.
async fn columns(db: &D1Database, table: &str) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct Column {
        name: String,
    }
    let found: Vec<Column> = statement(db, "SELECT name FROM pragma_table_info(?1)", &[text(table)])?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read table columns", error))?;
    Ok(found.into_iter().map(|column| column.name).collect())
}

/// Copies the bucket's rows of `table` (messages or tombstones) to
/// `target`, each re-stamped with the target's clock (ticked per chunk);
/// answers how many.
async fn copy_feed(source: &D1Database, target: &D1Database, bucket: &JsValue, table: &str) -> Result<u64, ApiError> {
    let names = columns(source, table).await?;
    let list = names.join(", ");
    let values = names
        .iter()
        .map(|name| if name == "version" { CLOCK.to_owned() } else { format!("value ->> '$.{name}'") })
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!(
        "INSERT INTO {table} ({list}) SELECT {values} FROM json_each(?1) WHERE true ON CONFLICT (id) DO NOTHING"
    );
    let (mut after, mut copied) = (String::new(), 0);
    loop {
        let rows: Vec<serde_json::Map<String, Value>> = statement(
            source,
            &format!("SELECT {list} FROM {table} WHERE {OF_BUCKET} AND id > ?2 ORDER BY id LIMIT {MESSAGE_PAGE}"),
            &[bucket.clone(), text(&after)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read moved feed", error))?;
        let Some(last) = rows.last() else { return Ok(copied) };
        after = last.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        copied += rows.len() as u64;
        for chunk in json_chunks(rows) {
            let statements = vec![statement(target, TICK, &[])?, statement(target, &insert, &[text(&chunk)])?];
            batch(target, "copy moved feed", statements).await?;
        }
    }
}

/// Copies the idempotency keys of the bucket's feed actions to `target`.
async fn copy_keys(source: &D1Database, target: &D1Database, bucket: &JsValue) -> Result<(), ApiError> {
    let names = columns(source, "idempotency_keys").await?;
    let list = names.join(", ");
    let values = names.iter().map(|name| format!("value ->> '$.{name}'")).collect::<Vec<_>>().join(", ");
    let rows: Vec<serde_json::Map<String, Value>> = statement(
        source,
        &format!("SELECT {list} FROM idempotency_keys WHERE {KEYS_OF_BUCKET}"),
        std::slice::from_ref(bucket),
    )?
    .all()
    .await
    .and_then(|result| result.results())
    .map_err(|error| storage_error("read moved keys", error))?;
    let insert = format!(
        "INSERT INTO idempotency_keys ({list}) SELECT {values} FROM json_each(?1) WHERE true ON CONFLICT (key) DO NOTHING"
    );
    for chunk in json_chunks(rows) {
        batch(target, "copy moved keys", vec![statement(target, &insert, &[text(&chunk)])?]).await?;
    }
    Ok(())
}

/// Copies the recent deletions of the bucket's subscribers (whose rows are
/// gone, so found by their ids' buckets) to `target`.
async fn copy_deletions(source: &D1Database, target: &D1Database, bucket: u32) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Row {
        subscriber_id: String,
        deleted_at: f64,
    }
    let rows: Vec<Row> = source
        .prepare("SELECT subscriber_id, deleted_at FROM subscriber_deletions")
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read deletions", error))?;
    let moved: Vec<Value> = rows
        .iter()
        .filter(|row| SubscriberId::parse(&row.subscriber_id).is_ok_and(|id| shard::bucket_of(&id) == bucket))
        .map(|row| serde_json::json!([row.subscriber_id, row.deleted_at]))
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    let insert = statement(
        target,
        "INSERT INTO subscriber_deletions (subscriber_id, deleted_at) SELECT value ->> '$[0]', value ->> '$[1]' \
         FROM json_each(?1) WHERE true ON CONFLICT (subscriber_id) DO UPDATE SET deleted_at = MAX(deleted_at, excluded.deleted_at)",
        &[text(&Value::from(moved).to_string())],
    )?;
    batch(target, "copy deletions", vec![insert]).await.map(|_| ())
}

/// A bucket's feeds summed up in `db`.
async fn summary(db: &D1Database, bucket: &JsValue) -> Result<Summary, ApiError> {
    statement(db, SUMMARY, std::slice::from_ref(bucket))?
        .first(None)
        .await
        .map_err(|error| storage_error("verify moved bucket", error))?
        .ok_or_else(|| ApiError::internal("verify moved bucket", "no summary row"))
}

/// Rows as JSON arrays of at most [`CHUNK_BYTES`] each (one row may exceed it alone).
fn json_chunks(rows: Vec<serde_json::Map<String, Value>>) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 0;
    for row in rows {
        let text = Value::Object(row).to_string();
        if size + text.len() > CHUNK_BYTES && !current.is_empty() {
            chunks.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 0;
        }
        size += text.len() + 1;
        current.push(text);
    }
    if !current.is_empty() {
        chunks.push(format!("[{}]", current.join(",")));
    }
    chunks
}

/// A number of the clock row, as an argument.
fn clock_value(clock: &Value, field: &str) -> JsValue {
    JsValue::from_f64(clock.get(field).and_then(Value::as_f64).unwrap_or(0.0))
}

/// The rows of a result, as JSON values.
fn rows(result: Option<&D1Result>) -> Result<Vec<Value>, ApiError> {
    result.map_or(Ok(Vec::new()), |result| result.results().map_err(|error| storage_error("read result", error)))
}

/// Runs statements on `db` as one transaction.
async fn batch(
    db: &D1Database,
    operation: &str,
    statements: Vec<D1PreparedStatement>,
) -> Result<Vec<D1Result>, ApiError> {
    db.batch(statements).await.map_err(|error| storage_error(operation, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, bytes: usize) -> serde_json::Map<String, Value> {
        let mut map = serde_json::Map::new();
        map.insert("id".to_owned(), Value::from(id));
        map.insert("body".to_owned(), Value::from("x".repeat(bytes)));
        map
    }

    #[test]
    fn chunks_stay_under_the_bound_size_and_keep_every_row() {
        let rows: Vec<_> = (0..10).map(|index| row(&format!("m{index}"), 200 * 1024)).collect();
        let chunks = json_chunks(rows);
        assert!(chunks.len() >= 4, "{}", chunks.len());
        let mut seen = 0;
        for chunk in &chunks {
            let parsed: Vec<Value> = serde_json::from_str(chunk).unwrap();
            assert!(chunk.len() <= CHUNK_BYTES || parsed.len() == 1);
            seen += parsed.len();
        }
        assert_eq!(seen, 10);
        assert!(json_chunks(Vec::new()).is_empty());
    }
}
