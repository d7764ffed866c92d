//! One environment's storage: the only handle on an environment's bindings.
//!
//! An [`Environment`] is built from one registry row, and its D1, KV and R2
//! binding names come from that row, never from a request. Its constructors:
//! [`Environment::open`] from a validated API key,
//! [`Environment::open_with_ticket`] from a stream ticket it consumes (one
//! issued against a validated key, whose key must still work),
//! [`Environment::open_authorized`] (with [`Environment::open_pair`] for
//! promotion) from the control plane's [`Authorized`] proof; and, elsewhere in
//! the store, from a verified queue hand-off, the scheduled sweep's tick and a
//! verified signed file URL (`files.rs`).
//!
//! The names of an environment's bindings travel as [`Bindings`], the only
//! thing [`Platform`] opens an environment's D1 or KV with. Besides the
//! handle, only a deletion proof ([`Bindings::for_deletion`]) and a registry
//! row still provisioning ([`Bindings::while_provisioning`]) give them.

use serde::Deserialize;
use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use tidings_core::environment::{EnvironmentName, EnvironmentType};
use tidings_core::key::{ApiKey, KeyKind};
use tidings_core::key_lifecycle::KeyStatus;
use tidings_core::key_scope::KeyScopes;
use tidings_core::lifecycle::Status;
use tidings_core::origin;
use tidings_core::privacy::Privacy;
use tidings_core::shard::{self, BucketMap, FeedHome, ShardCount};
use tidings_core::signing::{SigningSecret, SigningSecrets};
use tidings_core::stream_ticket::{StreamTicket, TTL_MS};
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::EnvironmentInfo;
use tidings_core::wire::ErrorCode;

use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, D1Result};

use super::authorized::Authorized;
use super::faults::FaultPlan;
use super::key_cache::{self, CachedKey};
use super::platform::Platform;
use super::realtime::StreamGrant;
use super::{control_db, retry, statement, storage_error, text};
use crate::error::ApiError;

/// The names of one environment's D1 database, feed shards, KV namespace
/// and R2 bucket, as its registry row records them; what [`Platform`] opens
/// them with.
#[derive(Clone, Debug)]
pub struct Bindings {
    /// The environment they are bound for.
    environment: EnvironmentName,
    db: String,
    kv: String,
    files: String,
    /// The feed shards' databases; none when the feed is in `db`.
    shards: Vec<String>,
}

impl Bindings {
    /// The bindings of an environment being deleted, for wiping its data:
    /// only with the policy's permission to delete it.
    pub(super) fn for_deletion(
        authorized: &Authorized,
        name: &str,
        db: &str,
        kv: &str,
        files: Option<&str>,
        shards: ShardCount,
    ) -> Result<Self, ApiError> {
        let environment = authorized.require_deletion()?;
        if environment.as_str() != name {
            return Err(ApiError::internal("authorization", "this proof is for the deletion of another environment"));
        }
        Ok(Self::of_row(environment, db, kv, files, shards))
    }

    /// The bindings of an environment the registry says is still being
    /// provisioned (nothing stored yet), for checking that they exist and
    /// seeding its starters; `None` for any other status.
    pub(super) fn while_provisioning(
        status: Status,
        environment: &EnvironmentName,
        db: &str,
        kv: &str,
        files: Option<&str>,
        shards: ShardCount,
    ) -> Option<Self> {
        status.is_provisioning().then(|| Self::of_row(environment, db, kv, files, shards))
    }

    /// The same bindings with `shards` feed shards (a bucket map read since
    /// the handle was opened may need more).
    pub(super) fn with_shards(&self, shards: ShardCount) -> Self {
        Self { shards: shard::bindings(&self.environment.binding_suffix(), shards), ..self.clone() }
    }

    /// The bindings a registry row names; the shards' are named after the
    /// environment ([`shard::bindings`]).
    fn of_row(environment: &EnvironmentName, db: &str, kv: &str, files: Option<&str>, shards: ShardCount) -> Self {
        Self {
            environment: environment.clone(),
            db: db.to_owned(),
            kv: kv.to_owned(),
            files: files_binding(files, db),
            shards: shard::bindings(&environment.binding_suffix(), shards),
        }
    }

