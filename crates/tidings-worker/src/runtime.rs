//! The runtime's entry points: the fetch event, the deliveries queue's
//! batches and the scheduled sweep. The runtime hands over its `Env` here,
//! and it is wrapped in [`Platform`] at once; `worker::Env` is a disallowed
//! type everywhere else (`clippy.toml`).

#![allow(clippy::disallowed_types)]

use worker::{event, Context, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder, Response, Result};
use worker::{ScheduleContext, ScheduledEvent};

use crate::delivery::{self, Handled};
use crate::request::IncomingRequest;
use crate::services::fanout;
use crate::store::Platform;
use crate::{cors, routes};

/// Proof that code runs for the scheduled event: only this module can make
/// one (its field is private), and the store opens environments for the
/// sweep only with it.
pub struct SweepTick(());

/// The consumer of both queues: webhook deliveries and topic fan-outs (told
/// apart by the batch's queue name). Never returns an error (that would
/// reset the Wasm instance): each message is acknowledged once handled, or
/// retried after a pause when storage failed before anything was recorded.
#[event(queue)]
pub async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, ctx: Context) -> Result<()> {
    let platform = Platform::new(env);
    let messages = batch.raw_iter().collect::<Vec<_>>();
    let bodies = messages
        .iter()
        .map(|message| message.body().as_string().unwrap_or_else(|| json_text(&message.body())))
        .collect();
    // A deployment's fan-outs queue is `tidings-fanouts` or a name ending in it (`…-fanouts-<deployment>`).
    let queue = batch.queue();
    if queue.starts_with(crate::store::FANOUT_QUEUE_NAME) {
        let verdicts = fanout::consume(&platform, &ctx, bodies).await;
        for (message, verdict) in messages.iter().zip(verdicts) {
            match verdict {
                fanout::Handled::Done => message.ack(),
                fanout::Handled::Again => {
                    message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(5).build())
                }
            }
        }
        return Ok(());
    }
    let verdicts = delivery::consume(&platform, bodies).await;
    for (message, verdict) in messages.iter().zip(verdicts) {
        match verdict {
            Handled::Done => message.ack(),
            Handled::Again => {
                message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(30).build())
            }
        }
    }
    Ok(())
}

/// A message body that arrived as a structured value, as JSON text.
fn json_text(value: &wasm_bindgen::JsValue) -> String {
    js_sys::JSON::stringify(value).ok().and_then(|text| text.as_string()).unwrap_or_default()
}

/// The Cron Trigger, at the event's scheduled time: environments' lives (expired previews
/// archived, archives past their date purged), the deliveries and fan-outs sweeps, release
/// requests nobody reviewed in time expired, then feed moves whose call died taken up again.
#[event(scheduled)]
pub async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let platform = Platform::new(env);
    let now = crate::store::injected_clock(&platform, &event.cron()).unwrap_or(event.schedule() as u64);
    let tick = SweepTick(());
    crate::store::sweep_lifecycles(&platform, &tick, now).await;
    delivery::sweep(&platform, &tick, now).await;
    fanout::sweep(&platform, &tick, now).await;
    crate::store::sweep_release_requests(&platform, &tick, now).await;
    crate::store::resume_moves(&platform, &tick).await;
}

/// The fetch handler: routes the request and renders any error once.
#[event(fetch)]
pub async fn fetch(request: IncomingRequest, env: Env, ctx: Context) -> Result<Response> {
    let origin = request.header("Origin").map(str::to_owned);
    let platform = Platform::new(env);
    let outcome = routes::handle(request, &platform, &ctx).await;
    let response = match outcome {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    Ok(cors::decorate(response, origin.as_deref()))
}
