//! Messages and feeds of one environment.

use serde::Deserialize;
use tidings_core::feed::FeedQuery;
use tidings_core::message::{Message, MessageId};
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::FeedCounts;
use wasm_bindgen::JsValue;

use super::{number, statement, storage_error, text, EnvironmentScope};
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

const PAGE: &str =
    "SELECT id, subscriber_id, workflow, transaction_id, subject, body, avatar, actions, payload, created_at, \
    seen_at, read_at, archived_at FROM messages \
    WHERE subscriber_id = ?1 AND archived_at IS NULL AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3";

const COUNTS: &str = "SELECT COUNT(*) AS total, COALESCE(SUM(read_at IS NULL), 0) AS unread, \
    COALESCE(SUM(seen_at IS NULL), 0) AS unseen FROM messages WHERE subscriber_id = ?1 AND archived_at IS NULL";

impl EnvironmentScope {
    /// Up to `query.limit + 1` messages of a feed, newest first, and the
    /// feed's counts, read in one transaction so they agree.
    pub async fn feed(
        &self,
        subscriber: &SubscriberId,
        query: &FeedQuery,
    ) -> Result<(Vec<Message>, FeedCounts), ApiError> {
        let after = query.after.as_ref().map_or(JsValue::NULL, |id| text(id.as_str()));
        let page = statement(&self.db, PAGE, &[text(subscriber.as_str()), after, number(u64::from(query.limit) + 1)])?;
        let counts = statement(&self.db, COUNTS, &[text(subscriber.as_str())])?;
        let results = self.db.batch(vec![page, counts]).await.map_err(|error| storage_error("read feed", error))?;
        let [page, counts] = <[_; 2]>::try_from(results)
            .map_err(|_| ApiError::internal("read feed", "batch returned the wrong number of results"))?;
        let rows: Vec<MessageRow> = page.results().map_err(|error| storage_error("decode feed", error))?;
        let counts: Vec<CountsRow> = counts.results().map_err(|error| storage_error("decode counts", error))?;
        let counts = counts.first().map_or_else(FeedCounts::default, |row| FeedCounts {
            total: row.total as u64,
            unread: row.unread as u64,
            unseen: row.unseen as u64,
        });
        let messages = rows.into_iter().map(message_from_row).collect::<Result<_, _>>()?;
        Ok((messages, counts))
    }
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
        payload: serde_json::from_str(&row.payload).map_err(|_| corrupt("payload"))?,
        created_at: row.created_at as u64,
        seen_at: row.seen_at.map(|at| at as u64),
        read_at: row.read_at.map(|at| at as u64),
        archived_at: row.archived_at.map(|at| at as u64),
    })
}