    /// The environment these bindings are for.
    pub(super) fn environment(&self) -> &EnvironmentName {
        &self.environment
    }

    /// The feed shards' database bindings, in shard order; none when the
    /// feed is in the environment's own database.
    pub(super) fn shards(&self) -> &[String] {
        &self.shards
    }

    /// The database binding's name.
    pub(super) fn db(&self) -> &str {
        &self.db
    }

    /// The KV namespace binding's name.
    pub(super) fn kv(&self) -> &str {
        &self.kv
    }

    /// The R2 bucket binding's name.
    pub(super) fn files(&self) -> &str {
        &self.files
    }
}

/// The registry's files binding, or for rows written before it was recorded,
/// `FILES_<NAME>` beside the row's `DB_<NAME>`.
pub(super) fn files_binding(recorded: Option<&str>, db_binding: &str) -> String {
    recorded.map_or_else(|| format!("FILES_{}", db_binding.strip_prefix("DB_").unwrap_or(db_binding)), str::to_owned)
}

/// One environment's registry entry and database, opened from a validated
/// key or an [`Authorized`] proof.
pub struct Environment {
    pub(super) name: EnvironmentName,
    environment_type: EnvironmentType,
    status: String,
    position: u32,
    requires_subscriber_credential: bool,
    allowed_origins: Vec<String>,
    log_retention_days: u32,
    token_max_ttl_seconds: u64,
    signing: SigningSecrets,
    pub(super) bindings: Bindings,
    privacy: Privacy,
    pub(super) db: Rc<D1Database>,
    /// The feed shards' databases, in shard order; none when the feed is in
    /// `db` (`shards.rs`). More are opened when a bucket map read since
    /// needs them.
    pub(super) shards: RefCell<Vec<Rc<D1Database>>>,
    /// Where each bucket's feed is, as the registry row said or as read
    /// since from the environment's own database (`shards.rs`).
    pub(super) map: Cell<BucketMap>,
    /// The platform, to open the shards a newer bucket map needs.
    pub(super) platform: Platform,
    pub(super) faults: FaultPlan,
    /// The feed's D1 session, the database it reads and the count that
    /// placed the feed there, once a route starts one (`replicas.rs`).
    pub(super) session: OnceCell<(FeedHome, ShardCount, D1DatabaseSession)>,
    /// Whether the bucket map changed after the session started: its
    /// bookmark is then another database's, and not handed out.
    pub(super) session_moved: Cell<bool>,
}

const LOOKUP: &str = "SELECT k.kind, k.revoked_at, k.expires_at, e.name AS environment, \
    e.type AS environment_type, e.status, e.position, e.db_binding, e.requires_subscriber_credential, \
    e.allowed_origins, e.subscriber_signing_secret, e.signing_key_id, e.previous_signing_secret, \
    e.previous_signing_key_id, e.previous_signing_expires_at, e.log_retention_days, \
    e.obfuscate_subscriber_data, e.hide_message_contents, e.kv_binding, e.subscriber_token_max_ttl_seconds, \
    e.files_binding, e.feed_shards, e.feed_shards_from, e.feed_moved, k.scopes FROM api_keys k JOIN environments e ON e.name = k.environment WHERE k.hash = ?1";

/// The same row for an environment by name, as if through a secret key.
const LOOKUP_BY_NAME: &str = "SELECT 'secret' AS kind, NULL AS revoked_at, NULL AS expires_at, \
    e.name AS environment, e.type AS environment_type, e.status, e.position, e.db_binding, \
    e.requires_subscriber_credential, e.allowed_origins, e.subscriber_signing_secret, e.signing_key_id, \
    e.previous_signing_secret, e.previous_signing_key_id, e.previous_signing_expires_at, e.log_retention_days, \
    e.obfuscate_subscriber_data, e.hide_message_contents, e.kv_binding, e.subscriber_token_max_ttl_seconds, \
    e.files_binding, e.feed_shards, e.feed_shards_from, e.feed_moved, NULL AS scopes FROM environments e WHERE e.name = ?1 AND e.status != 'deleted'";

