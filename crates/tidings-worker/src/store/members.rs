//! Members, their grants and personal access tokens, and the control
//! plane's audit log: all in the control database.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;
use tidings_core::access::{Grants, Role};
use tidings_core::audit::AuditQuery;
use tidings_core::policy;
use tidings_core::timestamp::rfc3339;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{AuditEntry, Member};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use super::authorized::{Actor, Authorized};
use super::platform::Platform;
use super::{control_db, number, statement, storage_error, text, AuditRow};
use crate::error::ApiError;

/// A member to create, with their grants.
pub struct NewMember<'a> {
    /// `mem_…`.
    pub id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Email (unique).
    pub email: &'a str,
    /// Their grants.
    pub grants: &'a Grants,
}

/// A personal access token to store (only its hash).
pub struct NewMemberToken<'a> {
    /// `mtk_…`.
    pub id: &'a str,
    /// SHA-256 of the token.
    pub hash: &'a str,
    /// What it is for.
    pub name: &'a str,
    /// Unix milliseconds.
    pub expires_at: u64,
}

/// One control-plane write, for the audit log.
pub struct AuditRecord<'a> {
    /// `aud_…`.
    pub id: &'a str,
    /// Member id, or `admin`.
    pub actor: &'a str,
    /// E.g. `key.revoke`.
    pub action: &'a str,
    /// The environment, or none for deployment-wide actions.
    pub environment: Option<&'a str>,
    /// E.g. `key:key_…`.
    pub resource: &'a str,
    /// Before/after, never secrets.
    pub summary: Value,
}

#[derive(Deserialize)]
struct MemberRow {
    id: String,
    name: String,
    email: String,
    role: String,
    created_at: f64,
    /// Only where the row was read through a token.
    #[serde(default)]
    token_created_at: Option<f64>,
    /// Only where the row was read through a token.
    #[serde(default)]
    grants_changed_at: Option<f64>,
    /// Only where the row was read through a token: who issued it.
    #[serde(default)]
    token_issued_by: Option<String>,
}

/// A live member signed in with a token.
pub struct SignedIn {
    /// The member.
    pub member: Member,
    /// Their grants.
    pub grants: Grants,
    /// Since when the credential could act as it does (Unix ms): the latest of the member's
    /// creation, their last change of role or grants, and the token's issue.
    pub since_ms: u64,
    /// Who stands behind the token: whoever issued it (who may keep a copy), or the member.
    pub issuer: String,
}

#[derive(Deserialize)]
struct GrantRow {
    member_id: String,
    environment: String,
    role: Option<String>,
    promote: f64,
    personal_data: f64,
}

const MEMBER_COLUMNS: &str = "id, name, email, role, created_at";

/// The statements that create a member and their grants.
pub(super) fn member_statements(
    control: &D1Database,
    member: &NewMember<'_>,
    now_ms: u64,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let mut writes = vec![statement(
        control,
        "INSERT INTO members (id, name, email, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[text(member.id), text(member.name), text(member.email), text(member.grants.role.as_str()), number(now_ms)],
    )?];
    writes.extend(grant_statements(control, member.id, member.grants)?);
    Ok(writes)
}

/// The statements that store a member token.
pub(super) fn token_statement(
    control: &D1Database,
    member_id: &str,
    issued_by: &str,
    token: &NewMemberToken<'_>,
    now_ms: u64,
) -> Result<D1PreparedStatement, ApiError> {
    statement(
        control,
        "INSERT INTO member_tokens (id, hash, member_id, name, created_at, expires_at, issued_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            text(token.id),
            text(token.hash),
            text(member_id),
            text(token.name),
            number(now_ms),
            number(token.expires_at),
            text(issued_by),
        ],
    )
}

/// A member's stored grant rows as one text, for [`grants_fingerprint`] to compare with.
/// A row that grants nothing (no role, no flag: what a preview's copy leaves of a role above the
/// member's own) is no grant, as reading the grants skips it.
const STORED_GRANTS: &str = "SELECT group_concat(line, ',') FROM (SELECT environment || ':' || \
    COALESCE(role, '') || ':' || promote || ':' || personal_data AS line FROM member_grants \
    WHERE member_id = ?1 AND (role IS NOT NULL OR promote != 0 OR personal_data != 0) ORDER BY environment)";

