//! The control plane's view of the registry: environments, their settings
//! and their keys. Only control-plane routes call this.

use serde::Deserialize;
use tidings_core::access::Action;
use tidings_core::environment::{EnvironmentName, EnvironmentType};
use tidings_core::lifecycle::{self, ChainEntry, Status};
use tidings_core::privacy::Privacy;
use tidings_core::shard::{self, ShardCount};
use tidings_core::signing::{SigningSecret, SigningSecrets};
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{
    CreateEnvironmentRequest, EnvironmentDetails, EnvironmentInfo, EnvironmentLock, EnvironmentPatch,
};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use super::authorized::Authorized;
use super::faults::FaultPlan;
use super::keys::forget_cached_keys;
use super::members::{audit_statement, audit_statement_if, AuditRecord};
use super::platform::{Bindings, Platform};
use super::shards::{claim_database, Identity, PRIMARY};
use super::{control_db, number, statement, storage_error, text};
use crate::error::ApiError;

#[derive(Clone, Deserialize)]
pub(super) struct EnvironmentRow {
    pub(super) name: String,
    pub(super) environment_type: String,
    pub(super) status: String,
    pub(super) position: f64,
    pub(super) label: Option<String>,
    pub(super) colour: Option<String>,
    pub(super) allowed_origins: String,
    pub(super) requires_subscriber_credential: f64,
    pub(super) status_reason: Option<String>,
    pub(super) created_at: f64,
    pub(super) db_binding: String,
    pub(super) kv_binding: String,
    pub(super) log_retention_days: f64,
    pub(super) obfuscate_subscriber_data: Option<f64>,
    pub(super) hide_message_contents: Option<f64>,
    pub(super) subscriber_token_max_ttl_seconds: f64,
    pub(super) locked_reason: Option<String>,
    pub(super) locked_at: Option<f64>,
    pub(super) locked_by: Option<String>,
    pub(super) archived_at: Option<f64>,
    pub(super) purge_at: Option<f64>,
    pub(super) preview_of: Option<String>,
    pub(super) expires_at: Option<f64>,
    pub(super) files_binding: Option<String>,
    pub(super) deliver_only_to: Option<String>,
    pub(super) catch_all_integration: Option<String>,
    pub(super) require_approval: f64,
    pub(super) feed_shards: f64,
    /// While the feed moves to more shards: the count it moves from.
    #[serde(default)]
    pub(super) feed_shards_from: Option<f64>,
}

const ENVIRONMENT_COLUMNS: &str = "name, type AS environment_type, status, position, label, colour, allowed_origins, \
    requires_subscriber_credential, status_reason, created_at, db_binding, kv_binding, log_retention_days, \
    obfuscate_subscriber_data, hide_message_contents, subscriber_token_max_ttl_seconds, locked_reason, locked_at, \
    locked_by, archived_at, purge_at, preview_of, expires_at, files_binding, deliver_only_to, catch_all_integration, \
    require_approval, feed_shards, feed_shards_from";

/// Every environment, in promotion order.
pub async fn list_environments(env: &Platform) -> Result<Vec<EnvironmentDetails>, ApiError> {
    let control = control_db(env)?;
    let sql = format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE status != 'deleted' ORDER BY position");
    let rows: Vec<EnvironmentRow> = statement(&control, &sql, &[])?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("list environments", error))?;
    let mut environments = Vec::with_capacity(rows.len());
    for row in rows {
        environments.push(details(refresh_status_or_report(env, row).await));
    }
    Ok(environments)
}

/// The environment an [`Authorized`] proof names, with its settings.
pub async fn environment(env: &Platform, authorized: &Authorized) -> Result<EnvironmentDetails, ApiError> {
    environment_details(env, authorized.environment()?).await
}

/// One environment, or 404 `environment_not_found`.
pub(super) async fn environment_details(
    env: &Platform,
    name: &EnvironmentName,
) -> Result<EnvironmentDetails, ApiError> {
    let row = environment_row(env, name).await?;
    Ok(details(refresh_status(env, row).await?))
}

