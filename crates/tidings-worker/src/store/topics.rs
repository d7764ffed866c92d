//! Topics of one environment and their members.

use serde::Deserialize;
use serde_json::json;
use tidings_core::subscriber::SubscriberId;
use tidings_core::timestamp::rfc3339;
use tidings_core::topic::TopicKey;
use tidings_core::wire::{SubscriberPageInfo, Topic, TopicList, TopicMemberList, TopicMembersResponse};
use wasm_bindgen::JsValue;

use super::{number, statement, storage_error, text, Environment};
use crate::error::ApiError;

#[derive(Deserialize)]
struct TopicRow {
    key: String,
    name: Option<String>,
    subscribers: f64,
    created_at: f64,
    updated_at: f64,
}

impl TopicRow {
    fn into_wire(self) -> Topic {
        Topic {
            key: self.key,
            name: self.name,
            subscribers: self.subscribers as u64,
            created_at: rfc3339(self.created_at as u64),
            updated_at: rfc3339(self.updated_at as u64),
        }
    }
}

const TOPIC_COLUMNS: &str = "t.key, t.name, t.created_at, t.updated_at, t.members AS subscribers";

/// How a change to a topic's members went.
pub enum MembersChanged {
    /// The topic exists; the answer.
    Done(TopicMembersResponse),
    /// There is no such topic.
    NoTopic,
}

impl Environment {
    /// Creates a topic or sets its name; says whether it was created, as
    /// the write itself found it: of requests racing to create one topic, at
    /// most one says created (none where the creating write's answer was
    /// lost and its retry found the topic).
    pub async fn put_topic(&self, key: &TopicKey, name: Option<&str>, now_ms: u64) -> Result<bool, ApiError> {
        let params = [text(key.as_str()), name.map_or(JsValue::NULL, text), number(now_ms)];
        let create = statement(
            &self.db,
            "INSERT INTO topics (key, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) \
             ON CONFLICT (key) DO NOTHING RETURNING key",
            &params,
        )?;
        let rename = statement(&self.db, "UPDATE topics SET name = ?2, updated_at = ?3 WHERE key = ?1", &params)?;
        let results = self.write_batch("put topic", vec![create, rename]).await?;
        let created = results.first().map(|result| result.results::<serde_json::Value>());
        match created {
            Some(Ok(rows)) => Ok(!rows.is_empty()),
            Some(Err(error)) => Err(storage_error("put topic", error)),
            None => Err(ApiError::internal("put topic", "the batch answered no result")),
        }
    }

    /// One topic, with its member count.
    pub async fn topic(&self, key: &TopicKey) -> Result<Option<Topic>, ApiError> {
        let sql = format!("SELECT {TOPIC_COLUMNS} FROM topics t WHERE t.key = ?1");
        let row: Option<TopicRow> = statement(&self.db, &sql, &[text(key.as_str())])?
            .first(None)
            .await
            .map_err(|error| storage_error("read topic", error))?;
        Ok(row.map(TopicRow::into_wire))
    }

    /// Topics in key order, `limit` at a time after `after`.
    pub async fn topics(&self, after: Option<&str>, limit: u32) -> Result<TopicList, ApiError> {
        let sql =
            format!("SELECT {TOPIC_COLUMNS} FROM topics t WHERE (?1 IS NULL OR t.key > ?1) ORDER BY t.key LIMIT ?2");
        let mut rows: Vec<TopicRow> =
            statement(&self.db, &sql, &[after.map_or(JsValue::NULL, text), number(u64::from(limit) + 1)])?
                .all()
                .await
                .and_then(|result| result.results())
                .map_err(|error| storage_error("list topics", error))?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let after = if has_more { rows.last().map(|row| row.key.clone()) } else { None };
        Ok(TopicList {
            items: rows.into_iter().map(TopicRow::into_wire).collect(),
            page_info: SubscriberPageInfo { after, has_more },
        })
    }

    /// Deletes a topic and its memberships; says whether it existed.
    /// Fan-outs already under way read no more of its members.
    pub async fn delete_topic(&self, key: &TopicKey) -> Result<bool, ApiError> {
        // The topic goes first: its members' rows then update no counter.
        let results = self
            .write_batch(
                "delete topic",
                vec![
                    statement(&self.db, "DELETE FROM topics WHERE key = ?1 RETURNING key", &[text(key.as_str())])?,
                    statement(&self.db, "DELETE FROM topic_subscribers WHERE topic = ?1", &[text(key.as_str())])?,
                ],
            )
            .await?;
        Ok(returned(results.first()) > 0)
    }

