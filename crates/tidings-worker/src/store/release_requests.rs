//! Four-eyes approval, in the target's own database. A release is written
//! only with a [`Cleared`] proof: [`PromotionEnvironment::clearance`] gives
//! one where the registry says the environment needs no approval (read at
//! the write, never from a cache), and [`Cleared::by_review`] gives one from
//! the policy's `ReviewRelease` proof, which no requester and no admin token
//! obtains. So no path applies a release to an environment that requires
//! approval without a second member.
//!
//! A request holds the exact changes it would apply; its status, review
//! and audit entries (request, approve, reject, expire) are written in the
//! same batch as what they record.

use serde::Deserialize;
use serde_json::{json, Value};
use tidings_core::environment::EnvironmentName;
use tidings_core::promotion::{self, Change};
use tidings_core::release_request::{self, RequestKind, RequestStatus};
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{PendingChange, PromotionProblem, ReleaseRequest};

use super::authorized::Authorized;
use super::platform::Platform;
use super::{control_db, number, statement, storage_error, text, PromotionEnvironment};
use crate::error::ApiError;
use crate::runtime::SweepTick;

/// Proof that a release may be applied to its target: the target needs no
/// approval, or a second member reviewed the request it comes from.
pub struct Cleared {
    environment: EnvironmentName,
}

impl Cleared {
    /// Checks that the proof is for `environment`.
    pub(super) fn check(&self, environment: &EnvironmentName) -> Result<(), ApiError> {
        if &self.environment == environment {
            return Ok(());
        }
        Err(ApiError::internal("approval", "this clearance is for another environment"))
    }

    /// The clearance a review gives: only from the policy's `ReviewRelease`
    /// proof for this request's requester in this environment.
    pub fn by_review(review: &Authorized, request: &StoredRequest) -> Result<Self, ApiError> {
        let environment = review.require_review(&request.requested_by)?;
        Ok(Cleared { environment: environment.clone() })
    }
}

/// Whether a release may be written now or must wait for a review.
pub enum Clearance {
    /// No approval needed.
    Cleared(Cleared),
    /// The environment requires approval: make a release request instead.
    NeedsApproval,
}

/// A request to store: what it would apply, and who asks.
pub struct NewReleaseRequest<'a> {
    /// Promotion, import or rollback.
    pub kind: RequestKind,
    /// The source of a promotion.
    pub source: Option<&'a str>,
    /// The release a rollback undoes.
    pub reverts: Option<&'a str>,
    /// Who asks.
    pub requested_by: &'a str,
    /// Who stands behind the credential they ask with (`Actor::issuer`).
    pub requested_via: &'a str,
    /// Exactly what it would apply.
    pub changes: &'a [Change],
    /// The preflight's non-blocking problems.
    pub problems: &'a [PromotionProblem],
    /// [`release_request::fingerprint`] of the target's content now.
    pub target_fingerprint: &'a str,
}

/// A request as stored, with the changes it would apply.
pub struct StoredRequest {
    /// The request as the API shows it.
    pub wire: ReleaseRequest,
    /// Who asked.
    pub requested_by: String,
    /// Who stood behind the credential they asked with (the requester, for
    /// requests made before this was recorded).
    pub requested_via: String,
    /// Its kind.
    pub kind: RequestKind,
    /// Its status now (a pending one past its lifetime is expired).
    pub status: RequestStatus,
    /// The target's content fingerprint when it was made.
    pub target_fingerprint: String,
    /// When it was made (Unix ms).
    pub created_at_ms: u64,
}

impl StoredRequest {
    /// The changes it would apply, as the core reads them.
    pub fn changes(&self) -> Result<Vec<Change>, ApiError> {
        self.wire
            .changes
            .iter()
            .map(|change| promotion::from_wire(change).ok_or_else(|| ApiError::internal("request", "stored change")))
            .collect()
    }
}