/// What a guard evaluates to abort its batch when the member changed since the policy judged
/// the change: an integer overflow, an error of its own kind, told apart from the owner
/// guard's malformed JSON.
const CHANGED: &str = "abs(-9223372036854775807 - 1)";

/// A statement that aborts its batch ([`CHANGED`], 409 `member_changed`)
/// unless member `id` is still there with the role and grants `judged`,
/// as the policy saw them; with `judged` `None`, only that they are there.
fn unchanged_guard(control: &D1Database, id: &str, judged: Option<&Grants>) -> Result<D1PreparedStatement, ApiError> {
    let (role, stored) = match judged {
        Some(grants) => {
            (text(grants.role.as_str()), grants_fingerprint(grants).map_or(JsValue::NULL, |print| text(&print)))
        }
        None => (JsValue::NULL, JsValue::NULL),
    };
    statement(
        control,
        &format!(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM members WHERE id = ?1 AND removed_at IS NULL \
             AND (?2 IS NULL OR (role = ?2 AND ({STORED_GRANTS}) IS ?3))) THEN 1 ELSE {CHANGED} END"
        ),
        &[text(id), role, stored],
    )
}

/// The guard on the member who acts: a member narrowed or removed while
/// their request ran does not write with the rights they had. The admin
/// token is no member: nothing to guard.
fn actor_guard(control: &D1Database, actor: &Actor) -> Result<Option<D1PreparedStatement>, ApiError> {
    if actor.break_glass {
        return Ok(None);
    }
    unchanged_guard(control, &actor.id, Some(&actor.grants)).map(Some)
}

/// The text [`STORED_GRANTS`] reads for these grants, as [`grant_statements`] writes them;
/// `None` when they write no row.
fn grants_fingerprint(grants: &Grants) -> Option<String> {
    let names: BTreeSet<&String> =
        grants.environments.keys().chain(grants.promote_into.iter()).chain(grants.personal_data.iter()).collect();
    let lines: Vec<String> = names
        .into_iter()
        .map(|name| {
            let role = match grants.environments.get(name) {
                Some(Some(role)) => role.as_str(),
                Some(None) => "none",
                None => "",
            };
            let flag = |set: &BTreeSet<String>| u8::from(set.contains(name));
            format!("{name}:{role}:{}:{}", flag(&grants.promote_into), flag(&grants.personal_data))
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join(","))
}

fn grant_statements(
    control: &D1Database,
    member_id: &str,
    grants: &Grants,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let mut writes = vec![statement(control, "DELETE FROM member_grants WHERE member_id = ?1", &[text(member_id)])?];
    let names: BTreeSet<&String> =
        grants.environments.keys().chain(grants.promote_into.iter()).chain(grants.personal_data.iter()).collect();
    for name in names {
        let role = match grants.environments.get(name) {
            Some(Some(role)) => text(role.as_str()),
            Some(None) => text("none"),
            None => JsValue::NULL,
        };
        writes.push(statement(
            control,
            "INSERT INTO member_grants (member_id, environment, role, promote, personal_data) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[
                text(member_id),
                text(name),
                role,
                number(u64::from(grants.promote_into.contains(name))),
                number(u64::from(grants.personal_data.contains(name))),
            ],
        )?);
    }
    Ok(writes)
}

fn member_error(error: worker::Error) -> ApiError {
    if error.to_string().contains("UNIQUE constraint failed: members.email") {
        ApiError::new(409, ErrorCode::MemberExists, "a member with this email exists").with_field("email")
    } else {
        storage_error("save member", error)
    }
}

/// Creates a member with grants, and its audit entry, in one transaction.
pub async fn create_member(
    env: &Platform,
    actor: &Actor,
    member: &NewMember<'_>,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let control = control_db(env)?;
    // Only while the member creating them still holds the grants the policy judged they may give.
    let mut writes: Vec<D1PreparedStatement> = actor_guard(&control, actor)?.into_iter().collect();
    writes.extend(member_statements(&control, member, now_ms)?);
    commit(&control, writes, audit, false, now_ms).await
}

