//! The change freeze: an environment's content (workflows, integrations,
//! variables, brand, default preferences, releases of every kind) is written
//! only with an [`Unlocked`] proof, which [`Environment::unlocked`] gives
//! after reading the lock from the registry, so a content write that forgets
//! the lock does not compile.

use serde::Deserialize;
use tidings_core::environment::EnvironmentName;
use tidings_core::wire::ErrorCode;

use super::platform::Platform;
use super::{control_db, statement, storage_error, text, Environment, PromotionEnvironment};
use crate::error::ApiError;

/// Proof that an environment was not locked when its content write began.
pub struct Unlocked {
    environment: EnvironmentName,
}

impl Unlocked {
    /// Checks that the proof is for `environment` (a proof for one
    /// environment never unlocks another).
    pub(super) fn check(&self, environment: &EnvironmentName) -> Result<(), ApiError> {
        if &self.environment == environment {
            return Ok(());
        }
        Err(ApiError::internal("lock", "this proof is for another environment"))
    }
}

impl Environment {
    /// Reads the environment's lock from the registry (never a cache): the
    /// proof that its content may be written, or 423 `environment_locked`
    /// with the reason.
    pub async fn unlocked(&self, env: &Platform) -> Result<Unlocked, ApiError> {
        unlocked(env, self.name()).await
    }
}

impl PromotionEnvironment {
    /// [`Environment::unlocked`], for a release's target.
    pub async fn unlocked(&self, env: &Platform) -> Result<Unlocked, ApiError> {
        unlocked(env, &self.name).await
    }
}

/// [`Environment::unlocked`] by name, for the store's own writes.
pub(super) async fn unlocked(env: &Platform, name: &EnvironmentName) -> Result<Unlocked, ApiError> {
    #[derive(Deserialize)]
    struct LockRow {
        locked_reason: Option<String>,
        locked_at: Option<f64>,
    }
    let row: Option<LockRow> = statement(
        &control_db(env)?,
        "SELECT locked_reason, locked_at FROM environments WHERE name = ?1 AND status != 'deleted'",
        &[text(name.as_str())],
    )?
    .first(None)
    .await
    .map_err(|error| storage_error("read lock", error))?;
    match row {
        // Who locked it stays in the control plane: a key holder learns why, and since when.
        Some(LockRow { locked_reason: Some(reason), locked_at }) => {
            Err(locked(name, &reason).with_details(serde_json::json!({
                "reason": reason,
                "locked_at": locked_at.map(|at| tidings_core::timestamp::rfc3339(at as u64)),
            })))
        }
        _ => Ok(Unlocked { environment: name.clone() }),
    }
}

/// 423 `environment_locked`, with the lock's reason.
fn locked(name: &EnvironmentName, reason: &str) -> ApiError {
    ApiError::new(
        423,
        ErrorCode::EnvironmentLocked,
        format!("the {name} environment is locked, so its content cannot change: {reason}"),
    )
}
