//! Removing everything an environment holds, for its deletion: every row of
//! every table of its database and of its feed shards, every entry of its KV
//! namespace and every object of its R2 bucket.

use serde::Deserialize;
use tidings_core::shard::ShardCount;
use worker::D1Database;

use super::platform::{Bindings, Platform};
use super::shards::{is_database_of, is_stamped_as, Identity, PRIMARY};
use super::{number, statement, storage_error};
use crate::error::ApiError;

/// Tables that are not an environment's data: SQLite's, D1's and the migrations ledger.
const NOT_DATA: &str = "name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations'";

/// Before anything of a deletion: holds the environment's own database (where
/// its stamp says it is this environment's) against reshard calls
/// ([`super::reshard::hold_for_deletion`]); refuses while one is moving feeds.
pub(super) async fn hold_feeds(
    env: &Platform,
    bindings: &Bindings,
    shards: ShardCount,
    (created_at, now_ms): (u64, u64),
) -> Result<(), ApiError> {
    let Ok(db) = env.environment_db(bindings) else { return Ok(()) };
    let identity = Identity { environment: bindings.environment().as_str(), created_at, role: PRIMARY };
    match is_database_of(&db, bindings.db(), &identity).await {
        Ok(true) => super::reshard::hold_for_deletion(&db, shards, now_ms).await,
        Ok(false) => Ok(()),
        // A failing database: the deletion still revokes the keys first (its wipe meets the failure).
        Err(error) => {
            worker::console_warn!("no reshard lease taken for a deletion: {}", error.message());
            Ok(())
        }
    }
}

/// Removes every row of every table of an environment's database, the list
/// read from `sqlite_master` (so a table a later migration adds is covered).
/// Triggers may write while rows go (the feed counts), so it repeats until
/// every table is empty. The feed clock of each of its databases (its own
/// and its feed shards') is set back to one row whose version goes on from
/// the highest of them, with everything before it purged: a watermark from
/// before the deletion is told to sync again, whichever database it came
/// from. A database whose stamp says it is another (another environment's,
/// an earlier one's of the same name, or another role's) is left alone; of
/// `bindings`' shards past the registry's `registered_shards`, only one
/// stamped as this environment's is wiped.
pub(super) async fn wipe_database(
    env: &Platform,
    bindings: &Bindings,
    created_at: u64,
    registered_shards: usize,
) -> Result<(), ApiError> {
    let environment = bindings.environment().as_str();
    let identity = |role| Identity { environment, created_at, role };
    // No binding: nothing of the environment is reachable there to remove.
    let mut databases = Vec::new();
    if let Ok(db) = env.environment_db(bindings) {
        if is_database_of(&db, bindings.db(), &identity(PRIMARY)).await? {
            databases.push(db);
        }
    }
    for (index, binding) in bindings.shards().iter().enumerate() {
        let Ok(db) = env.shard_db(bindings, index) else { continue };
        // Past the registry's shards only a database stamped as this one is the environment's (a
        // reshard refused half-way stamps new shards before it records them).
        let ours = if index < registered_shards {
            is_database_of(&db, binding, &identity(index as i64)).await?
        } else {
            is_stamped_as(&db, binding, &identity(index as i64)).await
        };
        if ours {
            databases.push(db);
        }
    }
    let mut clock = 0;
    for db in &databases {
        clock = clock.max(feed_clock(db).await?);
    }
    for db in &databases {
        // One past the highest: no watermark of before reads as current anywhere.
        wipe(db, clock + 1).await?;
    }
    Ok(())
}

/// A database's feed clock (0 without the table: never migrated).
async fn feed_clock(db: &D1Database) -> Result<u64, ApiError> {
    match statement(db, "SELECT version FROM feed_clock WHERE id = 1", &[])?.first::<f64>(Some("version")).await {
        Ok(clock) => Ok(clock.unwrap_or(0.0) as u64),
        Err(error) if error.to_string().contains("no such table") => Ok(0),
        Err(error) => Err(storage_error("read feed clock", error)),
    }
}