/// A change of a member's grants: what they were (as the policy judged the
/// change), what they become, and the token issued in place of theirs when
/// the admin token widens an owner's.
pub struct GrantChange<'a> {
    /// The grants the change was judged against.
    pub before: &'a Grants,
    /// The grants after it.
    pub after: &'a Grants,
    /// A token to store in the same transaction.
    pub replacement: Option<&'a NewMemberToken<'a>>,
}

/// A change to one member: their name and, with `change`, their grants.
pub struct MemberUpdate<'a> {
    /// The member's id.
    pub id: &'a str,
    /// Their name after the change.
    pub name: &'a str,
    /// Their grants' change, if any.
    pub change: Option<GrantChange<'a>>,
    /// Whether they were an owner (the change is then checked to leave one who can sign in).
    pub was_owner: bool,
}

/// Changes a member's name and, when `change` is given, replaces their role
/// and grants, with its audit entry, revoking their tokens when the grants
/// widen (and storing the replacement issued in their place, if any); an
/// owner's change is refused if it left no owner who can sign in. A
/// name-only change writes no grant, so it can never put back grants another
/// request changed meanwhile.
pub async fn update_member(
    env: &Platform,
    actor: &Actor,
    update: MemberUpdate<'_>,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let MemberUpdate { id, name, change, was_owner } = update;
    let control = control_db(env)?;
    // The member must still be there, with the grants the policy judged the change against:
    // a change made meanwhile (a revocation, say) is never undone by writing a stale copy.
    // So must the member who changes them, with theirs.
    let judged = change.as_ref().map(|GrantChange { before, .. }| *before);
    let mut writes = vec![unchanged_guard(&control, id, judged)?];
    writes.extend(actor_guard(&control, actor)?);
    writes.push(statement(
        &control,
        "UPDATE members SET name = ?2 WHERE id = ?1 AND removed_at IS NULL",
        &[text(id), text(name)],
    )?);
    if let Some(GrantChange { before, after: grants, replacement }) = change {
        writes.push(statement(
            &control,
            "UPDATE members SET role = ?2, grants_changed_at = ?3 WHERE id = ?1 AND removed_at IS NULL",
            &[text(id), text(grants.role.as_str()), number(now_ms)],
        )?);
        writes.extend(grant_statements(&control, id, grants)?);
        // A token never carries a right granted after it was issued: whoever issued it (another
        // member, who may lack that right) may hold a copy. The member is issued a new one.
        if policy::widens(before, grants) {
            writes.push(statement(
                &control,
                "UPDATE member_tokens SET revoked_at = ?2 WHERE member_id = ?1 AND revoked_at IS NULL",
                &[text(id), number(now_ms)],
            )?);
        }
        if let Some(token) = replacement {
            writes.push(token_statement(&control, id, &actor.issuer, token, now_ms)?);
        }
    }
    commit(&control, writes, audit, was_owner, now_ms).await
}

/// Removes a member (their tokens stop working at once, and the tokens they
/// issued to other members too), with its audit entry.
pub async fn remove_member(
    env: &Platform,
    authorized: &Authorized,
    id: &str,
    was_owner: bool,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let control = control_db(env)?;
    // Revoking what they issued may leave an owner without a token: then the owners are checked too.
    let issued_to_an_owner: Option<f64> = statement(
        &control,
        "SELECT EXISTS (SELECT 1 FROM member_tokens JOIN members ON members.id = member_tokens.member_id \
         WHERE member_tokens.issued_by = ?1 AND member_tokens.member_id != ?1 AND member_tokens.revoked_at IS NULL \
         AND members.role = 'owner' AND members.removed_at IS NULL) AS found",
        &[text(id)],
    )?
    .first(Some("found"))
    .await
    .map_err(|error| storage_error("read issued tokens", error))?;
    let guard_owners = was_owner || issued_to_an_owner.unwrap_or(0.0) != 0.0;
    // Only the member the policy judged removable, by a member who still holds what allowed it.
    let mut writes = vec![unchanged_guard(&control, id, authorized.judged_member())?];
    writes.extend(actor_guard(&control, authorized.actor())?);
    writes.extend([
        // The email is freed (it is unique among members), so the person can be invited again.
        statement(
            &control,
            "UPDATE members SET removed_at = ?2, email = 'removed:' || id || ':' || email WHERE id = ?1",
            &[text(id), number(now_ms)],
        )?,
        statement(
            &control,
            "UPDATE member_tokens SET revoked_at = ?2 WHERE member_id = ?1 AND revoked_at IS NULL",
            &[text(id), number(now_ms)],
        )?,
        // The tokens they issued to others: they may keep a copy, and are no member any more.
        statement(
            &control,
            "UPDATE member_tokens SET revoked_at = ?2 WHERE issued_by = ?1 AND member_id != ?1 AND revoked_at IS NULL",
            &[text(id), number(now_ms)],
        )?,
    ]);
    commit(&control, writes, audit, guard_owners, now_ms).await
}