/// The review an approval records with its release.
pub struct Approval<'a> {
    /// The request approved.
    pub request_id: &'a str,
    /// Who approved it.
    pub reviewer: &'a str,
    /// Why, if they said.
    pub comment: Option<&'a str>,
    /// The target's latest release when the reviewed content was read:
    /// another release since (touching other resources or not) aborts the
    /// approval, so two approvals never both apply over one checked state.
    pub latest_release: Option<&'a str>,
}

#[derive(Deserialize)]
struct RequestRow {
    id: String,
    kind: String,
    source: Option<String>,
    reverts: Option<String>,
    requested_by: String,
    requested_via: Option<String>,
    changes: String,
    problems: String,
    target_fingerprint: String,
    status: String,
    reviewed_by: Option<String>,
    reviewed_at: Option<f64>,
    comment: Option<String>,
    release_id: Option<String>,
    created_at: f64,
    expires_at: f64,
}

const COLUMNS: &str =
    "id, kind, source, reverts, requested_by, requested_via, changes, problems, target_fingerprint, status, \
    reviewed_by, reviewed_at, comment, release_id, created_at, expires_at";

/// The most requests one listing returns.
const PER_PAGE: u32 = 100;

impl PromotionEnvironment {
    /// Reads from the registry (never a cache) whether releases into this
    /// environment need a second member's approval.
    pub async fn clearance(&self, env: &Platform) -> Result<Clearance, ApiError> {
        let required: Option<f64> = statement(
            &control_db(env)?,
            "SELECT require_approval FROM environments WHERE name = ?1 AND status != 'deleted'",
            &[text(self.name.as_str())],
        )?
        .first(Some("require_approval"))
        .await
        .map_err(|error| storage_error("read approval setting", error))?;
        // Unknown or required: wait for a review.
        if required == Some(0.0) {
            Ok(Clearance::Cleared(Cleared { environment: self.name.clone() }))
        } else {
            Ok(Clearance::NeedsApproval)
        }
    }

    /// Stores a pending request and its audit entry in one batch.
    pub async fn request_release(
        &self,
        request: NewReleaseRequest<'_>,
        now_ms: u64,
    ) -> Result<ReleaseRequest, ApiError> {
        let random = crate::platform::random()?;
        let id = release_request::request_id(now_ms, random);
        let wire: Vec<PendingChange> = request.changes.iter().map(promotion::to_wire).collect();
        let encode = |error| ApiError::internal("encode release request", error);
        let changes = serde_json::to_string(&wire).map_err(encode)?;
        let problems = serde_json::to_string(request.problems).map_err(encode)?;
        let optional = |value: Option<&str>| value.map_or(wasm_bindgen::JsValue::NULL, text);
        let insert = statement(
            &self.db,
            "INSERT INTO release_requests (id, kind, source, reverts, requested_by, changes, problems, status, \
             created_at, expires_at, target_fingerprint, requested_via) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10, ?11)",
            &[
                text(&id),
                text(request.kind.as_str()),
                optional(request.source),
                optional(request.reverts),
                text(request.requested_by),
                text(&changes),
                text(&problems),
                number(now_ms),
                number(now_ms + release_request::LIFETIME_MS),
                text(request.target_fingerprint),
                text(request.requested_via),
            ],
        )?;
        let summary = json!({
            "kind": request.kind.as_str(), "source": request.source, "reverts": request.reverts,
            "changes": summarize(request.changes),
        });
        let audit = self.request_audit(&id, "create", request.requested_by, &summary, now_ms, false)?;
        self.db.batch(vec![insert, audit]).await.map_err(|error| storage_error("store release request", error))?;
        Ok(self.find_request(&id, now_ms).await?.ok_or_else(|| ApiError::internal("request", "vanished"))?.wire)
    }

