//! Webhook deliveries of one environment: stored pending with the trigger,
//! then claimed attempt by attempt, each attempt recorded with what
//! follows (delivered, retried at a time, dead) in one transaction, and
//! listed, inspected and replayed by operators.

use serde::Deserialize;
use serde_json::json;
use tidings_core::delivery::{
    AttemptClass, CheckedReplayFilter, DeliveryQuery, DeliveryStatus, ATTEMPT_LEASE_MS, BREAKER_MAX_HOLD_SECS,
    BREAKER_THRESHOLD, HANDOFF_GRACE_MS, SWEEP_LIMIT, SWEEP_REHAND_MS,
};
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::{Delivery, DeliveryAttempt, DeliveryDetail, DeliveryList, SubscriberPageInfo};
use wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use super::{environment_audit_statement, number, statement, storage_error, text, AuditRecord, Environment};
use crate::error::ApiError;

/// A delivery whose attempt this isolate has claimed.
#[derive(Deserialize)]
pub struct ClaimedDelivery {
    /// Its id.
    pub id: String,
    /// The trigger.
    pub transaction_id: String,
    /// The workflow.
    pub workflow: String,
    /// The recipient.
    pub subscriber_id: String,
    /// Where it goes.
    pub integration: String,
    /// The JSON body.
    pub body: String,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// Attempts made before this series (the last replay).
    pub series_start: u32,
}

impl ClaimedDelivery {
    /// Which attempt of its series this is (1 for the first).
    pub fn attempt_in_series(&self) -> u32 {
        self.attempts.saturating_sub(self.series_start)
    }
}

/// Where a delivery stands, for a hand-off to check against.
#[derive(Deserialize)]
pub struct DeliveryState {
    /// `pending`, `delivered`, `dead`, `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (ms).
    pub next_attempt_at: f64,
    /// Where it goes.
    pub integration: String,
    /// The recipient.
    pub subscriber_id: String,
}

/// The error of an attempt test mode stopped: the delivery ends (`dead`,
/// replayable once the recipient is listed) and is logged as suppressed.
pub const SUPPRESSED_BY_TEST_MODE: &str = "test_mode";

/// A pending delivery to hand off: its id and attempts made.
#[derive(Deserialize)]
pub struct DueDelivery {
    /// Its id.
    pub id: String,
    /// Attempts made.
    pub attempts: u32,
}

/// What one attempt gave, and what follows it.
pub struct AttemptRecord<'a> {
    /// When it started (ms).
    pub started_at: u64,
    /// How long the receiver took.
    pub latency_ms: u64,
    /// The HTTP status, when an answer came.
    pub status_code: Option<u16>,
    /// Why it failed, as a class.
    pub error: Option<&'a str>,
    /// How it ended.
    pub class: AttemptClass,
    /// When the next attempt is due (ms), or `None` when the delivery is over.
    pub retry_at: Option<u64>,
}

#[derive(Deserialize)]
struct DeliveryRow {
    id: String,
    transaction_id: String,
    workflow: String,
    subscriber_id: String,
    integration: String,
    status: String,
    attempts: u32,
    replays: u32,
    last_status: Option<f64>,
    last_error: Option<String>,
    next_attempt_at: f64,
    created_at: f64,
    updated_at: f64,
}

impl From<DeliveryRow> for Delivery {
    fn from(row: DeliveryRow) -> Self {
        let pending = row.status == DeliveryStatus::Pending.as_str();
        Self {
            id: row.id,
            transaction_id: row.transaction_id,
            workflow: row.workflow,
            subscriber_id: row.subscriber_id,
            integration: row.integration,
            status: row.status,
            attempts: row.attempts,
            replays: row.replays,
            last_status: row.last_status.map(|status| status as u16),
            last_error: row.last_error,
            next_attempt_at: pending.then(|| rfc3339(row.next_attempt_at as u64)),
            created_at: rfc3339(row.created_at as u64),
            updated_at: rfc3339(row.updated_at as u64),
        }
    }
}

