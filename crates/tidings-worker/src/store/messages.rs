//! Messages and feeds of one environment.

use serde::Deserialize;
use tidings_core::feed_action::{ActionKind, ActionTarget, FeedAction};
use tidings_core::feed_filter::FeedFilter;
use tidings_core::feed_sync::{ChangesQuery, StoredChange, TOMBSTONE_RETENTION_MS};
use tidings_core::message::{Message, MessageId};
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::FeedCounts;
use wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, D1Result};

use super::shards::Access;
use super::{feed_sql, number, storage_error, text, Environment, KeyHome};
use crate::error::ApiError;

#[derive(Deserialize)]
struct MessageRow {
    id: String,
    subscriber_id: String,
    workflow: String,
    transaction_id: String,
    subject: String,
    body: String,
    avatar: Option<String>,
    actions: String,
    tags: String,
    payload: String,
    created_at: f64,
    seen_at: Option<f64>,
    read_at: Option<f64>,
    archived_at: Option<f64>,
    #[serde(default)]
    attachments: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CountsRow {
    total: f64,
    unread: f64,
    unseen: f64,
}

#[derive(Deserialize)]
struct ChangedRow {
    #[serde(flatten)]
    message: MessageRow,
    version: f64,
    matches: f64,
}

#[derive(Deserialize)]
struct TombstoneRow {
    id: String,
    version: f64,
}

#[derive(Deserialize)]
struct ClockRow {
    version: f64,
    purged_through: f64,
}

const COLUMNS: &str = "id, subscriber_id, workflow, transaction_id, subject, body, avatar, actions, tags, payload, \
    created_at, seen_at, read_at, archived_at, attachments";
/// Advances the environment's feed clock; the writes after it in the same
/// batch stamp [`CLOCK`] on the rows they change.
pub(super) const TICK: &str = "UPDATE feed_clock SET version = version + 1 WHERE id = 1";
/// The current version of the feed clock, as an SQL expression.
pub(super) const CLOCK: &str = "(SELECT version FROM feed_clock WHERE id = 1)";
const READ_CLOCK: &str = "SELECT version, purged_through FROM feed_clock WHERE id = 1";

/// The columns of a feed's counters and the feed clock over `feed_counts`,
/// written once for the statements that read them.
macro_rules! counts_and_clock {
    () => {
        "COALESCE(MAX(total), 0) AS total, COALESCE(MAX(unread), 0) AS unread, \
         COALESCE(MAX(unseen), 0) AS unseen, (SELECT version FROM feed_clock WHERE id = 1) AS version"
    };
}
/// A feed's counters and the feed clock in one row (an aggregate always
/// answers one row, also for a subscriber without messages).
const READ_COUNTS_AND_CLOCK: &str =
    concat!("SELECT ", counts_and_clock!(), " FROM feed_counts WHERE subscriber_id = ?");
/// The columns of [`READ_COUNTS_AND_CLOCK`], over `feed_counts`.
pub(super) const COUNTS_AND_CLOCK: &str = counts_and_clock!();

/// What delta sync found: changes (up to `limit + 1` of each kind), counts,
/// the clock, and how far tombstones have been forgotten.
pub struct FoundChanges {
    /// Changed messages and tombstones after the watermark.
    pub changes: Vec<StoredChange>,
    /// The feed's counts.
    pub counts: FeedCounts,
    /// The feed clock when they were read.
    pub clock: u64,
    /// Watermarks below this version may have missed deletions.
    pub purged_through: u64,
}

impl Environment {
    /// What changed in a feed after `query.since`, with counts and the clock,
    /// read in one transaction (on the database holding it now: after a
    /// move, every message and tombstone carries a version past any clock
    /// the client read before it).
    pub async fn changes(&self, subscriber: &SubscriberId, query: &ChangesQuery) -> Result<FoundChanges, ApiError> {
        self.on_current_map(|| self.read_changes(subscriber, query)).await
    }

