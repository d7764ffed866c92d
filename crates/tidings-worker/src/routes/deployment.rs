//! `GET|PATCH /v1/deployment`: deployment-wide settings. Reading needs what
//! reading members needs; changing them is for owners, and turning the
//! break-glass admin token off needs an owner who can sign in without it
//! (the one policy, [`ControlAction::ConfigureDeployment`]).

use serde_json::json;
use tidings_core::policy::ControlAction;
use tidings_core::wire::DeploymentPatch;

use super::audit;
use crate::auth::authorize;
use crate::error::ApiResult;
use crate::http::{json, read_json};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::store::{self, Platform};

/// The deployment's settings.
pub async fn get(request: &IncomingRequest, env: &Platform) -> ApiResult {
    authorize(request, env, ControlAction::ReadMembers).await?;
    json(&store::deployment_settings(env).await?, 200)
}

/// Changes the deployment's settings; the change is audited in its batch.
pub async fn patch(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    // Who asks is checked before the body is read.
    let allowed = authorize(request, env, ControlAction::ConfigureDeployment { disables_admin_token: false }).await?;
    let body: DeploymentPatch = read_json(request).await?;
    let before = store::deployment_settings(env).await?;
    let Some(enabled) = body.admin_token_enabled else {
        return json(&before, 200);
    };
    let disables_admin_token = before.admin_token_enabled && !enabled;
    let authorized = if disables_admin_token {
        store::authorize(env, allowed.into_actor(), ControlAction::ConfigureDeployment { disables_admin_token }).await?
    } else {
        allowed
    };
    let change = json!({"before": {"admin_token_enabled": before.admin_token_enabled},
                        "after": {"admin_token_enabled": enabled}});
    let entry = audit::draft(authorized.actor(), "deployment.update", None, "deployment".to_owned(), change)?;
    json(&store::set_admin_token(env, &authorized, enabled, &entry.record(), now_ms()).await?, 200)
}
