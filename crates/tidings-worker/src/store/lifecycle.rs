//! An environment's life after creation: lock and unlock (a change freeze),
//! archive, restore and purge, deletion, the seeding of a preview, and the
//! scheduled sweep that archives expired previews and purges environments
//! past their purge date.

use serde::Deserialize;
use tidings_core::access::Action;
use tidings_core::environment::EnvironmentName;
use tidings_core::lifecycle::{self, Status};
use tidings_core::promotion;
use tidings_core::shard::ShardCount;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{DeletedEnvironment, EnvironmentDetails};

use super::authorized::{for_sweep, Authorized, SweepStep};
use super::keys::forget_cached_keys;
use super::members::{audit_statement, audit_statement_if, AuditRecord};
use super::platform::{Bindings, Platform};
use super::registry::{environment_details, environment_row, role_rank, shift_chain, GONE};
use super::{control_db, number, statement, storage_error, text, Environment, NewRelease, PromotionEnvironment};
use crate::error::ApiError;
use crate::runtime::SweepTick;

/// Locks an environment's content with a reason (again: a new reason).
/// Triggers, feeds and settings keep working.
pub async fn lock_environment(
    env: &Platform,
    authorized: &Authorized,
    reason: &str,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<EnvironmentDetails, ApiError> {
    let name = authorized.require(Action::Lock)?;
    let reason = lifecycle::lock_reason(reason)?;
    // A deletion under way is finished, never frozen half-way.
    let row = environment_row(env, name).await?;
    if Status::parse(&row.status) == Some(Status::Deleting) {
        return Err(ApiError::new(
            409,
            ErrorCode::EnvironmentNotReady,
            format!("the {name} environment is being deleted; delete it again to finish"),
        ));
    }
    let control = control_db(env)?;
    // A deletion that began since the read above is finished, not frozen: the lock lands only
    // on an environment that is not being deleted, in the same statement.
    let update = statement(
        &control,
        "UPDATE environments SET locked_reason = ?2, locked_at = ?3, locked_by = ?4 \
         WHERE name = ?1 AND status NOT IN ('deleted', 'deleting')",
        &[text(name.as_str()), text(&reason), number(now_ms), text(&authorized.actor().id)],
    )?;
    let summary = serde_json::json!({"after": {"locked": true, "reason": reason}});
    let record = audit_statement_if(&control, &AuditRecord { summary, ..*audit }, now_ms, "changes() > 0", &[])?;
    let results =
        control.batch(vec![update, record]).await.map_err(|error| storage_error("lock environment", error))?;
    let locked = results.first().and_then(|result| result.meta().ok().flatten()).and_then(|meta| meta.changes);
    if locked.unwrap_or(0) == 0 {
        return Err(ApiError::new(
            409,
            ErrorCode::EnvironmentNotReady,
            format!("the {name} environment is being deleted; delete it again to finish"),
        ));
    }
    environment_details(env, name).await
}

/// Lifts an environment's lock (nothing happens to an unlocked one but the audit entry).
pub async fn unlock_environment(
    env: &Platform,
    authorized: &Authorized,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<EnvironmentDetails, ApiError> {
    let name = authorized.require(Action::Lock)?;
    let control = control_db(env)?;
    let update = statement(
        &control,
        "UPDATE environments SET locked_reason = NULL, locked_at = NULL, locked_by = NULL WHERE name = ?1",
        &[text(name.as_str())],
    )?;
    let summary = serde_json::json!({"after": {"locked": false}});
    let record = audit_statement(&control, &AuditRecord { summary, ..*audit }, now_ms)?;
    control.batch(vec![update, record]).await.map_err(|error| storage_error("unlock environment", error))?;
    environment_details(env, name).await
}

/// Archives a provisioned environment: its keys are refused from now on
/// (401 `environment_archived`), its sockets close, and its data stays
/// until `purge_at`. `development` and `production` are never archived.
pub async fn archive_environment(
    env: &Platform,
    authorized: &Authorized,
    retention_days: Option<u32>,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<EnvironmentDetails, ApiError> {
    let name = authorized.require_archive()?;
    lifecycle::check_archivable(name.as_str())?;
    let purge_at = lifecycle::purge_at(now_ms, retention_days)?;
    let row = environment_row(env, name).await?;
    super::lock::unlocked(env, name).await?;
    match Status::parse(&row.status) {
        Some(Status::Archived) => return Err(archived(name)),
        Some(status) if status.accepts_new_keys() => {}
        _ => {
            return Err(ApiError::new(
                409,
                ErrorCode::EnvironmentNotReady,
                format!("the {name} environment is {}; delete it instead", row.status),
            ))
        }
    }
    let control = control_db(env)?;
    let update = statement(
        &control,
        "UPDATE environments SET status_before_archive = status, status = 'archived', archived_at = ?2, \
         purge_at = ?3 WHERE name = ?1 AND status IN ('ready', 'active')",
        &[text(name.as_str()), number(now_ms), number(purge_at)],
    )?;
    let summary = serde_json::json!({"after": {"status": "archived",
        "purge_at": tidings_core::timestamp::rfc3339(purge_at)}});
    let record = audit_statement(&control, &AuditRecord { summary, ..*audit }, now_ms)?;
    control.batch(vec![update, record]).await.map_err(|error| storage_error("archive environment", error))?;
    forget_cached_keys(env, name).await?;
    super::realtime::close_sockets(env, &row.db_binding, super::realtime::Sockets::All, now_ms).await;
    environment_details(env, name).await
}

/// Brings an archived environment back as it was: its status, keys, data
/// and settings. A preview whose lifetime has ended gets a new one, as long as its first.
pub async fn restore_environment(
    env: &Platform,
    authorized: &Authorized,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<EnvironmentDetails, ApiError> {
    let name = authorized.require_restore()?;
    require_archived(env, name).await?;
    let control = control_db(env)?;
    let update = statement(
        &control,
        "UPDATE environments SET status = COALESCE(status_before_archive, 'active'), status_before_archive = NULL, \
         archived_at = NULL, purge_at = NULL, \
         expires_at = CASE WHEN expires_at <= ?2 \
           THEN ?2 + COALESCE(preview_ttl_seconds * 1000, expires_at - created_at) ELSE expires_at END \
         WHERE name = ?1 AND status = 'archived'",
        &[text(name.as_str()), number(now_ms)],
    )?;
    let summary = serde_json::json!({"after": {"status": "restored"}});
    let record = audit_statement(&control, &AuditRecord { summary, ..*audit }, now_ms)?;
    control.batch(vec![update, record]).await.map_err(|error| storage_error("restore environment", error))?;
    forget_cached_keys(env, name).await?;
    environment_details(env, name).await
}

/// Purges an archived environment now: everything goes, as in a deletion.
pub async fn purge_environment(
    env: &Platform,
    authorized: &Authorized,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<DeletedEnvironment, ApiError> {
    // An interrupted purge (`deleting`) is finished by purging again.
    remove(env, authorized, audit, now_ms, Some(&[Status::Archived, Status::Deleting])).await
}

async fn require_archived(env: &Platform, name: &EnvironmentName) -> Result<(), ApiError> {
    let row = environment_row(env, name).await?;
    if Status::parse(&row.status) == Some(Status::Archived) {
        return Ok(());
    }
    Err(not_archived(name, &row.status))
}

fn not_archived(name: &EnvironmentName, status: &str) -> ApiError {
    ApiError::new(
        409,
        ErrorCode::EnvironmentNotArchived,
        format!("the {name} environment is {status}, not archived; archive it first"),
    )
}

/// 409 `environment_archived`: the control plane's answer for an archived environment's storage.
pub(super) fn archived(name: &EnvironmentName) -> ApiError {
    ApiError::new(
        409,
        ErrorCode::EnvironmentArchived,
        format!("the {name} environment is archived; restore it to use it again"),
    )
}

/// Copies the content of `source` (workflows, integrations without their
/// secrets, variable names without values, brand, default preferences)
/// into the new preview `name`, as one release of kind `import` naming its
/// source: never subscribers, messages, keys or secrets.
pub(super) async fn seed_preview(env: &Platform, name: &EnvironmentName, source: &str) -> Result<(), ApiError> {
    let source_name = EnvironmentName::parse(source).map_err(|error| ApiError::internal("preview source", error))?;
    let (from, into) = (Environment::open_named(env, &source_name).await?, Environment::open_named(env, name).await?);
    // The source must still be what the preview was made from (a name re-created since is not).
    let chain = super::registry::chain(env).await?;
    let source_entry = chain.iter().find(|entry| entry.name == source).filter(|entry| entry.on_chain());
    if source_entry.is_none_or(|entry| entry.environment_type != into.environment_type()) {
        return Err(ApiError::new(
            409,
            ErrorCode::EnvironmentNotReady,
            format!(
                "{source} is no longer the {} environment this preview was made from",
                into.environment_type().as_str()
            ),
        ));
    }
    let (from, into) = (PromotionEnvironment::of(env, &from)?, PromotionEnvironment::of(env, &into)?);
    let (wanted, state) = (from.content().await?, into.content().await?);
    // Integrations stay behind: without their secrets they would sign nothing, and their
    // receivers are the source's.
    let changes: Vec<_> = promotion::diff(&wanted.snapshot, &state.snapshot)
        .into_iter()
        .filter(|change| change.resource != promotion::ResourceKind::Integration)
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let unlocked = super::lock::unlocked(env, name).await?;
    into.copy_assets(&unlocked, &from, &changes).await?;
    let now = crate::platform::now_ms();
    let (id, audit_id) =
        (promotion::release_id(now, crate::platform::random()?), promotion::audit_id(now, crate::platform::random()?));
    let release = NewRelease {
        id: &id,
        kind: "import",
        source: Some(source),
        actor: "system",
        request_key: None,
        request_fingerprint: None,
        reverts: None,
        audit_id: &audit_id,
        approves: None,
    };
    // A preview starts without approval (only production-type environments start with it).
    let super::Clearance::Cleared(cleared) = into.clearance(env).await? else {
        return Err(ApiError::internal("seed preview", "a new preview requires approval"));
    };
    into.release(&unlocked, &cleared, &release, &changes, &state, now).await
}

/// The scheduled sweep of environments' lives: archives every preview whose
/// lifetime has ended, then purges every archived environment past its
/// purge date. One environment's failure is logged and never stops the others.
pub async fn sweep_lifecycles(env: &Platform, tick: &SweepTick, now_ms: u64) {
    #[derive(Deserialize)]
    struct Due {
        name: String,
        status: String,
    }
    let due: Vec<Due> = match statement_due(env, now_ms).await {
        Ok(due) => due,
        Err(error) => return worker::console_error!("lifecycle sweep: {error:?}"),
    };
    for row in due {
        let Ok(name) = EnvironmentName::parse(&row.name) else { continue };
        let step = match Status::parse(&row.status) {
            Some(Status::Archived | Status::Deleting) => SweepStep::Purge,
            // A preview whose storage never came: nothing to keep.
            Some(Status::Creating | Status::Failed) => SweepStep::Discard,
            _ => SweepStep::Archive,
        };
        if let Err(error) = sweep_one(env, tick, &name, step, now_ms).await {
            worker::console_error!("lifecycle sweep: {name}: {error:?}");
        }
    }

    async fn statement_due(env: &Platform, now_ms: u64) -> Result<Vec<Due>, ApiError> {
        statement(
            &control_db(env)?,
            "SELECT name, status FROM environments WHERE locked_reason IS NULL AND ((status = 'archived' AND \
             purge_at <= ?1) OR (status = 'deleting' AND purge_at <= ?1) OR (preview_of IS NOT NULL AND \
             expires_at <= ?1 AND status IN ('ready', 'active', 'creating', 'failed'))) ORDER BY name",
            &[number(now_ms)],
        )?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("list due environments", error))
    }
}

async fn sweep_one(
    env: &Platform,
    tick: &SweepTick,
    name: &EnvironmentName,
    step: SweepStep,
    now_ms: u64,
) -> Result<(), ApiError> {
    let authorized = for_sweep(env, tick, name, step).await?;
    let action = match step {
        SweepStep::Archive => "environment.expire",
        SweepStep::Purge | SweepStep::Discard => "environment.purge",
    };
    let now = now_ms;
    let id = promotion::audit_id(now, crate::platform::random()?);
    let resource = format!("environment:{name}");
    let audit = AuditRecord {
        id: &id,
        actor: "system",
        action,
        environment: Some(name.as_str()),
        resource: &resource,
        summary: serde_json::json!({}),
    };
    match step {
        SweepStep::Archive => archive_environment(env, &authorized, None, &audit, now).await.map(|_| ()),
        SweepStep::Purge => purge_environment(env, &authorized, &audit, now).await.map(|_| ()),
        SweepStep::Discard => delete_environment(env, &authorized, &audit, now).await.map(|_| ()),
    }
}

/// Deletes an environment: revokes its keys first, then removes its data
/// (every table of its database, every entry of its KV namespace), and
/// keeps a `deleted` tombstone so its old keys answer `key_revoked`. A
/// deletion interrupted half-way is finished by calling it again.
pub async fn delete_environment(
    env: &Platform,
    authorized: &Authorized,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<DeletedEnvironment, ApiError> {
    remove(env, authorized, audit, now_ms, None).await
}

/// Deletes an environment, from one of the statuses `from` when given (a
/// purge: archived, or a deletion already under way), refusing a locked one.
async fn remove(
    env: &Platform,
    authorized: &Authorized,
    audit: &AuditRecord<'_>,
    now_ms: u64,
    from: Option<&[Status]>,
) -> Result<DeletedEnvironment, ApiError> {
    let name = authorized.require_deletion()?;
    lifecycle::check_deletable(name.as_str())?;
    let control = control_db(env)?;
    let row = environment_row(env, name).await?;
    super::lock::unlocked(env, name).await?;
    let files = row.files_binding.as_deref();
    let shards = ShardCount::from_stored(row.feed_shards);
    let bindings = Bindings::for_deletion(authorized, &row.name, &row.db_binding, &row.kv_binding, files, shards)?;
    match from {
        None => {
            // Nothing changes while a reshard call moves this environment's feeds.
            super::wipe::hold_feeds(env, &bindings, shards, (row.created_at as u64, now_ms)).await?;
            // Only while unlocked: a lock that committed since the check above keeps the environment.
            let moved = statement(
                &control,
                "UPDATE environments SET status = 'deleting', status_reason = NULL \
                 WHERE name = ?1 AND status != 'deleted' AND locked_reason IS NULL",
                &[text(name.as_str())],
            )?
            .run()
            .await
            .map_err(|error| storage_error("begin deletion", error))?;
            if moved.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) == 0 {
                super::lock::unlocked(env, name).await?;
                return Err(ApiError::not_found(format!("there is no environment {name}")));
            }
        }
        Some(statuses) => {
            // No new reshard call opens an archived environment, but one begun before the archive
            // may still be moving feeds: held off the same way, once the status is one purged.
            if statuses.iter().any(|status| Some(*status) == Status::parse(&row.status)) {
                super::wipe::hold_feeds(env, &bindings, shards, (row.created_at as u64, now_ms)).await?;
            }
            // Only from these statuses: a restore that committed first keeps the environment.
            let listed = statuses.iter().map(|status| format!("'{}'", status.as_str())).collect::<Vec<_>>().join(", ");
            let moved = statement(
                &control,
                &format!(
                    "UPDATE environments SET status = 'deleting' WHERE name = ?1 AND status IN ({listed}) \
                     AND locked_reason IS NULL"
                ),
                &[text(name.as_str())],
            )?
            .run()
            .await
            .map_err(|error| storage_error("begin purge", error))?;
            if moved.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) == 0 {
                super::lock::unlocked(env, name).await?;
                return Err(not_archived(name, &row.status));
            }
        }
    }
    let revoked = statement(
        &control,
        "UPDATE api_keys SET revoked_at = ?2 WHERE environment = ?1 AND revoked_at IS NULL",
        &[text(name.as_str()), number(now_ms)],
    )?
    .run()
    .await
    .map_err(|error| storage_error("revoke keys", error))?;
    let revoked_keys = revoked.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) as u64;
    forget_cached_keys(env, name).await?;
    super::realtime::close_sockets(env, &row.db_binding, super::realtime::Sockets::All, now_ms).await;
    super::wipe::wipe_bucket(env, &bindings).await?;
    // Its feed shards are wiped, and past the registry's count every one bound under its name and
    // stamped as this environment's: a reshard call refused half-way (a new shard not migrated) has
    // stamped the new shards before it, and the environment made again under this name must find
    // them empty.
    let every_shard = bindings.with_shards(ShardCount::MAX);
    super::wipe::wipe_database(env, &every_shard, row.created_at as u64, bindings.shards().len()).await?;
    super::wipe::wipe_namespace(env, &bindings).await?;
    // Tombstone, then close the gap the environment leaves in the chain; a concurrent deletion
    // that finished first stops this batch at its guard.
    let mut finish = vec![
        statement(
            &control,
            &format!(
                "SELECT CASE WHEN (SELECT status FROM environments WHERE name = ?1) = 'deleting' \
                 THEN 1 ELSE json('{GONE}') END"
            ),
            &[text(name.as_str())],
        )?,
        statement(
            &control,
            "UPDATE environments SET status = 'deleted', status_reason = NULL, position = -1000000 - rowid, \
             allowed_origins = '[]', previous_signing_secret = NULL, previous_signing_key_id = NULL, \
             previous_signing_expires_at = NULL WHERE name = ?1",
            &[text(name.as_str())],
        )?,
        // Grants that give something there go with it (promotion, personal data, a role above
        // the member's own); restrictions stay (`none`, a lower role), so a new environment of
        // the same name never opens wider to anyone than the old one did.
        statement(
            &control,
            "UPDATE member_grants SET promote = 0, personal_data = 0 WHERE environment = ?1",
            &[text(name.as_str())],
        )?,
        statement(
            &control,
            &format!(
                "DELETE FROM member_grants WHERE environment = ?1 AND (role IS NULL OR (role != 'none' AND \
                 {} > (SELECT {} FROM members WHERE members.id = member_grants.member_id)))",
                role_rank("role"),
                role_rank("members.role")
            ),
            &[text(name.as_str())],
        )?,
    ];
    finish.extend(shift_chain(&control, row.position as u64 + 1, -1)?);
    let summary = serde_json::json!({"after": {"status": "deleted", "revoked_keys": revoked_keys}});
    finish.push(audit_statement(&control, &AuditRecord { summary, ..*audit }, now_ms)?);
    match control.batch(finish).await {
        Ok(_) => {}
        Err(error) if error.to_string().contains(GONE) || error.to_string().contains("malformed JSON") => {}
        Err(error) => return Err(storage_error("finish deletion", error)),
    }
    Ok(DeletedEnvironment { name: name.to_string(), status: Status::Deleted.as_str().to_owned(), revoked_keys })
}
