//! Copying one bucket's feeds from one database to another, and checking
//! the copy: the steps of a move that touch rows (`super` orders them).

use serde::Deserialize;
use serde_json::Value;
use tidings_core::shard;
use tidings_core::subscriber::SubscriberId;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

use super::super::messages::{CLOCK, TICK};
use super::super::triggers::CHUNK_BYTES;
use super::super::{statement, storage_error, text};
use super::Lease;
use crate::error::ApiError;

/// Subscribers whose buckets are filled in, or copied, per statement.
const SUBSCRIBER_PAGE: u64 = 500;
/// Messages read per page of a copy (then written in chunks of at most
/// [`CHUNK_BYTES`]).
const MESSAGE_PAGE: u64 = 200;
/// Rows deleted per statement when the old home is cleaned up.
const DELETE_PAGE: u64 = 1_000;

/// The subscribers of the bucket bound at `?1`, as SQL.
pub(super) const OF_BUCKET: &str = "subscriber_id IN (SELECT id FROM subscribers WHERE bucket = ?1)";

/// Feed-action keys of the bucket bound at `?1` (`feed:<len>:<subscriber>:…`,
/// see `tidings_core::idempotency::feed_action_key`), as SQL over `idempotency_keys`.
const KEYS_OF_BUCKET: &str = "key IN (SELECT k.key FROM idempotency_keys k JOIN subscribers s ON s.bucket = ?1 \
    AND k.key >= 'feed:' || length(s.id) || ':' || s.id || ':' AND k.key < 'feed:' || length(s.id) || ':' || s.id || ';')";

/// A bucket's feeds summed up on one side, to compare both.
#[derive(Deserialize, PartialEq, Debug, Clone, Copy)]
pub(super) struct Summary {
    messages: f64,
    unread: f64,
    unseen: f64,
    kept: f64,
    created: f64,
    sizes: f64,
    tombstones: f64,
    counted: f64,
}

impl Summary {
    /// The bucket's messages.
    pub(super) fn messages(&self) -> u64 {
        self.messages as u64
    }

    /// Whether `copy` holds what `self` does, and its counters agree with its
    /// messages. Tombstones: at least as many (the source may forget old ones
    /// meanwhile: purges run over a whole database).
    pub(super) fn matches(&self, copy: &Summary) -> bool {
        let Summary { counted, tombstones, .. } = *copy;
        Summary { counted, tombstones, ..*self } == *copy && counted == copy.kept && tombstones >= self.tombstones
    }
}

const SUMMARY: &str = "SELECT COUNT(*) AS messages, COALESCE(SUM(read_at IS NULL), 0) AS unread, \
    COALESCE(SUM(seen_at IS NULL), 0) AS unseen, COALESCE(SUM(archived_at IS NULL), 0) AS kept, \
    COALESCE(SUM(created_at), 0) AS created, COALESCE(SUM(length(subject) + length(body) + length(payload)), 0) AS sizes, \
    (SELECT COUNT(*) FROM message_tombstones WHERE subscriber_id IN (SELECT id FROM subscribers WHERE bucket = ?1)) AS tombstones, \
    (SELECT COALESCE(SUM(total), 0) FROM feed_counts WHERE subscriber_id IN (SELECT id FROM subscribers WHERE bucket = ?1)) AS counted \
    FROM messages WHERE subscriber_id IN (SELECT id FROM subscribers WHERE bucket = ?1)";

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

/// Removes a moved bucket's feeds from its old home, a page at a time, and
/// its subscriber rows unless `keep_subscribers` (the primary's hold profiles).
pub(super) async fn clean_up(
    source: &D1Database,
    bucket: &JsValue,
    keep_subscribers: bool,
    lease: &Lease<'_>,
) -> Result<(), ApiError> {
    let page = format!(
        "DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages WHERE {OF_BUCKET} LIMIT {DELETE_PAGE}) RETURNING id"
    );
    loop {
        lease.renew().await?;
        let deleted =
            batch(source, "clean up moved bucket", vec![statement(source, &page, std::slice::from_ref(bucket))?])
                .await?;
        if rows(deleted.first())?.is_empty() {
            break;
        }
    }
    batch(source, "clean up moved bucket", clear_bucket(source, bucket, !keep_subscribers)?).await.map(|_| ())
}

