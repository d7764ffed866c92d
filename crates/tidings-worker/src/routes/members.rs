//! Members (control plane): `GET /v1/me`, `GET|POST /v1/members`,
//! `PATCH|DELETE /v1/members/{id}`, `POST /v1/members/{id}/tokens` and
//! `DELETE /v1/members/{id}/tokens/{token_id}`.

use serde::Serialize;
use serde_json::json;
use tidings_core::access::{self, Action, Grants, Role};
use tidings_core::environment::EnvironmentType;
use tidings_core::lifecycle::ChainEntry;
use tidings_core::member::{self, MemberError};
use tidings_core::message::MessageId;
use tidings_core::policy::{self, ControlAction};
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{
    EnvironmentAccess, IssuedMemberToken, Me, Member, MemberInput, MemberList, MemberPatch, MemberTokenRequest,
};

use crate::auth::{authenticate_actor, authorize};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, read_json};
use crate::platform::{now_ms, random};
use crate::request::IncomingRequest;
use crate::routes::audit;
use crate::store::Platform;
use crate::store::{self, GrantChange, MemberUpdate, NewMember, NewMemberToken};

/// Token lifetime when none is asked for.
const DEFAULT_TOKEN_DAYS: u32 = 90;
/// The longest token lifetime.
const MAX_TOKEN_DAYS: u32 = 365;
const DAY_MS: u64 = 24 * 3600 * 1000;

/// A new personal access token: the token (shown once) and what is stored.
pub struct MintedToken {
    /// `mtk_…`.
    pub id: String,
    /// `mt_…`.
    pub token: String,
    /// Its SHA-256.
    pub hash: String,
    /// Unix milliseconds.
    pub expires_at: u64,
}

/// Mints a token valid for `days`.
pub fn mint_token(now_ms: u64, days: u32) -> ApiResult<MintedToken> {
    let token = access::member_token(random()?);
    Ok(MintedToken {
        id: format!("mtk_{}", MessageId::generate(now_ms, random()?)),
        hash: access::member_token_hash(&token),
        token,
        expires_at: now_ms + u64::from(days) * DAY_MS,
    })
}

/// Checks a member's name and email.
pub fn validate(name: &str, email: &str) -> ApiResult<()> {
    member::validate(name, email).map_err(invalid)
}

fn invalid(error: MemberError) -> ApiError {
    ApiError::validation(error.field, error.message)
}

/// Who the credential is, and each environment they can see.
pub async fn me(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let actor = authenticate_actor(request, env).await?;
    let listed = store::list_environments(env).await?;
    let chain: Vec<ChainEntry> = listed
        .iter()
        .map(|details| ChainEntry {
            name: details.environment.name.clone(),
            environment_type: EnvironmentType::parse(&details.environment.environment_type)
                .unwrap_or(EnvironmentType::Production),
            position: details.environment.position,
            preview_of: details.preview_of.clone(),
        })
        .collect();
    let subject = policy::Subject { id: &actor.id, grants: &actor.grants, break_glass: actor.break_glass };
    let may = |environment: &str, action: Action| {
        policy::decide(subject, &[], &chain, ControlAction::InEnvironment { environment, action }).is_allowed()
    };
    let mut environments = Vec::new();
    for entry in &chain {
        let Some(role) = actor.grants.role_in(&entry.name) else { continue };
        environments.push(EnvironmentAccess {
            name: entry.name.clone(),
            role: role.as_str().to_owned(),
            may_promote: may(&entry.name, Action::PromoteInto),
            may_manage_keys: may(&entry.name, Action::ManageKeys),
            may_edit_content: may(&entry.name, Action::EditContent),
            may_lock: may(&entry.name, Action::Lock),
        });
    }
    let role = actor.grants.role.as_str().to_owned();
    json(&Me { id: actor.id, name: actor.name, break_glass: actor.break_glass, role, environments }, 200)
}

/// Every member.
/// Grants that name environments hidden from the caller are left out of what they see.
pub async fn list(request: &IncomingRequest, env: &Platform) -> ApiResult {
    let authorized = authorize(request, env, ControlAction::ReadMembers).await?;
    let sees = |name: &str| authorized.actor().grants.role_in(name).is_some();
    let items = store::members(env)
        .await?
        .into_iter()
        .map(|(mut member, _)| {
            member.environments.retain(|name, _| sees(name));
            member.promote_into.retain(|name| sees(name));
            member.personal_data_in.retain(|name| sees(name));
            member
        })
        .collect();
    json(&MemberList { items }, 200)
}

