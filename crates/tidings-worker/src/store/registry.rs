//! The control plane's view of the registry: environments, their settings
//! and their keys. Only control-plane routes call this.

use serde::Deserialize;
use tidings_core::environment::EnvironmentName;
use tidings_core::key::{ApiKey, KeyKind};
use tidings_core::key_lifecycle::{check_secret_key_capacity, KeyStatus};
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::{EnvironmentDetails, EnvironmentInfo, EnvironmentPatch, KeyInfo};
use wasm_bindgen::JsValue;
use worker::Env;

use super::{control_db, number, statement, storage_error, text};
use crate::error::ApiError;

#[derive(Deserialize)]
struct EnvironmentRow {
    name: String,
    environment_type: String,
    status: String,
    position: f64,
    label: Option<String>,
    colour: Option<String>,
    allowed_origins: String,
    requires_subscriber_credential: f64,
    status_reason: Option<String>,
    created_at: f64,
    kv_binding: String,
}

#[derive(Deserialize)]
struct KeyRow {
    id: String,
    kind: String,
    masked: String,
    hash: String,
    created_at: f64,
    expires_at: Option<f64>,
    revoked_at: Option<f64>,
}

const ENVIRONMENT_COLUMNS: &str = "name, type AS environment_type, status, position, label, colour, allowed_origins, \
    requires_subscriber_credential, status_reason, created_at, kv_binding";

/// How a key stops working.
pub enum KeyEnd {
    /// Refused from `at` on (now).
    RevokeNow,
    /// Accepted until the given Unix millisecond.
    ExpireAt(u64),
}

/// Every environment, in promotion order.
pub async fn list_environments(env: &Env) -> Result<Vec<EnvironmentDetails>, ApiError> {
    let control = control_db(env)?;
    let sql = format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments ORDER BY position");
    let rows: Vec<EnvironmentRow> = statement(&control, &sql, &[])?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("list environments", error))?;
    Ok(rows.into_iter().map(details).collect())
}

/// One environment, or 404 `environment_not_found`.
pub async fn environment(env: &Env, name: &EnvironmentName) -> Result<EnvironmentDetails, ApiError> {
    Ok(details(environment_row(env, name).await?))
}

/// Applies a settings change and drops cached keys so it takes effect.
pub async fn update_environment(
    env: &Env,
    name: &EnvironmentName,
    patch: &EnvironmentPatch,
) -> Result<EnvironmentDetails, ApiError> {
    let row = environment_row(env, name).await?;
    let optional = |value: &Option<String>| value.as_deref().map_or(JsValue::NULL, text);
    let origins = patch
        .allowed_origins
        .as_ref()
        .map(|origins| serde_json::Value::from(origins.clone()).to_string());
    let credential = patch
        .requires_subscriber_credential
        .map_or(JsValue::NULL, |flag| number(u64::from(flag)));
    statement(
        &control_db(env)?,
        "UPDATE environments SET label = COALESCE(?2, label), colour = COALESCE(?3, colour), \
         allowed_origins = COALESCE(?4, allowed_origins), \
         requires_subscriber_credential = COALESCE(?5, requires_subscriber_credential) WHERE name = ?1",
        &[
            text(name.as_str()),
            optional(&patch.label),
            optional(&patch.colour),
            optional(&origins),
            credential,
        ],
    )?
    .run()
    .await
    .map_err(|error| storage_error("update environment", error))?;
    forget_cached_keys(env, name, &row.kv_binding).await?;
    environment(env, name).await
}

/// The keys of an environment, newest first.
pub async fn list_keys(env: &Env, name: &EnvironmentName, now_ms: u64) -> Result<Vec<KeyInfo>, ApiError> {
    environment_row(env, name).await?;
    Ok(key_rows(env, name)
        .await?
        .iter()
        .map(|row| key_info(row, now_ms))
        .collect())
}

/// Stores a new key's hash. A secret key is refused when the environment
/// already has the most active secret keys allowed.
pub async fn issue_key(env: &Env, name: &EnvironmentName, key: &ApiKey, now_ms: u64) -> Result<KeyInfo, ApiError> {
    environment_row(env, name).await?;
    if key.kind() == KeyKind::Secret {
        let usable = key_rows(env, name)
            .await?
            .iter()
            .filter(|row| row.kind == "secret" && status(row, now_ms).is_usable())
            .count();
        check_secret_key_capacity(usable)?;
    }
    let hash = key.hash();
    let id = format!("key_{}", &hash[..16]);
    statement(
        &control_db(env)?,
        "INSERT INTO api_keys (id, environment, kind, hash, masked, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            text(&id),
            text(name.as_str()),
            text(key.kind().as_str()),
            text(&hash),
            text(&key.masked()),
            number(now_ms),
        ],
    )?
    .run()
    .await
    .map_err(|error| storage_error("issue key", error))?;
    let row = KeyRow {
        id,
        kind: key.kind().as_str().to_owned(),
        masked: key.masked(),
        hash,
        created_at: now_ms as f64,
        expires_at: None,
        revoked_at: None,
    };
    Ok(key_info(&row, now_ms))
}

