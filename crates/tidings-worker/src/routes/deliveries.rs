//! Webhook deliveries (secret key): `GET /v1/deliveries`, `GET
//! /v1/deliveries/{id}` with every attempt, and replays of dead deliveries,
//! one (`POST /v1/deliveries/{id}/replay`) or by filter (`POST
//! /v1/deliveries/replay`). A replay only ever moves `dead` deliveries back
//! to `pending`, so repeating one sends nothing twice.

use tidings_core::delivery::{CheckedReplayFilter, DeliveryQuery};
use tidings_core::key_scope::KeyScope;
use tidings_core::message::MessageId;
use tidings_core::wire::{ErrorCode, ReplayFilter};
use worker::Context;

use crate::auth::authenticate_secret;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, query_pairs, read_json};
use crate::request::IncomingRequest;
use crate::services::{self, replay::Selection};
use crate::store::Platform;

/// A page of deliveries, filtered by status, integration, workflow and time.
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::DeliveriesRead).await?;
    let pairs = query_pairs(request)?;
    let query = DeliveryQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .map_err(|error| ApiError::validation(error.field, error.to_string()))?;
    json(&caller.scope.deliveries(&query).await?, 200)
}

/// One delivery and its attempts.
pub async fn get(request: &IncomingRequest, env: &Platform, id: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::DeliveriesRead).await?;
    let detail = caller.scope.delivery(checked_id(id)?).await?.ok_or_else(|| not_found(id))?;
    json(&detail, 200)
}

/// Replays one dead delivery; a pending or delivered one is left as it is.
pub async fn replay(request: &IncomingRequest, env: &Platform, ctx: &Context, id: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::DeliveriesWrite).await?;
    json(&services::replay::replay(env, ctx, &caller.scope, Selection::One(id), None).await?, 200)
}

/// Replays the dead deliveries a filter selects (at most `limit`).
pub async fn replay_many(request: &mut IncomingRequest, env: &Platform, ctx: &Context) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::DeliveriesWrite).await?;
    let filter: ReplayFilter = read_json(request).await?;
    let filter =
        CheckedReplayFilter::check(&filter).map_err(|error| ApiError::validation(error.field, error.to_string()))?;
    json(&services::replay::replay(env, ctx, &caller.scope, Selection::Matching(&filter), None).await?, 200)
}

fn checked_id(id: &str) -> ApiResult<&str> {
    MessageId::parse(id).map_err(|_| not_found(id))?;
    Ok(id)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(404, ErrorCode::DeliveryNotFound, format!("this environment has no delivery {id}"))
}
