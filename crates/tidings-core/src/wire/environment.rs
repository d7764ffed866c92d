use serde::{Deserialize, Serialize};

/// `GET /v1/environments/current`: the environment a key opens.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentInfo {
    /// The environment's name, e.g. `staging`.
    pub name: String,
    /// `development`, `staging` or `production`.
    #[serde(rename = "type")]
    pub environment_type: String,
    /// Lifecycle status, e.g. `active`.
    pub status: String,
    /// Place in the promotion chain; `development` is 0.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub position: u32,
    /// Whether feed requests must carry a subscriber credential.
    pub requires_subscriber_credential: bool,
}

/// `POST /v1/bootstrap`: the default environments and their first keys.
/// Keys and secrets appear here once and are never readable again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapResponse {
    /// One entry per created environment, in promotion order.
    pub environments: Vec<IssuedEnvironment>,
    /// The first owner and their personal access token, when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<IssuedOwner>,
}

/// The first owner, with a personal access token shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedOwner {
    /// `mem_…`.
    pub id: String,
    /// Email.
    pub email: String,
    /// `mt_…`.
    pub token: String,
}

/// An environment with its newly issued credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedEnvironment {
    /// The environment.
    #[serde(flatten)]
    pub environment: EnvironmentInfo,
    /// `pk_…`, for browsers.
    pub publishable_key: String,
    /// `sk_…`, for servers.
    pub secret_key: String,
    /// The key servers use to compute subscriber hashes (HMAC-SHA256).
    pub subscriber_signing_secret: String,
}
