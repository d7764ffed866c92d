//! The subscriber's feed (publishable key + subscriber credential, or secret
//! key): `GET …/feed`, `GET …/feed/counts`, `POST …/feed/actions`,
//! `GET …/feed/changes` (delta sync) and `GET …/feed/stream` (realtime).

use tidings_core::feed::FeedQuery;
use tidings_core::feed_action;
use tidings_core::feed_filter::FeedFilter;
use tidings_core::feed_sync::{self, ChangesQuery, Watermark};
use tidings_core::idempotency;
use tidings_core::key::KeyKind;
use tidings_core::key_scope::KeyScope;
use tidings_core::query::decode_segment;
use tidings_core::stream_ticket::StreamTicket;
use tidings_core::subscriber::SubscriberId;
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{
    feed_response_json, FeedActionRequest, FeedActionResponse, FeedChangesResponse, FeedCountsList, FeedFilterInput,
    StreamTicketResponse,
};
use worker::Context;

use crate::auth::{authenticate_reader, authenticate_stream, authenticate_subscriber, authenticate_ticket_request};
use crate::error::{ApiError, ApiResult};
use crate::http::{field_at_fault, header, json, json_text, parse_json, query_pairs, read_body};
use crate::platform::{now_ms, random};
use crate::request::IncomingRequest;
use crate::services::{self, idempotent};
use crate::store::{Platform, TicketCredential};

use super::bookmark;

/// One page of a subscriber's feed with its counts and watermark.
pub async fn list(request: &IncomingRequest, env: &Platform, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    let pairs = query_pairs(request)?;
    let query = FeedQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    let caller = authenticate_reader(request, env, &subscriber).await?;
    caller.scope.read_from(&subscriber, bookmark::from_request(request)?.as_deref())?;
    let page = caller.read_within_budget(env, &subscriber, caller.scope.feed_page(&subscriber, &query)).await?;
    let page_info = page.page_info(&query);
    let watermark = Watermark::at(page.clock).with_bookmark(caller.scope.bookmark()).to_string();
    let items = super::attachments::sign_items_json(&caller.scope, page.text.items_json, now_ms())?;
    let body = feed_response_json(&items, &page_info, &page.counts, &watermark)
        .map_err(|error| ApiError::internal("serialize response", error))?;
    Ok(bookmark::attach(json_text(body, 200), caller.scope.bookmark()))
}

/// Delta sync: every change to the feed after `since`, in order.
pub async fn changes(request: &IncomingRequest, env: &Platform, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    let pairs = query_pairs(request)?;
    let query = ChangesQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .map_err(|error| ApiError::validation(error.field(), error.to_string()))?;
    let caller = authenticate_reader(request, env, &subscriber).await?;
    // The header's bookmark is the client's latest; the watermark's, the read that made it.
    let start = bookmark::from_request(request)?.or_else(|| query.since.bookmark.clone());
    match start {
        Some(start) => caller.scope.read_from(&subscriber, Some(&start))?,
        // A watermark without a bookmark (read before the deployment used sessions, or before
        // bookmarks) may be newer than a replica: read from the primary, as new as any watermark.
        None if query.since.version > 0 => caller.scope.read_from_primary(&subscriber)?,
        None => caller.scope.read_from(&subscriber, None)?,
    }
    let found = caller.read_within_budget(env, &subscriber, caller.scope.changes(&subscriber, &query)).await?;
    if query.since.version < found.purged_through {
        return Err(ApiError::new(
            410,
            ErrorCode::WatermarkExpired,
            "this watermark is older than the deletions remembered for sync; read the feed again from the start",
        ));
    }
    if query.since.version > found.clock {
        return Err(ApiError::validation("since", "this watermark is ahead of the feed; it belongs to another feed"));
    }
    let mut page = feed_sync::changes_page(&query, found.changes, found.clock);
    super::attachments::sign_changes(&caller.scope, &mut page.changes, now_ms());
    let response = json(
        &FeedChangesResponse {
            changes: page.changes,
            watermark: page.watermark.with_bookmark(caller.scope.bookmark()).to_string(),
            has_more: page.has_more,
            counts: found.counts,
        },
        200,
    )?;
    Ok(bookmark::attach(response, caller.scope.bookmark()))
}

