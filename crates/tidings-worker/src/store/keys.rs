//! An environment's API keys in the control registry: issue, list, end.
//! Only control-plane routes call this, each with an `Authorized` proof for
//! `ManageKeys`; keys themselves are never stored, only their hashes.

use serde::Deserialize;
use tidings_core::access::Action;
use tidings_core::environment::EnvironmentName;
use tidings_core::key::{ApiKey, KeyKind};
use tidings_core::key_lifecycle::{
    check_restricted_key_capacity, check_secret_key_capacity, KeyStatus, MAX_ACTIVE_RESTRICTED_KEYS,
    MAX_ACTIVE_SECRET_KEYS,
};
use tidings_core::key_scope::{KeyScopeError, KeyScopes};
use tidings_core::lifecycle::Status;
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::KeyInfo;
use wasm_bindgen::JsValue;

use super::authorized::Authorized;
use super::members::{audit_statement_if, AuditRecord};
use super::platform::Platform;
use super::registry::{environment_row, refresh_status, set_status};
use super::{control_db, number, statement, storage_error, text};
use crate::error::ApiError;

#[derive(Deserialize)]
struct KeyRow {
    id: String,
    kind: String,
    masked: String,
    hash: String,
    created_at: f64,
    expires_at: Option<f64>,
    revoked_at: Option<f64>,
    scopes: Option<String>,
}

/// How a key stops working.
pub enum KeyEnd {
    /// Refused from `at` on (now).
    RevokeNow,
    /// Accepted until the given Unix millisecond.
    ExpireAt(u64),
}

/// The keys of an environment, newest first.
pub async fn list_keys(env: &Platform, authorized: &Authorized, now_ms: u64) -> Result<Vec<KeyInfo>, ApiError> {
    let name = authorized.require(Action::ManageKeys)?;
    environment_row(env, name).await?;
    Ok(key_rows(env, name).await?.iter().map(|row| key_info(row, now_ms)).collect())
}

/// Stores a new key's hash. A secret key is refused when the environment
/// already has the most active secret keys allowed.
pub async fn issue_key(
    env: &Platform,
    authorized: &Authorized,
    key: &ApiKey,
    scopes: &KeyScopes,
    replacing: Option<&str>,
    audit: Option<&AuditRecord<'_>>,
    now_ms: u64,
) -> Result<KeyInfo, ApiError> {
    let name = authorized.require(Action::ManageKeys)?;
    if key.environment() != name {
        return Err(ApiError::internal("issue key", "the key names another environment"));
    }
    let row = refresh_status(env, environment_row(env, name).await?).await?;
    let environment_status = Status::parse(&row.status).unwrap_or(Status::Failed);
    if !environment_status.accepts_new_keys() {
        return Err(ApiError::new(
            409,
            ErrorCode::EnvironmentNotReady,
            format!("the {name} environment is {}; keys can be issued once it is ready", environment_status.as_str()),
        ));
    }
    if key.kind() == KeyKind::Publishable && !scopes.is_full() {
        return Err(KeyScopeError::Publishable.into());
    }
    if key.kind() == KeyKind::Secret {
        check_room(env, name, scopes, replacing, now_ms).await?;
    }
    let hash = key.hash();
    let id = key.id();
    let control = control_db(env)?;
    // Only while the environment can take keys (a deletion that began since must not be
    // outrun), and only while a secret key still fits: counted in the insert itself, so two
    // issued at once never both pass (`replacing`, revoked just after, is not counted).
    let capacity = if scopes.is_full() { MAX_ACTIVE_SECRET_KEYS } else { MAX_ACTIVE_RESTRICTED_KEYS };
    let mut writes = vec![statement(
        &control,
        "INSERT INTO api_keys (id, environment, kind, hash, masked, created_at, scopes) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM environments WHERE name = ?2 \
         AND status IN ('ready', 'active')) AND (?3 != 'secret' OR (SELECT COUNT(*) FROM api_keys \
         WHERE environment = ?2 AND kind = 'secret' AND id IS NOT ?8 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > ?6) AND (scopes IS NULL) = (?7 IS NULL)) < ?9)",
        &[
            text(&id),
            text(name.as_str()),
            text(key.kind().as_str()),
            text(&hash),
            text(&key.masked()),
            number(now_ms),
            scopes.stored().as_deref().map_or(JsValue::NULL, text),
            replacing.map_or(JsValue::NULL, text),
            number(capacity as u64),
        ],
    )?];
    if let Some(audit) = audit {
        let issued = "EXISTS (SELECT 1 FROM api_keys WHERE id = ?8)";
        writes.push(audit_statement_if(&control, audit, now_ms, issued, &[text(&id)])?);
    }
    let results = control.batch(writes).await.map_err(|error| storage_error("issue key", error))?;
    let inserted = results.first().and_then(|result| result.meta().ok().flatten()).and_then(|meta| meta.changes);
    if inserted == Some(0) {
        if key.kind() == KeyKind::Secret {
            check_room(env, name, scopes, replacing, now_ms).await?;
        }
        return Err(ApiError::new(
            409,
            ErrorCode::EnvironmentNotReady,
            format!("the {name} environment is no longer ready for keys (a deletion began)"),
        ));
    }
    if environment_status == Status::Ready {
        set_status(env, name, Status::Active, None, Some(Status::Ready)).await?;
    }
    let row = KeyRow {
        id,
        kind: key.kind().as_str().to_owned(),
        masked: key.masked(),
        hash,
        created_at: now_ms as f64,
        expires_at: None,
        revoked_at: None,
        scopes: scopes.stored(),
    };
    Ok(key_info(&row, now_ms))
}

