//! Delivering a trigger: idempotency claims and the one transaction that
//! stores a trigger's profiles, subscribers, messages and answer.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use tidings_core::idempotency::{StoredKey, ABANDONED_AFTER_MS, RETENTION_MS};
use tidings_core::message::{Message, MessageId};
use tidings_core::profile::Profile;
use tidings_core::shard::FeedHome;
use tidings_core::subscriber::SubscriberId;
use tidings_core::test_mode::Suppressed;
use tidings_core::trigger::{self, WebhookJob};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use super::fanouts::PageStep;
use super::shards::Access;
use super::{number, statement, storage_error, text, AuditRecord, Environment, KeyHome};
use crate::error::ApiError;

/// D1 allows about 2 MB per bound value; messages are sent in JSON chunks well below it.
pub(super) const CHUNK_BYTES: usize = 512 * 1024;

/// The outcome of claiming an idempotency key.
pub enum Claim {
    /// This request owns the key and must finish or release it. A trigger's
    /// claim answers the transaction it runs as: the one an earlier attempt
    /// with the same body ran as, if it failed and released the key, so the
    /// retry rewrites the same messages instead of new ones.
    Claimed(Option<String>),
    /// Another request used the key first.
    Taken(StoredKey),
}

/// What [`Environment::deliver`] stores, all or nothing.
pub struct Delivery<'a> {
    /// Profiles given as recipient objects.
    pub profiles: &'a [(SubscriberId, Profile)],
    /// Recipients to create empty if they do not exist.
    pub bare_recipients: &'a [SubscriberId],
    /// The rendered messages.
    pub messages: &'a [Message],
    /// The rendered webhook deliveries, stored pending.
    pub webhooks: &'a [WebhookJob],
    /// Steps a recipient's preferences turned off: log id, recipient, channel.
    pub skipped: &'a [(MessageId, &'a SubscriberId, &'static str)],
    /// Deliveries test mode kept from their recipients: log id and what became of each.
    pub suppressed: &'a [(MessageId, Suppressed)],
    /// Recipients a fan-out's page could not render for: log id, recipient, error detail.
    pub refused: &'a [(MessageId, &'a SubscriberId, Value)],
    /// The workflow key.
    pub workflow: &'a str,
    /// The trigger's transaction id.
    pub transaction_id: &'a str,
    /// The trigger's payload (the same for every message).
    pub payload: &'a Value,
    /// The claimed idempotency key and the answer to remember with it.
    pub idempotency: Option<KeyedAnswer<'a>>,
    /// The audit entry of a member's test send, written with the messages.
    pub audit: Option<&'a AuditRecord<'a>>,
    /// The payload fields the workflow's schema marks personal, stored with
    /// each message (see [`tidings_core::schema::personal_paths`]).
    pub personal_paths: &'a [Vec<String>],
    /// The fan-out page this is, if it is one: it commits only if the
    /// fan-out's cursor is still where the page began, and moves it on.
    pub page: Option<PageStep<'a>>,
}

/// A claimed idempotency key and the answer a request stores under it.
pub struct KeyedAnswer<'a> {
    /// The stored key.
    pub key: &'a str,
    /// The request's claim on it: the writes commit only while it holds.
    pub claim_id: &'a str,
    /// The answer's status.
    pub status: u16,
    /// The answer's body.
    pub body: &'a str,
}

/// What D1 says when [`claim_guard`] aborts a transaction: the key was taken
/// over by a retry (after this request was thought abandoned), so this
/// request's writes must not commit.
pub(super) const CLAIM_LOST: &str = "idempotency_keys.request_hash";

/// The answer to a request whose key a retry took over: its writes did not
/// commit, and the retry's answer will be there shortly.
pub(super) fn claim_lost() -> ApiError {
    let taken = "a retry with this Idempotency-Key took it over; retry shortly";
    ApiError::new(409, tidings_core::wire::ErrorCode::RequestInProgress, taken).retry_after(1)
}

