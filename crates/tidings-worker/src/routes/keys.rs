//! Control plane: an environment's keys. `GET|POST /v1/environments/{name}/keys`,
//! `POST …/keys/{id}/regenerate`, `DELETE …/keys/{id}`.

use serde_json::json;
use tidings_core::access::Action;
use tidings_core::environment::EnvironmentName;
use tidings_core::key::{ApiKey, KeyKind};
use tidings_core::key_lifecycle::rotation_end;
use tidings_core::key_scope::{KeyScopeError, KeyScopes};
use tidings_core::lifecycle::Status;
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{CreateKeyRequest, IssuedKey, KeyList, RegenerateKeyRequest, RegeneratedKey};

use super::environments::{exposing, masks, parse_name};
use crate::auth::{authorize_in, Actor, Authorized};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_json, read_optional_json};
use crate::platform::{now_ms, random};
use crate::request::IncomingRequest;
use crate::routes::audit;
use crate::store::Platform;
use crate::store::{self, KeyEnd};

/// The environment's keys, masked, newest first.
pub async fn list(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::ManageKeys).await?;
    let keys = store::list_keys(env, &authorized, now_ms()).await?;
    json(&KeyList { keys }, 200)
}

/// Issues a key of the requested kind; the key is in this answer only.
pub async fn create(request: &mut IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::ManageKeys).await?;
    let body: CreateKeyRequest = read_json(request).await?;
    let kind = KeyKind::parse(&body.kind)
        .ok_or_else(|| ApiError::validation("kind", "kind must be \"publishable\" or \"secret\""))?;
    let scopes = requested_scopes(kind, body.scopes.as_deref())?;
    let authorized = secret_key_rights(env, authorized, kind).await?;
    let actor = authorized.actor();
    let key = ApiKey::generate(kind, &name, random()?);
    let summary = json!({"after": {"kind": kind.as_str(), "masked": key.masked(), "scopes": scopes.names()}});
    let entry = draft(actor, "key.create", &name, &key.id(), summary)?;
    let info = store::issue_key(env, &authorized, &key, &scopes, None, Some(&entry.record()), now_ms()).await?;
    json(&IssuedKey { info, key: key.expose().to_owned() }, 201)
}

/// Issues a replacement key and lets the old one work for the grace period
/// (0 revokes it at once).
pub async fn regenerate(request: &mut IncomingRequest, env: &Platform, raw_name: &str, key_id: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::ManageKeys).await?;
    let body: RegenerateKeyRequest = read_optional_json(request).await?;
    let now = now_ms();
    let end = rotation_end(now, body.grace_period_seconds)?;
    let (kind, old_scopes) = store::usable_key(env, &authorized, key_id, now).await?;
    // The replacement keeps the old key's scopes unless the request names others.
    let scopes = match &body.scopes {
        Some(names) => requested_scopes(kind, names.as_deref())?,
        None => old_scopes,
    };
    let authorized = secret_key_rights(env, authorized, kind).await?;
    let actor = authorized.actor();
    // A replacement can be issued only where keys can: never revoke the old one for nothing.
    let status = store::environment(env, &authorized).await?.environment.status;
    if !Status::parse(&status).is_some_and(Status::accepts_new_keys) {
        let code = if status == "archived" { ErrorCode::EnvironmentArchived } else { ErrorCode::EnvironmentNotReady };
        return Err(ApiError::new(
            409,
            code,
            format!("the {name} environment is {status}: no key can be issued, so its keys are left as they are"),
        ));
    }
    // The replacement is issued first, the old key ended after: a replacement refused (no room,
    // say) leaves the old key as it was. Without a grace period the old key, revoked right
    // after, does not count against the room.
    let replaced_now = if end.is_none() { Some(key_id) } else { None };
    let key = ApiKey::generate(kind, &name, random()?);
    // The entry is written with the regeneration's last write.
    let summary =
        json!({"after": {"new_key": key.id(), "old_key_expires_at": end.map(rfc3339), "scopes": scopes.names()}});
    let entry = draft(actor, "key.regenerate", &name, key_id, summary)?;
    let info = store::issue_key(env, &authorized, &key, &scopes, replaced_now, None, now).await?;
    let old_key = match end {
        Some(at) => store::end_key(env, &authorized, key_id, KeyEnd::ExpireAt(at), Some(&entry.record()), now).await?,
        None => store::end_key(env, &authorized, key_id, KeyEnd::RevokeNow, Some(&entry.record()), now).await?,
    };
    json(&RegeneratedKey { new_key: IssuedKey { info, key: key.expose().to_owned() }, old_key }, 201)
}

/// Revokes a key at once.
pub async fn revoke(request: &IncomingRequest, env: &Platform, raw_name: &str, key_id: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::ManageKeys).await?;
    let actor = authorized.actor();
    let now = now_ms();
    store::usable_key(env, &authorized, key_id, now).await?;
    let entry = draft(actor, "key.revoke", &name, key_id, json!({"after": {"revoked_at": rfc3339(now)}}))?;
    let revoked = store::end_key(env, &authorized, key_id, KeyEnd::RevokeNow, Some(&entry.record()), now).await?;
    json(&revoked, 200)
}

/// The scopes a key is issued with: only secret keys take them.
fn requested_scopes(kind: KeyKind, names: Option<&[String]>) -> ApiResult<KeyScopes> {
    if kind == KeyKind::Publishable && names.is_some() {
        return Err(KeyScopeError::Publishable.into());
    }
    Ok(KeyScopes::requested(names)?)
}

/// A secret key reads every subscriber's profile and feed unmasked, and so
/// does a publishable key where feeds need no subscriber credential: where
/// the environment masks personal data, issuing one needs a personal-data
/// grant there.
async fn secret_key_rights(env: &Platform, authorized: Authorized, kind: KeyKind) -> ApiResult<Authorized> {
    let details = store::environment(env, &authorized).await?;
    let reads_feeds = kind == KeyKind::Secret || !details.environment.requires_subscriber_credential;
    exposing(env, authorized, Action::ManageKeys, reads_feeds && masks(&details)).await
}

/// Drafts the audit entry of a key change; keys themselves never reach the audit log.
fn draft(
    actor: &Actor,
    action: &'static str,
    environment: &EnvironmentName,
    key_id: &str,
    summary: serde_json::Value,
) -> ApiResult<audit::Draft> {
    audit::draft(actor, action, Some(environment.as_str()), format!("key:{key_id}"), summary)
}
