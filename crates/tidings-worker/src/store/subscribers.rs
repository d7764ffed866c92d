//! Subscribers of one environment.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use tidings_core::idempotency;
use tidings_core::profile::{ListQuery, Profile};
use tidings_core::shard::FeedHome;
use tidings_core::subscriber::SubscriberId;
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::{BulkSubscribersResponse, Subscriber, SubscriberList, SubscriberPageInfo};

use worker::{D1Database, D1PreparedStatement};

use super::shards::Access;
use super::{number, statement, storage_error, text, Environment};
use crate::error::ApiError;

#[derive(Deserialize)]
struct SubscriberRow {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    avatar: Option<String>,
    locale: Option<String>,
    timezone: Option<String>,
    data: String,
    created_at: f64,
    updated_at: Option<f64>,
}

const COLUMNS: &str = "id, first_name, last_name, email, phone, avatar, locale, timezone, data, created_at, updated_at";

/// One statement upserts every profile (`Profile::to_json` objects) of a JSON array (`json_each`), so a
/// bulk upsert of 500 is a single D1 query.
const UPSERT: &str =
    "INSERT INTO subscribers (id, first_name, last_name, email, phone, avatar, locale, timezone, data, \
    created_at, updated_at) \
    SELECT value ->> '$.subscriber_id', value ->> '$.first_name', value ->> '$.last_name', value ->> '$.email', \
    value ->> '$.phone', value ->> '$.avatar', value ->> '$.locale', value ->> '$.timezone', value -> '$.data', ?2, ?2 \
    FROM json_each(?1) WHERE true \
    ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name, \
    email = excluded.email, phone = excluded.phone, avatar = excluded.avatar, locale = excluded.locale, \
    timezone = excluded.timezone, data = excluded.data, updated_at = excluded.updated_at";

/// How long each database of an environment remembers a subscriber's deletion: far longer than
/// any trigger runs between reading profiles and writing messages.
const DELETION_MEMORY_MS: u64 = 60 * 60 * 1000;