#[derive(Deserialize)]
struct AttemptRow {
    attempt: u32,
    started_at: f64,
    status_code: Option<f64>,
    latency_ms: f64,
    outcome: String,
    error: Option<String>,
}

const DELIVERY_COLUMNS: &str = "id, transaction_id, workflow, subscriber_id, integration, status, attempts, replays, \
    last_status, last_error, next_attempt_at, created_at, updated_at";

impl Environment {
    /// Pending deliveries due longer ago than the grace: their hand-off was
    /// lost, or their attempt's lease ran out. Each is marked handed off, so
    /// while the queue catches up a later sweep does not hand it off again
    /// for [`SWEEP_REHAND_MS`].
    pub async fn overdue_deliveries(&self, now_ms: u64) -> Result<Vec<DueDelivery>, ApiError> {
        let mark = statement(
            &self.db,
            "UPDATE deliveries SET handed_off_at = ?1 WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' \
             AND next_attempt_at <= ?2 AND (handed_off_at IS NULL OR handed_off_at <= ?3) \
             ORDER BY next_attempt_at LIMIT ?4) RETURNING id, attempts",
            &[
                number(now_ms),
                number(now_ms.saturating_sub(HANDOFF_GRACE_MS)),
                number(now_ms.saturating_sub(SWEEP_REHAND_MS)),
                number(u64::from(SWEEP_LIMIT)),
            ],
        )?;
        mark.all().await.and_then(|result| result.results()).map_err(|error| storage_error("sweep deliveries", error))
    }

    /// Deletes finished deliveries (and their attempts) last changed longer
    /// ago than the log retention, at most 500 a time; pending ones stay.
    pub(super) fn delivery_retention_statements(&self, now_ms: u64) -> Result<Vec<D1PreparedStatement>, ApiError> {
        let cutoff = number(now_ms.saturating_sub(u64::from(self.log_retention_days()) * 86_400_000));
        let expired = "SELECT id FROM deliveries WHERE status IN ('delivered', 'dead', 'failed') AND updated_at < ?1 \
            ORDER BY updated_at, id LIMIT 500";
        Ok(vec![
            statement(
                &self.db,
                &format!("DELETE FROM delivery_attempts WHERE delivery_id IN ({expired})"),
                std::slice::from_ref(&cutoff),
            )?,
            statement(&self.db, &format!("DELETE FROM deliveries WHERE id IN ({expired})"), &[cutoff])?,
        ])
    }

    /// Where a delivery stands, if this environment has it.
    pub async fn delivery_state(&self, id: &str) -> Result<Option<DeliveryState>, ApiError> {
        statement(
            &self.db,
            "SELECT status, attempts, next_attempt_at, integration, subscriber_id FROM deliveries WHERE id = ?1",
            &[text(id)],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("read delivery", error))
    }

    /// An integration's consecutive failures and until when its breaker holds (ms).
    pub async fn integration_health(&self, integration: &str) -> Result<(u32, u64), ApiError> {
        #[derive(Deserialize)]
        struct Health {
            consecutive_failures: u32,
            open_until: f64,
        }
        let health: Option<Health> = statement(
            &self.db,
            "SELECT consecutive_failures, open_until FROM integration_health WHERE integration = ?1",
            &[text(integration)],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("read integration health", error))?;
        Ok(health.map_or((0, 0), |health| (health.consecutive_failures, health.open_until as u64)))
    }

    /// Claims the attempt after `attempts` of a delivery that is pending and
    /// due at `now_ms`: counts it and leases it. `None` when another hand-off
    /// claimed it first, or it is no longer pending. Not retried: a claim
    /// whose answer was lost is a lost attempt, which the sweep re-hands.
    pub async fn claim_attempt(
        &self,
        id: &str,
        attempts: u32,
        now_ms: u64,
    ) -> Result<Option<ClaimedDelivery>, ApiError> {
        statement(
            &self.db,
            "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?3 + ?4, handed_off_at = NULL, updated_at = ?3 \
             WHERE id = ?1 AND status = 'pending' AND attempts = ?2 AND next_attempt_at <= ?3 + 2000 \
             RETURNING id, transaction_id, workflow, subscriber_id, integration, body, attempts, series_start",
            &[text(id), number(u64::from(attempts)), number(now_ms), number(ATTEMPT_LEASE_MS)],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("claim delivery", error))
    }

