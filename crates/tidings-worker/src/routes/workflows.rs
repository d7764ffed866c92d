//! Workflows (secret key): `GET|POST /v1/workflows`, `GET|PUT|DELETE
//! /v1/workflows/{key}`, `GET /v1/workflows/{key}/versions`. Production
//! environments are read-only here: their content arrives by promotion.

use serde::Serialize;
use serde_json::json;
use tidings_core::key_scope::KeyScope;
use tidings_core::query::decode_segment;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{WorkflowInput, WorkflowList, WorkflowResponse};
use tidings_core::workflow::{self, Workflow};

use super::audit::{self, Draft};
use crate::auth::{authenticate_secret, Actor, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_json};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::store::Environment;
use crate::store::Platform;

/// Every workflow's current version.
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentRead).await?;
    json(&WorkflowList { items: caller.scope.workflows().await? }, 200)
}

/// Creates a workflow; 409 `workflow_exists` when the key is taken.
pub async fn create(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    let caller = writer(request, env).await?;
    let input: WorkflowInput = read_json(request).await?;
    let workflow = Workflow::from_input(input, None)?;
    if caller.scope.workflow_version(&workflow.key).await?.is_some() {
        return Err(ApiError::new(
            409,
            ErrorCode::WorkflowExists,
            format!("a workflow with key {} exists; PUT it to save a new version", workflow.key),
        )
        .with_field("key"));
    }
    json(&caller.scope.save_workflow(&caller.scope.unlocked(env).await?, &workflow, now_ms(), None).await?, 201)
}

/// The current version of one workflow.
pub async fn get(request: &IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentRead).await?;
    let key = parse_key(raw_key)?;
    json(&caller.scope.workflow_version(&key).await?.ok_or_else(|| not_found(&key))?, 200)
}

/// Saves a new version, creating the workflow if needed (201) or not (200).
pub async fn put(request: &mut IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    let caller = writer(request, env).await?;
    let (saved, existed) = save_in(env, &caller.scope, request, raw_key, None).await?;
    json(&saved, if existed { 200 } else { 201 })
}

/// Saves the body as a new version of `raw_key` in `scope`; says whether the workflow existed.
/// A `member`'s save is audited in the same transaction.
pub(super) async fn save_in(
    env: &Platform,
    scope: &Environment,
    request: &mut IncomingRequest,
    raw_key: &str,
    member: Option<&Actor>,
) -> ApiResult<(WorkflowResponse, bool)> {
    let key = parse_key(raw_key)?;
    let input: WorkflowInput = read_json(request).await?;
    let workflow = Workflow::from_input(input, Some(&key))?;
    let existed = scope.workflow_version(&key).await?.is_some();
    let draft = member.map(|actor| audited(actor, "workflow.save", scope, &key, json!({"after": {}}))).transpose()?;
    Ok((
        scope
            .save_workflow(&scope.unlocked(env).await?, &workflow, now_ms(), draft.as_ref().map(Draft::record).as_ref())
            .await?,
        existed,
    ))
}

/// The audit entry of a member's change to the workflow `key` of `scope`.
pub(super) fn audited(
    actor: &Actor,
    action: &'static str,
    scope: &Environment,
    key: &str,
    summary: serde_json::Value,
) -> ApiResult<Draft> {
    audit::draft(actor, action, Some(scope.name().as_str()), format!("workflow:{key}"), summary)
}

/// Every version, newest first.
pub async fn versions(request: &IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentRead).await?;
    let key = parse_key(raw_key)?;
    let items = caller.scope.workflow_history(&key).await?;
    if items.is_empty() {
        return Err(not_found(&key));
    }
    json(&WorkflowList { items }, 200)
}

/// Deletes a workflow and its history. Messages it produced stay.
pub async fn delete(request: &IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    let caller = writer(request, env).await?;
    delete_in(env, &caller.scope, raw_key, None).await
}

/// Deletes `raw_key` from `scope`. A `member`'s deletion is audited in the same transaction.
pub(super) async fn delete_in(env: &Platform, scope: &Environment, raw_key: &str, member: Option<&Actor>) -> ApiResult {
    #[derive(Serialize)]
    struct Deleted<'a> {
        key: &'a str,
        deleted: bool,
    }
    let key = parse_key(raw_key)?;
    let draft = member.map(|actor| audited(actor, "workflow.delete", scope, &key, json!({}))).transpose()?;
    if !scope
        .delete_workflow(&scope.unlocked(env).await?, &key, now_ms(), draft.as_ref().map(Draft::record).as_ref())
        .await?
    {
        return Err(not_found(&key));
    }
    json(&Deleted { key: &key, deleted: true }, 200)
}

/// A caller allowed to change workflows: secret key, environment not production.
async fn writer(request: &IncomingRequest, env: &Platform) -> ApiResult<Caller> {
    let caller = authenticate_secret(request, env, KeyScope::ContentWrite).await?;
    caller.require_content_writable("workflows")?;
    Ok(caller)
}

pub(super) fn parse_key(raw: &str) -> ApiResult<String> {
    let key = decode_segment(raw)?;
    workflow::validate_key(&key)?;
    Ok(key)
}

pub(super) fn not_found(key: &str) -> ApiError {
    ApiError::new(404, ErrorCode::WorkflowNotFound, format!("there is no workflow {key:?} in this environment"))
}
