//! Workflows as members edit them in the console:
//! `GET /v1/environments/{name}/workflows`,
//! `PUT|DELETE /v1/environments/{name}/workflows/{key}` and
//! `POST /v1/environments/{name}/workflows/{key}/test`. Reading needs only
//! access to the environment; writing and test sends need
//! [`Action::EditContent`], which production never grants. Each write and
//! test send is recorded in the environment's audit log with the member, in
//! the transaction of the change.

use serde_json::json;
use tidings_core::access::Action;
use tidings_core::trigger;
use tidings_core::wire::{TriggerRequest, WorkflowList};
use worker::Context;

use super::environments::{exposing, masks, parse_name};
use super::workflows::{audited, delete_in, parse_key, save_in};
use crate::auth::{authorize_in, Authorized};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_json};
use crate::request::IncomingRequest;
use crate::services::trigger::trigger_in;
use crate::store::Platform;
use crate::store::{self, Environment};

/// Opens an environment after the policy allowed the member `action`
/// there. Writes to production answer `environment_read_only`, as they do
/// with a secret key, before the member's role is considered.
async fn open(
    request: &IncomingRequest,
    env: &Platform,
    raw_name: &str,
    action: Action,
) -> ApiResult<(Authorized, Environment)> {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, action).await?;
    let environment = Environment::open_authorized(env, &authorized).await?;
    Ok((authorized, environment))
}

/// Every workflow's current version.
pub async fn list(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let (_, scope) = open(request, env, raw_name, Action::View).await?;
    json(&WorkflowList { items: scope.workflows().await? }, 200)
}

/// Saves a new version, creating the workflow if needed (201) or not (200).
pub async fn put(request: &mut IncomingRequest, env: &Platform, raw_name: &str, raw_key: &str) -> ApiResult {
    let (authorized, scope) = open(request, env, raw_name, Action::EditContent).await?;
    let (saved, existed) = save_in(env, &scope, request, raw_key, Some(authorized.actor())).await?;
    json(&saved, if existed { 200 } else { 201 })
}

/// Deletes a workflow and its history. Messages it produced stay.
pub async fn delete(request: &IncomingRequest, env: &Platform, raw_name: &str, raw_key: &str) -> ApiResult {
    let (authorized, scope) = open(request, env, raw_name, Action::EditContent).await?;
    delete_in(env, &scope, raw_key, Some(authorized.actor())).await
}

/// Runs the workflow as a trigger would (body: `to`, `payload`, `actor`),
/// so its author sees it arrive; answers like `POST /v1/events/trigger`.
pub async fn test(
    request: &mut IncomingRequest,
    env: &Platform,
    ctx: &Context,
    raw_name: &str,
    raw_key: &str,
) -> ApiResult {
    let (authorized, scope) = open(request, env, raw_name, Action::EditContent).await?;
    // A test send renders the recipients' profiles where the sender reads them back: where the
    // environment masks personal data, only for those who may see it.
    let masked = masks(&store::environment(env, &authorized).await?);
    let authorized = exposing(env, authorized, Action::EditContent, masked).await?;
    let key = parse_key(raw_key)?;
    let mut body: serde_json::Value = read_json(request).await?;
    let serde_json::Value::Object(fields) = &mut body else {
        return Err(ApiError::validation("body", "the body must be a JSON object with to, payload and actor"));
    };
    if fields.get("workflow").is_some_and(|workflow| workflow.as_str() != Some(key.as_str())) {
        return Err(ApiError::validation("workflow", "the workflow is named by the URL; leave it out of the body"));
    }
    fields.insert("workflow".to_owned(), key.clone().into());
    let request_body: TriggerRequest = serde_json::from_value(body)
        .map_err(|error| ApiError::validation("body", format!("the body is not a trigger: {error}")))?;
    let valid = trigger::validate(request_body)?;
    if !valid.topics.is_empty() {
        // A test reaches people one by one; a broadcast is a trigger, under the trigger's rights.
        return Err(ApiError::validation("to", "a test send names subscribers, not topics"));
    }
    // Recipients are counted, never named: subscriber ids may be personal data. The entry is
    // written with the messages, in one transaction.
    let summary = json!({"recipients": valid.recipients.len()});
    let draft = audited(authorized.actor(), "workflow.test", &scope, &key, summary)?;
    trigger_in(&scope, env, ctx, &valid, &draft.record()).await
}