/// Registers a new environment in the chain. It starts `creating` and
/// becomes `ready` as soon as its bindings exist and its schema is applied.
pub async fn create_environment(
    env: &Platform,
    request: &CreateEnvironmentRequest,
    (authorized, ttl): (&Authorized, Option<u64>),
    signing_secret: &str,
    audit: &AuditRecord<'_>,
    (faults, now_ms): (&FaultPlan, u64),
) -> Result<EnvironmentDetails, ApiError> {
    let control = control_db(env)?;
    // The chain the policy judged the place on: written only while it still is (`chain_guard`).
    let chain = authorized.chain().to_vec();
    let preview = ttl.map(|ttl| (authorized, ttl));
    faults.pause_if_asked("create-environment").await;
    let name = lifecycle::validate_new_name(&request.name, &chain)?;
    let environment_type = EnvironmentType::parse(&request.environment_type)
        .map_err(|error| ApiError::validation("type", error.to_string()))?;
    let ttl = preview.map(|(_, ttl)| ttl);
    let preview = preview
        .map(|(proof, ttl)| Ok::<_, ApiError>((proof.preview_source()?, lifecycle::preview_expiry(now_ms, ttl)?)))
        .transpose()?;
    let position = match &preview {
        Some((source, _)) => {
            if request.after.is_some() {
                return Err(ApiError::validation(
                    "after",
                    "a preview environment is off the promotion chain: leave out after",
                ));
            }
            lifecycle::check_preview(&chain, source.as_str(), environment_type)?;
            lifecycle::preview_position(&chain)
        }
        None => lifecycle::insert_position(&chain, request.after.as_deref())?,
    };
    let shards = request
        .shards
        .map(ShardCount::new)
        .transpose()
        .map_err(|error| ApiError::validation("shards", error.to_string()))?
        .unwrap_or(ShardCount::ONE);
    let suffix = name.binding_suffix();
    let (db_binding, kv_binding, files_binding) =
        (format!("DB_{suffix}"), format!("KV_{suffix}"), format!("FILES_{suffix}"));
    let shard_bindings = shard::bindings(&suffix, shards);
    let optional = |value: &Option<String>| value.as_deref().map_or(JsValue::NULL, text);
    let signing_secret = &super::secrets::seal_signing_secret(env, signing_secret)?;
    // The position was worked out from the chain as read: another creation or a deletion that
    // committed since would put this one elsewhere (or on a taken position), so the batch stops.
    let mut writes = vec![chain_guard(&control, &chain)?];
    // Make room: positions at or past the new one move down by one (previews need none).
    if preview.is_none() {
        writes.extend(shift_chain(&control, u64::from(position), 1)?);
    }
    // A deleted environment's tombstone with this name is reused, every setting back to its
    // default (no old signing secret, privacy choice or retention comes back); its revoked keys
    // stay revoked. A preview starts in its source's test mode unless the request sets one.
    writes.push(statement(
        &control,
        "INSERT INTO environments (name, type, status, status_reason, position, db_binding, kv_binding, \
             requires_subscriber_credential, subscriber_signing_secret, label, colour, created_at, preview_of, \
             expires_at, files_binding, preview_ttl_seconds, deliver_only_to, require_approval, feed_shards) \
             VALUES (?1, ?2, 'creating', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
             COALESCE(?16, (SELECT deliver_only_to FROM environments WHERE name = ?12)), ?17, ?18) \
             ON CONFLICT (name) DO UPDATE SET type = excluded.type, status = excluded.status, \
             status_reason = excluded.status_reason, position = excluded.position, \
             requires_subscriber_credential = excluded.requires_subscriber_credential, \
             subscriber_signing_secret = excluded.subscriber_signing_secret, label = excluded.label, \
             colour = excluded.colour, allowed_origins = '[]', created_at = excluded.created_at, \
             log_retention_days = 30, subscriber_token_max_ttl_seconds = 2592000, signing_key_id = 's1', previous_signing_secret = NULL, \
             previous_signing_key_id = NULL, previous_signing_expires_at = NULL, \
             obfuscate_subscriber_data = NULL, hide_message_contents = NULL, locked_reason = NULL, \
             locked_at = NULL, locked_by = NULL, archived_at = NULL, purge_at = NULL, status_before_archive = NULL, \
             preview_of = excluded.preview_of, expires_at = excluded.expires_at, files_binding = excluded.files_binding, \
             preview_ttl_seconds = excluded.preview_ttl_seconds, deliver_only_to = excluded.deliver_only_to, \
             catch_all_integration = NULL, require_approval = excluded.require_approval, \
             feed_shards = excluded.feed_shards, feed_shards_from = NULL, feed_moved = NULL \
             WHERE environments.status = 'deleted'",
        &[
            text(name.as_str()),
            text(environment_type.as_str()),
            text(&waiting_for_bindings(&db_binding, &kv_binding, &files_binding, &shard_bindings)),
            number(u64::from(position)),
            text(&db_binding),
            text(&kv_binding),
            number(u64::from(environment_type.requires_subscriber_credential_by_default())),
            text(signing_secret),
            optional(&request.label),
            optional(&request.colour),
            number(now_ms),
            preview.as_ref().map_or(JsValue::NULL, |(source, _)| text(source.as_str())),
            preview.as_ref().map_or(JsValue::NULL, |(_, expires_at)| number(*expires_at)),
            text(&files_binding),
            ttl.map_or(JsValue::NULL, number),
            optional(&request.deliver_only_to.clone().map(|list| serde_json::Value::from(list).to_string())),
            // New production environments wait for a second member's approval by default.
            number(u64::from(environment_type == EnvironmentType::Production)),
            number(u64::from(shards.get())),
        ],
    )?);
    // A preview is seen by each member as its source is: their role there (a `none` included)
    // is copied, never a promotion or personal-data grant. A row already kept under this name (a
    // restriction a deleted environment of the name left, a role granted ahead of its creation)
    // never gives more than the source does: the lower of the two stands.
    if let Some((source, _)) = &preview {
        let rank = |role: &str| {
            format!(
                "(CASE {role} WHEN 'none' THEN 0 WHEN 'viewer' THEN 1 WHEN 'support' THEN 1 \
                 WHEN 'developer' THEN 2 WHEN 'admin' THEN 3 ELSE 4 END)"
            )
        };
        writes.push(statement(
            &control,
            &format!(
                "INSERT INTO member_grants (member_id, environment, role) SELECT member_id, ?1, role FROM member_grants \
                 WHERE environment = ?2 AND role IS NOT NULL ON CONFLICT (member_id, environment) DO UPDATE SET \
                 role = CASE WHEN member_grants.role IS NULL OR {} <= {} THEN excluded.role ELSE member_grants.role END",
                rank("excluded.role"),
                rank("member_grants.role"),
            ),
            &[text(name.as_str()), text(source.as_str())],
        )?);
        // Promotion and personal-data grants are never copied, nor kept from a row made ahead.
        writes.push(statement(
            &control,
            "UPDATE member_grants SET promote = 0, personal_data = 0 WHERE environment = ?1",
            &[text(name.as_str())],
        )?);
        // Where the source has no row of theirs, a member sees it with their deployment role.
        writes.push(statement(
            &control,
            &format!(
                "UPDATE member_grants SET role = NULL WHERE environment = ?1 AND role IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM member_grants AS source WHERE source.member_id = member_grants.member_id \
                 AND source.environment = ?2 AND source.role IS NOT NULL) \
                 AND {} > {}",
                rank("member_grants.role"),
                rank("(SELECT role FROM members WHERE members.id = member_grants.member_id)"),
            ),
            &[text(name.as_str()), text(source.as_str())],
        )?);
    }
    // Of two creations of one name at once, one registers it; the other's batch stops here.
    writes.push(statement(
        &control,
        &format!(
            "SELECT CASE WHEN (SELECT subscriber_signing_secret FROM environments WHERE name = ?1) = ?2 \
             THEN 1 ELSE json('{TAKEN}') END"
        ),
        &[text(name.as_str()), text(signing_secret)],
    )?);
    let summary = match &preview {
        Some((source, expires_at)) => serde_json::json!({"after": {"type": environment_type.as_str(),
            "preview_of": source.as_str(), "expires_at": rfc3339(*expires_at)}}),
        None => serde_json::json!({"after": {"type": environment_type.as_str(), "position": position}}),
    };
    let audit = AuditRecord { environment: Some(name.as_str()), summary, ..*audit };
    writes.push(audit_statement(&control, &audit, now_ms)?);
    let exists = || ApiError::new(409, ErrorCode::EnvironmentExists, format!("an environment named {name} exists"));
    match control.batch(writes).await {
        Ok(_) => {}
        // Another creation of this name changes the chain too: say what a retry would meet.
        Err(error) if error.to_string().contains(CHAIN_CHANGED) => {
            return Err(match environment_row(env, &name).await {
                Ok(_) => exists().with_field("name"),
                Err(_) => chain_changed(),
            });
        }
        Err(error) if error.to_string().contains(TAKEN) || error.to_string().contains("malformed JSON") => {
            return Err(exists().with_field("name"));
        }
        Err(error) => return Err(storage_error("create environment", error)),
    }
    environment_details(env, &name).await
}

