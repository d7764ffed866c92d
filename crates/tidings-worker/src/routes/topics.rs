//! Topics (secret key): `GET /v1/topics`, `PUT|GET|DELETE /v1/topics/{key}`,
//! `GET|POST|DELETE /v1/topics/{key}/subscribers`, and where a trigger
//! stands: `GET /v1/transactions/{id}`.

use serde::Serialize;
use tidings_core::key_scope::KeyScope;
use tidings_core::profile::ListQuery as MemberQuery;
use tidings_core::query::decode_segment;
use tidings_core::subscriber::SubscriberId;
use tidings_core::topic::{self, ListQuery, TopicKey, MAX_MEMBERS_PER_REQUEST};
use tidings_core::trigger;
use tidings_core::wire::{ErrorCode, TopicInput, TopicMembersRequest};

use crate::auth::authenticate_secret;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, query_pairs, read_json};
use crate::platform::now_ms;
use crate::request::IncomingRequest;
use crate::store::{MembersChanged, Platform};

/// A page of topics in key order.
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::SubscribersRead).await?;
    let pairs = query_pairs(request)?;
    let query = ListQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    json(&caller.scope.topics(query.after.as_ref().map(TopicKey::as_str), query.limit).await?, 200)
}

/// Creates a topic (201) or sets its name (200).
pub async fn put(request: &mut IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::SubscribersWrite).await?;
    let key = parse_key(raw_key)?;
    let input: TopicInput = read_json(request).await?;
    if let Some(name) = &input.name {
        topic::validate_name(name).map_err(|error| ApiError::validation("name", error.to_string()))?;
    }
    let created = caller.scope.put_topic(&key, input.name.as_deref(), now_ms()).await?;
    let stored = caller.scope.topic(&key).await?.ok_or_else(|| ApiError::internal("put topic", "topic vanished"))?;
    json(&stored, if created { 201 } else { 200 })
}

/// One topic.
pub async fn get(request: &IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::SubscribersRead).await?;
    let key = parse_key(raw_key)?;
    json(&caller.scope.topic(&key).await?.ok_or_else(|| not_found(&key))?, 200)
}

/// Deletes a topic and its memberships (the subscribers stay).
pub async fn delete(request: &IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    #[derive(Serialize)]
    struct Deleted {
        key: String,
        deleted: bool,
    }
    let caller = authenticate_secret(request, env, KeyScope::SubscribersWrite).await?;
    let key = parse_key(raw_key)?;
    if !caller.scope.delete_topic(&key).await? {
        return Err(not_found(&key));
    }
    json(&Deleted { key: key.to_string(), deleted: true }, 200)
}

/// A page of a topic's member ids, in order.
pub async fn members(request: &IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::SubscribersRead).await?;
    let key = parse_key(raw_key)?;
    let pairs = query_pairs(request)?;
    let query = MemberQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    let after = query.after.as_ref().map(SubscriberId::as_str);
    json(&caller.scope.topic_members(&key, after, query.limit).await?.ok_or_else(|| not_found(&key))?, 200)
}

/// Adds subscribers to a topic (unknown ids are created, empty).
pub async fn add_members(request: &mut IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    change_members(request, env, raw_key, true).await
}

/// Removes subscribers from a topic.
pub async fn remove_members(request: &mut IncomingRequest, env: &Platform, raw_key: &str) -> ApiResult {
    change_members(request, env, raw_key, false).await
}

async fn change_members(request: &mut IncomingRequest, env: &Platform, raw_key: &str, add: bool) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::SubscribersWrite).await?;
    let key = parse_key(raw_key)?;
    let body: TopicMembersRequest = read_json(request).await?;
    if body.subscribers.is_empty() || body.subscribers.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ApiError::validation(
            "subscribers",
            format!("name 1 to {MAX_MEMBERS_PER_REQUEST} subscriber ids per request"),
        ));
    }
    let mut ids = Vec::with_capacity(body.subscribers.len());
    for (index, raw) in body.subscribers.iter().enumerate() {
        let id = SubscriberId::parse(raw)
            .map_err(|error| ApiError::validation(format!("subscribers.{index}"), error.to_string()))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let now = now_ms();
    let changed = if add {
        caller.scope.add_topic_members(&key, &ids, now).await?
    } else {
        caller.scope.remove_topic_members(&key, &ids, now).await?
    };
    match changed {
        MembersChanged::Done(answer) => json(&answer, 200),
        MembersChanged::NoTopic => Err(not_found(&key)),
    }
}

/// Where a trigger stands: a fan-out's progress, or a trigger to
/// subscribers as its log entries record it.
pub async fn transaction(request: &IncomingRequest, env: &Platform, raw_id: &str) -> ApiResult {
    let caller = authenticate_secret(request, env, KeyScope::LogsRead).await?;
    let id = decode_segment(raw_id)?;
    let unknown = || {
        ApiError::new(
            404,
            ErrorCode::TransactionNotFound,
            format!("the {} environment has no trigger {id:?} (or its logs are past retention)", caller.scope.name()),
        )
    };
    if !trigger::is_transaction_id(&id) {
        return Err(unknown());
    }
    json(&caller.scope.transaction(&id).await?.ok_or_else(unknown)?, 200)
}

fn parse_key(raw: &str) -> ApiResult<TopicKey> {
    let key = decode_segment(raw)?;
    TopicKey::parse(&key).map_err(|error| ApiError::validation("key", error.to_string()))
}

fn not_found(key: &TopicKey) -> ApiError {
    ApiError::new(404, ErrorCode::TopicNotFound, format!("there is no topic {key} in this environment"))
}
