//! Sending webhook deliveries: handed to the queue after the trigger's
//! commit, sent by the queue's consumer one claimed attempt at a time,
//! retried on the schedule of [`tidings_core::delivery`], held while an
//! integration's circuit breaker is open, and found again by the scheduled
//! sweep when a hand-off was lost.
//!
//! Outside development a target in a private network is refused before any
//! request (an integration promoted or imported with one), redirects are
//! not followed, and what is stored and shown is a failure class
//! (`address_refused`, `connection_failed`, `timeout`, `http_status_503`,
//! …), never the upstream's own words, which go to the worker's log only.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::{join_all, select, Either};
use tidings_core::delivery::{
    after_failure, classify, parse_retry_after, AttemptClass, HandOff, Next, MAX_IN_FLIGHT_PER_INTEGRATION,
    REQUEST_TIMEOUT_MS,
};
use tidings_core::environment::EnvironmentType;
use tidings_core::link;
use tidings_core::subscriber::SubscriberId;
use tidings_core::test_mode::Destination;
use tidings_core::webhook::{self, SIGNATURE_HEADER};
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use crate::platform::{now_ms, random};
use crate::runtime::SweepTick;
use crate::store::{self, AttemptRecord, ClaimedDelivery, DeliveryState, Environment, HandOffFault, Platform, Refusal};

/// Hands the deliveries a trigger (or a fan-out's page) just created to the
/// queue, after its commit: each pending, its first attempt to claim.
pub async fn hand_off_new(env: Platform, scope: Environment, deliveries: Vec<String>, fault: HandOffFault) {
    let due: Vec<(String, u32)> = deliveries.into_iter().map(|id| (id, 0)).collect();
    scope.hand_off_as(&env, &due, now_ms(), 0, fault).await;
}

/// The scheduled sweep: hands off again every pending delivery, in every
/// environment this deployment serves, whose attempt is overdue (its
/// hand-off was lost, or its attempt's lease ran out), and deletes what is
/// past the environment's log retention (logs, finished fan-outs and
/// deliveries), even where nothing is written any more. `now_ms` is the
/// event's scheduled time (or, in the test stack, the time the test named:
/// see [`store::injected_clock`]).
pub async fn sweep(env: &Platform, tick: &SweepTick, now_ms: u64) {
    let names = match store::sweepable_environments(env, tick).await {
        Ok(names) => names,
        Err(error) => return worker::console_error!("sweep: cannot list environments: {error:?}"),
    };
    for name in names {
        // One environment's failure never stops the others'.
        let scope = match Environment::open_for_sweep(env, tick, &name).await {
            Ok(scope) => scope,
            Err(error) => {
                worker::console_error!("sweep: {name} skipped: {error:?}");
                continue;
            }
        };
        match scope.overdue_deliveries(now_ms).await {
            Ok(overdue) if !overdue.is_empty() => {
                worker::console_log!("sweep: handing off {} overdue deliveries of {name}", overdue.len());
                let due: Vec<(String, u32)> =
                    overdue.into_iter().map(|delivery| (delivery.id, delivery.attempts)).collect();
                scope.hand_off(env, &due, now_ms, 0).await;
            }
            Ok(_) => {}
            Err(error) => worker::console_error!("sweep: {name}: {error:?}"),
        }
        if let Err(error) = scope.prune_past_retention(now_ms).await {
            worker::console_error!("sweep: {name}: nothing pruned past retention: {error:?}");
        }
    }
}

/// What the consumer did with one queue message.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    /// Done with it (sent, recorded, stale, or refused): acknowledge.
    Done,
    /// Storage failed before anything was recorded: let the queue retry it.
    Again,
}

/// A checked message of a batch: its index, hand-off, environment and delivery.
struct Prepared {
    index: usize,
    verified: store::VerifiedHandOff,
    scope: Environment,
    /// The delivery as read when the message was checked.
    state: DeliveryState,
}

