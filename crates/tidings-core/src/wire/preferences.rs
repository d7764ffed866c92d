use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET|PATCH /v1/subscribers/{id}/preferences`. In a PATCH, only the
/// settings present change, and `null` removes a workflow's override.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesInput {
    /// Channels for every workflow.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub global: Option<ChannelSettings>,
    /// Per-workflow overrides, by workflow key.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub workflows: Option<BTreeMap<String, ChannelSettings>>,
}

/// On/off per channel; absent means unchanged (PATCH) or not overridden (GET).
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    /// The in-app feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional = nullable))]
    pub in_app: Option<bool>,
    /// Webhook deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional = nullable))]
    pub webhook: Option<bool>,
}