/// Fills in the bucket of every subscriber row of `db` that has none.
pub(super) async fn fill_buckets(db: &D1Database, lease: &Lease<'_>) -> Result<(), ApiError> {
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
        lease.renew().await?;
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

/// A subscriber's row as a move copies it (profiles stay in the primary).
#[derive(Deserialize)]
struct SubscriberRow {
    id: String,
    created_at: f64,
}

/// A page of the bucket's subscriber rows in `db` after the id `after`.
async fn subscriber_page(db: &D1Database, bucket: &JsValue, after: &str) -> Result<Vec<SubscriberRow>, ApiError> {
    statement(
        db,
        &format!(
            "SELECT id, created_at FROM subscribers WHERE bucket = ?1 AND id > ?2 ORDER BY id LIMIT {SUBSCRIBER_PAGE}"
        ),
        &[bucket.clone(), text(after)],
    )?
    .all()
    .await
    .and_then(|result| result.results())
    .map_err(|error| storage_error("read subscribers", error))
}

/// Copies the bucket's subscriber rows (ids and creation times: profiles
/// stay in the primary) to `target`; answers how many.
async fn copy_subscribers(
    (source, target): (&D1Database, &D1Database),
    bucket: &JsValue,
    lease: &Lease<'_>,
) -> Result<u64, ApiError> {
    let (mut after, mut copied) = (String::new(), 0);
    loop {
        let rows = subscriber_page(source, bucket, &after).await?;
        let Some(last) = rows.last() else { return Ok(copied) };
        after = last.id.clone();
        copied += rows.len() as u64;
        lease.renew().await?;
        let pairs: Vec<Value> = rows.iter().map(|row| serde_json::json!([row.id, row.created_at])).collect();
        let insert = statement(
            target,
            "INSERT INTO subscribers (id, created_at, updated_at, bucket) \
             SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[1]', ?2 FROM json_each(?1) WHERE true \
             ON CONFLICT (id) DO UPDATE SET bucket = excluded.bucket",
            &[text(&Value::from(pairs).to_string()), bucket.clone()],
        )?;
        batch_owned(target, (bucket, lease), "copy subscribers", vec![insert]).await?;
    }
}

/// The columns of the tables a move copies whole, read once per call (every
/// database of an environment has the same migrations).
pub(super) struct Columns {
    messages: Vec<String>,
    tombstones: Vec<String>,
    keys: Vec<String>,
}

impl Columns {
    /// Reads them from `db`'s schema.
    pub(super) async fn of(db: &D1Database) -> Result<Self, ApiError> {
        Ok(Self {
            messages: columns(db, "messages").await?,
            tombstones: columns(db, "message_tombstones").await?,
            keys: columns(db, "idempotency_keys").await?,
        })
    }

    /// `idempotency_keys`' columns.
    pub(super) fn keys(&self) -> &[String] {
        &self.keys
    }

    /// `messages` with its columns.
    pub(super) fn messages(&self) -> (&'static str, &[String]) {
        ("messages", &self.messages)
    }

    /// `message_tombstones` with its columns.
    pub(super) fn tombstones(&self) -> (&'static str, &[String]) {
        ("message_tombstones", &self.tombstones)
    }
}

/// What one pass of a bucket's copy carried.
pub(super) struct Copied {
    /// The bucket's subscribers.
    pub subscribers: u64,
    /// Messages and tombstones.
    pub rows: u64,
}

/// One pass of a bucket's copy to `target`: its subscribers, then the
/// tombstones and messages `pass` carries. A whole pass first clears what an
/// earlier attempt left there; a catch-up (after a pre-copy as of the
/// source's clock) first drops the subscribers deleted since, and copies
/// tombstones before messages, so a message written again after its
/// deletion is copied after it.
pub(super) async fn copy_pass(
    (source, target): (&D1Database, &D1Database),
    (bucket, columns): (&JsValue, &Columns),
    (pass, lease): (Pass, &Lease<'_>),
    now_ms: u64,
) -> Result<Copied, ApiError> {
    lease.renew().await?;
    match pass {
        Pass::Whole => {
            batch_owned(target, (bucket, lease), "clear moved bucket", clear_bucket(target, bucket, true)?).await?;
        }
        Pass::ChangedSince(_) => {
            prune_subscribers((source, target), bucket, lease).await?;
        }
    }
    let subscribers = copy_subscribers((source, target), bucket, lease).await?;
    let mut rows = copy_feed((source, target), bucket, columns.tombstones(), (pass, lease), now_ms).await?;
    rows += copy_feed((source, target), bucket, columns.messages(), (pass, lease), now_ms).await?;
    Ok(Copied { subscribers, rows })
}

/// The pre-copy: reads the source's feed clock, fills in the buckets of its
/// subscribers that have none, then copies the bucket whole while it still
/// takes writes; answers that clock. Every row written to the source after
/// it carries a later version (each write ticks the clock first), so the
/// catch-up under the fence finds them, and a subscriber added before it is
/// given a bucket before the copy reads them.
pub(super) async fn precopy(
    (source, target): (&D1Database, &D1Database),
    (bucket, columns): (&JsValue, &Columns),
    lease: &Lease<'_>,
    now_ms: u64,
) -> Result<f64, ApiError> {
    let clock = source
        .prepare("SELECT version FROM feed_clock WHERE id = 1")
        .first::<Value>(None)
        .await
        .map_err(|error| storage_error("read feed clock", error))?
        .and_then(|clock| clock.get("version").and_then(Value::as_f64))
        .ok_or_else(|| ApiError::internal("pre-copy bucket", "the feed clock row is missing"))?;
    fill_buckets(source, lease).await?;
    copy_pass((source, target), (bucket, columns), (Pass::Whole, lease), now_ms).await?;
    Ok(clock)
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

/// Which of a bucket's rows a pass of its copy carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Pass {
    /// Every row, into a target cleared of the bucket (the pre-copy, or a
    /// whole copy under the fence).
    Whole,
    /// The rows changed after the source's clock read this version (the
    /// catch-up under the fence): each replaces the target's row of its id.
    ChangedSince(f64),
}

/// The statement writing a chunk of `table`'s rows (a JSON array at `?1`)
/// to the target in `pass`: every column as read, but the version, which is
/// the target's clock, and a tombstone's deletion time, at least `now_ms`.
fn insert_sql(table: &str, names: &[String], pass: Pass, now_ms: u64) -> String {
    let list = names.join(", ");
    let values = names
        .iter()
        .map(|name| match name.as_str() {
            "version" => CLOCK.to_owned(),
            "deleted_at" => format!("MAX(value ->> '$.deleted_at', {now_ms})"),
            _ => format!("value ->> '$.{name}'"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let conflict = match pass {
        Pass::Whole => "DO NOTHING".to_owned(),
        Pass::ChangedSince(_) => {
            let sets = names
                .iter()
                .filter(|name| name.as_str() != "id")
                .map(|name| format!("{name} = excluded.{name}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("DO UPDATE SET {sets}")
        }
    };
    format!("INSERT INTO {table} ({list}) SELECT {values} FROM json_each(?1) WHERE true ON CONFLICT (id) {conflict}")
}

/// Copies the bucket's rows of `table` (messages or tombstones) that `pass`
/// carries to `target`, each stamped with the target's clock (ticked per
/// chunk; the switch stamps them again past the source's last clock);
/// answers how many. A copied tombstone counts as deleted at `now_ms` (if
/// later): its new version must not be forgotten before a client could have
/// seen it. A tombstone caught up removes its message at the target.
async fn copy_feed(
    (source, target): (&D1Database, &D1Database),
    bucket: &JsValue,
    (table, names): (&str, &[String]),
    (pass, lease): (Pass, &Lease<'_>),
    now_ms: u64,
) -> Result<u64, ApiError> {
    let list = names.join(", ");
    let insert = insert_sql(table, names, pass, now_ms);
    let (changed, since) = match pass {
        Pass::Whole => ("", JsValue::NULL),
        Pass::ChangedSince(version) => ("AND version > ?3", JsValue::from_f64(version)),
    };
    let removes_messages = table == "message_tombstones" && matches!(pass, Pass::ChangedSince(_));
    let (mut after, mut copied) = (String::new(), 0);
    loop {
        let rows: Vec<serde_json::Map<String, Value>> = statement(
            source,
            &format!(
                "SELECT {list} FROM {table} WHERE {OF_BUCKET} {changed} AND id > ?2 ORDER BY id LIMIT {MESSAGE_PAGE}"
            ),
            &[bucket.clone(), text(&after), since.clone()][..if changed.is_empty() { 2 } else { 3 }],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read moved feed", error))?;
        let Some(last) = rows.last() else { return Ok(copied) };
        after = last.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        copied += rows.len() as u64;
        lease.renew().await?;
        for chunk in json_chunks(rows) {
            let mut statements = vec![statement(target, TICK, &[])?, statement(target, &insert, &[text(&chunk)])?];
            if removes_messages {
                let remove = "DELETE FROM messages WHERE id IN (SELECT value ->> '$.id' FROM json_each(?1))";
                statements.push(statement(target, remove, &[text(&chunk)])?);
            }
            batch_owned(target, (bucket, lease), "copy moved feed", statements).await?;
        }
    }
}

/// Removes from `target` the bucket's subscribers the source no longer has
/// as they were when copied (deleted since, or deleted and made again), with
/// their messages and counts there. Their deletion at the source left no
/// tombstones, so only their absence tells.
async fn prune_subscribers(
    (source, target): (&D1Database, &D1Database),
    bucket: &JsValue,
    lease: &Lease<'_>,
) -> Result<(), ApiError> {
    let mut after = String::new();
    loop {
        let copied = subscriber_page(target, bucket, &after).await?;
        let Some(last) = copied.last() else { return Ok(()) };
        after = last.id.clone();
        let ids = Value::from(copied.iter().map(|row| Value::from(row.id.as_str())).collect::<Vec<_>>()).to_string();
        let current: Vec<SubscriberRow> = statement(
            source,
            "SELECT id, created_at FROM subscribers WHERE id IN (SELECT value FROM json_each(?1))",
            &[text(&ids)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read subscribers", error))?;
        let gone: Vec<Value> = copied
            .iter()
            .filter(|row| !current.iter().any(|now| now.id == row.id && now.created_at == row.created_at))
            .map(|row| Value::from(row.id.as_str()))
            .collect();
        if gone.is_empty() {
            continue;
        }
        lease.renew().await?;
        let gone = [text(&Value::from(gone).to_string())];
        let of_gone = "IN (SELECT value FROM json_each(?1))";
        // Their tombstones and feed actions' idempotency keys go too, as at the source: someone made
        // again under the id inherits none of it.
        let their_keys =
            "EXISTS (SELECT 1 FROM json_each(?1) WHERE key >= 'feed:' || length(value) || ':' || value || ':' \
             AND key < 'feed:' || length(value) || ':' || value || ';')";
        batch_owned(
            target,
            (bucket, lease),
            "prune copied subscribers",
            vec![
                statement(target, &format!("DELETE FROM messages WHERE subscriber_id {of_gone}"), &gone)?,
                statement(target, &format!("DELETE FROM feed_counts WHERE subscriber_id {of_gone}"), &gone)?,
                statement(target, &format!("DELETE FROM message_tombstones WHERE subscriber_id {of_gone}"), &gone)?,
                statement(target, &format!("DELETE FROM idempotency_keys WHERE {their_keys}"), &gone)?,
                statement(target, &format!("DELETE FROM subscribers WHERE id {of_gone}"), &gone)?,
            ],
        )
        .await?;
    }
}

/// Copies the idempotency keys of the bucket's feed actions to `target`.
pub(super) async fn copy_keys(
    (source, target): (&D1Database, &D1Database),
    (bucket, lease): (&JsValue, &Lease<'_>),
    names: &[String],
) -> Result<(), ApiError> {
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
        batch_owned(target, (bucket, lease), "copy moved keys", vec![statement(target, &insert, &[text(&chunk)])?])
            .await?;
    }
    Ok(())
}

/// Copies the recent deletions of the bucket's subscribers (whose rows are
/// gone, so found by their ids' buckets) to `target`.
pub(super) async fn copy_deletions(
    (source, target): (&D1Database, &D1Database),
    (bucket, lease): (u32, &Lease<'_>),
) -> Result<(), ApiError> {
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
    batch_owned(target, (&JsValue::from_f64(f64::from(bucket)), lease), "copy deletions", vec![insert])
        .await
        .map(|_| ())
}

/// A bucket's feeds summed up in `db`.
pub(super) async fn summary(db: &D1Database, bucket: &JsValue) -> Result<Summary, ApiError> {
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

/// The rows of a result, as JSON values.
pub(super) fn rows(result: Option<&D1Result>) -> Result<Vec<Value>, ApiError> {
    result.map_or(Ok(Vec::new()), |result| result.results().map_err(|error| storage_error("read result", error)))
}

/// Whether `error` says a table or column of migration 0027 is missing.
pub(super) fn is_unmigrated(error: &worker::Error) -> bool {
    let text = error.to_string();
    text.contains("no such table") || text.contains("no such column")
}

/// 409 `environment_not_ready`: `database` lacks migration 0027.
pub(super) fn unmigrated(database: &str) -> ApiError {
    ApiError::new(
        409,
        tidings_core::wire::ErrorCode::EnvironmentNotReady,
        format!("{database} lacks migration 0027: apply the migrations in migrations/environment, then reshard"),
    )
}

/// What fails a write to a copy's target when the call making it no longer
/// owns the copy there.
const COPY_TAKEN_OVER: &str = "tidings-copy-taken-over";

/// Makes `lease`'s call the owner of bucket `bucket`'s copy into `target`
/// (unless a call with a later epoch owns it): from then on only its writes
/// there go through ([`batch_owned`]).
pub(super) async fn claim_copy(target: &D1Database, bucket: &JsValue, lease: &Lease<'_>) -> Result<(), ApiError> {
    let claim = "INSERT INTO feed_copies (bucket, owner, epoch) VALUES (?1, ?2, ?3) \
        ON CONFLICT (bucket) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch \
        WHERE feed_copies.epoch <= excluded.epoch RETURNING bucket";
    let claimed =
        match target.batch(vec![statement(target, claim, &[bucket.clone(), text(lease.id), lease.epoch()])?]).await {
            Err(error) if is_unmigrated(&error) => return Err(unmigrated("a feed shard")),
            other => other.map_err(|error| storage_error("claim copy", error))?,
        };
    if rows(claimed.first())?.is_empty() {
        return Err(super::busy("another call took this bucket's move over"));
    }
    Ok(())
}

/// Runs `statements` on the target of bucket `bucket`'s copy as one
/// transaction, led by a guard that fails it (409 `reshard_in_progress`)
/// unless `lease`'s call still owns the copy there: a call that lost its
/// lease with a write still in flight changes nothing there.
pub(super) async fn batch_owned(
    target: &D1Database,
    (bucket, lease): (&JsValue, &Lease<'_>),
    operation: &str,
    statements: Vec<D1PreparedStatement>,
) -> Result<Vec<D1Result>, ApiError> {
    let owned = format!(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM feed_copies WHERE bucket = ?1 AND owner = ?2) THEN NULL \
         ELSE json_extract('{{}}', '{COPY_TAKEN_OVER}') END"
    );
    let mut guarded = vec![statement(target, &owned, &[bucket.clone(), text(lease.id)])?];
    guarded.extend(statements);
    match target.batch(guarded).await {
        Ok(mut results) => {
            results.remove(0);
            Ok(results)
        }
        Err(error) if error.to_string().contains(COPY_TAKEN_OVER) => {
            Err(super::busy("another call took this bucket's move over"))
        }
        Err(error) => Err(storage_error(operation, error)),
    }
}

/// Runs statements on `db` as one transaction.
pub(super) async fn batch(
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

    fn summary(messages: f64, kept: f64, counted: f64) -> Summary {
        Summary { messages, unread: 1.0, unseen: 2.0, kept, created: 10.0, sizes: 99.0, tombstones: 3.0, counted }
    }

    #[test]
    fn a_copy_matches_only_with_the_same_rows_and_counters_that_agree() {
        let source = summary(5.0, 4.0, 7.0);
        // The source's counters are not compared (the copy rebuilt its own).
        assert!(source.matches(&summary(5.0, 4.0, 4.0)));
        assert!(!source.matches(&summary(4.0, 4.0, 4.0)), "a message missing");
        assert!(!source.matches(&summary(5.0, 4.0, 5.0)), "counters that disagree with the copy's messages");
        assert!(!source.matches(&Summary { tombstones: 2.0, ..summary(5.0, 4.0, 4.0) }), "a tombstone missing");
        // The source forgot an old tombstone after it was copied.
        assert!(Summary { tombstones: 2.0, ..source }.matches(&summary(5.0, 4.0, 4.0)));
    }

    #[test]
    fn only_a_missing_table_or_column_reads_as_unmigrated() {
        let error = |text: &str| worker::Error::RustError(text.to_owned());
        assert!(is_unmigrated(&error("D1_ERROR: no such table: feed_copies: SQLITE_ERROR")));
        assert!(is_unmigrated(&error("D1_ERROR: no such column: fenced_at: SQLITE_ERROR")));
        assert!(!is_unmigrated(&error("D1_ERROR: Network connection lost.")));
        assert_eq!(unmigrated("a feed shard").status(), 409);
    }

    #[test]
    fn a_whole_pass_keeps_the_targets_rows_and_a_catch_up_replaces_them() {
        let names: Vec<String> = ["id", "subscriber_id", "read_at", "version"].map(str::to_owned).into();
        let whole = insert_sql("messages", &names, Pass::Whole, 7);
        assert!(whole.ends_with("ON CONFLICT (id) DO NOTHING"), "{whole}");
        assert!(whole.contains(&format!("value ->> '$.read_at', {CLOCK} FROM json_each(?1)")), "{whole}");
        let caught_up = insert_sql("messages", &names, Pass::ChangedSince(3.0), 7);
        assert!(
            caught_up.ends_with(
                "DO UPDATE SET subscriber_id = excluded.subscriber_id, read_at = excluded.read_at, version = excluded.version"
            ),
            "{caught_up}"
        );
        let tombstones: Vec<String> = ["id", "deleted_at"].map(str::to_owned).into();
        assert!(
            insert_sql("message_tombstones", &tombstones, Pass::Whole, 7).contains("MAX(value ->> '$.deleted_at', 7)")
        );
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
