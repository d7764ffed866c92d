//! Promotion (control plane): `GET /v1/changes`, `POST /v1/promotions`,
//! `GET /v1/environments/{name}/releases[/{id}]` and
//! `POST /v1/environments/{name}/releases/{id}/rollback`.

use serde_json::json;
use tidings_core::access::Action;
use tidings_core::environment::{EnvironmentName, EnvironmentType};
use tidings_core::policy::ControlAction;
use tidings_core::privacy;
use tidings_core::promotion::{self, Change, PromotionError, Replay, RequestIdentity, ResourceKind};
use tidings_core::release_request::{self, RequestKind};
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{
    ChangeList, PendingChange, PromotionProblem, PromotionRequest, PromotionResponse, Release, ReleaseList,
    ReleaseRequest,
};

use crate::auth::{authenticate_actor, authorize_in, Actor, Authorized};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, json, query_pairs, read_json};
use crate::platform::{now_ms, random};
use crate::request::IncomingRequest;
use crate::routes::environments::parse_name;
use crate::store::Platform;
use crate::store::{self, Clearance, Environment, NewRelease, NewReleaseRequest, PromotionEnvironment};

/// The most releases one listing returns.
const RELEASES_PER_PAGE: u32 = 100;

/// What promoting `from` into `to` would change, with problems.
pub async fn changes(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let actor = authenticate_actor(request, env).await?;
    let (mut from, mut to) = (None, None);
    for (name, value) in query_pairs(request)? {
        match name.as_str() {
            "from" => from = Some(value),
            "to" => to = Some(value),
            _ => return Err(ApiError::validation(name.clone(), format!("unknown query parameter {name:?}"))),
        }
    }
    let from = from.ok_or_else(|| ApiError::validation("from", "name the source environment: from=<name>"))?;
    let to = to.ok_or_else(|| ApiError::validation("to", "name the target environment: to=<name>"))?;
    let (authorized, (source, target)) = open_pair(env, actor, &from, &to, false).await?;
    let (source_state, target_state) = (source.content().await?, target.content().await?);
    let pending = promotion::diff(&source_state.snapshot, &target_state.snapshot);
    let problems = promotion::problems(&pending, &target_state.snapshot, &target_state.facts);
    let production = target.environment_type == EnvironmentType::Production;
    let mut changes: Vec<PendingChange> = pending.iter().map(promotion::to_wire).collect();
    hide_urls_unless_admin(&authorized, &[&from, &to], &mut changes);
    json(
        &ChangeList {
            from,
            to,
            changes,
            problems: problems.iter().map(|problem| promotion::problem_to_wire(problem, production)).collect(),
        },
        200,
    )
}

/// Applies chosen changes to the next environment as one release (or, with
/// `dry_run`, answers what would happen). A retried request gets its
/// release again.
pub async fn promote(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    let actor = authenticate_actor(request, env).await?;
    let idempotency_key = header(request, "Idempotency-Key");
    let body: PromotionRequest = read_json(request).await?;
    let (authorized, (source, target)) = open_pair(env, actor, &body.from, &body.to, true).await?;
    let identity = promotion::request_identity(idempotency_key.as_deref(), &body.from, &body.to, &body.changes);
    let keyed = matches!(identity, RequestIdentity::Keyed { .. });
    if keyed {
        if let Some(replay) = replayed(&authorized, &target, body.dry_run, &identity).await? {
            return Ok(replay);
        }
    }
    let (source_state, target_state) = (source.content().await?, target.content().await?);
    let pending = promotion::diff(&source_state.snapshot, &target_state.snapshot);
    let chosen = match promotion::select(&pending, &body.changes) {
        Ok(chosen) => chosen,
        // Without a key, a retry is recognised only once its changes are no longer pending:
        // changes pending again (edited back by hand) are applied again, never answered as done.
        Err(error) => {
            if !keyed {
                if let Some(replay) = replayed(&authorized, &target, body.dry_run, &identity).await? {
                    return Ok(replay);
                }
            }
            return Err(selection_error(error));
        }
    };
    let problems = problems_of(&chosen, &target, &target_state);
    refuse_blocking(&target, &problems)?;
    refuse_rerouting(&authorized, &target, &chosen, Action::PromoteInto)?;
    let mut changes: Vec<PendingChange> = chosen.iter().map(promotion::to_wire).collect();
    hide_urls_unless_admin(&authorized, &[&body.from, &body.to], &mut changes);
    if body.dry_run || chosen.is_empty() {
        let answer =
            PromotionResponse { dry_run: body.dry_run, release: None, changes, problems, release_request: None };
        return json(&answer, 200);
    }
    // Brand assets are content-addressed: copied now, they change nothing until content names them.
    target.copy_assets(&target.unlocked(env).await?, &source, &chosen).await?;
    let origin = ReleaseOrigin {
        kind: RequestKind::Promotion,
        source: Some(&body.from),
        requester: &authorized,
        identity: &identity,
    };
    match write_release(env, &target, origin, &chosen, &problems, &target_state).await? {
        Written::Release(release) => {
            let release = as_seen_by(&authorized, release);
            let answer =
                PromotionResponse { dry_run: false, release: Some(release), changes, problems, release_request: None };
            json(&answer, 201)
        }
        Written::Request(mut request) => {
            request_as_seen_by(&authorized, &mut request);
            let answer =
                PromotionResponse { dry_run: false, release: None, changes, problems, release_request: Some(request) };
            json(&answer, 202)
        }
    }
}

