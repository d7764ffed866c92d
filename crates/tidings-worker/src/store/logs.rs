//! Execution logs of one environment.

use serde::Deserialize;
use serde_json::{json, Value};
use tidings_core::logs::LogQuery;
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::{LogEntry, LogList, SubscriberPageInfo};
use wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::{number, statement, storage_error, text, Environment};
use crate::error::ApiError;

#[derive(Deserialize)]
struct LogRow {
    id: String,
    transaction_id: String,
    workflow: String,
    subscriber_id: Option<String>,
    step: String,
    status: String,
    detail: String,
    created_at: f64,
}

const DAY_MS: u64 = 86_400_000;

impl Environment {
    /// Log rows for a chunk of stored in-app messages (bound as the same JSON
    /// array the messages are inserted from), for the trigger's own batch.
    pub(super) fn stored_log_statement(
        &self,
        messages_json: &str,
        workflow: &str,
        transaction_id: &str,
        now_ms: u64,
    ) -> Result<D1PreparedStatement, ApiError> {
        statement(
            &self.db,
            "INSERT INTO logs (id, transaction_id, workflow, subscriber_id, step, status, detail, created_at) \
             SELECT value ->> '$.id', ?2, ?3, value ->> '$.subscriber_id', 'in_app', 'stored', \
             json_object('message_id', value ->> '$.id'), ?4 FROM json_each(?1) WHERE true ON CONFLICT (id) DO NOTHING",
            &[text(messages_json), text(transaction_id), text(workflow), number(now_ms)],
        )
    }

    /// Deletes a bounded number of entries older than the retention setting.
    pub(super) fn log_retention_statement(&self, now_ms: u64) -> Result<D1PreparedStatement, ApiError> {
        let cutoff = now_ms.saturating_sub(u64::from(self.log_retention_days()) * DAY_MS);
        statement(
            &self.db,
            "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE created_at < ?1 ORDER BY created_at LIMIT 200)",
            &[number(cutoff)],
        )
    }

    /// Deletes a bounded amount of what is past the log retention: log
    /// entries, finished fan-outs (their payloads included), finished
    /// deliveries and their attempts. Writes prune as they go; the
    /// scheduled sweep calls this every minute for every environment, so an
    /// idle one keeps nothing past its retention either.
    pub async fn prune_past_retention(&self, now_ms: u64) -> Result<(), ApiError> {
        let mut writes = vec![self.log_retention_statement(now_ms)?, self.fanout_retention_statement(now_ms)?];
        writes.extend(self.delivery_retention_statements(now_ms)?);
        self.write_batch("prune past retention", writes).await.map(|_| ())
    }

    /// Records a refused trigger. Best effort: the refusal itself is the answer.
    pub async fn log_failure(
        &self,
        id: &str,
        transaction_id: &str,
        workflow: &str,
        code: &str,
        message: &str,
        now_ms: u64,
    ) {
        let detail = json!({"code": code, "message": message}).to_string();
        let insert = statement(
            &self.db,
            "INSERT INTO logs (id, transaction_id, workflow, subscriber_id, step, status, detail, created_at) \
             VALUES (?1, ?2, ?3, NULL, 'trigger', 'failed', ?4, ?5)",
            &[text(id), text(transaction_id), text(workflow), text(&detail), number(now_ms)],
        );
        if let Ok(insert) = insert {
            if let Err(error) = insert.run().await {
                worker::console_error!("could not log a refused trigger: {error}");
            }
        }
    }

    /// A page of log entries, newest first.
    pub async fn logs(&self, query: &LogQuery) -> Result<LogList, ApiError> {
        let optional = |value: Option<&str>| value.map_or(JsValue::NULL, text);
        let mut rows: Vec<LogRow> = statement(
            &self.db,
            "SELECT id, transaction_id, workflow, subscriber_id, step, status, detail, created_at FROM logs \
             WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR workflow = ?2) AND (?3 IS NULL OR subscriber_id = ?3) \
             AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at < ?6) \
             AND (?8 IS NULL OR transaction_id = ?8) ORDER BY id DESC LIMIT ?7",
            &[
                optional(query.after.as_deref()),
                optional(query.workflow.as_deref()),
                optional(query.subscriber.as_ref().map(|id| id.as_str())),
                optional(query.status.map(|status| status.as_str())),
                query.since.map_or(JsValue::NULL, number),
                query.until.map_or(JsValue::NULL, number),
                number(u64::from(query.limit) + 1),
                optional(query.transaction_id.as_deref()),
            ],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read logs", error))?;
        let has_more = rows.len() > query.limit as usize;
        rows.truncate(query.limit as usize);
        let items: Vec<LogEntry> = rows
            .into_iter()
            .map(|row| LogEntry {
                id: row.id,
                transaction_id: row.transaction_id,
                workflow: row.workflow,
                subscriber_id: row.subscriber_id,
                step: row.step,
                status: row.status,
                detail: serde_json::from_str(&row.detail).unwrap_or(Value::Null),
                created_at: rfc3339(row.created_at as u64),
            })
            .collect();
        let after = if has_more { items.last().map(|item| item.id.clone()) } else { None };
        Ok(LogList { items, page_info: SubscriberPageInfo { after, has_more } })
    }
}
