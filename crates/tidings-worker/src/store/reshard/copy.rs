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
pub(super) fn clear_bucket(
    db: &D1Database,
    bucket: &JsValue,
    subscribers: bool,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
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

/// Copies the bucket's subscriber rows (ids and creation times: profiles
/// stay in the primary) to `target`; answers how many.
pub(super) async fn copy_subscribers(
    (source, target): (&D1Database, &D1Database),
    bucket: &JsValue,
    lease: &Lease<'_>,
) -> Result<u64, ApiError> {
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
        lease.renew().await?;
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

/// The columns of the tables a move copies whole, read once per call (every
/// database of an environment has the same migrations).
pub(super) struct Columns {
    /// `messages`.
    pub messages: Vec<String>,
    /// `message_tombstones`.
    pub tombstones: Vec<String>,
    /// `idempotency_keys`.
    pub keys: Vec<String>,
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
/// `target`, each stamped with the target's clock (ticked per chunk; the
/// switch stamps them again past the source's last clock); answers how
/// many. A copied tombstone counts as deleted at `now_ms` (if later): its
/// new version must not be forgotten before a client could have seen it.
pub(super) async fn copy_feed(
    (source, target): (&D1Database, &D1Database),
    bucket: &JsValue,
    (table, names): (&str, &[String]),
    lease: &Lease<'_>,
    now_ms: u64,
) -> Result<u64, ApiError> {
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
        lease.renew().await?;
        for chunk in json_chunks(rows) {
            let statements = vec![statement(target, TICK, &[])?, statement(target, &insert, &[text(&chunk)])?];
            batch(target, "copy moved feed", statements).await?;
        }
    }
}

/// Copies the idempotency keys of the bucket's feed actions to `target`.
pub(super) async fn copy_keys(
    (source, target): (&D1Database, &D1Database),
    bucket: &JsValue,
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
        batch(target, "copy moved keys", vec![statement(target, &insert, &[text(&chunk)])?]).await?;
    }
    Ok(())
}

/// Copies the recent deletions of the bucket's subscribers (whose rows are
/// gone, so found by their ids' buckets) to `target`.
pub(super) async fn copy_deletions((source, target): (&D1Database, &D1Database), bucket: u32) -> Result<(), ApiError> {
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
pub(super) async fn summary(db: &D1Database, bucket: &JsValue) -> Result<Summary, ApiError> {
    statement(db, SUMMARY, std::slice::from_ref(bucket))?
        .first(None)
        .await
        .map_err(|error| storage_error("verify moved bucket", error))?
        .ok_or_else(|| ApiError::internal("verify moved bucket", "no summary row"))
}

/// Rows as JSON arrays of at most [`CHUNK_BYTES`] each (one row may exceed it alone).
pub(super) fn json_chunks(rows: Vec<serde_json::Map<String, Value>>) -> Vec<String> {
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
