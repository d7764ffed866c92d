//! Triggers: a server asks for a workflow to run for some subscribers.

use serde_json::{json, Value};

use crate::message::{Message, MessageId, RecipientIds, ID_RANDOM_BYTES};
use std::collections::BTreeSet;

use crate::link::{self, LinkError};
use crate::preferences::Channel;
use crate::profile::{self, Profile, ProfileError};
use crate::schema::{self, Violation};
use crate::subscriber::{SubscriberError, SubscriberId};
use crate::topic::{self, TopicError, TopicKey};
use crate::wire::{ErrorCode, Recipient, Recipients, TopicRecipient, TriggerRequest};
use crate::workflow::{self, RenderedInApp, Workflow, WorkflowError};

/// The most recipients one trigger may name.
pub const MAX_RECIPIENTS: usize = 1_000;

/// The largest payload a trigger carries, as JSON text.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// How much payload one trigger may render: its size as JSON text times
/// the recipients it names. Bounds the worker's memory and time for one
/// request (each recipient's templates read the whole payload), and a
/// fan-out's page ([`crate::topic::page_size_for`]).
pub const MAX_PAYLOAD_WORK_BYTES: usize = 16 * 1024 * 1024;
/// The longest rendered in-app subject, avatar URL, action label or URL.
pub const MAX_RENDERED_LINE_BYTES: usize = 4 * 1024;
/// The longest rendered in-app body.
pub const MAX_RENDERED_BODY_BYTES: usize = 64 * 1024;
/// The longest rendered webhook body.
pub const MAX_RENDERED_WEBHOOK_BYTES: usize = 256 * 1024;

/// Why a trigger request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TriggerError {
    /// The workflow key is malformed.
    #[error("{0}")]
    Workflow(WorkflowError),
    /// `to` is empty.
    #[error("a trigger needs at least one recipient")]
    NoRecipients,
    /// `to` names more than [`topic::MAX_TOPICS_PER_TRIGGER`] topics.
    #[error("a trigger may name at most {} topics", topic::MAX_TOPICS_PER_TRIGGER)]
    TooManyTopics,
    /// One topic key is invalid.
    #[error("recipient {index}: {source}")]
    Topic {
        /// Position in `to`.
        index: usize,
        /// What is wrong with it.
        source: TopicError,
    },
    /// `to` names more than [`MAX_RECIPIENTS`] subscribers.
    #[error("a trigger may name at most {MAX_RECIPIENTS} recipients; use the bulk route for more")]
    TooManyRecipients,
    /// One recipient id is invalid.
    #[error("recipient {index}: {source}")]
    Recipient {
        /// Position in `to`.
        index: usize,
        /// What is wrong with it.
        source: SubscriberError,
    },
    /// One recipient object's profile is invalid.
    #[error("recipient {index}: {source}")]
    RecipientProfile {
        /// Position in `to`.
        index: usize,
        /// What is wrong with it.
        source: ProfileError,
    },
    /// `payload` or `actor` is present but not a JSON object.
    #[error("{0} must be a JSON object")]
    NotAnObject(&'static str),
    /// The payload breaks the workflow's payload schema.
    #[error("the payload does not match the workflow's schema: {0}")]
    Payload(Violation),
    /// The workflow has nothing to deliver.
    #[error("the workflow has no in_app step")]
    NoInAppStep,
    /// A template could not be rendered for this trigger.
    #[error("{0}")]
    Render(WorkflowError),
    /// The payload is larger than [`MAX_PAYLOAD_BYTES`], or than
    /// [`MAX_PAYLOAD_WORK_BYTES`] shared among the recipients.
    #[error("the payload is {bytes} bytes as JSON; {limit}")]
    PayloadTooLarge {
        /// Its size as JSON text.
        bytes: usize,
        /// The limit it passes, in words.
        limit: String,
    },
    /// A template rendered more than its field may hold.
    #[error("step {step}, {field}: rendered {bytes} bytes, more than {limit}")]
    RenderedTooLarge {
        /// `in_app` or `webhook N`.
        step: String,
        /// The field.
        field: String,
        /// What it rendered.
        bytes: usize,
        /// Its limit.
        limit: usize,
    },
    /// A rendered link (avatar or action URL) is not one a feed may carry.
    #[error("step in_app, {field}: the rendered URL {source}")]
    UnsafeLink {
        /// `avatar`, `actions.0.url`, …
        field: String,
        /// Why it is refused.
        source: LinkError,
    },
}

