use serde::{Deserialize, Serialize};

use super::EnvironmentInfo;

/// An environment with its settings, as the control plane shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentDetails {
    /// Name, type, status, position.
    #[serde(flatten)]
    pub environment: EnvironmentInfo,
    /// Display label, e.g. `QA`.
    pub label: Option<String>,
    /// Display colour, `#rrggbb`.
    pub colour: Option<String>,
    /// Browser origins allowed to use the publishable keys, besides the
    /// loopback pages development always accepts.
    pub allowed_origins: Vec<String>,
    /// Why the status is `failed`, when it is.
    pub status_reason: Option<String>,
    /// How many days execution logs are kept.
    pub log_retention_days: u32,
    /// The longest lifetime a subscriber token may have here, in seconds
    /// (at most 30 days, the default).
    pub subscriber_token_max_ttl_seconds: u64,
    /// Whether the console masks subscribers' personal fields for members
    /// without the right to see them (default: on in production).
    pub obfuscate_subscriber_data: bool,
    /// Whether the console hides message contents for them (default: on in production).
    pub hide_message_contents: bool,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// The lock freezing its content, when it is locked.
    #[serde(default)]
    pub lock: Option<EnvironmentLock>,
    /// RFC 3339: when it was archived (status `archived`).
    #[serde(default)]
    pub archived_at: Option<String>,
    /// RFC 3339: when an archived environment is purged.
    #[serde(default)]
    pub purge_at: Option<String>,
    /// For a preview environment: the environment it was made from, the only one it promotes into.
    #[serde(default)]
    pub preview_of: Option<String>,
    /// RFC 3339: when a preview environment expires (it is then archived, and purged later).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Test mode: the only recipients external deliveries reach (subscriber
    /// ids and `@domains`); `null` when off.
    #[serde(default)]
    pub deliver_only_to: Option<Vec<String>>,
    /// Test mode: the integration other recipients' deliveries go to instead
    /// (`null`: they are suppressed).
    #[serde(default)]
    pub catch_all_integration: Option<String>,
    /// Whether promotions, imports and rollbacks into it wait for a second
    /// member's approval (release requests).
    #[serde(default)]
    pub require_approval: bool,
    /// How many feed shards hold its subscribers' feeds (1: its own database),
    /// or, while they move to more, how many they move to.
    #[serde(default = "one_shard")]
    pub shards: u32,
    /// While its feeds move to more shards: how many they move from (`null`: settled).
    #[serde(default)]
    pub shards_from: Option<u32>,
}

fn one_shard() -> u32 {
    1
}

/// A change freeze on an environment's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentLock {
    /// Why, as the person who locked it wrote it.
    pub reason: String,
    /// RFC 3339: since when.
    pub locked_at: String,
    /// Member id (`mem_…`) or `admin`.
    pub locked_by: String,
}

/// `POST /v1/environments/{name}/lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockRequest {
    /// Why the content is frozen (1 to 500 characters); shown with every refusal.
    pub reason: String,
}

/// `POST /v1/environments/{name}/reshard`: move the environment's feeds to
/// more shards, or go on moving them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReshardRequest {
    /// The shard count to move to (more than it has, at most 64); the same
    /// count again goes on with a move under way.
    pub shards: u64,
}

/// Where a move of an environment's feeds to more shards stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshardProgress {
    /// The environment.
    pub environment: String,
    /// The count its feeds move from.
    pub shards_from: u32,
    /// The count they move to.
    pub shards: u32,
    /// Buckets of subscribers whose feeds were copied, verified and switched.
    pub buckets_moved: u32,
    /// Buckets the whole move switches (those whose shard changes).
    pub buckets_to_move: u32,
    /// Subscribers' feeds moved by this call.
    pub subscribers_moved: u64,
    /// Messages moved by this call.
    pub messages_moved: u64,
    /// Whether every bucket is at its new home: the move is done.
    pub done: bool,
}

/// `POST /v1/environments/{name}/archive`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRequest {
    /// Days to keep the data before it is purged (1 to 365, default 30).
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// `GET /v1/environments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentList {
    /// In promotion order.
    pub environments: Vec<EnvironmentDetails>,
}

/// `PATCH /v1/environments/{name}`: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPatch {
    /// New display label.
    #[serde(default)]
    pub label: Option<String>,
    /// New display colour.
    #[serde(default)]
    pub colour: Option<String>,
    /// New origin allow-list (replaces the old one).
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// Whether feed requests need a subscriber credential.
    #[serde(default)]
    pub requires_subscriber_credential: Option<bool>,
    /// How many days execution logs are kept (1–365).
    #[serde(default)]
    pub log_retention_days: Option<u32>,
    /// The longest lifetime of a subscriber token (60 s to 30 days). Tokens
    /// already issued for longer stop verifying.
    #[serde(default)]
    pub subscriber_token_max_ttl_seconds: Option<u64>,
    /// Mask subscribers' personal fields in the console.
    #[serde(default)]
    pub obfuscate_subscriber_data: Option<bool>,
    /// Hide message contents in the console.
    #[serde(default)]
    pub hide_message_contents: Option<bool>,
    /// Turns test mode on with these recipients (subscriber ids and
    /// `@domains`), or off with `null`. Not in production environments.
    #[serde(default, deserialize_with = "present")]
    pub deliver_only_to: Option<Option<Vec<String>>>,
    /// Test mode's catch-all integration, or `null` to suppress instead.
    #[serde(default, deserialize_with = "present")]
    pub catch_all_integration: Option<Option<String>>,
    /// Whether promotions, imports and rollbacks into it need a second
    /// member's approval.
    #[serde(default)]
    pub require_approval: Option<bool>,
}