/// The first statement of a keyed request's transaction: it fails (a NOT
/// NULL violation, [`CLAIM_LOST`]) and so rolls everything back when another
/// claim holds the key, and changes nothing when this one does (a retried
/// batch after a lost answer included).
pub(super) fn claim_guard(db: &worker::D1Database, key: &str, claim_id: &str) -> Result<D1PreparedStatement, ApiError> {
    statement(
        db,
        "UPDATE idempotency_keys SET request_hash = NULL WHERE key = ?1 AND claim_id IS NOT ?2",
        &[text(key), text(claim_id)],
    )
}

#[derive(Deserialize)]
struct KeyRow {
    request_hash: String,
    status: Option<f64>,
    response: Option<String>,
}

impl Environment {
    /// The last statements of a keyed request's or a member's transaction:
    /// the answer stored under the claimed key (and old keys forgotten), and
    /// the audit entry of a member's test send.
    pub(super) fn closing_statements(
        &self,
        keyed: Option<&KeyedAnswer<'_>>,
        audit: Option<&AuditRecord<'_>>,
        now_ms: u64,
    ) -> Result<Vec<D1PreparedStatement>, ApiError> {
        let mut statements = Vec::new();
        if let Some(keyed) = keyed {
            statements.push(statement(
                &self.db,
                "UPDATE idempotency_keys SET state = 'done', status = ?2, response = ?3 WHERE key = ?1 AND claim_id = ?4",
                &[text(keyed.key), number(u64::from(keyed.status)), text(keyed.body), text(keyed.claim_id)],
            )?);
            statements.push(self.forget_idempotency_keys_statement(KeyHome::Primary, now_ms)?);
        }
        if let Some(audit) = audit {
            statements.push(super::environment_audit_statement(&self.db, audit, now_ms, "?5", "1", &[])?);
        }
        Ok(statements)
    }

    /// Claims `key` for a request with fingerprint `hash`: atomically, so of
    /// concurrent identical requests exactly one gets [`Claim::Claimed`]. An
    /// expired key, or one abandoned by a request that never finished, is
    /// claimed anew, and so is one released after a failure. `claim_id` is
    /// this request's own: retrying the claim after an answer lost in
    /// transit finds the key already ours. `transaction` is the transaction
    /// a trigger would run as if no earlier attempt ran (none for other
    /// requests). The key is kept in `home`'s database.
    pub async fn claim_idempotency_key(
        &self,
        home: KeyHome<'_>,
        key: &str,
        hash: &str,
        claim_id: &str,
        transaction: Option<&str>,
        now_ms: u64,
    ) -> Result<Claim, ApiError> {
        self.on_current_map(|| self.claim_here(home, key, hash, claim_id, transaction, now_ms)).await
    }

    async fn claim_here(
        &self,
        home: KeyHome<'_>,
        key: &str,
        hash: &str,
        claim_id: &str,
        transaction: Option<&str>,
        now_ms: u64,
    ) -> Result<Claim, ApiError> {
        #[derive(Deserialize)]
        struct ClaimedRow {
            transaction_id: Option<String>,
        }
        let db = &self.key_db(home)?;
        // A retry of the same body keeps the transaction an attempt before it ran as.
        let claim = statement(
            db,
            "INSERT INTO idempotency_keys (key, request_hash, state, created_at, claim_id, transaction_id) \
             VALUES (?1, ?2, 'in_flight', ?3, ?6, ?7) \
             ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, state = 'in_flight', status = NULL, \
             response = NULL, created_at = excluded.created_at, claim_id = excluded.claim_id, \
             transaction_id = CASE WHEN idempotency_keys.state = 'in_flight' AND idempotency_keys.created_at >= ?4 \
             AND idempotency_keys.request_hash = excluded.request_hash \
             THEN COALESCE(idempotency_keys.transaction_id, excluded.transaction_id) ELSE excluded.transaction_id END \
             WHERE idempotency_keys.created_at < ?4 \
             OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.claim_id IS NULL) \
             OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.created_at < ?5) \
             OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.claim_id = ?6) \
             RETURNING transaction_id",
            &[
                text(key),
                text(hash),
                number(now_ms),
                number(now_ms.saturating_sub(RETENTION_MS)),
                number(now_ms.saturating_sub(ABANDONED_AFTER_MS)),
                text(claim_id),
                transaction.map_or(JsValue::NULL, text),
            ],
        )?;
        // A feed action's key is claimed only where the subscriber's feed is.
        let guard = self.key_guard(home, db)?;
        let claimed: Vec<ClaimedRow> = super::retry::write(&self.faults, "claim", || {
            let statements: Vec<D1PreparedStatement> = guard.iter().cloned().chain([claim.clone()]).collect();
            async move { db.batch(statements).await.map(|mut results| results.pop()) }
        })
        .await?
        .map_or(Ok(Vec::new()), |result| result.results())
        .map_err(|error| storage_error("claim idempotency key", error))?;
        if let Some(row) = claimed.into_iter().next() {
            if self.faults.key_taken_over() {
                let take_over = "UPDATE idempotency_keys SET claim_id = 'taken-over' WHERE key = ?1";
                self.write_one("claim", statement(db, take_over, &[text(key)])?).await?;
            }
            return Ok(Claim::Claimed(row.transaction_id));
        }
        let row: KeyRow =
            statement(db, "SELECT request_hash, status, response FROM idempotency_keys WHERE key = ?1", &[text(key)])?
                .first(None)
                .await
                .map_err(|error| storage_error("read idempotency key", error))?
                .ok_or_else(|| ApiError::unavailable("read idempotency key", "claimed key vanished"))?;
        let response = row.status.zip(row.response).map(|(status, body)| (status as u16, body));
        Ok(Claim::Taken(StoredKey { request_hash: row.request_hash, response }))
    }