impl TriggerError {
    /// The HTTP status and API code of this refusal: one mapping for the
    /// worker and the console.
    pub fn status_and_code(&self) -> (u16, ErrorCode) {
        match self {
            Self::Render(_) => (422, ErrorCode::TemplateRenderFailed),
            Self::UnsafeLink { .. } => (422, ErrorCode::UnsafeLink),
            Self::Payload(_) => (422, ErrorCode::PayloadInvalid),
            Self::PayloadTooLarge { .. } => (413, ErrorCode::PayloadTooLarge),
            Self::RenderedTooLarge { .. } => (422, ErrorCode::TemplateRenderFailed),
            _ => (400, ErrorCode::ValidationFailed),
        }
    }

    /// Whether it can be one recipient's alone (their profile rendered into
    /// a template or a link), rather than the whole trigger's.
    pub fn may_concern_one_recipient(&self) -> bool {
        matches!(self, Self::Render(_) | Self::UnsafeLink { .. } | Self::RenderedTooLarge { .. })
    }

    /// The request field at fault, as a dotted path.
    pub fn field(&self) -> String {
        match self {
            Self::Workflow(_) => "workflow".to_owned(),
            Self::NoRecipients | Self::TooManyRecipients | Self::TooManyTopics => "to".to_owned(),
            Self::Recipient { index, .. } => format!("to.{index}"),
            Self::Topic { index, .. } => format!("to.{index}.topic"),
            Self::RecipientProfile { index, source } => format!("to.{index}.{}", source.field()),
            Self::NotAnObject(field) => (*field).to_owned(),
            Self::Render(_)
            | Self::UnsafeLink { .. }
            | Self::RenderedTooLarge { .. }
            | Self::PayloadTooLarge { .. } => "payload".to_owned(),
            Self::NoInAppStep => "workflow".to_owned(),
            Self::Payload(violation) => violation.path.clone(),
        }
    }
}

/// A trigger whose every field has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTrigger {
    /// The workflow key.
    pub workflow: String,
    /// Distinct recipients, in the order given.
    pub recipients: Vec<SubscriberId>,
    /// Distinct topics whose members also receive it, in the order given;
    /// a trigger with topics is fanned out ([`crate::topic`]).
    pub topics: Vec<TopicKey>,
    /// Profiles given as recipient objects, to store before delivering.
    pub profiles: Vec<(SubscriberId, Profile)>,
    /// The payload object (empty when none was sent).
    pub payload: Value,
    /// The actor object, if any.
    pub actor: Option<Value>,
}

/// Checks a trigger request.
pub fn validate(request: TriggerRequest) -> Result<ValidTrigger, TriggerError> {
    workflow::validate_key(&request.workflow).map_err(TriggerError::Workflow)?;
    let given = match request.to {
        Recipients::One(id) => vec![Recipient::Id(id)],
        Recipients::Many(recipients) => recipients,
    };
    if given.is_empty() {
        return Err(TriggerError::NoRecipients);
    }
    if given.len() > MAX_RECIPIENTS {
        return Err(TriggerError::TooManyRecipients);
    }
    let mut recipients: Vec<SubscriberId> = Vec::with_capacity(given.len());
    let mut seen = BTreeSet::new();
    let mut profiles = Vec::new();
    let mut topics: Vec<TopicKey> = Vec::new();
    for (index, recipient) in given.into_iter().enumerate() {
        let id = match recipient {
            Recipient::Topic(TopicRecipient { topic }) => {
                let key = TopicKey::parse(&topic).map_err(|source| TriggerError::Topic { index, source })?;
                if !topics.contains(&key) {
                    topics.push(key);
                }
                continue;
            }
            Recipient::Id(id) => {
                SubscriberId::parse(&id).map_err(|source| TriggerError::Recipient { index, source })?
            }
            Recipient::Subscriber(input) => {
                let (id, profile) = profile::validate(input, None)
                    .map_err(|source| TriggerError::RecipientProfile { index, source })?;
                profiles.push((id.clone(), profile));
                id
            }
        };
        if seen.insert(id.clone()) {
            recipients.push(id);
        }
    }
    let payload = match request.payload {
        None | Some(Value::Null) => json!({}),
        Some(object @ Value::Object(_)) => object,
        Some(_) => return Err(TriggerError::NotAnObject("payload")),
    };
    let actor = match request.actor {
        None | Some(Value::Null) => None,
        Some(object @ Value::Object(_)) => Some(object),
        Some(_) => return Err(TriggerError::NotAnObject("actor")),
    };
    if topics.len() > topic::MAX_TOPICS_PER_TRIGGER {
        return Err(TriggerError::TooManyTopics);
    }
    check_payload_size(&payload, recipients.len())?;
    Ok(ValidTrigger { workflow: request.workflow, recipients, topics, profiles, payload, actor })
}

