//! Control plane: `GET|POST /v1/environments`, `GET|PATCH|DELETE /v1/environments/{name}`,
//! `POST /v1/environments/{name}/signing-secret/rotate`, and an environment's life:
//! `POST /v1/environments/{name}/lock|unlock|archive|restore|purge`.

use serde_json::json;
use tidings_core::access::Action;
use tidings_core::environment::{EnvironmentName, EnvironmentType};
use tidings_core::logs;
use tidings_core::policy::ControlAction;
use tidings_core::query::decode_segment;
use tidings_core::release_request::RequestKind;
use tidings_core::settings;
use tidings_core::shard::ShardCount;
use tidings_core::signing;
use tidings_core::subscriber;
use tidings_core::test_mode::DeliverOnlyTo;
use tidings_core::timestamp::rfc3339;
use tidings_core::token;
use tidings_core::webhook;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{
    ArchiveRequest, CreateEnvironmentRequest, CreatedEnvironment, EnvironmentDetails, EnvironmentList,
    EnvironmentPatch, LockRequest, ReshardRequest, RotateSigningSecretRequest, RotatedSigningSecret,
};

use crate::auth::{authenticate_actor, authorize, authorize_in, Authorized};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, parse_json, read_body, read_json, read_optional_json};
use crate::platform::{now_ms, random};
use crate::request::IncomingRequest;
use crate::routes::audit;
use crate::store;
use crate::store::Platform;

/// Every environment with its settings, in promotion order.
/// Environments a member has no access to are left out.
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let actor = authenticate_actor(request, env).await?;
    let environments = store::list_environments(env)
        .await?
        .into_iter()
        .filter(|details| actor.grants.role_in(&details.environment.name).is_some())
        .map(|details| hide_hidden_source(details, |source| actor.grants.role_in(source).is_some()))
        .collect();
    // Listing is not an action on any one environment: each is shown only where the actor may see it.
    json(&EnvironmentList { environments }, 200)
}

/// One environment with its settings.
pub async fn get(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let authorized = authorize_in(request, env, &parse_name(raw_name)?, Action::View).await?;
    let details = store::environment(env, &authorized).await?;
    json(&hide_hidden_source(details, |source| authorized.permits_in(source, Action::View)), 200)
}

/// A preview's source, left out where the caller may not see that environment.
fn hide_hidden_source(mut details: EnvironmentDetails, sees: impl Fn(&str) -> bool) -> EnvironmentDetails {
    if details.preview_of.as_deref().is_some_and(|source| !sees(source)) {
        details.preview_of = None;
    }
    details
}

