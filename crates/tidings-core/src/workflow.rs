//! Workflows: what a trigger turns into, per recipient.

use serde_json::Value;

use crate::schema;
use crate::template::{self, RenderError, Renderer};
use crate::wire::{ActionInput, StepInput, WorkflowInput};

/// The most steps a workflow may have.
pub const MAX_STEPS: usize = 20;
/// The most buttons an in-app message may have.
pub const MAX_ACTIONS: usize = 3;
/// The most files an in-app step attaches.
pub const MAX_ATTACHMENTS: usize = 10;

/// Why a workflow key or workflow is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The key is empty, too long, or has characters outside `a-z 0-9 - _`.
    #[error("workflow key must be 1 to 64 characters of a-z, 0-9, - and _")]
    MalformedKey,
    /// The body names another key than the path.
    #[error("key in the body does not match the path")]
    KeyMismatch,
    /// A field is out of bounds.
    #[error("{field}: {reason}")]
    Field {
        /// Dotted path of the field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A step's text could not be rendered.
    #[error("step {step}, {field}: {source}")]
    Render {
        /// The step, e.g. `in_app`.
        step: String,
        /// `subject`, `body`, `avatar`, `actions.0.url`, …
        field: String,
        /// What the template engine said.
        source: RenderError,
    },
}

impl WorkflowError {
    /// The request field at fault.
    pub fn field(&self) -> String {
        match self {
            Self::MalformedKey | Self::KeyMismatch => "key".to_owned(),
            Self::Field { field, .. } => field.clone(),
            Self::Render { field, .. } => field.clone(),
        }
    }
}

/// Checks a workflow key such as `welcome` or `order-shipped`.
pub fn validate_key(key: &str) -> Result<(), WorkflowError> {
    let allowed = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_';
    if key.is_empty() || key.len() > 64 || !key.bytes().all(allowed) {
        return Err(WorkflowError::MalformedKey);
    }
    Ok(())
}

/// A validated workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// Stable key, used by triggers.
    pub key: String,
    /// The definition, every template checked.
    pub definition: WorkflowInput,
}

/// A rendered in-app notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedInApp {
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Buttons.
    pub actions: Vec<ActionInput>,
}

impl Workflow {
    /// Checks a definition for `key`. `path_key` is the key named by the URL.
    pub fn from_input(input: WorkflowInput, path_key: Option<&str>) -> Result<Self, WorkflowError> {
        let key = match (input.key.as_deref(), path_key) {
            (Some(body), Some(path)) if body != path => return Err(WorkflowError::KeyMismatch),
            (_, Some(path)) => path.to_owned(),
            (Some(body), None) => body.to_owned(),
            (None, None) => return Err(WorkflowError::MalformedKey),
        };
        validate_key(&key)?;
        let field =
            |field: &str, reason: &str| WorkflowError::Field { field: field.to_owned(), reason: reason.to_owned() };
        bounded("name", &input.name, 1, 100)?;
        if let Some(description) = &input.description {
            bounded("description", description, 0, 1000)?;
        }
        if input.tags.len() > 20 {
            return Err(field("tags", "at most 20 tags"));
        }
        for (index, tag) in input.tags.iter().enumerate() {
            bounded(&format!("tags.{index}"), tag, 1, 50)?;
        }
        if let Some(category) = &input.category {
            bounded("category", category, 1, 50)?;
        }
        if let Some(schema) = &input.payload_schema {
            if !schema.is_object() {
                return Err(field("payload_schema", "must be a JSON Schema object"));
            }
            schema::check(schema).map_err(|error| field("payload_schema", &error.to_string()))?;
        }
        if input.steps.is_empty() || input.steps.len() > MAX_STEPS {
            return Err(field("steps", "a workflow has 1 to 20 steps"));
        }
        let mut in_app_steps = 0;
        for (index, step) in input.steps.iter().enumerate() {
            let at = |name: &str| format!("steps.{index}.{name}");
            match step {
                StepInput::InApp { subject, body, avatar, actions, attachments } => {
                    in_app_steps += 1;
                    if attachments.len() > MAX_ATTACHMENTS {
                        return Err(field(&at("attachments"), "at most 10 attachments"));
                    }
                    for (number, path) in attachments.iter().enumerate() {
                        let at = at(&format!("attachments.{number}"));
                        let parsed =
                            crate::files::FilePath::parse(path).map_err(|error| field(&at, &error.to_string()))?;
                        // Content names content: an asset promoted with the workflow, never a file
                        // of the environment's data (which would mean another file in the next one).
                        if !parsed.is_brand_asset() {
                            return Err(field(
                                &at,
                                "attachments are brand assets: upload with PUT /v1/files/brand/<sha-256>",
                            ));
                        }
                    }
                    if in_app_steps > 1 {
                        return Err(field(&format!("steps.{index}"), "a workflow has at most one in_app step"));
                    }
                    compiles(&at("subject"), subject, 1000)?;
                    compiles(&at("body"), body, 10_000)?;
                    if let Some(avatar) = avatar {
                        compiles(&at("avatar"), avatar, 2048)?;
                        safe_link(&at("avatar"), avatar)?;
                    }
                    if actions.len() > MAX_ACTIONS {
                        return Err(field(&at("actions"), "at most 3 actions"));
                    }
                    for (number, action) in actions.iter().enumerate() {
                        compiles(&at(&format!("actions.{number}.label")), &action.label, 50)?;
                        compiles(&at(&format!("actions.{number}.url")), &action.url, 2048)?;
                        safe_link(&at(&format!("actions.{number}.url")), &action.url)?;
                    }
                }
                StepInput::Webhook { integration, body } => {
                    crate::webhook::validate_id(integration)
                        .map_err(|error| field(&at("integration"), error.reason))?;
                    compiles(&at("body"), body, 10_000)?;
                }
            }
        }
        Ok(Self { key, definition: WorkflowInput { key: None, ..input } })
    }

