//! Integrations (secret key): `GET|POST /v1/integrations`,
//! `GET|PUT|DELETE /v1/integrations/{id}`. Signing secrets are write-only.
//!
//! In production the configuration changes only by promotion; a PUT there
//! may only set the signing secret of an integration (secrets never move).

use serde::Serialize;
use tidings_core::key_scope::KeyScope;
use tidings_core::link;
use tidings_core::privacy;
use tidings_core::query::decode_segment;
use tidings_core::sealed;
use tidings_core::webhook::{self, IntegrationError};
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{Integration, IntegrationInput, IntegrationList};

use crate::auth::{authenticate_secret, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_json};
use crate::platform::{now_ms, random};
use crate::request::IncomingRequest;
use crate::store::Platform;
use crate::store::{self, IntegrationRecord};

/// Every integration, secrets left out.
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::IntegrationsRead).await?;
    let items = caller.scope.integrations().await?.into_iter().map(|item| as_seen_by(&caller, item)).collect();
    json(&IntegrationList { items }, 200)
}

/// An integration as `caller` may see it: its URL (which can carry a
/// credential, as Slack's do) whole only for a key that may change it
/// (`integrations:write`); a restricted key that may only read gets its
/// scheme and host, as a member who does not administer the environment does.
fn as_seen_by(caller: &Caller, mut integration: Integration) -> Integration {
    if !caller.scopes.permits(KeyScope::IntegrationsWrite) {
        integration.url = privacy::url_origin(&integration.url);
    }
    integration
}

/// Creates an integration; 409 `integration_exists` when the id is taken.
pub async fn create(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::IntegrationsWrite).await?;
    caller.require_content_writable("integrations")?;
    let input: IntegrationInput = read_json(request).await?;
    let id = input.id.clone().ok_or_else(|| ApiError::validation("id", "id is required"))?;
    if caller.scope.integration(&id).await?.is_some() {
        return Err(ApiError::new(
            409,
            ErrorCode::IntegrationExists,
            format!("an integration {id} exists; PUT it to change it"),
        )
        .with_field("id"));
    }
    if input.signing_secret.is_none() {
        return Err(ApiError::validation("signing_secret", "a new integration needs a signing_secret"));
    }
    save(&caller, env, (&id, input, Write::Any), 201).await
}

/// One integration, secret left out.
pub async fn get(request: &IncomingRequest, env: &Platform, raw_id: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::IntegrationsRead).await?;
    let id = parse_id(raw_id)?;
    json(&as_seen_by(&caller, caller.scope.integration(&id).await?.ok_or_else(|| not_found(&id))?), 200)
}

/// Creates or replaces an integration; without `signing_secret`, the stored
/// one is kept, which only the same URL may do.
pub async fn put(request: &mut IncomingRequest, env: &Platform, raw_id: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::IntegrationsWrite).await?;
    let id = parse_id(raw_id)?;
    let input: IntegrationInput = read_json(request).await?;
    if input.id.as_deref().is_some_and(|body| body != id) {
        return Err(ApiError::validation("id", "id in the body does not match the path"));
    }
    let existing = caller.scope.integration(&id).await?;
    let secret_only = existing.as_ref().is_some_and(|stored| {
        (stored.kind.as_str(), stored.name.as_str(), stored.url.as_str())
            == (input.kind.as_str(), input.name.as_str(), input.url.as_str())
            && input.signing_secret.is_some()
    });
    // Where integrations are content only promotion changes, a new secret alone is written only
    // while the integration is still as read (`Write::SecretOnly`).
    let content_writable = caller.require_content_writable("integrations").is_ok();
    if !secret_only {
        caller.require_content_writable("integrations")?;
    }
    let exists = existing.is_some();
    if !exists && input.signing_secret.is_none() {
        return Err(ApiError::validation("signing_secret", "a new integration needs a signing_secret"));
    }
    // The stored secret was given for the stored URL's receiver: kept, it would sign what another gets.
    if existing.as_ref().is_some_and(|stored| stored.url != input.url) && input.signing_secret.is_none() {
        return Err(ApiError::validation(
            "signing_secret",
            "a new URL needs a new signing_secret: the stored one was given for the old receiver and signs for it only",
        ));
    }
    let write = if content_writable { Write::Any } else { Write::SecretOnly };
    save(&caller, env, (&id, input, write), if exists { 200 } else { 201 }).await
}

/// Deletes an integration.
pub async fn delete(request: &IncomingRequest, env: &Platform, raw_id: &str) -> ApiResult {
    #[derive(Serialize)]
    struct Deleted {
        id: String,
        deleted: bool,
    }
    let caller = authenticate_secret(request, env, KeyScope::IntegrationsWrite).await?;
    caller.require_content_writable("integrations")?;
    let id = parse_id(raw_id)?;
    if !caller.scope.delete_integration(&caller.scope.unlocked(env).await?, &id).await? {
        return Err(not_found(&id));
    }
    json(&Deleted { id, deleted: true }, 200)
}

/// What a save may change.
enum Write {
    /// The whole integration.
    Any,
    /// Its secret only, while its kind, name and URL are still the input's.
    SecretOnly,
}

async fn save(
    caller: &Caller,
    env: &Platform,
    (id, input, write): (&str, IntegrationInput, Write),
    status: u16,
) -> ApiResult {
    webhook::validate_id(id).map_err(invalid)?;
    webhook::validate_config(&input.kind, &input.name, &input.url).map_err(invalid)?;
    link::check_webhook_target(&input.url, caller.scope.environment_type())
        .map_err(|error| ApiError::validation("url", error.to_string()))?;
    let sealed_secret = match &input.signing_secret {
        Some(secret) => {
            webhook::validate_secret(secret).map_err(invalid)?;
            let key = store::encryption_key(env)?;
            Some(sealed::seal(&key, random()?, secret).map_err(|error| ApiError::internal("seal secret", error))?)
        }
        None => None,
    };
    let record = IntegrationRecord { id, kind: &input.kind, name: &input.name, url: &input.url, sealed_secret };
    let unlocked = caller.scope.unlocked(env).await?;
    match write {
        Write::Any => {
            caller.scope.save_integration(&unlocked, record, now_ms()).await?;
        }
        Write::SecretOnly => {
            if !caller.scope.set_integration_secret(&unlocked, record, now_ms()).await? {
                // Changed (or removed) by a promotion since it was read: this would now change content.
                caller.require_content_writable("integrations")?;
            }
        }
    }
    let stored =
        caller.scope.integration(id).await?.ok_or_else(|| ApiError::internal("save integration", "vanished"))?;
    json(&stored, status)
}

fn parse_id(raw: &str) -> ApiResult<String> {
    let id = decode_segment(raw)?;
    webhook::validate_id(&id).map_err(invalid)?;
    Ok(id)
}

fn invalid(error: IntegrationError) -> ApiError {
    ApiError::validation(error.field, error.to_string())
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(404, ErrorCode::IntegrationNotFound, format!("there is no integration {id:?} in this environment"))
}
