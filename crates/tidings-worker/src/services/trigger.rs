//! Trigger orchestration: everything a trigger does once it is validated,
//! whoever sent it (`POST /v1/events/trigger`, its bulk form, or a member's
//! test send from the console). It runs the workflow for every recipient
//! (profiles, preferences, variables, integrations), stores the messages and
//! webhook deliveries in one transaction (through the idempotency key when
//! there is one), logs refusals, and after the answer sends the deliveries
//! and tells the recipients' realtime sockets.

use std::collections::BTreeSet;

use tidings_core::link;
use tidings_core::message::{MessageId, RecipientIds};
use tidings_core::preferences::Preferences;
use tidings_core::schema;
use tidings_core::subscriber::SubscriberId;
use tidings_core::test_mode::Suppressed;
use tidings_core::trigger::{self, TriggerError, ValidTrigger};
use tidings_core::variables;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{TriggerResponse, TriggeredDelivery, TriggeredMessage};
use tidings_core::workflow::Workflow;
use worker::Context;

use crate::delivery;
use crate::error::{ApiError, ApiResult};
use crate::http::json_text;
use crate::platform::{now_ms, random, random_ids};
use crate::services::fanout;
use crate::services::idempotent::{self, Claimed};
use crate::store::{self, Platform};
use crate::store::{AuditRecord, Delivery, Environment, KeyHome, KeyedAnswer, PageStep};

/// The status of a processed trigger: accepted, every message durably stored.
pub const ACCEPTED: u16 = 202;

/// Runs a trigger in an environment opened another way than by its key:
/// the console's test send, after the member's permission was checked,
/// with its audit entry written in the trigger's transaction.
pub async fn trigger_in(
    scope: &Environment,
    env: &Platform,
    ctx: &Context,
    valid: &ValidTrigger,
    audit: &AuditRecord<'_>,
) -> ApiResult {
    let ran = run(env, scope, valid, Job { audit: Some(audit), ..Job::default() }, now_ms()).await?;
    follow_up(env, ctx, scope, ran.follow_up);
    Ok(json_text(ran.body, ACCEPTED))
}

/// A trigger's answer: status, JSON text, whether it replays an earlier one,
/// and what to do once it is sent.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON text of the answer.
    pub body: String,
    /// Whether it replays an earlier answer.
    pub replay: bool,
    /// What to do once it is sent.
    pub follow_up: FollowUp,
}

/// Work after a trigger committed: webhook deliveries to send, feeds whose
/// realtime sockets should hear of their new messages.
#[derive(Default)]
pub struct FollowUp {
    /// The webhook deliveries this run created (each pending, no attempt made yet).
    webhooks: Vec<String>,
    feeds: Vec<SubscriberId>,
}

/// Runs one validated trigger, through its idempotency key when it has one.
pub async fn process(
    env: &Platform,
    scope: &Environment,
    valid: &ValidTrigger,
    key: Option<(&str, &str)>,
    now: u64,
) -> ApiResult<Answer> {
    let Some((key, hash)) = key else {
        let ran = run(env, scope, valid, Job::default(), now).await?;
        return Ok(Answer { status: ACCEPTED, body: ran.body, replay: false, follow_up: ran.follow_up });
    };
    let fresh = trigger::transaction_id(now, random()?);
    match idempotent::claim(scope, KeyHome::Primary, key.to_owned(), hash, Some(&fresh), now).await? {
        Claimed::Mine(ticket) => {
            let job = Job {
                claim: Some(ticket.claim()),
                transaction_id: Some(ticket.transaction_id().unwrap_or(&fresh)),
                ..Job::default()
            };
            let ran = run(env, scope, valid, job, now).await;
            let ran = ticket.settle(scope, ran).await?;
            Ok(Answer { status: ACCEPTED, body: ran.body, replay: false, follow_up: ran.follow_up })
        }
        Claimed::Replay(status, body) => Ok(Answer { status, body, replay: true, follow_up: FollowUp::default() }),
    }
}