/// Changes labels, colours, allowed origins or the credential requirement.
pub async fn update(request: &mut IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::Configure).await?;
    let before = store::environment(env, &authorized).await?;
    let mut patch: EnvironmentPatch = read_json(request).await?;
    let environment_type = EnvironmentType::parse(&before.environment.environment_type)
        .map_err(|error| ApiError::internal("registry type", error))?;
    match patch.require_approval {
        Some(true) if environment_type != EnvironmentType::Production => {
            return Err(ApiError::validation(
                "require_approval",
                "four-eyes approval guards environments whose content changes only by promotion: production-type ones",
            ));
        }
        // Lifting the need for a second member needs a second member.
        Some(false) if before.require_approval => return request_approval_off(env, &authorized, &patch).await,
        _ => {}
    }
    if let Some(Some(list)) = &patch.deliver_only_to {
        patch.deliver_only_to = Some(Some(test_mode_entries(environment_type, list)?));
    }
    if let Some(Some(integration)) = &patch.catch_all_integration {
        webhook::validate_id(integration)
            .map_err(|error| ApiError::validation("catch_all_integration", error.to_string()))?;
        let test_mode_after = match &patch.deliver_only_to {
            Some(list) => list.is_some(),
            None => before.deliver_only_to.is_some(),
        };
        if !test_mode_after {
            return Err(ApiError::validation(
                "catch_all_integration",
                "a catch-all takes the deliveries test mode keeps from recipients: set deliver_only_to too",
            ));
        }
        // A catch-all that does not exist would take deliveries nowhere: it must be there now.
        let scope = store::Environment::open_authorized(env, &authorized).await?;
        if !scope.missing_integrations(std::slice::from_ref(integration)).await?.is_empty() {
            return Err(ApiError::validation(
                "catch_all_integration",
                format!("the {name} environment has no integration {integration}"),
            ));
        }
    }
    // Turning masking off, or letting any page read any feed where masking is on, shows
    // personal data: only for those who may see it there.
    let unmasks = (before.obfuscate_subscriber_data && patch.obfuscate_subscriber_data == Some(false))
        || (before.hide_message_contents && patch.hide_message_contents == Some(false));
    // Feeds any page may read, in a masked environment: reached by opening them or by masking
    // open ones (in either order), it needs the grant; an environment already so may be
    // changed otherwise without it.
    let masks_after = patch.obfuscate_subscriber_data.unwrap_or(before.obfuscate_subscriber_data)
        || patch.hide_message_contents.unwrap_or(before.hide_message_contents);
    let open_before = !before.environment.requires_subscriber_credential;
    let open_after = !patch.requires_subscriber_credential.unwrap_or(before.environment.requires_subscriber_credential);
    let opens_feeds = masks_after && open_after && !(masks(&before) && open_before);
    // So does sending test mode's kept deliveries (rendered bodies) to a catch-all integration.
    // A new catch-all, or a new list of whom test mode delivers to while a catch-all takes the
    // rest (a narrower list sends more recipients' deliveries there).
    let reroutes = matches!(&patch.catch_all_integration, Some(Some(integration))
        if before.catch_all_integration.as_deref() != Some(integration.as_str()));
    let catch_all_after = match &patch.catch_all_integration {
        Some(integration) => integration.is_some(),
        None => before.catch_all_integration.is_some(),
    };
    let retargets = catch_all_after
        && matches!(&patch.deliver_only_to, Some(Some(list)) if before.deliver_only_to.as_ref() != Some(list));
    let reroutes = reroutes || retargets;
    // As with open feeds: a catch-all in a masked environment, however the two came together.
    let catch_all_masked = catch_all_after && !(masks(&before) && before.catch_all_integration.is_some());
    let exposes = unmasks || opens_feeds || (masks_after && (reroutes || catch_all_masked));
    let authorized = exposing(env, authorized, Action::Configure, exposes).await?;
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
    if let Some(seconds) = patch.subscriber_token_max_ttl_seconds {
        token::validate_lifetime_limit(seconds)
            .map_err(|message| ApiError::validation("subscriber_token_max_ttl_seconds", message))?;
    }
    let change = json!({"before": settings_summary(&before), "after": patched_summary(&before, &patch)});
    let resource = format!("environment:{name}");
    let entry = audit::draft(authorized.actor(), "environment.update", Some(name.as_str()), resource, change)?;
    let after = store::update_environment(env, &authorized, &patch, &entry.record(), now_ms()).await?;
    json(&after, 200)
}

/// Turning approval off where it is on: a release request of kind
/// `approval_off` (202), which another member approves. Asked on its own, so
/// no other setting waits with it.
async fn request_approval_off(env: &Platform, authorized: &Authorized, patch: &EnvironmentPatch) -> ApiResult {
    let alone = EnvironmentPatch { require_approval: Some(false), ..EnvironmentPatch::default() };
    if *patch != alone {
        return Err(ApiError::validation(
            "require_approval",
            "turning approval off waits for a second member: send it on its own, and other settings apart",
        ));
    }
    authorized.may_request_release(authorized.environment()?.as_str(), Action::Configure)?;
    let target = super::promotions::open_for_releases(env, authorized).await?;
    let request = store::NewReleaseRequest {
        kind: RequestKind::ApprovalOff,
        source: None,
        reverts: None,
        requested_by: &authorized.actor().id,
        requested_via: &authorized.actor().issuer,
        changes: &[],
        problems: &[],
        target_fingerprint: "",
    };
    json(&target.request_release(request, now_ms()).await?, 202)
}