/// Applies a settings change and drops cached keys so it takes effect.
pub async fn update_environment(
    env: &Platform,
    authorized: &Authorized,
    patch: &EnvironmentPatch,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<EnvironmentDetails, ApiError> {
    let name = authorized.require(Action::Configure)?;
    environment_row(env, name).await?;
    let optional = |value: &Option<String>| value.as_deref().map_or(JsValue::NULL, text);
    let origins = patch.allowed_origins.as_ref().map(|origins| serde_json::Value::from(origins.clone()).to_string());
    let credential = patch.requires_subscriber_credential.map_or(JsValue::NULL, |flag| number(u64::from(flag)));
    let retention = patch.log_retention_days.map_or(JsValue::NULL, |days| number(u64::from(days)));
    let token_ttl = patch.subscriber_token_max_ttl_seconds.map_or(JsValue::NULL, number);
    let flag = |value: Option<bool>| value.map_or(JsValue::NULL, |flag| number(u64::from(flag)));
    let control = control_db(env)?;
    let update = statement(
        &control,
        "UPDATE environments SET label = COALESCE(?2, label), colour = COALESCE(?3, colour), \
         allowed_origins = COALESCE(?4, allowed_origins), \
         requires_subscriber_credential = COALESCE(?5, requires_subscriber_credential), \
         log_retention_days = COALESCE(?6, log_retention_days), \
         obfuscate_subscriber_data = COALESCE(?7, obfuscate_subscriber_data), \
         hide_message_contents = COALESCE(?8, hide_message_contents), \
         subscriber_token_max_ttl_seconds = COALESCE(?9, subscriber_token_max_ttl_seconds), \
         deliver_only_to = CASE WHEN ?10 = 1 THEN ?11 ELSE deliver_only_to END, \
         catch_all_integration = CASE WHEN ?12 = 1 THEN ?13 WHEN ?10 = 1 AND ?11 IS NULL THEN NULL \
         ELSE catch_all_integration END, \
         require_approval = COALESCE(?14, require_approval) WHERE name = ?1",
        &[
            text(name.as_str()),
            optional(&patch.label),
            optional(&patch.colour),
            optional(&origins),
            credential,
            retention,
            flag(patch.obfuscate_subscriber_data),
            flag(patch.hide_message_contents),
            token_ttl,
            number(u64::from(patch.deliver_only_to.is_some())),
            optional(&patch.deliver_only_to.clone().flatten().map(|list| serde_json::Value::from(list).to_string())),
            number(u64::from(patch.catch_all_integration.is_some())),
            optional(&patch.catch_all_integration.clone().flatten()),
            // Only ever on here: off is `approve_approval_off`'s, after a second member's review.
            flag(patch.require_approval.filter(|on| *on)),
        ],
    )?;
    control
        .batch(vec![update, audit_statement(&control, audit, now_ms)?])
        .await
        .map_err(|error| storage_error("update environment", error))?;
    forget_cached_keys(env, name).await?;
    environment_details(env, name).await
}

pub(super) async fn environment_row(env: &Platform, name: &EnvironmentName) -> Result<EnvironmentRow, ApiError> {
    let sql = format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE name = ?1 AND status != 'deleted'");
    statement(&control_db(env)?, &sql, &[text(name.as_str())])?
        .first(None)
        .await
        .map_err(|error| storage_error("read environment", error))?
        .ok_or_else(|| {
            ApiError::new(404, ErrorCode::EnvironmentNotFound, format!("there is no environment named {name}"))
        })
}

/// Moves every live environment at `from` or later by `delta` places in the
/// chain. Two statements, because SQLite checks the UNIQUE position row by
/// row: first to negative positions, then back.
pub(super) fn shift_chain(control: &D1Database, from: u64, delta: i8) -> Result<Vec<D1PreparedStatement>, ApiError> {
    Ok(vec![
        statement(
            control,
            "UPDATE environments SET position = -(position + ?2) WHERE position >= ?1 AND position < ?3 \
             AND status != 'deleted'",
            &[number(from), JsValue::from_f64(f64::from(delta)), number(u64::from(lifecycle::PREVIEW_POSITIONS))],
        )?,
        statement(
            control,
            "UPDATE environments SET position = -position WHERE position < 0 AND status != 'deleted'",
            &[],
        )?,
    ])
}

/// How [`chain_guard`] aborts its batch: an integer overflow, told apart from
/// the name guard's malformed JSON by SQLite's message.
const CHAIN_CHANGED: &str = "integer overflow";

/// A statement that aborts its batch unless the environments and their
/// positions are still `chain`'s (as [`chain`] read them).
fn chain_guard(control: &D1Database, chain: &[ChainEntry]) -> Result<D1PreparedStatement, ApiError> {
    let read = chain.iter().map(|entry| format!("{}:{}", entry.name, entry.position)).collect::<Vec<_>>().join(",");
    statement(
        control,
        "SELECT CASE WHEN (SELECT COALESCE(group_concat(entry, ','), '') FROM (SELECT name || ':' || position \
         AS entry FROM environments WHERE status != 'deleted' ORDER BY position)) = ?1 THEN 1 \
         ELSE abs(-9223372036854775807 - 1) END",
        &[text(&read)],
    )
}

/// The answer when the chain changed under a request: 409, retry.
fn chain_changed() -> ApiError {
    ApiError::new(
        409,
        ErrorCode::ChainChanged,
        "the environments changed while this one was being created (another was created or deleted); try again",
    )
    .retry_after(1)
}

/// The environments of the chain (deleted ones excluded).
pub(super) async fn chain(env: &Platform) -> Result<Vec<ChainEntry>, ApiError> {
    #[derive(Deserialize)]
    struct ChainRow {
        name: String,
        environment_type: String,
        position: f64,
        preview_of: Option<String>,
    }
    let rows: Vec<ChainRow> = statement(
        &control_db(env)?,
        "SELECT name, type AS environment_type, position, preview_of FROM environments WHERE status != 'deleted' \
         ORDER BY position",
        &[],
    )?
    .all()
    .await
    .and_then(|result| result.results())
    .map_err(|error| storage_error("read chain", error))?;
    rows.into_iter()
        .map(|row| {
            let environment_type = EnvironmentType::parse(&row.environment_type)
                .map_err(|error| ApiError::internal("registry type", error))?;
            Ok(ChainEntry {
                name: row.name,
                environment_type,
                position: row.position as u32,
                preview_of: row.preview_of,
            })
        })
        .collect()
}

/// Brings an environment the bootstrap registered (`creating`, its keys
/// already issued) through the same provisioning check as any other, and
/// on to `active` once it is ready; answers its status.
pub(super) async fn settle_bootstrapped(env: &Platform, name: &EnvironmentName) -> Result<Status, ApiError> {
    let row = refresh_status(env, environment_row(env, name).await?).await?;
    if Status::parse(&row.status) == Some(Status::Ready) {
        set_status(env, name, Status::Active, None, Some(Status::Ready)).await?;
        return Ok(Status::Active);
    }
    Ok(Status::parse(&row.status).unwrap_or(Status::Failed))
}

/// [`refresh_status`], with a failure shown on the environment itself
/// (`failed` and its reason) instead of failing the whole listing: one
/// broken environment never breaks the others or the control plane.
async fn refresh_status_or_report(env: &Platform, row: EnvironmentRow) -> EnvironmentRow {
    let fallback = row.clone();
    match refresh_status(env, row).await {
        Ok(row) => row,
        Err(error) => {
            worker::console_error!("environment {}: status check failed: {error:?}", fallback.name);
            EnvironmentRow {
                status: Status::Failed.as_str().to_owned(),
                status_reason: Some(format!("its status could not be checked: {}", error.message())),
                ..fallback
            }
        }
    }
}

/// Moves a provisioning environment forward once its bindings and schema
/// exist: `creating` → `ready`, or `failed` with the reason.
pub(super) async fn refresh_status(env: &Platform, mut row: EnvironmentRow) -> Result<EnvironmentRow, ApiError> {
    let status = Status::parse(&row.status).unwrap_or(Status::Failed);
    if !status.is_provisioning() {
        return Ok(row);
    }
    let shards = ShardCount::from_stored(row.feed_shards);
    let files = row.files_binding.as_deref();
    let name = EnvironmentName::parse(&row.name).map_err(|error| ApiError::internal("registry name", error))?;
    let bindings = Bindings::while_provisioning(status, &name, &row.db_binding, &row.kv_binding, files, shards)
        .ok_or_else(|| ApiError::internal("provisioning", "the environment is not being provisioned"))?;
    let waiting = || bindings.waiting_reason();
    let shards_waiting = shards_not_ready(env, &bindings, row.created_at as u64).await;
    let (next, reason) =
        match (env.environment_db(&bindings), env.environment_kv(&bindings), env.environment_files(&bindings)) {
            // A shard that is another environment's is a lasting failure, told at once.
            (_, _, _) if matches!(shards_waiting, Some((Status::Failed, _))) => {
                (Status::Failed, shards_waiting.map(|(_, reason)| reason))
            }
            (Ok(db), Ok(_), Ok(_)) => {
                match (shards_waiting, claim_own_database(&db, &bindings, row.created_at).await) {
                    (_, Some(refusal)) => (Status::Failed, Some(refusal)),
                    (Some((status, reason)), None) => (status, Some(reason)),
                    (None, None) => {
                        match statement(&db, "SELECT COUNT(*) AS count FROM messages", &[])?
                            .first::<f64>(Some("count"))
                            .await
                        {
                            // Every environment starts with the starter workflows, as the first ones did.
                            Ok(_) => match super::workflows::seed_starters(&db, crate::platform::now_ms()).await {
                                Ok(()) => (Status::Ready, None),
                                // Migrations are still being applied: the schema is there in part.
                                Err(error) if is_incomplete_schema(&error.to_string()) => (
                                    Status::Creating,
                                    Some(format!(
                                "database {} has part of its schema: apply every migration in migrations/environment",
                                row.db_binding
                            )),
                                ),
                                Err(error) => {
                                    (Status::Failed, Some(format!("the starter workflows cannot be stored: {error}")))
                                }
                            },
                            Err(error) if is_incomplete_schema(&error.to_string()) => (
                                Status::Creating,
                                Some(format!(
                                    "database {} has no schema yet: apply the migrations in migrations/environment",
                                    row.db_binding
                                )),
                            ),
                            Err(error) => {
                                (Status::Failed, Some(format!("database {} cannot be read: {error}", row.db_binding)))
                            }
                        }
                    }
                }
            }
            _ => (Status::Creating, Some(waiting())),
        };
    if next != status || reason != row.status_reason {
        let moved = set_status(env, &name, next, reason.as_deref(), Some(status)).await?;
        row.status = next.as_str().to_owned();
        row.status_reason = reason;
        // A preview starts with its source's content, once its storage is ready: seeded by the
        // one check that moved it there (two checks at once never both seed it).
        if let (true, Status::Ready, Some(source)) = (moved, next, &row.preview_of) {
            if let Err(error) = super::lifecycle::seed_preview(env, &name, source).await {
                let reason = format!("its content could not be copied from {source}: {}", error.message());
                set_status(env, &name, Status::Failed, Some(&reason), Some(Status::Ready)).await?;
                row.status = Status::Failed.as_str().to_owned();
                row.status_reason = Some(reason);
            }
        }
    }
    Ok(row)
}

/// Why the environment's own database cannot be its own (its stamp says it
/// is another's); `None` when it can, stamped as its own, or when its
/// schema is not there yet (which the caller reports).
async fn claim_own_database(db: &D1Database, bindings: &Bindings, created_at: f64) -> Option<String> {
    let identity =
        Identity { environment: bindings.environment().as_str(), created_at: created_at as u64, role: PRIMARY };
    claim_database(db, bindings.db(), &identity).await.ok().flatten()
}

/// Why the feed shards of an environment being provisioned cannot be used
/// yet (a binding missing or its schema not applied: still `creating`), or
/// ever (a database that is another's, by its stamp: `failed`); `None` when
/// every one can, each then stamped as this environment's.
async fn shards_not_ready(env: &Platform, bindings: &Bindings, created_at: u64) -> Option<(Status, String)> {
    for (index, binding) in bindings.shards().iter().enumerate() {
        let Ok(db) = env.shard_db(bindings, index) else {
            return Some((Status::Creating, bindings.waiting_reason()));
        };
        let identity = Identity { environment: bindings.environment().as_str(), created_at, role: index as i64 };
        // What a shard's feed needs, down to the latest migration it uses.
        let schema = statement(
            &db,
            "SELECT (SELECT version FROM feed_clock WHERE id = 1) AS version, (SELECT COUNT(*) FROM feed_counts) AS counts, \
             (SELECT COUNT(transaction_id) FROM idempotency_keys) AS keys, (SELECT COUNT(*) FROM subscriber_deletions) AS deletions",
            &[],
        )
        .ok()?;
        let migrated = schema.first::<serde_json::Value>(None).await.is_ok();
        match claim_database(&db, binding, &identity).await {
            Ok(Some(refusal)) => return Some((Status::Failed, refusal)),
            Ok(None) if migrated => {}
            _ => {
                return Some((
                    Status::Creating,
                    format!("feed shard {binding} has no schema yet: apply the migrations in migrations/environment"),
                ))
            }
        }
    }
    None
}

/// SQL ranking a role column as [`tidings_core::policy::rank`] does.
pub(super) fn role_rank(column: &str) -> String {
    let ranks = tidings_core::access::ROLES
        .iter()
        .map(|role| format!("WHEN '{}' THEN {}", role.as_str(), tidings_core::policy::rank(*role)))
        .collect::<Vec<_>>()
        .join(" ");
    format!("(CASE {column} {ranks} ELSE 0 END)")
}

/// Whether a D1 error says the schema is not all there yet.
fn is_incomplete_schema(error: &str) -> bool {
    ["no such table", "no such column", "has no column"].iter().any(|sign| error.contains(sign))
}

/// Moves an environment to `status`, only from `from` when given (a status
/// read earlier may be stale: a deletion may have begun since), and never
/// out of `deleted`; answers whether it moved.
pub(super) async fn set_status(
    env: &Platform,
    name: &EnvironmentName,
    status: Status,
    reason: Option<&str>,
    from: Option<Status>,
) -> Result<bool, ApiError> {
    let result = statement(
        &control_db(env)?,
        "UPDATE environments SET status = ?2, status_reason = ?3 WHERE name = ?1 AND status != 'deleted' \
         AND (?4 IS NULL OR status = ?4)",
        &[
            text(name.as_str()),
            text(status.as_str()),
            reason.map_or(JsValue::NULL, text),
            from.map_or(JsValue::NULL, |from| text(from.as_str())),
        ],
    )?
    .run()
    .await
    .map_err(|error| storage_error("set environment status", error))?;
    Ok(result.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) > 0)
}