/// Empties one of an environment's databases, as [`wipe_database`] says,
/// its feed clock going on from `clock`.
async fn wipe(db: &D1Database, clock: u64) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Table {
        name: String,
    }
    let listing = format!("SELECT name FROM sqlite_master WHERE type = 'table' AND {NOT_DATA} ORDER BY name");
    let tables: Vec<Table> = match statement(db, &listing, &[])?.all().await.and_then(|result| result.results()) {
        Ok(tables) => tables,
        Err(error) => return Err(storage_error("list environment tables", error)),
    };
    if tables.is_empty() {
        return Ok(());
    }
    let has_clock = tables.iter().any(|table| table.name == "feed_clock");
    for _ in 0..3 {
        let mut wipe = vec![statement(db, "PRAGMA defer_foreign_keys = ON", &[])?];
        for table in &tables {
            wipe.push(statement(db, &format!("DELETE FROM \"{}\"", table.name.replace('"', "\"\"")), &[])?);
        }
        if has_clock {
            let version = number(clock);
            wipe.push(statement(
                db,
                "INSERT INTO feed_clock (id, version, purged_through) VALUES (1, ?1, ?1)",
                &[version],
            )?);
        }
        db.batch(wipe).await.map_err(|error| storage_error("remove environment data", error))?;
        // One query per table: D1 limits how many terms a compound SELECT may have.
        let counts = tables
            .iter()
            .filter(|table| table.name != "feed_clock")
            .map(|table| {
                statement(db, &format!("SELECT COUNT(*) AS count FROM \"{}\"", table.name.replace('"', "\"\"")), &[])
            })
            .collect::<Result<Vec<_>, _>>()?;
        let results = db.batch(counts).await.map_err(|error| storage_error("check environment data", error))?;
        let mut remaining = 0.0;
        for result in results {
            let rows: Vec<serde_json::Value> =
                result.results().map_err(|error| storage_error("check environment data", error))?;
            remaining +=
                rows.first().and_then(|row| row.get("count")).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
        }
        if remaining == 0.0 {
            return Ok(());
        }
    }
    Err(ApiError::unavailable("remove environment data", "rows kept reappearing; delete the environment again"))
}

/// Removes every entry of an environment's KV namespace (logos, cached key
/// validations), a page of keys at a time.
pub(super) async fn wipe_namespace(env: &Platform, bindings: &Bindings) -> Result<(), ApiError> {
    let Ok(kv) = env.environment_kv(bindings) else { return Ok(()) };
    let mut cursor: Option<String> = None;
    loop {
        let mut list = kv.list().limit(1000);
        if let Some(cursor) = cursor.take() {
            list = list.cursor(cursor);
        }
        let page = list.execute().await.map_err(|error| ApiError::unavailable("list environment KV", error))?;
        for key in &page.keys {
            kv.delete(&key.name).await.map_err(|error| ApiError::unavailable("remove environment KV", error))?;
        }
        match page.cursor {
            Some(next) if !page.list_complete && !next.is_empty() => cursor = Some(next),
            _ => return Ok(()),
        }
    }
}

/// Deletes every object of the environment's R2 bucket (its files and brand
/// assets), a page of listed keys at a time, until a listing finds none.
pub(super) async fn wipe_bucket(env: &Platform, bindings: &Bindings) -> Result<(), ApiError> {
    let Ok(bucket) = env.environment_files(bindings) else { return Ok(()) };
    for _ in 0..10_000 {
        let listed =
            bucket.list().limit(1000).execute().await.map_err(|error| ApiError::unavailable("list files", error))?;
        let keys: Vec<String> = listed.objects().iter().map(|object| object.key()).collect();
        if keys.is_empty() {
            return Ok(());
        }
        bucket.delete_multiple(keys).await.map_err(|error| ApiError::unavailable("remove files", error))?;
    }
    Err(ApiError::unavailable("remove files", "objects kept reappearing; delete the environment again"))
}