    async fn read_changes(&self, subscriber: &SubscriberId, query: &ChangesQuery) -> Result<FoundChanges, ApiError> {
        let mut params = Vec::new();
        let matches = feed_sql::conditions(&query.filter, &mut params);
        params.push(text(subscriber.as_str()));
        let (after, after_params) = match &query.since.after {
            Some(id) => ("(version, id) > (?, ?)", vec![number(query.since.version), text(id.as_str())]),
            None => ("version > ?", vec![number(query.since.version)]),
        };
        params.extend(after_params.iter().cloned());
        params.push(number(u64::from(query.limit) + 1));
        let changed = self.prepare(
            subscriber,
            &format!(
                "SELECT {COLUMNS}, version, CASE WHEN {matches} THEN 1 ELSE 0 END AS matches FROM messages \
                 WHERE subscriber_id = ? AND {after} ORDER BY version, id LIMIT ?"
            ),
            &params,
        )?;
        let mut tombstone_params = vec![text(subscriber.as_str())];
        tombstone_params.extend(after_params);
        tombstone_params.push(number(u64::from(query.limit) + 1));
        let deleted = self.prepare(
            subscriber,
            &format!(
                "SELECT id, version FROM message_tombstones WHERE subscriber_id = ? AND {after} \
                 ORDER BY version, id LIMIT ?"
            ),
            &tombstone_params,
        )?;
        let counts = self.counts_statement(subscriber, &FeedFilter::default())?;
        let clock = self.prepare(subscriber, READ_CLOCK, &[])?;
        let results = self
            .batch(subscriber, Access::Read, vec![changed, deleted, counts, clock])
            .await
            .map_err(|error| storage_error("read changes", error))?;
        let [changed, deleted, counts, clock] = <[_; 4]>::try_from(results)
            .map_err(|_| ApiError::internal("read changes", "batch returned the wrong number of results"))?;
        let changed: Vec<ChangedRow> = changed.results().map_err(|error| storage_error("decode changes", error))?;
        let deleted: Vec<TombstoneRow> = deleted.results().map_err(|error| storage_error("decode changes", error))?;
        let mut changes = Vec::with_capacity(changed.len() + deleted.len());
        for row in changed {
            changes.push(StoredChange::Upserted {
                message: Box::new(message_from_row(row.message)?),
                version: row.version as u64,
                matches: row.matches != 0.0,
            });
        }
        for row in deleted {
            let id = MessageId::parse(&row.id)
                .map_err(|_| ApiError::internal("decode changes", "stored tombstone id is invalid"))?;
            changes.push(StoredChange::Deleted { id, version: row.version as u64 });
        }
        let clock = clock_from(&clock)?;
        Ok(FoundChanges {
            changes,
            counts: counts_from(&counts)?,
            clock: clock.version as u64,
            purged_through: clock.purged_through as u64,
        })
    }

    /// Exact counts for each filter, read in one transaction.
    pub async fn counts(&self, subscriber: &SubscriberId, filters: &[FeedFilter]) -> Result<Vec<FeedCounts>, ApiError> {
        self.on_current_map(|| async {
            let statements = filters
                .iter()
                .map(|filter| self.counts_statement(subscriber, filter))
                .collect::<Result<Vec<_>, _>>()?;
            let results = self
                .batch(subscriber, Access::Read, statements)
                .await
                .map_err(|error| storage_error("count feed", error))?;
            results.iter().map(counts_from).collect()
        })
        .await
    }

    /// Applies an action to the subscriber's own messages and returns how
    /// many changed and the feed's counts after it, in one transaction. With
    /// a claimed idempotency key (key and claim id), it changes rows only
    /// while the claim is still this request's (not taken over by a retry
    /// after it was thought abandoned), stores the answer under the key
    /// (`{"updated": n}`) once, and answers the stored count, so a batch
    /// retried after a commit whose answer was lost answers the first count.
    pub async fn apply_action(
        &self,
        subscriber: &SubscriberId,
        action: &FeedAction,
        claim: Option<(&str, &str)>,
        now_ms: u64,
    ) -> Result<(u64, FeedCounts), ApiError> {
        self.on_current_map(|| self.apply_action_here(subscriber, action, claim, now_ms)).await
    }