impl Bindings {
    /// Why an environment with these bindings is still `creating`.
    fn waiting_reason(&self) -> String {
        waiting_for_bindings(self.db(), self.kv(), self.files(), self.shards())
    }
}

fn waiting_for_bindings(db_binding: &str, kv_binding: &str, files_binding: &str, shards: &[String]) -> String {
    let shards = if shards.is_empty() { String::new() } else { format!(", the feed shards {}", shards.join(", ")) };
    format!("waiting for the bindings {db_binding}, {kv_binding}, {files_binding}{shards}: run `npm run env -- create`, or add them to wrangler.toml and deploy")
}

#[derive(Deserialize)]
struct SigningRow {
    subscriber_signing_secret: String,
    signing_key_id: String,
    previous_signing_secret: Option<String>,
    previous_signing_key_id: Option<String>,
    previous_signing_expires_at: Option<f64>,
}

/// Makes `new_secret` the environment's current subscriber signing secret;
/// the current one keeps verifying for `grace_seconds`. Cached key
/// validations (which carry the secrets) are forgotten.
pub async fn rotate_signing_secret(
    env: &Platform,
    authorized: &Authorized,
    new_secret: String,
    now_ms: u64,
    grace_seconds: u64,
    audit: &AuditRecord<'_>,
) -> Result<SigningSecrets, ApiError> {
    let name = authorized.require(Action::Configure)?;
    let control = control_db(env)?;
    let row: SigningRow = statement(
        &control,
        "SELECT subscriber_signing_secret, signing_key_id, previous_signing_secret, previous_signing_key_id, \
         previous_signing_expires_at FROM environments WHERE name = ?1 AND status != 'deleted'",
        &[text(name.as_str())],
    )?
    .first(None)
    .await
    .map_err(|error| storage_error("read signing secrets", error))?
    .ok_or_else(|| ApiError::new(404, ErrorCode::EnvironmentNotFound, format!("there is no environment {name}")))?;
    let previous = match (row.previous_signing_secret, row.previous_signing_key_id, row.previous_signing_expires_at) {
        (Some(secret), Some(key_id), Some(until)) => Some((SigningSecret { key_id, secret }, until as u64)),
        _ => None,
    };
    let current = SigningSecrets {
        current: SigningSecret { key_id: row.signing_key_id, secret: row.subscriber_signing_secret },
        previous,
    };
    let rotated = current
        .rotate(new_secret, now_ms, grace_seconds)
        .map_err(|error| ApiError::validation("grace_period_seconds", error.to_string()))?;
    let (previous_secret, previous_key_id, previous_until) = match &rotated.previous {
        Some((secret, until)) => (text(&secret.secret), text(&secret.key_id), number(*until)),
        None => (JsValue::NULL, JsValue::NULL, JsValue::NULL),
    };
    // Compare-and-set on the key id: of two rotations at once, one wins and the other is told.
    let stored_new = super::secrets::seal_signing_secret(env, &rotated.current.secret)?;
    let update = statement(
        &control,
        "UPDATE environments SET subscriber_signing_secret = ?3, signing_key_id = ?4, previous_signing_secret = ?5, \
         previous_signing_key_id = ?6, previous_signing_expires_at = ?7 WHERE name = ?1 AND signing_key_id = ?2",
        &[
            text(name.as_str()),
            text(&current.current.key_id),
            text(&stored_new),
            text(&rotated.current.key_id),
            previous_secret,
            previous_key_id,
            previous_until,
        ],
    )?;
    // The audit entry names the slots, never the secret; it is written only by the rotation that won.
    let previous_key_id = rotated.previous.as_ref().map(|(secret, _)| secret.key_id.clone());
    let summary = serde_json::json!({"after": {"key_id": rotated.current.key_id, "previous_key_id": previous_key_id}});
    let record = audit_statement_if(
        &control,
        &AuditRecord { summary, ..*audit },
        now_ms,
        "EXISTS (SELECT 1 FROM environments WHERE name = ?8 AND subscriber_signing_secret = ?9)",
        &[text(name.as_str()), text(&stored_new)],
    )?;
    let results =
        control.batch(vec![update, record]).await.map_err(|error| storage_error("rotate signing secret", error))?;
    let updated = results.into_iter().next().ok_or_else(|| ApiError::internal("rotate", "no result"))?;
    if updated.meta().ok().flatten().and_then(|meta| meta.changes).unwrap_or(0) == 0 {
        return Err(ApiError::new(
            409,
            ErrorCode::RotationConflict,
            "another rotation of this secret finished first; read it and retry",
        ));
    }
    forget_cached_keys(env, name).await?;
    // Realtime sockets opened with the old secret's credentials end with it: when its grace
    // period does, or now.
    // The rotation has committed: a failed read here must not hide its new secret.
    let until = rotated.previous.as_ref().map_or(now_ms, |(_, until)| *until);
    match environment_row(env, name).await {
        Ok(row) => super::realtime::close_sockets(env, &row.db_binding, super::realtime::Sockets::All, until).await,
        Err(error) => worker::console_error!("sockets not told of a signing-secret rotation: {}", error.message()),
    }
    Ok(rotated)
}

