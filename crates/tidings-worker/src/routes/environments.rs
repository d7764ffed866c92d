//! Control plane: `GET|POST /v1/environments`, `GET|PATCH|DELETE /v1/environments/{name}`,
//! `POST /v1/environments/{name}/signing-secret/rotate`.

use tidings_core::environment::EnvironmentName;
use tidings_core::logs;
use tidings_core::query::decode_segment;
use tidings_core::settings;
use tidings_core::signing;
use tidings_core::subscriber;
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::{
    CreateEnvironmentRequest, CreatedEnvironment, EnvironmentList, EnvironmentPatch, RotateSigningSecretRequest,
    RotatedSigningSecret,
};
use worker::{Env, Request};

use crate::auth::authenticate_admin;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_json};
use crate::platform::{now_ms, random};
use crate::store;

/// Every environment with its settings, in promotion order.
pub async fn list(request: &Request, env: &Env) -> ApiResult {
    authenticate_admin(request, env)?;
    json(&EnvironmentList { environments: store::list_environments(env).await? }, 200)
}

/// One environment with its settings.
pub async fn get(request: &Request, env: &Env, raw_name: &str) -> ApiResult {
    authenticate_admin(request, env)?;
    json(&store::environment(env, &parse_name(raw_name)?).await?, 200)
}

/// Changes labels, colours, allowed origins or the credential requirement.
pub async fn update(request: &mut Request, env: &Env, raw_name: &str) -> ApiResult {
    authenticate_admin(request, env)?;
    let name = parse_name(raw_name)?;
    let patch: EnvironmentPatch = read_json(request).await?;
    if let Some(label) = &patch.label {
        settings::validate_label(label)?;
    }
    if let Some(colour) = &patch.colour {
        settings::validate_colour(colour)?;
    }
    if let Some(origins) = &patch.allowed_origins {
        settings::validate_origins(origins)?;
    }
    if let Some(days) = patch.log_retention_days {
        logs::validate_retention(days).map_err(|error| ApiError::validation(error.field, error.to_string()))?;
    }
    json(&store::update_environment(env, &name, &patch).await?, 200)
}

/// Registers a custom environment: 201 when its bindings are already there
/// (`ready`), 202 while it waits for them (`creating`).
pub async fn create(request: &mut Request, env: &Env) -> ApiResult {
    authenticate_admin(request, env)?;
    let body: CreateEnvironmentRequest = read_json(request).await?;
    if let Some(label) = &body.label {
        settings::validate_label(label)?;
    }
    if let Some(colour) = &body.colour {
        settings::validate_colour(colour)?;
    }
    let secret = subscriber::signing_secret(random()?);
    let environment = store::create_environment(env, &body, &secret, now_ms()).await?;
    let status = if environment.environment.status == "creating" { 202 } else { 201 };
    json(&CreatedEnvironment { environment, subscriber_signing_secret: secret }, status)
}

/// Rotates the subscriber signing secret: a new current secret (shown
/// once), the old one verifying for the grace period.
pub async fn rotate_signing_secret(request: &mut Request, env: &Env, raw_name: &str) -> ApiResult {
    authenticate_admin(request, env)?;
    let name = parse_name(raw_name)?;
    let body: RotateSigningSecretRequest = read_json(request).await?;
    let grace = body.grace_period_seconds.unwrap_or(signing::DEFAULT_GRACE_SECONDS);
    let rotated =
        store::rotate_signing_secret(env, &name, subscriber::signing_secret(random()?), now_ms(), grace).await?;
    let (previous_key_id, previous_expires_at) = match rotated.previous {
        Some((secret, until)) => (Some(secret.key_id), Some(rfc3339(until))),
        None => (None, None),
    };
    let answer = RotatedSigningSecret {
        key_id: rotated.current.key_id,
        subscriber_signing_secret: rotated.current.secret,
        previous_key_id,
        previous_expires_at,
    };
    json(&answer, 200)
}

/// Deletes a custom environment: keys revoked first, then its data.
pub async fn delete(request: &Request, env: &Env, raw_name: &str) -> ApiResult {
    authenticate_admin(request, env)?;
    json(&store::delete_environment(env, &parse_name(raw_name)?, now_ms()).await?, 200)
}

/// An environment name from a path segment.
pub fn parse_name(raw: &str) -> ApiResult<EnvironmentName> {
    EnvironmentName::parse(&decode_segment(raw)?).map_err(|error| ApiError::validation("name", error.to_string()))
}
