//! Integrations of one environment. Secrets are sealed before they are
//! stored and never leave the worker.

use serde::Deserialize;
use serde_json::json;
use tidings_core::delivery::BREAKER_THRESHOLD;
use tidings_core::sealed;
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::{Integration, IntegrationHealth};
use wasm_bindgen::JsValue;

use super::lock::Unlocked;
use super::{number, statement, storage_error, text, Environment};
use crate::error::ApiError;

#[derive(Deserialize)]
struct IntegrationRow {
    id: String,
    kind: String,
    name: String,
    url: String,
    secret: Option<String>,
    created_at: f64,
    updated_at: f64,
    consecutive_failures: Option<f64>,
    open_until: Option<f64>,
}

/// Where and how to deliver to an integration.
pub struct WebhookTarget {
    /// The endpoint.
    pub url: String,
    /// The opened signing secret.
    pub signing_secret: Option<String>,
}

/// A validated integration to store.
pub struct IntegrationRecord<'a> {
    /// Its id.
    pub id: &'a str,
    /// `webhook`.
    pub kind: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Endpoint.
    pub url: &'a str,
    /// The sealed secret; `None` keeps the stored one.
    pub sealed_secret: Option<String>,
}

const COLUMNS: &str = "id, kind, name, url, secret, created_at, updated_at, \
    (SELECT consecutive_failures FROM integration_health WHERE integration = integrations.id) AS consecutive_failures, \
    (SELECT open_until FROM integration_health WHERE integration = integrations.id) AS open_until";

impl Environment {
    /// Creates or replaces an integration; true when it is new. Without a
    /// new secret the stored one is kept only while the URL is the same: it
    /// was given for that receiver.
    pub async fn save_integration(
        &self,
        unlocked: &Unlocked,
        record: IntegrationRecord<'_>,
        now_ms: u64,
    ) -> Result<bool, ApiError> {
        unlocked.check(self.name())?;
        let existed = self.integration(record.id).await?.is_some();
        statement(
            &self.db,
            "INSERT INTO integrations (id, kind, name, url, secret, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, url = excluded.url, \
             secret = CASE WHEN excluded.secret IS NOT NULL THEN excluded.secret \
             WHEN integrations.url = excluded.url THEN integrations.secret END, updated_at = excluded.updated_at",
            &[
                text(record.id),
                text(record.kind),
                text(record.name),
                text(record.url),
                record.sealed_secret.as_deref().map_or(JsValue::NULL, text),
                number(now_ms),
            ],
        )?
        .run()
        .await
        .map_err(|error| storage_error("save integration", error))?;
        Ok(!existed)
    }

    /// Sets a new secret for an integration whose kind, name and URL are
    /// still `record`'s; false, writing nothing, when it is not there as
    /// such (a promotion changed or removed it since it was read).
    pub async fn set_integration_secret(
        &self,
        unlocked: &Unlocked,
        record: IntegrationRecord<'_>,
        now_ms: u64,
    ) -> Result<bool, ApiError> {
        unlocked.check(self.name())?;
        let Some(secret) = record.sealed_secret.as_deref() else {
            return Err(ApiError::internal("set integration secret", "no secret given"));
        };
        let result = self
            .write_one(
                "integration-secret",
                statement(
                    &self.db,
                    "UPDATE integrations SET secret = ?5, updated_at = ?6 \
                     WHERE id = ?1 AND kind = ?2 AND name = ?3 AND url = ?4",
                    &[
                        text(record.id),
                        text(record.kind),
                        text(record.name),
                        text(record.url),
                        text(secret),
                        number(now_ms),
                    ],
                )?,
            )
            .await?;
        Ok(result.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) > 0)
    }

    /// One integration.
    pub async fn integration(&self, id: &str) -> Result<Option<Integration>, ApiError> {
        Ok(self.integration_row(id).await?.map(integration_from_row))
    }

    /// Every integration, by id.
    pub async fn integrations(&self) -> Result<Vec<Integration>, ApiError> {
        let sql = format!("SELECT {COLUMNS} FROM integrations ORDER BY id");
        let rows: Vec<IntegrationRow> = statement(&self.db, &sql, &[])?
            .all()
            .await
            .and_then(|result| result.results())
            .map_err(|error| storage_error("list integrations", error))?;
        Ok(rows.into_iter().map(integration_from_row).collect())
    }

    /// Deletes an integration and its health (an integration made again
    /// under the same id starts with a closed breaker); false when there was none.
    pub async fn delete_integration(&self, unlocked: &Unlocked, id: &str) -> Result<bool, ApiError> {
        unlocked.check(self.name())?;
        let results = self
            .db
            .batch(vec![
                statement(&self.db, "DELETE FROM integrations WHERE id = ?1", &[text(id)])?,
                statement(&self.db, "DELETE FROM integration_health WHERE integration = ?1", &[text(id)])?,
            ])
            .await
            .map_err(|error| storage_error("delete integration", error))?;
        let changes = results.first().and_then(|result| result.meta().ok().flatten()).and_then(|meta| meta.changes);
        Ok(changes.unwrap_or(0) > 0)
    }

    /// The ids among `ids` that name no integration here.
    pub async fn missing_integrations(&self, ids: &[String]) -> Result<Vec<String>, ApiError> {
        #[derive(Deserialize)]
        struct IdRow {
            id: String,
        }
        let found: Vec<IdRow> = statement(
            &self.db,
            "SELECT id FROM integrations WHERE id IN (SELECT value FROM json_each(?1))",
            &[text(&json!(ids).to_string())],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read integrations", error))?;
        Ok(ids.iter().filter(|id| !found.iter().any(|row| &row.id == *id)).cloned().collect())
    }

    /// The endpoint and opened secret of an integration.
    pub async fn webhook_target(&self, id: &str, key: &[u8; 32]) -> Result<Option<WebhookTarget>, ApiError> {
        let Some(row) = self.integration_row(id).await? else {
            return Ok(None);
        };
        let signing_secret = row
            .secret
            .map(|sealed_secret| sealed::open(key, &sealed_secret))
            .transpose()
            .map_err(|error| ApiError::internal("open integration secret", error))?;
        Ok(Some(WebhookTarget { url: row.url, signing_secret }))
    }

    async fn integration_row(&self, id: &str) -> Result<Option<IntegrationRow>, ApiError> {
        let sql = format!("SELECT {COLUMNS} FROM integrations WHERE id = ?1");
        statement(&self.db, &sql, &[text(id)])?
            .first(None)
            .await
            .map_err(|error| storage_error("read integration", error))
    }
}

fn integration_from_row(row: IntegrationRow) -> Integration {
    let consecutive_failures = row.consecutive_failures.unwrap_or(0.0) as u32;
    let failing = consecutive_failures >= BREAKER_THRESHOLD;
    let held_until = row.open_until.filter(|until| failing && *until > 0.0).map(|until| rfc3339(until as u64));
    Integration {
        health: IntegrationHealth { consecutive_failures, failing, held_until },
        id: row.id,
        kind: row.kind,
        name: row.name,
        url: row.url,
        has_signing_secret: row.secret.is_some(),
        created_at: rfc3339(row.created_at as u64),
        updated_at: rfc3339(row.updated_at as u64),
    }
}
