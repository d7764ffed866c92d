//! Replaying dead webhook deliveries, from the API or the console: moves
//! them back to `pending` (a new series of attempts under the same ids),
//! then hands them to the queue after the answer. They are durable before
//! the answer; a lost hand-off is found by the sweep.

use tidings_core::delivery::CheckedReplayFilter;
use tidings_core::message::MessageId;
use tidings_core::wire::{ErrorCode, ReplayResult};
use worker::Context;

use crate::error::{ApiError, ApiResult};
use crate::platform::now_ms;
use crate::store::{AuditRecord, Environment, Platform};

/// What to replay.
pub enum Selection<'a> {
    /// One delivery, by id (404 when the environment has none).
    One(&'a str),
    /// Those a filter selects.
    Matching(&'a CheckedReplayFilter),
}

/// Replays the dead deliveries `selection` names; pending and delivered
/// ones are left alone, so a replay repeated sends nothing twice. A
/// member's replay (`audit`) is audited in the same transaction.
pub async fn replay(
    env: &Platform,
    ctx: &Context,
    scope: &Environment,
    selection: Selection<'_>,
    audit: Option<&AuditRecord<'_>>,
) -> ApiResult<ReplayResult> {
    let replayed = match selection {
        Selection::One(id) => {
            let missing =
                || ApiError::new(404, ErrorCode::DeliveryNotFound, format!("{} has no delivery {id}", scope.name()));
            MessageId::parse(id).map_err(|_| missing())?;
            if scope.delivery_state(id).await?.is_none() {
                return Err(missing());
            }
            scope.replay_deliveries(Some(id), None, audit, now_ms()).await?
        }
        Selection::Matching(filter) => scope.replay_deliveries(None, Some(filter), audit, now_ms()).await?,
    };
    let due: Vec<(String, u32)> = replayed.into_iter().map(|delivery| (delivery.id, delivery.attempts)).collect();
    let answer = ReplayResult { replayed: due.iter().map(|(id, _)| id.clone()).collect() };
    if !due.is_empty() {
        let scope = scope.reopen(env)?;
        let env = env.clone();
        ctx.wait_until(async move { scope.hand_off(&env, &due, now_ms(), 0).await });
    }
    Ok(answer)
}
