//! Fan-outs: triggers to topics, recorded when accepted and written page by
//! page (see [`tidings_core::topic`]). A page commits in the trigger's own
//! kind of transaction ([`Environment::deliver`]) opened by a guard that
//! aborts it unless the fan-out's cursor is where the page began, and closed
//! by the cursor moving past it.

use serde::Deserialize;
use serde_json::{json, Value};
use tidings_core::logs::{fanout_log_id, LogStatus};
use tidings_core::profile::Profile;
use tidings_core::subscriber::SubscriberId;
use tidings_core::timestamp::rfc3339;
use tidings_core::topic::{FanoutStatus, TopicKey};
use tidings_core::wire::{ErrorCode, ErrorDetail, Transaction, TransactionProgress};
use worker::{D1Database, D1PreparedStatement};

use super::triggers::{claim_guard, KeyedAnswer};
use super::{number, statement, storage_error, text, AuditRecord, Environment};
use crate::error::ApiError;

/// What D1 says when [`page_guard`] aborts a page: another delivery of the
/// queue message wrote it first.
pub(super) const PAGE_MOVED: &str = "fanouts.workflow";

/// The answer to a page another consumer wrote first.
pub(super) fn page_moved() -> ApiError {
    ApiError::new(409, ErrorCode::RequestInProgress, "this fan-out page was written by another consumer")
}

/// A trigger to topics, as accepted: stored with its idempotency answer and
/// the profiles it carried, all or nothing.
pub struct NewFanout<'a> {
    /// The trigger's transaction id.
    pub transaction_id: &'a str,
    /// The workflow key.
    pub workflow: &'a str,
    /// The workflow's version every page renders.
    pub workflow_version: u32,
    /// When that workflow was created, as the trigger read it.
    pub workflow_created_at: Option<u64>,
    /// The payload object.
    pub payload: &'a Value,
    /// The actor object, if any.
    pub actor: Option<&'a Value>,
    /// Subscribers named directly (created empty when unknown).
    pub recipients: &'a [SubscriberId],
    /// Profiles given as recipient objects.
    pub profiles: &'a [(SubscriberId, Profile)],
    /// The topics.
    pub topics: &'a [TopicKey],
    /// The claimed idempotency key and the answer to remember with it.
    pub idempotency: Option<KeyedAnswer<'a>>,
    /// The audit entry of a member's test send.
    pub audit: Option<&'a AuditRecord<'a>>,
}

/// One page being written: the guard and the cursor's move, added to the
/// page's [`super::Delivery`].
pub struct PageStep<'a> {
    /// The fan-out's transaction id.
    pub transaction_id: &'a str,
    /// The cursor the page began at.
    pub from: &'a str,
    /// The page's last recipient: the cursor after it.
    pub to: &'a str,
    /// Recipients in the page.
    pub count: usize,
    /// The workflow's version the fan-out renders.
    pub workflow_version: u32,
    /// When the workflow it renders was created, if the fan-out recorded it:
    /// a workflow deleted and made again under its key is not that workflow.
    pub workflow_created_at: Option<u64>,
    /// This attempt's own id, recorded with the cursor's move.
    pub writer: &'a str,
}

/// One page of a fan-out's recipients.
pub struct FanoutPage {
    /// The last id read: the cursor once the page is written.
    pub last: String,
    /// The recipients that still exist.
    pub recipients: Vec<SubscriberId>,
}

/// A fan-out as stored.
#[derive(Deserialize)]
pub struct FanoutRow {
    /// The trigger's transaction id.
    pub transaction_id: String,
    /// The workflow key.
    pub workflow: String,
    workflow_version: f64,
    /// The payload (JSON text).
    pub payload: String,
    /// The actor (JSON text), if any.
    pub actor: Option<String>,
    recipients: String,
    topics: String,
    /// Each topic's `created_at` when the trigger was accepted (JSON object; none before migration 0028).
    topic_stamps: Option<String>,
    workflow_created_at: Option<f64>,
    status: String,
    /// The last recipient written ('' before the first page).
    pub cursor: String,
    /// The attempt that wrote the last page.
    pub writer: Option<String>,
    done: f64,
    total: f64,
    error: Option<String>,
    created_at: f64,
    completed_at: Option<f64>,
}