/// Stores a personal access token, with its audit entry.
pub async fn issue_member_token(
    env: &Platform,
    authorized: &Authorized,
    member_id: &str,
    token: &NewMemberToken<'_>,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let control = control_db(env)?;
    // The token carries the member's grants as they are when it is stored: only while they are
    // those the policy judged the issuer may issue for (a widening meanwhile revoked every token
    // before this one; this one must not slip past it), and while the issuer still has theirs.
    let mut writes = vec![unchanged_guard(&control, member_id, authorized.judged_member())?];
    writes.extend(actor_guard(&control, authorized.actor())?);
    // Recorded as issued by whoever stands behind the credential used: a token minted with a copy
    // someone else issued is theirs too, and ends when they are removed.
    writes.push(token_statement(&control, member_id, &authorized.actor().issuer, token, now_ms)?);
    commit(&control, writes, audit, false, now_ms).await
}

/// Revokes one of a member's live tokens, with its audit entry; 404
/// `token_not_found` when there is no such live token.
pub async fn revoke_member_token(
    env: &Platform,
    authorized: &Authorized,
    member_id: &str,
    token_id: &str,
    was_owner: bool,
    audit: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let control = control_db(env)?;
    let live: Option<f64> = statement(
        &control,
        "SELECT COUNT(*) AS count FROM member_tokens WHERE id = ?1 AND member_id = ?2 AND revoked_at IS NULL",
        &[text(token_id), text(member_id)],
    )?
    .first(Some("count"))
    .await
    .map_err(|error| storage_error("read member token", error))?;
    if live.unwrap_or(0.0) == 0.0 {
        return Err(ApiError::new(
            404,
            ErrorCode::TokenNotFound,
            format!("member {member_id} has no live token {token_id}"),
        ));
    }
    let revoke = statement(
        &control,
        "UPDATE member_tokens SET revoked_at = ?3 WHERE id = ?1 AND member_id = ?2 AND revoked_at IS NULL",
        &[text(token_id), text(member_id), number(now_ms)],
    )?;
    let mut writes = vec![unchanged_guard(&control, member_id, authorized.judged_member())?];
    writes.extend(actor_guard(&control, authorized.actor())?);
    writes.push(revoke);
    commit(&control, writes, audit, was_owner, now_ms).await
}

/// The live member a token hash belongs to, with their grants; `None` for an
/// unknown, expired or revoked token, or a removed member.
/// Also answers since when the credential could act as it does: the latest
/// of the member's creation, their last change of role or grants, and the
/// token's issue (a review of a release request made before that is refused).
pub async fn member_by_token(env: &Platform, hash: &str, now_ms: u64) -> Result<Option<SignedIn>, ApiError> {
    let control = control_db(env)?;
    let results = control
        .batch(vec![
            statement(
                &control,
                &format!(
                    "SELECT {MEMBER_COLUMNS}, grants_changed_at, \
                     (SELECT created_at FROM member_tokens WHERE hash = ?1) AS token_created_at, \
                     (SELECT issued_by FROM member_tokens WHERE hash = ?1) AS token_issued_by FROM members WHERE removed_at IS NULL AND id = \
                     (SELECT member_id FROM member_tokens WHERE hash = ?1 AND revoked_at IS NULL AND expires_at > ?2)"
                ),
                &[text(hash), number(now_ms)],
            )?,
            statement(
                &control,
                "SELECT member_id, environment, role, promote, personal_data FROM member_grants WHERE member_id = \
                 (SELECT member_id FROM member_tokens WHERE hash = ?1)",
                &[text(hash)],
            )?,
        ])
        .await
        .map_err(|error| storage_error("read member", error))?;
    let [members, grants] = <[_; 2]>::try_from(results)
        .map_err(|_| ApiError::internal("read member", "batch returned the wrong number of results"))?;
    let members: Vec<MemberRow> = members.results().map_err(|error| storage_error("decode member", error))?;
    let grants: Vec<GrantRow> = grants.results().map_err(|error| storage_error("decode grants", error))?;
    Ok(members.into_iter().next().map(|mut row| {
        let since_ms =
            row.created_at.max(row.token_created_at.unwrap_or_default()).max(row.grants_changed_at.unwrap_or_default())
                as u64;
        // A token another member issued stands for them too (they may keep a copy): what it issues is
        // theirs as well, and ends when they are removed. One the admin token issued, or the member,
        // stands for the member.
        let issuer = match row.token_issued_by.take() {
            Some(by) if by != "admin" && by != row.id => by,
            _ => row.id.clone(),
        };
        let (member, grants) = assemble(row, &grants);
        SignedIn { member, grants, since_ms, issuer }
    }))
}