/// The queue's consumer: every message of a batch, grouped by environment
/// and integration so a slow or dead receiver holds back only its own
/// deliveries (another environment's integration of the same id included):
/// groups run side by side, each with at most
/// [`MAX_IN_FLIGHT_PER_INTEGRATION`] attempts in flight. Each environment is
/// looked up once per batch.
pub async fn consume(env: &Platform, bodies: Vec<String>) -> Vec<Handled> {
    let mut verdicts: Vec<Option<Handled>> = (0..bodies.len()).map(|_| None).collect();
    let mut groups: BTreeMap<(String, String), Vec<Prepared>> = BTreeMap::new();
    let mut opened: BTreeMap<String, Option<Environment>> = BTreeMap::new();
    for (index, body) in bodies.iter().enumerate() {
        match prepare(env, body, &mut opened).await {
            Ok((verified, scope, state)) => {
                let key = (verified.hand_off().environment.clone(), state.integration.clone());
                groups.entry(key).or_default().push(Prepared { index, verified, scope, state });
            }
            Err(handled) => verdicts[index] = Some(handled),
        }
    }
    let runs = groups.into_values().map(|group| async move {
        let mut done = Vec::with_capacity(group.len());
        let mut pending = group.into_iter();
        loop {
            let wave: Vec<_> = pending.by_ref().take(MAX_IN_FLIGHT_PER_INTEGRATION).collect();
            if wave.is_empty() {
                break done;
            }
            let attempts =
                wave.iter().map(|message| attempt(env, &message.scope, message.verified.hand_off(), &message.state));
            let results = join_all(attempts).await;
            done.extend(wave.iter().map(|message| message.index).zip(results));
        }
    });
    for (index, handled) in join_all(runs).await.into_iter().flatten() {
        verdicts[index] = Some(handled);
    }
    verdicts.into_iter().map(|verdict| verdict.unwrap_or(Handled::Done)).collect()
}

/// Checks a message and opens its environment (once per batch: `opened`):
/// the hand-off, the environment, and the delivery as it stands; or what to
/// do instead.
async fn prepare(
    env: &Platform,
    body: &str,
    opened: &mut BTreeMap<String, Option<Environment>>,
) -> Result<(store::VerifiedHandOff, Environment, DeliveryState), Handled> {
    let verified = store::verify_hand_off(env, body).map_err(|refusal| {
        let why = match refusal {
            Refusal::Malformed => "not a delivery hand-off",
            Refusal::BadSeal => "its seal is not this deployment's",
            Refusal::NotServed => "it names an environment this deployment does not serve",
        };
        worker::console_error!("deliveries queue: message refused: {why}");
        Handled::Done
    })?;
    let hand_off = verified.hand_off();
    if !opened.contains_key(&hand_off.environment) {
        match Environment::open_for_hand_off(env, &verified).await {
            Ok(scope) => {
                opened.insert(hand_off.environment.clone(), Some(scope));
            }
            // Gone or not ready: nothing to send for it (a deleted
            // environment's deliveries went with it).
            Err(error) if matches!(error.status(), 404 | 409) => {
                worker::console_error!("deliveries queue: {} unavailable: {error:?}", hand_off.environment);
                opened.insert(hand_off.environment.clone(), None);
            }
            // A storage failure: the queue tries again.
            Err(_) => return Err(Handled::Again),
        }
    }
    let scope = match opened.get(&hand_off.environment) {
        Some(Some(scope)) => scope.reopen(env).map_err(|_| Handled::Again)?,
        _ => return Err(Handled::Done),
    };
    match scope.delivery_state(&hand_off.delivery).await {
        Ok(Some(state)) => Ok((verified, scope, state)),
        Ok(None) => {
            worker::console_error!(
                "deliveries queue: message refused: {} has no delivery {}",
                hand_off.environment,
                hand_off.delivery
            );
            Err(Handled::Done)
        }
        Err(_) => Err(Handled::Again),
    }
}