/// Adds a member with a role and grants.
pub async fn create(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    // Member managers only, before the body is read; then the grants asked for.
    let manager = authorize(request, env, ControlAction::ReadMembers).await?.into_actor();
    let input: MemberInput = read_json(request).await?;
    validate(&input.name, &input.email)?;
    let grants = member::grants_of(&input).map_err(invalid)?;
    let authorized = store::authorize(env, manager, ControlAction::CreateMember { grants: &grants }).await?;
    let actor = authorized.actor();
    let now = now_ms();
    let id = access::member_id(now, random()?);
    let email = input.email.trim().to_ascii_lowercase();
    let entry = audit::draft(
        actor,
        "member.create",
        None,
        format!("member:{id}"),
        json!({"after": summary(&input.name, &email, &grants)}),
    )?;
    let member = NewMember { id: &id, name: input.name.trim(), email: &email, grants: &grants };
    store::create_member(env, authorized.actor(), &member, &entry.record(), now).await?;
    json(&find(env, &id).await?.ok_or_else(|| member_not_found(&id))?.0, 201)
}

/// Changes a member's name, role or grants.
pub async fn update(request: &mut IncomingRequest, env: &Platform, id: &str) -> ApiResult {
    let actor = authenticate_actor(request, env).await?;
    let patch: MemberPatch = read_json(request).await?;
    let Some((member, before)) = find(env, id).await? else {
        // Unknown to a manager (404); refused to anyone else (403).
        store::authorize(env, actor, ControlAction::RemoveMember { member: id }).await?;
        return Err(member_not_found(id));
    };
    let grants = member::patched(&before, &patch).map_err(invalid)?;
    let authorized = store::authorize(env, actor, ControlAction::UpdateMember { member: id, after: &grants }).await?;
    // The change is made from the grants read above; the policy judged the ones it read. Should they
    // differ (a change landed between the two reads), nothing is written.
    if authorized.judged_member().is_some_and(|judged| *judged != before) {
        return Err(store::member_changed());
    }
    let name = patch.name.as_deref().unwrap_or(&member.name);
    validate(name, &member.email)?;
    let was_owner = before.role == Role::Owner;
    let changed = (grants != before).then_some((&before, &grants));
    // Widening revokes the member's tokens (store::update_member). An owner widened by the admin
    // token, which holds every right the new token carries, is issued one in the same transaction,
    // answered to that holder: a deployment's only owner can be widened by nobody else, and must keep
    // a token to sign in with. An owner widened by another owner keeps none: the other owner signs
    // in, and issues them one only if they hold everything it carries.
    let now = now_ms();
    let replacement = match changed {
        Some((before, after))
            if after.role == Role::Owner && authorized.actor().break_glass && policy::widens(before, after) =>
        {
            Some(mint_token(now, DEFAULT_TOKEN_DAYS)?)
        }
        _ => None,
    };
    let mut change = json!({"before": summary(&member.name, &member.email, &before), "after": summary(name, &member.email, &grants)});
    if let Some(minted) = &replacement {
        change["replacement_token"] = json!(minted.id);
    }
    let entry = audit::draft(authorized.actor(), "member.update", None, format!("member:{id}"), change)?;
    let stored = replacement.as_ref().map(|minted| NewMemberToken {
        id: &minted.id,
        hash: &minted.hash,
        name: REPLACEMENT_TOKEN_NAME,
        expires_at: minted.expires_at,
    });
    let change = changed.map(|(before, after)| GrantChange { before, after, replacement: stored.as_ref() });
    let update = MemberUpdate { id, name: name.trim(), change, was_owner };
    store::update_member(env, authorized.actor(), update, &entry.record(), now).await?;
    let member = find(env, id).await?.ok_or_else(|| member_not_found(id))?.0;
    let replacement_token = replacement.map(|minted| IssuedMemberToken {
        id: minted.id,
        token: minted.token,
        name: REPLACEMENT_TOKEN_NAME.to_owned(),
        expires_at: rfc3339(minted.expires_at),
    });
    json(&UpdatedMember { member, replacement_token }, 200)
}