    async fn apply_action_here(
        &self,
        subscriber: &SubscriberId,
        action: &FeedAction,
        claim: Option<(&str, &str)>,
        now_ms: u64,
    ) -> Result<(u64, FeedCounts), ApiError> {
        let change = match action.kind {
            ActionKind::Seen => "UPDATE messages SET seen_at = COALESCE(seen_at, ?)",
            // Reading implies seeing.
            ActionKind::Read => "UPDATE messages SET read_at = COALESCE(read_at, ?), seen_at = COALESCE(seen_at, ?)",
            ActionKind::Unread => "UPDATE messages SET read_at = NULL",
            ActionKind::Archive => "UPDATE messages SET archived_at = COALESCE(archived_at, ?)",
            ActionKind::Unarchive => "UPDATE messages SET archived_at = NULL",
            ActionKind::Delete => "DELETE FROM messages",
        };
        let mut params: Vec<JsValue> = match action.kind {
            ActionKind::Seen | ActionKind::Archive => vec![number(now_ms)],
            ActionKind::Read => vec![number(now_ms), number(now_ms)],
            ActionKind::Unread | ActionKind::Unarchive | ActionKind::Delete => vec![],
        };
        params.push(text(subscriber.as_str()));
        let target = match &action.target {
            ActionTarget::Ids(ids) => {
                let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
                params.push(text(&serde_json::json!(ids).to_string()));
                "id IN (SELECT value FROM json_each(?))".to_owned()
            }
            ActionTarget::Filter(filter) => feed_sql::conditions(filter, &mut params),
        };
        // Only rows the action really changes, so `updated` counts changes, not matches.
        let changing = match action.kind {
            ActionKind::Seen => "seen_at IS NULL",
            ActionKind::Read => "(read_at IS NULL OR seen_at IS NULL)",
            ActionKind::Unread => "read_at IS NOT NULL",
            ActionKind::Archive => "archived_at IS NULL",
            ActionKind::Unarchive => "archived_at IS NOT NULL",
            ActionKind::Delete => "1",
        };
        let mut conditions = format!("WHERE subscriber_id = ? AND {target} AND {changing}");
        if let Some((key, claim_id)) = claim {
            conditions.push_str(
                " AND EXISTS (SELECT 1 FROM idempotency_keys WHERE key = ? AND claim_id = ? AND state = 'in_flight')",
            );
            params.extend([text(key), text(claim_id)]);
        }
        let mut writes = vec![self.prepare(subscriber, TICK, &[])?];
        if action.kind == ActionKind::Delete {
            // Deleted messages leave tombstones for delta sync; old ones are forgotten.
            writes.push(self.prepare(
                subscriber,
                &format!(
                    "INSERT OR REPLACE INTO message_tombstones (id, subscriber_id, version, deleted_at) \
                     SELECT id, subscriber_id, {CLOCK}, ? FROM messages {conditions}"
                ),
                &[&[number(now_ms)][..], &params].concat(),
            )?);
            let horizon = number(now_ms.saturating_sub(TOMBSTONE_RETENTION_MS));
            writes.push(self.prepare(
                subscriber,
                "UPDATE feed_clock SET purged_through = MAX(purged_through, \
                 COALESCE((SELECT MAX(version) FROM message_tombstones WHERE deleted_at < ?), 0)) WHERE id = 1",
                std::slice::from_ref(&horizon),
            )?);
            writes.push(self.prepare(subscriber, "DELETE FROM message_tombstones WHERE deleted_at < ?", &[horizon])?);
        }
        let update_index = writes.len();
        // `RETURNING` counts the rows changed: D1's `changes` also counts the
        // feed counters the triggers update.
        let sql = match change.strip_prefix("UPDATE messages SET ") {
            Some(sets) => format!("UPDATE messages SET {sets}, version = {CLOCK} {conditions} RETURNING id"),
            None => format!("{change} {conditions} RETURNING id"),
        };
        writes.push(self.prepare(subscriber, &sql, &params)?);
        if let Some((key, claim_id)) = claim {
            // Right after the change: `changes()` is the rows it changed (the
            // counters' triggers are not counted). Set once, by this claim only.
            writes.push(self.prepare(
                subscriber,
                "UPDATE idempotency_keys SET state = 'done', status = 200, \
                 response = json_object('updated', changes()) WHERE key = ?1 AND claim_id = ?2 AND state = 'in_flight'",
                &[text(key), text(claim_id)],
            )?);
            writes.push(self.forget_idempotency_keys_statement(KeyHome::FeedOf(subscriber), now_ms)?);
            writes.push(self.prepare(
                subscriber,
                "SELECT json_extract(response, '$.updated') AS updated FROM idempotency_keys \
                 WHERE key = ?1 AND claim_id = ?2 AND state = 'done'",
                &[text(key), text(claim_id)],
            )?);
        }
        writes.push(self.counts_statement(subscriber, &FeedFilter::default())?);
        let results = self.write_feed_batch(subscriber, "feed-action", writes).await?;
        let (Some(update), Some(counts)) = (results.get(update_index), results.last()) else {
            return Err(ApiError::internal("apply action", "batch returned the wrong number of results"));
        };
        let changed = match claim {
            None => update.results::<serde_json::Value>().map_err(|error| storage_error("decode action", error))?.len(),
            Some(_) => {
                #[derive(serde::Deserialize)]
                struct Stored {
                    updated: f64,
                }
                let stored = results.get(results.len() - 2).map(|result| result.results::<Stored>());
                match stored {
                    Some(Ok(rows)) if rows.len() == 1 => rows[0].updated as usize,
                    // Another request took the claim over: nothing was changed by this one.
                    _ => return Err(super::triggers::claim_lost()),
                }
            }
        } as u64;
        Ok((changed, counts_from(counts)?))
    }