    /// Forgets keys past their retention, a few at a time (part of a keyed
    /// request's own transaction, in `home`'s database).
    pub(super) fn forget_idempotency_keys_statement(
        &self,
        home: KeyHome<'_>,
        now_ms: u64,
    ) -> Result<D1PreparedStatement, ApiError> {
        let sql = "DELETE FROM idempotency_keys WHERE key IN \
             (SELECT key FROM idempotency_keys WHERE created_at < ?1 ORDER BY created_at LIMIT 50)";
        let arguments = [number(now_ms.saturating_sub(RETENTION_MS))];
        match home {
            KeyHome::Primary => statement(&self.db, sql, &arguments),
            KeyHome::FeedOf(subscriber) => self.prepare(subscriber, sql, &arguments),
        }
    }

    /// Gives up this request's claim on a key after a failure, so a retry
    /// can run: the key stays, in flight with no claim, and keeps its
    /// transaction when `keep_transaction` (the same body's retry then runs
    /// as it). A key whose answer was stored stays as it is.
    pub async fn release_idempotency_key(&self, home: KeyHome<'_>, key: &str, claim_id: &str, keep_transaction: bool) {
        let released = self.on_current_map(|| self.release_here(home, key, claim_id, keep_transaction)).await;
        if let Err(error) = released {
            worker::console_warn!("could not release idempotency key: {}", error.message());
        }
    }

    /// The fence guard of a statement on a key kept in `home` (`db`): none in
    /// the primary; beside a feed, its subscriber's bucket's.
    fn key_guard(&self, home: KeyHome<'_>, db: &D1Database) -> Result<Option<D1PreparedStatement>, ApiError> {
        match home {
            KeyHome::Primary => Ok(None),
            KeyHome::FeedOf(subscriber) => self.fence_guard(db, [subscriber], Access::Write).map(Some),
        }
    }

    /// [`Self::release_idempotency_key`] where this handle's map says the key
    /// is (a feed action's only where its feed is, behind the fence guard).
    async fn release_here(
        &self,
        home: KeyHome<'_>,
        key: &str,
        claim_id: &str,
        keep_transaction: bool,
    ) -> Result<(), ApiError> {
        let db = self.key_db(home)?;
        let release = statement(
            &db,
            "UPDATE idempotency_keys SET claim_id = NULL, transaction_id = CASE WHEN ?3 THEN transaction_id END \
             WHERE key = ?1 AND claim_id = ?2 AND state = 'in_flight'",
            &[text(key), text(claim_id), number(u64::from(keep_transaction))],
        )?;
        let guard = self.key_guard(home, &db)?;
        super::retry::write(&self.faults, "release", || {
            let statements: Vec<D1PreparedStatement> = guard.iter().cloned().chain([release.clone()]).collect();
            let db = &db;
            async move { db.batch(statements).await }
        })
        .await
        .map(|_| ())
    }

