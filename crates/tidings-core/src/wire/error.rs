use serde::{Deserialize, Serialize};

/// The body of every error response:
/// `{"error": {"code": "…", "message": "…", "field": "…"}}`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// One error: a stable code to branch on and a sentence for people.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `unknown_key`.
    pub code: String,
    /// A human sentence; may change between releases.
    pub message: String,
    /// The request field at fault, as a dotted path, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Structured particulars, when the code has them (e.g. the problems of `preflight_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional, type = "unknown"))]
    pub details: Option<serde_json::Value>,
}
