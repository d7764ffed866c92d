//! Promotion across environments: snapshots of promotable content, and
//! releases written to the target in one transaction.
//!
//! A release touches one database only, the target's: the source is only
//! read. So the content, the release record (with every touched resource's
//! content before and after) and its audit entry commit together or not at
//! all; a promotion is never half-applied. Guards at the head of the batch
//! abort it when the target changed since its snapshot was read.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use tidings_core::audit::AuditQuery;
use tidings_core::environment::{EnvironmentName, EnvironmentType};
use tidings_core::files::{FilePath, BRAND_PREFIX};
use tidings_core::preferences::{Channel, Preferences};
use tidings_core::promotion::{self, Change, EarlierRelease, RequestIdentity, ResourceKind, Snapshot, TargetFacts};
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{AuditEntry, Brand, LogoInfo, PendingChange, PreferencesInput, Release, WorkflowInput};
use tidings_core::workflow::Workflow;
use wasm_bindgen::JsValue;
use worker::kv::KvStore;
use worker::{Bucket, D1Database, D1PreparedStatement};

use super::brand::{self, BrandRow, SELECT_BRAND};
use super::lock::Unlocked;
use super::platform::Platform;
use super::preferences::{self, DEFAULTS};
use super::release_requests::{Approval, Cleared};
use super::{number, statement, storage_error, text, workflows, AuditRow};
use crate::error::ApiError;

/// An environment opened by name for promotion (control plane only).
pub struct PromotionEnvironment {
    /// Its name.
    pub name: EnvironmentName,
    /// Its type: production refuses blocking problems.
    pub environment_type: EnvironmentType,
    /// Whether it masks personal data (subscribers' fields or message contents).
    pub masks_personal_data: bool,
    pub(super) db: D1Database,
    kv: KvStore,
    files: Bucket,
}

/// An environment's promotable content, what it has that content does not
/// show (secrets, variable values), and what guards a write against
/// concurrent changes: each resource's version or last update.
pub struct ContentState {
    /// The content.
    pub snapshot: Snapshot,
    /// Integrations with a secret, variables with a value.
    pub facts: TargetFacts,
    revisions: BTreeMap<(ResourceKind, String), f64>,
}

/// A release to record.
pub struct NewRelease<'a> {
    /// `rel_…`.
    pub id: &'a str,
    /// `promotion` or `rollback`.
    pub kind: &'a str,
    /// The source environment of a promotion.
    pub source: Option<&'a str>,
    /// Who made it.
    pub actor: &'a str,
    /// Finds a retried request's release.
    pub request_key: Option<&'a str>,
    /// The fingerprint of a keyed request's body.
    pub request_fingerprint: Option<&'a str>,
    /// The release a rollback undoes.
    pub reverts: Option<&'a str>,
    /// The id of its audit entry.
    pub audit_id: &'a str,
    /// The review that approved it, when it comes from a release request.
    pub approves: Option<Approval<'a>>,
}

/// The brand assets `changes` bring: the logo of a brand change, and the
/// `brand/` attachments of workflow changes.
fn brand_assets(changes: &[Change]) -> Result<Vec<FilePath>, ApiError> {
    let mut paths = std::collections::BTreeSet::new();
    for change in changes {
        let Some(after) = &change.after else { continue };
        match change.resource {
            ResourceKind::Brand => {
                if let Some(logo) = after.get("logo").filter(|logo| !logo.is_null()) {
                    let logo: LogoInfo = serde_json::from_value(logo.clone())
                        .map_err(|error| ApiError::internal("decode logo", error))?;
                    paths.insert(format!("{BRAND_PREFIX}{}", logo.id));
                }
            }
            ResourceKind::Workflow => {
                let steps = after.get("steps").and_then(Value::as_array).into_iter().flatten();
                let attached = steps.filter_map(|step| step.get("attachments").and_then(Value::as_array)).flatten();
                paths.extend(
                    attached.filter_map(Value::as_str).filter(|path| path.starts_with(BRAND_PREFIX)).map(str::to_owned),
                );
            }
            _ => {}
        }
    }
    Ok(paths.iter().filter_map(|path| FilePath::parse(path).ok()).collect())
}

#[derive(Deserialize)]
struct WorkflowRow {
    key: String,
    definition: String,
    version: f64,
}

#[derive(Deserialize)]
struct IntegrationRow {
    id: String,
    kind: String,
    name: String,
    url: String,
    has_secret: f64,
    updated_at: f64,
}