/// Checks that one more secret key with `scopes` fits, not counting
/// `replacing` (a key about to be revoked for it): full-access and
/// restricted keys are counted apart.
async fn check_room(
    env: &Platform,
    name: &EnvironmentName,
    scopes: &KeyScopes,
    replacing: Option<&str>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let usable = key_rows(env, name)
        .await?
        .iter()
        .filter(|row| {
            row.kind == "secret"
                && Some(row.id.as_str()) != replacing
                && row.scopes.is_some() != scopes.is_full()
                && status(row, now_ms).is_usable()
        })
        .count();
    if scopes.is_full() {
        check_secret_key_capacity(usable)?;
    } else {
        check_restricted_key_capacity(usable)?;
    }
    Ok(())
}

/// The kind and scopes of an environment's key, or 404 `key_not_found`;
/// 409 `key_already_revoked` when it no longer works.
pub async fn usable_key(
    env: &Platform,
    authorized: &Authorized,
    key_id: &str,
    now_ms: u64,
) -> Result<(KeyKind, KeyScopes), ApiError> {
    let name = authorized.require(Action::ManageKeys)?;
    let row = key_row(env, name, key_id).await?;
    if !status(&row, now_ms).is_usable() {
        return Err(ApiError::new(409, ErrorCode::KeyAlreadyRevoked, "this key is already revoked"));
    }
    let kind = KeyKind::parse(&row.kind).ok_or_else(|| ApiError::internal("key kind", &row.kind))?;
    Ok((kind, KeyScopes::from_stored(row.scopes.as_deref())))
}

/// Ends a key now or at a set time, and drops it from the cache.
pub async fn end_key(
    env: &Platform,
    authorized: &Authorized,
    key_id: &str,
    end: KeyEnd,
    audit: Option<&AuditRecord<'_>>,
    now_ms: u64,
) -> Result<KeyInfo, ApiError> {
    let name = authorized.require(Action::ManageKeys)?;
    let row = environment_row(env, name).await?;
    // A revoked key stays revoked when it was; an expiry only ever comes sooner.
    let (sql, at) = match end {
        KeyEnd::RevokeNow => {
            ("UPDATE api_keys SET revoked_at = ?3 WHERE environment = ?1 AND id = ?2 AND revoked_at IS NULL", now_ms)
        }
        KeyEnd::ExpireAt(at) => (
            "UPDATE api_keys SET expires_at = MIN(COALESCE(expires_at, ?3), ?3) \
             WHERE environment = ?1 AND id = ?2 AND revoked_at IS NULL",
            at,
        ),
    };
    let control = control_db(env)?;
    let mut writes = vec![statement(&control, sql, &[text(name.as_str()), text(key_id), number(at)])?];
    if let Some(audit) = audit {
        // Written only if the statement before it in this transaction changed the key.
        writes.push(audit_statement_if(&control, audit, now_ms, "changes() > 0", &[])?);
    }
    control.batch(writes).await.map_err(|error| storage_error("end key", error))?;
    forget_cached_keys(env, name).await?;
    // Its open realtime sockets close then too.
    super::realtime::close_sockets(env, &row.db_binding, super::realtime::Sockets::OfKey(key_id), at).await;
    Ok(key_info(&key_row(env, name, key_id).await?, now_ms))
}

async fn key_rows(env: &Platform, name: &EnvironmentName) -> Result<Vec<KeyRow>, ApiError> {
    statement(
        &control_db(env)?,
        "SELECT id, kind, masked, hash, created_at, expires_at, revoked_at, scopes FROM api_keys \
         WHERE environment = ?1 ORDER BY created_at DESC, id",
        &[text(name.as_str())],
    )?
    .all()
    .await
    .and_then(|result| result.results())
    .map_err(|error| storage_error("list keys", error))
}

async fn key_row(env: &Platform, name: &EnvironmentName, key_id: &str) -> Result<KeyRow, ApiError> {
    statement(
        &control_db(env)?,
        "SELECT id, kind, masked, hash, created_at, expires_at, revoked_at, scopes FROM api_keys \
         WHERE environment = ?1 AND id = ?2",
        &[text(name.as_str()), text(key_id)],
    )?
    .first(None)
    .await
    .map_err(|error| storage_error("read key", error))?
    .ok_or_else(|| ApiError::new(404, ErrorCode::KeyNotFound, format!("the {name} environment has no key {key_id}")))
}

fn status(row: &KeyRow, now_ms: u64) -> KeyStatus {
    KeyStatus::at(row.revoked_at.map(|at| at as u64), row.expires_at.map(|at| at as u64), now_ms)
}

fn key_info(row: &KeyRow, now_ms: u64) -> KeyInfo {
    KeyInfo {
        id: row.id.clone(),
        kind: row.kind.clone(),
        masked: row.masked.clone(),
        status: status(row, now_ms).as_str().to_owned(),
        created_at: rfc3339(row.created_at as u64),
        expires_at: row.expires_at.map(|at| rfc3339(at as u64)),
        revoked_at: row.revoked_at.map(|at| rfc3339(at as u64)),
        scopes: KeyScopes::from_stored(row.scopes.as_deref()).names(),
    }
}

/// Deletes the cached validation of every key of an environment, in KV
/// and in this isolate's memory.
pub(super) async fn forget_cached_keys(env: &Platform, name: &EnvironmentName) -> Result<(), ApiError> {
    let Some(cache) = env.key_cache(name) else {
        return Ok(());
    };
    for row in key_rows(env, name).await? {
        super::key_cache::forget(&row.hash);
        cache.delete(&row.hash).await.map_err(|error| ApiError::unavailable("forget cached key", error))?;
    }
    Ok(())
}
