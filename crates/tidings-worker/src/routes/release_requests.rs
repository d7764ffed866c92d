//! Four-eyes approval (control plane): `GET /v1/environments/{name}/release-requests[/{id}]`,
//! `POST …/release-requests/{id}/approve` and `…/reject`. Requests are made
//! by promotions, imports and rollbacks into an environment that requires
//! approval; the policy's `ReviewRelease` decides who may review one.

use serde_json::json;
use tidings_core::access::Action;
use tidings_core::policy::ControlAction;
use tidings_core::promotion;
use tidings_core::release_request::{self, RequestKind, RequestStatus};
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{ApprovedRequest, ReleaseRequestList, ReviewRequest};

use super::promotions::{open_for_releases, problems_of, refuse_blocking, refuse_rerouting, request_as_seen_by};
use crate::auth::{authorize_in, Authorized};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_optional_json};
use crate::platform::{now_ms, random};
use crate::request::IncomingRequest;
use crate::routes::environments::parse_name;
use crate::store::{self, Approval, Cleared, NewRelease, Platform, PromotionEnvironment, StoredRequest};

/// An environment's release requests, pending first.
pub async fn list(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::View).await?;
    let target = open_for_releases(env, &authorized).await?;
    let mut items = target.release_requests(now_ms()).await?;
    for item in &mut items {
        request_as_seen_by(&authorized, item);
    }
    json(&ReleaseRequestList { items }, 200)
}

/// One release request, with the exact changes it would apply.
pub async fn get(request: &IncomingRequest, env: &Platform, raw_name: &str, id: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::View).await?;
    let target = open_for_releases(env, &authorized).await?;
    let mut stored = target.find_request(id, now_ms()).await?.ok_or_else(|| store::request_not_found(&name, id))?;
    request_as_seen_by(&authorized, &mut stored.wire);
    json(&stored.wire, 200)
}

/// Applies a pending request's changes as one release, as the requester's,
/// recording who approved it: only another member allowed to promote into
/// the environment, and only while the environment still holds what the
/// request saw (else 409 `release_request_stale`).
pub async fn approve(request: &mut IncomingRequest, env: &Platform, raw_name: &str, id: &str) -> ApiResult {
    let (review, target, stored) = open_review(request, env, raw_name, id, Review::Approve).await?;
    let body: ReviewRequest = read_optional_json(request).await?;
    release_request::check_comment(body.comment.as_deref(), false)
        .map_err(|message| ApiError::validation("comment", message))?;
    if stored.status != RequestStatus::Pending {
        return Err(store::request_closed(&stored));
    }
    let comment = body.comment.as_deref().map(str::trim).filter(|text| !text.is_empty());
    if stored.kind == RequestKind::ApprovalOff {
        let cleared = Cleared::by_review(&review, &stored)?;
        let approval =
            Approval { request_id: &stored.wire.id, reviewer: &review.actor().id, comment, latest_release: None };
        target.approve_approval_off(env, &cleared, &approval, now_ms()).await?;
        let request =
            target.find_request(id, now_ms()).await?.ok_or_else(|| ApiError::internal("approve", "no request"))?;
        return json(&ApprovedRequest { request: request.wire, release: None }, 201);
    }
    let changes = stored.changes()?;
    // Read before the content: a release landing in between fails the batch's guard.
    let latest_release = target.latest_release_id().await?;
    let state = target.content().await?;
    // Any change to the target since the request (touched by it or not) could change what its
    // preflight said: the request is applied only over the content it was made against.
    if release_request::fingerprint(&state.snapshot) != stored.target_fingerprint {
        return Err(stale_error(&target, &release_request::stale(&changes, &state.snapshot)));
    }
    // What the snapshot does not hold (variable values, integration secrets) may have changed:
    // the preflight runs again, and what would block a promotion blocks the approval.
    refuse_blocking(&target, &problems_of(&changes, &target, &state))?;
    // Whoever applies it sends deliveries somewhere new as much as whoever asked (masking may have
    // been turned on since the request).
    refuse_rerouting(&review, &target, &changes, Action::PromoteInto)?;
    let cleared = Cleared::by_review(&review, &stored)?;
    let now = now_ms();
    let (release_id, audit_id) = (promotion::release_id(now, random()?), promotion::audit_id(now, random()?));
    let release = NewRelease {
        id: &release_id,
        kind: stored.kind.as_str(),
        source: stored.wire.source.as_deref(),
        actor: &stored.requested_by,
        request_key: None,
        request_fingerprint: None,
        reverts: stored.wire.reverts.as_deref(),
        audit_id: &audit_id,
        approves: Some(Approval {
            request_id: &stored.wire.id,
            reviewer: &review.actor().id,
            comment,
            latest_release: latest_release.as_deref(),
        }),
    };
    let unlocked = target.unlocked(env).await?;
    if let Err(error) = target.release(&unlocked, &cleared, &release, &changes, &state, now).await {
        if error.code() != ErrorCode::ReleaseConflict {
            return Err(error);
        }
        // Another review closed it first, or the environment moved meanwhile.
        let again =
            target.find_request(id, now_ms()).await?.ok_or_else(|| store::request_not_found(&target.name, id))?;
        if again.status != RequestStatus::Pending {
            return Err(store::request_closed(&again));
        }
        return Err(stale_error(&target, &[]));
    }
    let release = target.find_release(&release_id).await?.ok_or_else(|| ApiError::internal("approve", "no release"))?;
    let mut request =
        target.find_request(id, now_ms()).await?.ok_or_else(|| ApiError::internal("approve", "no request"))?;
    request_as_seen_by(&review, &mut request.wire);
    let release = super::promotions::as_seen_by(&review, release);
    json(&ApprovedRequest { request: request.wire, release: Some(release) }, 201)
}