    /// The in-app step, if the workflow has one.
    fn in_app(&self) -> Option<(&String, &String, &Option<String>, &Vec<ActionInput>)> {
        self.definition.steps.iter().find_map(|step| match step {
            StepInput::InApp { subject, body, avatar, actions, .. } => Some((subject, body, avatar, actions)),
            StepInput::Webhook { .. } => None,
        })
    }

    /// The files the in-app step attaches to every message (no URLs yet:
    /// those are signed when the feed is read).
    pub fn attachments(&self) -> Vec<crate::wire::Attachment> {
        let paths = self.definition.steps.iter().find_map(|step| match step {
            StepInput::InApp { attachments, .. } => Some(attachments),
            StepInput::Webhook { .. } => None,
        });
        paths
            .into_iter()
            .flatten()
            .filter_map(|path| crate::files::FilePath::parse(path).ok())
            .map(|path| crate::wire::Attachment {
                path: path.as_str().to_owned(),
                name: path.file_name().to_owned(),
                url: None,
            })
            .collect()
    }

    /// Compiles the in-app step's templates once; `None` when the workflow
    /// has no in-app step.
    pub fn in_app_renderer(&self) -> Result<Option<InAppRenderer>, WorkflowError> {
        let Some((_, _, avatar, actions)) = self.in_app() else {
            return Ok(None);
        };
        let fields = self.in_app_templates();
        let renderer = compile_in_app(&fields)?;
        Ok(Some(InAppRenderer {
            renderer,
            fields: fields.into_iter().map(|(field, _)| field).collect(),
            has_avatar: avatar.is_some(),
            actions: actions.len(),
        }))
    }

    /// Renders the in-app templates that read nothing of the recipient
    /// (they never name `subscriber`), each with its field: what every
    /// recipient would get alike, for a check before any is known.
    pub fn render_shared_in_app(&self, context: &Value) -> Result<Vec<(String, String)>, WorkflowError> {
        let shared: Vec<(String, String)> =
            self.in_app_templates().into_iter().filter(|(_, source)| !source.contains("subscriber")).collect();
        let renderer = compile_in_app(&shared)?;
        shared
            .into_iter()
            .enumerate()
            .map(|(index, (field, _))| match renderer.render(index, context) {
                Ok(text) => Ok((field, text)),
                Err(source) => Err(WorkflowError::Render { step: "in_app".to_owned(), field, source }),
            })
            .collect()
    }

    /// The in-app step's templates with their fields, in reading order, so
    /// an error names the first problem a person would see.
    fn in_app_templates(&self) -> Vec<(String, String)> {
        let Some((subject, body, avatar, actions)) = self.in_app() else {
            return Vec::new();
        };
        let mut fields = vec![("subject".to_owned(), subject.clone()), ("body".to_owned(), body.clone())];
        if let Some(avatar) = avatar {
            fields.push(("avatar".to_owned(), avatar.clone()));
        }
        for (index, action) in actions.iter().enumerate() {
            fields.push((format!("actions.{index}.label"), action.label.clone()));
            fields.push((format!("actions.{index}.url"), action.url.clone()));
        }
        fields
    }

