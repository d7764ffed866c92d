//! Resharding: moving an environment's feeds to more shards while it keeps
//! serving (`POST /v1/environments/{name}/reshard`, `npm run env -- reshard`).
//!
//! The bucket map ([`BucketMap`]) is recorded in the environment's own
//! database (`feed_map`, the authority) and copied into the registry for
//! routing, after it: the copy never runs ahead. One call at a time holds a
//! lease on the map ([`Lease`]): every write of the map checks it, and so
//! does every step that deletes, so a call that lost its lease (it stalled,
//! another took over) changes nothing more. The call moves buckets, one at
//! a time, until its time is up:
//!
//! 1. **Pre-copy** its subscribers' feeds to the new shard (`copy.rs`) while
//!    they still take writes: subscribers, messages and tombstones as of the
//!    old home's clock, read first. The counters rebuild themselves from the
//!    inserts.
//! 2. **Fence** the bucket's writes where it is (`feed_fences` 'writes'):
//!    from then on no statement changes its feeds there; reads go on. Then
//!    **catch up**: drop the subscribers deleted since, copy the rows
//!    changed since the pre-copy's clock (each replaces its copy; a
//!    tombstone removes its message), the feed-action keys and recent
//!    deletions. Under the fence only what changed meanwhile is copied.
//! 3. **Verify** both sides' messages and tombstones (counts and sums) and
//!    the new side's counters; a catch-up that does not verify is followed
//!    by a whole copy under the fence, verified again. Any failure before
//!    the switch lifts the fence.
//! 4. **Switch**: fence all access at the old home ('all'); read its clock,
//!    which no read of the bucket there can pass any more; stamp every copied
//!    row with a version past it on the new shard and lift any fence there;
//!    record the bucket moved in the map (compare-and-set, under the lease),
//!    then in the registry. A client's watermark from the old home then sees
//!    every row as changed: delta sync stays exact. A worker still routing
//!    with an older map is refused by the fence and reads the map again
//!    (`shards.rs`).
//! 5. **Clean up** the old home. A move switched but not cleaned up (its
//!    call died) is cleaned up by the next call first.

mod copy;

use serde::Deserialize;
use serde_json::Value;
use tidings_core::lifecycle::Status;
use tidings_core::shard::{self, BucketMap, BucketMove, FeedHome, ShardCount};
use tidings_core::wire::{ErrorCode, ReshardProgress};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use self::copy::{batch, clean_up, rows, summary, Pass, OF_BUCKET};
use super::authorized::Authorized;
use super::faults::{Fault, FaultPlan, STALL};
use super::messages::CLOCK;
use super::platform::Platform;
use super::shards::{claim_database, stored_map, Identity};
use super::{control_db, number, statement, storage_error, text, AuditRecord, Environment};
use crate::error::ApiError;
use crate::runtime::SweepTick;
use tidings_core::environment::EnvironmentName;

/// How long one call holds the lease on the map without renewing it: past
/// it, another call may take over a move whose caller died.
const LEASE_MS: u64 = 20_000;

/// Moves `authorized`'s environment's feeds to `target` shards: starts the
/// move (its shard bindings must exist and be migrated), or goes on with
/// the one under way, for up to `budget_ms`; answers where it stands. The
/// call's lease id is fresh; its faults are a test stack's
/// (`reshard-switch=fail` fails a bucket's switch before the new shard's
/// batch, `reshard-fence=stall` holds it between its pre-copy and its
/// fence, `reshard-fence=lost` ends the call with its fence up,
/// `reshard-verify=fail` takes its catch-up as not verified).
pub async fn reshard(
    env: &Platform,
    authorized: &Authorized,
    target: ShardCount,
    faults: FaultPlan,
    audit: &AuditRecord<'_>,
    now_ms: u64,
    budget_ms: u64,
) -> Result<ReshardProgress, ApiError> {
    authorized.require_reshard()?;
    let mut scope = Environment::open_authorized(env, authorized).await?;
    scope.inject_faults(faults);
    let lease_id = fresh_lease_id()?;
    move_with_lease(env, &scope, target, &Lease::new(&scope.db, &lease_id), Some(audit), (now_ms, budget_ms)).await
}