/// A `deliver_only_to` list checked and written as stored (ids, then `@domains`).
/// Production delivers to everyone: test mode is refused there.
fn test_mode_entries(environment_type: EnvironmentType, list: &[String]) -> ApiResult<Vec<String>> {
    if environment_type == EnvironmentType::Production {
        return Err(ApiError::validation(
            "deliver_only_to",
            "test mode is for environments that are not production: production delivers to every recipient",
        ));
    }
    let rule =
        DeliverOnlyTo::parse(list).map_err(|error| ApiError::validation("deliver_only_to", error.to_string()))?;
    Ok(rule.entries())
}

/// Whether the environment hides personal data from members (either masking setting on).
pub(super) fn masks(details: &EnvironmentDetails) -> bool {
    details.obfuscate_subscriber_data || details.hide_message_contents
}

/// When `exposes` (doing `action` would hand out what the environment's masking hides: its
/// masking turned off, a secret key, the signing secret, feeds without credentials, a test
/// send), asks the policy again for [`ControlAction::WithPersonalData`]: the action's own
/// right and a personal-data grant there.
pub(super) async fn exposing(
    env: &Platform,
    authorized: Authorized,
    action: Action,
    exposes: bool,
) -> ApiResult<Authorized> {
    if !exposes {
        return Ok(authorized);
    }
    let name = authorized.environment()?.clone();
    let asked = ControlAction::WithPersonalData { environment: name.as_str(), action };
    store::authorize(env, authorized.into_actor(), asked).await
}

/// The settings an audit entry records (no secrets live among them).
fn settings_summary(details: &EnvironmentDetails) -> serde_json::Value {
    json!({
        "label": details.label, "colour": details.colour, "allowed_origins": details.allowed_origins,
        "requires_subscriber_credential": details.environment.requires_subscriber_credential,
        "log_retention_days": details.log_retention_days,
        "subscriber_token_max_ttl_seconds": details.subscriber_token_max_ttl_seconds,
        "obfuscate_subscriber_data": details.obfuscate_subscriber_data,
        "hide_message_contents": details.hide_message_contents,
        "deliver_only_to": details.deliver_only_to, "catch_all_integration": details.catch_all_integration,
        "require_approval": details.require_approval,
    })
}

/// The settings summary once `patch` is applied to `before`.
fn patched_summary(before: &EnvironmentDetails, patch: &EnvironmentPatch) -> serde_json::Value {
    let mut summary = settings_summary(before);
    let changes = [
        ("label", patch.label.clone().map(serde_json::Value::from)),
        ("colour", patch.colour.clone().map(serde_json::Value::from)),
        ("allowed_origins", patch.allowed_origins.clone().map(serde_json::Value::from)),
        ("requires_subscriber_credential", patch.requires_subscriber_credential.map(serde_json::Value::from)),
        ("log_retention_days", patch.log_retention_days.map(serde_json::Value::from)),
        ("subscriber_token_max_ttl_seconds", patch.subscriber_token_max_ttl_seconds.map(serde_json::Value::from)),
        ("obfuscate_subscriber_data", patch.obfuscate_subscriber_data.map(serde_json::Value::from)),
        ("hide_message_contents", patch.hide_message_contents.map(serde_json::Value::from)),
        ("deliver_only_to", patch.deliver_only_to.clone().map(serde_json::Value::from)),
        ("catch_all_integration", patch.catch_all_integration.clone().map(serde_json::Value::from)),
        ("require_approval", patch.require_approval.map(serde_json::Value::from)),
    ];
    for (field, value) in changes {
        if let Some(value) = value {
            summary[field] = value;
        }
    }
    summary
}

