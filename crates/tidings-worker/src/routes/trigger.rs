//! `POST /v1/events/trigger`.

use tidings_core::trigger;
use tidings_core::wire::{TriggerRequest, TriggerResponse, TriggeredMessage};
use worker::{Env, Request};

use crate::auth::authenticate;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_json};
use crate::platform::{now_ms, random};

/// Renders the workflow for every recipient and stores the messages; answers
/// 201 only after D1 has committed them.
pub async fn trigger(request: &mut Request, env: &Env) -> ApiResult {
    let caller = authenticate(request, env).await?;
    caller.require_secret()?;
    let body: TriggerRequest = read_json(request).await?;
    let valid = trigger::validate(body)?;
    let workflow = caller.scope.workflow(&valid.workflow).await?.ok_or_else(|| {
        ApiError::new(
            404,
            "workflow_not_found",
            format!(
                "the {} environment has no workflow {:?}",
                caller.scope.name(),
                valid.workflow
            ),
        )
        .with_field("workflow")
    })?;
    let now = now_ms();
    let transaction_id = trigger::transaction_id(now, random()?);
    let mut randomness = Vec::with_capacity(valid.recipients.len());
    for _ in &valid.recipients {
        randomness.push(random()?);
    }
    let profiles = caller.scope.template_profiles(&valid.recipients).await?;
    let mut supply = randomness.into_iter();
    let messages = trigger::compose(
        &valid,
        &workflow,
        &transaction_id,
        now,
        |id| {
            profiles
                .get(id.as_str())
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}))
        },
        || supply.next().unwrap_or_default(),
    )?;
    caller.scope.insert_messages(&messages, now).await?;
    let response = TriggerResponse {
        transaction_id,
        status: "processed".to_owned(),
        messages: messages
            .iter()
            .map(|message| TriggeredMessage {
                id: message.id.to_string(),
                subscriber_id: message.subscriber.to_string(),
            })
            .collect(),
    };
    json(&response, 201)
}