/// One hand-off: checks it is current, honours the integration's breaker,
/// claims the attempt, sends it, records it and schedules what follows.
async fn attempt(env: &Platform, scope: &Environment, hand_off: &HandOff, state: &DeliveryState) -> Handled {
    let now = clock(env, hand_off);
    if state.status != "pending" || state.attempts != hand_off.attempts {
        return Handled::Done; // stale: another hand-off made this attempt
    }
    let due = state.next_attempt_at as u64;
    if due > now + 2_000 {
        // Early (a breaker hold moved it): come back when it is due.
        let delay = ((due - now) / 1000) as u32;
        scope.hand_off(env, &[(hand_off.delivery.clone(), hand_off.attempts)], due, delay.max(1)).await;
        return Handled::Done;
    }
    // Test mode, read from the registry at every attempt: a delivery made before it was
    // turned on, retried, swept or replayed reaches only a listed recipient, or the catch-all,
    // which it then belongs to (its breaker, health and history are the catch-all's).
    let integration = match test_mode_destination(env, scope, state).await {
        Ok(Some(integration)) if integration == state.integration => integration,
        Ok(Some(catch_all)) => match scope.redirect_delivery(&hand_off.delivery, hand_off.attempts, &catch_all).await {
            Ok(true) => catch_all,
            Ok(false) => return Handled::Done, // stale: another hand-off made this attempt
            Err(_) => return Handled::Again,
        },
        Ok(None) => return suppress(env, scope, hand_off).await,
        Err(_) => return Handled::Again,
    };
    let (_, open_until) = match scope.integration_health(&integration).await {
        Ok(health) => health,
        Err(_) => return Handled::Again,
    };
    if open_until > now {
        // The breaker is open: hold without an attempt, and come back then
        // (spread over 30 s, so a recovering receiver is not hit all at once).
        let delay = ((open_until - now) / 1000 + 1) as u32 + jitter() % 30;
        if scope.hold_delivery(&hand_off.delivery, hand_off.attempts, open_until, now).await.is_err() {
            return Handled::Again;
        }
        scope.hand_off(env, &[(hand_off.delivery.clone(), hand_off.attempts)], open_until, delay).await;
        return Handled::Done;
    }
    // The target is read before the claim: a failure on this side costs
    // the receiver no attempt and its breaker no failure.
    let target = match store::encryption_key(env) {
        Ok(key) => scope.webhook_target(&integration, &key).await,
        Err(error) => Err(error),
    };
    let target = match target {
        Ok(target) => target,
        Err(error) => {
            worker::console_error!("integration {} unavailable: {error:?}", state.integration);
            return Handled::Again;
        }
    };
    let claimed = match scope.claim_attempt(&hand_off.delivery, hand_off.attempts, now).await {
        Ok(Some(claimed)) => claimed,
        Ok(None) => return Handled::Done,
        Err(_) => return Handled::Again,
    };
    let started = now_ms();
    let sent = send(scope, target, &claimed).await;
    let latency_ms = now_ms().saturating_sub(started);
    let class = match &sent {
        Sent::Answer { status, .. } => classify(Some(*status)),
        Sent::NoAnswer(_) => AttemptClass::Retryable,
        Sent::Refused(_) => AttemptClass::Final,
    };
    let (status_code, error, retry_after) = match &sent {
        Sent::Answer { status, retry_after } => {
            let error = match class {
                AttemptClass::Delivered => None,
                _ if (300..400).contains(status) => Some("redirect_refused".to_owned()),
                _ => Some(format!("http_status_{status}")),
            };
            (Some(*status), error, *retry_after)
        }
        Sent::NoAnswer(error) | Sent::Refused(error) => (None, Some((*error).to_owned()), None),
    };
    let now = clock(env, hand_off);
    let retry_in = match class {
        AttemptClass::Retryable => match after_failure(claimed.attempt_in_series(), retry_after, jitter()) {
            Next::RetryIn(seconds) => Some(seconds),
            Next::Dead => None,
        },
        _ => None,
    };
    let record = AttemptRecord {
        started_at: now.saturating_sub(latency_ms),
        latency_ms,
        status_code,
        error: error.as_deref(),
        class,
        retry_at: retry_in.map(|seconds| now + u64::from(seconds) * 1000),
    };
    if let Err(error) = scope.record_attempt(&claimed, &record, now).await {
        // The lease runs out and the sweep hands it off again.
        worker::console_error!("delivery {}: attempt not recorded: {error:?}", claimed.id);
        return Handled::Done;
    }
    if let (Some(seconds), Some(at)) = (retry_in, record.retry_at) {
        scope.hand_off(env, &[(claimed.id.clone(), claimed.attempts)], at, seconds).await;
    }
    Handled::Done
}

/// The integration a delivery goes to under the environment's test mode:
/// its own, the catch-all, or none (suppressed).
async fn test_mode_destination(
    env: &Platform,
    scope: &Environment,
    state: &DeliveryState,
) -> Result<Option<String>, crate::error::ApiError> {
    let Some(mode) = store::test_mode(env, scope.name()).await? else { return Ok(Some(state.integration.clone())) };
    let subscriber = SubscriberId::parse(&state.subscriber_id)
        .map_err(|_| crate::error::ApiError::internal("delivery", "stored subscriber id"))?;
    let email =
        if mode.only_to.needs_email(&subscriber) { scope.subscriber_email(&state.subscriber_id).await? } else { None };
    Ok(match mode.destination(&subscriber, email.as_deref()) {
        Destination::Own => Some(state.integration.clone()),
        // A catch-all deleted since suppresses, as at the trigger.
        Destination::CatchAll(catch_all)
            if scope.missing_integrations(std::slice::from_ref(&catch_all)).await?.is_empty() =>
        {
            Some(catch_all)
        }
        Destination::CatchAll(_) | Destination::Suppressed => None,
    })
}

