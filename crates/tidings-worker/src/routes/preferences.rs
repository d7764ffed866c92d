//! `GET|PATCH /v1/subscribers/{id}/preferences` (publishable key +
//! subscriber credential, or secret key), and the environment's defaults:
//! `GET|PUT /v1/preferences/defaults` (secret key; promoted into production).

use tidings_core::key_scope::KeyScope;
use tidings_core::preferences::{self, Preferences};
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::PreferencesInput;

use super::feed::parse_subscriber;
use crate::auth::{authenticate_secret, authenticate_subscriber, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_json};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::store::Platform;

/// The subscriber's preferences: every channel globally, and workflow overrides.
pub async fn get(request: &IncomingRequest, env: &Platform, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    let caller = authenticate_subscriber(request, env, &subscriber, KeyScope::SubscribersRead).await?;
    answer_current(&caller, &subscriber).await
}

/// Changes some preferences; `null` removes a workflow override.
pub async fn update(request: &mut IncomingRequest, env: &Platform, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    let caller = authenticate_subscriber(request, env, &subscriber, KeyScope::SubscribersWrite).await?;
    let body: PreferencesInput = read_json(request).await?;
    let changes =
        preferences::changes(body).map_err(|error| ApiError::validation(error.field.clone(), error.to_string()))?;
    caller.scope.update_preferences(&subscriber, &changes, now_ms()).await?;
    answer_current(&caller, &subscriber).await
}

/// Answers the subscriber's stored preferences as they are now.
async fn answer_current(caller: &Caller, subscriber: &SubscriberId) -> ApiResult {
    let (stored, _) = caller.scope.preferences_of(std::slice::from_ref(subscriber), None).await?;
    json(&stored.get(subscriber.as_str()).cloned().unwrap_or_default().to_wire(), 200)
}

/// The environment's default preferences: what applies where a subscriber set nothing.
pub async fn defaults(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentRead).await?;
    json(&caller.scope.preference_defaults().await?.to_explicit_wire(), 200)
}

/// Replaces the environment's default preferences (content: refused in production).
pub async fn replace_defaults(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::ContentWrite).await?;
    caller.require_content_writable("default preferences")?;
    let body: PreferencesInput = read_json(request).await?;
    let defaults =
        Preferences::from_input(body).map_err(|error| ApiError::validation(error.field.clone(), error.to_string()))?;
    caller.scope.replace_preference_defaults(&caller.scope.unlocked(env).await?, &defaults, now_ms()).await?;
    json(&caller.scope.preference_defaults().await?.to_explicit_wire(), 200)
}