impl Environment {
    /// Looks `key` up by its hash (the isolate's memory, then the KV cache,
    /// then the D1 registry) and opens its environment, if this deployment
    /// serves it. A hash the registry does not know is remembered as such
    /// (memory and KV, like a known one) and counted against `client`'s
    /// key-lookup budget; once that is spent, the client's lookups of keys
    /// no cache holds are refused without a database read. Answers the
    /// environment and what the key may do there.
    pub async fn open(env: &Platform, key: &ApiKey, client: &str, now_ms: u64) -> Result<(Self, KeyScopes), ApiError> {
        super::deployment::ensure_served(env, key.environment())?;
        let hash = key.hash();
        let unknown =
            || ApiError::new(401, ErrorCode::UnknownKey, "this API key does not exist; check that it was copied whole");
        if key_cache::recall_unknown(&hash, now_ms) {
            return Err(unknown());
        }
        let remembered = key_cache::recall(&hash, now_ms);
        // The KV namespace is opened only when the isolate's memory misses.
        let cache = if remembered.is_some() { None } else { env.key_cache(key.environment()) };
        let cached = match (remembered, &cache) {
            (Some(row), _) => Some(row),
            (None, Some(cache)) => cache.get(&hash).await.inspect(|row| key_cache::remember(&hash, row, now_ms)),
            (None, None) => None,
        };
        let row = match cached {
            Some(row) => row,
            None => {
                if let Some(cache) = &cache {
                    if cache.is_known_unknown(&hash).await {
                        key_cache::remember_unknown(&hash, now_ms);
                        return Err(unknown());
                    }
                }
                super::rate_limits::guard_lookup(client, now_ms)?;
                let found: Option<CachedKey> = statement(&control_db(env)?, LOOKUP, &[text(&hash)])?
                    .first(None)
                    .await
                    .map_err(|error| storage_error("key lookup", error))?;
                let Some(row) = found else {
                    super::rate_limits::note_failed_lookup(env, client, now_ms).await;
                    key_cache::remember_unknown(&hash, now_ms);
                    if let Some(cache) = &cache {
                        cache.put_unknown(&hash).await;
                    }
                    return Err(unknown());
                };
                if let Some(cache) = &cache {
                    // A revoked key is remembered by this isolate only: a deleted
                    // environment's namespace must stay empty.
                    let status =
                        KeyStatus::at(row.revoked_at.map(|at| at as u64), row.expires_at.map(|at| at as u64), now_ms);
                    if status.is_usable() {
                        cache.put(&hash, &row, now_ms).await;
                    }
                    key_cache::remember(&hash, &row, now_ms);
                }
                row
            }
        };
        // The hash matched, so the key text matched; these guard the registry itself.
        if row.environment != key.environment().as_str() || KeyKind::parse(&row.kind) != Some(key.kind()) {
            return Err(ApiError::internal("key lookup", "registry entry disagrees with key"));
        }
        let status = KeyStatus::at(row.revoked_at.map(|at| at as u64), row.expires_at.map(|at| at as u64), now_ms);
        let leaving = matches!(Status::parse(&row.status), Some(Status::Deleting | Status::Deleted));
        if !status.is_usable() || leaving {
            return Err(ApiError::new(401, ErrorCode::KeyRevoked, "this API key has been revoked; use a current key"));
        }
        if Status::parse(&row.status) == Some(Status::Archived) {
            return Err(ApiError::new(
                401,
                ErrorCode::EnvironmentArchived,
                format!("the {} environment is archived; its keys work again if it is restored", key.environment()),
            ));
        }
        let kv_binding = row.kv_binding.clone().unwrap_or_else(|| key_cache::namespace_of(key.environment()));
        let scopes = KeyScopes::from_stored(row.scopes.as_deref());
        // A key's request to a deployment without the environment's bindings belongs elsewhere.
        let scope = Self::from_row(env, key.environment().clone(), row, kv_binding).map_err(|error| {
            if error.code() == ErrorCode::EnvironmentNotReady {
                ApiError::new(421, ErrorCode::EnvironmentNotServed, error.message().to_owned())
            } else {
                error
            }
        })?;
        Ok((scope, scopes))
    }

