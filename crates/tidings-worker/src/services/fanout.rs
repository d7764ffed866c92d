//! Triggers to topics: accepted once durably recorded and handed to the
//! `FANOUTS` queue, then written page by page by its consumer (see
//! [`tidings_core::topic`]). Each queue message asks for the next page of
//! one fan-out; the page is read from the fan-out's cursor, written in one
//! transaction that moves the cursor, and the next message is sent. A
//! message delivered twice finds the cursor moved and writes nothing; a
//! page that fails is rolled back whole and its message retried; the sweep
//! hands off again a fan-out that stopped moving.

use std::cell::Cell;

use futures_util::future::join_all;
use serde_json::{json, Value};
use tidings_core::message::RecipientIds;
use tidings_core::subscriber::SubscriberId;
use tidings_core::topic::{page_queries, page_size_for, FanoutStatus, QueryBudget};
use tidings_core::trigger::{self, ValidTrigger};
use tidings_core::wire::{ErrorCode, TriggerResponse};
use tidings_core::workflow::Workflow;
use worker::Context;

use crate::error::{ApiError, ApiResult};
use crate::platform::{now_ms, random};
use crate::runtime::SweepTick;
use crate::services::trigger::{follow_up, run_page, ACCEPTED};
use crate::store::{self, AuditRecord, Environment, KeyedAnswer, NewFanout, PageStep, Platform, Refusal};

/// Failed attempts at one page after which the fan-out stops as failed
/// (each retried by the queue after 5 s).
const MAX_PAGE_FAILURES: u64 = 8;

/// A fan-out runs again once it has not moved for this long (the sweep).
const STALLED_AFTER_MS: u64 = 60_000;

/// What the trigger already knows when it turns out to name topics.
pub struct Accept<'a> {
    /// The workflow, as read.
    pub workflow: &'a Workflow,
    /// Its version: every page renders this one.
    pub version: u32,
    /// When the workflow read was created (`None` if unknown): every page
    /// renders that workflow's version, not one of a workflow made again under its key.
    pub workflow_created_at: Option<u64>,
    /// The trigger's transaction id.
    pub transaction_id: &'a str,
    /// Direct recipients that do not exist yet (created empty).
    pub created: &'a [SubscriberId],
}

/// Records a trigger to topics and hands it to the queue. Answers the
/// 202 body, or (inner error) a refusal for the caller to log: a topic that
/// does not exist, or a payload or workflow that could never render.
pub async fn accept(
    env: &Platform,
    scope: &Environment,
    valid: &ValidTrigger,
    accept: Accept<'_>,
    claim: Option<(&str, &str)>,
    audit: Option<&AuditRecord<'_>>,
    now: u64,
) -> ApiResult<Result<String, ApiError>> {
    let missing = scope.missing_topics(&valid.topics).await?;
    if let Some(topic) = missing.first() {
        let refusal = ApiError::new(
            404,
            ErrorCode::TopicNotFound,
            format!(
                "the {} environment has no topic {:?}; create it with PUT /v1/topics/{topic}",
                scope.name(),
                topic.as_str()
            ),
        )
        .with_field("to");
        return Ok(Err(refusal));
    }
    // What no recipient changes is checked now: the payload schema, the steps.
    let probe = ValidTrigger { recipients: Vec::new(), profiles: Vec::new(), topics: Vec::new(), ..valid.clone() };
    let checked = trigger::compose(
        &probe,
        accept.workflow,
        &json!({}),
        &RecipientIds::new(None, accept.transaction_id),
        now,
        true,
        |_| json!({}),
        |_, _| true,
        || [0; 10],
    );
    if let Err(error) = checked {
        return Ok(Err(error.into()));
    }
    let answer = TriggerResponse {
        transaction_id: accept.transaction_id.to_owned(),
        status: "queued".to_owned(),
        messages: Vec::new(),
        created_subscribers: accept.created.iter().map(ToString::to_string).collect(),
        deliveries: Vec::new(),
    };
    let body = serde_json::to_string(&answer).map_err(|error| ApiError::internal("serialize trigger answer", error))?;
    let fanout = NewFanout {
        transaction_id: accept.transaction_id,
        workflow: &accept.workflow.key,
        workflow_version: accept.version,
        workflow_created_at: accept.workflow_created_at,
        payload: &valid.payload,
        actor: valid.actor.as_ref(),
        recipients: &valid.recipients,
        profiles: &valid.profiles,
        topics: &valid.topics,
        idempotency: claim.map(|(key, claim_id)| KeyedAnswer { key, claim_id, status: ACCEPTED, body: body.as_str() }),
        audit,
    };
    scope.record_fanout(fanout, now).await?;
    // Recorded: the sweep hands it off if this fails, so the answer stands.
    if let Err(error) = scope.hand_off_fanout(env, accept.transaction_id).await {
        worker::console_error!("fan-out {} waits for the sweep: {error:?}", accept.transaction_id);
    }
    Ok(Ok(body))
}

