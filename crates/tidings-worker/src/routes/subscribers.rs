//! Subscribers (secret key): `GET /v1/subscribers`, `PUT|GET|DELETE
//! /v1/subscribers/{id}`, `POST /v1/subscribers/bulk`.

use serde::Serialize;
use tidings_core::key_scope::KeyScope;
use tidings_core::profile::{self, ListQuery};
use tidings_core::query::decode_segment;
use tidings_core::subscriber::SubscriberId;
use tidings_core::timestamp::rfc3339;
use tidings_core::token::{self, Scope};
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{BulkSubscribersRequest, SubscriberInput, TokenRequest, TokenResponse, TokenRevocation};

use crate::auth::authenticate_secret;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, query_pairs, read_json, read_optional_json};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::store::Platform;

/// A page of subscribers, ordered by id.
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::SubscribersRead).await?;
    let pairs = query_pairs(request)?;
    let query = ListQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    json(&caller.scope.subscribers(&query).await?, 200)
}

/// Creates (201) or replaces (200) a subscriber's profile.
pub async fn upsert(request: &mut IncomingRequest, env: &Platform, raw_id: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::SubscribersWrite).await?;
    let id = parse_id(raw_id)?;
    let input: SubscriberInput = read_json(request).await?;
    let (id, profile) = profile::validate(input, Some(&id))?;
    let outcome = caller.scope.upsert_subscribers(&[(id.clone(), profile)], now_ms()).await?;
    let stored =
        caller.scope.subscriber(&id).await?.ok_or_else(|| ApiError::internal("upsert", "subscriber vanished"))?;
    json(&stored, if outcome.created.is_empty() { 200 } else { 201 })
}

/// One subscriber's profile.
pub async fn get(request: &IncomingRequest, env: &Platform, raw_id: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::SubscribersRead).await?;
    let id = parse_id(raw_id)?;
    let subscriber = caller.scope.subscriber(&id).await?.ok_or_else(|| not_found(&id))?;
    json(&subscriber, 200)
}

/// Deletes a subscriber and their messages.
pub async fn delete(request: &IncomingRequest, env: &Platform, raw_id: &str) -> ApiResult {
    #[derive(Serialize)]
    struct Deleted {
        subscriber_id: String,
        deleted: bool,
    }
    let caller = authenticate_secret(request, env, KeyScope::SubscribersWrite).await?;
    let id = parse_id(raw_id)?;
    let now = now_ms();
    let deleted = caller.scope.delete_subscriber(&id, now).await?;
    // A socket needs no profile (a hash opens one for any id): the id's sockets end either way.
    caller.scope.close_subscriber_sockets(env, &id, now).await;
    if !deleted {
        return Err(not_found(&id));
    }
    json(&Deleted { subscriber_id: id.to_string(), deleted: true }, 200)
}

/// Creates or replaces up to 500 profiles in one write.
pub async fn bulk(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::SubscribersWrite).await?;
    let body: BulkSubscribersRequest = read_json(request).await?;
    let profiles = profile::validate_bulk(body.subscribers)?;
    json(&caller.scope.upsert_subscribers(&profiles, now_ms()).await?, 200)
}

/// Mints a subscriber token for a browser: bound to this environment and
/// subscriber, expiring, read or write.
pub async fn token(request: &mut IncomingRequest, env: &Platform, raw_id: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::TokensMint).await?;
    let id = parse_id(raw_id)?;
    let body: TokenRequest = read_optional_json(request).await?;
    let scope = match body.scope.as_deref() {
        None | Some("write") => Scope::Write,
        Some("read") => Scope::Read,
        Some(_) => return Err(ApiError::validation("scope", "scope must be \"read\" or \"write\"")),
    };
    let ttl = body.ttl_seconds.unwrap_or(token::DEFAULT_TTL_SECONDS);
    let ttl_error = |error: token::TokenError| ApiError::validation("ttl_seconds", error.to_string());
    token::check_lifetime(ttl, caller.scope.token_max_ttl_seconds()).map_err(ttl_error)?;
    // Issued no earlier than the subscriber's revocation stamp (a whole second), so a token
    // minted right after a revocation works, and the next revocation ends it.
    let issued = now_ms().max(caller.scope.tokens_not_before(&id).await?);
    let current = &caller.scope.signing().current;
    let minted = token::sign(current.secret.as_bytes(), &current.key_id, caller.scope.name(), &id, scope, issued, ttl)
        .map_err(ttl_error)?;
    let response = TokenResponse {
        token: minted,
        expires_at: rfc3339((issued / 1000 + ttl) * 1000),
        scope: scope.as_str().to_owned(),
    };
    json(&response, 201)
}

/// Revokes every token issued for a subscriber until now, without
/// rotating the environment's signing secret. Tokens minted afterwards work.
pub async fn revoke_tokens(request: &IncomingRequest, env: &Platform, raw_id: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::TokensMint).await?;
    let id = parse_id(raw_id)?;
    let now = now_ms();
    let stamp = caller.scope.revoke_tokens(&id, now).await?;
    caller.scope.close_subscriber_sockets(env, &id, now).await;
    json(&TokenRevocation { subscriber_id: id.to_string(), tokens_not_before: rfc3339(stamp) }, 200)
}

fn parse_id(raw: &str) -> ApiResult<SubscriberId> {
    Ok(SubscriberId::parse(&decode_segment(raw)?)?)
}

fn not_found(id: &SubscriberId) -> ApiError {
    ApiError::new(404, ErrorCode::SubscriberNotFound, format!("there is no subscriber {id} in this environment"))
}