    /// Opens the environment a stream ticket names and consumes the ticket
    /// for `subscriber` (one use: a second try finds nothing). The key it
    /// was issued with must still work; the grant says which key it was and
    /// when the socket's credentials stop working. A ticket that is unknown,
    /// used, expired or for another subscriber: 401 `stream_ticket_invalid`.
    pub async fn open_with_ticket(
        env: &Platform,
        ticket: &StreamTicket,
        subscriber: &SubscriberId,
        now_ms: u64,
    ) -> Result<(Self, StreamGrant), ApiError> {
        #[derive(Deserialize)]
        struct TicketRow {
            subscriber_id: String,
            key_id: String,
            credential_issued_at: Option<f64>,
            credential_expires_at: Option<f64>,
            expires_at: f64,
        }
        #[derive(Deserialize)]
        struct KeyRow {
            revoked_at: Option<f64>,
            expires_at: Option<f64>,
        }
        let invalid = |why: &str| {
            ApiError::new(
                401,
                ErrorCode::StreamTicketInvalid,
                format!("this stream ticket {why}; ask for a new one with POST …/feed/stream-ticket"),
            )
        };
        super::deployment::ensure_served(env, ticket.environment())?;
        let environment = Self::open_named(env, ticket.environment()).await.map_err(|error| {
            // A socket's ticket answers as a key would.
            if error.code() == ErrorCode::EnvironmentArchived {
                ApiError::new(401, ErrorCode::EnvironmentArchived, error.message().to_owned())
            } else {
                error
            }
        })?;
        let used: Option<TicketRow> = statement(
            &environment.db,
            "DELETE FROM stream_tickets WHERE hash = ?1 \
             RETURNING subscriber_id, key_id, credential_issued_at, credential_expires_at, expires_at",
            &[text(&ticket.hash())],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("use stream ticket", error))?;
        let used = used.ok_or_else(|| invalid("is unknown or was used already"))?;
        if used.expires_at as u64 <= now_ms {
            return Err(invalid("has expired"));
        }
        if used.subscriber_id != subscriber.as_str() {
            return Err(invalid("was issued for another subscriber"));
        }
        // A ticket is as old as the credential it was issued with (a hash: the revocation stamp
        // then, at least): a revocation (or the subscriber's deletion) since refuses it.
        let issued_at = used.credential_issued_at.map_or(used.expires_at as u64 - TTL_MS, |at| at as u64);
        if issued_at < environment.tokens_not_before(subscriber).await? {
            return Err(ApiError::new(
                401,
                ErrorCode::SubscriberCredentialRevoked,
                "the subscriber's credentials were revoked after this ticket was issued",
            ));
        }
        let key: KeyRow = statement(
            &control_db(env)?,
            "SELECT revoked_at, expires_at FROM api_keys WHERE id = ?1 AND environment = ?2",
            &[text(&used.key_id), text(ticket.environment().as_str())],
        )?
        .first(None)
        .await
        .map_err(|error| storage_error("read ticket key", error))?
        .ok_or_else(|| invalid("names a key that does not exist"))?;
        let key_expiry = key.expires_at.map(|at| at as u64);
        if !KeyStatus::at(key.revoked_at.map(|at| at as u64), key_expiry, now_ms).is_usable() {
            return Err(ApiError::new(
                401,
                ErrorCode::KeyRevoked,
                "the key this ticket was issued with has been revoked",
            ));
        }
        let deadline = match (used.credential_expires_at.map(|at| at as u64), key_expiry) {
            (Some(token), Some(key)) => Some(token.min(key)),
            (token, key) => token.or(key),
        };
        Ok((environment, StreamGrant { key_id: used.key_id, deadline }))
    }

    /// Opens the environment an [`Authorized`] proof names. It must be
    /// provisioned: otherwise 409 `environment_not_ready`.
    pub async fn open_authorized(env: &Platform, authorized: &Authorized) -> Result<Self, ApiError> {
        Self::open_named(env, authorized.environment()?).await
    }

    /// Opens the source and the target of an allowed promotion.
    pub async fn open_pair(env: &Platform, authorized: &Authorized) -> Result<(Self, Self), ApiError> {
        let (from, to) = authorized.pair()?;
        Ok((Self::open_named(env, from).await?, Self::open_named(env, to).await?))
    }