impl FanoutRow {
    /// Where it stands (an unknown stored status reads as failed).
    pub fn status(&self) -> FanoutStatus {
        FanoutStatus::parse(&self.status).unwrap_or(FanoutStatus::Failed)
    }

    /// The workflow's version every page renders.
    pub fn workflow_version(&self) -> u32 {
        self.workflow_version as u32
    }

    /// The topics' keys.
    pub fn topics(&self) -> Vec<String> {
        serde_json::from_str(&self.topics).unwrap_or_default()
    }

    /// When the workflow every page renders was created, if recorded.
    pub fn workflow_created_at(&self) -> Option<u64> {
        self.workflow_created_at.map(|at| at as u64)
    }

    /// The topics whose members the pages read, each with the `created_at`
    /// it had when the trigger was accepted (`None`: not recorded, any). A
    /// topic that was gone by then is left out: it has no members to read.
    fn topics_read(&self) -> Vec<(String, Option<f64>)> {
        let topics = self.topics();
        // Not recorded (before migration 0028), or unreadable: every topic's members, as before.
        let stamps = self
            .topic_stamps
            .as_deref()
            .and_then(|stamps| serde_json::from_str::<serde_json::Map<String, Value>>(stamps).ok());
        let Some(stamps) = stamps else { return topics.into_iter().map(|topic| (topic, None)).collect() };
        topics
            .into_iter()
            .filter_map(|topic| stamps.get(&topic).and_then(Value::as_f64).map(|stamp| (topic, Some(stamp))))
            .collect()
    }

    fn into_transaction(self) -> Transaction {
        let topics = self.topics();
        Transaction {
            status: self.status().as_str().to_owned(),
            transaction_id: self.transaction_id,
            workflow: self.workflow,
            topics,
            recipients: TransactionProgress { done: self.done as u64, total: self.total as u64 },
            error: self.error.and_then(|error| serde_json::from_str(&error).ok()),
            created_at: rfc3339(self.created_at as u64),
            completed_at: self.completed_at.map(|at| rfc3339(at as u64)),
        }
    }
}

const FANOUT_COLUMNS: &str =
    "transaction_id, workflow, workflow_version, payload, actor, recipients, topics, status, cursor, done, \
    total, error, created_at, completed_at, writer, workflow_created_at, topic_stamps";

/// The first statement of a page's transaction: it fails (a NOT NULL
/// violation, [`PAGE_MOVED`]) and so rolls the page back unless the
/// fan-out is running with its cursor at `from`.
pub(super) fn page_guard(db: &D1Database, page: &PageStep<'_>) -> Result<D1PreparedStatement, ApiError> {
    statement(
        db,
        "UPDATE fanouts SET workflow = NULL WHERE transaction_id = ?1 AND (cursor != ?2 OR status != 'running')",
        &[text(page.transaction_id), text(page.from)],
    )
}

/// The last statement of a page's transaction: the cursor moves past it.
pub(super) fn page_advance(db: &D1Database, page: &PageStep<'_>, now_ms: u64) -> Result<D1PreparedStatement, ApiError> {
    statement(
        db,
        "UPDATE fanouts SET cursor = ?2, done = done + ?3, failures = 0, writer = ?5, updated_at = ?4 \
         WHERE transaction_id = ?1",
        &[text(page.transaction_id), text(page.to), number(page.count as u64), number(now_ms), text(page.writer)],
    )
}