#[derive(Deserialize)]
struct VariableRow {
    name: String,
    has_value: f64,
    updated_at: f64,
}

#[derive(Deserialize)]
struct DefaultsRow {
    workflow: String,
    channel: String,
    enabled: f64,
    updated_at: f64,
}

#[derive(Deserialize)]
struct ReleaseRow {
    id: String,
    kind: String,
    source: Option<String>,
    actor: String,
    changes: String,
    reverts: Option<String>,
    rolled_back_by: Option<String>,
    created_at: f64,
    request_key: Option<String>,
    request_fingerprint: Option<String>,
}

/// The key of the one default-preferences resource.
const DEFAULTS_KEY: &str = "defaults";
/// The key of the one brand resource.
const BRAND_KEY: &str = "brand";

const RELEASE_COLUMNS: &str =
    "id, kind, source, actor, changes, reverts, rolled_back_by, created_at, request_key, request_fingerprint";
/// What a guard raises to abort its batch; recognised in the error text.
const STALE: &str = "tidings: target changed";

impl PromotionEnvironment {
    /// The promotable content of an opened environment.
    pub fn of(env: &Platform, environment: &super::Environment) -> Result<Self, ApiError> {
        let bindings = &environment.bindings;
        let kv = env
            .environment_kv(bindings)
            .map_err(|_| super::scope::missing_binding(environment.name(), bindings.kv()))?;
        let files = env
            .environment_files(bindings)
            .map_err(|_| super::scope::missing_binding(environment.name(), bindings.files()))?;
        Ok(Self {
            name: environment.name().clone(),
            environment_type: environment.environment_type(),
            masks_personal_data: {
                let privacy = environment.privacy();
                privacy.obfuscate_subscriber_data || privacy.hide_message_contents
            },
            db: env
                .environment_db(bindings)
                .map_err(|_| super::scope::missing_binding(environment.name(), bindings.db()))?,
            kv,
            files,
        })
    }
}

impl PromotionEnvironment {
    /// Reads the promotable content (workflow definitions, integration
    /// configurations, variable names, default preferences; never secrets or
    /// values) in one transaction.
    pub async fn content(&self) -> Result<ContentState, ApiError> {
        let results = self
            .db
            .batch(vec![
                statement(&self.db, "SELECT key, definition, version FROM workflows ORDER BY key", &[])?,
                statement(
                    &self.db,
                    "SELECT id, kind, name, url, secret IS NOT NULL AS has_secret, updated_at FROM integrations \
                     ORDER BY id",
                    &[],
                )?,
                statement(
                    &self.db,
                    "SELECT name, value IS NOT NULL AS has_value, updated_at FROM variables ORDER BY name",
                    &[],
                )?,
                statement(
                    &self.db,
                    "SELECT workflow, channel, enabled, updated_at FROM preferences WHERE subscriber_id = ?1",
                    &[text(DEFAULTS)],
                )?,
                statement(&self.db, SELECT_BRAND, &[])?,
            ])
            .await
            .map_err(|error| storage_error("read content", error))?;
        let [workflows, integrations, variables, defaults, brand] = <[_; 5]>::try_from(results)
            .map_err(|_| ApiError::internal("read content", "batch returned the wrong number of results"))?;
        let decode = |error| storage_error("decode content", error);
        let workflows: Vec<WorkflowRow> = workflows.results().map_err(decode)?;
        let integrations: Vec<IntegrationRow> = integrations.results().map_err(decode)?;
        let variables: Vec<VariableRow> = variables.results().map_err(decode)?;
        let defaults: Vec<DefaultsRow> = defaults.results().map_err(decode)?;
        let brand: Vec<BrandRow> = brand.results().map_err(decode)?;
        let facts = TargetFacts {
            allows_private_targets: self.environment_type == EnvironmentType::Development,
            ..TargetFacts::default()
        };
        let mut state = ContentState { snapshot: Snapshot::default(), facts, revisions: BTreeMap::new() };
        for row in workflows {
            // The stored text is canonicalised, so equal definitions compare equal.
            let mut definition: WorkflowInput = serde_json::from_str(&row.definition)
                .map_err(|error| ApiError::internal("decode workflow", format!("{}: {error}", row.key)))?;
            definition.key = None;
            let value =
                serde_json::to_value(&definition).map_err(|error| ApiError::internal("encode workflow", error))?;
            state.revisions.insert((ResourceKind::Workflow, row.key.clone()), row.version);
            state.snapshot.workflows.insert(row.key, value);
        }
        for row in integrations {
            if row.has_secret != 0.0 {
                state.facts.with_secret.insert(row.id.clone());
            }
            state.revisions.insert((ResourceKind::Integration, row.id.clone()), row.updated_at);
            state.snapshot.integrations.insert(row.id, json!({"kind": row.kind, "name": row.name, "url": row.url}));
        }
        for row in variables {
            if row.has_value != 0.0 {
                state.facts.with_value.insert(row.name.clone());
            }
            state.revisions.insert((ResourceKind::Variable, row.name.clone()), row.updated_at);
            state.snapshot.variables.insert(row.name, json!({}));
        }
        let latest = defaults.iter().map(|row| row.updated_at).reduce(f64::max);
        let settings = defaults.into_iter().filter_map(|row| {
            let channel = Channel::parse(&row.channel)?;
            Some(((!row.workflow.is_empty()).then_some(row.workflow), channel, row.enabled != 0.0))
        });
        let preferences = Preferences::from_settings(settings);
        if let Some(latest) = latest.filter(|_| !preferences.is_empty()) {
            let value = serde_json::to_value(preferences.to_explicit_wire())
                .map_err(|error| ApiError::internal("encode defaults", error))?;
            state.revisions.insert((ResourceKind::PreferenceDefaults, DEFAULTS_KEY.to_owned()), latest);
            state.snapshot.preference_defaults.insert(DEFAULTS_KEY.to_owned(), value);
        }
        if let Some(row) = brand.first() {
            let value =
                serde_json::to_value(row.to_wire()).map_err(|error| ApiError::internal("encode brand", error))?;
            state.revisions.insert((ResourceKind::Brand, BRAND_KEY.to_owned()), row.updated_at);
            state.snapshot.brand.insert(BRAND_KEY.to_owned(), value);
        }
        Ok(state)
    }