/// What the guard of a creation raises when another took the name first.
const TAKEN: &str = "tidings: name taken";
/// What the guard of a deletion raises when another finished it first.
pub(super) const GONE: &str = "tidings: deleted already";

fn details(row: EnvironmentRow) -> EnvironmentDetails {
    let environment_type = EnvironmentType::parse(&row.environment_type).unwrap_or(EnvironmentType::Production);
    let flag = |value: Option<f64>| value.map(|value| value != 0.0);
    let privacy =
        Privacy::resolve(environment_type, flag(row.obfuscate_subscriber_data), flag(row.hide_message_contents));
    EnvironmentDetails {
        environment: EnvironmentInfo {
            name: row.name,
            environment_type: row.environment_type,
            status: row.status,
            position: row.position as u32,
            requires_subscriber_credential: row.requires_subscriber_credential != 0.0,
        },
        label: row.label,
        colour: row.colour,
        allowed_origins: serde_json::from_str(&row.allowed_origins).unwrap_or_default(),
        status_reason: row.status_reason,
        log_retention_days: row.log_retention_days as u32,
        subscriber_token_max_ttl_seconds: row.subscriber_token_max_ttl_seconds as u64,
        obfuscate_subscriber_data: privacy.obfuscate_subscriber_data,
        hide_message_contents: privacy.hide_message_contents,
        created_at: rfc3339(row.created_at as u64),
        lock: row.locked_reason.map(|reason| EnvironmentLock {
            reason,
            locked_at: rfc3339(row.locked_at.unwrap_or_default() as u64),
            locked_by: row.locked_by.unwrap_or_default(),
        }),
        archived_at: row.archived_at.map(|at| rfc3339(at as u64)),
        purge_at: row.purge_at.map(|at| rfc3339(at as u64)),
        preview_of: row.preview_of,
        expires_at: row.expires_at.map(|at| rfc3339(at as u64)),
        // A list that no longer reads shows as the nobody it lets through.
        deliver_only_to: row.deliver_only_to.as_deref().map(super::test_mode::stored_entries),
        catch_all_integration: row.catch_all_integration,
        require_approval: row.require_approval != 0.0,
        shards: ShardCount::from_stored(row.feed_shards).get(),
        shards_from: row.feed_shards_from.map(|from| ShardCount::from_stored(from).get()),
    }
}