impl Environment {
    /// Records an accepted trigger to topics: the fan-out with its total
    /// (direct recipients and each topic's member count now: someone named
    /// twice counts twice until the fan-out completes), the direct recipients' profiles and
    /// subscribers, a `fanout`/`queued` log entry and the idempotency
    /// answer, in one transaction.
    pub async fn record_fanout(&self, fanout: NewFanout<'_>, now_ms: u64) -> Result<(), ApiError> {
        let mut writes = Vec::new();
        if let Some(keyed) = &fanout.idempotency {
            writes.push(claim_guard(&self.db, keyed.key, keyed.claim_id)?);
        }
        if !fanout.profiles.is_empty() {
            writes.push(self.upsert_statement(fanout.profiles, now_ms, now_ms)?);
        }
        let recipients: Vec<&str> = fanout.recipients.iter().map(SubscriberId::as_str).collect();
        let recipients = json!(recipients).to_string();
        let topics: Vec<&str> = fanout.topics.iter().map(TopicKey::as_str).collect();
        let topics = json!(topics).to_string();
        if !fanout.recipients.is_empty() {
            writes.push(statement(
                &self.db,
                "INSERT INTO subscribers (id, created_at, updated_at) SELECT value, ?2, ?2 FROM json_each(?1) WHERE true \
                 ON CONFLICT (id) DO NOTHING",
                &[text(&recipients), number(now_ms)],
            )?);
        }
        writes.push(statement(
            &self.db,
            "WITH named AS (SELECT key, members, created_at FROM topics WHERE key IN (SELECT value FROM json_each(?6))) \
             INSERT INTO fanouts (transaction_id, workflow, payload, actor, recipients, topics, status, total, \
             created_at, updated_at, workflow_version, workflow_created_at, topic_stamps) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'running', \
             json_array_length(?5) + (SELECT COALESCE(SUM(members), 0) FROM named), ?7, ?7, ?8, ?9, \
             (SELECT json_group_object(key, created_at) FROM named) WHERE true ON CONFLICT (transaction_id) DO NOTHING",
            &[
                text(fanout.transaction_id),
                text(fanout.workflow),
                text(&fanout.payload.to_string()),
                fanout.actor.map_or(wasm_bindgen::JsValue::NULL, |actor| text(&actor.to_string())),
                text(&recipients),
                text(&topics),
                number(now_ms),
                number(u64::from(fanout.workflow_version)),
                fanout.workflow_created_at.map_or(wasm_bindgen::JsValue::NULL, number),
            ],
        )?);
        writes.push(self.fanout_log_statement(fanout.transaction_id, LogStatus::Queued, now_ms, "true")?);
        writes.push(self.log_retention_statement(now_ms)?);
        writes.push(self.fanout_retention_statement(now_ms)?);
        writes.extend(self.closing_statements(fanout.idempotency.as_ref(), fanout.audit, now_ms)?);
        self.write_batch("record fan-out", writes).await?;
        Ok(())
    }

    /// Deletes up to 50 finished fan-outs (their payloads included) that
    /// ended longer ago than the log retention: they are kept as long as the logs.
    pub(super) fn fanout_retention_statement(&self, now_ms: u64) -> Result<D1PreparedStatement, ApiError> {
        let cutoff = now_ms.saturating_sub(u64::from(self.log_retention_days()) * 86_400_000);
        statement(
            &self.db,
            "DELETE FROM fanouts WHERE transaction_id IN (SELECT transaction_id FROM fanouts \
             WHERE status != 'running' AND completed_at < ?1 ORDER BY completed_at LIMIT 50)",
            &[number(cutoff)],
        )
    }

    /// A `fanout` log entry for a transaction in `status`, with its progress
    /// as the fan-out row has it, written only if `guard` holds.
    fn fanout_log_statement(
        &self,
        transaction_id: &str,
        status: LogStatus,
        now_ms: u64,
        guard: &str,
    ) -> Result<D1PreparedStatement, ApiError> {
        let id = fanout_log_id(transaction_id, status);
        statement(
            &self.db,
            &format!(
                "INSERT INTO logs (id, transaction_id, workflow, subscriber_id, step, status, detail, created_at) \
                 SELECT ?1, transaction_id, workflow, NULL, 'fanout', ?3, json_object('topics', json(topics), \
                 'done', done, 'total', total, 'error', json(error)), ?4 FROM fanouts WHERE transaction_id = ?2 AND {guard} \
                 ON CONFLICT (id) DO NOTHING"
            ),
            &[text(&id), text(transaction_id), text(status.as_str()), number(now_ms)],
        )
    }

