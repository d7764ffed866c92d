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
        let entries: Vec<String> = serde_json::from_str(&row.deliver_only_to?).unwrap_or_default();
        Some(TestMode {
            only_to: DeliverOnlyTo::parse(&entries).unwrap_or_default(),
            catch_all: row.catch_all_integration,
        })
    }))
}

impl Environment {
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