impl Environment {
    /// Creates or replaces profiles; says which ids were new. One D1 read and
    /// one D1 write, whatever the number of profiles.
    pub async fn upsert_subscribers(
        &self,
        profiles: &[(SubscriberId, Profile)],
        now_ms: u64,
    ) -> Result<BulkSubscribersResponse, ApiError> {
        let ids: Vec<&str> = profiles.iter().map(|(id, _)| id.as_str()).collect();
        let existing: Vec<IdRow> = statement(
            &self.db,
            "SELECT id FROM subscribers WHERE id IN (SELECT value FROM json_each(?1))",
            &[text(&json!(ids).to_string())],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read subscribers", error))?;
        let rows: Vec<Value> = profiles.iter().map(|(id, profile)| profile.to_json(id)).collect();
        statement(&self.db, UPSERT, &[text(&Value::Array(rows).to_string()), number(now_ms)])?
            .run()
            .await
            .map_err(|error| storage_error("upsert subscribers", error))?;
        let (updated, created) =
            ids.iter().map(|id| id.to_string()).partition(|id| existing.iter().any(|row| &row.id == id));
        Ok(BulkSubscribersResponse { created, updated })
    }

    /// The profiles of `ids` as templates see them, keyed by id; unknown ids
    /// are absent. One D1 query.
    pub async fn template_profiles(&self, ids: &[SubscriberId]) -> Result<BTreeMap<String, Value>, ApiError> {
        let ids: Vec<&str> = ids.iter().map(SubscriberId::as_str).collect();
        let sql = format!("SELECT {COLUMNS} FROM subscribers WHERE id IN (SELECT value FROM json_each(?1))");
        let rows: Vec<SubscriberRow> = statement(&self.db, &sql, &[text(&json!(ids).to_string())])?
            .all()
            .await
            .and_then(|result| result.results())
            .map_err(|error| storage_error("read profiles", error))?;
        rows.into_iter()
            .map(|row| {
                let subscriber = subscriber_from_row(row)?;
                let value = serde_json::to_value(&subscriber).map_err(|error| ApiError::internal("profile", error))?;
                Ok((subscriber.subscriber_id, value))
            })
            .collect()
    }

    /// The statement that upserts `profiles`, for a caller's own batch.
    pub(super) fn upsert_statement(
        &self,
        profiles: &[(SubscriberId, Profile)],
        now_ms: u64,
        since: u64,
    ) -> Result<worker::D1PreparedStatement, ApiError> {
        let rows: Vec<Value> = profiles.iter().map(|(id, profile)| profile.to_json(id)).collect();
        // A trigger made before a subscriber's deletion does not bring them back.
        let guarded = UPSERT.replacen(
            "WHERE true",
            &format!("WHERE {}", super::triggers::not_deleted_since("value ->> '$.subscriber_id'", "?3")),
            1,
        );
        statement(&self.db, &guarded, &[text(&Value::Array(rows).to_string()), number(now_ms), number(since)])
    }

    /// One subscriber's profile.
    pub async fn subscriber(&self, id: &SubscriberId) -> Result<Option<Subscriber>, ApiError> {
        let sql = format!("SELECT {COLUMNS} FROM subscribers WHERE id = ?1");
        let row: Option<SubscriberRow> = statement(&self.db, &sql, &[text(id.as_str())])?
            .first(None)
            .await
            .map_err(|error| storage_error("read subscriber", error))?;
        row.map(subscriber_from_row).transpose()
    }

    /// A page of subscribers ordered by id.
    pub async fn subscribers(&self, query: &ListQuery) -> Result<SubscriberList, ApiError> {
        let sql = format!("SELECT {COLUMNS} FROM subscribers WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2");
        let after = query.after.as_ref().map_or(wasm_bindgen::JsValue::NULL, |id| text(id.as_str()));
        let mut rows: Vec<SubscriberRow> = statement(&self.db, &sql, &[after, number(u64::from(query.limit) + 1)])?
            .all()
            .await
            .and_then(|result| result.results())
            .map_err(|error| storage_error("list subscribers", error))?;
        let has_more = rows.len() > query.limit as usize;
        rows.truncate(query.limit as usize);
        let items = rows.into_iter().map(subscriber_from_row).collect::<Result<Vec<_>, _>>()?;
        let after = if has_more { items.last().map(|item| item.subscriber_id.clone()) } else { None };
        Ok(SubscriberList { items, page_info: SubscriberPageInfo { after, has_more } })
    }

    /// Deletes a subscriber, their messages and their webhook deliveries
    /// (rendered bodies are personal data: nothing is sent or replayed for
    /// them afterwards), their preferences, topic memberships, delta sync's
    /// tombstones and feed actions' idempotency keys in one transaction, and
    /// revokes every token issued for them so far: someone made again under
    /// the id inherits none of it. False when there was no such subscriber.
    ///
    /// With feed shards, their messages (and the shard's record of their id)
    /// go from their shard first, which records the deletion (a trigger that
    /// read their profile before it writes nothing after), then the rest in
    /// one transaction, then their shard is cleared once more.
    pub async fn delete_subscriber(&self, id: &SubscriberId, now_ms: u64) -> Result<bool, ApiError> {
        self.on_current_map(|| self.delete_subscriber_here(id, now_ms)).await
    }

    async fn delete_subscriber_here(&self, id: &SubscriberId, now_ms: u64) -> Result<bool, ApiError> {
        let subscriber = [text(id.as_str())];
        let feed_db = self.feed_db(id)?;
        // Their messages, what delta sync remembers of deleted ones, and their feed actions'
        // idempotency keys: a subscriber made again under the id inherits none of it.
        let key_prefix = idempotency::feed_action_key(id.as_str(), "");
        let key_bound = format!("{};", &key_prefix[..key_prefix.len() - 1]);
        let clear_feed = |db: &D1Database| -> Result<Vec<_>, ApiError> {
            Ok(vec![
                statement(db, "DELETE FROM messages WHERE subscriber_id = ?1", &subscriber)?,
                statement(db, "DELETE FROM message_tombstones WHERE subscriber_id = ?1", &subscriber)?,
                statement(
                    db,
                    "DELETE FROM idempotency_keys WHERE key >= ?1 AND key < ?2",
                    &[text(&key_prefix), text(&key_bound)],
                )?,
            ])
        };
        let sharded = self.feed_home(id) != FeedHome::Primary;
        // A shard's own record of the subscriber (an id its messages refer to) goes with them.
        let clear_shard = || -> Result<_, ApiError> {
            let db = &feed_db;
            let mut writes = clear_feed(db)?;
            writes.extend([
                statement(db, "DELETE FROM subscribers WHERE id = ?1", &subscriber)?,
                deletion_record(db, id, now_ms)?,
                forget_old_deletions(db, now_ms)?,
            ]);
            Ok(writes)
        };
        if sharded {
            self.write_feed_batch(id, "delete subscriber's messages", clear_shard()?).await?;
        }
        let mut writes = Vec::new();
        if !sharded {
            // Without shards the feed is here, and goes in the same transaction (unless it is moving away).
            writes.push(self.fence_guard(&self.db, [id], Access::Write)?);
            writes.extend(clear_feed(&self.db)?);
        }
        if sharded {
            // What a move of their bucket out of this database left before its clean-up ran.
            writes.extend(clear_feed(&self.db)?);
        }
        let removal = writes.len();
        writes.extend([
            statement(&self.db, "DELETE FROM subscribers WHERE id = ?1", &subscriber)?,
            // Remembered here too: a trigger that read their profile before writes nothing for
            // them after (no profile, delivery or message), whether or not the feed has shards.
            deletion_record(&self.db, id, now_ms)?,
            forget_old_deletions(&self.db, now_ms)?,
            statement(
                &self.db,
                "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscriber_id = ?1)",
                &subscriber,
            )?,
            statement(&self.db, "DELETE FROM deliveries WHERE subscriber_id = ?1", &subscriber)?,
            statement(&self.db, "DELETE FROM topic_subscribers WHERE subscriber_id = ?1", &subscriber)?,
            statement(&self.db, "DELETE FROM preferences WHERE subscriber_id = ?1", &subscriber)?,
            revocation_statement(&self.db, id, now_ms)?,
        ]);
        let results = self.db.batch(writes).await.map_err(|error| storage_error("delete subscriber", error))?;
        if sharded {
            self.write_feed_batch(id, "delete subscriber's messages", clear_shard()?).await?;
        }
        let deleted =
            results.get(removal).and_then(|result| result.meta().ok().flatten()).and_then(|meta| meta.changes);
        Ok(deleted.unwrap_or(0) > 0)
    }
}

impl Environment {
    /// When `subscriber`'s tokens were last revoked (Unix ms; 0: never):
    /// tokens issued before it are refused.
    pub async fn tokens_not_before(&self, subscriber: &SubscriberId) -> Result<u64, ApiError> {
        let stamp: Option<f64> = statement(
            &self.db,
            "SELECT not_before FROM subscriber_token_revocations WHERE subscriber_id = ?1",
            &[text(subscriber.as_str())],
        )?
        .first(Some("not_before"))
        .await
        .map_err(|error| storage_error("read token revocation", error))?;
        Ok(stamp.map_or(0, |stamp| stamp as u64))
    }