    /// The fan-out of `transaction_id`, if the trigger was one.
    pub async fn fanout(&self, transaction_id: &str) -> Result<Option<FanoutRow>, ApiError> {
        statement(
            &self.db,
            &format!("SELECT {FANOUT_COLUMNS} FROM fanouts WHERE transaction_id = ?1"),
            &[text(transaction_id)],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("read fan-out", error))
    }

    /// The next page of a fan-out's recipients: the distinct ids after its
    /// cursor among its direct recipients and its topics' members, in order,
    /// `None` when none is left. Ids of subscribers deleted since are passed
    /// over (the cursor still moves past them), never re-created.
    pub async fn fanout_page(&self, fanout: &FanoutRow, size: usize) -> Result<Option<FanoutPage>, ApiError> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
            live: f64,
        }
        let mut sql = String::from(
            "SELECT id, EXISTS (SELECT 1 FROM subscribers s WHERE s.id = u.id) AS live FROM \
             (SELECT value AS id FROM json_each(?1) WHERE value > ?2",
        );
        let mut arguments = vec![text(&fanout.recipients), text(&fanout.cursor), number(size as u64)];
        for (topic, stamp) in fanout.topics_read() {
            arguments.push(text(&topic));
            let key = arguments.len();
            // The topic as it was when the trigger was accepted, not one made again under its key.
            let same_topic = match stamp {
                Some(stamp) => {
                    arguments.push(wasm_bindgen::JsValue::from_f64(stamp));
                    format!(" AND EXISTS (SELECT 1 FROM topics t WHERE t.key = ?{key} AND t.created_at = ?{})", key + 1)
                }
                None => String::new(),
            };
            sql.push_str(&format!(
                " UNION SELECT id FROM (SELECT subscriber_id AS id FROM topic_subscribers WHERE topic = ?{key} \
                 AND subscriber_id > ?2{same_topic} ORDER BY subscriber_id LIMIT ?3)"
            ));
        }
        sql.push_str(") u ORDER BY id LIMIT ?3");
        let rows: Vec<Id> = statement(&self.db, &sql, &arguments)?
            .all()
            .await
            .and_then(|result| result.results())
            .map_err(|error| storage_error("read fan-out page", error))?;
        let Some(last) = rows.last().map(|row| row.id.clone()) else { return Ok(None) };
        let recipients = rows
            .into_iter()
            .filter(|row| row.live != 0.0)
            .filter_map(|row| SubscriberId::parse(&row.id).ok())
            .collect();
        Ok(Some(FanoutPage { last, recipients }))
    }

    /// Marks a running fan-out whose cursor is at `cursor` completed (its
    /// total becomes what it reached), with its log entry.
    pub async fn complete_fanout(&self, transaction_id: &str, cursor: &str, now_ms: u64) -> Result<(), ApiError> {
        let finish = statement(
            &self.db,
            "UPDATE fanouts SET status = 'completed', total = done, completed_at = ?3, updated_at = ?3 \
             WHERE transaction_id = ?1 AND status = 'running' AND cursor = ?2",
            &[text(transaction_id), text(cursor), number(now_ms)],
        )?;
        let log = self.fanout_log_statement(transaction_id, LogStatus::Completed, now_ms, "changes() > 0")?;
        self.write_batch("complete fan-out", vec![finish, log]).await?;
        Ok(())
    }

    /// Marks a running fan-out failed with `error`, with its log entry.
    pub async fn fail_fanout(&self, transaction_id: &str, error: &ApiError, now_ms: u64) -> Result<(), ApiError> {
        let detail =
            ErrorDetail { code: error.code(), message: error.message().to_owned(), field: None, details: None };
        let finish = statement(
            &self.db,
            "UPDATE fanouts SET status = 'failed', error = ?2, completed_at = ?3, updated_at = ?3 \
             WHERE transaction_id = ?1 AND status = 'running'",
            &[text(transaction_id), text(&json!(detail).to_string()), number(now_ms)],
        )?;
        let log = self.fanout_log_statement(transaction_id, LogStatus::Failed, now_ms, "changes() > 0")?;
        self.write_batch("fail fan-out", vec![finish, log]).await?;
        Ok(())
    }

    /// Counts a failed attempt at a running fan-out's next page; answers
    /// how many attempts at that page have failed.
    pub async fn note_fanout_failure(&self, transaction_id: &str, now_ms: u64) -> Result<u64, ApiError> {
        #[derive(Deserialize)]
        struct Failures {
            failures: f64,
        }
        let noted: Option<Failures> = statement(
            &self.db,
            "UPDATE fanouts SET failures = failures + 1, updated_at = ?2 WHERE transaction_id = ?1 \
             AND status = 'running' RETURNING failures",
            &[text(transaction_id), number(now_ms)],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("count fan-out failure", error))?;
        Ok(noted.map_or(0, |noted| noted.failures as u64))
    }

    /// Running fan-outs that have not moved since `idle_since`, for the
    /// sweep to hand off again.
    pub async fn stalled_fanouts(&self, idle_since: u64) -> Result<Vec<String>, ApiError> {
        #[derive(Deserialize)]
        struct Id {
            transaction_id: String,
        }
        let rows: Vec<Id> = statement(
            &self.db,
            "SELECT transaction_id FROM fanouts WHERE status = 'running' AND updated_at < ?1 ORDER BY updated_at LIMIT 50",
            &[number(idle_since)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("list stalled fan-outs", error))?;
        Ok(rows.into_iter().map(|row| row.transaction_id).collect())
    }

    /// Notes that a fan-out was handed off again, so the sweep waits before the next time.
    pub async fn touch_fanout(&self, transaction_id: &str, now_ms: u64) -> Result<(), ApiError> {
        let touch = statement(
            &self.db,
            "UPDATE fanouts SET updated_at = ?2 WHERE transaction_id = ?1 AND status = 'running'",
            &[text(transaction_id), number(now_ms)],
        )?;
        self.write_one("touch fan-out", touch).await?;
        Ok(())
    }

    /// Where a trigger stands: a fan-out's row, or for a trigger to
    /// subscribers only, what its log entries say. `None` when neither
    /// knows it (unknown, another environment's, or past log retention).
    pub async fn transaction(&self, transaction_id: &str) -> Result<Option<Transaction>, ApiError> {
        #[derive(Deserialize)]
        struct Summary {
            workflow: Option<String>,
            recipients: f64,
            created_at: Option<f64>,
            failure: Option<String>,
        }
        if let Some(fanout) = self.fanout(transaction_id).await? {
            return Ok(Some(fanout.into_transaction()));
        }
        let summary: Option<Summary> = statement(
            &self.db,
            "SELECT MIN(workflow) AS workflow, COUNT(DISTINCT subscriber_id) AS recipients, MIN(created_at) AS created_at, \
             MAX(CASE WHEN step = 'trigger' AND status = 'failed' THEN detail END) AS failure \
             FROM logs WHERE transaction_id = ?1",
            &[text(transaction_id)],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("read transaction", error))?;
        let Some(summary) = summary else { return Ok(None) };
        let (Some(workflow), Some(created_at)) = (summary.workflow, summary.created_at) else { return Ok(None) };
        let error: Option<ErrorDetail> = summary.failure.and_then(|failure| serde_json::from_str(&failure).ok());
        let reached = summary.recipients as u64;
        let at = rfc3339(created_at as u64);
        Ok(Some(Transaction {
            transaction_id: transaction_id.to_owned(),
            workflow,
            status: if error.is_some() { FanoutStatus::Failed } else { FanoutStatus::Completed }.as_str().to_owned(),
            topics: Vec::new(),
            recipients: TransactionProgress { done: reached, total: reached },
            error,
            created_at: at.clone(),
            completed_at: Some(at),
        }))
    }
}