/// Every live member.
pub async fn members(env: &Platform) -> Result<Vec<(Member, Grants)>, ApiError> {
    let control = control_db(env)?;
    let results = control
        .batch(vec![
            statement(
                &control,
                &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE removed_at IS NULL ORDER BY created_at, id"),
                &[],
            )?,
            statement(&control, "SELECT member_id, environment, role, promote, personal_data FROM member_grants", &[])?,
        ])
        .await
        .map_err(|error| storage_error("list members", error))?;
    let [members, grants] = <[_; 2]>::try_from(results)
        .map_err(|_| ApiError::internal("list members", "batch returned the wrong number of results"))?;
    let members: Vec<MemberRow> = members.results().map_err(|error| storage_error("decode members", error))?;
    let grants: Vec<GrantRow> = grants.results().map_err(|error| storage_error("decode grants", error))?;
    Ok(members.into_iter().map(|row| assemble(row, &grants)).collect())
}

fn assemble(row: MemberRow, grants: &[GrantRow]) -> (Member, Grants) {
    let role = Role::parse(&row.role).unwrap_or(Role::Viewer);
    let mut access = Grants::role(role);
    for grant in grants.iter().filter(|grant| grant.member_id == row.id) {
        match grant.role.as_deref() {
            Some("none") => {
                access.environments.insert(grant.environment.clone(), None);
            }
            Some(name) => {
                access.environments.insert(grant.environment.clone(), Some(Role::parse(name).unwrap_or(Role::Viewer)));
            }
            None => {}
        }
        if grant.promote != 0.0 {
            access.promote_into.insert(grant.environment.clone());
        }
        if grant.personal_data != 0.0 {
            access.personal_data.insert(grant.environment.clone());
        }
    }
    let member = Member {
        id: row.id,
        name: row.name,
        email: row.email,
        role: row.role,
        environments: access
            .environments
            .iter()
            .map(|(name, role)| (name.clone(), role.map_or("none", Role::as_str).to_owned()))
            .collect(),
        promote_into: access.promote_into.iter().cloned().collect(),
        personal_data_in: access.personal_data.iter().cloned().collect(),
        created_at: rfc3339(row.created_at as u64),
    };
    (member, access)
}

/// The columns of an audit entry, `?1` to `?7`.
const AUDIT_INSERT: &str = "INSERT INTO audit_log (id, actor, action, environment, resource, summary, created_at)";

/// The values of `record`, `?1` to `?7`.
fn audit_values(record: &AuditRecord<'_>, now_ms: u64) -> Vec<JsValue> {
    vec![
        text(record.id),
        text(record.actor),
        text(record.action),
        record.environment.map_or(JsValue::NULL, text),
        text(record.resource),
        text(&record.summary.to_string()),
        number(now_ms),
    ]
}

/// The statement that appends `record` to the control plane's audit log,
/// to run in the same batch as the change it records.
pub(super) fn audit_statement(
    control: &D1Database,
    record: &AuditRecord<'_>,
    now_ms: u64,
) -> Result<D1PreparedStatement, ApiError> {
    statement(control, &format!("{AUDIT_INSERT} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"), &audit_values(record, now_ms))
}