/// Ends a delivery test mode keeps from its recipient without sending it:
/// one final attempt with no request made, logged as suppressed.
async fn suppress(env: &Platform, scope: &Environment, hand_off: &HandOff) -> Handled {
    let now = clock(env, hand_off);
    let claimed = match scope.claim_attempt(&hand_off.delivery, hand_off.attempts, now).await {
        Ok(Some(claimed)) => claimed,
        Ok(None) => return Handled::Done,
        Err(_) => return Handled::Again,
    };
    let record = AttemptRecord {
        started_at: now,
        latency_ms: 0,
        status_code: None,
        error: Some(store::SUPPRESSED_BY_TEST_MODE),
        class: AttemptClass::Final,
        retry_at: None,
    };
    if let Err(error) = scope.record_attempt(&claimed, &record, now).await {
        worker::console_error!("delivery {}: suppression not recorded: {error:?}", claimed.id);
    }
    Handled::Done
}

/// The consumer's clock: the real one; in the test stack never earlier than
/// the hand-off's own clock, so a sweep fired for a given time runs the
/// schedule at that time (see [`store::injected_clock`]).
fn clock(env: &Platform, hand_off: &HandOff) -> u64 {
    if store::clock_injection_enabled(env) {
        now_ms().max(hand_off.at_ms)
    } else {
        now_ms()
    }
}

/// A random number for the schedule's jitter.
fn jitter() -> u32 {
    random::<4>().map(u32::from_le_bytes).unwrap_or(0)
}

/// How sending one attempt went.
enum Sent {
    /// The receiver answered.
    Answer { status: u16, retry_after: Option<u32> },
    /// No answer came (a class: `connection_failed`, `timeout`).
    NoAnswer(&'static str),
    /// Not sent, and sending again would not help (`address_refused`, …).
    Refused(&'static str),
}

/// Checks the target (gone, or in a private network) and POSTs the delivery once, signed.
/// A production-type environment sends nothing unsigned: an integration without a secret
/// there (its URL changed by a promotion, which drops the old receiver's) holds its
/// deliveries, retried on the schedule, until one is set.
async fn send(scope: &Environment, target: Option<store::WebhookTarget>, delivery: &ClaimedDelivery) -> Sent {
    let Some(target) = target else { return Sent::Refused("integration_missing") };
    if link::check_webhook_target(&target.url, scope.environment_type()).is_err() {
        return Sent::Refused("address_refused");
    }
    if target.signing_secret.is_none() && scope.environment_type() == EnvironmentType::Production {
        return Sent::NoAnswer("integration_unsigned");
    }
    post(&target.url, target.signing_secret.as_deref(), delivery).await
}

/// One signed POST with a timeout, redirects not followed.
async fn post(url: &str, secret: Option<&str>, delivery: &ClaimedDelivery) -> Sent {
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).is_ok();
    let mut ok = set("Content-Type", "application/json")
        && set("User-Agent", "Tidings-Webhooks/1")
        && set("Tidings-Delivery-Id", &delivery.id)
        && set("Tidings-Transaction-Id", &delivery.transaction_id)
        && set("Tidings-Delivery-Attempt", &delivery.attempts.to_string());
    if let Some(secret) = secret {
        ok &= set(SIGNATURE_HEADER, &webhook::signature(secret, now_ms() / 1000, &delivery.body));
    }
    if !ok {
        return Sent::Refused("request_refused");
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&delivery.body)))
        .with_redirect(RequestRedirect::Manual);
    let request = match Request::new_with_init(url, &init) {
        Ok(request) => request,
        Err(error) => {
            worker::console_error!("delivery {}: bad request: {error}", delivery.id);
            return Sent::Refused("request_refused");
        }
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Box::pin(Delay::from(Duration::from_millis(REQUEST_TIMEOUT_MS)));
    let outcome = match select(sending, timeout).await {
        Either::Left((result, _)) => Some(result),
        Either::Right(_) => None,
    };
    let sent = match outcome {
        Some(Ok(response)) => {
            let retry_after =
                response.headers().get("Retry-After").ok().flatten().as_deref().and_then(parse_retry_after);
            Sent::Answer { status: response.status_code(), retry_after }
        }
        Some(Err(error)) => {
            worker::console_error!("delivery {}: no response: {error}", delivery.id);
            Sent::NoAnswer("connection_failed")
        }
        None => {
            controller.abort();
            Sent::NoAnswer("timeout")
        }
    };
    sent
}
