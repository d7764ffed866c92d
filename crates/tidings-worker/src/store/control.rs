//! The control plane: creating the registry of environments.

use tidings_core::environment::{EnvironmentName, EnvironmentType};
use tidings_core::key::ApiKey;
use tidings_core::lifecycle::Status;
use tidings_core::wire::ErrorCode;

use super::members::{self, NewMember, NewMemberToken};
use super::platform::Platform;
use super::{control_db, number, statement, storage_error, text};
use crate::error::ApiError;

/// An environment about to be registered, with its first keys.
pub struct NewEnvironment {
    /// Its name.
    pub name: EnvironmentName,
    /// Its type.
    pub environment_type: EnvironmentType,
    /// Its place in the promotion chain.
    pub position: u32,
    /// Its first keys; only their hashes are stored.
    pub keys: Vec<ApiKey>,
    /// The secret behind its subscriber hashes.
    pub signing_secret: String,
    /// Whether releases into it wait for a second member's approval.
    pub require_approval: bool,
    /// Its feed shards.
    pub shards: tidings_core::shard::ShardCount,
}

/// Registers the first environments, once, with their keys (and the first
/// owner) in one transaction. Each then goes through the provisioning check
/// every environment does (bindings, schema, starter workflows) and is
/// `active` when it passes; answers each one's status, in order.
pub async fn bootstrap(
    env: &Platform,
    now_ms: u64,
    environments: &[NewEnvironment],
    owner: Option<(&NewMember<'_>, &NewMemberToken<'_>)>,
) -> Result<Vec<Status>, ApiError> {
    let control = control_db(env)?;
    let existing: Option<f64> = statement(&control, "SELECT COUNT(*) AS count FROM environments", &[])?
        .first(Some("count"))
        .await
        .map_err(|error| storage_error("count environments", error))?;
    if existing.unwrap_or(0.0) > 0.0 {
        return Err(already_bootstrapped());
    }
    let mut writes = Vec::new();
    for environment in environments {
        let suffix = environment.name.binding_suffix();
        let (db_binding, kv_binding) = (format!("DB_{suffix}"), format!("KV_{suffix}"));
        writes.push(statement(
            &control,
            "INSERT INTO environments (name, type, status, position, db_binding, kv_binding, \
             requires_subscriber_credential, subscriber_signing_secret, created_at, require_approval, feed_shards) \
             VALUES (?1, ?2, 'creating', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            &[
                text(environment.name.as_str()),
                text(environment.environment_type.as_str()),
                number(u64::from(environment.position)),
                text(&db_binding),
                text(&kv_binding),
                number(u64::from(environment.environment_type.requires_subscriber_credential_by_default())),
                text(&super::secrets::seal_signing_secret(env, &environment.signing_secret)?),
                number(now_ms),
                number(u64::from(environment.require_approval)),
                number(u64::from(environment.shards.get())),
            ],
        )?);
        for key in &environment.keys {
            let hash = key.hash();
            writes.push(statement(
                &control,
                "INSERT INTO api_keys (id, environment, kind, hash, masked, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    text(&key.id()),
                    text(environment.name.as_str()),
                    text(key.kind().as_str()),
                    text(&hash),
                    text(&key.masked()),
                    number(now_ms),
                ],
            )?);
        }
    }
    if let Some((member, token)) = owner {
        writes.extend(members::member_statements(&control, member, now_ms)?);
        writes.push(members::token_statement(&control, member.id, "admin", token, now_ms)?);
    }
    // One batch is one transaction: either every environment (and the owner) exists or none.
    control.batch(writes).await.map_err(|error| {
        if error.to_string().contains("UNIQUE constraint failed") {
            already_bootstrapped()
        } else {
            storage_error("register environments", error)
        }
    })?;
    let mut statuses = Vec::with_capacity(environments.len());
    for environment in environments {
        statuses.push(super::registry::settle_bootstrapped(env, &environment.name).await?);
    }
    Ok(statuses)
}

fn already_bootstrapped() -> ApiError {
    ApiError::new(409, ErrorCode::AlreadyBootstrapped, "environments already exist; bootstrap runs only once")
}