/// What [`write_release`] did: applied the release, or, where the target
/// requires approval, made a release request instead.
pub(super) enum Written {
    Release(Release),
    Request(ReleaseRequest),
}

/// Where a release comes from: its kind, source environment, actor and
/// the identity of the request that asked for it.
pub(super) struct ReleaseOrigin<'a> {
    pub kind: RequestKind,
    pub source: Option<&'a str>,
    /// Whose release it is (and whose request, where approval is required).
    pub requester: &'a Authorized,
    pub identity: &'a RequestIdentity,
}

/// Writes `changes` to `target` as one release over `state` and answers it;
/// where the target requires approval, stores a release request instead.
pub(super) async fn write_release(
    env: &Platform,
    target: &PromotionEnvironment,
    origin: ReleaseOrigin<'_>,
    changes: &[Change],
    problems: &[PromotionProblem],
    state: &store::ContentState,
) -> ApiResult<Written> {
    let now = now_ms();
    let unlocked = target.unlocked(env).await?;
    let cleared = match target.clearance(env).await? {
        Clearance::Cleared(cleared) => cleared,
        Clearance::NeedsApproval => {
            origin.requester.may_request_release(target.name.as_str(), Action::PromoteInto)?;
            let request = NewReleaseRequest {
                kind: origin.kind,
                source: origin.source,
                reverts: None,
                requested_by: &origin.requester.actor().id,
                requested_via: &origin.requester.actor().issuer,
                changes,
                problems,
                target_fingerprint: &release_request::fingerprint(&state.snapshot),
            };
            return Ok(Written::Request(target.request_release(request, now).await?));
        }
    };
    let (id, audit_id) = (promotion::release_id(now, random()?), promotion::audit_id(now, random()?));
    let request_key = origin.identity.stored_key(&id);
    let release = NewRelease {
        id: &id,
        kind: origin.kind.as_str(),
        source: origin.source,
        actor: &origin.requester.actor().id,
        request_key: request_key.as_deref(),
        request_fingerprint: origin.identity.fingerprint(),
        reverts: None,
        audit_id: &audit_id,
        approves: None,
    };
    target.release(&unlocked, &cleared, &release, changes, state, now).await?;
    let release = target.find_release(&id).await?.ok_or_else(|| ApiError::internal("release", "release vanished"))?;
    Ok(Written::Release(release))
}

/// The release a retried request already made, as its answer with
/// `Idempotency-Replay: true`: only for the same request (same key and
/// body, or the same chosen changes while their release is still the
/// target's latest and not rolled back). None for a dry run.
pub(super) async fn replayed(
    authorized: &Authorized,
    target: &PromotionEnvironment,
    dry_run: bool,
    identity: &RequestIdentity,
) -> ApiResult<Option<worker::Response>> {
    if dry_run {
        return Ok(None);
    }
    let Some((release, earlier)) = target.earlier_release(identity).await? else { return Ok(None) };
    match promotion::replay(identity, Some(&earlier)) {
        Replay::Apply => Ok(None),
        Replay::KeyReused => Err(ApiError::new(
            422,
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used with another request body; use a new key for a new request",
        )),
        Replay::Replay => {
            let release = as_seen_by(authorized, release);
            let answer = PromotionResponse {
                dry_run: false,
                changes: release.changes.clone(),
                release: Some(release),
                problems: vec![],
                release_request: None,
            };
            Ok(Some(crate::services::idempotent::replayed(json(&answer, 200)?)))
        }
    }
}

/// Opens the environment an authorization names, for its releases and content.
pub(super) async fn open_for_releases(env: &Platform, authorized: &Authorized) -> ApiResult<PromotionEnvironment> {
    PromotionEnvironment::of(env, &Environment::open_authorized(env, authorized).await?)
}

/// An environment's releases, newest first.
pub async fn releases(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::View).await?;
    let target = open_for_releases(env, &authorized).await?;
    let items = target.releases(RELEASES_PER_PAGE).await?.into_iter().map(|release| as_seen_by(&authorized, release));
    json(&ReleaseList { items: items.collect() }, 200)
}