/// The kind of an environment's key, or 404 `key_not_found`; 409
/// `key_already_revoked` when it no longer works.
pub async fn usable_key_kind(
    env: &Env,
    name: &EnvironmentName,
    key_id: &str,
    now_ms: u64,
) -> Result<KeyKind, ApiError> {
    let row = key_row(env, name, key_id).await?;
    if !status(&row, now_ms).is_usable() {
        return Err(ApiError::new(409, "key_already_revoked", "this key is already revoked"));
    }
    KeyKind::parse(&row.kind).ok_or_else(|| ApiError::internal("key kind", &row.kind))
}

/// Ends a key now or at a set time, and drops it from the cache.
pub async fn end_key(
    env: &Env,
    name: &EnvironmentName,
    key_id: &str,
    end: KeyEnd,
    now_ms: u64,
) -> Result<KeyInfo, ApiError> {
    let environment = environment_row(env, name).await?;
    let (sql, at) = match end {
        KeyEnd::RevokeNow => (
            "UPDATE api_keys SET revoked_at = ?3 WHERE environment = ?1 AND id = ?2",
            now_ms,
        ),
        KeyEnd::ExpireAt(at) => (
            "UPDATE api_keys SET expires_at = ?3 WHERE environment = ?1 AND id = ?2",
            at,
        ),
    };
    statement(&control_db(env)?, sql, &[text(name.as_str()), text(key_id), number(at)])?
        .run()
        .await
        .map_err(|error| storage_error("end key", error))?;
    forget_cached_keys(env, name, &environment.kv_binding).await?;
    Ok(key_info(&key_row(env, name, key_id).await?, now_ms))
}

async fn environment_row(env: &Env, name: &EnvironmentName) -> Result<EnvironmentRow, ApiError> {
    let sql = format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE name = ?1");
    statement(&control_db(env)?, &sql, &[text(name.as_str())])?
        .first(None)
        .await
        .map_err(|error| storage_error("read environment", error))?
        .ok_or_else(|| {
            ApiError::new(
                404,
                "environment_not_found",
                format!("there is no environment named {name}"),
            )
        })
}

async fn key_rows(env: &Env, name: &EnvironmentName) -> Result<Vec<KeyRow>, ApiError> {
    statement(
        &control_db(env)?,
        "SELECT id, kind, masked, hash, created_at, expires_at, revoked_at FROM api_keys \
         WHERE environment = ?1 ORDER BY created_at DESC, id",
        &[text(name.as_str())],
    )?
    .all()
    .await
    .and_then(|result| result.results())
    .map_err(|error| storage_error("list keys", error))
}

async fn key_row(env: &Env, name: &EnvironmentName, key_id: &str) -> Result<KeyRow, ApiError> {
    statement(
        &control_db(env)?,
        "SELECT id, kind, masked, hash, created_at, expires_at, revoked_at FROM api_keys \
         WHERE environment = ?1 AND id = ?2",
        &[text(name.as_str()), text(key_id)],
    )?
    .first(None)
    .await
    .map_err(|error| storage_error("read key", error))?
    .ok_or_else(|| {
        ApiError::new(
            404,
            "key_not_found",
            format!("the {name} environment has no key {key_id}"),
        )
    })
}

/// Deletes the cached validation of every key of an environment.
async fn forget_cached_keys(env: &Env, name: &EnvironmentName, kv_binding: &str) -> Result<(), ApiError> {
    let Ok(kv) = env.kv(kv_binding) else {
        return Ok(());
    };
    for row in key_rows(env, name).await? {
        kv.delete(&super::key_cache::cache_key(&row.hash))
            .await
            .map_err(|error| ApiError::unavailable("forget cached key", error))?;
    }
    Ok(())
}

fn status(row: &KeyRow, now_ms: u64) -> KeyStatus {
    KeyStatus::at(
        row.revoked_at.map(|at| at as u64),
        row.expires_at.map(|at| at as u64),
        now_ms,
    )
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
    }
}

fn details(row: EnvironmentRow) -> EnvironmentDetails {
    EnvironmentDetails {
        environment: EnvironmentInfo {
            name: row.name,
            environment_type: row.environment_type,
            status: row.status,
            position: row.position as u32,
            requires_subscriber_credential: row.requires_subscriber_credential != 0.0,
        },
        label: row.label,
        colour: row.colour,
        allowed_origins: serde_json::from_str(&row.allowed_origins).unwrap_or_default(),
        status_reason: row.status_reason,
        created_at: rfc3339(row.created_at as u64),
    }
}