/// Refuses a payload over [`MAX_PAYLOAD_BYTES`], or one that `recipients`
/// would render more than [`MAX_PAYLOAD_WORK_BYTES`] of.
pub fn check_payload_size(payload: &Value, recipients: usize) -> Result<(), TriggerError> {
    let bytes = payload.to_string().len();
    if bytes > MAX_PAYLOAD_BYTES {
        let limit = format!("a payload is at most {MAX_PAYLOAD_BYTES} bytes");
        return Err(TriggerError::PayloadTooLarge { bytes, limit });
    }
    if bytes.saturating_mul(recipients) > MAX_PAYLOAD_WORK_BYTES {
        let most = MAX_PAYLOAD_WORK_BYTES / bytes.max(1);
        let limit = format!(
            "one trigger sends a payload this large to at most {most} recipients (fewer recipients, or a topic)"
        );
        return Err(TriggerError::PayloadTooLarge { bytes, limit });
    }
    Ok(())
}

/// Makes the id of one trigger request, shared by all its messages.
pub fn transaction_id(now_ms: u64, random: [u8; ID_RANDOM_BYTES]) -> String {
    format!("tx_{}", MessageId::generate(now_ms, random))
}

/// When a transaction was made (Unix ms), from its id; `None` for text
/// that is no transaction id.
pub fn transaction_time(id: &str) -> Option<u64> {
    id.strip_prefix("tx_").and_then(|id| MessageId::parse(id).ok()).map(|id| id.time_ms())
}

/// Whether `text` has the form of a transaction id ([`transaction_id`]).
pub fn is_transaction_id(text: &str) -> bool {
    text.strip_prefix("tx_").is_some_and(|id| MessageId::parse(id).is_ok())
}

/// A webhook POST to make for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookJob {
    /// The delivery's id (time-ordered).
    pub id: MessageId,
    /// The recipient.
    pub subscriber: SubscriberId,
    /// The integration to POST to.
    pub integration: String,
    /// The rendered JSON body.
    pub body: String,
}

/// What a trigger produces: feed messages and webhook deliveries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Composed {
    /// One in-app message per recipient, when the workflow has an in-app step.
    pub messages: Vec<Message>,
    /// One delivery per recipient and webhook step.
    pub webhooks: Vec<WebhookJob>,
    /// Steps left out because the recipient turned the channel off.
    pub skipped: Vec<(SubscriberId, Channel)>,
}

