use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An environment's promotable content as a file (`tidings.environment/1`):
/// what `GET /v1/environments/{name}/export` answers and
/// `POST /v1/environments/{name}/import` applies. Keys are sorted, so two
/// exports of equal content are byte-identical and diffs are reviewable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentFile {
    /// `tidings.environment/1`.
    pub format: String,
    /// The environment it was exported from (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_from: Option<String>,
    /// Workflow definitions by key, as `PUT /v1/workflows/{key}` takes them.
    #[serde(default)]
    pub workflows: BTreeMap<String, Value>,
    /// Integrations by id: `kind`, `name` and `url`; never their secrets.
    #[serde(default)]
    pub integrations: BTreeMap<String, Value>,
    /// Variable names; never their values.
    #[serde(default)]
    pub variables: Vec<String>,
    /// Default preferences, as `PUT /v1/preferences/defaults` takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference_defaults: Option<Value>,
    /// Brand settings (`name`, colours, `logo: {id, content_type}`), as `GET /v1/brand` shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<Value>,
    /// The brand assets the file's content names (the logo, workflows' `brand/`
    /// attachments), by path: their bytes travel with the file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub assets: BTreeMap<String, FileAsset>,
}

/// `POST /v1/environments/{name}/import`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The file to apply.
    pub file: EnvironmentFile,
    /// Only answer what would change (the default).
    #[serde(default = "yes")]
    pub dry_run: bool,
    /// Also delete what the file does not name (workflows, integrations,
    /// variables, default preferences). Off by default: an import adds and
    /// changes only.
    #[serde(default)]
    pub prune: bool,
}

fn yes() -> bool {
    true
}

/// A brand asset's bytes in an environment file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAsset {
    /// Its media type.
    pub content_type: String,
    /// Its bytes, base64 (standard alphabet, padded).
    pub base64: String,
}