    /// Compiles the body templates of the webhook steps once.
    pub fn webhook_renderer(&self) -> Result<WebhookRenderer, WorkflowError> {
        let steps: Vec<(usize, String, String)> = self
            .definition
            .steps
            .iter()
            .enumerate()
            .filter_map(|(index, step)| match step {
                StepInput::Webhook { integration, body } => Some((index, integration.clone(), body.clone())),
                StepInput::InApp { .. } => None,
            })
            .collect();
        let renderer = Renderer::for_json(steps.iter().map(|(_, _, body)| body.clone()).collect()).map_err(
            |(index, source)| WorkflowError::Render {
                step: format!("steps.{}", steps[index].0),
                field: "body".to_owned(),
                source,
            },
        )?;
        Ok(WebhookRenderer {
            renderer,
            steps: steps.into_iter().map(|(index, integration, _)| (index, integration)).collect(),
        })
    }

    /// Renders the in-app step against `context` (`payload`, `subscriber`,
    /// `actor`); `None` when the workflow has no in-app step.
    pub fn render_in_app(&self, context: &Value) -> Result<Option<RenderedInApp>, WorkflowError> {
        self.in_app_renderer()?.map(|renderer| renderer.render(context)).transpose()
    }
}

/// A workflow's webhook steps, compiled: render each once per recipient.
pub struct WebhookRenderer {
    renderer: Renderer,
    /// Step position and integration of each webhook step.
    steps: Vec<(usize, String)>,
}

impl WebhookRenderer {
    /// How many webhook steps there are.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Renders webhook step `index`: its integration and a JSON body.
    pub fn render(&self, index: usize, context: &Value) -> Result<(String, String), WorkflowError> {
        let (step, integration) = &self.steps[index];
        let step_name = format!("steps.{step}");
        let body = self.renderer.render(index, context).map_err(|source| WorkflowError::Render {
            step: step_name.clone(),
            field: "body".to_owned(),
            source,
        })?;
        if serde_json::from_str::<Value>(&body).is_err() {
            return Err(WorkflowError::Render {
                step: step_name,
                field: "body".to_owned(),
                source: RenderError::Failed {
                    message: "the rendered body is not JSON; use the tojson filter for values".to_owned(),
                },
            });
        }
        Ok((integration.clone(), body))
    }
}

/// Compiles in-app templates given with their fields.
fn compile_in_app(fields: &[(String, String)]) -> Result<Renderer, WorkflowError> {
    Renderer::new(fields.iter().map(|(_, source)| source.clone()).collect()).map_err(|(index, source)| {
        WorkflowError::Render { step: "in_app".to_owned(), field: fields[index].0.clone(), source }
    })
}

/// A workflow's in-app step, compiled: render it once per recipient.
pub struct InAppRenderer {
    renderer: Renderer,
    fields: Vec<String>,
    has_avatar: bool,
    actions: usize,
}

impl InAppRenderer {
    /// Renders subject, body, avatar and buttons against `context`.
    pub fn render(&self, context: &Value) -> Result<RenderedInApp, WorkflowError> {
        let render = |index: usize| {
            self.renderer.render(index, context).map_err(|source| WorkflowError::Render {
                step: "in_app".to_owned(),
                field: self.fields[index].clone(),
                source,
            })
        };
        let subject = render(0)?;
        let body = render(1)?;
        let first_action = if self.has_avatar { 3 } else { 2 };
        let avatar = if self.has_avatar { Some(render(2)?).filter(|url| !url.is_empty()) } else { None };
        let actions = (0..self.actions)
            .map(|number| {
                Ok(ActionInput {
                    label: render(first_action + 2 * number)?,
                    url: render(first_action + 2 * number + 1)?,
                })
            })
            .collect::<Result<Vec<_>, WorkflowError>>()?;
        Ok(RenderedInApp { subject, body, avatar, actions })
    }
}

/// Refuses a link template whose literal start is already a link no feed may carry.
fn safe_link(field: &str, template: &str) -> Result<(), WorkflowError> {
    crate::link::check_link_template(template)
        .map_err(|error| WorkflowError::Field { field: field.to_owned(), reason: error.to_string() })
}

fn bounded(field: &str, text: &str, min: usize, max: usize) -> Result<(), WorkflowError> {
    let length = text.chars().count();
    if length < min || length > max {
        return Err(WorkflowError::Field {
            field: field.to_owned(),
            reason: format!("must be {min} to {max} characters"),
        });
    }
    Ok(())
}

fn compiles(field: &str, text: &str, max: usize) -> Result<(), WorkflowError> {
    bounded(field, text, 1, max)?;
    template::check(text).map_err(|error| WorkflowError::Field { field: field.to_owned(), reason: error.to_string() })
}