    /// Adds subscribers to a topic, creating the ones that do not exist
    /// (empty, as a trigger does). One transaction.
    pub async fn add_topic_members(
        &self,
        key: &TopicKey,
        ids: &[SubscriberId],
        now_ms: u64,
    ) -> Result<MembersChanged, ApiError> {
        self.change_members(key, ids, now_ms, true).await
    }

    /// Removes subscribers from a topic (ids that are not members are ignored).
    pub async fn remove_topic_members(
        &self,
        key: &TopicKey,
        ids: &[SubscriberId],
        now_ms: u64,
    ) -> Result<MembersChanged, ApiError> {
        self.change_members(key, ids, now_ms, false).await
    }

    async fn change_members(
        &self,
        key: &TopicKey,
        ids: &[SubscriberId],
        now_ms: u64,
        add: bool,
    ) -> Result<MembersChanged, ApiError> {
        if self.topic(key).await?.is_none() {
            return Ok(MembersChanged::NoTopic);
        }
        let ids: Vec<&str> = ids.iter().map(SubscriberId::as_str).collect();
        let ids = json!(ids).to_string();
        let exists = "EXISTS (SELECT 1 FROM topics WHERE key = ?1)";
        let mut writes = Vec::new();
        if add {
            writes.push(statement(
                &self.db,
                &format!(
                    "INSERT INTO subscribers (id, created_at, updated_at) SELECT value, ?3, ?3 FROM json_each(?2) \
                     WHERE {exists} ON CONFLICT (id) DO NOTHING"
                ),
                &[text(key.as_str()), text(&ids), number(now_ms)],
            )?);
            writes.push(statement(
                &self.db,
                &format!(
                    "INSERT INTO topic_subscribers (topic, subscriber_id, created_at) SELECT ?1, value, ?3 \
                     FROM json_each(?2) WHERE {exists} ON CONFLICT DO NOTHING RETURNING subscriber_id"
                ),
                &[text(key.as_str()), text(&ids), number(now_ms)],
            )?);
        } else {
            writes.push(statement(
                &self.db,
                "DELETE FROM topic_subscribers WHERE topic = ?1 AND subscriber_id IN (SELECT value FROM json_each(?2)) \
                 RETURNING subscriber_id",
                &[text(key.as_str()), text(&ids)],
            )?);
        }
        writes.push(statement(
            &self.db,
            "UPDATE topics SET updated_at = ?2 WHERE key = ?1",
            &[text(key.as_str()), number(now_ms)],
        )?);
        let results = self.write_batch("change topic members", writes).await?;
        // Rows returned, not D1's `changes`, which also counts the counter's updates.
        let changed = returned(results.get(if add { 1 } else { 0 }));
        let Some(topic) = self.topic(key).await? else { return Ok(MembersChanged::NoTopic) };
        Ok(MembersChanged::Done(TopicMembersResponse { topic: topic.key, changed, subscribers: topic.subscribers }))
    }

    /// A topic's member ids in order, `limit` at a time after `after`;
    /// `None` when there is no such topic.
    pub async fn topic_members(
        &self,
        key: &TopicKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Option<TopicMemberList>, ApiError> {
        #[derive(Deserialize)]
        struct Member {
            subscriber_id: String,
        }
        if self.topic(key).await?.is_none() {
            return Ok(None);
        }
        let mut rows: Vec<Member> = statement(
            &self.db,
            "SELECT subscriber_id FROM topic_subscribers WHERE topic = ?1 AND (?2 IS NULL OR subscriber_id > ?2) \
             ORDER BY subscriber_id LIMIT ?3",
            &[text(key.as_str()), after.map_or(JsValue::NULL, text), number(u64::from(limit) + 1)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("list topic members", error))?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let items: Vec<String> = rows.into_iter().map(|row| row.subscriber_id).collect();
        let after = if has_more { items.last().cloned() } else { None };
        Ok(Some(TopicMemberList { items, page_info: SubscriberPageInfo { after, has_more } }))
    }

    /// The keys among `keys` that name no topic.
    pub async fn missing_topics(&self, keys: &[TopicKey]) -> Result<Vec<TopicKey>, ApiError> {
        #[derive(Deserialize)]
        struct Key {
            key: String,
        }
        let wanted: Vec<&str> = keys.iter().map(TopicKey::as_str).collect();
        let found: Vec<Key> = statement(
            &self.db,
            "SELECT key FROM topics WHERE key IN (SELECT value FROM json_each(?1))",
            &[text(&json!(wanted).to_string())],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read topics", error))?;
        Ok(keys.iter().filter(|key| !found.iter().any(|row| row.key == key.as_str())).cloned().collect())
    }
}

/// The rows a statement returned.
fn returned(result: Option<&worker::D1Result>) -> u64 {
    result.and_then(|result| result.results::<serde_json::Value>().ok()).map_or(0, |rows| rows.len() as u64)
}