    /// One request; a pending one past its lifetime reads as expired (the
    /// listing and the sweep write that down, with its audit entry).
    pub async fn find_request(&self, id: &str, now_ms: u64) -> Result<Option<StoredRequest>, ApiError> {
        let sql = format!("SELECT {COLUMNS} FROM release_requests WHERE id = ?1");
        let row: Option<RequestRow> = statement(&self.db, &sql, &[text(id)])?
            .first(None)
            .await
            .map_err(|error| storage_error("read release request", error))?;
        row.map(|row| self.request_from_row(row, now_ms)).transpose()
    }

    /// Requests, pending first, then newest first.
    pub async fn release_requests(&self, now_ms: u64) -> Result<Vec<ReleaseRequest>, ApiError> {
        self.expire_requests(now_ms).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM release_requests ORDER BY status = 'pending' DESC, created_at DESC, id DESC \
             LIMIT ?1"
        );
        let rows: Vec<RequestRow> = statement(&self.db, &sql, &[number(u64::from(PER_PAGE))])?
            .all()
            .await
            .and_then(|result| result.results())
            .map_err(|error| storage_error("list release requests", error))?;
        rows.into_iter().map(|row| self.request_from_row(row, now_ms).map(|stored| stored.wire)).collect()
    }

    /// Rejects a pending request with the reviewer's comment (and audits
    /// it), or answers why it cannot be.
    pub async fn reject_request(
        &self,
        review: &Authorized,
        request: &StoredRequest,
        comment: &str,
        now_ms: u64,
    ) -> Result<ReleaseRequest, ApiError> {
        Cleared::by_review(review, request)?.check(&self.name)?;
        let reviewer = review.actor().id.as_str();
        let id = request.wire.id.as_str();
        let update = statement(
            &self.db,
            "UPDATE release_requests SET status = 'rejected', reviewed_by = ?2, reviewed_at = ?3, comment = ?4 \
             WHERE id = ?1 AND status = 'pending' AND expires_at > ?3",
            &[text(id), text(reviewer), number(now_ms), text(comment)],
        )?;
        // Written only if the update before it changed the request.
        let audit = self.request_audit(id, "reject", reviewer, &json!({ "comment": comment }), now_ms, true)?;
        let results =
            self.db.batch(vec![update, audit]).await.map_err(|error| storage_error("reject release request", error))?;
        let changed = results.first().and_then(|result| result.meta().ok().flatten()).and_then(|meta| meta.changes);
        let after = self.find_request(id, now_ms).await?.ok_or_else(|| not_found(&self.name, id))?;
        if changed == Some(0) {
            return Err(closed(&after));
        }
        Ok(after.wire)
    }

    /// Approves a pending `approval_off` request: the registry's setting goes
    /// off (only with the review's clearance), then the request is marked
    /// approved and audited, guarded so it is approved once.
    pub async fn approve_approval_off(
        &self,
        env: &Platform,
        cleared: &Cleared,
        approval: &Approval<'_>,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        cleared.check(&self.name)?;
        let update = statement(
            &self.db,
            "UPDATE release_requests SET status = 'approved', reviewed_by = ?2, reviewed_at = ?3, comment = ?4 \
             WHERE id = ?1 AND status = 'pending' AND expires_at > ?3 AND kind = 'approval_off'",
            &[
                text(approval.request_id),
                text(approval.reviewer),
                number(now_ms),
                approval.comment.map_or(wasm_bindgen::JsValue::NULL, text),
            ],
        )?;
        let summary = json!({ "comment": approval.comment, "require_approval": false });
        let audit = self.request_audit(approval.request_id, "approve", approval.reviewer, &summary, now_ms, true)?;
        let results = self
            .db
            .batch(vec![update, audit])
            .await
            .map_err(|error| storage_error("approve release request", error))?;
        let changed = results.first().and_then(|result| result.meta().ok().flatten()).and_then(|meta| meta.changes);
        if changed == Some(0) {
            let after = self.find_request(approval.request_id, now_ms).await?;
            return Err(after.map_or_else(|| not_found(&self.name, approval.request_id), |request| closed(&request)));
        }
        statement(
            &control_db(env)?,
            "UPDATE environments SET require_approval = 0 WHERE name = ?1",
            &[text(self.name.as_str())],
        )?
        .run()
        .await
        .map_err(|error| storage_error("turn approval off", error))?;
        Ok(())
    }

    /// The id of the newest release, if any.
    pub async fn latest_release_id(&self) -> Result<Option<String>, ApiError> {
        statement(&self.db, "SELECT id FROM releases ORDER BY created_at DESC, id DESC LIMIT 1", &[])?
            .first(Some("id"))
            .await
            .map_err(|error| storage_error("read latest release", error))
    }

    /// Marks the pending requests past their lifetime expired, each with its
    /// audit entry, in one batch.
    pub async fn expire_requests(&self, now_ms: u64) -> Result<(), ApiError> {
        let due = "SELECT id FROM release_requests WHERE status = 'pending' AND expires_at <= ?1";
        let audit = statement(
            &self.db,
            &format!(
                "INSERT INTO audit_log (id, actor, action, resource, summary, created_at) \
                 SELECT 'aud_expired_' || id, 'system', 'release_request.expire', 'release_request:' || id, \
                 '{{}}', ?1 FROM release_requests WHERE id IN ({due}) ON CONFLICT (id) DO NOTHING"
            ),
            &[number(now_ms)],
        )?;
        let update = statement(
            &self.db,
            &format!("UPDATE release_requests SET status = 'expired' WHERE id IN ({due})"),
            &[number(now_ms)],
        )?;
        self.db.batch(vec![audit, update]).await.map_err(|error| storage_error("expire release requests", error))?;
        Ok(())
    }

    /// The statements an approval adds to its release's batch: the request
    /// must still be pending and unexpired (else the whole batch aborts),
    /// then it is marked approved with the release's id, and audited.
    pub(super) fn approval_writes(
        &self,
        approval: &Approval<'_>,
        release_id: &str,
        now_ms: u64,
        stale: &str,
    ) -> Result<Vec<worker::D1PreparedStatement>, ApiError> {
        let guard = statement(
            &self.db,
            &format!(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM release_requests WHERE id = ?1 AND status = 'pending' \
                 AND expires_at > ?2) AND (SELECT id FROM releases ORDER BY created_at DESC, id DESC LIMIT 1) IS ?3 \
                 THEN 1 ELSE json('{stale}') END"
            ),
            &[
                text(approval.request_id),
                number(now_ms),
                approval.latest_release.map_or(wasm_bindgen::JsValue::NULL, text),
            ],
        )?;
        let optional = |value: Option<&str>| value.map_or(wasm_bindgen::JsValue::NULL, text);
        let update = statement(
            &self.db,
            "UPDATE release_requests SET status = 'approved', reviewed_by = ?2, reviewed_at = ?3, comment = ?4, \
             release_id = ?5 WHERE id = ?1",
            &[
                text(approval.request_id),
                text(approval.reviewer),
                number(now_ms),
                optional(approval.comment),
                text(release_id),
            ],
        )?;
        let summary = json!({ "release": release_id, "comment": approval.comment });
        let audit = self.request_audit(approval.request_id, "approve", approval.reviewer, &summary, now_ms, false)?;
        Ok(vec![guard, update, audit])
    }

    /// The audit entry of `action` on request `id`; when `if_changed`, written
    /// only if the statement before it in the batch changed a row.
    fn request_audit(
        &self,
        id: &str,
        action: &str,
        actor: &str,
        summary: &Value,
        now_ms: u64,
        if_changed: bool,
    ) -> Result<worker::D1PreparedStatement, ApiError> {
        let condition = if if_changed { " WHERE changes() > 0" } else { "" };
        statement(
            &self.db,
            &format!(
                "INSERT INTO audit_log (id, actor, action, resource, summary, created_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6{condition}"
            ),
            &audit_values(id, action, actor, summary, now_ms),
        )
    }

    fn request_from_row(&self, row: RequestRow, now_ms: u64) -> Result<StoredRequest, ApiError> {
        let status = RequestStatus::at(&row.status, row.expires_at as u64, now_ms)
            .ok_or_else(|| ApiError::internal("release request", "stored status"))?;
        let kind = RequestKind::parse(&row.kind).ok_or_else(|| ApiError::internal("release request", "stored kind"))?;
        let changes: Vec<PendingChange> =
            serde_json::from_str(&row.changes).map_err(|error| ApiError::internal("release request", error))?;
        let problems: Vec<PromotionProblem> =
            serde_json::from_str(&row.problems).map_err(|error| ApiError::internal("release request", error))?;
        Ok(StoredRequest {
            target_fingerprint: row.target_fingerprint,
            created_at_ms: row.created_at as u64,
            requested_via: row.requested_via.unwrap_or_else(|| row.requested_by.clone()),
            requested_by: row.requested_by.clone(),
            kind,
            status,
            wire: ReleaseRequest {
                id: row.id,
                environment: self.name.to_string(),
                kind: row.kind,
                source: row.source,
                reverts: row.reverts,
                requested_by: row.requested_by,
                status: status.as_str().to_owned(),
                created_at: rfc3339(row.created_at as u64),
                expires_at: rfc3339(row.expires_at as u64),
                reviewed_by: row.reviewed_by,
                reviewed_at: row.reviewed_at.map(|at| rfc3339(at as u64)),
                comment: row.comment,
                release_id: row.release_id,
                changes,
                problems,
            },
        })
    }
}

