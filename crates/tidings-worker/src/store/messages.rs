//! Messages and feeds of one environment.

use serde::Deserialize;
use tidings_core::feed::FeedQuery;
use tidings_core::feed_action::{ActionKind, ActionTarget, FeedAction};
use tidings_core::feed_filter::FeedFilter;
use tidings_core::message::{Message, MessageId};
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::FeedCounts;
use wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, D1Result};

use super::{feed_sql, number, statement, storage_error, text, EnvironmentScope};
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
}

#[derive(Deserialize)]
struct CountsRow {
    total: f64,
    unread: f64,
    unseen: f64,
}

const COLUMNS: &str = "id, subscriber_id, workflow, transaction_id, subject, body, avatar, actions, tags, payload, \
    created_at, seen_at, read_at, archived_at";

impl EnvironmentScope {
    /// Up to `query.limit + 1` messages of a feed (newest first; oldest first
    /// when paging back) and the feed's counts, read in one transaction so
    /// they agree.
    pub async fn feed(
        &self,
        subscriber: &SubscriberId,
        query: &FeedQuery,
    ) -> Result<(Vec<Message>, FeedCounts), ApiError> {
        let mut params = vec![text(subscriber.as_str())];
        let mut sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE subscriber_id = ? AND {}",
            feed_sql::conditions(&query.filter, &mut params)
        );
        let order = match (&query.after, &query.before) {
            (Some(after), _) => {
                params.push(text(after.as_str()));
                sql.push_str(" AND id < ?");
                "DESC"
            }
            (None, Some(before)) => {
                params.push(text(before.as_str()));
                sql.push_str(" AND id > ?");
                "ASC"
            }
            (None, None) => "DESC",
        };
        sql.push_str(&format!(" ORDER BY id {order} LIMIT ?"));
        params.push(number(u64::from(query.limit) + 1));
        let page = statement(&self.db, &sql, &params)?;
        let counts = self.counts_statement(subscriber, &FeedFilter::default())?;
        let results = self.db.batch(vec![page, counts]).await.map_err(|error| storage_error("read feed", error))?;
        let [page, counts] = <[_; 2]>::try_from(results)
            .map_err(|_| ApiError::internal("read feed", "batch returned the wrong number of results"))?;
        let rows: Vec<MessageRow> = page.results().map_err(|error| storage_error("decode feed", error))?;
        let messages = rows.into_iter().map(message_from_row).collect::<Result<_, _>>()?;
        Ok((messages, counts_from(&counts)?))
    }

    /// Exact counts for each filter, read in one transaction.
    pub async fn counts(&self, subscriber: &SubscriberId, filters: &[FeedFilter]) -> Result<Vec<FeedCounts>, ApiError> {
        let statements =
            filters.iter().map(|filter| self.counts_statement(subscriber, filter)).collect::<Result<Vec<_>, _>>()?;
        let results = self.db.batch(statements).await.map_err(|error| storage_error("count feed", error))?;
        results.iter().map(counts_from).collect()
    }

    /// Applies an action to the subscriber's own messages and returns how
    /// many changed and the feed's counts after it, in one transaction.
    pub async fn apply_action(
        &self,
        subscriber: &SubscriberId,
        action: &FeedAction,
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
        let sql = format!("{change} WHERE subscriber_id = ? AND {target} AND {changing}");
        let update = statement(&self.db, &sql, &params)?;
        let counts = self.counts_statement(subscriber, &FeedFilter::default())?;
        let results =
            self.db.batch(vec![update, counts]).await.map_err(|error| storage_error("apply action", error))?;
        let [update, counts] = <[_; 2]>::try_from(results)
            .map_err(|_| ApiError::internal("apply action", "batch returned the wrong number of results"))?;
        let changed = update.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) as u64;
        Ok((changed, counts_from(&counts)?))
    }

    fn counts_statement(
        &self,
        subscriber: &SubscriberId,
        filter: &FeedFilter,
    ) -> Result<D1PreparedStatement, ApiError> {
        let mut params = vec![text(subscriber.as_str())];
        let sql = format!(
            "SELECT COUNT(*) AS total, COALESCE(SUM(read_at IS NULL), 0) AS unread, \
             COALESCE(SUM(seen_at IS NULL), 0) AS unseen FROM messages WHERE subscriber_id = ? AND {}",
            feed_sql::conditions(filter, &mut params)
        );
        statement(&self.db, &sql, &params)
    }
}

fn counts_from(result: &D1Result) -> Result<FeedCounts, ApiError> {
    let rows: Vec<CountsRow> = result.results().map_err(|error| storage_error("decode counts", error))?;
    Ok(rows.first().map_or_else(FeedCounts::default, |row| FeedCounts {
        total: row.total as u64,
        unread: row.unread as u64,
        unseen: row.unseen as u64,
    }))
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
    })
}
