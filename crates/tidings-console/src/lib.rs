//! The admin console's live workflow preview.
//!
//! The console's workflow editor calls [`preview`] on every change. It runs
//! the same validation and template rendering as a trigger does in the
//! worker (`tidings_core::workflow` and `tidings_core::trigger::preview`), so
//! what the editor shows is what a trigger would send, errors included.
//! Strings in, a JSON string out: the console is not size-critical, and
//! strings keep the boundary trivial.

use serde_json::{json, Value};
use tidings_core::trigger::{self, TriggerError};
use tidings_core::wire::{ErrorCode, TriggerRequest, WorkflowInput};
use tidings_core::workflow::Workflow;
use wasm_bindgen::prelude::wasm_bindgen;

/// Renders a workflow definition for a sample trigger.
///
/// `workflow` is the JSON body of `PUT /v1/workflows/{key}`; `sample` holds
/// `to` (a subscriber id or object), `payload`, `actor` and `vars`, as a
/// trigger and the environment's variables would. The answer is
/// `{"in_app": {subject, body, avatar, actions} | null, "webhooks": [{integration, body}]}`
/// or `{"error": {code, message, field}}` with the codes the API uses.
#[wasm_bindgen]
pub fn preview(key: &str, workflow: &str, sample: &str) -> String {
    match render(key, workflow, sample) {
        Ok(value) => value,
        Err((code, message, field)) => json!({"error": {"code": code, "message": message, "field": field}}),
    }
    .to_string()
}

type Failure = (ErrorCode, String, String);

fn render(key: &str, workflow: &str, sample: &str) -> Result<Value, Failure> {
    let input: WorkflowInput = serde_json::from_str(workflow).map_err(|error| {
        (ErrorCode::MalformedJson, format!("the workflow is not valid: {error}"), "workflow".to_owned())
    })?;
    let workflow = Workflow::from_input(input, Some(key))
        .map_err(|error| (ErrorCode::ValidationFailed, error.to_string(), error.field()))?;
    let mut sample: Value = serde_json::from_str(sample).map_err(|error| {
        (ErrorCode::MalformedJson, format!("the sample is not valid JSON: {error}"), "sample".to_owned())
    })?;
    let mut variables = json!({});
    if let Value::Object(map) = &mut sample {
        variables = map.remove("vars").unwrap_or(variables);
        map.insert("workflow".to_owned(), Value::from(workflow.key.clone()));
        let to = map.entry("to").or_insert_with(|| Value::from("preview-subscriber"));
        if to.is_object() {
            *to = Value::Array(vec![to.take()]);
        }
    }
    let request: TriggerRequest = serde_json::from_value(sample).map_err(|error| {
        (ErrorCode::ValidationFailed, format!("the sample is not a trigger: {error}"), "sample".to_owned())
    })?;
    let trigger = trigger::validate(request).map_err(failure)?;
    let preview = trigger::preview(&workflow, &trigger, &variables).map_err(failure)?;
    let in_app = preview.in_app.map(|in_app| {
        json!({
            "subject": in_app.subject,
            "body": in_app.body,
            "avatar": in_app.avatar,
            "actions": in_app.actions.iter().map(|action| json!({"label": action.label, "url": action.url})).collect::<Vec<_>>(),
        })
    });
    let webhooks: Vec<Value> = preview
        .webhooks
        .into_iter()
        .map(|(integration, body)| json!({"integration": integration, "body": body}))
        .collect();
    Ok(json!({"in_app": in_app, "webhooks": webhooks}))
}

/// The API's code for a trigger error (see the worker's `error.rs`).
fn failure(error: TriggerError) -> Failure {
    let (_, code) = error.status_and_code();
    (code, error.to_string(), error.field())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: String) -> Value {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    #[test]
    fn renders_the_in_app_step() {
        let workflow = r#"{"name":"Hi","steps":[{"type":"in_app","subject":"Hi {{ subscriber.first_name }}","body":"{{ payload.n }} new, {{ vars.SITE }}"}]}"#;
        let sample = r#"{"to":{"subscriber_id":"ada","first_name":"Ada"},"payload":{"n":3},"vars":{"SITE":"x.dev"}}"#;
        let answer = parse(preview("hi", workflow, sample));
        assert_eq!(answer["in_app"]["subject"], "Hi Ada", "{answer}");
        assert_eq!(answer["in_app"]["body"], "3 new, x.dev");
    }

    #[test]
    fn reports_errors_with_the_api_codes() {
        let workflow = r#"{"name":"Hi","steps":[{"type":"in_app","subject":"{{ payload.missing }}","body":"b"}]}"#;
        let answer = parse(preview("hi", workflow, "{}"));
        assert_eq!(answer["error"]["code"], "template_render_failed");
        let answer = parse(preview("hi", r#"{"name":"","steps":[]}"#, "{}"));
        assert_eq!(answer["error"]["code"], "validation_failed");
        assert_eq!(parse(preview("hi", "{", "{}"))["error"]["code"], "malformed_json");
    }
}
