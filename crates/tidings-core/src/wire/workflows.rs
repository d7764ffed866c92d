use serde::{Deserialize, Serialize};

/// A workflow as written by `POST /v1/workflows` (with `key`) or
/// `PUT /v1/workflows/{key}`; each save makes a new version.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowInput {
    /// Required with POST; with PUT it must match the path if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// What the workflow is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Free labels, e.g. `billing`; feeds can filter on them.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(as = "Option<Vec<String>>", optional))]
    pub tags: Vec<String>,
    /// A grouping for preferences, e.g. `account`.
    #[serde(default)]
    pub category: Option<String>,
    /// A JSON Schema the trigger payload must satisfy.
    #[serde(default)]
    pub payload_schema: Option<serde_json::Value>,
    /// What happens, in order.
    pub steps: Vec<StepInput>,
}

/// One step of a workflow.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepInput {
    /// A message in the subscriber's in-app feed.
    InApp {
        /// Subject template.
        subject: String,
        /// Body template.
        body: String,
        /// Avatar URL template.
        #[serde(default)]
        #[cfg_attr(feature = "typescript", ts(optional))]
        avatar: Option<String>,
        /// Up to three buttons.
        #[serde(default)]
        #[cfg_attr(feature = "typescript", ts(as = "Option<Vec<ActionInput>>", optional))]
        actions: Vec<ActionInput>,
        /// Up to ten brand assets of this environment (`brand/<sha-256>`,
        /// `PUT /v1/files/{path}`), shown in the feed item with short-lived signed URLs.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<String>,
    },
    /// A JSON POST to a configured webhook integration.
    Webhook {
        /// The integration's id.
        integration: String,
        /// JSON body template.
        body: String,
    },
}

/// A button of an in-app message.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    /// Button label template.
    pub label: String,
    /// Link template.
    pub url: String,
}

/// A stored workflow version. (TypeScript: declared by hand in the SDK's
/// `server.d.ts`, as ts-rs cannot express the flattened definition without
/// repeating `key`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowResponse {
    /// Stable key.
    pub key: String,
    /// This version's number, from 1.
    pub version: u32,
    /// The definition.
    #[serde(flatten)]
    pub definition: WorkflowInput,
    /// RFC 3339 time of the first version.
    pub created_at: String,
    /// RFC 3339 time of this version.
    pub updated_at: String,
}

/// `GET /v1/workflows` (current versions) or `GET /v1/workflows/{key}/versions`
/// (newest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowList {
    /// The workflows or versions.
    pub items: Vec<WorkflowResponse>,
}