/// Writes one page of a fan-out: the trigger run for the page's recipients
/// under the fan-out's transaction id, committed only with the cursor's
/// move ([`PageStep`]). Answers the work to do after it.
pub async fn run_page(
    env: &Platform,
    scope: &Environment,
    valid: &ValidTrigger,
    page: PageStep<'_>,
    now: u64,
) -> ApiResult<FollowUp> {
    Ok(run(env, scope, valid, Job { page: Some(page), ..Job::default() }, now).await?.follow_up)
}

/// How a run is stored besides its messages.
#[derive(Default)]
struct Job<'a> {
    /// The idempotency key claimed for it, and the claim.
    claim: Option<(&'a str, &'a str)>,
    /// The audit entry of a member's test send.
    audit: Option<&'a AuditRecord<'a>>,
    /// The fan-out page it writes, if it is one.
    page: Option<PageStep<'a>>,
    /// The transaction its idempotency key ran as before, if it did.
    transaction_id: Option<&'a str>,
}

async fn run(env: &Platform, scope: &Environment, valid: &ValidTrigger, job: Job<'_>, now: u64) -> ApiResult<Ran> {
    let Job { claim, audit, page, transaction_id } = job;
    let transaction_id = match (&page, transaction_id) {
        (Some(page), _) => page.transaction_id.to_owned(),
        (None, Some(keyed)) => keyed.to_owned(),
        (None, None) => trigger::transaction_id(now, random()?),
    };
    // A fan-out's pages render the version it was accepted with, whatever happened to the workflow
    // since; a workflow deleted and made again under its key is another (not found, as deleted).
    let found = match &page {
        Some(page) => scope.workflow_at(&valid.workflow, page.workflow_version, page.workflow_created_at).await?,
        None => scope.workflow_version(&valid.workflow).await?,
    };
    let Some(found) = found else {
        let error = ApiError::new(
            404,
            ErrorCode::WorkflowNotFound,
            format!("the {} environment has no workflow {:?}", scope.name(), valid.workflow),
        )
        .with_field("workflow");
        return Err(log_refusal(scope, &transaction_id, &valid.workflow, error, now).await);
    };
    let version = found.version;
    // When the workflow read was created: a fan-out renders that workflow only.
    let workflow_created_at = tidings_core::timestamp::parse(&found.created_at);
    let workflow = Workflow { key: found.key, definition: found.definition };
    let mut profiles = scope.template_profiles(&valid.recipients).await?;
    let given: BTreeSet<&SubscriberId> = valid.profiles.iter().map(|(id, _)| id).collect();
    let bare_new: Vec<SubscriberId> = valid
        .recipients
        .iter()
        .filter(|id| !given.contains(id) && !profiles.contains_key(id.as_str()))
        .cloned()
        .collect();
    for (id, profile) in &valid.profiles {
        profiles.insert(id.to_string(), profile.to_json(id));
    }
    // Variables cost a read only for workflows whose templates use them.
    let uses_variables = serde_json::to_value(&workflow.definition)
        .is_ok_and(|definition| !variables::referenced(&definition).is_empty());
    let variables = if uses_variables { scope.variable_values().await? } else { serde_json::json!({}) };
    let allows_http = link::allows_http(scope.environment_type());
    if !valid.topics.is_empty() {
        // What every member would get alike is refused now, as for a trigger to subscribers.
        if let Err(error) = trigger::check_shared(&workflow, valid, &variables, allows_http) {
            return Err(log_refusal(scope, &transaction_id, &valid.workflow, error.into(), now).await);
        }
        let accepted = fanout::Accept {
            workflow: &workflow,
            version,
            workflow_created_at,
            transaction_id: &transaction_id,
            created: &bare_new,
        };
        let body = match fanout::accept(env, scope, valid, accepted, claim, audit, now).await? {
            Ok(body) => body,
            Err(refusal) => return Err(log_refusal(scope, &transaction_id, &valid.workflow, refusal, now).await),
        };
        return Ok(Ran { body, follow_up: FollowUp::default() });
    }
    let (preferences, defaults) = scope.preferences_of(&valid.recipients, Some(&valid.workflow)).await?;
    let nobody = Preferences::default();
    // One id per message, per webhook delivery, per skipped step and per
    // suppressed delivery: at most two per step and recipient, plus the in-app message.
    let ids_needed = valid.recipients.len() * (2 * workflow.definition.steps.len() + 1);
    let mut supply = random_ids(ids_needed)?.into_iter();
    let profile_of = |id: &SubscriberId| profiles.get(id.as_str()).cloned().unwrap_or_else(|| serde_json::json!({}));
    let allows = |id: &SubscriberId, channel| {
        preferences.get(id.as_str()).unwrap_or(&nobody).allows_over(&defaults, &workflow.key, channel)
    };
    let encryption_key = store::encryption_key(env).ok();
    let message_ids = RecipientIds::new(encryption_key.as_ref(), &transaction_id);
    let compose = |trigger: &ValidTrigger, next_id: &mut dyn FnMut() -> [u8; 10]| {
        trigger::compose(trigger, &workflow, &variables, &message_ids, now, allows_http, profile_of, allows, next_id)
    };
    let mut next_id = || supply.next().unwrap_or_default();
    let mut refused: Vec<(SubscriberId, TriggerError)> = Vec::new();
    let composed = match compose(valid, &mut next_id) {
        // One recipient's profile must not stop a broadcast: a page refuses only whom it fails for.
        Err(error) if page.is_some() && error.may_concern_one_recipient() => {
            let mut kept = Vec::new();
            for recipient in &valid.recipients {
                let one = ValidTrigger { recipients: vec![recipient.clone()], ..valid.clone() };
                match compose(&one, &mut || [0; 10]) {
                    Ok(_) => kept.push(recipient.clone()),
                    Err(error) => refused.push((recipient.clone(), error)),
                }
            }
            if kept.is_empty() {
                Err(error)
            } else {
                compose(&ValidTrigger { recipients: kept, ..valid.clone() }, &mut next_id)
            }
        }
        other => other,
    };
    let mut composed = match composed {
        Ok(composed) => composed,
        Err(error) => return Err(log_refusal(scope, &transaction_id, &valid.workflow, error.into(), now).await),
    };
    let refused: Vec<(MessageId, &SubscriberId, serde_json::Value)> = refused
        .iter()
        .map(|(subscriber, error)| {
            let error = ApiError::from(error.clone());
            let detail = serde_json::json!({"code": error.code().as_str(), "message": error.message()});
            (MessageId::generate(now, supply.next().unwrap_or_default()), subscriber, detail)
        })
        .collect();
    // Test mode keeps external deliveries from recipients it does not list (the feed is untouched),
    // read from the registry where there is a delivery to route.
    let mode = if composed.webhooks.is_empty() { None } else { crate::store::test_mode(env, scope.name()).await? };
    // One read for every integration the trigger may post to: its steps' and the catch-all.
    let mut integrations: Vec<String> = composed.webhooks.iter().map(|job| job.integration.clone()).collect();
    integrations.extend(mode.as_ref().and_then(|mode| mode.catch_all.clone()));
    integrations.sort();
    integrations.dedup();
    let missing = if integrations.is_empty() { vec![] } else { scope.missing_integrations(&integrations).await? };
    let suppressed: Vec<(MessageId, Suppressed)> = match mode {
        Some(mut mode) => {
            // A catch-all that no longer exists suppresses instead: it never costs the feed its messages.
            if mode.catch_all.as_ref().is_some_and(|catch_all| missing.contains(catch_all)) {
                mode.catch_all = None;
            }
            let email_of = |id: &SubscriberId| {
                profiles.get(id.as_str()).and_then(|profile| profile["email"].as_str()).map(str::to_owned)
            };
            let (kept, suppressed) = mode.route(std::mem::take(&mut composed.webhooks), email_of);
            composed.webhooks = kept;
            suppressed
                .into_iter()
                .map(|one| (MessageId::generate(now, supply.next().unwrap_or_default()), one))
                .collect()
        }
        None => Vec::new(),
    };
    // Only what is still to be sent must exist.
    let missing: Vec<String> =
        missing.into_iter().filter(|name| composed.webhooks.iter().any(|job| &job.integration == name)).collect();
    if !missing.is_empty() {
        let error = ApiError::new(
            422,
            ErrorCode::IntegrationNotFound,
            format!("the workflow uses integrations this environment lacks: {}", missing.join(", ")),
        )
        .with_field("workflow");
        return Err(log_refusal(scope, &transaction_id, &valid.workflow, error, now).await);
    }
    let answer = TriggerResponse {
        transaction_id: transaction_id.clone(),
        status: "processed".to_owned(),
        messages: composed
            .messages
            .iter()
            .map(|message| TriggeredMessage {
                id: message.id.to_string(),
                subscriber_id: message.subscriber.to_string(),
            })
            .collect(),
        created_subscribers: bare_new.iter().map(ToString::to_string).collect(),
        deliveries: composed
            .webhooks
            .iter()
            .map(|job| TriggeredDelivery {
                id: job.id.to_string(),
                subscriber_id: job.subscriber.to_string(),
                integration: job.integration.clone(),
            })
            .collect(),
    };
    let text = serde_json::to_string(&answer).map_err(|error| ApiError::internal("serialize trigger answer", error))?;
    let skipped: Vec<(MessageId, &SubscriberId, &'static str)> = composed
        .skipped
        .iter()
        .map(|(subscriber, channel)| {
            (MessageId::generate(now, supply.next().unwrap_or_default()), subscriber, channel.as_str())
        })
        .collect();
    // What is personal is decided now, with the schema the message was written under.
    let personal_paths = workflow.definition.payload_schema.as_ref().map(schema::personal_paths).unwrap_or_default();
    let delivery = Delivery {
        skipped: &skipped,
        suppressed: &suppressed,
        refused: &refused,
        profiles: &valid.profiles,
        // A fan-out's recipients exist (direct ones were created when it was accepted): one deleted
        // since is not created again.
        bare_recipients: if page.is_some() { &[] } else { &valid.recipients },
        messages: &composed.messages,
        webhooks: &composed.webhooks,
        workflow: &workflow.key,
        transaction_id: &transaction_id,
        payload: &valid.payload,
        idempotency: claim.map(|(key, claim_id)| KeyedAnswer { key, claim_id, status: ACCEPTED, body: text.as_str() }),
        audit,
        personal_paths: &personal_paths,
        page,
    };
    scope.deliver(delivery, now).await?;
    let webhooks = composed.webhooks.iter().map(|job| job.id.to_string()).collect();
    let feeds = composed.messages.iter().map(|message| message.subscriber.clone()).collect();
    Ok(Ran { body: text, follow_up: FollowUp { webhooks, feeds } })
}

/// What running a trigger produced: the answer, and the work after it.
struct Ran {
    body: String,
    follow_up: FollowUp,
}

/// After the answer: hands a transaction's pending webhook deliveries to
/// the queue (the sweep finds them if this never runs), and
/// tells the recipients' realtime sockets about their new messages.
pub fn follow_up(env: &Platform, ctx: &Context, scope: &Environment, follow_up: FollowUp) {
    if !follow_up.feeds.is_empty() {
        match scope.reopen(env) {
            Ok(scope) => {
                let env = env.clone();
                ctx.wait_until(async move { scope.announce(&env, &follow_up.feeds).await });
            }
            Err(error) => worker::console_error!("realtime announcement skipped: {error:?}"),
        }
    }
    if follow_up.webhooks.is_empty() {
        return;
    }
    let fault = scope.hand_off_fault();
    match scope.reopen(env) {
        Ok(scope) => ctx.wait_until(delivery::hand_off_new(env.clone(), scope, follow_up.webhooks, fault)),
        Err(error) => worker::console_error!("deliveries wait for the sweep: {error:?}"),
    }
}

/// Records a trigger refused after validation (unknown workflow, payload or
/// template failure) in the execution log, and returns the refusal.
async fn log_refusal(scope: &Environment, transaction_id: &str, workflow: &str, error: ApiError, now: u64) -> ApiError {
    if let Ok(random) = random() {
        let id = MessageId::generate(now, random);
        scope.log_failure(id.as_str(), transaction_id, workflow, error.code().as_str(), error.message(), now).await;
    }
    error
}
