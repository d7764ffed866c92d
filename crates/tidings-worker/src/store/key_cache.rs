//! Validated keys cached in the environment's KV namespace.
//!
//! D1's registry is the source of truth. A key found there is cached in
//! the KV namespace of the environment it names for [`TTL_SECONDS`], so
//! most requests skip the control database. Revoking a key deletes its
//! entry; on Cloudflare that deletion, like any KV write, can take up to a
//! minute to reach every location, which bounds the revocation window.
//! Expiry after a rotation is exact: the cached entry carries `expires_at`.

use serde::{Deserialize, Serialize};
use worker::kv::KvStore;

/// How long a validated key stays cached (KV's minimum expiration TTL).
pub const TTL_SECONDS: u64 = 60;

/// The registry's answer for one key, as cached.
#[derive(Clone, Serialize, Deserialize)]
pub struct CachedKey {
    pub kind: String,
    pub revoked_at: Option<f64>,
    pub expires_at: Option<f64>,
    pub environment: String,
    pub environment_type: String,
    pub status: String,
    pub position: f64,
    pub db_binding: String,
    pub requires_subscriber_credential: f64,
    pub allowed_origins: String,
    pub subscriber_signing_secret: String,
    #[serde(default = "first_key_id")]
    pub signing_key_id: String,
    #[serde(default)]
    pub previous_signing_secret: Option<String>,
    #[serde(default)]
    pub previous_signing_key_id: Option<String>,
    #[serde(default)]
    pub previous_signing_expires_at: Option<f64>,
    #[serde(default)]
    pub obfuscate_subscriber_data: Option<f64>,
    #[serde(default)]
    pub hide_message_contents: Option<f64>,
    #[serde(default = "default_retention")]
    pub log_retention_days: f64,
}

fn first_key_id() -> String {
    tidings_core::signing::FIRST_KEY_ID.to_owned()
}

fn default_retention() -> f64 {
    f64::from(tidings_core::logs::DEFAULT_RETENTION_DAYS)
}

/// The KV key under which a key hash's validation is cached.
pub fn cache_key(hash: &str) -> String {
    format!("key:{hash}")
}

/// The cached validation of `hash`, if any. A cache failure is a miss.
pub async fn get(kv: &KvStore, hash: &str) -> Option<CachedKey> {
    kv.get(&cache_key(hash)).json::<CachedKey>().await.ok().flatten()
}

/// Caches a validation; a failure only costs the next request a D1 read.
pub async fn put(kv: &KvStore, hash: &str, entry: &CachedKey, now_ms: u64) {
    // A key that expires within the TTL is not cached, so expiry stays exact.
    if entry.expires_at.is_some_and(|end| (end as u64) < now_ms + TTL_SECONDS * 1000) {
        return;
    }
    if let Ok(builder) = kv.put(&cache_key(hash), entry) {
        let _ = builder.expiration_ttl(TTL_SECONDS).execute().await;
    }
}