    /// Stores everything a trigger produced in one D1 transaction: profiles,
    /// new subscribers, messages, and the idempotency answer. Returns only
    /// once D1 has committed. Every statement may run twice (a retry after
    /// a lost answer): rows are keyed by their ids and inserted only once.
    ///
    /// With feed shards, the messages are written first, one transaction
    /// per shard, all at once, and the rest after every shard committed. A
    /// message's id is its transaction's and recipient's
    /// ([`tidings_core::message::RecipientIds`]), so shards written by an attempt that
    /// failed later are written again by its retry without a duplicate.
    pub async fn deliver(&self, delivery: Delivery<'_>, now_ms: u64) -> Result<(), ApiError> {
        self.on_current_map(|| self.deliver_on_map(&delivery, now_ms)).await
    }

    /// [`Self::deliver`] with this handle's bucket map; every database's
    /// batch is led by a fence guard for the buckets it writes, so nothing
    /// is written where a bucket no longer lives.
    async fn deliver_on_map(&self, delivery: &Delivery<'_>, now_ms: u64) -> Result<(), ApiError> {
        let payload = delivery.payload.to_string();
        let personal_paths = serde_json::to_string(delivery.personal_paths).unwrap_or_else(|_| "[]".to_owned());
        // Whom a deletion has taken since the transaction was made (the fan-out accepted, the keyed
        // request first run) gets nothing from it: no profile, subscriber, message or delivery.
        let since = trigger::transaction_time(delivery.transaction_id).unwrap_or(now_ms).min(now_ms);
        let rows = MessageRows { payload: &payload, personal_paths: &personal_paths, since };
        let map = self.bucket_map();
        let mut in_shards: BTreeMap<FeedHome, Vec<Message>> = BTreeMap::new();
        let mut primary_count = 0;
        for message in delivery.messages {
            match map.home_of_subscriber(&message.subscriber) {
                FeedHome::Primary => primary_count += 1,
                home => in_shards.entry(home).or_default().push(message.clone()),
            }
        }
        let mut batches = Vec::with_capacity(in_shards.len());
        for (home, messages) in in_shards {
            let db = self.db_of(home)?;
            // A shard knows its subscribers by id alone (their messages refer to them); profiles stay in the primary.
            let ids: Vec<&str> = messages.iter().map(|message| message.subscriber.as_str()).collect();
            let mut statements = vec![
                self.fence_guard(&db, messages.iter().map(|message| &message.subscriber), Access::Write)?,
                statement(
                    &db,
                    &format!(
                        "INSERT INTO subscribers (id, created_at, updated_at) SELECT value, ?2, ?2 \
                         FROM json_each(?1) WHERE {} ON CONFLICT (id) DO NOTHING",
                        not_deleted_since("value", "?3")
                    ),
                    &[text(&json!(ids).to_string()), number(now_ms), number(since)],
                )?,
                statement(&db, super::messages::TICK, &[])?,
            ];
            for chunk in chunks(&messages) {
                statements.push(rows.insert(&db, chunk, &chunk_json(chunk))?);
            }
            batches.push((db, statements));
        }
        self.write_shards("shard-write", batches).await?;
        let mut writes: Vec<D1PreparedStatement> = Vec::new();
        if let Some(keyed) = &delivery.idempotency {
            writes.push(claim_guard(&self.db, keyed.key, keyed.claim_id)?);
        }
        if let Some(page) = &delivery.page {
            writes.push(super::fanouts::page_guard(&self.db, page)?);
        }
        if !delivery.profiles.is_empty() {
            writes.push(self.upsert_statement(delivery.profiles, now_ms, since)?);
        }
        if !delivery.bare_recipients.is_empty() {
            let ids: Vec<&str> = delivery.bare_recipients.iter().map(SubscriberId::as_str).collect();
            writes.push(statement(
                &self.db,
                &format!(
                    "INSERT INTO subscribers (id, created_at, updated_at) SELECT value, ?2, ?2 FROM json_each(?1) \
                     WHERE {} ON CONFLICT (id) DO NOTHING",
                    not_deleted_since("value", "?3")
                ),
                &[text(&json!(ids).to_string()), number(now_ms), number(since)],
            )?);
        }
        // Messages whose feed is in the primary (one shard, or not moved yet) go in its transaction.
        let all_in_primary = primary_count == delivery.messages.len();
        let in_primary = |message: &&Message| map.home_of_subscriber(&message.subscriber) == FeedHome::Primary;
        if primary_count > 0 {
            let subscribers = delivery.messages.iter().filter(in_primary).map(|message| &message.subscriber);
            writes.push(self.fence_guard(&self.db, subscribers, Access::Write)?);
            writes.push(statement(&self.db, super::messages::TICK, &[])?);
        }
        for chunk in chunks(delivery.messages) {
            let Some(first) = chunk.first() else { continue };
            // One serialization of the chunk for its log entries and, when all are here, its rows.
            let chunk_json = chunk_json(chunk);
            writes.push(self.stored_log_statement(&chunk_json, &first.workflow, &first.transaction_id, now_ms)?);
            if all_in_primary {
                writes.push(rows.insert(&self.db, chunk, &chunk_json)?);
            }
        }
        if primary_count > 0 && !all_in_primary {
            let here: Vec<Message> = delivery.messages.iter().filter(in_primary).cloned().collect();
            for chunk in chunks(&here) {
                writes.push(rows.insert(&self.db, chunk, &chunk_json(chunk))?);
            }
        }
        if !delivery.webhooks.is_empty() {
            let jobs: Vec<Value> = delivery
                .webhooks
                .iter()
                .map(|job| {
                    json!({"id": job.id.as_str(), "subscriber_id": job.subscriber.as_str(),
                        "integration": job.integration, "body": job.body})
                })
                .collect();
            writes.push(statement(
                &self.db,
                &format!(
                    "INSERT INTO deliveries (id, transaction_id, workflow, subscriber_id, integration, body, \
                     created_at, updated_at, next_attempt_at) SELECT value ->> '$.id', ?2, ?3, \
                     value ->> '$.subscriber_id', value ->> '$.integration', value ->> '$.body', ?4, ?4, ?4 \
                     FROM json_each(?1) WHERE {} ON CONFLICT (id) DO NOTHING",
                    not_deleted_since("value ->> '$.subscriber_id'", "?5")
                ),
                &[
                    text(&Value::Array(jobs).to_string()),
                    text(delivery.transaction_id),
                    text(delivery.workflow),
                    number(now_ms),
                    number(since),
                ],
            )?);
        }
        if !delivery.skipped.is_empty() || !delivery.suppressed.is_empty() || !delivery.refused.is_empty() {
            let skipped = delivery.skipped.iter().map(|(id, subscriber, channel)| {
                json!({"id": id.as_str(), "subscriber_id": subscriber.as_str(), "step": channel,
                    "status": "skipped", "detail": {"reason": "preference"}})
            });
            let suppressed = delivery.suppressed.iter().map(|(id, suppressed)| {
                json!({"id": id.as_str(), "subscriber_id": suppressed.subscriber.as_str(), "step": "webhook",
                    "status": "suppressed", "detail": suppressed.detail()})
            });
            let refused = delivery.refused.iter().map(|(id, subscriber, detail)| {
                json!({"id": id.as_str(), "subscriber_id": subscriber.as_str(), "step": "trigger",
                    "status": "failed", "detail": detail})
            });
            let rows: Vec<Value> = skipped.chain(suppressed).chain(refused).collect();
            writes.push(statement(
                &self.db,
                "INSERT INTO logs (id, transaction_id, workflow, subscriber_id, step, status, detail, created_at) \
                 SELECT value ->> '$.id', ?2, ?3, value ->> '$.subscriber_id', value ->> '$.step', \
                 value ->> '$.status', value -> '$.detail', ?4 FROM json_each(?1) WHERE true ON CONFLICT (id) DO NOTHING",
                &[
                    text(&Value::Array(rows).to_string()),
                    text(delivery.transaction_id),
                    text(delivery.workflow),
                    number(now_ms),
                ],
            )?);
        }
        writes.push(self.log_retention_statement(now_ms)?);
        writes.extend(self.closing_statements(delivery.idempotency.as_ref(), delivery.audit, now_ms)?);
        if let Some(page) = &delivery.page {
            writes.push(super::fanouts::page_advance(&self.db, page, now_ms)?);
        }
        self.write_batch("deliver", writes).await?;
        Ok(())
    }
}

