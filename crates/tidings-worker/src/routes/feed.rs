//! The subscriber's feed (publishable key + subscriber credential, or secret
//! key): `GET …/feed`, `GET …/feed/counts`, `POST …/feed/actions`.

use tidings_core::feed::{self, FeedQuery};
use tidings_core::feed_action;
use tidings_core::feed_filter::FeedFilter;
use tidings_core::query::decode_segment;
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::{FeedActionRequest, FeedActionResponse, FeedCountsList, FeedFilterInput, FeedResponse};
use worker::{Env, Request};

use crate::auth::authenticate_subscriber;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, query_pairs, read_json};
use crate::platform::now_ms;

/// One page of a subscriber's feed with its counts.
pub async fn list(request: &Request, env: &Env, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    let pairs = query_pairs(request)?;
    let query = FeedQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    let caller = authenticate_subscriber(request, env, &subscriber, false).await?;
    let (messages, counts) = caller.scope.feed(&subscriber, &query).await?;
    let (items, page_info) = feed::page(&query, messages);
    json(&FeedResponse { items, page_info, counts }, 200)
}

/// Exact counts: for the filter given as query parameters, or for each
/// filter of `filters=<JSON array>` at once (then `{results: […]}`).
pub async fn counts(request: &Request, env: &Env, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    let pairs = query_pairs(request)?;
    let many = pairs.iter().find(|(name, _)| name == "filters").map(|(_, value)| value.clone());
    let several = many.is_some();
    let filters = match many {
        Some(text) => {
            if pairs.len() > 1 {
                return Err(ApiError::validation("filters", "filters cannot be combined with other parameters"));
            }
            let inputs: Vec<FeedFilterInput> = serde_json::from_str(&text).map_err(|error| {
                ApiError::validation("filters", format!("filters must be a JSON array of filters: {error}"))
            })?;
            if inputs.is_empty() || inputs.len() > 10 {
                return Err(ApiError::validation("filters", "ask for 1 to 10 filters"));
            }
            inputs
                .into_iter()
                .enumerate()
                .map(|(index, input)| {
                    FeedFilter::from_input(input).map_err(|error| {
                        ApiError::validation(format!("filters.{index}.{}", error.field), error.to_string())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        None => {
            let mut filter = FeedFilter::default();
            for (name, value) in &pairs {
                if !filter
                    .apply_param(name, value)
                    .map_err(|error| ApiError::validation(error.field.clone(), error.to_string()))?
                {
                    return Err(ApiError::validation(name.clone(), format!("unknown query parameter {name:?}")));
                }
            }
            vec![filter]
        }
    };
    let caller = authenticate_subscriber(request, env, &subscriber, false).await?;
    let results = caller.scope.counts(&subscriber, &filters).await?;
    if several {
        json(&FeedCountsList { results }, 200)
    } else {
        json(&results[0], 200)
    }
}

/// Marks messages seen/read/unread/archived/unarchived, or deletes them.
pub async fn actions(request: &mut Request, env: &Env, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    let caller = authenticate_subscriber(request, env, &subscriber, true).await?;
    let body: FeedActionRequest = read_json(request).await?;
    let action =
        feed_action::validate(body).map_err(|error| ApiError::validation(error.field.clone(), error.to_string()))?;
    let (updated, counts) = caller.scope.apply_action(&subscriber, &action, now_ms()).await?;
    json(&FeedActionResponse { updated, counts }, 200)
}

pub(super) fn parse_subscriber(raw: &str) -> ApiResult<SubscriberId> {
    Ok(SubscriberId::parse(&decode_segment(raw)?)?)
}
