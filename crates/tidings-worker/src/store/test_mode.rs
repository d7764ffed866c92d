//! Test mode as the registry holds it, read where a delivery is composed and
//! again at every attempt (never from a cache): turning it on stops every
//! delivery to an unlisted recipient from then on, those made before it,
//! retried, swept or replayed included.

use serde::Deserialize;
use tidings_core::environment::EnvironmentName;
use tidings_core::test_mode::{DeliverOnlyTo, TestMode};

use super::platform::Platform;
use super::{control_db, statement, storage_error, text, Environment};
use crate::error::ApiError;

/// The environment's test mode, or `None` where it is off. A list that no
/// longer reads lets nobody through: a broken setting never sends more than
/// it meant to.
pub async fn test_mode(env: &Platform, name: &EnvironmentName) -> Result<Option<TestMode>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        deliver_only_to: Option<String>,
        catch_all_integration: Option<String>,
    }
    let row: Option<Row> = statement(
        &control_db(env)?,
        "SELECT deliver_only_to, catch_all_integration FROM environments WHERE name = ?1",
        &[text(name.as_str())],
    )?
    .first(None)
    .await
    .map_err(|error| storage_error("read test mode", error))?;
    Ok(row.and_then(|row| {
        let entries = stored_entries(&row.deliver_only_to?);
        Some(TestMode {
            only_to: DeliverOnlyTo::parse(&entries).unwrap_or_default(),
            catch_all: row.catch_all_integration,
        })
    }))
}

/// A stored `deliver_only_to` list; one that no longer reads is empty (nobody).
pub(super) fn stored_entries(stored: &str) -> Vec<String> {
    serde_json::from_str(stored).unwrap_or_default()
}

impl Environment {
    /// Moves a pending delivery to the catch-all integration test mode sends
    /// it to; false when the attempt is no longer this hand-off's.
    pub async fn redirect_delivery(&self, id: &str, attempts: u32, catch_all: &str) -> Result<bool, ApiError> {
        let result = statement(
            &self.db,
            "UPDATE deliveries SET integration = ?3 WHERE id = ?1 AND attempts = ?2 AND status = 'pending'",
            &[text(id), super::number(u64::from(attempts)), text(catch_all)],
        )?
        .run()
        .await
        .map_err(|error| storage_error("redirect delivery", error))?;
        Ok(result.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) > 0)
    }

    /// A subscriber's profile email, for test mode's domain rule.
    pub async fn subscriber_email(&self, id: &str) -> Result<Option<String>, ApiError> {
        let email: Option<Option<String>> =
            statement(&self.db, "SELECT email FROM subscribers WHERE id = ?1", &[text(id)])?
                .first(Some("email"))
                .await
                .map_err(|error| storage_error("read subscriber email", error))?;
        Ok(email.flatten())
    }
}