/// SQL: the subscriber `id` (an expression) was not deleted at or after
/// `since` (a parameter: when the trigger read the profiles it rendered).
/// Every database of the environment records deletions; a trigger that raced
/// one writes nothing for the deleted subscriber, and a later one (a new
/// subscriber of that id) does.
pub(super) fn not_deleted_since(id: &str, since: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM subscriber_deletions d WHERE d.subscriber_id = {id} AND d.deleted_at >= {since})"
    )
}

/// What every message of one delivery shares, as stored. A message deleted
/// already (a retry of a transaction whose first attempt wrote it, after
/// the subscriber deleted it) is not written again.
struct MessageRows<'a> {
    payload: &'a str,
    personal_paths: &'a str,
    /// When the transaction was made: a subscriber deleted since gets no message.
    since: u64,
}

impl MessageRows<'_> {
    /// The statement inserting `chunk` (messages of one transaction and
    /// workflow) into `db`'s feed, each once.
    /// `chunk_json` is [`chunk_json`] of `chunk`.
    fn insert(&self, db: &D1Database, chunk: &[Message], chunk_json: &str) -> Result<D1PreparedStatement, ApiError> {
        let Some(first) = chunk.first() else {
            return Err(ApiError::internal("deliver", "an empty chunk of messages"));
        };
        statement(
            db,
            &format!(
                "INSERT INTO messages (id, subscriber_id, workflow, transaction_id, subject, body, avatar, actions, \
                 payload, created_at, tags, personal_paths, attachments, version) \
                 SELECT value ->> '$.id', value ->> '$.subscriber_id', ?2, ?3, value ->> '$.subject', \
                 value ->> '$.body', value ->> '$.avatar', value -> '$.actions', ?4, ?5, ?6, ?7, \
                 CASE WHEN json_array_length(value -> '$.attachments') > 0 THEN value -> '$.attachments' END, {} \
                 FROM json_each(?1) WHERE NOT EXISTS (SELECT 1 FROM message_tombstones t WHERE t.id = value ->> '$.id') \
                 AND {} ON CONFLICT (id) DO NOTHING",
                super::messages::CLOCK,
                not_deleted_since("value ->> '$.subscriber_id'", "?8"),
            ),
            &[
                text(chunk_json),
                text(&first.workflow),
                text(&first.transaction_id),
                text(self.payload),
                number(first.created_at),
                text(&serde_json::to_string(&first.tags).unwrap_or_else(|_| "[]".to_owned())),
                text(self.personal_paths),
                number(self.since),
            ],
        )
    }
}

/// A chunk of messages as the JSON array the log and message inserts expand.
fn chunk_json(chunk: &[Message]) -> String {
    Value::Array(chunk.iter().map(message_json).collect()).to_string()
}

fn message_json(message: &Message) -> Value {
    json!({
        "id": message.id.as_str(),
        "subscriber_id": message.subscriber.as_str(),
        "subject": message.subject,
        "body": message.body,
        "avatar": message.avatar,
        "actions": message.actions,
        "attachments": message.attachments,
    })
}

/// Splits messages into runs whose JSON stays under [`CHUNK_BYTES`].
fn chunks(messages: &[Message]) -> Vec<&[Message]> {
    let mut runs = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (index, message) in messages.iter().enumerate() {
        let estimate = message.subject.len() + message.body.len() + 200;
        if index > start && size + estimate > CHUNK_BYTES {
            runs.push(&messages[start..index]);
            (start, size) = (index, 0);
        }
        size += estimate;
    }
    if start < messages.len() {
        runs.push(&messages[start..]);
    }
    runs
}