    /// Revokes every token issued for `subscriber` until `now_ms`; answers the stamp.
    pub async fn revoke_tokens(&self, subscriber: &SubscriberId, now_ms: u64) -> Result<u64, ApiError> {
        self.write_one("revoke tokens", revocation_statement(&self.db, subscriber, now_ms)?).await?;
        self.tokens_not_before(subscriber).await
    }
}

/// Moves `subscriber`'s revocation stamp past every token issued until
/// `now_ms`. Token `iat`s are whole seconds, and a token minted after a
/// revocation is issued at the stamp, so the stamp is a whole second: the
/// next one after `now_ms`, or, when an earlier revocation already set it
/// that far (tokens may have been minted at it since), one second further.
fn revocation_statement(
    db: &D1Database,
    subscriber: &SubscriberId,
    now_ms: u64,
) -> Result<D1PreparedStatement, ApiError> {
    statement(
        db,
        "INSERT INTO subscriber_token_revocations (subscriber_id, not_before) VALUES (?1, ?2) \
         ON CONFLICT (subscriber_id) DO UPDATE SET not_before = CASE \
           WHEN not_before >= excluded.not_before THEN not_before + 1000 ELSE excluded.not_before END",
        &[text(subscriber.as_str()), number(now_ms / 1000 * 1000 + 1000)],
    )
}

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

fn subscriber_from_row(row: SubscriberRow) -> Result<Subscriber, ApiError> {
    Ok(Subscriber {
        subscriber_id: row.id,
        first_name: row.first_name,
        last_name: row.last_name,
        email: row.email,
        phone: row.phone,
        avatar: row.avatar,
        locale: row.locale,
        timezone: row.timezone,
        data: serde_json::from_str(&row.data)
            .map_err(|_| ApiError::internal("decode subscriber", "stored data is not JSON"))?,
        created_at: rfc3339(row.created_at as u64),
        updated_at: rfc3339(row.updated_at.unwrap_or(row.created_at) as u64),
    })
}

/// Records `id`'s deletion at `now_ms` in `db` (see [`super::triggers::not_deleted_since`]).
fn deletion_record(db: &D1Database, id: &SubscriberId, now_ms: u64) -> Result<D1PreparedStatement, ApiError> {
    statement(
        db,
        "INSERT INTO subscriber_deletions (subscriber_id, deleted_at) VALUES (?1, ?2) \
         ON CONFLICT (subscriber_id) DO UPDATE SET deleted_at = MAX(deleted_at, excluded.deleted_at)",
        &[text(id.as_str()), number(now_ms)],
    )
}

/// Forgets deletions older than [`DELETION_MEMORY_MS`]: a deletion needs
/// remembering only while a trigger that read the profile before it may run.
fn forget_old_deletions(db: &D1Database, now_ms: u64) -> Result<D1PreparedStatement, ApiError> {
    statement(
        db,
        "DELETE FROM subscriber_deletions WHERE deleted_at < ?1",
        &[number(now_ms.saturating_sub(DELETION_MEMORY_MS))],
    )
}