/// Registers a custom environment: 201 when its bindings are already there
/// (`ready`), 202 while it waits for them (`creating`).
pub async fn create(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    let authorized = authorize(request, env, ControlAction::CreateEnvironment).await?;
    let mut body: CreateEnvironmentRequest = read_json(request).await?;
    if let Some(list) = &body.deliver_only_to {
        let environment_type = EnvironmentType::parse(&body.environment_type)
            .map_err(|error| ApiError::validation("type", error.to_string()))?;
        body.deliver_only_to = Some(test_mode_entries(environment_type, list)?);
    }
    // A preview copies its source's content: the policy is asked again, about the source.
    let (authorized, ttl) = match (&body.from, body.ttl_seconds) {
        (Some(from), ttl) => {
            let from = EnvironmentName::parse(from).map_err(|error| ApiError::validation("from", error.to_string()))?;
            let ttl = ttl.ok_or_else(|| {
                ApiError::validation("ttl_seconds", "a preview environment needs a lifetime: ttl_seconds")
            })?;
            let asked = ControlAction::CreatePreview { from: from.as_str() };
            let proof = store::authorize(env, authorized.into_actor(), asked)
                .await
                .map_err(|error| not_found_at(error, "from"))?;
            (proof, Some(ttl))
        }
        (None, Some(_)) => {
            return Err(ApiError::validation("ttl_seconds", "only preview environments expire: give from as well"))
        }
        // On the chain: the policy is asked again, about its place.
        (None, None) => {
            let asked = ControlAction::PlaceEnvironment { after: body.after.as_deref() };
            let proof = store::authorize(env, authorized.into_actor(), asked)
                .await
                .map_err(|error| not_found_at(error, "after"))?;
            (proof, None)
        }
    };
    if let Some(label) = &body.label {
        settings::validate_label(label)?;
    }
    if let Some(colour) = &body.colour {
        settings::validate_colour(colour)?;
    }
    let secret = subscriber::signing_secret(random()?);
    // The store completes the entry with the environment's type and place.
    let entry =
        audit::draft(authorized.actor(), "environment.create", None, format!("environment:{}", body.name), json!({}))?;
    let faults = store::FaultPlan::of(request, env);
    let environment =
        store::create_environment(env, &body, (&authorized, ttl), &secret, &entry.record(), (&faults, now_ms()))
            .await?;
    let status = if environment.environment.status == "creating" { 202 } else { 201 };
    // The signing secret signs any subscriber's credential: where the new environment masks
    // personal data, it is shown only to a caller who may see that data there, as a rotation is.
    let shown = !masks(&environment) || may_see_personal_data(env, authorized, &environment).await;
    json(&CreatedEnvironment { environment, subscriber_signing_secret: shown.then_some(secret) }, status)
}

/// Whether the caller of `authorized` holds a personal-data grant (with the
/// right to configure) in the environment just created. The environment is
/// written by then: any failure to tell answers no (the secret is withheld,
/// and a rotation by someone with the grant gives one), never an error.
async fn may_see_personal_data(env: &Platform, authorized: Authorized, environment: &EnvironmentDetails) -> bool {
    let Ok(name) = EnvironmentName::parse(&environment.environment.name) else { return false };
    let asked = ControlAction::WithPersonalData { environment: name.as_str(), action: Action::Configure };
    store::authorize(env, authorized.into_actor(), asked).await.is_ok()
}

/// Rotates the subscriber signing secret: a new current secret (shown
/// once), the old one verifying for the grace period.
pub async fn rotate_signing_secret(request: &mut IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::Configure).await?;
    // The signing secret signs any subscriber's token: where masking is on, it needs the grant.
    let masked = masks(&store::environment(env, &authorized).await?);
    let authorized = exposing(env, authorized, Action::Configure, masked).await?;
    let body: RotateSigningSecretRequest = read_optional_json(request).await?;
    let grace = body.grace_period_seconds.unwrap_or(signing::DEFAULT_GRACE_SECONDS);
    // The store completes the entry with the slots (never the secret).
    let resource = format!("environment:{name}");
    let entry = audit::draft(authorized.actor(), "signing_secret.rotate", Some(name.as_str()), resource, json!({}))?;
    let secret = subscriber::signing_secret(random()?);
    let rotated = store::rotate_signing_secret(env, &authorized, secret, now_ms(), grace, &entry.record()).await?;
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

/// Deletes a custom environment (the caller must administer it): keys
/// revoked first, then every table and KV entry of its data.
pub async fn delete(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let action = ControlAction::DeleteEnvironment { environment: name.as_str() };
    let authorized = authorize(request, env, action).await?;
    // The store completes the entry with the number of keys it revoked.
    let resource = format!("environment:{name}");
    let entry = audit::draft(authorized.actor(), "environment.delete", Some(name.as_str()), resource, json!({}))?;
    let deleted = store::delete_environment(env, &authorized, &entry.record(), now_ms()).await?;
    json(&deleted, 200)
}