    /// Moves a pending delivery's next attempt to `until` without making
    /// one (its integration's breaker is open).
    pub async fn hold_delivery(&self, id: &str, attempts: u32, until: u64, now_ms: u64) -> Result<(), ApiError> {
        let hold = statement(
            &self.db,
            "UPDATE deliveries SET next_attempt_at = ?3, updated_at = ?4 WHERE id = ?1 AND status = 'pending' AND attempts = ?2",
            &[text(id), number(u64::from(attempts)), number(until), number(now_ms)],
        )?;
        self.write_one("hold delivery", hold).await.map(|_| ())
    }

    /// Records an attempt, what follows it, the integration's health, and
    /// (when the delivery is over) its log entry, in one transaction, and
    /// only while the claim holds (still pending with this attempt's count:
    /// an attempt that outlived its lease, whose delivery was handed off
    /// and attempted again, records nothing).
    pub async fn record_attempt(
        &self,
        delivery: &ClaimedDelivery,
        record: &AttemptRecord<'_>,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let (status, outcome) = match (record.class, record.retry_at) {
            (AttemptClass::Delivered, _) => ("delivered", "delivered"),
            (AttemptClass::Retryable, Some(_)) => ("pending", "retryable"),
            (AttemptClass::Retryable, None) => ("dead", "retryable"),
            (AttemptClass::Final, _) => ("dead", "final"),
        };
        let optional_number = |value: Option<u64>| value.map_or(JsValue::NULL, number);
        let status_code = optional_number(record.status_code.map(u64::from));
        let error = record.error.map_or(JsValue::NULL, text);
        // Every statement but the last runs only while the claim holds; the last ends it.
        let claim = "EXISTS (SELECT 1 FROM deliveries WHERE id = ?1 AND attempts = ?2 AND status = 'pending')";
        let mut writes = vec![statement(
            &self.db,
            &format!(
                "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, status_code, latency_ms, outcome, error) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE {claim} ON CONFLICT (delivery_id, attempt) DO NOTHING"
            ),
            &[
                text(&delivery.id),
                number(u64::from(delivery.attempts)),
                number(record.started_at),
                status_code.clone(),
                number(record.latency_ms),
                text(outcome),
                error.clone(),
            ],
        )?];
        if let Some(health) = self.health_statement(delivery, record, claim, now_ms)? {
            writes.push(health);
        }
        if status != "pending" {
            // Test mode kept it from its recipient: logged as suppressed, as at the trigger.
            let suppressed = record.error == Some(SUPPRESSED_BY_TEST_MODE);
            let detail = if suppressed {
                json!({"reason": "test_mode", "integration": delivery.integration, "redirected_to": null})
            } else {
                json!({
                    "integration": delivery.integration,
                    "attempts": delivery.attempts,
                    "status_code": record.status_code,
                    "error": record.error,
                    "delivery_status": status,
                })
            };
            let log_status = match status {
                "delivered" => "delivered",
                _ if suppressed => "suppressed",
                _ => "failed",
            };
            writes.push(statement(
                &self.db,
                &format!(
                    "INSERT INTO logs (id, transaction_id, workflow, subscriber_id, step, status, detail, created_at) \
                     SELECT ?1, ?3, ?4, ?5, 'webhook', ?6, ?7, ?8 WHERE {claim} ON CONFLICT (id) DO UPDATE SET \
                     status = excluded.status, detail = excluded.detail, created_at = excluded.created_at"
                ),
                &[
                    text(&delivery.id),
                    number(u64::from(delivery.attempts)),
                    text(&delivery.transaction_id),
                    text(&delivery.workflow),
                    text(&delivery.subscriber_id),
                    text(log_status),
                    text(&detail.to_string()),
                    number(now_ms),
                ],
            )?);
        }
        writes.push(statement(
            &self.db,
            "UPDATE deliveries SET status = ?3, last_status = ?4, last_error = ?5, next_attempt_at = ?6, updated_at = ?7 \
             WHERE id = ?1 AND attempts = ?2 AND status = 'pending'",
            &[
                text(&delivery.id),
                number(u64::from(delivery.attempts)),
                text(status),
                status_code,
                error,
                number(record.retry_at.unwrap_or(now_ms)),
                number(now_ms),
            ],
        )?);
        self.write_batch("record delivery attempt", writes).await.map(|_| ())
    }

    /// The integration's health after an attempt, while the claim holds:
    /// reset by a success, counted up by a failure worth retrying (no
    /// answer, 408, 429, 5xx), its breaker opened at the threshold. A final
    /// refusal (a 4xx about one payload, a missing integration) says nothing
    /// about the receiver's health and changes nothing.
    fn health_statement(
        &self,
        delivery: &ClaimedDelivery,
        record: &AttemptRecord<'_>,
        claim: &str,
        now_ms: u64,
    ) -> Result<Option<D1PreparedStatement>, ApiError> {
        let (id, attempts, integration) =
            (text(&delivery.id), number(u64::from(delivery.attempts)), text(&delivery.integration));
        match record.class {
            AttemptClass::Final => Ok(None),
            AttemptClass::Delivered => statement(
                &self.db,
                &format!(
                    "INSERT INTO integration_health (integration, consecutive_failures, open_until, last_success_at, \
                     updated_at) SELECT ?3, 0, 0, ?4, ?4 WHERE {claim} ON CONFLICT (integration) DO UPDATE SET \
                     consecutive_failures = 0, open_until = 0, last_success_at = ?4, updated_at = ?4"
                ),
                &[id, attempts, integration, number(now_ms)],
            )
            .map(Some),
            AttemptClass::Retryable => statement(
                &self.db,
                // The hold follows the stored count (concurrent attempts each
                // add theirs): `breaker_hold_secs` of the new count, in SQL.
                &format!(
                    "INSERT INTO integration_health (integration, consecutive_failures, open_until, last_failure_at, \
                     updated_at) SELECT ?3, 1, 0, ?4, ?4 WHERE {claim} ON CONFLICT (integration) DO UPDATE SET \
                     consecutive_failures = consecutive_failures + 1, open_until = CASE \
                     WHEN consecutive_failures + 1 >= ?5 THEN max(open_until, ?4 + 1000 * min(?6, \
                     30 * (1 << min(consecutive_failures + 1 - ?5, 16)))) ELSE open_until END, \
                     last_failure_at = ?4, updated_at = ?4"
                ),
                &[
                    id,
                    attempts,
                    integration,
                    number(now_ms),
                    number(u64::from(BREAKER_THRESHOLD)),
                    number(u64::from(BREAKER_MAX_HOLD_SECS)),
                ],
            )
            .map(Some),
        }
    }

    /// A page of deliveries, newest first.
    pub async fn deliveries(&self, query: &DeliveryQuery) -> Result<DeliveryList, ApiError> {
        let optional = |value: Option<&str>| value.map_or(JsValue::NULL, text);
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR status = ?2) \
             AND (?3 IS NULL OR integration = ?3) AND (?4 IS NULL OR workflow = ?4) AND (?5 IS NULL OR created_at >= ?5) \
             ORDER BY id DESC LIMIT ?6"
        );
        let mut rows: Vec<DeliveryRow> = statement(
            &self.db,
            &sql,
            &[
                optional(query.after.as_deref()),
                optional(query.status.map(DeliveryStatus::as_str)),
                optional(query.integration.as_deref()),
                optional(query.workflow.as_deref()),
                query.since.map_or(JsValue::NULL, number),
                number(u64::from(query.limit) + 1),
            ],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read deliveries", error))?;
        let has_more = rows.len() > query.limit as usize;
        rows.truncate(query.limit as usize);
        let items: Vec<Delivery> = rows.into_iter().map(Delivery::from).collect();
        let after = if has_more { items.last().map(|item| item.id.clone()) } else { None };
        Ok(DeliveryList { items, page_info: SubscriberPageInfo { after, has_more } })
    }

    /// One delivery with every attempt.
    pub async fn delivery(&self, id: &str) -> Result<Option<DeliveryDetail>, ApiError> {
        let row: Option<DeliveryRow> =
            statement(&self.db, &format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1"), &[text(id)])?
                .first(None)
                .await
                .map_err(|error| storage_error("read delivery", error))?;
        let Some(row) = row else { return Ok(None) };
        let attempts: Vec<AttemptRow> = statement(
            &self.db,
            "SELECT attempt, started_at, status_code, latency_ms, outcome, error FROM delivery_attempts \
             WHERE delivery_id = ?1 ORDER BY attempt",
            &[text(id)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read delivery attempts", error))?;
        let history = attempts
            .into_iter()
            .map(|attempt| DeliveryAttempt {
                attempt: attempt.attempt,
                at: rfc3339(attempt.started_at as u64),
                status_code: attempt.status_code.map(|status| status as u16),
                latency_ms: attempt.latency_ms as u64,
                outcome: attempt.outcome,
                error: attempt.error,
            })
            .collect();
        Ok(Some(DeliveryDetail { delivery: row.into(), history }))
    }

    /// Puts dead deliveries back on the schedule: the one named by `id`, or
    /// those `filter` selects. A new series starts at the next attempt.
    /// Pending and delivered ones are left alone, so a replay repeated
    /// changes nothing. With `audit` (a member's replay), the entry is
    /// written in the same transaction when anything was replayed. Answers
    /// the replayed deliveries and their attempts.
    pub async fn replay_deliveries(
        &self,
        id: Option<&str>,
        filter: Option<&CheckedReplayFilter>,
        audit: Option<&AuditRecord<'_>>,
        now_ms: u64,
    ) -> Result<Vec<DueDelivery>, ApiError> {
        let optional = |value: Option<&str>| value.map_or(JsValue::NULL, text);
        let mut writes = vec![statement(
            &self.db,
            "UPDATE deliveries SET status = 'pending', series_start = attempts, replays = replays + 1, \
             next_attempt_at = ?6, handed_off_at = NULL, updated_at = ?6 WHERE id IN (SELECT id FROM deliveries \
             WHERE status IN ('dead', 'failed') AND (?1 IS NULL OR id = ?1) AND (?2 IS NULL OR integration = ?2) \
             AND (?3 IS NULL OR workflow = ?3) AND (?4 IS NULL OR created_at >= ?4) ORDER BY id LIMIT ?5) \
             RETURNING id, attempts",
            &[
                optional(id),
                optional(filter.and_then(|filter| filter.integration.as_deref())),
                optional(filter.and_then(|filter| filter.workflow.as_deref())),
                filter.and_then(|filter| filter.since).map_or(JsValue::NULL, number),
                number(filter.map_or(1, |filter| u64::from(filter.limit))),
                number(now_ms),
            ],
        )?];
        if let Some(audit) = audit {
            writes.push(environment_audit_statement(&self.db, audit, now_ms, "?5", "changes() > 0", &[])?);
        }
        let results = self.write_batch("replay deliveries", writes).await?;
        let replayed: Vec<DueDelivery> = results
            .into_iter()
            .next()
            .map(|result| result.results())
            .transpose()
            .map_err(|error| storage_error("replay deliveries", error))?
            .unwrap_or_default();
        Ok(replayed)
    }
}