    /// Copies the brand assets `changes` name (the logo, and workflows'
    /// attachments under `brand/`) from `source`'s bucket into this one's,
    /// before the release that points at them is written. Brand assets are
    /// content-addressed, so a copy never overwrites anything; other files
    /// (subscribers' and the app's own) are never copied.
    pub async fn copy_assets(
        &self,
        unlocked: &Unlocked,
        source: &PromotionEnvironment,
        changes: &[Change],
    ) -> Result<(), ApiError> {
        unlocked.check(&self.name)?;
        for path in brand_assets(changes)? {
            let present: Option<f64> =
                statement(&self.db, "SELECT 1 AS present FROM files WHERE path = ?1", &[text(path.as_str())])?
                    .first(Some("present"))
                    .await
                    .map_err(|error| storage_error("read file", error))?;
            if present.is_some() {
                continue;
            }
            let (content_type, bytes) = source.asset(&path).await?.ok_or_else(|| {
                ApiError::new(
                    409,
                    ErrorCode::LogoMissing,
                    format!("{}'s brand asset {} is not stored; upload it again", source.name, path.as_str()),
                )
            })?;
            self.put_asset(&path, &content_type, bytes).await?;
        }
        Ok(())
    }

    /// Stores the brand assets an environment file carries (checked, named by
    /// their hash), before the release that names them is written.
    pub async fn store_assets(
        &self,
        unlocked: &Unlocked,
        assets: Vec<(FilePath, String, Vec<u8>)>,
    ) -> Result<(), ApiError> {
        unlocked.check(&self.name)?;
        for (path, content_type, bytes) in assets {
            self.put_asset(&path, &content_type, bytes).await?;
        }
        Ok(())
    }

    /// The brand assets of `paths` this environment lacks.
    pub async fn missing_assets(&self, paths: impl IntoIterator<Item = String>) -> Result<Vec<String>, ApiError> {
        let mut missing = Vec::new();
        for path in paths {
            let Ok(parsed) = FilePath::parse(&path) else {
                missing.push(path);
                continue;
            };
            if self.asset(&parsed).await?.is_none() {
                missing.push(path);
            }
        }
        Ok(missing)
    }