/// A key as lists show it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Stable id, for regenerate and revoke.
    pub id: String,
    /// `publishable` or `secret`.
    pub kind: String,
    /// Prefix, environment and the checksum, e.g. `sk_staging_…x7k2pq`.
    pub masked: String,
    /// `active`, `expiring` or `revoked`.
    pub status: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// When an expiring key stops working.
    pub expires_at: Option<String>,
    /// When the key was revoked.
    pub revoked_at: Option<String>,
    /// A restricted secret key's scopes; `null` for full access.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `GET /v1/environments/{name}/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// Newest first.
    pub keys: Vec<KeyInfo>,
}

/// `POST /v1/environments/{name}/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// `publishable` or `secret`.
    pub kind: String,
    /// Restricts a secret key to these scopes (e.g. `["trigger"]`); omit
    /// for full access.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// A newly issued key: the only time the key is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedKey {
    /// The key's listing.
    #[serde(flatten)]
    pub info: KeyInfo,
    /// The key itself. Store it now; it is never shown again.
    pub key: String,
}

/// `POST /v1/environments/{name}/keys/{id}/regenerate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegenerateKeyRequest {
    /// How long the old key keeps working; 0 revokes it at once.
    #[serde(default)]
    pub grace_period_seconds: u64,
    /// The replacement's scopes (`null` for full access); omitted, it keeps
    /// the old key's. A key's scopes change only this way.
    #[serde(default, deserialize_with = "present")]
    pub scopes: Option<Option<Vec<String>>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The answer to a regenerate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegeneratedKey {
    /// The replacement, shown this once.
    pub new_key: IssuedKey,
    /// The old key, now expiring or revoked.
    pub old_key: KeyInfo,
}

/// `POST /v1/environments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEnvironmentRequest {
    /// Lowercase slug, e.g. `qa` or `preview-42`.
    pub name: String,
    /// `development`, `staging` or `production`.
    #[serde(rename = "type")]
    pub environment_type: String,
    /// Place it right after this environment (default: right before production).
    #[serde(default)]
    pub after: Option<String>,
    /// Display label.
    #[serde(default)]
    pub label: Option<String>,
    /// Display colour, `#rrggbb`.
    #[serde(default)]
    pub colour: Option<String>,
    /// Makes a preview environment seeded with this environment's content
    /// (workflows, integrations without secrets, variable names, brand,
    /// default preferences), off the promotion chain.
    #[serde(default)]
    pub from: Option<String>,
    /// A preview's lifetime in seconds (600 to 7,776,000); it is archived
    /// when it ends. Only with `from`.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// Starts in test mode with these recipients (not for production).
    #[serde(default)]
    pub deliver_only_to: Option<Vec<String>>,
    /// Feed shards, 1 to 64 (default 1: the feed in the environment's own
    /// database). Each shard is a D1 database bound as `FEED<i>_<NAME>`;
    /// the count is fixed once the environment exists.
    #[serde(default)]
    pub shards: Option<u64>,
}

/// The answer to `POST /v1/environments`: the environment, and its
/// subscriber signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedEnvironment {
    /// The new environment.
    #[serde(flatten)]
    pub environment: EnvironmentDetails,
    /// The key servers use to compute subscriber hashes (HMAC-SHA256);
    /// `null` where the new environment masks personal data and the caller
    /// has no personal-data grant there (the secret signs any subscriber's
    /// credential): someone with the grant rotates it to get one.
    pub subscriber_signing_secret: Option<String>,
}

/// The answer to `DELETE /v1/environments/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedEnvironment {
    /// The environment.
    pub name: String,
    /// `deleted`.
    pub status: String,
    /// Keys revoked by the deletion.
    pub revoked_keys: u64,
}

/// `POST /v1/environments/{name}/signing-secret/rotate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSigningSecretRequest {
    /// How long the current secret keeps verifying (default 24 hours, at most 7 days; 0: stop at once).
    #[serde(default)]
    pub grace_period_seconds: Option<u64>,
}

/// The answer to a signing-secret rotation; the new secret is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedSigningSecret {
    /// The new secret's key id, carried by the tokens it signs.
    pub key_id: String,
    /// The new subscriber signing secret.
    pub subscriber_signing_secret: String,
    /// The previous secret's key id, while it still verifies.
    pub previous_key_id: Option<String>,
    /// RFC 3339 time the previous secret stops verifying.
    pub previous_expires_at: Option<String>,
}
