//! `GET /v1/subscribers/{id}/feed`.

use tidings_core::feed::{self, FeedQuery};
use tidings_core::query::decode_segment;
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::FeedResponse;
use worker::{Env, Request};

use crate::auth::authenticate;
use crate::error::ApiResult;
use crate::http::{json, query_pairs};

/// One page of a subscriber's feed with its counts.
pub async fn list(request: &Request, env: &Env, raw_subscriber: &str) -> ApiResult {
    let subscriber = SubscriberId::parse(&decode_segment(raw_subscriber)?)?;
    let pairs = query_pairs(request)?;
    let query = FeedQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    let caller = authenticate(request, env).await?;
    caller.authorize_subscriber(request, &subscriber)?;
    let (messages, counts) = caller.scope.feed(&subscriber, &query).await?;
    let (items, page_info) = feed::page(&query, messages);
    json(&FeedResponse { items, page_info, counts }, 200)
}
