//! Reading audit logs: filters and pages. Entries are written by the
//! control plane (`aud_` and a time-ordered id), so ids order by time across
//! the control database and each environment's database alike.

use serde_json::Value;

use crate::wire::AuditEntry;

/// Entries per page when the request names none.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
pub const MAX_LIMIT: u32 = 100;

/// A validated audit-log query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Page size.
    pub limit: u32,
    /// Only entries older than this id (the previous page's `next_before`).
    pub before: Option<String>,
    /// Only this action, or a family of them (`key` matches `key.create`, `key.revoke`, …).
    pub action: Option<String>,
    /// Only this actor (a member id, or `admin`).
    pub actor: Option<String>,
}

/// Why an audit query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct AuditQueryError {
    /// The parameter at fault.
    pub field: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl AuditQuery {
    /// Reads decoded query parameters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, AuditQueryError> {
        let fail = |field: &str, reason| AuditQueryError { field: field.to_owned(), reason };
        let mut query = Self { limit: DEFAULT_LIMIT, before: None, action: None, actor: None };
        for (name, value) in pairs {
            let token = || -> Result<String, AuditQueryError> {
                let fine = !value.is_empty()
                    && value.len() <= 64
                    && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
                fine.then(|| value.to_owned()).ok_or_else(|| fail(name, "must be up to 64 letters, digits, _ . or -"))
            };
            match name {
                "limit" => {
                    query.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| fail("limit", "must be a whole number from 1 to 100"))?;
                }
                "before" => query.before = Some(token()?),
                "action" => query.action = Some(token()?),
                "actor" => query.actor = Some(token()?),
                _ => return Err(fail(name, "is not a parameter of this route")),
            }
        }
        Ok(query)
    }
}

/// Leaves out of an audit entry the environments a reader cannot see
/// (`sees` says which they can): the grants a member change's summary lists
/// there, a release's `source`, and an environment's name in the request
/// path an admin-token use records (as `…`). The member list hides the same
/// grants.
pub fn hide_environments(entry: &mut AuditEntry, sees: impl Fn(&str) -> bool) {
    let hide = |summary: &mut Value| {
        let Value::Object(map) = summary else { return };
        if let Some(Value::Object(environments)) = map.get_mut("environments") {
            environments.retain(|name, _| sees(name));
        }
        if map.get("source").and_then(Value::as_str).is_some_and(|source| !sees(source)) {
            map.remove("source");
        }
        for list in ["promote_into", "personal_data_in"] {
            if let Some(Value::Array(names)) = map.get_mut(list) {
                names.retain(|name| name.as_str().is_none_or(&sees));
            }
        }
    };
    if let Value::Object(map) = &mut entry.summary {
        for side in ["before", "after"] {
            if let Some(summary) = map.get_mut(side) {
                hide(summary);
            }
        }
    }
    hide(&mut entry.summary);
    const PREFIX: &str = "/v1/environments/";
    if let Some(at) = entry.resource.find(PREFIX) {
        let start = at + PREFIX.len();
        let end = entry.resource[start..].find('/').map_or(entry.resource.len(), |offset| start + offset);
        let name = crate::query::decode_segment(&entry.resource[start..end]).unwrap_or_default();
        if !sees(&name) {
            entry.resource.replace_range(start..end, "…");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_filters_and_refuses_the_rest() {
        let query =
            AuditQuery::from_pairs([("limit", "5"), ("action", "key"), ("actor", "mem_1"), ("before", "aud_x")])
                .unwrap();
        assert_eq!((query.limit, query.action.as_deref(), query.actor.as_deref()), (5, Some("key"), Some("mem_1")));
        assert_eq!(AuditQuery::from_pairs([("limit", "0")]).unwrap_err().field, "limit");
        assert_eq!(AuditQuery::from_pairs([("action", "a b")]).unwrap_err().field, "action");
        assert_eq!(AuditQuery::from_pairs([("since", "x")]).unwrap_err().field, "since");
    }

    #[test]
    fn hidden_environments_are_left_out_of_entries() {
        use serde_json::json;
        let grants = json!({"role": "developer", "environments": {"production": "none", "staging": "viewer"},
            "promote_into": ["production", "staging"], "personal_data_in": ["production"]});
        let mut change = AuditEntry {
            id: "aud_1".into(),
            actor: "mem_1".into(),
            action: "member.update".into(),
            resource: "member:mem_2".into(),
            summary: json!({"before": grants, "after": grants}),
            created_at: "2026-12-05T00:00:00.000Z".into(),
        };
        let sees = |name: &str| name != "production";
        super::hide_environments(&mut change, sees);
        for side in ["before", "after"] {
            assert_eq!(change.summary[side]["environments"], json!({"staging": "viewer"}));
            assert_eq!(change.summary[side]["promote_into"], json!(["staging"]));
            assert_eq!(change.summary[side]["personal_data_in"], json!([]));
        }
        let mut used = AuditEntry {
            action: "admin_token.use".into(),
            resource: "request:Get /v1/environments/production/keys".into(),
            summary: json!({}),
            ..change.clone()
        };
        super::hide_environments(&mut used, sees);
        assert_eq!(used.resource, "request:Get /v1/environments/…/keys");
        let mut seen = AuditEntry { resource: "request:Post /v1/environments/staging".into(), ..used.clone() };
        super::hide_environments(&mut seen, sees);
        assert_eq!(seen.resource, "request:Post /v1/environments/staging");
        // A release's source, where it is hidden.
        let release = json!({"source": "production", "changes": 2});
        let mut promoted = AuditEntry { action: "release.promotion".into(), summary: release, ..change.clone() };
        super::hide_environments(&mut promoted, sees);
        assert_eq!(promoted.summary, json!({"changes": 2}));
        let mut visible = AuditEntry { summary: json!({"source": "staging"}), ..promoted.clone() };
        super::hide_environments(&mut visible, sees);
        assert_eq!(visible.summary, json!({"source": "staging"}));
    }
}