    /// Writes a brand asset (content-addressed: an existing one is kept as it is).
    async fn put_asset(&self, path: &FilePath, content_type: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
        let size = bytes.len() as u64;
        let sha256 = path.as_str().trim_start_matches(BRAND_PREFIX).to_owned();
        self.files
            .put(path.as_str(), bytes)
            .execute()
            .await
            .map_err(|error| ApiError::unavailable("store brand asset", error))?;
        statement(
            &self.db,
            "INSERT INTO files (path, size, content_type, sha256, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (path) DO NOTHING",
            &[text(path.as_str()), number(size), text(content_type), text(&sha256), number(crate::platform::now_ms())],
        )?
        .run()
        .await
        .map_err(|error| storage_error("record brand asset", error))?;
        Ok(())
    }

    /// A brand asset's type and bytes: from the bucket, or for a logo stored
    /// before logos moved there, from the KV namespace.
    pub async fn asset(&self, path: &FilePath) -> Result<Option<(String, Vec<u8>)>, ApiError> {
        let content_type: Option<String> =
            statement(&self.db, "SELECT content_type FROM files WHERE path = ?1", &[text(path.as_str())])?
                .first(Some("content_type"))
                .await
                .map_err(|error| storage_error("read file", error))?;
        if let Some(content_type) = content_type {
            let object = self
                .files
                .get(path.as_str())
                .execute()
                .await
                .map_err(|error| ApiError::unavailable("read file", error))?;
            if let Some(body) = object.as_ref().and_then(|object| object.body()) {
                let bytes = body.bytes().await.map_err(|error| ApiError::unavailable("read file", error))?;
                return Ok(Some((content_type, bytes)));
            }
        }
        let id = path.as_str().trim_start_matches(BRAND_PREFIX);
        let Some(bytes) = brand::get_logo(&self.kv, id).await? else { return Ok(None) };
        let content_type: Option<String> =
            statement(&self.db, "SELECT logo_type FROM brand WHERE logo_id = ?1", &[text(id)])?
                .first(Some("logo_type"))
                .await
                .map_err(|error| storage_error("read logo", error))?;
        Ok(content_type.map(|content_type| (content_type, bytes)))
    }