/// The scheduled sweep's part: in every environment this deployment
/// serves, pending requests past their lifetime are marked expired, each
/// with its audit entry. One environment's failure never stops the others.
pub async fn sweep_release_requests(env: &Platform, tick: &SweepTick, now_ms: u64) {
    let names = match super::sweepable_environments(env, tick).await {
        Ok(names) => names,
        Err(error) => return worker::console_error!("release requests sweep: {error:?}"),
    };
    for name in names {
        let expired = async {
            let scope = super::Environment::open_for_sweep(env, tick, &name).await?;
            PromotionEnvironment::of(env, &scope)?.expire_requests(now_ms).await
        };
        if let Err(error) = expired.await {
            worker::console_error!("release requests sweep: {name}: {error:?}");
        }
    }
}

/// The values of an audit entry about request `id`; its own id is derived
/// from the request's and the action (one entry each).
fn audit_values(id: &str, action: &str, actor: &str, summary: &Value, now_ms: u64) -> Vec<wasm_bindgen::JsValue> {
    vec![
        text(&format!("aud_{action}_{id}")),
        text(actor),
        text(&format!("release_request.{action}")),
        text(&format!("release_request:{id}")),
        text(&summary.to_string()),
        number(now_ms),
    ]
}

/// What an audit entry says of changes: resources and fields, never content.
fn summarize(changes: &[Change]) -> Value {
    changes
        .iter()
        .map(|change| json!({"resource": change.resource.as_str(), "key": change.key, "change": change.kind.as_str()}))
        .collect()
}

/// 404 `release_request_not_found`.
pub fn not_found(environment: &EnvironmentName, id: &str) -> ApiError {
    ApiError::new(
        404,
        ErrorCode::ReleaseRequestNotFound,
        format!("the {environment} environment has no release request {id}"),
    )
}

/// 409 `release_request_closed`, saying what became of it.
pub fn closed(request: &StoredRequest) -> ApiError {
    let what = match request.status {
        RequestStatus::Approved => "was approved already",
        RequestStatus::Rejected => "was rejected",
        RequestStatus::Expired => "expired before anyone reviewed it; request the change again",
        RequestStatus::Pending => "is still pending",
    };
    ApiError::new(409, ErrorCode::ReleaseRequestClosed, format!("release request {} {what}", request.wire.id))
        .with_details(json!({ "status": request.status.as_str() }))
}