/// [`audit_statement`], written only if `condition` (SQL over `?8`…) holds
/// once the statements before it in the batch have run.
pub(super) fn audit_statement_if(
    control: &D1Database,
    record: &AuditRecord<'_>,
    now_ms: u64,
    condition: &str,
    arguments: &[JsValue],
) -> Result<D1PreparedStatement, ApiError> {
    let mut values = audit_values(record, now_ms);
    values.extend_from_slice(arguments);
    statement(control, &format!("{AUDIT_INSERT} SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE {condition}"), &values)
}

/// What [`owner_guard`] raises to abort its batch; recognised in the error text.
const LAST_OWNER: &str = "tidings: last owner";

/// A statement that aborts its batch (and so the change before it) when no
/// owner who can sign in would be left. It runs inside the transaction, so
/// two concurrent requests cannot each remove "the other" last owner.
fn owner_guard(control: &D1Database, now_ms: u64) -> Result<D1PreparedStatement, ApiError> {
    statement(
        control,
        &format!(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM members m WHERE m.role = 'owner' AND m.removed_at IS NULL \
             AND EXISTS (SELECT 1 FROM member_tokens t WHERE t.member_id = m.id AND t.revoked_at IS NULL \
             AND t.expires_at > ?1)) THEN 1 ELSE json('{LAST_OWNER}') END"
        ),
        &[number(now_ms)],
    )
}

/// 409 `member_changed`: the member written about, or the member writing,
/// was changed or removed after the policy judged the write.
pub fn member_changed() -> ApiError {
    ApiError::new(
        409,
        ErrorCode::MemberChanged,
        "this member, or your own membership, was changed or removed meanwhile; read them again and retry",
    )
}

/// Runs a member change with its audit entry as one transaction; with
/// `guard_owners`, aborted (409 `last_owner`) if it left no owner who can sign in.
async fn commit(
    control: &D1Database,
    mut writes: Vec<D1PreparedStatement>,
    audit: &AuditRecord<'_>,
    guard_owners: bool,
    now_ms: u64,
) -> Result<(), ApiError> {
    writes.push(audit_statement(control, audit, now_ms)?);
    if guard_owners {
        writes.push(owner_guard(control, now_ms)?);
    }
    match control.batch(writes).await {
        Ok(_) => Ok(()),
        Err(error) if error.to_string().contains("integer overflow") => Err(member_changed()),
        Err(error) if error.to_string().contains(LAST_OWNER) || error.to_string().contains("malformed JSON") => {
            Err(ApiError::new(
                409,
                ErrorCode::LastOwner,
                "the deployment must keep at least one owner who can sign in; make another owner first",
            ))
        }
        Err(error) => Err(member_error(error)),
    }
}

/// Control-plane audit entries of an environment since it was created (or
/// of the deployment, for `None`), newest first: up to `query.limit + 1`.
pub async fn control_audit(
    env: &Platform,
    environment: Option<&str>,
    query: &AuditQuery,
) -> Result<Vec<AuditEntry>, ApiError> {
    let (filter, mut params) = super::audit_filter(query, 1);
    params.insert(0, environment.map_or(JsValue::NULL, text));
    // An environment's entries are those of this incarnation: one deleted and created again under
    // its name starts a new history, and the old one's keys, settings and rotations are not shown.
    let sql = format!(
        "SELECT id, actor, action, resource, summary, created_at FROM audit_log WHERE environment IS ?1 \
         AND (?1 IS NULL OR created_at >= COALESCE((SELECT created_at FROM environments WHERE name = ?1), 0)) \
         AND {filter}"
    );
    let rows: Vec<AuditRow> = statement(&control_db(env)?, &sql, &params)?
        .all()
        .await
        .and_then(|result| result.results())
        .map_err(|error| storage_error("read audit log", error))?;
    Ok(rows.into_iter().map(AuditRow::into_entry).collect())
}

/// Grants as the wire shows them: environment → role or `none`.
pub fn grants_to_wire(grants: &Grants) -> BTreeMap<String, String> {
    grants
        .environments
        .iter()
        .map(|(name, role)| (name.clone(), role.map_or("none", Role::as_str).to_owned()))
        .collect()
}
