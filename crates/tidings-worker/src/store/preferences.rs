//! Subscriber preferences of one environment, and the environment's
//! default preferences (stored as the settings of the empty subscriber id,
//! which no subscriber can have).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;
use tidings_core::preferences::{Change, Channel, Preferences, MAX_WORKFLOW_OVERRIDES};
use tidings_core::subscriber::SubscriberId;

use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use super::lock::Unlocked;
use super::{number, statement, storage_error, text, Environment};
use crate::error::ApiError;

/// Raised (as a JSON path) by the guard that keeps a subscriber's workflow
/// overrides within [`MAX_WORKFLOW_OVERRIDES`].
const PREFERENCES_FULL: &str = "tidings-preferences-full";

/// How many workflows subscriber `?1` has overrides for.
const OVERRIDES_COUNT: &str =
    "SELECT COUNT(DISTINCT workflow) FROM preferences WHERE subscriber_id = ?1 AND workflow != ''";

#[derive(Deserialize)]
struct PreferenceRow {
    subscriber_id: String,
    workflow: String,
    channel: String,
    enabled: f64,
}

/// The subscriber id under which the environment's defaults are stored.
pub(super) const DEFAULTS: &str = "";

/// The statements that replace an environment's default preferences.
pub(super) fn replace_defaults_statements(
    db: &D1Database,
    defaults: &Preferences,
    now_ms: u64,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let mut writes = vec![statement(db, "DELETE FROM preferences WHERE subscriber_id = ?1", &[text(DEFAULTS)])?];
    for (workflow, channel, enabled) in defaults.settings() {
        writes.push(statement(
            db,
            "INSERT INTO preferences (subscriber_id, workflow, channel, enabled, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[
                text(DEFAULTS),
                text(workflow.as_deref().unwrap_or("")),
                text(channel.as_str()),
                number(u64::from(enabled)),
                number(now_ms),
            ],
        )?);
    }
    Ok(writes)
}

impl Environment {
    /// The environment's default preferences.
    pub async fn preference_defaults(&self) -> Result<Preferences, ApiError> {
        let mut found = self.stored_preferences(&[], None).await?;
        Ok(found.remove(DEFAULTS).unwrap_or_default())
    }

    /// Replaces the environment's default preferences.
    pub async fn replace_preference_defaults(
        &self,
        unlocked: &Unlocked,
        defaults: &Preferences,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        unlocked.check(self.name())?;
        self.db
            .batch(replace_defaults_statements(&self.db, defaults, now_ms)?)
            .await
            .map_err(|error| storage_error("replace default preferences", error))?;
        Ok(())
    }

    /// The preferences of each of `ids` (absent ids have none) and the
    /// environment's defaults, in one query: all of them, or with
    /// `workflow` only the global ones and that workflow's (what a trigger
    /// of it reads).
    pub async fn preferences_of(
        &self,
        ids: &[SubscriberId],
        workflow: Option<&str>,
    ) -> Result<(BTreeMap<String, Preferences>, Preferences), ApiError> {
        let mut found = self.stored_preferences(ids, workflow).await?;
        let defaults = found.remove(DEFAULTS).unwrap_or_default();
        Ok((found, defaults))
    }

    /// Stored settings of `ids` and of the defaults (under [`DEFAULTS`]).
    async fn stored_preferences(
        &self,
        ids: &[SubscriberId],
        workflow: Option<&str>,
    ) -> Result<BTreeMap<String, Preferences>, ApiError> {
        let ids: Vec<&str> = ids.iter().map(SubscriberId::as_str).collect();
        let rows: Vec<PreferenceRow> = statement(
            &self.db,
            "SELECT subscriber_id, workflow, channel, enabled FROM preferences \
             WHERE (subscriber_id IN (SELECT value FROM json_each(?1)) OR subscriber_id = ?2) \
             AND (?3 IS NULL OR workflow IN ('', ?3))",
            &[text(&json!(ids).to_string()), text(DEFAULTS), workflow.map_or(JsValue::NULL, text)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read preferences", error))?;
        let mut settings: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for row in rows {
            let Some(channel) = Channel::parse(&row.channel) else { continue };
            let workflow = (!row.workflow.is_empty()).then_some(row.workflow);
            settings.entry(row.subscriber_id).or_default().push((workflow, channel, row.enabled != 0.0));
        }
        Ok(settings.into_iter().map(|(id, settings)| (id, Preferences::from_settings(settings))).collect())
    }

    /// Applies preference changes in one transaction.
    pub async fn update_preferences(
        &self,
        subscriber: &SubscriberId,
        changes: &[Change],
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let mut writes = Vec::with_capacity(changes.len());
        for (workflow, channel, value) in changes {
            let workflow = text(workflow.as_deref().unwrap_or(""));
            writes.push(match value {
                Some(enabled) => statement(
                    &self.db,
                    "INSERT INTO preferences (subscriber_id, workflow, channel, enabled, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (subscriber_id, workflow, channel) \
                     DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
                    &[
                        text(subscriber.as_str()),
                        workflow,
                        text(channel.as_str()),
                        number(u64::from(*enabled)),
                        number(now_ms),
                    ],
                )?,
                None => statement(
                    &self.db,
                    "DELETE FROM preferences WHERE subscriber_id = ?1 AND workflow = ?2 AND channel = ?3",
                    &[text(subscriber.as_str()), workflow, text(channel.as_str())],
                )?,
            });
        }
        if writes.is_empty() {
            return Ok(());
        }
        // In the same transaction: a change that leaves more overrides than a subscriber may keep fails
        // whole. One who kept more from before the limit may still change them, and never add.
        let count = OVERRIDES_COUNT;
        let kept: Option<f64> =
            statement(&self.db, &format!("SELECT ({count}) AS count"), &[text(subscriber.as_str())])?
                .first(Some("count"))
                .await
                .map_err(|error| storage_error("count preferences", error))?;
        let limit = (MAX_WORKFLOW_OVERRIDES as u64).max(kept.unwrap_or(0.0) as u64);
        writes.push(statement(
            &self.db,
            &format!("SELECT CASE WHEN ({count}) > ?2 THEN json_extract('{{}}', '{PREFERENCES_FULL}') END"),
            &[text(subscriber.as_str()), number(limit)],
        )?);
        match self.db.batch(writes).await {
            Ok(_) => Ok(()),
            Err(error) if error.to_string().contains(PREFERENCES_FULL) => Err(ApiError::validation(
                "workflows",
                format!(
                    "a subscriber keeps overrides for at most {MAX_WORKFLOW_OVERRIDES} workflows; remove some (null) first"
                ),
            )),
            Err(error) => Err(storage_error("update preferences", error)),
        }
    }
}
