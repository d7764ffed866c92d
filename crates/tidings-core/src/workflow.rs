//! Workflows: what a trigger turns into, per recipient.

use crate::template::{self, RenderError};

/// Why a workflow key or workflow is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The key is empty, too long, or has characters outside `a-z 0-9 - _`.
    #[error("workflow key must be 1 to 64 characters of a-z, 0-9, - and _")]
    MalformedKey,
    /// A step's text could not be rendered.
    #[error("step {step}, {field}: {source}")]
    Render {
        /// The step's name.
        step: String,
        /// `subject` or `body`.
        field: &'static str,
        /// What the template engine said.
        source: RenderError,
    },
}

/// Checks a workflow key such as `welcome` or `order-shipped`.
pub fn validate_key(key: &str) -> Result<(), WorkflowError> {
    let allowed = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_';
    if key.is_empty() || key.len() > 64 || !key.bytes().all(allowed) {
        return Err(WorkflowError::MalformedKey);
    }
    Ok(())
}

/// A workflow with a single in-app step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    /// Stable key, used by triggers.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Template of the in-app subject.
    pub subject: String,
    /// Template of the in-app body.
    pub body: String,
}

/// A rendered in-app notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedInApp {
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
}

impl Workflow {
    /// Renders the in-app step against `context` (`payload`, `subscriber`,
    /// `actor`).
    pub fn render_in_app(&self, context: &serde_json::Value) -> Result<RenderedInApp, WorkflowError> {
        let render = |field: &'static str, text: &str| {
            template::render(text, context).map_err(|source| WorkflowError::Render {
                step: "in_app".to_owned(),
                field,
                source,
            })
        };
        Ok(RenderedInApp {
            subject: render("subject", &self.subject)?,
            body: render("body", &self.body)?,
        })
    }
}

/// The workflows a new installation starts with, so the first trigger works.
pub fn starter_workflows() -> Vec<Workflow> {
    vec![Workflow {
        key: "welcome".to_owned(),
        name: "Welcome".to_owned(),
        subject: "Welcome, {{ payload.name }}!".to_owned(),
        body: "Thanks for joining, {{ payload.name }}. Your notifications will appear here.".to_owned(),
    }]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
        let rendered = welcome.render_in_app(&json!({"payload": {"name": "Ada"}})).unwrap();
        assert_eq!(rendered.subject, "Welcome, Ada!");
        let error = welcome.render_in_app(&json!({"payload": {}})).unwrap_err();
        assert_eq!(error.to_string(), "step in_app, subject: missing variable payload.name");
    }
}