/// An environment name from a path segment.
pub fn parse_name(raw: &str) -> ApiResult<EnvironmentName> {
    EnvironmentName::parse(&decode_segment(raw)?).map_err(|error| ApiError::validation("name", error.to_string()))
}

/// Locks an environment's content (a change freeze) with a reason: owners and admins.
pub async fn lock(request: &mut IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::Lock).await?;
    let body: LockRequest = read_json(request).await?;
    let entry = audit::draft(authorized.actor(), "environment.lock", Some(name.as_str()), resource(&name), json!({}))?;
    json(&store::lock_environment(env, &authorized, &body.reason, &entry.record(), now_ms()).await?, 200)
}

/// Lifts the lock.
pub async fn unlock(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize_in(request, env, &name, Action::Lock).await?;
    let entry =
        audit::draft(authorized.actor(), "environment.unlock", Some(name.as_str()), resource(&name), json!({}))?;
    json(&store::unlock_environment(env, &authorized, &entry.record(), now_ms()).await?, 200)
}

/// Moves an environment's feeds to more shards, or goes on moving them: each
/// call moves buckets for a few seconds and answers where the move stands
/// (200 once done, 202 while buckets are left; call again).
pub async fn reshard(request: &mut IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize(request, env, ControlAction::ReshardEnvironment { environment: name.as_str() }).await?;
    let body: ReshardRequest = read_json(request).await?;
    let target = ShardCount::new(body.shards).map_err(|error| ApiError::validation("shards", error.to_string()))?;
    let entry =
        audit::draft(authorized.actor(), "environment.reshard", Some(name.as_str()), resource(&name), json!({}))?;
    let faults = store::FaultPlan::of(request, env);
    let progress =
        store::reshard(env, &authorized, target, faults, &entry.record(), now_ms(), RESHARD_BUDGET_MS).await?;
    let status = if progress.done { 200 } else { 202 };
    json(&progress, status)
}

/// How long one reshard call moves buckets before it answers.
const RESHARD_BUDGET_MS: u64 = 5_000;

/// Archives an environment: keys refused, data kept until its purge date.
pub async fn archive(request: &mut IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize(request, env, ControlAction::ArchiveEnvironment { environment: name.as_str() }).await?;
    // An empty body keeps the default retention.
    let bytes = read_body(request).await?;
    let body: ArchiveRequest = if bytes.is_empty() { ArchiveRequest::default() } else { parse_json(&bytes)? };
    let entry =
        audit::draft(authorized.actor(), "environment.archive", Some(name.as_str()), resource(&name), json!({}))?;
    let archived = store::archive_environment(env, &authorized, body.retention_days, &entry.record(), now_ms()).await?;
    json(&archived, 200)
}

/// Restores an archived environment as it was, keys included.
pub async fn restore(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize(request, env, ControlAction::RestoreEnvironment { environment: name.as_str() }).await?;
    let entry =
        audit::draft(authorized.actor(), "environment.restore", Some(name.as_str()), resource(&name), json!({}))?;
    json(&store::restore_environment(env, &authorized, &entry.record(), now_ms()).await?, 200)
}

/// Purges an archived environment now, as a deletion does.
pub async fn purge(request: &IncomingRequest, env: &Platform, raw_name: &str) -> ApiResult {
    let name = parse_name(raw_name)?;
    let authorized = authorize(request, env, ControlAction::DeleteEnvironment { environment: name.as_str() }).await?;
    let entry = audit::draft(authorized.actor(), "environment.purge", Some(name.as_str()), resource(&name), json!({}))?;
    json(&store::purge_environment(env, &authorized, &entry.record(), now_ms()).await?, 200)
}

fn resource(name: &EnvironmentName) -> String {
    format!("environment:{name}")
}

/// An environment the request names at `field` that is not found (or hidden
/// from the caller) is that field's fault.
fn not_found_at(error: ApiError, field: &str) -> ApiError {
    if error.code() == ErrorCode::EnvironmentNotFound {
        error.with_field(field)
    } else {
        error
    }
}