/// What the consumer did with one queue message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Done with it: acknowledge.
    Done,
    /// Storage failed before the page committed: let the queue retry it.
    Again,
}

/// The fan-outs queue's consumer: every message of a batch, side by side
/// (each is a page of a different fan-out, or a duplicate the cursor stops),
/// sharing the invocation's D1 queries ([`QueryBudget`]).
pub async fn consume(env: &Platform, ctx: &Context, bodies: Vec<String>) -> Vec<Handled> {
    let queries = Cell::new(QueryBudget::for_batch(bodies.len()));
    join_all(bodies.iter().map(|body| consume_one(env, ctx, &queries, body))).await
}

async fn consume_one(env: &Platform, ctx: &Context, queries: &Cell<QueryBudget>, body: &str) -> Handled {
    let verified = match store::verify_fanout(env, body) {
        Ok(verified) => verified,
        Err(refusal) => {
            let why = match refusal {
                Refusal::Malformed => "not a fan-out message",
                Refusal::BadSeal => "its seal is not this deployment's",
                Refusal::NotServed => "it names an environment this deployment does not serve",
            };
            worker::console_error!("fan-outs queue: message refused: {why}");
            return Handled::Done;
        }
    };
    let scope = match Environment::open_for_fanout(env, &verified).await {
        Ok(scope) => scope,
        // Gone or not ready: its fan-outs went with it.
        Err(error) if matches!(error.status(), 404 | 409) => return Handled::Done,
        Err(_) => return Handled::Again,
    };
    let transaction_id = verified.transaction_id();
    let error = match next_page(env, ctx, (&scope, queries), transaction_id).await {
        Ok(handled) => return handled,
        Err(error) => error,
    };
    worker::console_error!("fan-out {transaction_id}: {error:?}");
    // A recipient's feed moving to another shard (resharding) is no failure of the page: again, later.
    if error.code() == tidings_core::wire::ErrorCode::FeedMoving {
        return Handled::Again;
    }
    // A page that keeps failing stops the fan-out instead of being tried for ever.
    match scope.note_fanout_failure(transaction_id, now_ms()).await {
        Ok(failures) if failures >= MAX_PAGE_FAILURES => {
            match scope.fail_fanout(transaction_id, &error, now_ms()).await {
                Ok(()) => Handled::Done,
                Err(_) => Handled::Again,
            }
        }
        _ => Handled::Again,
    }
}

/// Writes the next pages of a fan-out, for up to [`BUDGET_MS`] and while
/// the invocation's D1 queries last, then asks the queue for the rest; or
/// marks the fan-out completed when no recipient is left.
async fn next_page(
    env: &Platform,
    ctx: &Context,
    (scope, queries): (&Environment, &Cell<QueryBudget>),
    transaction_id: &str,
) -> ApiResult<Handled> {
    let started = now_ms();
    let cost = page_queries(scope.bucket_map().to());
    loop {
        let mut left = queries.get();
        let affordable = left.take(cost);
        queries.set(left);
        if !affordable {
            break;
        }
        match write_page(env, ctx, scope, transaction_id).await? {
            Page::Written if now_ms().saturating_sub(started) < BUDGET_MS => continue,
            Page::Written => break,
            Page::Finished => return Ok(Handled::Done),
        }
    }
    // The pages are written: a lost message from here on is the sweep's.
    if let Err(error) = scope.hand_off_fanout(env, transaction_id).await {
        worker::console_error!("fan-out {transaction_id} waits for the sweep: {error:?}");
    }
    Ok(Handled::Done)
}

