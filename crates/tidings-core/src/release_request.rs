//! Four-eyes approval: in an environment that requires approval, a
//! promotion, import or rollback does not apply; it becomes a release
//! request holding the exact changes it would apply. Another member allowed
//! to promote there approves it (the changes then apply as one release, as
//! long as the target still holds what the request saw) or rejects it. Who
//! may review is the policy's [`crate::policy::ControlAction::ReviewRelease`].

use sha2::{Digest, Sha256};

use crate::message::{MessageId, ID_RANDOM_BYTES};
use crate::promotion::{Change, Snapshot, RESOURCE_KINDS};

/// How long a request waits for a review: 7 days.
pub const LIFETIME_MS: u64 = 7 * 24 * 3600 * 1000;
/// The longest review comment.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Waiting for a second member.
    Pending,
    /// Approved: its release is applied.
    Approved,
    /// Rejected by a reviewer, with a comment.
    Rejected,
    /// Nobody reviewed it within [`LIFETIME_MS`].
    Expired,
}

impl RequestStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }

    /// Reads a stored status: a pending one past `expires_at` is expired.
    pub fn at(stored: &str, expires_at_ms: u64, now_ms: u64) -> Option<Self> {
        let status = [Self::Pending, Self::Approved, Self::Rejected, Self::Expired]
            .into_iter()
            .find(|status| status.as_str() == stored)?;
        Some(if status == Self::Pending && now_ms >= expires_at_ms { Self::Expired } else { status })
    }
}

/// What a release request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A promotion from the environment before it.
    Promotion,
    /// An environment file applied to it.
    Import,
    /// A release undone.
    Rollback,
    /// Turning the environment's approval off: the one setting change that
    /// needs a second member, since it lifts the need for one.
    ApprovalOff,
}

impl RequestKind {
    /// The wire name, which is also the kind of the release it becomes
    /// (`approval_off` becomes no release: it changes the setting).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promotion => "promotion",
            Self::Import => "import",
            Self::Rollback => "rollback",
            Self::ApprovalOff => "approval_off",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Promotion, Self::Import, Self::Rollback, Self::ApprovalOff]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// A new request's id: `rr_` and a time-ordered id.
pub fn request_id(now_ms: u64, random: [u8; ID_RANDOM_BYTES]) -> String {
    format!("rr_{}", MessageId::generate(now_ms, random))
}

/// The resources a request would change that no longer hold what they held
/// when it was made (`kind:key`): approving it then would overwrite a change
/// the reviewer never saw, so it is refused while any remain.
pub fn stale(changes: &[Change], current: &Snapshot) -> Vec<String> {
    changes
        .iter()
        .filter(|change| current.resources(change.resource).get(&change.key) != change.before.as_ref())
        .map(|change| format!("{}:{}", change.resource.as_str(), change.key))
        .collect()
}

/// A digest of everything promotable the environment holds: a request
/// remembers the target's when it is made, and an approval applies it only
/// over the same target (any change since, touched or not, could change
/// what the request's preflight said).
pub fn fingerprint(snapshot: &Snapshot) -> String {
    let mut digest = Sha256::new();
    for kind in RESOURCE_KINDS {
        for (key, content) in snapshot.resources(kind) {
            // Lengths first, so no two different snapshots feed the same bytes.
            for part in [kind.as_str().to_owned(), key.clone(), content.to_string()] {
                digest.update((part.len() as u64).to_be_bytes());
                digest.update(part.as_bytes());
            }
        }
    }
    crate::hex::encode(&digest.finalize())
}

/// Checks a review comment: a rejection needs one (it is how the requester
/// learns why), and none is longer than [`MAX_COMMENT_CHARS`].
pub fn check_comment(comment: Option<&str>, rejecting: bool) -> Result<(), &'static str> {
    let text = comment.map(str::trim).unwrap_or_default();
    if rejecting && text.is_empty() {
        return Err("say why the request is rejected: comment");
    }
    if text.chars().count() > MAX_COMMENT_CHARS {
        return Err("a comment is at most 1000 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promotion::diff;
    use serde_json::json;

    fn snapshot(workflows: &[(&str, serde_json::Value)]) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for (key, content) in workflows {
            snapshot.workflows.insert((*key).to_owned(), content.clone());
        }
        snapshot
    }

    #[test]
    fn a_pending_request_expires_after_its_lifetime() {
        assert_eq!(RequestStatus::at("pending", 10, 9), Some(RequestStatus::Pending));
        assert_eq!(RequestStatus::at("pending", 10, 10), Some(RequestStatus::Expired));
        assert_eq!(RequestStatus::at("approved", 10, 99), Some(RequestStatus::Approved));
        assert_eq!(RequestStatus::at("lost", 10, 0), None);
        assert_eq!(RequestKind::parse("rollback"), Some(RequestKind::Rollback));
        assert!(request_id(1, [0; ID_RANDOM_BYTES]).starts_with("rr_"));
    }

    #[test]
    fn a_request_is_stale_once_the_target_moved() {
        let source = snapshot(&[("welcome", json!({"v": 2})), ("new", json!({"v": 1}))]);
        let target = snapshot(&[("welcome", json!({"v": 1}))]);
        let changes = diff(&source, &target);
        assert!(stale(&changes, &target).is_empty());
        let moved = snapshot(&[("welcome", json!({"v": 3}))]);
        assert_eq!(stale(&changes, &moved), vec!["workflow:welcome".to_owned()]);
        let added = snapshot(&[("welcome", json!({"v": 1})), ("new", json!({"v": 9}))]);
        assert_eq!(stale(&changes, &added), vec!["workflow:new".to_owned()]);
    }

    #[test]
    fn the_fingerprint_follows_any_change() {
        let one = snapshot(&[("welcome", json!({"v": 1}))]);
        assert_eq!(fingerprint(&one), fingerprint(&one.clone()));
        assert_ne!(fingerprint(&one), fingerprint(&snapshot(&[("welcome", json!({"v": 2}))])));
        assert_ne!(fingerprint(&one), fingerprint(&snapshot(&[("welcome", json!({"v": 1})), ("x", json!({}))])));
        let mut variable = one.clone();
        variable.variables.insert("welcome".into(), json!({"v": 1}));
        assert_ne!(fingerprint(&one), fingerprint(&variable), "the kind is part of it");
    }

    #[test]
    fn a_rejection_says_why() {
        assert!(check_comment(None, true).is_err());
        assert!(check_comment(Some("  "), true).is_err());
        assert!(check_comment(Some("needs a copy review"), true).is_ok());
        assert!(check_comment(None, false).is_ok());
        assert!(check_comment(Some(&"x".repeat(1001)), false).is_err());
    }
}
