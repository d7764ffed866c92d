//! Recording control-plane writes in the audit log.

use serde_json::Value;
use tidings_core::promotion;
use worker::Env;

use crate::auth::Actor;
use crate::error::ApiResult;
use crate::platform::{now_ms, random};
use crate::store::{self, AuditRecord};

/// Appends an audit entry: who did `action` to `resource`, in `environment`
/// (none: deployment-wide), with a before/after summary that holds no secret.
pub async fn record(
    env: &Env,
    actor: &Actor,
    action: &str,
    environment: Option<&str>,
    resource: &str,
    summary: Value,
) -> ApiResult<()> {
    let now = now_ms();
    let id = promotion::audit_id(now, random()?);
    store::audit(env, &AuditRecord { id: &id, actor: &actor.id, action, environment, resource, summary }, now).await
}