    /// Applies `changes` and records the release and its audit entry, in one
    /// transaction that aborts if the target moved on since `state` was read.
    pub async fn release(
        &self,
        unlocked: &Unlocked,
        cleared: &Cleared,
        release: &NewRelease<'_>,
        changes: &[Change],
        state: &ContentState,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        unlocked.check(&self.name)?;
        cleared.check(&self.name)?;
        let mut writes = Vec::new();
        if let Some(approval) = &release.approves {
            writes.extend(self.approval_writes(approval, release.id, now_ms, STALE)?);
        }
        for change in changes {
            writes.push(self.guard(change, state)?);
        }
        if let Some(reverted) = release.reverts {
            // A release is rolled back once.
            writes.push(statement(
                &self.db,
                &format!(
                    "SELECT CASE WHEN (SELECT rolled_back_by FROM releases WHERE id = ?1) IS NULL THEN 1 \
                     ELSE json('{STALE}') END"
                ),
                &[text(reverted)],
            )?);
            writes.push(statement(
                &self.db,
                "UPDATE releases SET rolled_back_by = ?2 WHERE id = ?1",
                &[text(reverted), text(release.id)],
            )?);
        }
        for change in changes {
            writes.extend(self.write(change, now_ms)?);
        }
        let wire: Vec<PendingChange> = changes.iter().map(promotion::to_wire).collect();
        let changes_json = serde_json::to_string(&wire).map_err(|error| ApiError::internal("encode release", error))?;
        let optional = |value: Option<&str>| value.map_or(JsValue::NULL, text);
        writes.push(statement(
            &self.db,
            "INSERT INTO releases (id, kind, source, actor, request_key, changes, reverts, created_at, \
             request_fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &[
                text(release.id),
                text(release.kind),
                optional(release.source),
                text(release.actor),
                optional(release.request_key),
                text(&changes_json),
                optional(release.reverts),
                number(now_ms),
                optional(release.request_fingerprint),
            ],
        )?);
        // The audit summary names what changed, never content or secrets.
        let summary = json!({
            "source": release.source,
            "reverts": release.reverts,
            "changes": changes.iter().map(|change| json!({
                "resource": change.resource.as_str(), "key": change.key, "change": change.kind.as_str(),
                "fields": change.fields.iter().map(|field| field.path.clone()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        writes.push(statement(
            &self.db,
            "INSERT INTO audit_log (id, actor, action, resource, summary, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &[
                text(release.audit_id),
                text(release.actor),
                text(&format!("release.{}", release.kind)),
                text(&format!("release:{}", release.id)),
                text(&summary.to_string()),
                number(now_ms),
            ],
        )?);
        match self.db.batch(writes).await {
            Ok(_) => Ok(()),
            Err(error) if error.to_string().contains(STALE) || error.to_string().contains("malformed JSON") => {
                Err(ApiError::new(
                    409,
                    ErrorCode::ReleaseConflict,
                    format!("{} changed while this release was being applied; list the changes again", self.name),
                ))
            }
            Err(error) if error.to_string().contains("UNIQUE constraint failed: releases.request_key") => Err(
                ApiError::new(409, ErrorCode::RequestInProgress, "the same promotion is being applied; retry shortly")
                    .retry_after(1),
            ),
            Err(error) => Err(storage_error("apply release", error)),
        }
    }

    /// Aborts the batch unless the resource is as the snapshot read it.
    fn guard(&self, change: &Change, state: &ContentState) -> Result<D1PreparedStatement, ApiError> {
        let current = match change.resource {
            ResourceKind::Workflow => "SELECT version FROM workflows WHERE key = ?1",
            ResourceKind::Integration => "SELECT updated_at FROM integrations WHERE id = ?1",
            ResourceKind::Variable => "SELECT updated_at FROM variables WHERE name = ?1",
            ResourceKind::PreferenceDefaults => {
                "SELECT MAX(updated_at) FROM preferences WHERE subscriber_id = '' AND ?1 IS NOT NULL"
            }
            ResourceKind::Brand => "SELECT updated_at FROM brand WHERE id = 1 AND ?1 IS NOT NULL",
        };
        let expected = state
            .revisions
            .get(&(change.resource, change.key.clone()))
            .map_or(JsValue::NULL, |revision| JsValue::from_f64(*revision));
        statement(
            &self.db,
            &format!("SELECT CASE WHEN ({current}) IS ?2 THEN 1 ELSE json('{STALE}') END"),
            &[text(&change.key), expected],
        )
    }

    /// The statements that give a resource its `after` content.
    fn write(&self, change: &Change, now_ms: u64) -> Result<Vec<D1PreparedStatement>, ApiError> {
        let key = text(&change.key);
        Ok(match (change.resource, &change.after) {
            (ResourceKind::Workflow, Some(after)) => {
                let definition: WorkflowInput = serde_json::from_value(after.clone())
                    .map_err(|error| ApiError::internal("decode promoted workflow", error))?;
                workflows::save_statements(&self.db, &Workflow { key: change.key.clone(), definition }, now_ms)?
            }
            (ResourceKind::Workflow, None) => vec![
                statement(
                    &self.db,
                    "DELETE FROM workflow_versions WHERE workflow_key = ?1",
                    std::slice::from_ref(&key),
                )?,
                statement(&self.db, "DELETE FROM workflows WHERE key = ?1", &[key])?,
            ],
            (ResourceKind::Integration, Some(after)) => {
                let field = |name: &str| text(after.get(name).and_then(Value::as_str).unwrap_or_default());
                // The configuration moves; the target's own secret stays while the URL does (it was
                // given for that receiver: it would sign what another gets).
                vec![statement(
                    &self.db,
                    "INSERT INTO integrations (id, kind, name, url, secret, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?5) \
                     ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, url = excluded.url, \
                     secret = CASE WHEN integrations.url = excluded.url THEN integrations.secret END, \
                     updated_at = excluded.updated_at",
                    &[key, field("kind"), field("name"), field("url"), number(now_ms)],
                )?]
            }
            (ResourceKind::Integration, None) => {
                vec![statement(&self.db, "DELETE FROM integrations WHERE id = ?1", &[key])?]
            }
            // A name arrives without a value: values are each environment's own.
            (ResourceKind::Variable, Some(_)) => vec![statement(
                &self.db,
                "INSERT INTO variables (name, value, updated_at) VALUES (?1, NULL, ?2) ON CONFLICT (name) DO NOTHING",
                &[key, number(now_ms)],
            )?],
            (ResourceKind::Variable, None) => {
                vec![statement(&self.db, "DELETE FROM variables WHERE name = ?1", &[key])?]
            }
            (ResourceKind::PreferenceDefaults, after) => {
                let defaults = match after {
                    Some(value) => {
                        let input: PreferencesInput = serde_json::from_value(value.clone())
                            .map_err(|error| ApiError::internal("decode promoted defaults", error))?;
                        Preferences::from_input(input)
                            .map_err(|error| ApiError::internal("promoted defaults", error))?
                    }
                    None => Preferences::default(),
                };
                preferences::replace_defaults_statements(&self.db, &defaults, now_ms)?
            }
            (ResourceKind::Brand, Some(after)) => {
                let brand: Brand =
                    serde_json::from_value(after.clone()).map_err(|error| ApiError::internal("decode brand", error))?;
                let optional = |value: Option<&str>| value.map_or(JsValue::NULL, text);
                vec![statement(
                    &self.db,
                    "INSERT OR REPLACE INTO brand (id, name, primary_colour, accent_colour, logo_id, logo_type, updated_at) \
                     VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
                    &[
                        text(&brand.name),
                        text(&brand.primary_colour),
                        optional(brand.accent_colour.as_deref()),
                        optional(brand.logo.as_ref().map(|logo| logo.id.as_str())),
                        optional(brand.logo.as_ref().map(|logo| logo.content_type.as_str())),
                        number(now_ms),
                    ],
                )?]
            }
            (ResourceKind::Brand, None) => vec![statement(&self.db, "DELETE FROM brand", &[])?],
        })
    }

    /// The release that may answer a request with this identity again:
    /// a keyed request's release stored under its key, or else the
    /// target's latest release; with what [`promotion::replay`] needs.
    pub async fn earlier_release(
        &self,
        identity: &RequestIdentity,
    ) -> Result<Option<(Release, EarlierRelease)>, ApiError> {
        let (sql, arguments) = match identity {
            RequestIdentity::Keyed { key, .. } => {
                (format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE request_key = ?1"), vec![text(key)])
            }
            RequestIdentity::Selection { .. } => {
                (format!("SELECT {RELEASE_COLUMNS} FROM releases ORDER BY created_at DESC, id DESC LIMIT 1"), vec![])
            }
            RequestIdentity::Unrecognised => return Ok(None),
        };
        let row: Option<ReleaseRow> = statement(&self.db, &sql, &arguments)?
            .first(None)
            .await
            .map_err(|error| storage_error("read release", error))?;
        let Some(row) = row else { return Ok(None) };
        let earlier = EarlierRelease {
            request_key: row.request_key.clone(),
            fingerprint: row.request_fingerprint.clone(),
            rolled_back: row.rolled_back_by.is_some(),
        };
        Ok(Some((self.release_from_row(row)?, earlier)))
    }

    /// One release.
    pub async fn find_release(&self, id: &str) -> Result<Option<Release>, ApiError> {
        let sql = format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE id = ?1");
        let row: Option<ReleaseRow> = statement(&self.db, &sql, &[text(id)])?
            .first(None)
            .await
            .map_err(|error| storage_error("read release", error))?;
        row.map(|row| self.release_from_row(row)).transpose()
    }

    /// Releases, newest first.
    pub async fn releases(&self, limit: u32) -> Result<Vec<Release>, ApiError> {
        let sql = format!("SELECT {RELEASE_COLUMNS} FROM releases ORDER BY created_at DESC, id DESC LIMIT ?1");
        let rows: Vec<ReleaseRow> = statement(&self.db, &sql, &[number(u64::from(limit))])?
            .all()
            .await
            .and_then(|result| result.results())
            .map_err(|error| storage_error("list releases", error))?;
        rows.into_iter().map(|row| self.release_from_row(row)).collect()
    }

    /// Audit entries of releases, newest first: up to `query.limit + 1`.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, ApiError> {
        let (filter, params) = super::audit_filter(query, 0);
        let sql = format!("SELECT id, actor, action, resource, summary, created_at FROM audit_log WHERE {filter}");
        let rows: Vec<AuditRow> = statement(&self.db, &sql, &params)?
            .all()
            .await
            .and_then(|result| result.results())
            .map_err(|error| storage_error("read audit log", error))?;
        Ok(rows.into_iter().map(AuditRow::into_entry).collect())
    }

    fn release_from_row(&self, row: ReleaseRow) -> Result<Release, ApiError> {
        let changes: Vec<PendingChange> = serde_json::from_str(&row.changes)
            .map_err(|error| ApiError::internal("decode release", format!("{}: {error}", row.id)))?;
        Ok(Release {
            id: row.id,
            environment: self.name.to_string(),
            kind: row.kind,
            source: row.source,
            actor: row.actor,
            created_at: rfc3339(row.created_at as u64),
            reverts: row.reverts,
            rolled_back_by: row.rolled_back_by,
            changes,
        })
    }
}