/// Renders every step for every recipient. `variables` are the
/// environment's variables (`vars.NAME` in templates); `profile` gives each
/// recipient's profile as templates see it (`subscriber.first_name`, …);
/// `random` supplies the random part of each message and delivery id.
/// Rendered links must be https (http too where `allows_http`: development)
/// or relative ([`link::check_link`]).
// Each argument comes from a different place (request, storage, clock,
// randomness); a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn compose(
    trigger: &ValidTrigger,
    workflow: &Workflow,
    variables: &Value,
    ids: &RecipientIds<'_>,
    now_ms: u64,
    allows_http: bool,
    profile: impl Fn(&SubscriberId) -> Value,
    allows: impl Fn(&SubscriberId, Channel) -> bool,
    mut random: impl FnMut() -> [u8; ID_RANDOM_BYTES],
) -> Result<Composed, TriggerError> {
    if let Some(schema) = &workflow.definition.payload_schema {
        schema::validate(schema, &trigger.payload).map_err(TriggerError::Payload)?;
    }
    let in_app = workflow.in_app_renderer().map_err(TriggerError::Render)?;
    let webhooks = workflow.webhook_renderer().map_err(TriggerError::Render)?;
    if in_app.is_none() && webhooks.is_empty() {
        return Err(TriggerError::NoInAppStep);
    }
    let mut composed = Composed::default();
    let attachments = workflow.attachments();
    for subscriber in &trigger.recipients {
        let context = recipient_context(trigger, subscriber, profile(subscriber), variables);
        if in_app.is_some() && !allows(subscriber, Channel::InApp) {
            composed.skipped.push((subscriber.clone(), Channel::InApp));
        } else if let Some(renderer) = &in_app {
            let rendered = renderer.render(&context).map_err(TriggerError::Render)?;
            check_rendered_size(&rendered)?;
            check_links(&rendered, allows_http)?;
            composed.messages.push(Message {
                id: ids.of(subscriber),
                subscriber: subscriber.clone(),
                workflow: workflow.key.clone(),
                transaction_id: ids.transaction_id().to_owned(),
                subject: rendered.subject,
                body: rendered.body,
                avatar: rendered.avatar,
                actions: rendered.actions,
                tags: workflow.definition.tags.clone(),
                // Stored once with the transaction (the delivery's payload), not with each message.
                payload: Value::Null,
                created_at: now_ms,
                seen_at: None,
                read_at: None,
                archived_at: None,
                attachments: attachments.clone(),
            });
        }
        if !webhooks.is_empty() && !allows(subscriber, Channel::Webhook) {
            composed.skipped.push((subscriber.clone(), Channel::Webhook));
            continue;
        }
        for index in 0..webhooks.len() {
            let (integration, body) = webhooks.render(index, &context).map_err(TriggerError::Render)?;
            if body.len() > MAX_RENDERED_WEBHOOK_BYTES {
                return Err(TriggerError::RenderedTooLarge {
                    step: format!("webhook {index}"),
                    field: "body".to_owned(),
                    bytes: body.len(),
                    limit: MAX_RENDERED_WEBHOOK_BYTES,
                });
            }
            composed.webhooks.push(WebhookJob {
                id: MessageId::generate(now_ms, random()),
                subscriber: subscriber.clone(),
                integration,
                body,
            });
        }
    }
    Ok(composed)
}

/// What the first recipient of a trigger would receive: rendered, checked
/// against the payload schema, never stored. The console's live preview runs
/// this in the browser, compiled to wasm, so it shows exactly what a trigger
/// would send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preview {
    /// The in-app notification, when the workflow has an in-app step.
    pub in_app: Option<RenderedInApp>,
    /// Each webhook step's integration and rendered JSON body.
    pub webhooks: Vec<(String, String)>,
}

/// Renders `workflow` for the first recipient of `trigger`, whose profile is
/// the one the trigger gives (or just the id); `variables` stand for the
/// environment's variables.
pub fn preview(workflow: &Workflow, trigger: &ValidTrigger, variables: &Value) -> Result<Preview, TriggerError> {
    if let Some(schema) = &workflow.definition.payload_schema {
        schema::validate(schema, &trigger.payload).map_err(TriggerError::Payload)?;
    }
    let subscriber = trigger.recipients.first().ok_or(TriggerError::NoRecipients)?;
    let profile = trigger
        .profiles
        .iter()
        .find(|(id, _)| id == subscriber)
        .map_or_else(|| json!({}), |(id, profile)| profile.to_json(id));
    let context = recipient_context(trigger, subscriber, profile, variables);
    let in_app = workflow.render_in_app(&context).map_err(TriggerError::Render)?;
    if let Some(rendered) = &in_app {
        check_links(rendered, true)?;
    }
    let renderer = workflow.webhook_renderer().map_err(TriggerError::Render)?;
    let webhooks = (0..renderer.len())
        .map(|index| renderer.render(index, &context).map_err(TriggerError::Render))
        .collect::<Result<Vec<_>, _>>()?;
    if in_app.is_none() && webhooks.is_empty() {
        return Err(TriggerError::NoInAppStep);
    }
    Ok(Preview { in_app, webhooks })
}