/// One release, with each touched resource's content before and after.
pub async fn release(request: &IncomingRequest, env: &Platform, raw_name: &str, id: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::View).await?;
    let target = open_for_releases(env, &authorized).await?;
    let release = target.find_release(id).await?.ok_or_else(|| release_not_found(&target.name, id))?;
    json(&as_seen_by(&authorized, release), 200)
}

/// Restores what a release changed to its state before the release, as a
/// new release. Refused when a touched resource changed since.
pub async fn rollback(request: &IncomingRequest, env: &Platform, raw_name: &str, id: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::PromoteInto).await?;
    let target = open_for_releases(env, &authorized).await?;
    let release = target.find_release(id).await?.ok_or_else(|| release_not_found(&target.name, id))?;
    if let Some(by) = &release.rolled_back_by {
        return Err(ApiError::new(
            409,
            ErrorCode::ReleaseAlreadyRolledBack,
            format!("release {id} was rolled back by {by}"),
        ));
    }
    let applied: Vec<Change> = release
        .changes
        .iter()
        .map(|change| {
            promotion::from_wire(change).ok_or_else(|| ApiError::internal("rollback", "stored change unreadable"))
        })
        .collect::<Result<_, _>>()?;
    let state = target.content().await?;
    let superseded = promotion::superseded(&applied, &state.snapshot);
    if !superseded.is_empty() {
        return Err(ApiError::new(
            409,
            ErrorCode::ReleaseSuperseded,
            format!("these resources changed after release {id}, so it cannot be undone: {}", superseded.join(", ")),
        )
        .with_details(json!({ "resources": superseded })));
    }
    let undo = promotion::inverse(&applied);
    refuse_rerouting(&authorized, &target, &undo, Action::PromoteInto)?;
    // What a promotion would be refused for, a rollback is too: restoring a workflow that names
    // an integration or variable removed since, say.
    let problems = problems_of(&undo, &target, &state);
    refuse_blocking(&target, &problems)?;
    let now = now_ms();
    let unlocked = target.unlocked(env).await?;
    let cleared = match target.clearance(env).await? {
        Clearance::Cleared(cleared) => cleared,
        Clearance::NeedsApproval => {
            authorized.may_request_release(target.name.as_str(), Action::PromoteInto)?;
            let request = NewReleaseRequest {
                kind: RequestKind::Rollback,
                source: None,
                reverts: Some(id),
                requested_by: &authorized.actor().id,
                requested_via: &authorized.actor().issuer,
                changes: &undo,
                problems: &problems,
                target_fingerprint: &release_request::fingerprint(&state.snapshot),
            };
            let mut requested = target.request_release(request, now).await?;
            request_as_seen_by(&authorized, &mut requested);
            return json(&requested, 202);
        }
    };
    let (rollback_id, audit_id) = (promotion::release_id(now, random()?), promotion::audit_id(now, random()?));
    let new_release = NewRelease {
        id: &rollback_id,
        kind: "rollback",
        source: None,
        actor: &authorized.actor().id,
        request_key: None,
        request_fingerprint: None,
        reverts: Some(id),
        audit_id: &audit_id,
        approves: None,
    };
    target.release(&unlocked, &cleared, &new_release, &undo, &state, now).await?;
    let release =
        target.find_release(&rollback_id).await?.ok_or_else(|| ApiError::internal("rollback", "release vanished"))?;
    json(&as_seen_by(&authorized, release), 201)
}

/// Asks the policy whether the caller may promote `from` into `to` (or,
/// with `apply` false, only look at what it would change; either way `to`
/// must come right after `from` in the whole chain) and opens both.
async fn open_pair(
    env: &Platform,
    actor: Actor,
    from: &str,
    to: &str,
    apply: bool,
) -> ApiResult<(Authorized, (PromotionEnvironment, PromotionEnvironment))> {
    let from_name = EnvironmentName::parse(from).map_err(|error| ApiError::validation("from", error.to_string()))?;
    let to_name = EnvironmentName::parse(to).map_err(|error| ApiError::validation("to", error.to_string()))?;
    let (from, to) = (from_name.as_str(), to_name.as_str());
    let action = if apply { ControlAction::Promote { from, to } } else { ControlAction::PreviewPromotion { from, to } };
    let authorized = store::authorize(env, actor, action).await.map_err(|error| match error.code() {
        ErrorCode::EnvironmentNotFound if error.message().ends_with(from) => error.with_field("from"),
        ErrorCode::EnvironmentNotFound => error.with_field("to"),
        _ => error,
    })?;
    let (source, target) = Environment::open_pair(env, &authorized).await?;
    let pair = (PromotionEnvironment::of(env, &source)?, PromotionEnvironment::of(env, &target)?);
    Ok((authorized, pair))
}