    /// The counts of a view of a feed. The whole feed's (the default
    /// filter) are read from `feed_counts`, which triggers keep in step with
    /// `messages`; a filtered view counts its rows.
    fn counts_statement(
        &self,
        subscriber: &SubscriberId,
        filter: &FeedFilter,
    ) -> Result<D1PreparedStatement, ApiError> {
        if *filter == FeedFilter::default() {
            // The clock column goes unread here.
            return self.prepare(subscriber, READ_COUNTS_AND_CLOCK, &[text(subscriber.as_str())]);
        }
        let mut params = vec![text(subscriber.as_str())];
        let sql = format!(
            "SELECT COUNT(*) AS total, COALESCE(SUM(read_at IS NULL), 0) AS unread, \
             COALESCE(SUM(seen_at IS NULL), 0) AS unseen FROM messages WHERE subscriber_id = ? AND {}",
            feed_sql::conditions(filter, &mut params)
        );
        self.prepare(subscriber, &sql, &params)
    }
}

fn counts_from(result: &D1Result) -> Result<FeedCounts, ApiError> {
    let rows: Vec<CountsRow> = result.results().map_err(|error| storage_error("decode counts", error))?;
    Ok(rows.first().map_or_else(FeedCounts::default, counts_of))
}

pub(super) fn counts_of(row: &CountsRow) -> FeedCounts {
    FeedCounts { total: row.total as u64, unread: row.unread as u64, unseen: row.unseen as u64 }
}

fn clock_from(result: &D1Result) -> Result<ClockRow, ApiError> {
    let rows: Vec<ClockRow> = result.results().map_err(|error| storage_error("decode feed clock", error))?;
    rows.into_iter().next().ok_or_else(|| ApiError::internal("read feed clock", "the feed clock row is missing"))
}

fn message_from_row(row: MessageRow) -> Result<Message, ApiError> {
    let corrupt = |what: &str| ApiError::internal("decode message", format!("stored {what} is invalid"));
    Ok(Message {
        id: MessageId::parse(&row.id).map_err(|_| corrupt("id"))?,
        subscriber: SubscriberId::parse(&row.subscriber_id).map_err(|_| corrupt("subscriber id"))?,
        workflow: row.workflow,
        transaction_id: row.transaction_id,
        subject: row.subject,
        body: row.body,
        avatar: row.avatar,
        actions: serde_json::from_str(&row.actions).map_err(|_| corrupt("actions"))?,
        tags: serde_json::from_str(&row.tags).map_err(|_| corrupt("tags"))?,
        payload: serde_json::from_str(&row.payload).map_err(|_| corrupt("payload"))?,
        created_at: row.created_at as u64,
        seen_at: row.seen_at.map(|at| at as u64),
        read_at: row.read_at.map(|at| at as u64),
        archived_at: row.archived_at.map(|at| at as u64),
        attachments: match row.attachments.as_deref() {
            Some(text) => serde_json::from_str(text).map_err(|_| corrupt("attachments"))?,
            None => Vec::new(),
        },
    })
}