/// How long one queue message keeps writing pages before handing the rest
/// on (well inside a consumer's limits, and each page is its own transaction).
const BUDGET_MS: u64 = 5_000;

/// What writing one page came to.
enum Page {
    /// A page was written; more may follow.
    Written,
    /// Nothing more to do for this message: the fan-out is completed or
    /// failed, or another delivery of the message wrote the page and goes on.
    Finished,
}

async fn write_page(env: &Platform, ctx: &Context, scope: &Environment, transaction_id: &str) -> ApiResult<Page> {
    let now = now_ms();
    let Some(fanout) = scope.fanout(transaction_id).await? else { return Ok(Page::Finished) };
    if fanout.status() != FanoutStatus::Running {
        return Ok(Page::Finished);
    }
    // A large payload renders fewer recipients a page (the same bound as a direct trigger's).
    let Some(next) = scope.fanout_page(&fanout, page_size_for(fanout.payload.len())).await? else {
        scope.complete_fanout(transaction_id, &fanout.cursor, now).await?;
        return Ok(Page::Finished);
    };
    let valid = ValidTrigger {
        workflow: fanout.workflow.clone(),
        recipients: next.recipients,
        topics: Vec::new(),
        profiles: Vec::new(),
        payload: serde_json::from_str(&fanout.payload).unwrap_or_else(|_| json!({})),
        actor: fanout.actor.as_deref().and_then(|actor| serde_json::from_str::<Value>(actor).ok()),
    };
    let writer = tidings_core::message::MessageId::generate(now, random()?).to_string();
    let page = PageStep {
        transaction_id,
        from: &fanout.cursor,
        to: &next.last,
        count: valid.recipients.len(),
        workflow_version: fanout.workflow_version(),
        workflow_created_at: fanout.workflow_created_at(),
        writer: &writer,
    };
    match run_page(env, scope, &valid, page, now).await {
        Ok(work) => {
            follow_up(env, ctx, scope, work);
            Ok(Page::Written)
        }
        Err(error) if error.status() == 409 && error.code() == ErrorCode::RequestInProgress => {
            // The cursor moved. By this attempt: the write committed and only its answer was lost
            // (a retried batch), so this message goes on. By another: another delivery of the
            // message wrote it and goes on itself.
            let mine = scope.fanout(transaction_id).await?.is_some_and(|now| now.writer.as_deref() == Some(&writer));
            Ok(if mine { Page::Written } else { Page::Finished })
        }
        Err(error) if error.status() < 500 => {
            scope.fail_fanout(transaction_id, &error, now).await?;
            Ok(Page::Finished)
        }
        Err(error) => Err(error),
    }
}

/// The sweep: in every environment this deployment serves, hands off again
/// each running fan-out that has not moved for a minute (its message was
/// lost, or ran out of retries). One environment's failure never stops the others'.
pub async fn sweep(env: &Platform, tick: &SweepTick, now: u64) {
    let names = match store::sweepable_environments(env, tick).await {
        Ok(names) => names,
        Err(error) => return worker::console_error!("fan-out sweep: cannot list environments: {error:?}"),
    };
    for name in names {
        let stalled = match Environment::open_for_sweep(env, tick, &name).await {
            Ok(scope) => scope.stalled_fanouts(now.saturating_sub(STALLED_AFTER_MS)).await.map(|ids| (scope, ids)),
            Err(error) => Err(error),
        };
        let (scope, stalled) = match stalled {
            Ok(found) => found,
            Err(error) => {
                worker::console_error!("fan-out sweep: {name}: {error:?}");
                continue;
            }
        };
        for transaction_id in stalled {
            let handed = match scope.hand_off_fanout(env, &transaction_id).await {
                Ok(()) => scope.touch_fanout(&transaction_id, now).await,
                Err(error) => Err(error),
            };
            if let Err(error) = handed {
                worker::console_error!("fan-out sweep: {transaction_id}: {error:?}");
            }
        }
    }
}