/// Checks what every recipient of a trigger to topics would get alike,
/// before it is accepted: the in-app templates that read nothing of the
/// recipient (they never name `subscriber`) render from the payload, the
/// actor and the variables alone, so a trigger that fails one of them (a
/// value it lacks, an unsafe link) is refused at once, as a trigger to
/// subscribers is, instead of failing its fan-out afterwards. Templates
/// that read the recipient are rendered for each as the fan-out's pages go.
/// The payload is checked against the workflow's schema first, as always.
pub fn check_shared(
    workflow: &Workflow,
    trigger: &ValidTrigger,
    variables: &Value,
    allows_http: bool,
) -> Result<(), TriggerError> {
    if let Some(schema) = &workflow.definition.payload_schema {
        schema::validate(schema, &trigger.payload).map_err(TriggerError::Payload)?;
    }
    let context = render_context(trigger, json!({}), variables);
    for (field, text) in workflow.render_shared_in_app(&context).map_err(TriggerError::Render)? {
        // An empty avatar is no avatar, as when rendered for a recipient.
        let link = field.ends_with(".url") || (field == "avatar" && !text.is_empty());
        if link {
            link::check_link(&text, allows_http)
                .map_err(|source| TriggerError::UnsafeLink { field: field.clone(), source })?;
        }
        check_field_size(field, &text)?;
    }
    Ok(())
}

/// Refuses an in-app step whose rendered fields pass their sizes.
fn check_rendered_size(rendered: &RenderedInApp) -> Result<(), TriggerError> {
    let lines = [("subject".to_owned(), &rendered.subject)]
        .into_iter()
        .chain(rendered.avatar.iter().map(|avatar| ("avatar".to_owned(), avatar)))
        .chain(rendered.actions.iter().enumerate().flat_map(|(index, action)| {
            [(format!("actions.{index}.label"), &action.label), (format!("actions.{index}.url"), &action.url)]
        }));
    for (field, text) in lines {
        check_field_size(field, text)?;
    }
    check_field_size("body".to_owned(), &rendered.body)
}

/// Refuses one rendered in-app field (`body`, or a line: the subject, the
/// avatar, an action's label or URL) past its size.
fn check_field_size(field: String, text: &str) -> Result<(), TriggerError> {
    let limit = if field == "body" { MAX_RENDERED_BODY_BYTES } else { MAX_RENDERED_LINE_BYTES };
    if text.len() > limit {
        return Err(TriggerError::RenderedTooLarge { step: "in_app".to_owned(), field, bytes: text.len(), limit });
    }
    Ok(())
}

/// Refuses a rendered avatar or action URL a feed may not carry.
fn check_links(rendered: &RenderedInApp, allows_http: bool) -> Result<(), TriggerError> {
    let avatar = rendered.avatar.iter().map(|url| ("avatar".to_owned(), url));
    let actions =
        rendered.actions.iter().enumerate().map(|(index, action)| (format!("actions.{index}.url"), &action.url));
    for (field, url) in avatar.chain(actions) {
        link::check_link(url, allows_http).map_err(|source| TriggerError::UnsafeLink { field, source })?;
    }
    Ok(())
}

fn recipient_context(trigger: &ValidTrigger, subscriber: &SubscriberId, profile: Value, variables: &Value) -> Value {
    let mut subscriber_context = profile;
    if let Value::Object(map) = &mut subscriber_context {
        map.insert("id".to_owned(), Value::from(subscriber.as_str()));
        map.insert("subscriber_id".to_owned(), Value::from(subscriber.as_str()));
    } else {
        subscriber_context = json!({"id": subscriber.as_str(), "subscriber_id": subscriber.as_str()});
    }
    render_context(trigger, subscriber_context, variables)
}

/// What a trigger's templates read: its payload and actor, the recipient
/// (`subscriber`) and the environment's variables (`vars`).
fn render_context(trigger: &ValidTrigger, subscriber: Value, variables: &Value) -> Value {
    json!({"payload": trigger.payload, "subscriber": subscriber, "actor": trigger.actor, "vars": variables})
}

#[cfg(test)]
mod tests;
