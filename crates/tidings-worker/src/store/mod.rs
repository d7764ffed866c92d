//! The only module that touches `Env`, KV or D1.
//!
//! Environment isolation lives here: an [`Environment`] can only be
//! opened from an [`ApiKey`] whose hash is registered for the environment the
//! key names, and it holds that one environment's databases (its own and its
//! feed shards) and nothing else. Binding names come from the registry, never
//! from a request; the one exception is the key cache, read from the KV
//! namespace of the environment a checksum-valid key names, and only ever
//! trusted for that key's hash.

mod authorized;
mod brand;
mod control;
mod deliveries;
mod delivery_queue;
mod deployment;
mod deployment_settings;
mod fanout_queue;
mod fanouts;
mod faults;
mod feed_page;
mod feed_sql;
mod files;
mod integrations;
mod key_cache;
mod keys;
mod lifecycle;
mod lock;
mod logs;
mod members;
mod messages;
mod platform;
mod preferences;
mod promotion;
mod rate_limits;
mod realtime;
mod registry;
mod release_requests;
mod replicas;
mod reshard;
mod retry;
mod scope;
mod secrets;
mod shards;
mod stream_tickets;
mod subscribers;
mod test_mode;
mod topics;
mod triggers;
mod variables;
mod wipe;
mod workflows;

pub use authorized::{authorize, Actor, Authorized};
pub use control::{bootstrap, NewEnvironment};
pub use deliveries::{AttemptRecord, ClaimedDelivery, DeliveryState, SUPPRESSED_BY_TEST_MODE};
pub use delivery_queue::{sweepable_environments, verify_hand_off, Refusal, VerifiedHandOff};
pub use deployment_settings::{deployment_settings, record_admin_use, set_admin_token};
pub use fanout_queue::{verify_fanout, QUEUE_NAME as FANOUT_QUEUE_NAME};
pub use fanouts::{NewFanout, PageStep};
pub use faults::FaultPlan;
pub use faults::{clock_injection_enabled, injected_clock, HandOffFault};
pub use files::{file_error, Body, NewFile};
pub use integrations::{IntegrationRecord, WebhookTarget};
pub use keys::{end_key, issue_key, list_keys, usable_key, KeyEnd};
pub use lifecycle::{
    archive_environment, delete_environment, lock_environment, purge_environment, restore_environment,
    sweep_lifecycles, unlock_environment,
};
pub use lock::Unlocked;
pub use members::{
    control_audit, create_member, grants_to_wire, issue_member_token, member_by_token, member_changed, members,
    remove_member, revoke_member_token, update_member, AuditRecord, GrantChange, MemberUpdate, NewMember,
    NewMemberToken, SignedIn,
};
pub use platform::Platform;
pub use promotion::{ContentState, NewRelease, PromotionEnvironment};
pub use rate_limits::{draw as draw_rate_limit, guard_lookup, note_failed_lookup};
pub use realtime::StreamGrant;
pub use registry::{create_environment, environment, list_environments, rotate_signing_secret, update_environment};
pub use release_requests::{
    closed as request_closed, not_found as request_not_found, sweep_release_requests, Approval, Clearance, Cleared,
    NewReleaseRequest, StoredRequest,
};
pub use reshard::{reshard, resume_moves};
pub use scope::Environment;
pub use secrets::{admin_token, encryption_key};
pub use shards::KeyHome;
pub use stream_tickets::TicketCredential;
pub use test_mode::test_mode;
pub use topics::MembersChanged;
pub use triggers::{Claim, Delivery, KeyedAnswer};

use tidings_core::audit::AuditQuery;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::error::ApiError;

fn control_db(env: &Platform) -> Result<D1Database, ApiError> {
    env.control_db()
}

/// Maps a D1 failure to 503 when D1 documents it as transient, else 500.
fn storage_error(context: &str, error: worker::Error) -> ApiError {
    let text = error.to_string();
    if text.contains(triggers::CLAIM_LOST) {
        return triggers::claim_lost();
    }
    if text.contains(fanouts::PAGE_MOVED) {
        return fanouts::page_moved();
    }
    if text.contains(shards::FEED_MOVED) {
        return shards::feed_moving();
    }
    if retry::is_transient(&text) {
        ApiError::unavailable(context, text)
    } else {
        ApiError::internal(context, text)
    }
}

/// Prepares `sql` with positional arguments.
fn statement(db: &D1Database, sql: &str, arguments: &[JsValue]) -> Result<D1PreparedStatement, ApiError> {
    db.prepare(sql).bind(arguments).map_err(|error| storage_error("bind", error))
}

/// The `WHERE` conditions of an audit-log query over `audit_log`, after
/// `first` other parameters, and its parameters.
fn audit_filter(query: &AuditQuery, first: usize) -> (String, Vec<JsValue>) {
    let optional = |value: &Option<String>| value.as_deref().map_or(JsValue::NULL, text);
    let sql = format!(
        "(?{a} IS NULL OR id < ?{a}) AND (?{b} IS NULL OR action = ?{b} OR action LIKE ?{b} || '.%') \
         AND (?{c} IS NULL OR actor = ?{c}) ORDER BY id DESC LIMIT ?{d}",
        a = first + 1,
        b = first + 2,
        c = first + 3,
        d = first + 4
    );
    let params = vec![
        optional(&query.before),
        optional(&query.action),
        optional(&query.actor),
        number(u64::from(query.limit) + 1),
    ];
    (sql, params)
}

/// An audit-log row, in the control database or an environment's.
#[derive(serde::Deserialize)]
struct AuditRow {
    id: String,
    actor: String,
    action: String,
    resource: String,
    summary: String,
    created_at: f64,
}

impl AuditRow {
    fn into_entry(self) -> tidings_core::wire::AuditEntry {
        tidings_core::wire::AuditEntry {
            id: self.id,
            actor: self.actor,
            action: self.action,
            resource: self.resource,
            summary: serde_json::from_str(&self.summary).unwrap_or(serde_json::Value::Null),
            created_at: tidings_core::timestamp::rfc3339(self.created_at as u64),
        }
    }
}

/// The statement appending `record` to an environment's own audit log
/// (merged on read with the control plane's), to run in the batch of the
/// change it records, so the change and its entry commit together. It is
/// written only if `guard` (SQL, e.g. `changes() > 0`) holds when it runs;
/// `summary` is the SQL of the summary, over `?5` (the record's summary)
/// and `arguments` from `?7` on. A retried batch writes it once.
fn environment_audit_statement(
    db: &D1Database,
    record: &AuditRecord<'_>,
    now_ms: u64,
    summary: &str,
    guard: &str,
    arguments: &[JsValue],
) -> Result<D1PreparedStatement, ApiError> {
    let sql = format!(
        "INSERT OR IGNORE INTO audit_log (id, actor, action, resource, summary, created_at) \
         SELECT ?1, ?2, ?3, ?4, {summary}, ?6 WHERE {guard}"
    );
    let mut values = vec![
        text(record.id),
        text(record.actor),
        text(record.action),
        text(record.resource),
        text(&record.summary.to_string()),
        number(now_ms),
    ];
    values.extend_from_slice(arguments);
    statement(db, &sql, &values)
}

/// A text argument.
fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

/// An integer argument (D1 numbers are JavaScript numbers).
fn number(value: u64) -> JsValue {
    JsValue::from_f64(value as f64)
}