/// A lease id of its own for one call (or one sweep of one environment).
fn fresh_lease_id() -> Result<String, ApiError> {
    Ok(tidings_core::base64::encode(&crate::platform::random::<16>()?))
}

/// How long the sweep goes on with one environment's move.
const SWEEP_BUDGET_MS: u64 = 5_000;

/// How long one sweep goes on with moves, all environments together.
const SWEEP_TOTAL_MS: u64 = 20_000;

/// The sweep's part in resharding: in every environment this deployment
/// serves whose feeds are moving while no call holds the lease (the call
/// moving them died, or nobody called again), goes on with the move for
/// [`SWEEP_BUDGET_MS`] as a call would, so a dead call's fences (lifted as
/// the move takes their bucket again) never hold a bucket for long. Only a
/// call starts a move. One environment's failure never stops the others'.
pub async fn resume_moves(env: &Platform, tick: &SweepTick) {
    let names = match super::sweepable_environments(env, tick).await {
        Ok(names) => names,
        Err(error) => return worker::console_error!("reshard sweep: cannot list environments: {error:?}"),
    };
    let started = crate::platform::now_ms();
    for name in names {
        // The rest wait for the next minute's sweep.
        if crate::platform::now_ms().saturating_sub(started) > SWEEP_TOTAL_MS {
            break;
        }
        match resume_move(env, tick, &name).await {
            Ok(Some(progress)) => worker::console_log!(
                "reshard sweep: {name}: {} of {} buckets moved",
                progress.buckets_moved,
                progress.buckets_to_move
            ),
            Ok(None) => {}
            // A call is moving its feeds now.
            Err(error) if error.code() == ErrorCode::ReshardInProgress => {}
            Err(error) => worker::console_error!("reshard sweep: {name}: {error:?}"),
        }
    }
}

/// Goes on with `name`'s move, if one is under way; `None` when none is.
async fn resume_move(
    env: &Platform,
    tick: &SweepTick,
    name: &EnvironmentName,
) -> Result<Option<ReshardProgress>, ApiError> {
    let scope = Environment::open_for_sweep(env, tick, name).await?;
    let Some(map) = stored_map(&scope.db).await? else { return Ok(None) };
    if map.is_settled() {
        return Ok(None);
    }
    let lease_id = fresh_lease_id()?;
    let lease = Lease::new(&scope.db, &lease_id);
    let now_ms = crate::platform::now_ms();
    move_with_lease(env, &scope, map.to(), &lease, None, (now_ms, SWEEP_BUDGET_MS)).await.map(Some)
}

/// Takes `lease` on `scope`'s map, checks with it held that the
/// environment is still the one opened and still accepts work, moves
/// buckets towards `target` for up to `budget_ms`, and lets the lease go.
/// `audit` records a move's start; without it (the sweep) none starts.
async fn move_with_lease(
    env: &Platform,
    scope: &Environment,
    target: ShardCount,
    lease: &Lease<'_>,
    audit: Option<&AuditRecord<'_>>,
    (now_ms, budget_ms): (u64, u64),
) -> Result<ReshardProgress, ApiError> {
    let name = scope.name();
    let row = super::registry::environment_row(env, name).await?;
    lease.take(ShardCount::from_stored(row.feed_shards), now_ms).await?;
    // Opened while it accepted work: with the lease held, it must still be that environment and still
    // accept work. A deletion sets `deleting` after taking the lease and before its wipe, so a call
    // that stalled until the deletion's lease lapsed, or until the wipe removed it, stops here.
    let unchanged = super::registry::environment_row(env, name).await.is_ok_and(|now| {
        now.created_at == row.created_at && Status::parse(&now.status).is_some_and(Status::accepts_new_keys)
    });
    if !unchanged {
        lease.release().await;
        return Err(ApiError::new(
            409,
            ErrorCode::EnvironmentNotReady,
            format!("the {name} environment is being deleted or was made again; no feed was moved"),
        ));
    }
    let created_at = row.created_at as u64;
    let moved = move_under_lease(env, scope, (target, created_at), lease, audit, (now_ms, budget_ms)).await;
    lease.release().await;
    moved
}

