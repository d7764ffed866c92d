//! Validated keys cached in the isolate's memory and in the environment's
//! KV namespace.
//!
//! D1's registry is the source of truth. A key found there is cached in
//! the KV namespace of the environment it names for [`TTL_SECONDS`], so
//! most requests skip the control database, and in the isolate's memory
//! for [`MEMORY_TTL_MS`], so a busy isolate skips KV too. Revoking a key
//! deletes both entries; on Cloudflare the KV deletion, like any KV write,
//! can take up to a minute to reach every location, and other isolates keep
//! their memory entry up to [`MEMORY_TTL_MS`] longer, which bounds the
//! revocation window. Expiry after a rotation is exact: the cached entry
//! carries `expires_at`, checked on every request.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tidings_core::environment::EnvironmentName;
use worker::kv::KvStore;

/// How long a validated key stays cached in KV (KV's minimum expiration TTL).
pub const TTL_SECONDS: u64 = 60;

/// How long a validated key stays cached in an isolate's memory.
pub const MEMORY_TTL_MS: u64 = 10_000;

/// At most this many keys are held in memory; a full cache starts over.
const MEMORY_CAPACITY: usize = 1_024;

thread_local! {
    /// Key hash → (validation, when it was remembered). An isolate's
    /// requests interleave only at `await`s and no borrow lives across one,
    /// so a `RefCell` is enough.
    static MEMORY: RefCell<HashMap<String, (CachedKey, u64)>> = RefCell::new(HashMap::new());
    /// Key hash → when the registry said it does not exist.
    static UNKNOWN: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
}

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
    /// The longest lifetime of the environment's subscriber tokens.
    #[serde(default = "default_token_lifetime")]
    pub subscriber_token_max_ttl_seconds: f64,
    /// The registry's KV binding (cached validations written before it was read have none).
    #[serde(default)]
    pub kv_binding: Option<String>,
    /// The registry's R2 binding (none: `FILES_<NAME>`).
    #[serde(default)]
    pub files_binding: Option<String>,
    /// The environment's feed shards. Required: a validation cached before
    /// shards existed is not read (a miss), so a sharded environment is never
    /// opened as one without shards.
    pub feed_shards: f64,
    /// While the feed moves to `feed_shards` shards: the count it moves from.
    #[serde(default)]
    pub feed_shards_from: Option<f64>,
    /// While the feed moves: the buckets switched so far (64 hexadecimal digits).
    #[serde(default)]
    pub feed_moved: Option<String>,
    /// A restricted key's scopes (none: full access, as every key had before scopes).
    #[serde(default)]
    pub scopes: Option<String>,
}

fn first_key_id() -> String {
    tidings_core::signing::FIRST_KEY_ID.to_owned()
}

fn default_token_lifetime() -> f64 {
    tidings_core::token::MAX_LIFETIME_SECONDS as f64
}

fn default_retention() -> f64 {
    f64::from(tidings_core::logs::DEFAULT_RETENTION_DAYS)
}

/// The KV key under which a key hash's validation is cached.
fn cache_key(hash: &str) -> String {
    format!("key:{hash}")
}

/// The KV binding where an environment's key validations are cached.
pub fn namespace_of(environment: &EnvironmentName) -> String {
    format!("KV_{}", environment.binding_suffix())
}

/// The key-validation entries of one environment's KV namespace, and
/// nothing else of it: what the key path reads before a key is known.
pub struct KeyCache {
    kv: KvStore,
}

impl KeyCache {
    /// Wraps the namespace; [`super::Platform::key_cache`] builds it.
    pub(super) fn new(kv: KvStore) -> Self {
        Self { kv }
    }

    /// The cached validation of `hash`, if any. A cache failure is a miss.
    pub async fn get(&self, hash: &str) -> Option<CachedKey> {
        self.kv.get(&cache_key(hash)).json::<CachedKey>().await.ok().flatten()
    }

    /// Caches a validation; a failure only costs the next request a D1 read.
    pub async fn put(&self, hash: &str, entry: &CachedKey, now_ms: u64) {
        // A key that expires within the TTL is not cached, so expiry stays exact.
        if expires_within(entry, now_ms, TTL_SECONDS * 1000) {
            return;
        }
        if let Ok(builder) = self.kv.put(&cache_key(hash), entry) {
            let _ = builder.expiration_ttl(TTL_SECONDS).execute().await;
        }
    }

    /// Whether the registry said `hash` is no key, less than [`TTL_SECONDS`] ago.
    pub async fn is_known_unknown(&self, hash: &str) -> bool {
        self.kv.get(&unknown_key(hash)).text().await.ok().flatten().is_some()
    }

    /// Remembers that the registry has no key `hash`, for [`TTL_SECONDS`].
    pub async fn put_unknown(&self, hash: &str) {
        if let Ok(builder) = self.kv.put(&unknown_key(hash), "1") {
            let _ = builder.expiration_ttl(TTL_SECONDS).execute().await;
        }
    }

    /// Deletes the cached validation of `hash`.
    pub async fn delete(&self, hash: &str) -> Result<(), worker::Error> {
        self.kv.delete(&cache_key(hash)).await.map_err(Into::into)
    }
}

/// The KV key under which a hash the registry does not know is remembered.
fn unknown_key(hash: &str) -> String {
    format!("unknown:{hash}")
}

/// Whether this isolate learned less than [`MEMORY_TTL_MS`] ago that `hash` is no key.
pub fn recall_unknown(hash: &str, now_ms: u64) -> bool {
    UNKNOWN.with_borrow(|unknown| unknown.get(hash).is_some_and(|at| now_ms.saturating_sub(*at) < MEMORY_TTL_MS))
}

/// Remembers in this isolate's memory that `hash` is no key.
pub fn remember_unknown(hash: &str, now_ms: u64) {
    UNKNOWN.with_borrow_mut(|unknown| {
        if unknown.len() >= MEMORY_CAPACITY && !unknown.contains_key(hash) {
            unknown.clear();
        }
        unknown.insert(hash.to_owned(), now_ms);
    });
}

/// The validation of `hash` this isolate remembered less than
/// [`MEMORY_TTL_MS`] ago, if any.
pub fn recall(hash: &str, now_ms: u64) -> Option<CachedKey> {
    MEMORY.with_borrow(|memory| {
        let (entry, at) = memory.get(hash)?;
        (now_ms.saturating_sub(*at) < MEMORY_TTL_MS).then(|| entry.clone())
    })
}

/// Remembers a validation in this isolate's memory.
pub fn remember(hash: &str, entry: &CachedKey, now_ms: u64) {
    if expires_within(entry, now_ms, MEMORY_TTL_MS) {
        return;
    }
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() >= MEMORY_CAPACITY && !memory.contains_key(hash) {
            memory.clear();
        }
        memory.insert(hash.to_owned(), (entry.clone(), now_ms));
    });
}

/// Forgets a validation in this isolate's memory.
pub fn forget(hash: &str) {
    MEMORY.with_borrow_mut(|memory| memory.remove(hash));
}

fn expires_within(entry: &CachedKey, now_ms: u64, window_ms: u64) -> bool {
    entry.expires_at.is_some_and(|end| (end as u64) < now_ms + window_ms)
}
