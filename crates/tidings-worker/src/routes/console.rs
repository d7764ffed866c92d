//! What members read of an environment's data in the console:
//! `GET /v1/environments/{name}/subscribers`, `…/subscribers/{id}/messages`
//! and `…/logs`. Where the environment's privacy settings say so, personal
//! fields are masked and message contents hidden for members whose role
//! there does not include seeing personal data.

use std::collections::BTreeMap;

use tidings_core::access::Action;
use tidings_core::feed::FeedQuery;
use tidings_core::feed_filter::Archived;
use tidings_core::feed_sync::Watermark;
use tidings_core::logs::LogQuery;
use tidings_core::privacy;
use tidings_core::profile::ListQuery;
use tidings_core::schema;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{FeedItem, FeedResponse, SubscriberList};

use super::environments::parse_name;
use super::feed::{page_info, parse_subscriber};
use crate::auth::authorize_in;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, query_pairs};
use crate::request::IncomingRequest;
use crate::store::Environment;
use crate::store::Platform;

/// Opens an environment the member may see, and says whether they see its personal data.
async fn open(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult<(Environment, bool)> {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::View).await?;
    let personal = authorized.permits(Action::ViewPersonalData);
    Ok((Environment::open_authorized(env, &authorized).await?, personal))
}

/// Subscribers, ordered by id; personal fields masked where the environment says so.
pub async fn subscribers(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let (scope, personal) = open(request, env, raw_name).await?;
    let pairs = query_pairs(request)?;
    let query = ListQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    let mut list: SubscriberList = scope.subscribers(&query).await?;
    if scope.privacy().obfuscate_subscriber_data && !personal {
        list.items = list.items.into_iter().map(privacy::redact_subscriber).collect();
    }
    json(&list, 200)
}

/// A subscriber's messages (archived included), newest first; contents hidden where the environment says so.
pub async fn messages(request: &IncomingRequest, env: &Platform, raw_name: &str, raw_subscriber: &str) -> ApiResult {
    let (scope, personal) = open(request, env, raw_name).await?;
    let subscriber = parse_subscriber(raw_subscriber)?;
    let pairs = query_pairs(request)?;
    let privacy_settings = scope.privacy();
    let masked = !personal && (privacy_settings.hide_message_contents || privacy_settings.obfuscate_subscriber_data);
    if masked && pairs.iter().any(|(name, _)| name.starts_with("data.")) {
        // A filter on payload values would tell, by what it finds, what masking hides.
        return Err(ApiError::new(
            403,
            ErrorCode::Forbidden,
            "filtering messages by payload fields needs a personal-data grant in this environment",
        )
        .with_field("data"));
    }
    let mut query = FeedQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    if !pairs.iter().any(|(name, _)| name == "archived") {
        query.filter.archived = Archived::Include;
    }
    let page = scope.feed_page(&subscriber, &query).await?;
    let page_info = page_info(&query, &page);
    // Redaction works on items, so the console parses the page the feed route passes through.
    let mut items: Vec<FeedItem> =
        serde_json::from_str(&page.text.items_json).map_err(|error| ApiError::internal("decode feed", error))?;
    if privacy_settings.hide_message_contents && !personal {
        items = items.into_iter().map(privacy::hide_message).collect();
    } else if privacy_settings.obfuscate_subscriber_data && !personal {
        // Contents are shown, but payload fields the workflow marks `x-personal` are not.
        // A message whose workflow is gone has no schema to say what is personal: its payload is hidden.
        let mut personal_paths: BTreeMap<String, Option<Vec<Vec<String>>>> = BTreeMap::new();
        for item in &mut items {
            if !personal_paths.contains_key(&item.workflow) {
                let paths = scope.workflow(&item.workflow).await?.map(|workflow| {
                    workflow.definition.payload_schema.as_ref().map(schema::personal_paths).unwrap_or_default()
                });
                personal_paths.insert(item.workflow.clone(), paths);
            }
            match &personal_paths[&item.workflow] {
                Some(paths) => privacy::redact_paths(&mut item.payload, paths),
                None => item.payload = serde_json::json!({}),
            }
        }
    }
    json(&FeedResponse { items, page_info, counts: page.counts, watermark: Watermark::at(page.clock).to_string() }, 200)
}

/// Execution logs: they hold ids, statuses and errors, never personal data.
pub async fn logs(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let (scope, _) = open(request, env, raw_name).await?;
    let pairs = query_pairs(request)?;
    let query = LogQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .map_err(|error| ApiError::validation(error.field, error.to_string()))?;
    json(&scope.logs(&query).await?, 200)
}