    pub(super) async fn open_named(env: &Platform, name: &EnvironmentName) -> Result<Self, ApiError> {
        let row: CachedKey = statement(&control_db(env)?, LOOKUP_BY_NAME, &[text(name.as_str())])?
            .first(None)
            .await
            .map_err(|error| storage_error("environment lookup", error))?
            .ok_or_else(|| {
                ApiError::new(404, ErrorCode::EnvironmentNotFound, format!("there is no environment named {name}"))
            })?;
        if Status::parse(&row.status) == Some(Status::Archived) {
            return Err(super::lifecycle::archived(name));
        }
        if !Status::parse(&row.status).is_some_and(Status::accepts_new_keys) {
            return Err(ApiError::new(
                409,
                ErrorCode::EnvironmentNotReady,
                format!("the {name} environment is {}; its storage can be used once it is ready", row.status),
            ));
        }
        let kv_binding = row.kv_binding.clone().unwrap_or_else(|| key_cache::namespace_of(name));
        Self::from_row(env, name.clone(), row, kv_binding)
    }

    fn from_row(env: &Platform, name: EnvironmentName, row: CachedKey, kv_binding: String) -> Result<Self, ApiError> {
        let environment_type = EnvironmentType::parse(&row.environment_type)
            .map_err(|error| ApiError::internal("registry type", error))?;
        let shard_count = ShardCount::from_stored(row.feed_shards);
        let bindings = Bindings::of_row(&name, &row.db_binding, &kv_binding, row.files_binding.as_deref(), shard_count);
        let db = env.environment_db(&bindings).map_err(|_| missing_binding(&name, bindings.db()))?;
        let shards = open_shards(env, &name, &bindings)?;
        // An unreadable routing copy routes as settled: the fences refuse what it gets wrong,
        // and the map is read again from the environment's own database.
        let map = BucketMap::from_stored(
            shard_count,
            row.feed_shards_from.map(ShardCount::from_stored),
            row.feed_moved.as_deref(),
        )
        .unwrap_or_else(|_| BucketMap::settled(shard_count));
        let signing = signing_secrets(env, &row)?;
        let flag = |value: Option<f64>| value.map(|value| value != 0.0);
        let privacy =
            Privacy::resolve(environment_type, flag(row.obfuscate_subscriber_data), flag(row.hide_message_contents));
        Ok(Self {
            name,
            privacy,
            environment_type,
            status: row.status,
            position: row.position as u32,
            requires_subscriber_credential: row.requires_subscriber_credential != 0.0,
            allowed_origins: serde_json::from_str(&row.allowed_origins).unwrap_or_default(),
            signing,
            log_retention_days: row.log_retention_days as u32,
            token_max_ttl_seconds: row.subscriber_token_max_ttl_seconds as u64,
            bindings,
            db: Rc::new(db),
            shards: RefCell::new(shards),
            map: Cell::new(map),
            platform: env.clone(),
            faults: FaultPlan::default(),
            session: OnceCell::new(),
            session_moved: Cell::new(false),
        })
    }

    /// The same scope with its own database handle, for work that outlives
    /// the request (`wait_until`).
    pub fn reopen(&self, env: &Platform) -> Result<Self, ApiError> {
        let db = env.environment_db(&self.bindings).map_err(|error| ApiError::internal("reopen environment", error))?;
        let map = self.map.get();
        let shards = open_shards(env, &self.name, &self.bindings.with_shards(map.to()))?;
        Ok(Self {
            name: self.name.clone(),
            environment_type: self.environment_type,
            status: self.status.clone(),
            position: self.position,
            requires_subscriber_credential: self.requires_subscriber_credential,
            allowed_origins: self.allowed_origins.clone(),
            log_retention_days: self.log_retention_days,
            token_max_ttl_seconds: self.token_max_ttl_seconds,
            signing: self.signing.clone(),
            bindings: self.bindings.clone(),
            privacy: self.privacy,
            db: Rc::new(db),
            shards: RefCell::new(shards),
            map: Cell::new(map),
            platform: env.clone(),
            faults: FaultPlan::default(),
            session: OnceCell::new(),
            session_moved: Cell::new(false),
        })
    }

    /// Applies a request's injected faults to this scope's writes (tests only).
    pub fn inject_faults(&mut self, faults: FaultPlan) {
        self.faults = faults;
    }