/// Exchanges the headers' credentials for a one-time stream ticket, valid
/// 60 s, which is all the socket's URL carries.
pub async fn stream_ticket(request: &IncomingRequest, env: &Platform, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    let (caller, token) = authenticate_ticket_request(request, env, &subscriber).await?;
    let ticket = StreamTicket::generate(caller.scope.name(), random()?);
    let now = now_ms();
    // While a rotated signing secret's grace period runs, a subscriber credential may be the old
    // secret's (which one vouched is not told apart): its socket ends with the grace period, and
    // the client asks again with a credential of the current secret.
    let grace_end = caller
        .scope
        .signing()
        .previous
        .as_ref()
        .map(|(_, until)| *until)
        .filter(|until| *until > now && caller.kind == KeyKind::Publishable);
    let credential = match token {
        Some(claims) => TicketCredential {
            issued_at: claims.issued_at * 1000,
            expires_at: Some(grace_end.map_or(claims.expires_at * 1000, |end| end.min(claims.expires_at * 1000))),
        },
        // Without a token (a hash, a secret key) the ticket is as old as the subscriber's
        // revocation stamp at least, so only a later revocation (or deletion) ends it.
        None => TicketCredential {
            issued_at: now.max(caller.scope.tokens_not_before(&subscriber).await?),
            expires_at: grace_end,
        },
    };
    let expires_at = caller.scope.issue_stream_ticket(&ticket, &subscriber, &caller.key_id, credential, now).await?;
    json(&StreamTicketResponse { ticket: ticket.expose().to_owned(), expires_at: rfc3339(expires_at) }, 201)
}

/// Opens the subscriber's realtime socket, consuming its ticket: it hears
/// `{"type":"changed"}` after every committed change to the feed, and the
/// client then reads `…/feed/changes`. It closes (4001) when the token or
/// key behind the ticket expires and (4003) when the key is revoked.
pub async fn stream(request: &IncomingRequest, env: &Platform, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    if !header(request, "Upgrade").is_some_and(|value| value.eq_ignore_ascii_case("websocket")) {
        return Err(ApiError::new(
            426,
            ErrorCode::WebsocketRequired,
            "open this route as a WebSocket (Upgrade: websocket)",
        ));
    }
    let (scope, grant) = authenticate_stream(request, env, &subscriber).await?;
    scope.open_stream(env, &subscriber, &grant).await
}

/// Exact counts: for the filter given as query parameters, or for each
/// filter of `filters=<JSON array>` at once (then `{results: […]}`).
pub async fn counts(request: &IncomingRequest, env: &Platform, raw_subscriber: &str) -> ApiResult {
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
                let field =
                    field_at_fault(&text, &error).map_or_else(|| "filters".to_owned(), |at| format!("filters.{at}"));
                ApiError::validation(field, format!("filters must be a JSON array of filters: {error}"))
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
    let caller = authenticate_reader(request, env, &subscriber).await?;
    caller.scope.read_from(&subscriber, bookmark::from_request(request)?.as_deref())?;
    let results = caller.read_within_budget(env, &subscriber, caller.scope.counts(&subscriber, &filters)).await?;
    let response = if several { json(&FeedCountsList { results }, 200)? } else { json(&results[0], 200)? };
    Ok(bookmark::attach(response, caller.scope.bookmark()))
}

/// Marks messages seen/read/unread/archived/unarchived, or deletes them;
/// with an `Idempotency-Key`, once.
pub async fn actions(request: &mut IncomingRequest, env: &Platform, ctx: &Context, raw_subscriber: &str) -> ApiResult {
    let subscriber = parse_subscriber(raw_subscriber)?;
    let caller = authenticate_subscriber(request, env, &subscriber, KeyScope::FeedWrite).await?;
    let key = idempotent::key_header(request)?;
    let body = read_body(request).await?;
    let action = feed_action::validate(parse_json::<FeedActionRequest>(&body)?)
        .map_err(|error| ApiError::validation(error.field.clone(), error.to_string()))?;
    let hash = idempotency::request_hash(&body);
    let key = key.as_deref().map(|key| (key, hash.as_str()));
    // A malformed bookmark is refused as on reads; a write starts at the primary whatever it is.
    bookmark::from_request(request)?;
    caller.scope.write_through_session(&subscriber)?;
    let answer = services::feed_action::act(&caller.scope, &subscriber, &action, key, now_ms()).await?;
    let written_at = caller.scope.bookmark();
    if answer.updated > 0 && !answer.replay {
        let env = env.clone();
        ctx.wait_until(async move { caller.scope.announce(&env, &[subscriber]).await });
    }
    let response = json(&FeedActionResponse { updated: answer.updated, counts: answer.counts }, 200)?;
    let response = bookmark::attach(response, written_at);
    Ok(if answer.replay { idempotent::replayed(response) } else { response })
}

pub(super) fn parse_subscriber(raw: &str) -> ApiResult<SubscriberId> {
    Ok(SubscriberId::parse(&decode_segment(raw)?)?)
}
