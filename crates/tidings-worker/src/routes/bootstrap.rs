//! `POST /v1/bootstrap`: creates the default environments and their first
//! keys, once, for the holder of the deployment's admin token.

use tidings_core::access::{self, Grants, Role};
use tidings_core::environment::{EnvironmentName, EnvironmentType, DEFAULT_ENVIRONMENTS};
use tidings_core::key::{ApiKey, KeyKind};
use tidings_core::shard::ShardCount;
use tidings_core::subscriber;
use tidings_core::wire::{BootstrapRequest, BootstrapResponse, EnvironmentInfo, IssuedEnvironment, IssuedOwner};

use crate::auth::authenticate_admin;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, parse_json, read_body};
use crate::platform::{now_ms, random};
use crate::request::IncomingRequest;
use crate::routes::members;
use crate::store::Platform;
use crate::store::{self, NewEnvironment, NewMember, NewMemberToken};

/// Creates `development`, `staging` and `production` with one publishable
/// and one secret key each, and returns the keys this one time.
pub async fn bootstrap(request: &mut IncomingRequest, env: &Platform) -> ApiResult {
    authenticate_admin(request, env).await?;
    let body = read_body(request).await?;
    let input: BootstrapRequest =
        if body.iter().all(u8::is_ascii_whitespace) { BootstrapRequest::default() } else { parse_json(&body)? };
    let now = now_ms();
    if let Some(unknown) = input.shards.keys().find(|name| !DEFAULT_ENVIRONMENTS.iter().any(|(known, _)| known == name))
    {
        return Err(ApiError::validation(
            format!("shards.{unknown}"),
            "shards are given for the first environments only: development, staging, production",
        ));
    }
    let mut environments = Vec::new();
    for (position, (name, environment_type)) in DEFAULT_ENVIRONMENTS.into_iter().enumerate() {
        let name = EnvironmentName::parse(name).map_err(|error| ApiError::internal("default environment", error))?;
        let keys = vec![
            ApiKey::generate(KeyKind::Publishable, &name, random()?),
            ApiKey::generate(KeyKind::Secret, &name, random()?),
        ];
        let signing_secret = subscriber::signing_secret(random()?);
        let shards = input
            .shards
            .get(name.as_str())
            .copied()
            .map_or(Ok(ShardCount::ONE), ShardCount::new)
            .map_err(|error| ApiError::validation(format!("shards.{name}"), error.to_string()))?;
        // Production starts with four-eyes approval unless the bootstrap says otherwise.
        let require_approval = environment_type == EnvironmentType::Production && input.production_requires_approval;
        environments.push(NewEnvironment {
            name,
            environment_type,
            position: position as u32,
            keys,
            signing_secret,
            require_approval,
            shards,
        });
    }
    // The first owner, with a personal access token shown this once.
    let owner_grants = Grants::role(Role::Owner);
    let owner = match &input.owner {
        Some(owner) => {
            members::validate(&owner.name, &owner.email)?;
            Some((
                access::member_id(now, random()?),
                owner.email.trim().to_ascii_lowercase(),
                members::mint_token(now, 365)?,
            ))
        }
        None => None,
    };
    let records = match (&input.owner, &owner) {
        (Some(input), Some((id, email, token))) => Some((
            NewMember { id, name: input.name.trim(), email, grants: &owner_grants },
            NewMemberToken { id: &token.id, hash: &token.hash, name: "bootstrap", expires_at: token.expires_at },
        )),
        _ => None,
    };
    let statuses =
        store::bootstrap(env, now, &environments, records.as_ref().map(|(member, token)| (member, token))).await?;
    let issued = environments
        .into_iter()
        .zip(statuses)
        .map(|(environment, status)| IssuedEnvironment {
            environment: EnvironmentInfo {
                name: environment.name.to_string(),
                environment_type: environment.environment_type.as_str().to_owned(),
                status: status.as_str().to_owned(),
                position: environment.position,
                requires_subscriber_credential: environment
                    .environment_type
                    .requires_subscriber_credential_by_default(),
            },
            publishable_key: environment.keys[0].expose().to_owned(),
            secret_key: environment.keys[1].expose().to_owned(),
            subscriber_signing_secret: environment.signing_secret,
        })
        .collect();
    let owner = owner.map(|(id, email, token)| IssuedOwner { id, email, token: token.token });
    json(&BootstrapResponse { environments: issued, owner }, 201)
}