/// Under the lease: checks the request against the map as recorded now,
/// finishes what a dead call left, starts the move if it is not under way,
/// then moves buckets until `budget_ms` is spent or none is left.
async fn move_under_lease(
    env: &Platform,
    scope: &Environment,
    (target, created_at): (ShardCount, u64),
    lease: &Lease<'_>,
    audit: Option<&AuditRecord<'_>>,
    (now_ms, budget_ms): (u64, u64),
) -> Result<ReshardProgress, ApiError> {
    // The handle was opened from the registry's row: its map is the registry's copy.
    let routed = scope.bucket_map();
    let recorded = stored_map(&scope.db).await?;
    let map = recorded.ok_or_else(|| ApiError::internal("reshard", "the bucket map was not recorded"))?;
    if map.is_settled() && target < map.to() {
        return Err(ApiError::validation("shards", shard::ShardError::NotGrowing(map.to().get()).to_string()));
    }
    if !map.is_settled() && map.to() != target {
        let (from, to) = (map.from().get(), map.to().get());
        return Err(ApiError::validation(
            "shards",
            format!(
                "{}'s feeds are moving from {from} to {to} shards; finish that move first (reshard with {to} shards)",
                scope.name()
            ),
        ));
    }
    // The map as recorded, with every shard it needs opened; then what a dead call left.
    scope.refresh_map().await?;
    scope.finish_switched_moves(lease).await?;
    if routed != map {
        // A call died between the map and its copy.
        record_in_registry(env, scope, map, None).await?;
    }
    let from = map.from();
    if map.is_settled() && map.to() != target {
        let audit = audit.ok_or_else(|| ApiError::internal("reshard", "only a call starts a move"))?;
        start_move(env, scope, (map, target, created_at), lease, audit, now_ms).await?;
        scope.refresh_map().await?;
    }
    let columns = copy::Columns::of(&scope.db).await?;
    let mut map = scope.bucket_map();
    let (mut subscribers, mut messages) = (0, 0);
    let deadline = now_ms + budget_ms;
    while let Some(step) = map.pending().next() {
        if crate::platform::now_ms() > deadline {
            break;
        }
        let moved = scope.move_bucket(env, (step, &columns), lease, crate::platform::now_ms()).await?;
        subscribers += moved.subscribers;
        messages += moved.messages;
        map = scope.bucket_map();
    }
    Ok(progress(scope, from, map, subscribers, messages))
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

/// The lease an environment's deletion holds: one id, so a deletion called
/// again (to finish one that was interrupted) takes it back at once.
const DELETION_LEASE: &str = "deletion";

/// Holds an environment's feeds against resharding while it is deleted: takes
/// the lease a reshard call takes, so none moves feeds into databases being
/// wiped (or writes its fences and moves after the wipe, where the
/// environment made again under the same name would find them). Refuses (409
/// `reshard_in_progress`, with a `Retry-After`) while a call holds it; the
/// wipe removes the lease with the map. Where the lease cannot be taken at
/// all (a database not migrated that far, or failing), the deletion goes on
/// without it: a reshard call cannot run there either, and a broken
/// environment must stay deletable.
pub(in crate::store) async fn hold_for_deletion(
    db: &D1Database,
    shards: ShardCount,
    now_ms: u64,
) -> Result<(), ApiError> {
    match Lease::new(db, DELETION_LEASE).take(shards, now_ms).await {
        Err(error) if error.code() == ErrorCode::ReshardInProgress => Err(error),
        Err(error) => {
            worker::console_warn!("no reshard lease taken for a deletion: {}", error.message());
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// One call's lease on an environment's bucket map: the token every write
/// of the map and every destructive step checks. Each taking of it raises
/// the map's epoch; the fences and copy claims a call writes in other
/// databases carry its epoch, and one from an earlier epoch never replaces
/// (or lifts) a later one, so a write of a call that lost its lease, still
/// in flight, cannot undo the next call's.
pub(super) struct Lease<'a> {
    db: &'a D1Database,
    id: &'a str,
    epoch: std::cell::Cell<f64>,
}

impl<'a> Lease<'a> {
    /// The lease `id` on `db`'s map, not taken yet.
    fn new(db: &'a D1Database, id: &'a str) -> Self {
        Self { db, id, epoch: std::cell::Cell::new(0.0) }
    }

    /// The epoch this call took the lease at, as an argument.
    pub(super) fn epoch(&self) -> JsValue {
        JsValue::from_f64(self.epoch.get())
    }

    /// Takes the lease, or refuses while another call holds it. A map never
    /// recorded is recorded first, settled at the registry's `count`.
    async fn take(&self, count: ShardCount, now_ms: u64) -> Result<(), ApiError> {
        let record = statement(
            self.db,
            "INSERT INTO feed_map (id, shards_from, shards_to, moved) VALUES (1, ?1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
            &[number(u64::from(count.get())), text(&shard::MovedSet::default().encode())],
        )?;
        let lease = statement(
            self.db,
            "UPDATE feed_map SET lease_id = ?1, lease_until = ?2, lease_epoch = lease_epoch + 1 \
             WHERE id = 1 AND (lease_until < ?3 OR lease_id = ?1) RETURNING lease_epoch",
            &[text(self.id), number(now_ms + LEASE_MS), number(now_ms)],
        )?;
        // Migration 0027 brought the epoch: a database without it is not ready for a move.
        let results = match self.db.batch(vec![record, lease]).await {
            Err(error) if copy::is_unmigrated(&error) => return Err(copy::unmigrated("the environment's database")),
            other => other.map_err(|error| storage_error("take reshard lease", error))?,
        };
        let taken = rows(results.get(1))?;
        let Some(epoch) = taken.first().and_then(|row| row.get("lease_epoch")).and_then(Value::as_f64) else {
            return Err(busy("another call is moving this environment's feeds right now; try again shortly"));
        };
        self.epoch.set(epoch);
        Ok(())
    }

    /// Extends the lease; fails when another call took it over.
    pub(super) async fn renew(&self) -> Result<(), ApiError> {
        let renewed = statement(
            self.db,
            "UPDATE feed_map SET lease_until = ?2 WHERE id = 1 AND lease_id = ?1 RETURNING lease_id",
            &[text(self.id), number(crate::platform::now_ms() + LEASE_MS)],
        )?;
        let results = batch(self.db, "renew reshard lease", vec![renewed]).await?;
        if rows(results.first())?.is_empty() {
            return Err(busy("another call took this move over"));
        }
        Ok(())
    }

    /// Lets the next call take the lease at once.
    async fn release(&self) {
        let release =
            statement(self.db, "UPDATE feed_map SET lease_until = 0 WHERE id = 1 AND lease_id = ?1", &[text(self.id)]);
        if let Ok(release) = release {
            let _ = release.run().await;
        }
    }

    /// Records `next` as the map if it is still `previous` and this call
    /// still holds the lease (compare-and-set), with `also` in the same
    /// transaction; fails otherwise.
    async fn record(
        &self,
        previous: BucketMap,
        next: BucketMap,
        also: Option<D1PreparedStatement>,
    ) -> Result<(), ApiError> {
        let count = |count: ShardCount| number(u64::from(count.get()));
        let recorded = statement(
            self.db,
            "UPDATE feed_map SET shards_from = ?1, shards_to = ?2, moved = ?3 WHERE id = 1 AND lease_id = ?4 \
             AND shards_from = ?5 AND shards_to = ?6 AND moved = ?7 RETURNING id",
            &[
                count(next.from()),
                count(next.to()),
                text(&next.moved().encode()),
                text(self.id),
                count(previous.from()),
                count(previous.to()),
                text(&previous.moved().encode()),
            ],
        )?;
        let results = batch(self.db, "record bucket map", [recorded].into_iter().chain(also).collect()).await?;
        if rows(results.first())?.is_empty() {
            return Err(busy("the bucket map changed under this call; run the move again"));
        }
        Ok(())
    }
}

/// 409 `reshard_in_progress`, to retry shortly.
fn busy(message: &str) -> ApiError {
    ApiError::new(409, ErrorCode::ReshardInProgress, message).retry_after(5)
}

/// Starts the move from `map` (settled) to `target`: every shard binding it
/// needs must exist, be migrated and be (or become) stamped as this
/// environment's; then the map is recorded moving, first in the
/// environment's own database, then in the registry with the audit entry.
async fn start_move(
    env: &Platform,
    scope: &Environment,
    (map, target, created_at): (BucketMap, ShardCount, u64),
    lease: &Lease<'_>,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let name = scope.name();
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
        // Migration 0027 (the copies' owners) implies every migration a move needs before it.
        let migrated = db.prepare("SELECT COUNT(*) AS copies FROM feed_copies").first::<Value>(None).await.is_ok();
        if !migrated {
            return Err(not_ready(format!(
                "feed shard {binding} has no schema yet: apply the migrations in migrations/environment"
            )));
        }
        let identity = Identity { environment: name.as_str(), created_at, role: FeedHome::Shard(index).role() };
        let refusal =
            claim_database(&db, binding, &identity).await.map_err(|error| storage_error("stamp feed shard", error))?;
        if let Some(reason) = refusal {
            return Err(not_ready(reason));
        }
    }
    let moving = BucketMap::moving(map.to(), target, Default::default())
        .map_err(|error| ApiError::validation("shards", error.to_string()))?;
    lease.record(map, moving, None).await?;
    let summary = serde_json::json!({"before": {"shards": map.to().get()}, "after": {"shards": target.get()}});
    let entry = super::members::audit_statement(&control_db(env)?, &AuditRecord { summary, ..*audit }, now_ms)?;
    record_in_registry(env, scope, moving, Some(entry)).await
}

/// Copies `map` into the registry (with `audit`, the control plane's entry
/// of a move that starts); never over a deletion under way, which it
/// refuses (an archived environment's copy is kept: a purge reads its
/// shards from it).
async fn record_in_registry(
    env: &Platform,
    scope: &Environment,
    map: BucketMap,
    audit: Option<D1PreparedStatement>,
) -> Result<(), ApiError> {
    let to = number(u64::from(map.to().get()));
    let (from, moved) = if map.is_settled() {
        (JsValue::NULL, JsValue::NULL)
    } else {
        (number(u64::from(map.from().get())), text(&map.moved().encode()))
    };
    let control = control_db(env)?;
    let update = statement(
        &control,
        "UPDATE environments SET feed_shards = ?2, feed_shards_from = ?3, feed_moved = ?4 \
         WHERE name = ?1 AND status NOT IN ('deleting', 'deleted') RETURNING name",
        &[text(scope.name().as_str()), to, from, moved],
    )?;
    let results = batch(&control, "record bucket map", [update].into_iter().chain(audit).collect()).await?;
    if rows(results.first())?.is_empty() {
        return Err(ApiError::new(409, ErrorCode::EnvironmentNotReady, format!("{} is being deleted", scope.name())));
    }
    Ok(())
}

/// Records a bucket's move done (cleaned up), by the call holding the lease.
const FINISH_MOVE: &str = "UPDATE feed_moves SET state = 'done' WHERE bucket = ?1 \
    AND EXISTS (SELECT 1 FROM feed_map WHERE id = 1 AND lease_id = ?2)";

/// What one bucket's move carried.
struct Moved {
    /// The bucket's subscribers.
    subscribers: u64,
    /// The bucket's messages.
    messages: u64,
    /// Messages and tombstones copied under the fence.
    fenced_rows: u64,
}

impl Environment {
    /// Moves one bucket's feeds (fence, copy, verify, switch, clean up) and
    /// records it moved in the map. Any failure before the switch is
    /// recorded lifts this call's fence: the bucket stays where it was.
    async fn move_bucket(
        &self,
        env: &Platform,
        (step, columns): (BucketMove, &copy::Columns),
        lease: &Lease<'_>,
        now_ms: u64,
    ) -> Result<Moved, ApiError> {
        let bucket = number(u64::from(step.bucket));
        let (source, target) = (self.db_of(step.from)?, self.db_of(step.to)?);
        lease.renew().await?;
        batch(
            &self.db,
            "start move",
            vec![statement(
                &self.db,
                "INSERT INTO feed_moves (bucket, from_role, to_role, state, started_at) \
                 SELECT ?1, ?2, ?3, 'copying', ?4 WHERE EXISTS (SELECT 1 FROM feed_map WHERE id = 1 AND lease_id = ?5) \
                 ON CONFLICT (bucket) DO UPDATE SET from_role = excluded.from_role, to_role = excluded.to_role, \
                 state = 'copying', started_at = excluded.started_at, switched_at = NULL, fenced_at = NULL, \
                 fenced_rows = NULL",
                &[bucket.clone(), role(step.from), role(step.to), number(now_ms), text(lease.id)],
            )?],
        )
        .await?;
        // The map says the bucket lives at the source: a fence there is a dead call's, and would
        // hold its writes (or, 'all', every access) through the pre-copy. This call owns the copy
        // into the target from now on (both checked by the lease's epoch, renewed just above).
        let stale = "DELETE FROM feed_fences WHERE bucket = ?1 AND COALESCE(epoch, 0) < ?2";
        match source.batch(vec![statement(&source, stale, &[bucket.clone(), lease.epoch()])?]).await {
            Err(error) if copy::is_unmigrated(&error) => return Err(copy::unmigrated("a feed shard")),
            other => other.map_err(|error| storage_error("lift stale fence", error))?,
        };
        copy::claim_copy(&target, &bucket, lease).await?;
        // 1. Pre-copy while the bucket takes writes (most subscribers' buckets are filled in
        // first; under the fence, only rows added since).
        let since = copy::precopy((&source, &target), (&bucket, columns), lease, now_ms).await?;
        let fence_fault = self.faults.next("reshard-fence");
        if fence_fault == Fault::Stall {
            worker::Delay::from(STALL).await;
        }
        let moved = async {
            // 2. Fence the bucket's writes where it is, as this call's.
            lease.renew().await?;
            let fence = "INSERT INTO feed_fences (bucket, state, owner, epoch) VALUES (?1, 'writes', ?2, ?3) \
                ON CONFLICT (bucket) DO UPDATE SET state = 'writes', owner = excluded.owner, epoch = excluded.epoch \
                WHERE COALESCE(feed_fences.epoch, 0) <= excluded.epoch RETURNING bucket";
            let arguments = [bucket.clone(), text(lease.id), lease.epoch()];
            let fenced = batch(&source, "fence bucket", vec![statement(&source, fence, &arguments)?]).await?;
            if rows(fenced.first())?.is_empty() {
                return Err(busy("another call took this bucket's move over"));
            }
            if fence_fault == Fault::Lost {
                // The test stack's `reshard-fence=lost`: the call ends with its fence up, as when its
                // isolate does; the sweep (or the next call) takes the move up again.
                return Ok(None);
            }
            let fenced_at = crate::platform::now_ms();
            self.copy_and_switch(env, (step, columns), (&source, &target), (since, fenced_at), lease, now_ms)
                .await
                .map(Some)
        }
        .await;
        let moved = match moved {
            Ok(Some(moved)) => moved,
            Ok(None) => {
                return Err(ApiError::new(
                    503,
                    ErrorCode::Unavailable,
                    "the call ended after fencing a bucket (injected)",
                ))
            }
            Err(error) => {
                // Unless the map says it moved, the bucket stays here: lift this call's fence (not
                // one a call that took over set since), if it went up, even with its answer lost.
                if let Ok(Some(map)) = stored_map(&self.db).await {
                    if map.home_of(step.bucket) == step.from {
                        let lift = "DELETE FROM feed_fences WHERE bucket = ?1 AND owner = ?2";
                        for _ in 0..2 {
                            let lift = statement(&source, lift, &[bucket.clone(), text(lease.id)])?;
                            if batch(&source, "lift fence", vec![lift]).await.is_ok() {
                                break;
                            }
                        }
                    }
                }
                return Err(error);
            }
        };
        // 5. Clean up the old home (the primary keeps its subscribers' profiles).
        clean_up(&source, &bucket, step.from == FeedHome::Primary, lease).await?;
        let finished = statement(&self.db, FINISH_MOVE, &[bucket, text(lease.id)])?;
        batch(&self.db, "finish move", vec![finished]).await?;
        Ok(moved)
    }

    /// Steps 2 to 4 of a bucket's move, under the fence set at `fenced_at`:
    /// catch up from the pre-copy's clock `since`, verify, switch.
    async fn copy_and_switch(
        &self,
        env: &Platform,
        (step, columns): (BucketMove, &copy::Columns),
        (source, target): (&D1Database, &D1Database),
        (since, fenced_at): (f64, u64),
        lease: &Lease<'_>,
        now_ms: u64,
    ) -> Result<Moved, ApiError> {
        let bucket = number(u64::from(step.bucket));
        // The test stack's `reshard-verify=fail` takes the catch-up as not verified.
        let refuse_catch_up = self.faults.next("reshard-verify") == Fault::Fail;
        let moved =
            catch_up_and_verify((source, target), (step.bucket, columns), (since, refuse_catch_up), lease, now_ms)
                .await?;
        // 4. Switch: the old home refuses the bucket (only while the fence is still this call's)
        // and answers its clock, which no read of the bucket there can pass any more.
        lease.renew().await?;
        let close = "UPDATE feed_fences SET state = 'all' WHERE bucket = ?1 AND owner = ?2 RETURNING bucket";
        let clock_sql = "SELECT version, purged_through FROM feed_clock WHERE id = 1";
        let closed = batch(
            source,
            "switch bucket",
            vec![statement(source, close, &[bucket.clone(), text(lease.id)])?, statement(source, clock_sql, &[])?],
        )
        .await?;
        if rows(closed.first())?.is_empty() {
            return Err(busy("another call took this bucket's move over"));
        }
        let clock = rows(closed.get(1))?.into_iter().next();
        let clock_of = |field: &str| {
            clock
                .as_ref()
                .and_then(|clock| clock.get(field))
                .and_then(Value::as_f64)
                .map(JsValue::from_f64)
                .ok_or_else(|| ApiError::internal("switch bucket", "the old home's feed clock row is missing"))
        };
        if self.faults.next("reshard-switch") == Fault::Fail {
            return Err(ApiError::unavailable("switch bucket", super::faults::INJECTED));
        }
        // The copy is stamped past that clock on the new shard, and its fence there (from an
        // earlier move away) lifted.
        let raise =
            "UPDATE feed_clock SET version = MAX(version, ?1) + 1, purged_through = MAX(purged_through, ?2) WHERE id = 1";
        let of_bucket = std::slice::from_ref(&bucket);
        copy::batch_owned(
            target,
            (&bucket, lease),
            "switch bucket",
            vec![
                statement(target, raise, &[clock_of("version")?, clock_of("purged_through")?])?,
                statement(target, &format!("UPDATE messages SET version = {CLOCK} WHERE {OF_BUCKET}"), of_bucket)?,
                statement(
                    target,
                    &format!("UPDATE message_tombstones SET version = {CLOCK} WHERE {OF_BUCKET}"),
                    of_bucket,
                )?,
                statement(target, "DELETE FROM feed_fences WHERE bucket = ?1", of_bucket)?,
                // Copied: no write of a copy goes through here any more.
                statement(target, "DELETE FROM feed_copies WHERE bucket = ?1", of_bucket)?,
            ],
        )
        .await?;
        // The map and the move's record, in one transaction, under the lease.
        let map = self.bucket_map();
        let switched = map.switched(step.bucket);
        let record = statement(
            &self.db,
            "UPDATE feed_moves SET state = 'switched', switched_at = ?2, subscribers = ?3, messages = ?4, \
             fenced_at = ?7, fenced_rows = ?8 \
             WHERE bucket = ?1 AND EXISTS (SELECT 1 FROM feed_map WHERE id = 1 AND lease_id = ?5 AND moved = ?6)",
            &[
                bucket,
                number(crate::platform::now_ms()),
                number(moved.subscribers),
                number(moved.messages),
                text(lease.id),
                text(&switched.moved().encode()),
                number(fenced_at),
                number(moved.fenced_rows),
            ],
        )?;
        lease.record(map, switched, Some(record)).await?;
        self.map.set(switched);
        record_in_registry(env, self, switched, None).await?;
        Ok(moved)
    }

    /// Cleans up the old homes of moves a call switched but died before it
    /// cleaned up: every database a recorded move left that is not the
    /// bucket's home now.
    async fn finish_switched_moves(&self, lease: &Lease<'_>) -> Result<(), ApiError> {
        #[derive(Deserialize)]
        struct Unfinished {
            bucket: f64,
            from_role: f64,
        }
        let unfinished: Vec<Unfinished> = self
            .db
            .prepare("SELECT bucket, from_role FROM feed_moves WHERE state != 'done'")
            .all()
            .await
            .and_then(|result| result.results())
            .map_err(|error| storage_error("read moves", error))?;
        for left in unfinished {
            let (bucket, home) = (left.bucket as u32, FeedHome::from_role(left.from_role as i64));
            if self.bucket_map().home_of(bucket) == home {
                // Not switched: the bucket still lives there.
                continue;
            }
            let value = number(u64::from(bucket));
            clean_up(&*self.db_of(home)?, &value, home == FeedHome::Primary, lease).await?;
            let finished = statement(&self.db, FINISH_MOVE, &[value, text(lease.id)])?;
            batch(&self.db, "finish move", vec![finished]).await?;
        }
        Ok(())
    }
}

/// Under the fence: brings the pre-copy of bucket `bucket` (made as of the
/// source's clock `since`) up to date at `target` and checks it; when it
/// does not verify (or `refused`, a test's fault), copies the bucket whole
/// and checks again. Answers what the move carried (the rows: those copied
/// under the fence).
async fn catch_up_and_verify(
    (source, target): (&D1Database, &D1Database),
    (bucket, columns): (u32, &copy::Columns),
    (since, refused): (f64, bool),
    lease: &Lease<'_>,
    now_ms: u64,
) -> Result<Moved, ApiError> {
    let bucket_value = number(u64::from(bucket));
    // Nothing changes the bucket's feeds at the source any more: fill in the buckets of rows added since.
    copy::fill_buckets(source, lease).await?;
    let pair = (source, target);
    for pass in [Pass::ChangedSince(since), Pass::Whole] {
        let copied = copy::copy_pass(pair, (&bucket_value, columns), (pass, lease), now_ms).await?;
        copy::copy_keys(pair, (&bucket_value, lease), columns.keys()).await?;
        copy::copy_deletions(pair, (bucket, lease)).await?;
        let (before, after) = (summary(source, &bucket_value).await?, summary(target, &bucket_value).await?);
        if before.matches(&after) && !(refused && pass != Pass::Whole) {
            return Ok(Moved {
                subscribers: copied.subscribers,
                messages: before.messages(),
                fenced_rows: copied.rows,
            });
        }
        worker::console_warn!("bucket {bucket} did not verify after its copy ({before:?} → {after:?})");
    }
    Err(ApiError::internal(
        "move bucket",
        format!("bucket {bucket} did not verify after its copy; it stays where it was"),
    ))
}

/// A home's role number, as an argument.
fn role(home: FeedHome) -> JsValue {
    JsValue::from_f64(home.role() as f64)
}
