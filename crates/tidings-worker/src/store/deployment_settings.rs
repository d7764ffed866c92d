//! Deployment-wide settings (`deployment_settings` in `DB_CONTROL`): whether
//! the break-glass admin token works, and the audit trail of its uses.

use serde::Deserialize;
use tidings_core::wire::DeploymentSettings;

use super::authorized::Authorized;
use super::members::{audit_statement, AuditRecord};
use super::platform::Platform;
use super::{control_db, number, statement, storage_error};
use crate::error::ApiError;

#[derive(Deserialize)]
struct SettingsRow {
    admin_token_enabled: f64,
}

/// The deployment's settings.
pub async fn deployment_settings(env: &Platform) -> Result<DeploymentSettings, ApiError> {
    let row: Option<SettingsRow> =
        statement(&control_db(env)?, "SELECT admin_token_enabled FROM deployment_settings WHERE id = 1", &[])?
            .first(None)
            .await
            .map_err(|error| storage_error("read deployment settings", error))?;
    Ok(DeploymentSettings { admin_token_enabled: row.is_none_or(|row| row.admin_token_enabled != 0.0) })
}

/// Turns the admin token on or off, with its audit entry in the same batch;
/// the proof must be the policy's yes to
/// [`tidings_core::policy::ControlAction::ConfigureDeployment`].
pub async fn set_admin_token(
    env: &Platform,
    authorized: &Authorized,
    enabled: bool,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<DeploymentSettings, ApiError> {
    let disables = deployment_settings(env).await?.admin_token_enabled && !enabled;
    authorized.require_deployment_configuration(disables)?;
    let control = control_db(env)?;
    let update = statement(
        &control,
        "INSERT INTO deployment_settings (id, admin_token_enabled, updated_at) VALUES (1, ?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET admin_token_enabled = excluded.admin_token_enabled, \
         updated_at = excluded.updated_at",
        &[number(u64::from(enabled)), number(now_ms)],
    )?;
    control
        .batch(vec![update, audit_statement(&control, audit, now_ms)?])
        .await
        .map_err(|error| storage_error("update deployment settings", error))?;
    deployment_settings(env).await
}

/// Records one use of the admin token, before the request it authorises
/// does anything: a use that cannot be recorded is refused.
pub async fn record_admin_use(env: &Platform, audit: &AuditRecord<'_>, now_ms: u64) -> Result<(), ApiError> {
    audit_statement(&control_db(env)?, audit, now_ms)?
        .run()
        .await
        .map_err(|error| storage_error("record admin token use", error))?;
    Ok(())
}
