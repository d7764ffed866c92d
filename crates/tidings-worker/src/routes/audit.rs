//! The audit log: recording control-plane writes, and reading them:
//! `GET /v1/environments/{name}/audit-log` and `GET /v1/audit-log`.

use serde_json::Value;
use tidings_core::access::Action;
use tidings_core::audit::{self, AuditQuery};
use tidings_core::policy::ControlAction;
use tidings_core::promotion;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{AuditEntry, AuditLog};

use super::environments::parse_name;
use crate::auth::{authorize, authorize_in, Actor};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, query_pairs};
use crate::platform::{now_ms, random};
use crate::request::IncomingRequest;
use crate::store::Platform;
use crate::store::{self, AuditRecord};

/// An audit entry drafted before the change it records, so the store writes
/// both in one transaction: the answer is never an error for a change that
/// happened, and no change happens without its entry.
pub struct Draft {
    id: String,
    actor: String,
    action: &'static str,
    environment: Option<String>,
    resource: String,
    summary: Value,
}

impl Draft {
    /// The record the store writes.
    pub fn record(&self) -> AuditRecord<'_> {
        AuditRecord {
            id: &self.id,
            actor: &self.actor,
            action: self.action,
            environment: self.environment.as_deref(),
            resource: &self.resource,
            summary: self.summary.clone(),
        }
    }
}

/// Drafts an entry: who does `action` to `resource`, in `environment`
/// (none: deployment-wide), with a before/after summary that holds no secret.
pub fn draft(
    actor: &Actor,
    action: &'static str,
    environment: Option<&str>,
    resource: String,
    summary: Value,
) -> ApiResult<Draft> {
    let id = promotion::audit_id(now_ms(), random()?);
    Ok(Draft { id, actor: actor.id.clone(), action, environment: environment.map(str::to_owned), resource, summary })
}

/// Releases and rollbacks (from the environment's database) and the
/// control plane's writes to it (keys, settings, …), merged newest first;
/// filtered by `action` and `actor`, paged with `limit` and `before`.
pub async fn audit_log(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::ReadAudit).await?;
    let query = audit_query(request)?;
    // An archived environment's database is closed; its control-plane entries (the archive itself) still show.
    let mut items = match super::promotions::open_for_releases(env, &authorized).await {
        Ok(target) => target.audit_log(&query).await?,
        Err(error) if error.code() == ErrorCode::EnvironmentArchived => Vec::new(),
        Err(error) => return Err(error),
    };
    items.extend(store::control_audit(env, Some(name.as_str()), &query).await?);
    let mut page = audit_page(items, &query);
    // A release's source, and any other environment an entry names, only where the reader sees it.
    let sees = |other: &str| authorized.actor().grants.role_in(other).is_some();
    for entry in &mut page.items {
        audit::hide_environments(entry, sees);
    }
    json(&page, 200)
}

/// Deployment-wide audit entries (members, tokens): admins and owners.
/// Environments hidden from the caller are left out of what they see.
pub async fn deployment_audit_log(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let authorized = authorize(request, env, ControlAction::ReadMembers).await?;
    let query = audit_query(request)?;
    let mut page = audit_page(store::control_audit(env, None, &query).await?, &query);
    let sees = |name: &str| authorized.actor().grants.role_in(name).is_some();
    for entry in &mut page.items {
        audit::hide_environments(entry, sees);
    }
    json(&page, 200)
}

fn audit_query(request: &IncomingRequest) -> ApiResult<AuditQuery> {
    let pairs = query_pairs(request)?;
    AuditQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .map_err(|error| ApiError::validation(error.field.clone(), error.to_string()))
}

/// One page from entries of one or more sources, each fetched `limit + 1` deep.
fn audit_page(mut items: Vec<AuditEntry>, query: &AuditQuery) -> AuditLog {
    // Ids are time-ordered, so sorting them sorts by time.
    items.sort_by(|left, right| right.id.cmp(&left.id));
    let has_more = items.len() > query.limit as usize;
    items.truncate(query.limit as usize);
    let next_before = if has_more { items.last().map(|entry| entry.id.clone()) } else { None };
    AuditLog { items, next_before }
}
