//! `POST /v1/events/trigger` and `POST /v1/events/trigger/bulk`: parse,
//! authenticate, hand each trigger to [`crate::services::trigger`], render.

use tidings_core::idempotency;
use tidings_core::key_scope::KeyScope;
use tidings_core::trigger;
use tidings_core::wire::{BulkTriggerRequest, BulkTriggerResponse, BulkTriggerResult, TriggerRequest};
use worker::Context;

use crate::auth::{authenticate_secret, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, json_text, parse_json, read_body, read_json};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::services::idempotent;
use crate::services::trigger::{follow_up, process, ACCEPTED};
use crate::store::Platform;

/// The most events one bulk trigger may carry.
const MAX_BULK_EVENTS: usize = 100;

/// Renders the workflow for every recipient and stores everything in one
/// transaction; answers 202 only after D1 has committed. With an
/// `Idempotency-Key`, a retry gets the first answer again.
pub async fn trigger(request: &mut IncomingRequest, env: &Platform, ctx: &Context) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::Trigger).await?;
    let idempotency_key = idempotent::key_header(request)?;
    let body = read_body(request).await?;
    let valid = trigger::validate(parse_json::<TriggerRequest>(&body)?)?;
    require_profile_scope(&caller, [&valid])?;
    let hash = idempotency::request_hash(&body);
    let stored_key = idempotency_key.as_deref().map(idempotency::single_trigger_key);
    let answer =
        process(env, &caller.scope, &valid, stored_key.as_deref().map(|key| (key, hash.as_str())), now_ms()).await?;
    follow_up(env, ctx, &caller.scope, answer.follow_up);
    let response = json_text(answer.body, answer.status);
    Ok(if answer.replay { idempotent::replayed(response) } else { response })
}

/// `POST /v1/events/trigger/bulk`: up to 100 events (1,000 recipients in
/// all), each its own transaction with its own result. With an
/// `Idempotency-Key`, event `i` is stored under its own key
/// ([`idempotency::bulk_event_key`]), so a retried bulk request replays the
/// events that finished and runs only the others, and no single trigger's
/// key is ever one of them.
pub async fn bulk(request: &mut IncomingRequest, env: &Platform, ctx: &Context) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::Trigger).await?;
    let idempotency_key = idempotent::key_header(request)?;
    if let Some(key) = &idempotency_key {
        if key.len() + 4 > idempotency::MAX_KEY_LEN {
            return Err(ApiError::validation("Idempotency-Key", "a bulk Idempotency-Key has at most 251 characters"));
        }
    }
    let request_body: BulkTriggerRequest = read_json(request).await?;
    if request_body.events.is_empty() || request_body.events.len() > MAX_BULK_EVENTS {
        return Err(ApiError::validation("events", format!("a bulk trigger carries 1 to {MAX_BULK_EVENTS} events")));
    }
    let mut events = Vec::with_capacity(request_body.events.len());
    for (index, event) in request_body.events.into_iter().enumerate() {
        let hash = idempotency::request_hash(&serde_json::to_vec(&event).unwrap_or_default());
        let valid =
            trigger::validate(event).map_err(|error| ApiError::from(error).prefix_field(&format!("events.{index}")))?;
        events.push((hash, valid));
    }
    require_profile_scope(&caller, events.iter().map(|(_, valid)| valid))?;
    let recipients: usize = events.iter().map(|(_, valid)| valid.recipients.len()).sum();
    if recipients > trigger::MAX_RECIPIENTS {
        return Err(ApiError::validation(
            "events",
            format!("a bulk trigger reaches at most {} recipients in all", trigger::MAX_RECIPIENTS),
        ));
    }
    let now = now_ms();
    let mut results = Vec::with_capacity(events.len());
    for (index, (hash, valid)) in events.iter().enumerate() {
        let key = idempotency_key.as_deref().map(|key| idempotency::bulk_event_key(key, index));
        let result = match process(env, &caller.scope, valid, key.as_deref().map(|key| (key, hash.as_str())), now).await
        {
            Ok(answer) => {
                follow_up(env, ctx, &caller.scope, answer.follow_up);
                BulkTriggerResult {
                    status: answer.status,
                    replay: answer.replay,
                    body: serde_json::from_str(&answer.body).unwrap_or(serde_json::Value::Null),
                }
            }
            Err(error) => BulkTriggerResult {
                status: error.status(),
                replay: false,
                body: serde_json::to_value(error.body()).unwrap_or(serde_json::Value::Null),
            },
        };
        results.push(result);
    }
    json(&BulkTriggerResponse { results }, ACCEPTED)
}

/// A recipient given with a profile creates or replaces that subscriber's
/// profile, which is what `subscribers:write` allows: a restricted key with
/// only `trigger` names recipients by id (an unknown one is created bare).
fn require_profile_scope<'a>(
    caller: &Caller,
    triggers: impl IntoIterator<Item = &'a trigger::ValidTrigger>,
) -> ApiResult<()> {
    if triggers.into_iter().any(|valid| !valid.profiles.is_empty()) {
        caller.require_scope(KeyScope::SubscribersWrite)?;
    }
    Ok(())
}