/// The workflows a new environment starts with, so the first trigger works.
pub fn starter_workflows() -> Vec<Workflow> {
    vec![Workflow {
        key: "welcome".to_owned(),
        definition: WorkflowInput {
            key: None,
            name: "Welcome".to_owned(),
            description: Some("Greets a new subscriber.".to_owned()),
            tags: vec!["onboarding".to_owned()],
            category: None,
            payload_schema: None,
            steps: vec![StepInput::InApp {
                attachments: vec![],
                subject: "Welcome, {{ payload.name }}!".to_owned(),
                body: "Thanks for joining, {{ payload.name }}. Your notifications will appear here.".to_owned(),
                avatar: None,
                actions: vec![],
            }],
        },
    }]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(value: Value) -> WorkflowInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn keys() {
        assert_eq!(validate_key("order-shipped_v2"), Ok(()));
        for key in ["", "Welcome", "a b", &"a".repeat(65)] {
            assert_eq!(validate_key(key), Err(WorkflowError::MalformedKey), "{key:?}");
        }
    }

    #[test]
    fn starter_welcome_renders_and_names_missing_variables() {
        let welcome = &starter_workflows()[0];
        let rendered = welcome.render_in_app(&json!({"payload": {"name": "Ada"}})).unwrap().unwrap();
        assert_eq!(rendered.subject, "Welcome, Ada!");
        let error = welcome.render_in_app(&json!({"payload": {}})).unwrap_err();
        assert_eq!(error.to_string(), "step in_app, subject: missing variable payload.name");
    }

    #[test]
    fn full_definitions_render_actions_and_avatars() {
        let workflow = Workflow::from_input(
            input(json!({"key": "order", "name": "Order", "tags": ["billing"], "steps": [{"type": "in_app",
                "subject": "Order {{ payload.id }}", "body": "Shipped", "avatar": "{{ payload.avatar }}",
                "actions": [{"label": "Track", "url": "https://example.com/o/{{ payload.id }}"}]}]})),
            None,
        )
        .unwrap();
        let rendered = workflow.render_in_app(&json!({"payload": {"id": 7, "avatar": ""}})).unwrap().unwrap();
        assert_eq!(rendered.actions[0].url, "https://example.com/o/7");
        assert_eq!(rendered.avatar, None);
    }

    #[test]
    fn webhook_bodies_render_to_json() {
        let workflow = Workflow::from_input(
            input(json!({"key": "hooked", "name": "H", "steps": [{"type": "webhook", "integration": "crm",
                "body": "{\"user\": {{ subscriber.id | tojson }}, \"total\": {{ payload.total }}}"}]})),
            None,
        )
        .unwrap();
        let renderer = workflow.webhook_renderer().unwrap();
        assert_eq!(renderer.len(), 1);
        let context = json!({"subscriber": {"id": "ada \"the\" first"}, "payload": {"total": 12.5}});
        let (integration, body) = renderer.render(0, &context).unwrap();
        assert_eq!(integration, "crm");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"user": "ada \"the\" first", "total": 12.5}));
        let broken = json!({"subscriber": {"id": "x"}, "payload": {"total": "not a number"}});
        assert!(matches!(renderer.render(0, &broken), Err(WorkflowError::Render { .. })));
    }

    #[test]
    fn refusals_name_their_field() {
        let step = json!({"type": "in_app", "subject": "s", "body": "b"});
        let cases = [
            (json!({"key": "Bad", "name": "n", "steps": [step]}), "key"),
            (json!({"key": "k", "name": "", "steps": [step]}), "name"),
            (json!({"key": "k", "name": "n", "steps": []}), "steps"),
            (json!({"key": "k", "name": "n", "tags": [""], "steps": [step]}), "tags.0"),
            (json!({"key": "k", "name": "n", "payload_schema": [1], "steps": [step]}), "payload_schema"),
            (
                json!({"key": "k", "name": "n", "steps": [{"type": "in_app", "subject": "{% if %}", "body": "b"}]}),
                "steps.0.subject",
            ),
            (json!({"key": "k", "name": "n", "steps": [step, step]}), "steps.1"),
            (
                json!({"key": "k", "name": "n", "steps": [{"type": "webhook", "integration": "Bad Id", "body": "{}"}]}),
                "steps.0.integration",
            ),
            (
                json!({"key": "k", "name": "n", "steps": [{"type": "webhook", "integration": "hook", "body": "{% if %}"}]}),
                "steps.0.body",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(Workflow::from_input(input(body.clone()), None).unwrap_err().field(), field, "{body}");
        }
        assert_eq!(
            Workflow::from_input(input(json!({"key": "a", "name": "n", "steps": [step]})), Some("b")),
            Err(WorkflowError::KeyMismatch)
        );
        assert!(serde_json::from_value::<WorkflowInput>(json!({"name": "n", "steps": [], "colour": 1})).is_err());
    }
}
