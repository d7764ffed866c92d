//! Webhook deliveries of one environment: stored pending with the trigger,
//! then updated with each outcome and logged.

use serde::Deserialize;
use serde_json::json;

use super::{number, statement, storage_error, text, Environment};
use crate::error::ApiError;

/// A delivery waiting to be sent.
#[derive(Deserialize)]
pub struct PendingDelivery {
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
}

/// How a delivery ended.
pub struct DeliveryOutcome<'a> {
    /// Whether the endpoint accepted it.
    pub delivered: bool,
    /// Attempts made.
    pub attempts: u32,
    /// The last HTTP status, if any response came.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<&'a str>,
}

impl Environment {
    /// The pending deliveries of a trigger.
    pub async fn pending_deliveries(&self, transaction_id: &str) -> Result<Vec<PendingDelivery>, ApiError> {
        statement(
            &self.db,
            "SELECT id, transaction_id, workflow, subscriber_id, integration, body FROM deliveries \
             WHERE transaction_id = ?1 AND status = 'pending' ORDER BY id",
            &[text(transaction_id)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read deliveries", error))
    }

    /// Records how a delivery ended, and logs it, in one transaction.
    pub async fn finish_delivery(
        &self,
        delivery: &PendingDelivery,
        outcome: &DeliveryOutcome<'_>,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let status = if outcome.delivered { "delivered" } else { "failed" };
        let detail = json!({
            "integration": delivery.integration,
            "attempts": outcome.attempts,
            "status_code": outcome.status,
            "error": outcome.error,
        });
        let status_code = outcome.status.map_or(wasm_bindgen::JsValue::NULL, |code| number(u64::from(code)));
        self.db
            .batch(vec![
                statement(
                    &self.db,
                    "UPDATE deliveries SET status = ?2, attempts = ?3, last_status = ?4, last_error = ?5, updated_at = ?6 \
                     WHERE id = ?1",
                    &[
                        text(&delivery.id),
                        text(status),
                        number(u64::from(outcome.attempts)),
                        status_code,
                        outcome.error.map_or(wasm_bindgen::JsValue::NULL, text),
                        number(now_ms),
                    ],
                )?,
                statement(
                    &self.db,
                    "INSERT INTO logs (id, transaction_id, workflow, subscriber_id, step, status, detail, created_at) \
                     VALUES (?1, ?2, ?3, ?4, 'webhook', ?5, ?6, ?7)",
                    &[
                        text(&delivery.id),
                        text(&delivery.transaction_id),
                        text(&delivery.workflow),
                        text(&delivery.subscriber_id),
                        text(status),
                        text(&detail.to_string()),
                        number(now_ms),
                    ],
                )?,
            ])
            .await
            .map_err(|error| storage_error("record delivery", error))?;
        Ok(())
    }
}
