use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `GET /v1/changes?from=…&to=…`: what promoting `from` into `to` would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeList {
    /// The source environment.
    pub from: String,
    /// The target: the next environment in the chain.
    pub to: String,
    /// One entry per resource that differs.
    pub changes: Vec<PendingChange>,
    /// What would be wrong in the target after promoting every change.
    pub problems: Vec<PromotionProblem>,
}

/// One resource's change, with a field-level diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingChange {
    /// Pass in `POST /v1/promotions` `changes`; it changes when either side does.
    pub id: String,
    /// `workflow` or `integration`.
    pub resource: String,
    /// The workflow key or integration id.
    pub key: String,
    /// `added`, `modified` or `deleted`.
    pub change: String,
    /// Field by field.
    pub fields: Vec<FieldDiff>,
    /// The target's content now (null when added).
    pub before: Option<Value>,
    /// The content after promotion (null when deleted).
    pub after: Option<Value>,
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// Dot-separated path, e.g. `steps.0.subject` (`$`: the whole resource).
    pub path: String,
    /// The target's value now (absent when the field is new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    /// The value after promotion (absent when the field goes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Value>,
    /// `content`, `routing` or `schema`.
    pub kind: String,
}

/// Something a promotion would break, or that the target lacks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionProblem {
    /// `missing_integration`, `missing_integration_secret` or `stricter_schema`.
    pub code: String,
    /// `workflow:<key>` or `integration:<id>`.
    pub resource: String,
    /// A sentence for people.
    pub message: String,
    /// Whether it blocks promotion into this (production) target.
    pub blocking: bool,
}

/// `POST /v1/promotions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionRequest {
    /// The source environment.
    pub from: String,
    /// The next environment in the chain.
    pub to: String,
    /// `"all"`, or change ids from `GET /v1/changes`.
    pub changes: ChangeSelection,
    /// Answer what would happen, and write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Which pending changes to promote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChangeSelection {
    /// `"all"`.
    All(String),
    /// These change ids.
    Ids(Vec<String>),
}

/// The answer to a promotion: the release made (none on a dry run), and
/// the changes and problems it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionResponse {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The release recorded in the target; null on a dry run.
    pub release: Option<Release>,
    /// What was (or would be) applied.
    pub changes: Vec<PendingChange>,
    /// Non-blocking problems (blocking ones refuse the promotion with `preflight_failed`).
    pub problems: Vec<PromotionProblem>,
    /// Where the target requires approval: the request made instead of a
    /// release (answered with 202), waiting for a second member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_request: Option<ReleaseRequest>,
}

/// A promotion, import or rollback waiting for a second member's review,
/// with exactly the changes it would apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// `rr_…`.
    pub id: String,
    /// The environment it would change.
    pub environment: String,
    /// `promotion`, `import` or `rollback`: the kind of release it becomes;
    /// or `approval_off`: turning the environment's approval off.
    pub kind: String,
    /// The source environment of a promotion.
    pub source: Option<String>,
    /// The release a rollback would undo.
    pub reverts: Option<String>,
    /// Who asked (member id, or `admin`).
    pub requested_by: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: a request nobody reviews by then expires.
    pub expires_at: String,
    /// Who approved or rejected it.
    pub reviewed_by: Option<String>,
    /// RFC 3339.
    pub reviewed_at: Option<String>,
    /// The reviewer's comment (always there on a rejection).
    pub comment: Option<String>,
    /// The release an approval applied.
    pub release_id: Option<String>,
    /// What it would change, with each resource's content before and after.
    pub changes: Vec<PendingChange>,
    /// The preflight's non-blocking problems when it was made.
    pub problems: Vec<PromotionProblem>,
}

/// `GET /v1/environments/{name}/release-requests`: pending first, then newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRequestList {
    /// The requests.
    pub items: Vec<ReleaseRequest>,
}

/// `POST …/release-requests/{id}/approve` and `…/reject`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// Why: required to reject, optional to approve (at most 1,000 characters).
    #[serde(default)]
    pub comment: Option<String>,
}

/// The answer to an approval: the request, now approved, and its release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovedRequest {
    /// The request.
    pub request: ReleaseRequest,
    /// The release it applied (none for `approval_off`, which changes the setting).
    pub release: Option<Release>,
}

/// A release: one promotion or rollback applied to an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// `rel_…`.
    pub id: String,
    /// The environment it changed.
    pub environment: String,
    /// `promotion` or `rollback`.
    pub kind: String,
    /// The source environment of a promotion.
    pub source: Option<String>,
    /// Who made it.
    pub actor: String,
    /// RFC 3339.
    pub created_at: String,
    /// The release a rollback undid.
    pub reverts: Option<String>,
    /// The rollback that undid this release, if any.
    pub rolled_back_by: Option<String>,
    /// What it changed, with each resource's content before and after.
    pub changes: Vec<PendingChange>,
}

/// `GET /v1/environments/{name}/releases`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseList {
    /// The releases.
    pub items: Vec<Release>,
}

/// One entry of an environment's audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// `aud_…`.
    pub id: String,
    /// Who did it.
    pub actor: String,
    /// What, e.g. `release.promotion`.
    pub action: String,
    /// On what, e.g. `release:rel_…`.
    pub resource: String,
    /// Before/after summary; never secrets.
    pub summary: Value,
    /// RFC 3339.
    pub created_at: String,
}

/// `GET /v1/environments/{name}/audit-log` or `GET /v1/audit-log`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLog {
    /// The entries.
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for older entries; null on the last page.
    pub next_before: Option<String>,
}

/// `PUT /v1/variables/{name}`.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableInput {
    /// This environment's value (null: none yet).
    pub value: Option<String>,
}

/// A variable of this environment.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// `UPPER_SNAKE_CASE`; templates read `vars.NAME`.
    pub name: String,
    /// This environment's value; null until set.
    pub value: Option<String>,
    /// RFC 3339.
    pub updated_at: String,
}

/// `GET /v1/variables`: by name.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableList {
    /// The variables.
    pub items: Vec<Variable>,
}

/// `PUT /v1/brand`: how inboxes present this environment's notifications.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, optional_fields))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandInput {
    /// The product's name.
    pub name: String,
    /// `#rrggbb`.
    pub primary_colour: String,
    /// `#rrggbb`, optional.
    #[serde(default)]
    pub accent_colour: Option<String>,
}

/// Brand settings as the API shows them.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brand {
    /// The product's name.
    pub name: String,
    /// `#rrggbb`.
    pub primary_colour: String,
    /// `#rrggbb`, or null.
    pub accent_colour: Option<String>,
    /// The logo, when one was uploaded (`GET /v1/brand/logo`).
    pub logo: Option<LogoInfo>,
}

/// A logo's identity.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoInfo {
    /// Hex SHA-256 of its bytes.
    pub id: String,
    /// Its image type.
    pub content_type: String,
    /// A short-lived signed URL a browser shows it through (`GET /v1/brand` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}