/// Closes a pending request without applying it; the comment says why.
pub async fn reject(request: &mut IncomingRequest, env: &Platform, raw_name: &str, id: &str) -> ApiResult {
    let (review, target, stored) = open_review(request, env, raw_name, id, Review::Reject).await?;
    let body: ReviewRequest = read_optional_json(request).await?;
    release_request::check_comment(body.comment.as_deref(), true)
        .map_err(|message| ApiError::validation("comment", message))?;
    if stored.status != RequestStatus::Pending {
        return Err(store::request_closed(&stored));
    }
    let comment = body.comment.as_deref().map(str::trim).unwrap_or_default();
    let mut rejected = target.reject_request(&review, &stored, comment, now_ms()).await?;
    request_as_seen_by(&review, &mut rejected);
    json(&rejected, 200)
}

/// What a review does to a request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Review {
    /// Applies it: its requester must still be a member who may ask for it.
    Approve,
    /// Closes it.
    Reject,
}

/// Reads the request (for those who may see the environment), then asks the
/// policy whether the caller may review it: another member allowed to
/// promote there, never its requester or the admin token; to approve it,
/// only while its requester may still do what it asks.
async fn open_review(
    request: &IncomingRequest,
    env: &Platform,
    raw_name: &str,
    id: &str,
    review: Review,
) -> ApiResult<(Authorized, PromotionEnvironment, StoredRequest)> {
    let name = parse_name(raw_name)?;
    let viewer = authorize_in(request, env, &name, Action::View).await?;
    let target = open_for_releases(env, &viewer).await?;
    let stored = target.find_request(id, now_ms()).await?.ok_or_else(|| store::request_not_found(&name, id))?;
    let issuer = viewer.actor().issuer.clone();
    let asked = ControlAction::ReviewRelease {
        environment: name.as_str(),
        requester: &stored.requested_by,
        requested_at_ms: stored.created_at_ms,
        reviewer_since_ms: viewer.actor().since_ms,
        reviewer_issuer: &issuer,
        requester_issuer: &stored.requested_via,
        approving: match (review, stored.kind) {
            (Review::Reject, _) => None,
            (Review::Approve, RequestKind::ApprovalOff) => Some(Action::Configure),
            (Review::Approve, _) => Some(Action::PromoteInto),
        },
    };
    let review = store::authorize(env, viewer.into_actor(), asked).await?;
    Ok((review, target, stored))
}

/// 409 `release_request_stale`: the environment moved since the request.
fn stale_error(target: &PromotionEnvironment, resources: &[String]) -> ApiError {
    let list = if resources.is_empty() { "its content".to_owned() } else { resources.join(", ") };
    ApiError::new(
        409,
        ErrorCode::ReleaseRequestStale,
        format!("{} changed since this request was made ({list}): reject it and request the change again", target.name),
    )
    .with_details(json!({ "resources": resources }))
}