/// Refuses (403 `forbidden`) a release that would send an environment's
/// webhook deliveries somewhere new (an integration added, or its URL
/// changed) where it masks personal data, unless the caller holds a
/// personal-data grant there: deliveries carry rendered bodies, personal data
/// the masking keeps from them, and replays go to an integration's current URL.
pub(super) fn refuse_rerouting(
    authorized: &Authorized,
    target: &PromotionEnvironment,
    chosen: &[Change],
    action: Action,
) -> ApiResult<()> {
    let url = |content: &Option<serde_json::Value>| content.as_ref().and_then(|content| content.get("url")).cloned();
    let reroutes = chosen.iter().any(|change| {
        change.resource == ResourceKind::Integration
            && change.after.is_some()
            && url(&change.after) != url(&change.before)
    });
    if !target.masks_personal_data || !reroutes || authorized.permits_with_personal_data(target.name.as_str(), action) {
        return Ok(());
    }
    Err(ApiError::new(
        403,
        ErrorCode::Forbidden,
        format!(
            "{} masks personal data, and adding an integration or changing its URL there sends its deliveries (rendered \
             bodies, personal data) somewhere new; it needs a personal-data grant there",
            target.name
        ),
    ))
}

/// 422 `preflight_failed`, with the problems in `details`, when any of them blocks.
pub(super) fn refuse_blocking(target: &PromotionEnvironment, problems: &[PromotionProblem]) -> ApiResult<()> {
    let blocking: Vec<&PromotionProblem> = problems.iter().filter(|problem| problem.blocking).collect();
    if blocking.is_empty() {
        return Ok(());
    }
    let list = blocking.iter().map(|problem| problem.message.clone()).collect::<Vec<_>>().join("; ");
    Err(ApiError::new(
        422,
        ErrorCode::PreflightFailed,
        format!("{} lacks what these changes need: {list}", target.name),
    )
    .with_details(json!({ "problems": blocking })))
}

/// The preflight's problems of `chosen` over `state`, as the API shows them.
pub(super) fn problems_of(
    chosen: &[Change],
    target: &PromotionEnvironment,
    state: &store::ContentState,
) -> Vec<PromotionProblem> {
    let production = target.environment_type == EnvironmentType::Production;
    promotion::problems(chosen, &state.snapshot, &state.facts)
        .iter()
        .map(|problem| promotion::problem_to_wire(problem, production))
        .collect()
}

fn selection_error(error: PromotionError) -> ApiError {
    match &error {
        PromotionError::NotPending(ids) => ApiError::new(409, ErrorCode::ChangeNotPending, error.to_string())
            .with_field("changes")
            .with_details(json!({ "ids": ids })),
        _ => ApiError::validation("changes", error.to_string()),
    }
}

/// A release as the caller may see it: the source environment of a promotion is
/// left out where that environment is hidden from them, and integration URLs
/// are cut to their host unless they administer its environment.
pub(super) fn as_seen_by(authorized: &Authorized, mut release: Release) -> Release {
    // The source's content is the source's too, named or not.
    let environments = involved(&release.environment, release.source.as_deref());
    hide_urls_unless_admin(authorized, &environments, &mut release.changes);
    if release.source.as_deref().is_some_and(|source| !authorized.permits_in(source, Action::View)) {
        release.source = None;
    }
    release
}

/// A release request as the caller may see it: a promotion's source left out
/// where that environment is hidden from them, and integration URLs cut to
/// their host unless they administer its environment and the source.
pub(super) fn request_as_seen_by(authorized: &Authorized, request: &mut ReleaseRequest) {
    let environments = involved(&request.environment, request.source.as_deref());
    hide_urls_unless_admin(authorized, &environments, &mut request.changes);
    if request.source.as_deref().is_some_and(|source| !authorized.permits_in(source, Action::View)) {
        request.source = None;
    }
}

/// The environments whose content a release or request carries: its own,
/// and a promotion's source.
fn involved(environment: &str, source: Option<&str>) -> Vec<String> {
    std::iter::once(environment).chain(source).map(str::to_owned).collect()
}

/// Cuts the integration URLs in `changes` to their scheme and host unless the
/// caller administers every one of `environments` (a webhook's URL can be
/// its credential; the console's integration list shows them as much).
pub(super) fn hide_urls_unless_admin(
    authorized: &Authorized,
    environments: &[impl AsRef<str>],
    changes: &mut [PendingChange],
) {
    if !environments.iter().all(|name| authorized.permits_in(name.as_ref(), Action::Configure)) {
        privacy::hide_integration_urls(changes);
    }
}

fn release_not_found(environment: &EnvironmentName, id: &str) -> ApiError {
    ApiError::new(404, ErrorCode::ReleaseNotFound, format!("the {environment} environment has no release {id}"))
}