/// The name of the token an owner is issued when a change widens their grants.
const REPLACEMENT_TOKEN_NAME: &str = "after a grant change";

/// `PATCH /v1/members/{id}`: the member, and the token issued in place of
/// theirs when the change widened an owner's grants.
#[derive(Serialize)]
struct UpdatedMember {
    #[serde(flatten)]
    member: Member,
    #[serde(skip_serializing_if = "Option::is_none")]
    replacement_token: Option<IssuedMemberToken>,
}

/// Removes a member; their tokens stop working at once.
pub async fn remove(request: &IncomingRequest, env: &Platform, id: &str) -> ApiResult {
    #[derive(Serialize)]
    struct Removed<'a> {
        id: &'a str,
        removed: bool,
    }
    let authorized = authorize(request, env, ControlAction::RemoveMember { member: id }).await?;
    let (member, grants) = find(env, id).await?.ok_or_else(|| member_not_found(id))?;
    let entry = audit::draft(
        authorized.actor(),
        "member.remove",
        None,
        format!("member:{id}"),
        json!({"before": summary(&member.name, &member.email, &grants)}),
    )?;
    store::remove_member(env, &authorized, id, grants.role == Role::Owner, &entry.record(), now_ms()).await?;
    json(&Removed { id, removed: true }, 200)
}

/// Issues a personal access token: to oneself, or by a member manager.
pub async fn issue_token(request: &mut IncomingRequest, env: &Platform, id: &str) -> ApiResult {
    let authorized = authorize(request, env, ControlAction::IssueToken { member: id }).await?;
    let body: MemberTokenRequest = read_json(request).await?;
    if body.name.trim().is_empty() || body.name.chars().count() > 100 {
        return Err(ApiError::validation("name", "name must be 1 to 100 characters"));
    }
    let days = body.ttl_days.unwrap_or(DEFAULT_TOKEN_DAYS);
    if days == 0 || days > MAX_TOKEN_DAYS {
        return Err(ApiError::validation("ttl_days", "ttl_days must be from 1 to 365"));
    }
    let now = now_ms();
    let minted = mint_token(now, days)?;
    let stored =
        NewMemberToken { id: &minted.id, hash: &minted.hash, name: body.name.trim(), expires_at: minted.expires_at };
    let summary = json!({"token": minted.id, "name": body.name});
    let entry = audit::draft(authorized.actor(), "member.token.issue", None, format!("member:{id}"), summary)?;
    store::issue_member_token(env, &authorized, id, &stored, &entry.record(), now).await?;
    let issued = IssuedMemberToken {
        id: minted.id,
        token: minted.token,
        name: body.name,
        expires_at: rfc3339(minted.expires_at),
    };
    json(&issued, 201)
}

/// Revokes a personal access token: one's own, or by a member manager.
pub async fn revoke_token(request: &IncomingRequest, env: &Platform, id: &str, token_id: &str) -> ApiResult {
    #[derive(Serialize)]
    struct Revoked<'a> {
        id: &'a str,
        revoked: bool,
    }
    let authorized = authorize(request, env, ControlAction::RevokeToken { member: id }).await?;
    let was_owner = find(env, id).await?.is_some_and(|(_, grants)| grants.role == Role::Owner);
    let summary = json!({"token": token_id});
    let entry = audit::draft(authorized.actor(), "member.token.revoke", None, format!("member:{id}"), summary)?;
    store::revoke_member_token(env, &authorized, id, token_id, was_owner, &entry.record(), now_ms()).await?;
    json(&Revoked { id: token_id, revoked: true }, 200)
}

fn summary(name: &str, email: &str, grants: &Grants) -> serde_json::Value {
    json!({
        "name": name, "email": email, "role": grants.role.as_str(),
        "environments": store::grants_to_wire(grants), "promote_into": grants.promote_into,
        "personal_data_in": grants.personal_data,
    })
}

async fn find(env: &Platform, id: &str) -> ApiResult<Option<(Member, Grants)>> {
    Ok(store::members(env).await?.into_iter().find(|(member, _)| member.id == id))
}

fn member_not_found(id: &str) -> ApiError {
    ApiError::new(404, ErrorCode::MemberNotFound, format!("there is no member {id}"))
}