    /// What the request's injected faults ask of the deliveries' hand-off (tests only).
    pub fn hand_off_fault(&self) -> super::faults::HandOffFault {
        self.faults.hand_off()
    }

    /// Runs `statements` as one D1 transaction, retrying transient failures;
    /// only for writes that are safe to apply twice.
    pub(super) async fn write_batch(
        &self,
        operation: &'static str,
        statements: Vec<D1PreparedStatement>,
    ) -> Result<Vec<D1Result>, ApiError> {
        retry::write(&self.faults, operation, || self.db.batch(statements.clone())).await
    }

    /// Runs one statement, retrying transient failures; only for writes
    /// that are safe to apply twice.
    pub(super) async fn write_one(
        &self,
        operation: &'static str,
        statement: D1PreparedStatement,
    ) -> Result<D1Result, ApiError> {
        retry::write(&self.faults, operation, || {
            let statement = statement.clone();
            async move { statement.run().await }
        })
        .await
    }

    /// The environment's name.
    pub fn name(&self) -> &EnvironmentName {
        &self.name
    }

    /// The environment's type.
    pub fn environment_type(&self) -> EnvironmentType {
        self.environment_type
    }

    /// How many days execution logs are kept.
    pub fn log_retention_days(&self) -> u32 {
        self.log_retention_days
    }

    /// The longest lifetime of a subscriber token here, in seconds.
    pub fn token_max_ttl_seconds(&self) -> u64 {
        self.token_max_ttl_seconds
    }

    /// Whether feed requests need a subscriber credential.
    pub fn requires_subscriber_credential(&self) -> bool {
        self.requires_subscriber_credential
    }

    /// Whether the console masks personal data and hides message contents here.
    pub fn privacy(&self) -> Privacy {
        self.privacy
    }

    /// The secrets behind subscriber tokens and hashes.
    pub fn signing(&self) -> &SigningSecrets {
        &self.signing
    }

    /// Whether a page at `origin` may use this environment's publishable key.
    pub fn allows_origin(&self, origin: &str) -> bool {
        origin::is_allowed(origin, self.environment_type, &self.allowed_origins)
    }

    /// The environment as the API describes it.
    pub fn info(&self) -> EnvironmentInfo {
        EnvironmentInfo {
            name: self.name.to_string(),
            environment_type: self.environment_type.as_str().to_owned(),
            status: self.status.clone(),
            position: self.position,
            requires_subscriber_credential: self.requires_subscriber_credential,
        }
    }
}

/// A binding this deployment lacks: a lasting condition (the environment is
/// not provisioned here), answered 409 `environment_not_ready`, not a 503 to retry.
pub(super) fn missing_binding(name: &EnvironmentName, binding: &str) -> ApiError {
    worker::console_error!("environment {name}: binding {binding} is missing");
    ApiError::new(
        409,
        ErrorCode::EnvironmentNotReady,
        format!("the {name} environment is not provisioned in this deployment: its binding {binding} is missing"),
    )
}

/// The databases of an environment's feed shards; a missing one is a
/// missing binding, as the environment's own database would be.
pub(super) fn open_shards(
    env: &Platform,
    name: &EnvironmentName,
    bindings: &Bindings,
) -> Result<Vec<Rc<D1Database>>, ApiError> {
    (0..bindings.shards().len())
        .map(|index| {
            env.shard_db(bindings, index).map(Rc::new).map_err(|_| missing_binding(name, &bindings.shards()[index]))
        })
        .collect()
}

/// The signing-secret slots of a registry row, opened (the registry and
/// the KV cache hold them sealed).
fn signing_secrets(env: &Platform, row: &CachedKey) -> Result<SigningSecrets, ApiError> {
    let open = |stored: &str| super::secrets::open_signing_secret(env, stored);
    let previous = match (&row.previous_signing_secret, &row.previous_signing_key_id, row.previous_signing_expires_at) {
        (Some(secret), Some(key_id), Some(until)) => {
            Some((SigningSecret { key_id: key_id.clone(), secret: open(secret)? }, until as u64))
        }
        _ => None,
    };
    Ok(SigningSecrets {
        current: SigningSecret { key_id: row.signing_key_id.clone(), secret: open(&row.subscriber_signing_secret)? },
        previous,
    })
}
