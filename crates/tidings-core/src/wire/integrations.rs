use serde::{Deserialize, Serialize};

/// `POST /v1/integrations` (with `id`) or `PUT /v1/integrations/{id}`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    /// Required with POST; with PUT it must match the path if present.
    #[serde(default)]
    pub id: Option<String>,
    /// `webhook`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Signs deliveries (HMAC-SHA256). Write-only: never returned. Required
    /// when creating; left out on PUT, the stored secret is kept.
    #[serde(default)]
    pub signing_secret: Option<String>,
}

/// An integration as the API shows it: never its secret.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// Stable id, used by workflow steps.
    pub id: String,
    /// `webhook`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Whether a signing secret is stored.
    pub has_signing_secret: bool,
    /// How its deliveries have been going.
    pub health: IntegrationHealth,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// How an integration's deliveries have been going: its circuit breaker.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationHealth {
    /// Failed attempts in a row (0 after a success).
    pub consecutive_failures: u32,
    /// Whether it keeps failing: the breaker opened (5 failures in a row).
    pub failing: bool,
    /// While failing: when the breaker lets the next attempt through (RFC 3339).
    pub held_until: Option<String>,
}

/// `GET /v1/integrations`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationList {
    /// By id.
    pub items: Vec<Integration>,
}
